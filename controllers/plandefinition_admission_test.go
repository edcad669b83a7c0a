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
	"os"
	"path/filepath"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"
)

// sampleDefinition is the sample PlanDefinition of config/samples, as plain
// JSON, so that specs can break it in ways the Go types cannot.
func sampleDefinition() *unstructured.Unstructured {
	b, err := os.ReadFile(filepath.Join("..", "config", "samples", "execloop_v1alpha1_plandefinition.yaml"))
	Expect(err).NotTo(HaveOccurred())
	d := &unstructured.Unstructured{}
	Expect(yaml.Unmarshal(b, &d.Object)).To(Succeed())
	return d
}

// admitDefinition creates d as a dry run: the API server admits or refuses
// it, and keeps nothing.
func admitDefinition(d *unstructured.Unstructured) error {
	return k8sClient.Create(ctx, d, client.DryRunAll)
}

var _ = Describe("PlanDefinition admission", func() {
	It("admits the sample", func() {
		Expect(admitDefinition(sampleDefinition())).To(Succeed())
	})

	It("admits the largest definition: the plan's rules, nested, stay within the API server's cost limit", func() {
		d := sampleDefinition()
		Expect(unstructured.SetNestedSlice(d.Object, largestPlan(), "spec", "plan", "tasks")).To(Succeed())
		fields := map[string]any{}
		for i := range 64 {
			fields[fmt.Sprintf("f%02d", i)] = map[string]any{"type": "string", "value": "${instance.metadata.name}"}
		}
		Expect(unstructured.SetNestedMap(d.Object, fields, "spec", "api", "status")).To(Succeed())
		Expect(admitDefinition(d)).To(Succeed())
	})

	DescribeTable("refuses a definition the API server can see is wrong, naming the field",
		func(breakIt func(d *unstructured.Unstructured), message string) {
			d := sampleDefinition()
			breakIt(d)
			err := admitDefinition(d)
			Expect(apierrors.IsInvalid(err)).To(BeTrue(), "want 422, got %v", err)
			Expect(err.Error()).To(ContainSubstring(message))
		},
		Entry("a name other than <plural>.<group>", func(d *unstructured.Unstructured) {
			d.SetName("webapp.platform.example.com")
		}, "metadata.name must be webapps.platform.example.com (<plural>.<group>)"),
		Entry("a scope other than Namespaced or Cluster", func(d *unstructured.Unstructured) {
			Expect(unstructured.SetNestedField(d.Object, "Global", "spec", "api", "scope")).To(Succeed())
		}, `spec.api.scope: Unsupported value: "Global"`),
		Entry("a status field without a type", func(d *unstructured.Unstructured) {
			Expect(unstructured.SetNestedField(d.Object, map[string]any{"value": "${instance.spec.image}"}, "spec", "api", "status", "url")).To(Succeed())
		}, "spec.api.status.url.type: Required value"),
		Entry("a group without a dot", func(d *unstructured.Unstructured) {
			d.SetName("webapps.platform")
			Expect(unstructured.SetNestedField(d.Object, "platform", "spec", "api", "group")).To(Succeed())
		}, "spec.api.group: Invalid value"),
		Entry("a deletionPolicy other than Block, Delete or Orphan", func(d *unstructured.Unstructured) {
			Expect(unstructured.SetNestedField(d.Object, "Keep", "spec", "deletionPolicy")).To(Succeed())
		}, `spec.deletionPolicy: Unsupported value: "Keep"`),
		Entry("a plan whose task names an after that is not a task", func(d *unstructured.Unstructured) {
			tasks, _, _ := unstructured.NestedSlice(d.Object, "spec", "plan", "tasks")
			tasks[2].(map[string]any)["after"] = []any{"db"}
			Expect(unstructured.SetNestedSlice(d.Object, tasks, "spec", "plan", "tasks")).To(Succeed())
		}, "task svc: after names db, which is not a task of this plan"),
	)

	Describe("of a change to a stored definition", func() {
		var stored *unstructured.Unstructured
		BeforeEach(func() {
			// A group the suite does not allow: nothing is generated.
			stored = newDefinition("immutable.example.com")
			createDefinition(stored)
		})

		DescribeTable("refuses a change of what makes the CRD, naming the field",
			func(field, value string) {
				changed := stored.DeepCopy()
				Expect(unstructured.SetNestedField(changed.Object, value, "spec", "api", field)).To(Succeed())
				err := k8sClient.Patch(ctx, changed, client.MergeFrom(stored), client.DryRunAll)
				Expect(apierrors.IsInvalid(err)).To(BeTrue(), "want 422, got %v", err)
				Expect(err.Error()).To(ContainSubstring("spec.api." + field + " is immutable: another " + field + " makes another CRD"))
			},
			Entry("group", "group", "other.example.com"),
			Entry("kind", "kind", "Other"),
			Entry("plural", "plural", "others"),
			Entry("version", "version", "v1"),
			Entry("scope", "scope", "Cluster"),
		)

		It("admits a change of the instances' schema", func() {
			changed := stored.DeepCopy()
			Expect(unstructured.SetNestedField(changed.Object, map[string]any{"type": "string"}, "spec", "api", "spec", "properties", "team")).To(Succeed())
			Expect(k8sClient.Patch(ctx, changed, client.MergeFrom(stored), client.DryRunAll)).To(Succeed())
		})
	})
})
