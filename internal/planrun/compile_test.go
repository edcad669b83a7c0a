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
	"encoding/json"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	execloopv1alpha1 "github.com/execloop/execloop/api/v1alpha1"
)

// TestOneObjectOneTask: two tasks that write one object make the plan
// invalid, naming both, whichever kind each is and whichever comes first;
// a task with expressions counts too, since an object's name holds none.
func TestOneObjectOneTask(t *testing.T) {
	static, templated := configMapManifest(t, "config", map[string]any{"a": "b"}), configMapManifest(t, "config", map[string]any{"a": "${plan.metadata.name}"})
	for _, tc := range []struct {
		name        string
		first, then execloopv1alpha1.PlanTask
	}{
		{"two applies", execloopv1alpha1.PlanTask{Name: "one", Apply: static}, execloopv1alpha1.PlanTask{Name: "two", Apply: static}},
		{"an apply, then one with expressions", execloopv1alpha1.PlanTask{Name: "one", Apply: static}, execloopv1alpha1.PlanTask{Name: "two", Apply: templated}},
		{"an apply with expressions, then one without", execloopv1alpha1.PlanTask{Name: "one", Apply: templated}, execloopv1alpha1.PlanTask{Name: "two", Apply: static}},
		{"an apply, then a patch", execloopv1alpha1.PlanTask{Name: "one", Apply: static}, execloopv1alpha1.PlanTask{Name: "two", Patch: static}},
		{"a patch, then an apply", execloopv1alpha1.PlanTask{Name: "one", Patch: templated}, execloopv1alpha1.PlanTask{Name: "two", Apply: static}},
		{"two patches", execloopv1alpha1.PlanTask{Name: "one", Patch: static}, execloopv1alpha1.PlanTask{Name: "two", Patch: templated}},
		{"a patch, then a delete", execloopv1alpha1.PlanTask{Name: "one", Patch: static}, execloopv1alpha1.PlanTask{Name: "two", Delete: &execloopv1alpha1.ObjectReference{APIVersion: "v1", Kind: "ConfigMap", Name: "config"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &execloopv1alpha1.Plan{
				ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web", UID: "u"},
				Spec:       execloopv1alpha1.PlanSpec{Tasks: []execloopv1alpha1.PlanTask{tc.first, tc.then}},
			}
			_, err := Compile(p, &Identity{}, fuzzMapper())
			if err == nil || !strings.Contains(err.Error(), "task two") || !strings.Contains(err.Error(), "task one") || !strings.Contains(err.Error(), "one object, one task") {
				t.Fatalf("want the plan refused naming both tasks, got %v", err)
			}
		})
	}
}

// configMapManifest is the apply (or patch) field of a ConfigMap named
// name with data.
func configMapManifest(t testing.TB, name string, data map[string]any) *runtime.RawExtension {
	t.Helper()
	b, err := json.Marshal(map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": name}, "data": data})
	if err != nil {
		t.Fatal(err)
	}
	return &runtime.RawExtension{Raw: b}
}
