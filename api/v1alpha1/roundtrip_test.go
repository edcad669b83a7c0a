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
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"sigs.k8s.io/randfill"
)

// TestPlanRoundTrip fills 10,000 Plans with random values and checks that
// each survives JSON (what the API server stores) and DeepCopy (what every
// cache hands out) unchanged, and that a copy shares nothing with its
// original.
func TestPlanRoundTrip(t *testing.T) {
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
		var in Plan
		fill.Fill(&in)

		b, err := json.Marshal(&in)
		if err != nil {
			t.Fatalf("iteration %d: marshal: %v", i, err)
		}
		var out Plan
		if err := json.Unmarshal(b, &out); err != nil {
			t.Fatalf("iteration %d: unmarshal: %v", i, err)
		}
		if !equality.Semantic.DeepEqual(in, out) {
			t.Fatalf("iteration %d: the JSON round trip changed the Plan:\n%s", i, b)
		}

		cp := in.DeepCopy()
		if !equality.Semantic.DeepEqual(&in, cp) {
			t.Fatalf("iteration %d: DeepCopy differs", i)
		}
		if len(cp.Spec.Tasks) > 0 {
			cp.Spec.Tasks[0].Name += "-changed"
			if in.Spec.Tasks[0].Name == cp.Spec.Tasks[0].Name {
				t.Fatalf("iteration %d: the copy shares its tasks with the original", i)
			}
		}
		if len(cp.Status.Conditions) > 0 {
			cp.Status.Conditions[0].Message += "-changed"
			if in.Status.Conditions[0].Message == cp.Status.Conditions[0].Message {
				t.Fatalf("iteration %d: the copy shares its conditions with the original", i)
			}
		}
	}
	t.Logf("%d random Plans survived JSON and DeepCopy unchanged", iterations)
}
