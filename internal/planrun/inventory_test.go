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

package planrun

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"

	execloopv1alpha1 "github.com/execloop/execloop/api/v1alpha1"
	"github.com/execloop/execloop/execloop/executor"
	"github.com/execloop/execloop/execloop/reconciler/status"
)

func TestRemovalNamesAreUniqueAndFitTheStatus(t *testing.T) {
	obj := func(task, kind, ns, name string) execloopv1alpha1.AppliedObject {
		return execloopv1alpha1.AppliedObject{Task: task, APIVersion: "v1", Kind: kind, Namespace: ns, Name: name}
	}
	old, older, other := obj("config", "ConfigMap", "team-a", "old"), obj("config", "ConfigMap", "team-a", "older"), obj("ns", "Namespace", "", "team-a")

	if got := removalName("prune:", other, []execloopv1alpha1.AppliedObject{old, other}); got != "prune:ns" {
		t.Errorf("the only entry of its task: %q, want prune:ns", got)
	}
	// A task that named another object twice while the first prune waits
	// left two entries: each gets a name, and so a status, of its own.
	all := []execloopv1alpha1.AppliedObject{old, older, other}
	for o, want := range map[*execloopv1alpha1.AppliedObject]string{
		&old:   "prune:config/ConfigMap/team-a/old",
		&older: "prune:config/ConfigMap/team-a/older",
		&other: "prune:ns",
	} {
		if got := removalName("prune:", *o, all); got != want {
			t.Errorf("removalName(%s) = %q, want %q", o.Name, got, want)
		}
	}

	// Entries that differ only by the group of their kind are two objects.
	istio, gatewayAPI := obj("gw", "Gateway", "team-a", "web"), obj("gw", "Gateway", "team-a", "web")
	istio.APIVersion, gatewayAPI.APIVersion = "networking.istio.io/v1", "gateway.networking.k8s.io/v1"
	pair := []execloopv1alpha1.AppliedObject{istio, gatewayAPI}
	if a, b := removalName("delete:", istio, pair), removalName("delete:", gatewayAPI, pair); a == b || a != "delete:gw/Gateway.networking.istio.io/team-a/web" {
		t.Errorf("kinds of two groups: %q and %q, want distinct names with the group", a, b)
	}

	long := func(name string) execloopv1alpha1.AppliedObject {
		return obj(strings.Repeat("t", 63), "ConfigMap", strings.Repeat("n", 63), name)
	}
	a, b := long(strings.Repeat("a", 253)), long(strings.Repeat("a", 252)+"b")
	na, nb := removalName("delete:", a, []execloopv1alpha1.AppliedObject{a, b}), removalName("delete:", b, []execloopv1alpha1.AppliedObject{a, b})
	if len(na) > 253 || len(nb) > 253 || na == nb {
		t.Errorf("names of %d and %d characters, equal: %v; want distinct names of at most 253", len(na), len(nb), na == nb)
	}
	if !strings.HasPrefix(na, "delete:"+strings.Repeat("t", 63)+"/ConfigMap/") {
		t.Errorf("a cut name keeps its start: %q", na)
	}
}

func TestAFullInventoryHoldsBackNewObjectsOnly(t *testing.T) {
	entry := func(task, name string) execloopv1alpha1.AppliedObject {
		return execloopv1alpha1.AppliedObject{Task: task, APIVersion: "v1", Kind: "ConfigMap", Namespace: "team-a", Name: name}
	}
	plan := &execloopv1alpha1.Plan{}
	for i := range maxInventory - 1 {
		plan.Status.Objects = append(plan.Status.Objects, entry("gone", fmt.Sprintf("old-%d", i)))
	}
	plan.Status.Objects = append(plan.Status.Objects, entry("config", "kept"))
	spec := func(name string) *taskSpec {
		return &taskSpec{
			name: "config", kind: applyKind{},
			gvk: schema.GroupVersionKind{Version: "v1", Kind: "ConfigMap"},
			key: types.NamespacedName{Namespace: "team-a", Name: name},
		}
	}
	run := &Run{plan: plan, stale: plan.Status.Objects[:maxInventory-1]}

	if err := run.roomFor(spec("kept")); err != nil {
		t.Errorf("an object with an entry is applied again whatever the count: %v", err)
	}
	fresh := spec("fresh")
	run.state = map[string]*taskState{"config": {needsApply: true}}
	// No client: the task must not reach the API server.
	_, err := (&planTask{run: run, t: fresh}).PerformActionContext(context.Background())
	if !errors.Is(err, executor.ErrInProgress) {
		t.Fatalf("applying a new object to a full inventory: %v, want a wait", err)
	}
	want := "waiting for ConfigMap team-a/fresh: not applied until the inventory has room (status.objects holds 512 objects, its most, 511 of them to be pruned: see the prune: tasks)"
	if !strings.HasPrefix(err.Error(), want) {
		t.Errorf("error = %q, want it to start with %q", err, want)
	}
	// The task's timeout bounds the wait, as it bounds any other.
	now := time.Now()
	fresh.timeout = time.Minute
	run.now = func() time.Time { return now }
	plan.Status.Tasks = []status.TaskStatus{{Name: "config", State: status.TaskInProgress, StartedTime: &metav1.Time{Time: now.Add(-2 * time.Minute)}}}
	if err := run.roomFor(fresh); err == nil || errors.Is(err, executor.ErrInProgress) || !strings.Contains(err.Error(), "after the task's timeout of 1m0s") {
		t.Errorf("past the task's timeout: %v, want a failure", err)
	}
	plan.Status.Tasks = nil

	plan.Status.Objects = plan.Status.Objects[1:] // a prune made room
	if err := run.roomFor(fresh); err != nil {
		t.Errorf("with room for one more: %v", err)
	}
}

func TestACleanupKeepsTheNameItGaveATask(t *testing.T) {
	obj := func(name string) execloopv1alpha1.AppliedObject {
		return execloopv1alpha1.AppliedObject{Task: "config", APIVersion: "v1", Kind: "ConfigMap", Namespace: "team-a", Name: name}
	}
	plan := &execloopv1alpha1.Plan{}
	plan.Status.Objects = []execloopv1alpha1.AppliedObject{obj("first"), obj("third")}
	c := NewCleanup(plan, nil, nil)
	names := func() []string {
		tasks, err := c.CreateContext(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, k := range tasks {
			out = append(out, k.Name())
		}
		slices.Sort(out)
		return out
	}
	want := []string{"delete:config/ConfigMap/team-a/first", "delete:config/ConfigMap/team-a/third"}
	if got := names(); !slices.Equal(got, want) {
		t.Fatalf("first pass: %q, want %q", got, want)
	}
	// The pass recorded their statuses; third went, first is held.
	for _, n := range want {
		plan.Status.Tasks = append(plan.Status.Tasks, status.TaskStatus{Name: n, State: status.TaskInProgress})
	}
	plan.Status.Objects = plan.Status.Objects[:1]
	if got := names(); !slices.Equal(got, want[:1]) {
		t.Errorf("once first is the task's only entry: %q, want %q, the name its status has", got, want[:1])
	}
	// A Plan deleted with one entry per task keeps the short names.
	plan.Status.Tasks = nil
	if got := names(); !slices.Equal(got, []string{"delete:config"}) {
		t.Errorf("a task's only entry: %q, want delete:config", got)
	}
}
