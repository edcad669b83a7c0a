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
	"testing"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	execloopv1alpha1 "github.com/execloop/execloop/api/v1alpha1"
)

// TestConvergenceSmoke is benchmark 2 at N = 50, run by `make test` so that
// the harness cannot rot: every controller converges every plan; execloop's
// API writes per plan stay within the goal (the plain baseline's plus 2) and
// no more than the equal-work baseline's, with or without an expression,
// and its reads well under one per plan; and each scenario cleans up after
// itself. Times are logged, not checked: they belong to `make bench`.
func TestConvergenceSmoke(t *testing.T) {
	if *full {
		t.Skip("make bench runs the whole matrix in TestBench")
	}
	plain := converge(t, scenario{controller: handwrittenKind, plans: 50, workers: 4})
	equal := converge(t, scenario{controller: equalWorkKind, plans: 50, workers: 4})
	ours := converge(t, scenario{controller: execloopKind, plans: 50, workers: 4})
	expr := converge(t, scenario{controller: execloopKind, plans: 50, workers: 4, expression: true})
	if got, limit := ours.perPlan(writes(ours.verbs)), plain.perPlan(writes(plain.verbs))+2; got > limit {
		t.Errorf("execloop made %.2f API writes per plan, the plain baseline %.2f: the goal is at most %.2f",
			got, plain.perPlan(writes(plain.verbs)), limit)
	}
	for _, o := range []outcome{ours, expr} {
		if got, limit := o.perPlan(writes(o.verbs)), equal.perPlan(writes(equal.verbs)); got > limit {
			t.Errorf("%s made %.2f API writes per plan, more than the equal-work baseline's %.2f", o.scenario, got, limit)
		}
		// Its passes read through the watches of the plans' objects, and
		// the metadata-only watch of every object tells a new object
		// absent without a read: only the first plans, before those
		// watches sync, read their objects. A read per new object tripled
		// its requests once.
		if got := o.perPlan(o.verbs["get"]); got > 1 {
			t.Errorf("%s made %.2f GETs per plan of 3 new objects; the watches make it well under 1", o.scenario, got)
		}
		if o.perPlan(o.statusWrites) > 3+2 {
			t.Errorf("%s wrote the status %.2f times per plan of 3 tasks, more than N+2 = 5", o.scenario, o.perPlan(o.statusWrites))
		}
	}
	t.Logf("time ratios at N=50: execloop/equal work %.2f, execloop/plain %.2f, with an expression/without %.2f",
		ours.elapsed.Seconds()/equal.elapsed.Seconds(), ours.elapsed.Seconds()/plain.elapsed.Seconds(), expr.elapsed.Seconds()/ours.elapsed.Seconds())
	for _, o := range []outcome{plain, equal, ours, expr} {
		plans, configMaps := &execloopv1alpha1.PlanList{}, &corev1.ConfigMapList{}
		for _, list := range []client.ObjectList{plans, configMaps} {
			if err := k8sClient.List(context.Background(), list, client.InNamespace(o.namespace)); err != nil {
				t.Fatal(err)
			}
		}
		if len(plans.Items)+len(configMaps.Items) > 0 {
			t.Errorf("%s left %d plans and %d ConfigMaps behind: the next scenario would pay for them", o.scenario, len(plans.Items), len(configMaps.Items))
		}
	}
}

// TestDefinitionSmoke is benchmark 6 at N = 50, run by `make test`: the
// instances of a PlanDefinition whose template holds the bench's three
// ConfigMaps converge, as N Plans of the same tasks do under the same
// operator; an instance takes at most one write more than a Plan (its
// finalizer, which admission gives a Plan and not yet an instance), and
// its reads stay well under one; the instances' scenario cleans up after
// itself.
func TestDefinitionSmoke(t *testing.T) {
	if *full {
		t.Skip("make bench runs the whole matrix in TestBench")
	}
	plans := converge(t, scenario{controller: servedPlansKind, plans: 50, workers: 4})
	instances := converge(t, scenario{controller: instancesKind, plans: 50, workers: 4})
	if got, limit := instances.perPlan(writes(instances.verbs)), plans.perPlan(writes(plans.verbs))+1; got > limit {
		t.Errorf("the instances made %.2f API writes each, the Plans %.2f: at most one more is expected (the finalizer)",
			got, plans.perPlan(writes(plans.verbs)))
	}
	if got := instances.perPlan(instances.verbs["get"]); got > 1 {
		t.Errorf("the instances made %.2f GETs each; the watches make it well under 1", got)
	}
	t.Logf("at N=50: instances/Plans time %.2f, CPU of all processes %.2f",
		instances.elapsed.Seconds()/plans.elapsed.Seconds(), ratioOf(instances.cpuAll(), plans.cpuAll()))
	list, configMaps := newInstanceList(), &corev1.ConfigMapList{}
	for _, l := range []client.ObjectList{list, configMaps} {
		if err := k8sClient.List(context.Background(), l, client.InNamespace(instances.namespace)); err != nil {
			t.Fatal(err)
		}
	}
	if len(list.Items)+len(configMaps.Items) > 0 {
		t.Errorf("%s left %d instances and %d ConfigMaps behind", instances.scenario, len(list.Items), len(configMaps.Items))
	}
}
