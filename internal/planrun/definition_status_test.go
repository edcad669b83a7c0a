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
	"errors"
	"strings"
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	execloopv1alpha1 "github.com/execloop/execloop/api/v1alpha1"
)

// TestCompileDefinitionStatus: the values of the instances' status fields
// are checked when the definition is compiled, with the variables of its
// manifests: an expression that does not compile, names a task the plan
// does not have, or gives a value of another type than the field's makes
// the definition invalid, naming the field and the expression. A value
// read of a task's object is typed only when it is evaluated.
func TestCompileDefinitionStatus(t *testing.T) {
	for _, tc := range []struct {
		name       string
		typ, value string
		want       []string // in the error; none: it compiles
	}{
		{"text and a task's field", "string", `http://${tasks.deploy.object.spec.clusterIP}`, nil},
		{"an integer", "integer", "${instance.spec.replicas}", nil},
		{"an integer as a number", "number", "${instance.spec.replicas * 2}", nil},
		{"a map as an object", "object", "${instance.spec.env}", nil},
		{"an object", "object", "${instance.spec.extra}", nil},
		{"a list", "array", "${instance.spec.ports}", nil},
		{"a task's field, typed when evaluated", "integer", "${tasks.deploy.object.status.readyReplicas}", nil},
		{"a task the plan does not have", "string", "${tasks.svc.object.spec.clusterIP}", []string{"spec.api.status.f.value", "${tasks.svc.object.spec.clusterIP}", "names task svc"}},
		{"a field the schema does not have", "string", "${instance.spec.imagee}", []string{"spec.api.status.f.value", "${instance.spec.imagee} does not compile", "undefined field 'imagee'"}},
		{"a string for an integer", "integer", "${instance.spec.image}", []string{"spec.api.status.f.value", "${instance.spec.image} gives a string", "of type integer"}},
		{"text for a boolean", "boolean", "on: ${instance.spec.expose}", []string{"spec.api.status.f.value", "gives a string", "of type boolean"}},
		{"an unclosed expression", "string", "${instance.spec.image", []string{"spec.api.status.f.value", "no closing }"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			plan := execloopv1alpha1.PlanSpec{Tasks: []execloopv1alpha1.PlanTask{deploymentTask(t, map[string]any{"image": "${instance.spec.image}"})}}
			_, err := CompileDefinition(plan, schemaOf(t, webAppSchema), map[string]execloopv1alpha1.StatusField{"f": {Type: tc.typ, Value: tc.value}})
			if tc.want == nil {
				if err != nil {
					t.Fatalf("want it compiled, got %v", err)
				}
				return
			}
			if err == nil || !errors.Is(err, reconcile.TerminalError(nil)) {
				t.Fatalf("want a TerminalError, got %v", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("want %q in the error, got %v", w, err)
				}
			}
		})
	}
}
