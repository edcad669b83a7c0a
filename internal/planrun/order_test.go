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
	"slices"
	"testing"

	execloopv1alpha1 "github.com/execloop/execloop/api/v1alpha1"
)

// passes deletes objs as the passes of a cleanup do: each pass what
// deletableNow gives, until none is left; it returns the order.
func passes(p *execloopv1alpha1.Plan, objs []execloopv1alpha1.AppliedObject) []execloopv1alpha1.AppliedObject {
	var order []execloopv1alpha1.AppliedObject
	left := slices.Clone(objs)
	for len(left) > 0 {
		now := deletableNow(p, left)
		order = append(order, now...)
		left = slices.DeleteFunc(left, func(o execloopv1alpha1.AppliedObject) bool {
			return slices.ContainsFunc(now, func(n execloopv1alpha1.AppliedObject) bool { return entryKey(n) == entryKey(o) })
		})
	}
	return order
}

func TestDeletionOrder(t *testing.T) {
	obj := func(task, apiVersion, kind, ns, name string) execloopv1alpha1.AppliedObject {
		return execloopv1alpha1.AppliedObject{Task: task, APIVersion: apiVersion, Kind: kind, Namespace: ns, Name: name}
	}
	names := func(objs []execloopv1alpha1.AppliedObject) []string {
		var out []string
		for _, o := range objs {
			out = append(out, o.Name)
		}
		return out
	}
	plan := &execloopv1alpha1.Plan{Spec: execloopv1alpha1.PlanSpec{Tasks: []execloopv1alpha1.PlanTask{
		{Name: "ns"}, {Name: "crd"}, {Name: "a", After: []string{"ns", "b"}}, {Name: "b"}, {Name: "g", After: []string{"crd"}},
	}}}
	cases := map[string]struct {
		inventory []execloopv1alpha1.AppliedObject // in the order first applied
		want      []string
	}{
		"an after edge added later: a goes before b, which it runs after": {
			[]execloopv1alpha1.AppliedObject{
				obj("ns", "v1", "Namespace", "", "x"),
				obj("crd", "apiextensions.k8s.io/v1", "CustomResourceDefinition", "", "gadgets.example.com"),
				obj("a", "v1", "ConfigMap", "x", "a"),
				obj("b", "v1", "ConfigMap", "x", "b"),
				obj("g", "example.com/v1", "Gadget", "x", "g"),
			},
			[]string{"g", "a", "b", "gadgets.example.com", "x"},
		},
		"tasks gone from the spec, their Namespace and CRD applied last: the contents go first": {
			[]execloopv1alpha1.AppliedObject{
				obj("old-cm", "v1", "ConfigMap", "y", "c"),
				obj("old-cr", "example.com/v1", "Gadget", "y", "w"),
				obj("old-crd", "apiextensions.k8s.io/v1", "CustomResourceDefinition", "", "gadgets.example.com"),
				obj("old-ns", "v1", "Namespace", "", "y"),
			},
			[]string{"w", "c", "y", "gadgets.example.com"},
		},
		"a Namespace goes after everything else, cluster-scoped objects and other namespaces' too": {
			[]execloopv1alpha1.AppliedObject{
				obj("old-ns", "v1", "Namespace", "", "y"),
				obj("old-role", "rbac.authorization.k8s.io/v1", "ClusterRole", "", "role-y"),
				obj("old-cm", "v1", "ConfigMap", "z", "c"),
			},
			[]string{"c", "role-y", "y"},
		},
	}
	for name, c := range cases {
		got := names(passes(plan, c.inventory))
		if !slices.Equal(got, c.want) {
			t.Errorf("%s: deleted in the order %v, want %v", name, got, c.want)
		}
	}

	// What may go now: what nothing else must go before.
	inventory := cases["an after edge added later: a goes before b, which it runs after"].inventory
	if got := names(deletableNow(plan, inventory)); !slices.Equal(got, []string{"g", "a"}) {
		t.Errorf("deletable now: %v, want [g a]", got)
	}

	// A cycle of after (which compile refuses, but a Plan being deleted may
	// hold) still deletes everything.
	cyclic := &execloopv1alpha1.Plan{Spec: execloopv1alpha1.PlanSpec{Tasks: []execloopv1alpha1.PlanTask{
		{Name: "p", After: []string{"q"}}, {Name: "q", After: []string{"p"}},
	}}}
	got := passes(cyclic, []execloopv1alpha1.AppliedObject{obj("p", "v1", "ConfigMap", "n", "p"), obj("q", "v1", "ConfigMap", "n", "q")})
	if len(got) != 2 {
		t.Errorf("a cycle: %v, want both objects", names(got))
	}
}
