/*
Copyright 2026 The execloop Authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

package bench

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	execloopv1alpha1 "github.com/execloop/execloop/api/v1alpha1"
)

// fanPlan is a plan of n independent ConfigMaps <name>-<i>: one task with
// forEach over the numbers 0 to n-1, or n tasks.
func fanPlan(ns, name string, n int, forEach bool) *execloopv1alpha1.Plan {
	p := &execloopv1alpha1.Plan{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	manifest := func(suffix, step any) *runtime.RawExtension {
		b, _ := json.Marshal(map[string]any{
			"apiVersion": "v1", "kind": "ConfigMap",
			"metadata": map[string]any{"name": fmt.Sprintf("%s-%v", name, suffix)},
			"data":     map[string]any{"step": step},
		})
		return &runtime.RawExtension{Raw: b}
	}
	if forEach {
		p.Spec.Tasks = []execloopv1alpha1.PlanTask{{
			Name:    "each",
			ForEach: map[string]string{"i": fmt.Sprintf("${lists.range(%d).map(i, string(i))}", n)},
			Apply:   manifest("${i}", "${i}"),
		}}
		return p
	}
	for i := range n {
		p.Spec.Tasks = append(p.Spec.Tasks, execloopv1alpha1.PlanTask{Name: fmt.Sprintf("t%d", i), Apply: manifest(i, fmt.Sprint(i))})
	}
	return p
}

// forEachObjects and forEachPlans are the shape of the forEach comparison:
// plans of that many objects each.
const (
	forEachObjects = 100
	forEachPlans   = 10
)

// compareForEach converges, in three interleaved pairs, plans of one task
// over forEachObjects items and plans of as many tasks, and returns the
// pair of median time ratio and the goal line: the geometric mean of the
// pairs' time ratios, forEach over tasks.
func compareForEach(t *testing.T) (forEach, tasks outcome, goal string) {
	var pairs []trial // ours: forEach; equal: the separate tasks
	for i := range 3 {
		var tr trial
		runs := []struct {
			forEach bool
			into    *outcome
		}{{true, &tr.ours}, {false, &tr.equal}}
		for j := range runs {
			run := runs[(i+j)%len(runs)]
			*run.into = converge(t, scenario{controller: execloopKind, plans: sized(forEachPlans), workers: 4,
				objects: forEachObjects, forEach: run.forEach})
		}
		pairs = append(pairs, tr)
	}
	ratio, ratios := geoMean(pairs, func(tr trial) float64 { return tr.timeRatio(tr.equal) })
	cpu, cpus := geoMean(pairs, func(tr trial) float64 { return tr.cpuRatio(tr.equal) })
	median := medianTrial(pairs)
	goal = fmt.Sprintf("N=%d plans of %d ConfigMaps, one task with forEach over %d items against %d tasks: time **%.2f×** (geometric mean of %s; goal ≤ 1.1×: %s), CPU of all processes %.2f× (of %s)",
		sized(forEachPlans), forEachObjects, forEachObjects, forEachObjects, ratio, list(ratios), met(ratio <= 1.1), cpu, list(cpus))
	return median.ours, median.equal, goal
}

// TestForEachCost runs the forEach comparison of make bench alone.
func TestForEachCost(t *testing.T) {
	if !*full {
		t.Skip("run with -full (make bench runs it in TestBench)")
	}
	started := time.Now()
	forEach, tasks, goal := compareForEach(t)
	for _, o := range []outcome{forEach, tasks} {
		t.Logf("%s: %s, requests %s, CPU/plan %s", o.scenario, o.elapsed.Round(10*time.Millisecond), formatVerbs(o.verbs), o.cpuPerPlan())
	}
	t.Logf("%s (in %s)", goal, time.Since(started).Round(time.Second))
}
