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
	"sync/atomic"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	execloopv1alpha1 "github.com/execloop/execloop/api/v1alpha1"
	"github.com/execloop/execloop/execloop/reconciler/status"
)

// kinds numbers the kinds the specs define: CRDs are cluster-wide, so each
// spec defines a kind of its own.
var kinds atomic.Int32

// newDefinition is the sample definition for a kind of its own in group,
// not yet created: WebAppN, webappNs.<group>.
func newDefinition(group string) *unstructured.Unstructured {
	n := kinds.Add(1)
	d := sampleDefinition()
	plural := fmt.Sprintf("webapp%ds", n)
	d.SetName(plural + "." + group)
	Expect(unstructured.SetNestedField(d.Object, group, "spec", "api", "group")).To(Succeed())
	Expect(unstructured.SetNestedField(d.Object, plural, "spec", "api", "plural")).To(Succeed())
	Expect(unstructured.SetNestedField(d.Object, fmt.Sprintf("WebApp%d", n), "spec", "api", "kind")).To(Succeed())
	return d
}

// createDefinition creates d and deletes it when the spec ends. The CRD it
// generates stays: nothing deletes it yet.
func createDefinition(d *unstructured.Unstructured) {
	Expect(k8sClient.Create(ctx, d)).To(Succeed())
	DeferCleanup(func() { Expect(client.IgnoreNotFound(k8sClient.Delete(ctx, d))).To(Succeed()) })
}

// definitionCondition is the condition t of the definition named name, once
// it describes the definition's generation.
func definitionCondition(name, t string) func(Gomega) *metav1.Condition {
	return func(g Gomega) *metav1.Condition {
		def := &execloopv1alpha1.PlanDefinition{}
		g.Expect(k8sClient.Get(ctx, client.ObjectKey{Name: name}, def)).To(Succeed())
		g.Expect(def.Status.ObservedGeneration).To(Equal(def.Generation))
		c := meta.FindStatusCondition(def.Status.Conditions, t)
		g.Expect(c).NotTo(BeNil(), "no condition %s in %v", t, def.Status.Conditions)
		return c
	}
}

// apiOf is the group, kind, plural and version of d's spec.api.
func apiOf(d *unstructured.Unstructured) map[string]string {
	api := map[string]string{}
	for _, f := range []string{"group", "kind", "plural", "version"} {
		api[f], _, _ = unstructured.NestedString(d.Object, "spec", "api", f)
	}
	return api
}

// instance is an instance of the definition d's kind in namespace ns.
func instance(d *unstructured.Unstructured, ns, name string, spec map[string]any) *unstructured.Unstructured {
	api := apiOf(d)
	u := &unstructured.Unstructured{Object: map[string]any{"spec": spec}}
	u.SetAPIVersion(api["group"] + "/" + api["version"])
	u.SetKind(api["kind"])
	u.SetNamespace(ns)
	u.SetName(name)
	return u
}

// createForeignCRD creates a cluster-scoped CRD of group, kind and plural
// that no definition generated, serving v1, and deletes it when the spec
// ends.
func createForeignCRD(group, kind, plural string) *apiextensionsv1.CustomResourceDefinition {
	GinkgoHelper()
	crd := &apiextensionsv1.CustomResourceDefinition{
		ObjectMeta: metav1.ObjectMeta{Name: plural + "." + group},
		Spec: apiextensionsv1.CustomResourceDefinitionSpec{
			Group: group,
			Names: apiextensionsv1.CustomResourceDefinitionNames{Kind: kind, ListKind: kind + "List", Plural: plural},
			Scope: apiextensionsv1.ClusterScoped,
			Versions: []apiextensionsv1.CustomResourceDefinitionVersion{{
				Name: "v1", Served: true, Storage: true,
				Schema: &apiextensionsv1.CustomResourceValidation{OpenAPIV3Schema: &apiextensionsv1.JSONSchemaProps{
					Type: "object", XPreserveUnknownFields: ptr.To(true),
				}},
			}},
		},
	}
	Expect(k8sClient.Create(ctx, crd)).To(Succeed())
	DeferCleanup(func() { Expect(client.IgnoreNotFound(k8sClient.Delete(ctx, crd))).To(Succeed()) })
	return crd
}

var _ = Describe("PlanDefinition controller", func() {
	It("generates the CRD, waits until it is Established, and the API server enforces the schema's defaults and validation", func() {
		ns := newNamespace()
		d := newDefinition(definitionGroup)
		createDefinition(d)

		Eventually(definitionCondition(d.GetName(), status.ConditionReady)).Should(And(
			HaveField("Status", metav1.ConditionTrue),
			HaveField("Reason", ReasonEstablished),
			HaveField("Message", ContainSubstring("CRD "+d.GetName()+" is Established")),
		))
		crd := &apiextensionsv1.CustomResourceDefinition{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Name: d.GetName()}, crd)).To(Succeed())
		Expect(crd.Labels).To(HaveKeyWithValue(DefinitionLabel, d.GetName()))
		Expect(crd.Spec.Scope).To(Equal(apiextensionsv1.NamespaceScoped))
		Expect(crd.Spec.Versions).To(HaveLen(1))
		v := crd.Spec.Versions[0]
		Expect(v.Subresources).NotTo(BeNil())
		Expect(v.Subresources.Status).NotTo(BeNil())
		Expect(v.AdditionalPrinterColumns).To(ContainElements(
			HaveField("Name", "Ready"), HaveField("Name", "Phase")))

		// The client finds the new kind once discovery serves it.
		tooMany := instance(d, ns, "too-many", map[string]any{"image": "nginx", "replicas": int64(50)})
		var err error
		Eventually(func() bool {
			err = k8sClient.Create(ctx, tooMany)
			return !meta.IsNoMatchError(err)
		}).Should(BeTrue())
		Expect(apierrors.IsInvalid(err)).To(BeTrue(), "want 422, got %v", err)
		Expect(err.Error()).To(ContainSubstring("spec.replicas"))

		defaulted := instance(d, ns, "defaulted", map[string]any{"image": "nginx"})
		Expect(k8sClient.Create(ctx, defaulted)).To(Succeed())
		read := defaulted.DeepCopy()
		Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(defaulted), read)).To(Succeed())
		replicas, found, err := unstructured.NestedInt64(read.Object, "spec", "replicas")
		Expect(err).NotTo(HaveOccurred())
		Expect(found).To(BeTrue(), "no spec.replicas in %v", read.Object)
		Expect(replicas).To(Equal(int64(2)))
	})

	It("leaves a CRD it did not generate alone, and says so naming the CRD", func() {
		d := newDefinition(definitionGroup)
		api := apiOf(d)
		foreign := createForeignCRD(api["group"], api["kind"], api["plural"])
		createDefinition(d)

		Eventually(definitionCondition(d.GetName(), status.ConditionStalled)).Should(And(
			HaveField("Status", metav1.ConditionTrue),
			HaveField("Reason", ReasonCRDNotOwned),
			HaveField("Message", ContainSubstring("CRD "+d.GetName()+" exists and was not generated by this definition")),
		))
		Expect(definitionCondition(d.GetName(), status.ConditionReady)(Default)).To(HaveField("Status", metav1.ConditionFalse))
		after := &apiextensionsv1.CustomResourceDefinition{}
		Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(foreign), after)).To(Succeed())
		Expect(after.Labels).NotTo(HaveKey(DefinitionLabel))
		Expect(after.Spec.Scope).To(Equal(apiextensionsv1.ClusterScoped))
		Expect(after.Spec.Versions).To(ConsistOf(HaveField("Name", "v1")))
		Expect(after.ManagedFields).NotTo(ContainElement(HaveField("Manager", DefinitionFieldManager)))
	})

	It("refuses a group the operator does not allow, naming the group and the flag, and generates nothing", func() {
		d := newDefinition("other.example.com")
		createDefinition(d)

		Eventually(definitionCondition(d.GetName(), status.ConditionStalled)).Should(And(
			HaveField("Status", metav1.ConditionTrue),
			HaveField("Reason", ReasonGroupNotAllowed),
			HaveField("Message", And(ContainSubstring("group other.example.com is not allowed"), ContainSubstring("--definition-groups"))),
		))
		err := k8sClient.Get(ctx, client.ObjectKey{Name: d.GetName()}, &apiextensionsv1.CustomResourceDefinition{})
		Expect(apierrors.IsNotFound(err)).To(BeTrue(), "want no CRD, got %v", err)
	})

	It("stalls a definition whose template mistypes a field of the instances' schema, before any instance exists, naming the task, the field and the expression, and generates nothing", func() {
		d := newDefinition(definitionGroup)
		tasks, _, err := unstructured.NestedSlice(d.Object, "spec", "plan", "tasks")
		Expect(err).NotTo(HaveOccurred())
		task := tasks[0].(map[string]any)
		Expect(unstructured.SetNestedField(task, "${instance.spec.imagee}", "apply", "data", "IMAGE")).To(Succeed())
		Expect(unstructured.SetNestedSlice(d.Object, tasks, "spec", "plan", "tasks")).To(Succeed())
		createDefinition(d)

		Eventually(definitionCondition(d.GetName(), status.ConditionStalled)).Should(And(
			HaveField("Status", metav1.ConditionTrue),
			HaveField("Reason", ReasonInvalidPlan),
			HaveField("Message", And(
				ContainSubstring("spec.plan: task "+task["name"].(string)+": apply.data.IMAGE: ${instance.spec.imagee} does not compile"),
				ContainSubstring("undefined field 'imagee'"),
			)),
		))
		err = k8sClient.Get(ctx, client.ObjectKey{Name: d.GetName()}, &apiextensionsv1.CustomResourceDefinition{})
		Expect(apierrors.IsNotFound(err)).To(BeTrue(), "want no CRD, got %v", err)
	})

	It("stalls a definition whose schema is not structural, with the API server's message naming the field, and generates nothing", func() {
		d := newDefinition(definitionGroup)
		Expect(unstructured.SetNestedField(d.Object, map[string]any{}, "spec", "api", "spec", "properties", "image")).To(Succeed())
		createDefinition(d)

		Eventually(definitionCondition(d.GetName(), status.ConditionStalled)).Should(And(
			HaveField("Status", metav1.ConditionTrue),
			HaveField("Reason", ReasonInvalidAPI),
			HaveField("Message", And(ContainSubstring("the API server refused the CRD"), ContainSubstring("properties[image].type: Required value"))),
		))
		err := k8sClient.Get(ctx, client.ObjectKey{Name: d.GetName()}, &apiextensionsv1.CustomResourceDefinition{})
		Expect(apierrors.IsNotFound(err)).To(BeTrue(), "want no CRD, got %v", err)
	})
})
