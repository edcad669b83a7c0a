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
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	execloopv1alpha1 "github.com/execloop/execloop/api/v1alpha1"
)

// TestAForEachThatCannotWorkMakesThePlanInvalid: what admission may not
// have seen (a Plan admitted before the CRD knew forEach, a CEL keyword as
// the variable) is refused by Compile, naming the task; a name that holds
// an expression needs forEach.
func TestAForEachThatCannotWorkMakesThePlanInvalid(t *testing.T) {
	perItem := configMapManifest(t, `${"cfg-" + x}`, nil)
	for _, tc := range []struct {
		name string
		task execloopv1alpha1.PlanTask
		want string // "" for a valid plan
	}{
		{"one variable, with apply", execloopv1alpha1.PlanTask{ForEach: map[string]string{"x": `${["a"]}`}, Apply: perItem}, ""},
		{"with patch", execloopv1alpha1.PlanTask{ForEach: map[string]string{"x": `${["a"]}`}, Patch: perItem}, "forEach goes with apply only"},
		{"two variables", execloopv1alpha1.PlanTask{ForEach: map[string]string{"x": `${["a"]}`, "y": `${["b"]}`}, Apply: perItem}, "exactly one variable"},
		{"a variable named like plan's", execloopv1alpha1.PlanTask{ForEach: map[string]string{"plan": `${["a"]}`}, Apply: perItem}, "must be a CEL identifier"},
		{"a CEL keyword", execloopv1alpha1.PlanTask{ForEach: map[string]string{"in": `${["a"]}`}, Apply: perItem}, "must be a CEL identifier"},
		{"a list that is text", execloopv1alpha1.PlanTask{ForEach: map[string]string{"x": `a${["a"]}`}, Apply: perItem}, "must be one ${...} expression"},
		{"a list that does not compile", execloopv1alpha1.PlanTask{ForEach: map[string]string{"x": `${[}`}, Apply: perItem}, "does not compile"},
		{"a manifest that reads another variable", execloopv1alpha1.PlanTask{ForEach: map[string]string{"y": `${["a"]}`}, Apply: perItem}, "does not compile"},
		{"a name with an expression, without forEach", execloopv1alpha1.PlanTask{Apply: configMapManifest(t, `${"cfg-" + plan.metadata.name}`, nil)}, "holds an expression"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.task.Name = "each"
			p := &execloopv1alpha1.Plan{
				ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web", UID: "u"},
				Spec:       execloopv1alpha1.PlanSpec{Tasks: []execloopv1alpha1.PlanTask{tc.task}},
			}
			_, err := Compile(p, &Identity{}, fuzzMapper())
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("want a valid plan, got %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), "task each") || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("want the plan refused naming the task and saying %q, got %v", tc.want, err)
			}
		})
	}
}

// TestAnItemIsNamedInMessagesByItsPositionAndShortenedValue.
func TestAnItemIsNamedInMessagesByItsPositionAndShortenedValue(t *testing.T) {
	for _, tc := range []struct {
		i    int
		v    any
		want string
	}{
		{0, "eu", `item 0 ("eu")`},
		{7, map[string]any{"region": "eu"}, `item 7 ({"region":"eu"})`},
		{1, strings.Repeat("x", 100), `item 1 ("` + strings.Repeat("x", 59) + `…)`},
	} {
		if got := itemLabel(tc.i, tc.v); got != tc.want {
			t.Errorf("itemLabel(%d, %v) = %s, want %s", tc.i, tc.v, got, tc.want)
		}
	}
}
