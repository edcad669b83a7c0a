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

package v1alpha1

import (
	"encoding/json"
	"math/rand"
	"testing"

	"k8s.io/apimachinery/pkg/api/apitesting/fuzzer"
	"k8s.io/apimachinery/pkg/api/equality"
	metafuzzer "k8s.io/apimachinery/pkg/apis/meta/fuzzer"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"sigs.k8s.io/randfill"
)

// TestRoundTrip fills 10,000 objects of each kind with random values and
// checks that each survives JSON (what the API server stores) and DeepCopy
// (what every cache hands out) unchanged, and that a copy shares nothing
// with its original.
func TestRoundTrip(t *testing.T) {
	for _, kind := range []struct {
		name string
		new  func() runtime.Object
		// shared changes a list or map of the copy cp and reports which one
		// the original in saw changed too, or "".
		shared func(in, cp runtime.Object) string
	}{
		{"Plan", func() runtime.Object { return &Plan{} }, func(in, cp runtime.Object) string {
			return sharedParts(in.(*Plan).Spec.Tasks, cp.(*Plan).Spec.Tasks, in.(*Plan).Status.Conditions, cp.(*Plan).Status.Conditions)
		}},
		{"PlanDefinition", func() runtime.Object { return &PlanDefinition{} }, func(in, cp runtime.Object) string {
			i, c := in.(*PlanDefinition), cp.(*PlanDefinition)
			for name := range c.Spec.API.Status {
				c.Spec.API.Status[name] = StatusField{Type: "changed"}
				if i.Spec.API.Status[name].Type == "changed" {
					return "status fields"
				}
			}
			return sharedParts(i.Spec.Plan.Tasks, c.Spec.Plan.Tasks, i.Status.Conditions, c.Status.Conditions)
		}},
	} {
		t.Run(kind.name, func(t *testing.T) { roundTrip(t, kind.new, kind.shared) })
	}
}

// sharedParts changes the first task and condition of a copy and reports
// which the original saw changed too, or "".
func sharedParts(inTasks, cpTasks []PlanTask, inConds, cpConds []metav1.Condition) string {
	if len(cpTasks) > 0 {
		cpTasks[0].Name += "-changed"
		if inTasks[0].Name == cpTasks[0].Name {
			return "tasks"
		}
	}
	if len(cpConds) > 0 {
		cpConds[0].Message += "-changed"
		if inConds[0].Message == cpConds[0].Message {
			return "conditions"
		}
	}
	return ""
}

func roundTrip(t *testing.T, newObj func() runtime.Object, shared func(in, cp runtime.Object) string) {
	const iterations = 10000
	scheme := runtime.NewScheme()
	if err := AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	// apimachinery's fuzzer functions fill ObjectMeta and times the way the
	// API server keeps them (times to the second, managedFields as JSON).
	funcs := fuzzer.MergeFuzzerFuncs(metafuzzer.Funcs, func(serializer.CodecFactory) []any {
		return []any{
			// RawExtension holds JSON: fill it with a JSON object.
			func(r *runtime.RawExtension, c randfill.Continue) {
				obj := map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": c.String(20)}, "data": map[string]any{c.String(5): c.String(30)}}
				r.Raw, _ = json.Marshal(obj)
			},
		}
	})
	fill := fuzzer.FuzzerFor(funcs, rand.NewSource(7), serializer.NewCodecFactory(scheme)).NilChance(0.2).NumElements(0, 3)
	for i := range iterations {
		in := newObj()
		fill.Fill(in)

		b, err := json.Marshal(in)
		if err != nil {
			t.Fatalf("iteration %d: marshal: %v", i, err)
		}
		out := newObj()
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("iteration %d: unmarshal: %v", i, err)
		}
		if !equality.Semantic.DeepEqual(in, out) {
			t.Fatalf("iteration %d: the JSON round trip changed the object:\n%s", i, b)
		}

		cp := in.DeepCopyObject()
		if !equality.Semantic.DeepEqual(in, cp) {
			t.Fatalf("iteration %d: DeepCopy differs", i)
		}
		if part := shared(in, cp); part != "" {
			t.Fatalf("iteration %d: the copy shares its %s with the original", i, part)
		}
	}
	t.Logf("%d random objects survived JSON and DeepCopy unchanged", iterations)
}
