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
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/util/workqueue"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	execloopv1alpha1 "github.com/execloop/execloop/api/v1alpha1"
	"github.com/execloop/execloop/controllers"
	"github.com/execloop/execloop/execloop/reconciler/status"
	"github.com/execloop/execloop/test/support"
)

// The instances of a PlanDefinition against Plans: the operator runs the
// Plan and PlanDefinition controllers, allowed the group of the bench's
// definition (what --definition-groups does), and converges either N Plans
// of benchPlan's three ConfigMaps or N instances of a definition whose
// template holds the same three.

// The kind the bench's PlanDefinition serves.
var instanceKind = schema.GroupVersionKind{Group: "bench.example.com", Version: "v1alpha1", Kind: "Chain"}

// definitionName is the name of the bench's PlanDefinition, and of the
// controller of its instances.
const definitionName = "chains.bench.example.com"

// benchDefinition is the PlanDefinition the instances are of: its
// template is benchPlan's three chained ConfigMaps, named after the
// instance, and its instances' spec is empty.
func benchDefinition() *execloopv1alpha1.PlanDefinition {
	return &execloopv1alpha1.PlanDefinition{
		ObjectMeta: metav1.ObjectMeta{Name: definitionName},
		Spec: execloopv1alpha1.PlanDefinitionSpec{
			API: execloopv1alpha1.DefinitionAPI{
				Group: instanceKind.Group, Version: instanceKind.Version, Kind: instanceKind.Kind, Plural: "chains",
				Spec: runtime.RawExtension{Raw: []byte(`{"type": "object"}`)},
			},
			Plan: benchPlan("", "${instance.metadata.name}", false, false).Spec,
		},
	}
}

// setupDefinitions registers the Plan controller, as setupExecloop does,
// and the PlanDefinition controller allowed the bench definition's group.
// It returns the name of the controller that converges the scenario's
// objects: the Plans', or that of the definition's instances.
func setupDefinitions(mgr ctrl.Manager, workers int, instances bool) (string, error) {
	plans := newPlanReconciler(workers, 0)
	if err := plans.SetupWithManager(mgr); err != nil {
		return "", err
	}
	defs := &controllers.PlanDefinitionReconciler{Plans: plans, Groups: []string{instanceKind.Group}}
	if err := defs.SetupWithManager(mgr); err != nil {
		return "", err
	}
	if instances {
		return definitionName, nil
	}
	return controllers.ControllerName, nil
}

// awaitDefinition returns once a manager started after the PlanDefinition
// controller had reconciled `before` times has reconciled the bench's
// definition, created first when it is missing, found it Ready and so
// started the controller of its instances, and once the manager's informer
// of the instances has synced: a scenario's clock starts with its
// controller serving, as the Plans' starts once their informer synced.
func awaitDefinition(t testing.TB, mgr ctrl.Manager, before float64) {
	t.Helper()
	ctx := context.Background()
	if err := k8sClient.Create(ctx, benchDefinition()); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		def := &execloopv1alpha1.PlanDefinition{}
		if err := k8sClient.Get(ctx, client.ObjectKey{Name: definitionName}, def); err != nil {
			t.Fatal(err)
		}
		ready := meta.FindStatusCondition(def.Status.Conditions, status.ConditionReady)
		if reconciles(controllers.DefinitionControllerName) > before && ready != nil &&
			ready.Status == metav1.ConditionTrue && ready.ObservedGeneration == def.Generation {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the PlanDefinition %s is not Ready after 2 minutes: %v", definitionName, def.Status.Conditions)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Served by the cache the instances' controller watches them through;
	// this waits until it has synced.
	if _, err := mgr.GetCache().GetInformer(ctx, newInstance()); err != nil {
		t.Fatal(err)
	}
}

// newInstance is an empty instance of the bench definition's kind.
func newInstance() *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(instanceKind)
	return u
}

// newInstanceList is an empty list of instances.
func newInstanceList() *unstructured.UnstructuredList {
	l := &unstructured.UnstructuredList{}
	l.SetGroupVersionKind(instanceKind.GroupVersion().WithKind(instanceKind.Kind + "List"))
	return l
}

// createInstances creates n instances at once in ns, from 16 goroutines,
// named as createPlans names the Plans.
func createInstances(t testing.TB, ns string, n int) {
	t.Helper()
	errs := make([]error, n)
	workqueue.ParallelizeUntil(context.Background(), 16, n, func(i int) {
		u := newInstance()
		u.SetNamespace(ns)
		u.SetName(fmt.Sprintf("p-%05d", i))
		u.Object["spec"] = map[string]any{}
		errs[i] = k8sClient.Create(context.Background(), u)
	})
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
}

// instanceAsPlan is the harness's view of an instance: a Plan with its
// name, generation and status, whose readiness the harness judges as a
// Plan's (an informer transform: the rest of the instance is dropped).
func instanceAsPlan(obj any) (any, error) {
	u, ok := obj.(*unstructured.Unstructured)
	if !ok {
		return obj, nil // a deletion's tombstone
	}
	p := &execloopv1alpha1.Plan{ObjectMeta: metav1.ObjectMeta{
		Namespace: u.GetNamespace(), Name: u.GetName(), Generation: u.GetGeneration(), ResourceVersion: u.GetResourceVersion(),
	}}
	if st, ok := u.Object["status"].(map[string]any); ok {
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(st, &p.Status); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// cleanInstances deletes the instances of ns, their finalizers dropped
// first, as clean does the Plans; clean deletes their ConfigMaps.
func cleanInstances(t testing.TB, ns string) {
	t.Helper()
	ctx := context.Background()
	list := newInstanceList()
	if err := k8sClient.List(ctx, list, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	dropFinalizers(t, len(list.Items), func(i int) client.Object { return &list.Items[i] })
	deleteAll(t, ns, newInstance())
}

var definitionsOnly = flag.Bool("definitions-only", false, "with -full, run only section 7 (PlanDefinition instances against Plans) and put it in place of the -results file's section 7, keeping the sections before it")

// benchDefinitionsOnly runs section 7 alone (make bench-definitions): the
// -results file keeps what it holds before the section, and the section
// measured now replaces the rest.
func benchDefinitionsOnly(t *testing.T) {
	section := definitionSection(t)
	fmt.Println(section)
	if *results == "" {
		return
	}
	b, err := os.ReadFile(*results)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	kept, _, _ := strings.Cut(string(b), sectionHeading)
	if kept != "" && !strings.HasSuffix(kept, "\n\n") {
		kept = strings.TrimRight(kept, "\n") + "\n\n"
	}
	if err := os.WriteFile(*results, []byte(kept+section), 0o644); err != nil {
		t.Fatal(err)
	}
}

// sectionHeading is the heading of section 7.
const sectionHeading = "## 7. PlanDefinition instances against Plans"

// pair is a run of N Plans and a run of N instances, one right after the
// other, under the same operator.
type pair struct{ plans, instances outcome }

// definitionSection runs benchmark 6, the instances of a PlanDefinition
// against Plans of the same tasks, and returns its Markdown. Each N runs as
// pairs in alternating order (Plans first, then instances first), as a
// run's place moves its figures; the ratios are geometric means over the
// pairs, an even number of them, so that each kind runs first as often.
// The runs at N=1,000 measure the heap the manager holds.
func definitionSection(t *testing.T) string {
	var r report
	loadBefore := loadAverage()
	// Untimed first: the first instances' run generates the CRD.
	for _, kind := range []string{servedPlansKind, instancesKind} {
		converge(t, scenario{controller: kind, plans: sized(50), workers: 4})
	}
	r.line("%s", sectionHeading)
	r.line("")
	r.line("Measured on %s (%s).", time.Now().UTC().Format("2006-01-02 15:04 MST"), support.Machine())
	r.line("")
	r.line("The operator runs the Plan and PlanDefinition controllers, the definition's group allowed (what `--definition-groups` does), 4 workers, SleepBetweenRuns 100 ms. It converges N Plans of section 2's three chained ConfigMaps, or N instances (empty spec) of a PlanDefinition whose template holds the same three, named `${instance.metadata.name}-a` and so on (`benchDefinition` in definition_test.go); each instance is reconciled directly as a Plan. Time, requests and CPU are counted as in section 2, from the manager's start (the definition's own requests included) and, for the time, from the first create until every Plan or instance is Ready. The Plans get their finalizer from the install's admission policy, as in section 2; the instances get it from the operator (no admission policy gives it to a definition's kind yet, docs/design.md), one write more each. Each N ran as pairs in alternating order (Plans first, then instances first), each run starting once the control plane is idle; the goal lines give the geometric mean of the pairs' ratios, with each pair's.")
	r.line("")
	r.line("| pair | scenario | time | requests by verb | requests/object | writes/object | status writes/object | reconciles/object | CPU/object: API server / etcd / this process |")
	r.line("|---|---|---|---|---|---|---|---|---|")
	var goals []string
	var held []pair
	for _, n := range []int{100, 1000} {
		runs := 4
		if n == 1000 {
			runs = 2
		}
		var pairs []pair
		for i := range runs {
			var p pair
			order := []struct {
				kind string
				into *outcome
			}{{servedPlansKind, &p.plans}, {instancesKind, &p.instances}}
			if i%2 == 1 {
				slices.Reverse(order)
			}
			for _, run := range order {
				*run.into = converge(t, scenario{controller: run.kind, plans: sized(n), workers: 4, heap: n == 1000})
			}
			for _, o := range []outcome{p.plans, p.instances} {
				r.line("| %d | %s | %s | %s | %.2f | %.2f | %.2f | %.2f | %s |", i+1, o.scenario, o.elapsed.Round(10*time.Millisecond), formatVerbs(o.verbs),
					o.perPlan(total(o.verbs)), o.perPlan(writes(o.verbs)), o.perPlan(o.statusWrites), o.reconciles/float64(o.plans), o.cpuPerPlan())
			}
			pairs = append(pairs, p)
		}
		goals = append(goals, instanceGoals(sized(n), pairs))
		if n == 1000 {
			held = pairs
		}
	}
	r.line("")
	for _, g := range goals {
		r.line("- %s", g)
	}
	perPlan, plans := mean(held, func(p pair) float64 { return float64(p.plans.heldHeap) / float64(p.plans.plans) })
	perInstance, instances := mean(held, func(p pair) float64 { return float64(p.instances.heldHeap) / float64(p.instances.plans) })
	r.line("- N=%d, memory: the manager holds **%.1f KiB per instance** against %.1f KiB per Plan (%.2f×; means of %s KiB and of %s KiB). Measured as the growth of this process's heap (`HeapAlloc` after two GCs) from the first create until every object was Ready and the requests had settled, the manager still running and the harness's own watch stopped and emptied, over N: what the manager's caches (of the objects and their ConfigMaps) and the controllers keep for each. Before that, starting the manager (both controllers, their informers synced) had grown the heap by %s KiB in the instances' runs and %s KiB in the Plans'.",
		sized(1000), perInstance/1024, perPlan/1024, perInstance/perPlan, kib(instances), kib(plans),
		kib(managerHeaps(held, func(p pair) outcome { return p.instances })), kib(managerHeaps(held, func(p pair) outcome { return p.plans })))
	r.line("")
	r.line("Load average of the machine (1, 5 and 15 minutes, from /proc/loadavg) when this section started: %s; when it ended: %s. The machine has 2 CPUs and is shared with other builds and tests.", loadBefore, loadAverage())
	return r.String()
}

// instanceGoals says, for the pairs at one N, how the instances compare
// with the Plans in time, CPU and requests.
func instanceGoals(n int, pairs []pair) string {
	timeRatio, times := geoMean(pairs, func(p pair) float64 { return p.instances.elapsed.Seconds() / p.plans.elapsed.Seconds() })
	cpuRatio, cpus := geoMean(pairs, func(p pair) float64 { return ratioOf(p.instances.cpuAll(), p.plans.cpuAll()) })
	selfRatio, selves := geoMean(pairs, func(p pair) float64 { return ratioOf(p.instances.cpuSelf, p.plans.cpuSelf) })
	// Requests and writes per object over all the pairs.
	var objects, planReqs, planWrites, instanceReqs, instanceWrites float64
	for _, p := range pairs {
		objects += float64(p.plans.plans)
		planReqs, planWrites = planReqs+float64(total(p.plans.verbs)), planWrites+float64(writes(p.plans.verbs))
		instanceReqs, instanceWrites = instanceReqs+float64(total(p.instances.verbs)), instanceWrites+float64(writes(p.instances.verbs))
	}
	return fmt.Sprintf("N=%d, instances/Plans: time **%.2f×** (geometric mean of %s; goal ≤ 1.15×: %s), CPU per object of all processes **%.2f×** (of %s; goal ≤ 1.15×: %s), of this process (the controller, and the harness's creates and watch) **%.2f×** (of %s; goal ≤ 1.15×: %s); requests per instance **%.2f** against %.2f per Plan, writes %.2f against %.2f (over all %s)",
		n, timeRatio, list(times), met(timeRatio <= 1.15), cpuRatio, list(cpus), met(cpuRatio <= 1.15), selfRatio, list(selves), met(selfRatio <= 1.15),
		instanceReqs/objects, planReqs/objects, instanceWrites/objects, planWrites/objects, plural(len(pairs), "pair"))
}

// mean is the arithmetic mean of f over the pairs, and the values.
func mean(pairs []pair, f func(pair) float64) (float64, []float64) {
	values := make([]float64, len(pairs))
	sum := 0.0
	for i, p := range pairs {
		values[i] = f(p)
		sum += values[i]
	}
	return sum / float64(len(values)), values
}

// managerHeaps are the managerHeap of the pairs' outcomes of one kind.
func managerHeaps(pairs []pair, of func(pair) outcome) []float64 {
	_, values := mean(pairs, func(p pair) float64 { return float64(of(p).managerHeap) })
	return values
}

// kib lists byte counts in KiB.
func kib(values []float64) string {
	parts := make([]string, len(values))
	for i, v := range values {
		parts[i] = fmt.Sprintf("%.1f", v/1024)
	}
	return strings.Join(parts, ", ")
}

// loadAverage is the first three fields of /proc/loadavg, or n/a.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(b)); err == nil && len(f) >= 3 {
		return strings.Join(f[:3], ", ")
	}
	return "n/a"
}
