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
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	execloopv1alpha1 "github.com/execloop/execloop/api/v1alpha1"
	"github.com/execloop/execloop/execloop/reconciler/status"
	"github.com/execloop/execloop/test/support"
)

// grantWebApp lets ServiceAccount webapp-deployer of ns, which the sample
// definition's tasks act as, do what they do: ConfigMaps, Deployments and
// Services.
func grantWebApp(ns string) {
	GinkgoHelper()
	const sa = "webapp-deployer"
	serviceAccountIn(ns, sa)
	Expect(k8sClient.Create(ctx, &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: sa},
		Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{""}, Resources: []string{"configmaps", "services"}, Verbs: []string{"get", "list", "watch", "create", "update", "patch", "delete"}},
			{APIGroups: []string{"apps"}, Resources: []string{"deployments"}, Verbs: []string{"get", "list", "watch", "create", "update", "patch", "delete"}},
		},
	})).To(Succeed())
	Expect(k8sClient.Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: sa},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: sa},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: ns, Name: sa}},
	})).To(Succeed())
}

// instanceReady is the Ready condition of the instance like u, once it
// describes the instance's generation.
func instanceReady(u *unstructured.Unstructured) func(Gomega) metav1.Condition {
	const t = status.ConditionReady
	return func(g Gomega) metav1.Condition {
		live := readInstance(g, u)
		var st execloopv1alpha1.PlanStatus
		raw, _ := live.Object["status"].(map[string]any)
		g.Expect(runtime.DefaultUnstructuredConverter.FromUnstructured(raw, &st)).To(Succeed())
		c := meta.FindStatusCondition(st.Conditions, t)
		g.Expect(c).NotTo(BeNil(), "no condition %s in %v", t, st.Conditions)
		g.Expect(c.ObservedGeneration).To(Equal(live.GetGeneration()))
		return *c
	}
}

// readInstance reads the instance like u.
func readInstance(g Gomega, u *unstructured.Unstructured) *unstructured.Unstructured {
	live := &unstructured.Unstructured{}
	live.SetGroupVersionKind(u.GroupVersionKind())
	g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(u), live)).To(Succeed())
	return live
}

// statusField is the field of the status of the instance like u.
func statusField(u *unstructured.Unstructured, fields ...string) func(Gomega) any {
	return func(g Gomega) any {
		v, _, _ := unstructured.NestedFieldCopy(readInstance(g, u).Object, append([]string{"status"}, fields...)...)
		return v
	}
}

var _ = Describe("The instances of a PlanDefinition", func() {
	It("are each reconciled as a Plan: their objects, per-task status and declared status fields, Ready; a change of the instance is applied again", func() {
		ns := newNamespace()
		grantWebApp(ns)
		d := newDefinition(definitionGroup)
		readyDefinition(d)
		web := instance(d, ns, "web", map[string]any{"image": "nginx:1"})
		createInstance(web)

		deploy := &appsv1.Deployment{}
		Eventually(func(g Gomega) string {
			g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "web"}, deploy)).To(Succeed())
			return deploy.Spec.Template.Spec.Containers[0].Image
		}).Should(Equal("nginx:1"))
		Expect(*deploy.Spec.Replicas).To(Equal(int32(2)), "the schema's default, read through instance.spec.replicas")
		Expect(deploy.OwnerReferences).To(ContainElement(And(
			HaveField("Kind", apiOf(d)["kind"]), HaveField("Name", "web"))))
		Expect(deploy.Annotations).To(HaveKeyWithValue(PlanAnnotation, ns+"/web"))
		Eventually(support.MakeDeploymentAvailable).WithArguments(ctx, k8sClient, ns, "web").Should(Succeed())

		Eventually(instanceReady(web)).Should(HaveField("Status", metav1.ConditionTrue))
		svc := &corev1.Service{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "web"}, svc)).To(Succeed())
		Eventually(statusField(web, "url")).Should(Equal("http://" + svc.Spec.ClusterIP))
		Eventually(statusField(web, "phase")).Should(Equal(string(execloopv1alpha1.PlanSucceeded)))
		tasks, _ := statusField(web, "tasks")(Default).([]any)
		Expect(tasks).To(HaveLen(3), "one status entry per task")

		live := readInstance(Default, web)
		Expect(unstructured.SetNestedField(live.Object, "nginx:2", "spec", "image")).To(Succeed())
		Expect(k8sClient.Update(ctx, live)).To(Succeed())
		Eventually(func(g Gomega) string {
			g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "web"}, deploy)).To(Succeed())
			return deploy.Spec.Template.Spec.Containers[0].Image
		}).Should(Equal("nginx:2"))

		Eventually(func(g Gomega) int32 {
			def := &execloopv1alpha1.PlanDefinition{}
			g.Expect(k8sClient.Get(ctx, client.ObjectKey{Name: d.GetName()}, def)).To(Succeed())
			return def.Status.Instances
		}).Should(Equal(int32(1)))
	})

	It("act as the definition's ServiceAccount in their namespace: what it may not do is Ready False, naming the verb and the resource, and nothing is applied", func() {
		ns := newNamespace()
		serviceAccountIn(ns, "webapp-deployer") // with no rights
		d := newDefinition(definitionGroup)
		readyDefinition(d)
		web := instance(d, ns, "web", map[string]any{"image": "nginx:1"})
		createInstance(web)

		Eventually(instanceReady(web)).Should(And(
			HaveField("Status", metav1.ConditionFalse),
			HaveField("Message", And(
				ContainSubstring("system:serviceaccount:"+ns+":webapp-deployer"),
				ContainSubstring(`resource "configmaps"`)))))
		Expect(gone(&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web"}})()).To(BeTrue())
		Expect(gone(&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web"}})()).To(BeTrue())
	})

	It("pass again, all of them, when the definition's plan changes, and the definition counts those Ready with it", func() {
		ns := newNamespace()
		grantWebApp(ns)
		d := newDefinition(definitionGroup)
		readyDefinition(d)
		for _, name := range []string{"a", "b"} {
			createInstance(instance(d, ns, name, map[string]any{"image": "nginx:1"}))
			Eventually(support.MakeDeploymentAvailable).WithArguments(ctx, k8sClient, ns, name).Should(Succeed())
		}
		readyCount := func(g Gomega) [2]int32 {
			def := &execloopv1alpha1.PlanDefinition{}
			g.Expect(k8sClient.Get(ctx, client.ObjectKey{Name: d.GetName()}, def)).To(Succeed())
			return [2]int32{def.Status.Instances, def.Status.ReadyInstances}
		}
		Eventually(readyCount).Should(Equal([2]int32{2, 2}))

		changeDefinition(d, func(def *unstructured.Unstructured) {
			tasks, _, _ := unstructured.NestedSlice(def.Object, "spec", "plan", "tasks")
			Expect(unstructured.SetNestedField(tasks[0].(map[string]any), "v2", "apply", "data", "TEMPLATE")).To(Succeed())
			Expect(unstructured.SetNestedSlice(def.Object, tasks, "spec", "plan", "tasks")).To(Succeed())
		})

		for _, name := range []string{"a", "b"} {
			Eventually(func(g Gomega) map[string]string {
				return getConfigMap(g, ns, name).Data
			}).Should(HaveKeyWithValue("TEMPLATE", "v2"))
		}
		Eventually(readyCount).Should(Equal([2]int32{2, 2}))
	})

	It("run a forEach task over a list of the instance's spec: one object per item, named by the instance and the item", func() {
		ns := newNamespace()
		grantWebApp(ns)
		d := newDefinition(definitionGroup)
		Expect(unstructured.SetNestedField(d.Object, map[string]any{
			"type": "object", "required": []any{"regions"},
			"properties": map[string]any{"regions": map[string]any{"type": "array", "items": map[string]any{"type": "string"}}},
		}, "spec", "api", "spec")).To(Succeed())
		unstructured.RemoveNestedField(d.Object, "spec", "api", "status")
		Expect(unstructured.SetNestedSlice(d.Object, []any{map[string]any{
			"name":    "regional",
			"forEach": map[string]any{"region": "${instance.spec.regions}"},
			"apply": map[string]any{
				"apiVersion": "v1", "kind": "ConfigMap",
				"metadata": map[string]any{"name": `${instance.metadata.name + "-" + region}`},
				"data":     map[string]any{"region": "${region}"},
			},
		}}, "spec", "plan", "tasks")).To(Succeed())
		readyDefinition(d)
		shop := instance(d, ns, "shop", map[string]any{"regions": []any{"eu", "us"}})
		createInstance(shop)

		Eventually(instanceReady(shop)).Should(HaveField("Status", metav1.ConditionTrue))
		Expect(getConfigMap(Default, ns, "shop-eu").Data).To(HaveKeyWithValue("region", "eu"))
		Expect(getConfigMap(Default, ns, "shop-us").Data).To(HaveKeyWithValue("region", "us"))
	})

	Describe("when the definition is deleted", func() {
		var ns string
		var d, web *unstructured.Unstructured
		BeforeEach(func() {
			ns = newNamespace()
			grantWebApp(ns)
			d = newDefinition(definitionGroup)
		})
		converged := func(policy string) {
			GinkgoHelper()
			Expect(unstructured.SetNestedField(d.Object, policy, "spec", "deletionPolicy")).To(Succeed())
			readyDefinition(d)
			web = instance(d, ns, "web", map[string]any{"image": "nginx:1"})
			createInstance(web)
			Eventually(support.MakeDeploymentAvailable).WithArguments(ctx, k8sClient, ns, "web").Should(Succeed())
			Eventually(instanceReady(web)).Should(HaveField("Status", metav1.ConditionTrue))
			Expect(k8sClient.Delete(ctx, d)).To(Succeed())
		}
		crdGone := func() bool {
			return gone(&apiextensionsv1.CustomResourceDefinition{ObjectMeta: metav1.ObjectMeta{Name: d.GetName()}})()
		}

		It("Block: waits while instances exist, saying how many, then deletes the CRD", func() {
			converged("Block")
			Eventually(definitionCondition(d.GetName(), status.ConditionReady)).Should(And(
				HaveField("Reason", ReasonInstancesExist),
				HaveField("Message", ContainSubstring("1 instances of "+apiOf(d)["kind"]+" exist"))))
			Consistently(crdGone).Should(BeFalse())
			Expect(k8sClient.Delete(ctx, readInstance(Default, web))).To(Succeed())
			// The instance's cleanup ran: its objects are gone, then it is.
			Eventually(gone(&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web"}})).Should(BeTrue())
			Eventually(gone(d)).Should(BeTrue())
			Eventually(crdGone).Should(BeTrue())
		})

		It("Delete: deletes the instances, whose cleanup runs, then the CRD", func() {
			converged("Delete")
			Eventually(gone(&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web"}})).Should(BeTrue())
			Eventually(gone(d)).Should(BeTrue())
			Eventually(crdGone).Should(BeTrue())
		})

		It("Orphan: leaves the CRD, the instances and their objects, with no finalizer left on an instance", func() {
			converged("Orphan")
			Eventually(gone(d)).Should(BeTrue())
			Expect(crdGone()).To(BeFalse())
			live := readInstance(Default, web)
			Expect(live.GetFinalizers()).To(BeEmpty())
			Expect(gone(&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web"}})()).To(BeFalse())
			// Nobody reconciles it any more, and nothing holds its deletion.
			Expect(k8sClient.Delete(ctx, live)).To(Succeed())
			Eventually(gone(live)).Should(BeTrue())
		})
	})
})
