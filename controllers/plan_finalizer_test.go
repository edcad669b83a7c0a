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
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	execloopv1alpha1 "github.com/execloop/execloop/api/v1alpha1"
	"github.com/execloop/execloop/execloop/reconciler"
)

// planWriters returns the managers that wrote a Plan other than through its
// status, with what they own.
func planWriters(p *execloopv1alpha1.Plan) map[string]string {
	writers := map[string]string{}
	for _, e := range p.ManagedFields {
		if e.Subresource == "" {
			writers[e.Manager] = e.FieldsV1.GetRawString()
		}
	}
	return writers
}

// appliedPlan is a one-ConfigMap Plan as `kubectl apply --server-side`
// would send it: no finalizers.
func appliedPlan(ns, data string) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": execloopv1alpha1.GroupVersion.String(), "kind": "Plan",
		"metadata": map[string]any{"name": "applied", "namespace": ns},
		"spec": map[string]any{"tasks": []any{map[string]any{
			"name": "config", "apply": map[string]any{
				"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": "applied"}, "data": map[string]any{"v": data},
			},
		}}},
	}}
}

var _ = Describe("The cleanup finalizer policy (config/admission)", func() {
	It("gives a Plan its finalizer as it is created, so the manager writes the Plan only through its status", func() {
		ns := newNamespace()
		p := &execloopv1alpha1.Plan{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "admitted"}, Spec: execloopv1alpha1.PlanSpec{
			Tasks: []execloopv1alpha1.PlanTask{{Name: "config", Apply: configMap("admitted", map[string]any{"a": "b"})}},
		}}
		Expect(k8sClient.Create(ctx, p, client.FieldOwner("author"))).To(Succeed())
		Expect(p.Finalizers).To(ContainElement(reconciler.DefaultFinalizer), "the create's answer carries it")

		other := p.DeepCopy()
		other.ObjectMeta = metav1.ObjectMeta{Namespace: ns, Name: "other", Finalizers: []string{"example.com/keep", reconciler.DefaultFinalizer}}
		Expect(k8sClient.Create(ctx, other, client.DryRunAll)).To(Succeed())
		Expect(other.Finalizers).To(ConsistOf("example.com/keep", reconciler.DefaultFinalizer), "added to what the Plan lists, once")

		Eventually(phaseOf(ns, "admitted")).Should(Equal(execloopv1alpha1.PlanSucceeded))
		Expect(planWriters(getPlan(Default, ns, "admitted"))).To(HaveKey("author"))
		Expect(planWriters(getPlan(Default, ns, "admitted"))).To(HaveLen(1), "only its author wrote the Plan")
	})

	It("keeps the finalizer through a re-apply that leaves it out, and lets the Plan go once its cleanup is done", func() {
		ns := newNamespace()
		Expect(k8sClient.Apply(ctx, client.ApplyConfigurationFromUnstructured(appliedPlan(ns, "1")), client.FieldOwner("kubectl"))).To(Succeed())
		Eventually(phaseOf(ns, "applied")).Should(Equal(execloopv1alpha1.PlanSucceeded))

		Expect(k8sClient.Apply(ctx, client.ApplyConfigurationFromUnstructured(appliedPlan(ns, "2")), client.FieldOwner("kubectl"))).To(Succeed())
		Expect(getPlan(Default, ns, "applied").Finalizers).To(ContainElement(reconciler.DefaultFinalizer))
		Eventually(func(g Gomega) string { return getConfigMap(g, ns, "applied").Data["v"] }).Should(Equal("2"))

		Expect(k8sClient.Delete(ctx, getPlan(Default, ns, "applied"))).To(Succeed())
		Eventually(gone(&execloopv1alpha1.Plan{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "applied"}})).Should(BeTrue())
		Expect(gone(&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "applied"}})()).To(BeTrue(), "the cleanup deleted what the plan applied")
	})

	It("runs the cleanup of a suspended Plan that is deleted, instead of leaving it Terminating", func() {
		ns := newNamespace()
		createPlan(ns, "resting", execloopv1alpha1.PlanSpec{DeletionPolicy: execloopv1alpha1.DeletionPolicyDelete, Tasks: []execloopv1alpha1.PlanTask{
			{Name: "c", Apply: configMap("resting", map[string]any{"a": "b"})},
		}})
		Eventually(phaseOf(ns, "resting")).Should(Equal(execloopv1alpha1.PlanSucceeded))
		Eventually(func(g Gomega) {
			p := getPlan(g, ns, "resting")
			p.Spec.Suspend = true
			g.Expect(k8sClient.Update(ctx, p)).To(Succeed())
		}).Should(Succeed())
		Eventually(phaseOf(ns, "resting")).Should(Equal(execloopv1alpha1.PlanSuspended))

		Expect(k8sClient.Delete(ctx, getPlan(Default, ns, "resting"))).To(Succeed())
		Eventually(gone(&execloopv1alpha1.Plan{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "resting"}})).Should(BeTrue())
		Expect(gone(&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "resting"}})()).To(BeTrue(), "the cleanup deleted what the plan applied")
	})

	It("is not needed: without it the manager adds the finalizer itself before it applies anything", func() {
		nsObj := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "plan-", Labels: map[string]string{withoutPolicy: "true"}}}
		Expect(k8sClient.Create(ctx, nsObj)).To(Succeed())
		ns := nsObj.Name
		p := createPlan(ns, "unadmitted", execloopv1alpha1.PlanSpec{
			Tasks: []execloopv1alpha1.PlanTask{{Name: "config", Apply: configMap("unadmitted", map[string]any{"a": "b"})}},
		})
		Expect(p.Finalizers).To(BeEmpty(), "the policy does not apply in this namespace")

		Eventually(phaseOf(ns, "unadmitted")).Should(Equal(execloopv1alpha1.PlanSucceeded))
		Expect(getPlan(Default, ns, "unadmitted").Finalizers).To(ContainElement(reconciler.DefaultFinalizer))
		Expect(k8sClient.Delete(ctx, getPlan(Default, ns, "unadmitted"))).To(Succeed())
		Eventually(gone(&execloopv1alpha1.Plan{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "unadmitted"}})).Should(BeTrue())
		Expect(gone(&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "unadmitted"}})()).To(BeTrue())
	})
})
