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

package e2e

import (
	"os/exec"
	"path/filepath"
	"syscall"

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
	"github.com/execloop/execloop/internal/manifest"
)

// grantWebAppDeployer makes the ServiceAccount the sample definition's
// instances act as, webapp-deployer, in ns, allowed what its tasks do:
// ConfigMaps, Services and Deployments.
func grantWebAppDeployer(ns string) {
	GinkgoHelper()
	const sa = "webapp-deployer"
	verbs := []string{"get", "list", "watch", "create", "update", "patch", "delete"}
	Expect(k8sClient.Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: sa}})).To(Succeed())
	Expect(k8sClient.Create(ctx, &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: sa},
		Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{""}, Resources: []string{"configmaps", "services"}, Verbs: verbs},
			{APIGroups: []string{"apps"}, Resources: []string{"deployments"}, Verbs: verbs},
		},
	})).To(Succeed())
	Expect(k8sClient.Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: sa},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: sa},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: ns, Name: sa}},
	})).To(Succeed())
}

// webApp is the WebApp ns/name of the sample definition, with only its
// identity set.
func webApp(ns, name string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetAPIVersion("platform.example.com/v1alpha1")
	u.SetKind("WebApp")
	u.SetNamespace(ns)
	u.SetName(name)
	return u
}

// webAppStatus is the status of the WebApp ns/name: a Plan's, and its
// declared url.
func webAppStatus(g Gomega, ns, name string) (execloopv1alpha1.PlanStatus, string) {
	u := webApp(ns, name)
	g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(u), u)).To(Succeed())
	raw, _ := u.Object["status"].(map[string]any)
	var st execloopv1alpha1.PlanStatus
	g.Expect(runtime.DefaultUnstructuredConverter.FromUnstructured(raw, &st)).To(Succeed())
	g.Expect(st.ObservedGeneration).To(Equal(u.GetGeneration()), "the status describes the instance as it is")
	url, _ := raw["url"].(string)
	return st, url
}

var _ = Describe("On a real cluster, a PlanDefinition", func() {
	It("serves its kind: the sample's WebApp converges, its Deployment really available and its url set, and its objects go with it", func() {
		ns := newNamespace()
		m := startManager("definition", kubeconfig, "--definition-groups=platform.example.com")
		DeferCleanup(m.kill, syscall.SIGTERM)
		grantWebAppDeployer(ns)

		By("generating the CRD of the sample definition")
		objs, err := manifest.ReadFile(filepath.Join(root, "config", "samples", "execloop_v1alpha1_plandefinition.yaml"))
		Expect(err).NotTo(HaveOccurred())
		Expect(objs).To(HaveLen(1))
		def := objs[0]
		Expect(k8sClient.Create(ctx, def)).To(Succeed())
		// Registered after the manager's kill, it runs before it: the
		// manager carries the deletion policy out.
		DeferCleanup(func() {
			Expect(client.IgnoreNotFound(k8sClient.Delete(ctx, def))).To(Succeed())
			Eventually(gone(&execloopv1alpha1.PlanDefinition{}, "", def.GetName())).Should(BeTrue(), "the definition lets go")
			crd := &metav1.PartialObjectMetadata{}
			crd.SetGroupVersionKind(apiextensionsv1.SchemeGroupVersion.WithKind("CustomResourceDefinition"))
			Eventually(gone(crd, "", def.GetName())).Should(BeTrue(), "its CRD goes with it")
		})
		Eventually(func(g Gomega) *metav1.Condition {
			d := &execloopv1alpha1.PlanDefinition{}
			g.Expect(k8sClient.Get(ctx, client.ObjectKey{Name: def.GetName()}, d)).To(Succeed())
			return meta.FindStatusCondition(d.Status.Conditions, status.ConditionReady)
		}).Should(HaveField("Status", metav1.ConditionTrue))

		By("converging an instance: ConfigMap, Deployment rolled out by the real controllers, Service, url")
		app := webApp(ns, "shop")
		app.Object["spec"] = map[string]any{"image": "registry.example/shop:1"} // replicas defaults to 2
		Eventually(func() error { return k8sClient.Create(ctx, app) }).Should(Succeed(), "the new kind is served")
		svc := &corev1.Service{}
		Eventually(func(g Gomega) {
			st, url := webAppStatus(g, ns, "shop")
			g.Expect(meta.FindStatusCondition(st.Conditions, status.ConditionReady)).To(HaveField("Status", metav1.ConditionTrue))
			g.Expect(st.Phase).To(Equal(execloopv1alpha1.PlanSucceeded))
			g.Expect(st.Progress).To(Equal("3/3"))
			g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "shop"}, svc)).To(Succeed())
			g.Expect(svc.Spec.ClusterIP).NotTo(BeEmpty())
			g.Expect(url).To(Equal("http://" + svc.Spec.ClusterIP))
		}).Should(Succeed())
		d := &appsv1.Deployment{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "shop"}, d)).To(Succeed())
		Expect(d.Status.AvailableReplicas).To(Equal(int32(2)), "Ready waits for the rollout")
		Expect(d.Spec.Template.Spec.Containers).To(ConsistOf(HaveField("Image", "registry.example/shop:1")))
		Expect(gone(&corev1.ConfigMap{}, ns, "shop")()).To(BeFalse())
		pods := &corev1.PodList{}
		Expect(k8sClient.List(ctx, pods, client.InNamespace(ns), client.MatchingLabels{"app": "shop"})).To(Succeed())
		Expect(pods.Items).To(HaveLen(2))
		Expect(pods.Items).To(HaveEach(HaveField("Status.Phase", corev1.PodRunning)), "kwok's node runs them")

		By("showing its task tree with kubectl execloop get")
		get := exec.Command(pluginBin, "--kubeconfig", kubeconfig, "get", "webapp/shop", "-n", ns)
		out, err := get.CombinedOutput()
		Expect(err).NotTo(HaveOccurred(), string(out))
		Expect(string(out)).To(And(
			HavePrefix("WebApp "+ns+"/shop  Succeeded  3/3\n"),
			MatchRegexp(`(?m)^└─ ✓ deploy .* Deployment `+ns+`/shop$`),
			MatchRegexp(`(?m)^   └─ ✓ svc .* Service `+ns+`/shop$`),
		))

		By("deleting the instance: its objects go, and then it does")
		Expect(k8sClient.Delete(ctx, app)).To(Succeed())
		Eventually(gone(webApp(ns, "shop"), ns, "shop")).Should(BeTrue())
		Eventually(gone(&appsv1.Deployment{}, ns, "shop")).Should(BeTrue())
		Eventually(gone(&corev1.Service{}, ns, "shop")).Should(BeTrue())
		Eventually(gone(&corev1.ConfigMap{}, ns, "shop")).Should(BeTrue())
		Eventually(func(g Gomega) []corev1.Pod {
			pods := &corev1.PodList{}
			g.Expect(k8sClient.List(ctx, pods, client.InNamespace(ns), client.MatchingLabels{"app": "shop"})).To(Succeed())
			return pods.Items
		}).Should(BeEmpty(), "the garbage collector removes the Deployment's pods")
	})
})
