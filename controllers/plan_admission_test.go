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
	"fmt"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	execloopv1alpha1 "github.com/execloop/execloop/api/v1alpha1"
)

// cm is an apply manifest of a ConfigMap, as plain JSON.
func cm(name string) map[string]any {
	return map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": name}}
}

// admit creates a Plan with the given spec, written as plain JSON so that
// it can hold what the Go types cannot, and returns the API server's error.
// With client.DryRunAll the API server admits or refuses the Plan but does
// not keep it, so no pass runs it.
func admit(ns string, spec map[string]any, opts ...client.CreateOption) error {
	p := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": execloopv1alpha1.GroupVersion.String(), "kind": "Plan",
		"metadata": map[string]any{"generateName": "rejected-", "namespace": ns},
		"spec":     spec,
	}}
	return k8sClient.Create(ctx, p, opts...)
}

// largestPlan is the largest plan admission allows: 256 tasks whose names
// are 63 characters long, each after the 8 tasks before it (the first 8
// after none).
func largestPlan() []any {
	name := func(i int) string { return fmt.Sprintf("%s%03d", strings.Repeat("t", 60), i) }
	tasks := make([]any, 256)
	for i := range tasks {
		t := map[string]any{"name": name(i), "apply": cm(fmt.Sprintf("c%d", i))}
		if i >= 8 {
			after := make([]any, 8)
			for j := range after {
				after[j] = name(i - 1 - j)
			}
			t["after"] = after
		}
		tasks[i] = t
	}
	return tasks
}

func manyTasks(n int) []any {
	tasks := make([]any, n)
	for i := range tasks {
		tasks[i] = map[string]any{"name": fmt.Sprintf("t%d", i), "apply": cm(fmt.Sprintf("c%d", i))}
	}
	return tasks
}

var _ = Describe("Plan admission", func() {
	var ns string
	BeforeEach(func() { ns = newNamespace() })

	It("admits a valid plan", func() {
		Expect(admit(ns, map[string]any{"tasks": []any{map[string]any{"name": "config", "apply": cm("c")}}})).To(Succeed())
	})

	It("admits the largest plan: the check of after stays within the API server's cost limit", func() {
		Expect(admit(ns, map[string]any{"tasks": largestPlan()}, client.DryRunAll)).To(Succeed())
	})

	It("names the missing task in the largest plan", func() {
		tasks := largestPlan()
		last := tasks[255].(map[string]any)
		ghost := strings.Repeat("g", 63)
		last["after"].([]any)[7] = ghost
		err := admit(ns, map[string]any{"tasks": tasks}, client.DryRunAll)
		Expect(err).To(HaveOccurred())
		Expect(err.Error()).To(ContainSubstring("task %s: after names %s, which is not a task of this plan", last["name"], ghost))
	})

	DescribeTable("rejects an invalid plan with a message that names the field",
		func(spec map[string]any, messages ...string) {
			err := admit(ns, spec)
			Expect(err).To(HaveOccurred())
			for _, m := range messages {
				Expect(err.Error()).To(ContainSubstring(m))
			}
		},
		Entry("no tasks", map[string]any{"tasks": []any{}},
			"spec.tasks: Invalid value", "should have at least 1 items"),
		Entry("no tasks field", map[string]any{},
			"spec.tasks: Required value"),
		Entry("more than 256 tasks", map[string]any{"tasks": manyTasks(257)},
			"spec.tasks: Too many: 257: must have at most 256 items"),
		Entry("a task without a name", map[string]any{"tasks": []any{map[string]any{"apply": cm("c")}}},
			"spec.tasks[0].name: Required value"),
		Entry("a task name that is not a DNS-1123 label", map[string]any{"tasks": []any{map[string]any{"name": "Bad_Name", "apply": cm("c")}}},
			`spec.tasks[0].name: Invalid value: "Bad_Name"`),
		Entry("a task name longer than 63", map[string]any{"tasks": []any{map[string]any{"name": fmt.Sprintf("%064d", 0), "apply": cm("c")}}},
			"spec.tasks[0].name: Too long"),
		Entry("two tasks with one name", map[string]any{"tasks": []any{
			map[string]any{"name": "twin", "apply": cm("a")}, map[string]any{"name": "twin", "apply": cm("b")},
		}}, "spec.tasks[1]: Duplicate value"),
		Entry("a task with nothing to do", map[string]any{"tasks": []any{map[string]any{"name": "idle"}}},
			"spec.tasks[0]: Invalid value", "task idle: exactly one of apply, delete, wait and patch must be set"),
		Entry("a task with two things to do", map[string]any{"tasks": []any{map[string]any{
			"name": "both", "apply": cm("c"), "wait": map[string]any{"apiVersion": "v1", "kind": "Secret", "name": "s"},
		}}}, "task both: exactly one of apply, delete, wait and patch must be set"),
		Entry("after naming a task that is not in the plan", map[string]any{"tasks": []any{
			map[string]any{"name": "app", "after": []any{"ghost"}, "apply": cm("c")},
		}}, "spec.tasks: Invalid value", "task app: after names ghost, which is not a task of this plan"),
		Entry("after naming tasks that are not in the plan, in more than one task", map[string]any{"tasks": []any{
			map[string]any{"name": "db", "apply": cm("d")},
			map[string]any{"name": "app", "after": []any{"db", "ghost", "spook"}, "apply": cm("a")},
			map[string]any{"name": "web", "after": []any{"nope"}, "apply": cm("w")},
		}}, "spec.tasks: Invalid value", "task app: after names ghost, which is not a task of this plan"),
		Entry("a task after itself", map[string]any{"tasks": []any{
			map[string]any{"name": "loop", "after": []any{"loop"}, "apply": cm("c")},
		}}, "task loop: after must not name the task itself"),
		Entry("after with more than 8 tasks", map[string]any{"tasks": append(manyTasks(9), map[string]any{
			"name": "last", "after": []any{"t0", "t1", "t2", "t3", "t4", "t5", "t6", "t7", "t8"}, "apply": cm("last"),
		})}, "spec.tasks[9].after: Too many: 9: must have at most 8 items"),
		Entry("a patch without apiVersion", map[string]any{"tasks": []any{map[string]any{
			"name": "label-ns", "patch": map[string]any{"kind": "Namespace", "metadata": map[string]any{"name": "shared"}},
		}}}, "spec.tasks[0].patch.apiVersion: Required value"),
		Entry("a patch without kind", map[string]any{"tasks": []any{map[string]any{
			"name": "label-ns", "patch": map[string]any{"apiVersion": "v1", "metadata": map[string]any{"name": "shared"}},
		}}}, "spec.tasks[0].patch.kind: Required value"),
		Entry("a patch without metadata.name", map[string]any{"tasks": []any{map[string]any{
			"name": "label-ns", "patch": map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{}},
		}}}, "task label-ns: patch.metadata.name is required"),
		Entry("a patch and an apply in one task", map[string]any{"tasks": []any{map[string]any{
			"name": "both", "apply": cm("c"), "patch": cm("c"),
		}}}, "task both: exactly one of apply, delete, wait and patch must be set"),
		Entry("apply without metadata.name", map[string]any{"tasks": []any{map[string]any{
			"name": "nameless", "apply": map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{}},
		}}}, "task nameless: apply.metadata.name is required"),
		Entry("apply without kind", map[string]any{"tasks": []any{map[string]any{
			"name": "kindless", "apply": map[string]any{"apiVersion": "v1", "metadata": map[string]any{"name": "x"}},
		}}}, "spec.tasks[0].apply.kind: Required value"),
		Entry("apply without apiVersion", map[string]any{"tasks": []any{map[string]any{
			"name": "versionless", "apply": map[string]any{"kind": "ConfigMap", "metadata": map[string]any{"name": "x"}},
		}}}, "spec.tasks[0].apply.apiVersion: Required value"),
		Entry("delete without a name", map[string]any{"tasks": []any{map[string]any{
			"name": "vague", "delete": map[string]any{"apiVersion": "v1", "kind": "ConfigMap"},
		}}}, "spec.tasks[0].delete.name: Required value"),
		Entry("readyWhen on a delete task", map[string]any{"tasks": []any{map[string]any{
			"name": "gone", "delete": map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "name": "x"}, "readyWhen": "true",
		}}}, "task gone: readyWhen goes with apply, wait or patch, not with delete"),
		Entry("immutableFields: Recreate on a delete task", map[string]any{"tasks": []any{map[string]any{
			"name": "gone", "delete": map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "name": "x"}, "immutableFields": "Recreate",
		}}}, "task gone: immutableFields: Recreate goes with apply"),
		Entry("applyPolicy: IfNotPresent on a wait task", map[string]any{"tasks": []any{map[string]any{
			"name": "cert", "wait": map[string]any{"apiVersion": "v1", "kind": "Secret", "name": "tls"}, "applyPolicy": "IfNotPresent",
		}}}, "task cert: applyPolicy: IfNotPresent goes with apply"),
		Entry("failedWhen on a delete task", map[string]any{"tasks": []any{map[string]any{
			"name": "gone", "delete": map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "name": "x"}, "failedWhen": "true",
		}}}, "task gone: failedWhen goes with apply, wait or patch, not with delete"),
		Entry("adoptionPolicy on a delete task", map[string]any{"tasks": []any{map[string]any{
			"name": "gone", "delete": map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "name": "x"}, "adoptionPolicy": "Refuse",
		}}}, "task gone: adoptionPolicy goes with apply"),
		Entry("an adoptionPolicy that is not one", map[string]any{"adoptionPolicy": "Steal", "tasks": manyTasks(1)},
			"spec.adoptionPolicy", `Unsupported value: "Steal"`),
		Entry("an immutableFields policy that is not one", map[string]any{"tasks": []any{map[string]any{
			"name": "config", "apply": cm("c"), "immutableFields": "Replace",
		}}}, "spec.tasks[0].immutableFields", `Unsupported value: "Replace"`),
		Entry("a sleepBetweenRuns that is not a duration", map[string]any{"sleepBetweenRuns": "2 fortnights", "tasks": manyTasks(1)},
			`spec.sleepBetweenRuns: Invalid value: "2 fortnights"`),
		Entry("a sleepBetweenRuns below the floor of 100ms", map[string]any{"sleepBetweenRuns": "1ns", "tasks": manyTasks(1)},
			"spec.sleepBetweenRuns: Invalid value", "sleepBetweenRuns must be at least 100ms"),
		Entry("a task timeout that is not a duration", map[string]any{"tasks": []any{map[string]any{"name": "t", "apply": cm("c"), "timeout": "soon"}}},
			`spec.tasks[0].timeout: Invalid value: "soon"`),
		Entry("a negative errorsToTolerate", map[string]any{"errorsToTolerate": -1, "tasks": manyTasks(1)},
			"spec.errorsToTolerate: Invalid value: -1", "greater than or equal to 0"),
		Entry("an unknown deletionPolicy", map[string]any{"deletionPolicy": "Keep", "tasks": manyTasks(1)},
			`spec.deletionPolicy: Unsupported value: "Keep"`),
		Entry("a serviceAccountName that is not a name", map[string]any{"serviceAccountName": "Not A Name", "tasks": manyTasks(1)},
			`spec.serviceAccountName: Invalid value: "Not A Name"`),
	)
})
