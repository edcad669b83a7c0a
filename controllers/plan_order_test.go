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

package controllers

import (
	"slices"
	"testing"

	execloopv1alpha1 "github.com/execloop/execloop/api/v1alpha1"
)

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
			[]string{"w", "gadgets.example.com", "c", "y"},
		},
		"a cluster-scoped object and another namespace's are not the Namespace's": {
			[]execloopv1alpha1.AppliedObject{
				obj("old-ns", "v1", "Namespace", "", "y"),
				obj("old-role", "rbac.authorization.k8s.io/v1", "ClusterRole", "", "y"),
				obj("old-cm", "v1", "ConfigMap", "z", "c"),
			},
			[]string{"c", "y", "y"},
		},
	}
	for name, c := range cases {
		got := names(deletionOrder(plan, c.inventory))
		if !slices.Equal(got, c.want) {
			t.Errorf("%s: deleted in the order %v, want %v", name, got, c.want)
		}
	}

	// Rules that contradict each other (a Namespace whose task runs after a
	// task of an object in it) still delete everything.
	contradiction := &execloopv1alpha1.Plan{Spec: execloopv1alpha1.PlanSpec{Tasks: []execloopv1alpha1.PlanTask{
		{Name: "ns", After: []string{"cm"}}, {Name: "cm"},
	}}}
	got := deletionOrder(contradiction, []execloopv1alpha1.AppliedObject{obj("cm", "v1", "ConfigMap", "q", "cm"), obj("ns", "v1", "Namespace", "", "q")})
	if len(got) != 2 {
		t.Errorf("contradictory rules: %v, want both objects", names(got))
	}
}
