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
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	execloopv1alpha1 "github.com/execloop/execloop/api/v1alpha1"
	"github.com/execloop/execloop/execloop/reconciler"
	"github.com/execloop/execloop/execloop/reconciler/status"
)

// crd is the manifest of a namespaced CustomResourceDefinition of group
// recovery.example.com that serves kind at v1 with any fields.
func crd(kind string) map[string]any {
	plural := strings.ToLower(kind) + "s"
	return map[string]any{
		"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
		"metadata": map[string]any{"name": plural + ".recovery.example.com"},
		"spec": map[string]any{
			"group": "recovery.example.com", "scope": "Namespaced",
			"names": map[string]any{"kind": kind, "listKind": kind + "List", "plural": plural, "singular": strings.ToLower(kind)},
			"versions": []any{map[string]any{
				"name": "v1", "served": true, "storage": true,
				"schema": map[string]any{"openAPIV3Schema": map[string]any{"type": "object", "x-kubernetes-preserve-unknown-fields": true}},
			}},
		},
	}
}

// custom is a resource of a kind of recovery.example.com/v1.
func custom(kind, name string) map[string]any {
	return map[string]any{"apiVersion": "recovery.example.com/v1", "kind": kind, "metadata": map[string]any{"name": name}, "spec": map[string]any{"size": 1}}
}

func inNamespace(ns string) func(map[string]any) {
	return func(obj map[string]any) { obj["metadata"].(map[string]any)["namespace"] = ns }
}

func serviceAccountIn(ns, name string) {
	GinkgoHelper()
	Expect(k8sClient.Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}})).To(Succeed())
}

var _ = Describe("The Plan controller, recovering by itself", func() {
	var ns string
	BeforeEach(func() { ns = newNamespace() })

	It("converges a Plan that installs a CustomResourceDefinition and then a resource of it", func() {
		createPlan(ns, "operator", execloopv1alpha1.PlanSpec{Tasks: []execloopv1alpha1.PlanTask{
			// Ready as soon as it is applied: the resource then runs in the
			// same pass, before the API server serves its kind, and waits.
			{Name: "crd", Apply: raw(crd("Gadget")), ReadyWhen: "true"},
			{Name: "gadget", After: []string{"crd"}, Apply: raw(custom("Gadget", "first"))},
		}})
		Eventually(phaseOf(ns, "operator")).Should(Equal(execloopv1alpha1.PlanSucceeded))
		gadget := &unstructured.Unstructured{Object: custom("Gadget", "first")}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "first"}, gadget)).To(Succeed())
		Expect(gadget.GetLabels()).To(HaveKey(PlanUIDLabel))
		Expect(taskOf(Default, getPlan(Default, ns, "operator"), "gadget").Attempts).To(Equal(int32(1)), "it waited for the kind; it did not fail")
	})

	It("converges, with nobody touching it, once its RoleBinding, its target Namespace and its CRD appear 20 s later", func() {
		created := time.Now()
		serviceAccountIn(ns, "late")
		target := ns + "-late"
		patient := ptr.To[int32](20)
		createPlan(ns, "late-rbac", execloopv1alpha1.PlanSpec{ServiceAccountName: "late", ErrorsToTolerate: patient, Tasks: []execloopv1alpha1.PlanTask{
			{Name: "config", Apply: configMap("late-rbac", map[string]any{"a": "b"})},
		}})
		createPlan(ns, "late-namespace", execloopv1alpha1.PlanSpec{ErrorsToTolerate: patient, Tasks: []execloopv1alpha1.PlanTask{
			{Name: "config", Apply: configMap("late-namespace", map[string]any{"a": "b"}, inNamespace(target))},
		}})
		createPlan(ns, "late-kind", execloopv1alpha1.PlanSpec{ErrorsToTolerate: patient, Tasks: []execloopv1alpha1.PlanTask{
			{Name: "gadget", Apply: raw(custom("LateGadget", "g"))},
		}})

		failing := map[string]string{
			"late-rbac":      `cannot get resource "configmaps"`,
			"late-namespace": `namespaces "` + target + `" not found`,
			"late-kind":      "the API server has no kind LateGadget in recovery.example.com/v1",
		}
		Eventually(func(g Gomega) {
			for plan, why := range failing {
				p := getPlan(g, ns, plan)
				t := taskOf(g, p, p.Spec.Tasks[0].Name)
				g.Expect(t.State).To(Equal(status.TaskFailed), plan)
				g.Expect(t.Failures).To(BeNumerically(">=", 2), "%s: tried again after its failure", plan)
				g.Expect(t.NextAttemptTime).NotTo(BeNil(), plan)
				g.Expect(t.Message).To(ContainSubstring(why), plan)
				g.Expect(p.Status.IsStalled(p.Generation)).To(BeFalse(), plan)
			}
		}).Should(Succeed())

		time.Sleep(time.Until(created.Add(20 * time.Second))) // the scenario: what they need comes 20 s later
		grantConfigMaps(ns, "late", "get", "list", "watch", "create", "patch", "delete")
		Expect(k8sClient.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: target}})).To(Succeed())
		late := &unstructured.Unstructured{Object: crd("LateGadget")}
		Expect(k8sClient.Create(ctx, late)).To(Succeed())

		for plan := range failing {
			Eventually(phaseOf(ns, plan)).WithTimeout(30*time.Second).Should(Equal(execloopv1alpha1.PlanSucceeded), plan)
		}
	})

	It("retries a stalled Plan with a fresh budget at its stalledRetryInterval, and at once when asked with the reconcile-requested-at annotation", func() {
		serviceAccountIn(ns, "waiting")
		createPlan(ns, "retried", execloopv1alpha1.PlanSpec{
			ServiceAccountName: "waiting", ErrorsToTolerate: ptr.To[int32](0), StalledRetryInterval: &metav1.Duration{Duration: 3 * time.Second},
			Tasks: []execloopv1alpha1.PlanTask{{Name: "config", Apply: configMap("retried", nil)}},
		})
		createPlan(ns, "requested", execloopv1alpha1.PlanSpec{
			ServiceAccountName: "waiting", ErrorsToTolerate: ptr.To[int32](0), StalledRetryInterval: &metav1.Duration{},
			Tasks: []execloopv1alpha1.PlanTask{{Name: "config", Apply: configMap("requested", nil)}},
		})
		for _, plan := range []string{"retried", "requested"} {
			Eventually(stalledMessage(ns, plan)).Should(ContainSubstring(`cannot get resource "configmaps"`), plan)
			Expect(getPlan(Default, ns, plan).Status.Phase).To(Equal(execloopv1alpha1.PlanFailed))
		}
		Expect(getPlan(Default, ns, "requested").Status.NextPassTime).To(BeNil(), "a stalledRetryInterval of 0s schedules no retry")

		grantConfigMaps(ns, "waiting", "get", "list", "watch", "create", "patch", "delete")
		Eventually(phaseOf(ns, "retried")).Should(Equal(execloopv1alpha1.PlanSucceeded))
		Expect(getPlan(Default, ns, "retried").Status.Condition(status.ConditionStalled)).To(BeNil())
		Expect(getPlan(Default, ns, "requested").Status.Phase).To(Equal(execloopv1alpha1.PlanFailed), "a stalledRetryInterval of 0s means never")

		Eventually(func(g Gomega) {
			p := getPlan(g, ns, "requested")
			p.Annotations = map[string]string{reconciler.RequestedAtAnnotation: "after-the-grant"}
			g.Expect(k8sClient.Update(ctx, p)).To(Succeed())
		}).Should(Succeed())
		Eventually(func(g Gomega) {
			p := getPlan(g, ns, "requested")
			g.Expect(p.Status.Phase).To(Equal(execloopv1alpha1.PlanSucceeded))
			g.Expect(p.Status.LastHandledReconcileAt).To(Equal("after-the-grant"))
		}).Should(Succeed())
	})

	It("deleted together with its ServiceAccount's RoleBinding, says what it waits for, and is gone once the permission is back", func() {
		serviceAccountIn(ns, "bundled")
		grantConfigMaps(ns, "bundled", "get", "list", "watch", "create", "patch", "delete")
		createPlan(ns, "bundle", execloopv1alpha1.PlanSpec{ServiceAccountName: "bundled", Tasks: []execloopv1alpha1.PlanTask{
			{Name: "config", Apply: configMap("bundled", map[string]any{"a": "b"})},
		}})
		Eventually(phaseOf(ns, "bundle")).Should(Equal(execloopv1alpha1.PlanSucceeded))

		// kubectl delete -k of a bundle: the RoleBinding and the Plan go together.
		binding := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "bundled-configmaps"}}
		Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(binding), binding)).To(Succeed())
		Expect(k8sClient.Delete(ctx, binding)).To(Succeed())
		Expect(k8sClient.Delete(ctx, getPlan(Default, ns, "bundle"))).To(Succeed())

		Eventually(func(g Gomega) {
			p := getPlan(g, ns, "bundle")
			g.Expect(p.DeletionTimestamp).NotTo(BeNil())
			g.Expect(taskOf(g, p, "delete:config").Failures).To(BeNumerically(">", suiteTolerate), "more failures than the budget tolerates")
			ready := p.Status.Condition(status.ConditionReady)
			g.Expect(ready).NotTo(BeNil())
			g.Expect(ready.Reason).To(Equal(status.ReasonDeleting))
			g.Expect(ready.Message).To(And(ContainSubstring("system:serviceaccount:"+ns+":bundled"), ContainSubstring(`"configmaps"`)))
		}).Should(Succeed())

		binding.ObjectMeta = metav1.ObjectMeta{Namespace: ns, Name: binding.Name}
		Expect(k8sClient.Create(ctx, binding)).To(Succeed())
		Eventually(gone(&execloopv1alpha1.Plan{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "bundle"}})).Should(BeTrue())
		Expect(gone(&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "bundled"}})()).To(BeTrue())
	})

	It("on deletion in a namespace being deleted, still deletes what it applied outside the namespace", func() {
		other := newNamespace()
		createPlan(ns, "spread", execloopv1alpha1.PlanSpec{Tasks: []execloopv1alpha1.PlanTask{
			{Name: "inside", Apply: configMap("inside", nil)},
			{Name: "outside", Apply: configMap("outside", nil, inNamespace(other))},
			{Name: "role", Apply: raw(map[string]any{
				"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": map[string]any{"name": ns + "-spread"},
			})},
		}})
		Eventually(phaseOf(ns, "spread")).Should(Equal(execloopv1alpha1.PlanSucceeded))

		Expect(k8sClient.Delete(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})).To(Succeed())
		Expect(k8sClient.Delete(ctx, getPlan(Default, ns, "spread"))).To(Succeed())
		Eventually(gone(&execloopv1alpha1.Plan{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "spread"}})).Should(BeTrue())
		Expect(gone(&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: other, Name: "outside"}})()).To(BeTrue(), "the object in another namespace")
		Expect(gone(&rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: ns + "-spread"}})()).To(BeTrue(), "the cluster-scoped object")
		// envtest runs no namespace controller: what the namespace takes
		// along is still there, untouched by the cleanup.
		Expect(gone(&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "inside"}})()).To(BeFalse())
	})

	It("on deletion in a namespace being deleted, names in an event on the object what it may no longer delete", func() {
		other := newNamespace()
		serviceAccountIn(ns, "leaver")
		role := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: other, Name: "leaver"},
			Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"get", "list", "watch", "create", "patch", "delete"}}}}
		binding := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Namespace: other, Name: "leaver"},
			RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "leaver"},
			Subjects: []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: ns, Name: "leaver"}}}
		Expect(k8sClient.Create(ctx, role)).To(Succeed())
		Expect(k8sClient.Create(ctx, binding)).To(Succeed())
		createPlan(ns, "leaves", execloopv1alpha1.PlanSpec{ServiceAccountName: "leaver", Tasks: []execloopv1alpha1.PlanTask{
			{Name: "outside", Apply: configMap("kept", nil, inNamespace(other))},
		}})
		Eventually(phaseOf(ns, "leaves")).Should(Equal(execloopv1alpha1.PlanSucceeded))

		// The binding goes first, as with the namespace's own bindings; wait
		// until the API server denies, or the cleanup could still delete.
		Expect(k8sClient.Delete(ctx, binding)).To(Succeed())
		leaver := identityOf(ns, "leaver")
		Eventually(func() bool {
			_, err := leaver.Dynamic().Resource(corev1.SchemeGroupVersion.WithResource("configmaps")).Namespace(other).Get(ctx, "kept", metav1.GetOptions{})
			return apierrors.IsForbidden(err)
		}).Should(BeTrue())
		Expect(k8sClient.Delete(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})).To(Succeed())
		Expect(k8sClient.Delete(ctx, getPlan(Default, ns, "leaves"))).To(Succeed())

		Eventually(gone(&execloopv1alpha1.Plan{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "leaves"}})).Should(BeTrue())
		Expect(gone(&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: other, Name: "kept"}})()).To(BeFalse(), "the object it may not delete")
		Eventually(func(g Gomega) {
			var list eventsv1.EventList
			g.Expect(k8sClient.List(ctx, &list, client.InNamespace(other))).To(Succeed())
			var notes []string
			for _, e := range list.Items {
				if e.Reason == "CleanupLeftBehind" && e.Regarding.Kind == "ConfigMap" && e.Regarding.Name == "kept" &&
					e.Related != nil && e.Related.Kind == "Plan" && e.Related.Name == "leaves" {
					notes = append(notes, e.Note)
				}
			}
			g.Expect(notes).To(ContainElement(And(ContainSubstring("ConfigMap "+other+"/kept"), ContainSubstring("Plan "+ns+"/leaves"), ContainSubstring("forbidden"))))
		}).Should(Succeed())
	})
})
