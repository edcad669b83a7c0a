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

package cli_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/execloop/execloop/internal/cli"
)

// shopDefinition defines the kind Shop, whose every instance applies three
// ConfigMaps (envtest runs no Deployment controller), and sets its status
// field color from the first.
const shopDefinition = `
apiVersion: execloop.dev/v1alpha1
kind: PlanDefinition
metadata: {name: shops.cli.example.com}
spec:
  api:
    group: cli.example.com
    kind: Shop
    plural: shops
    version: v1alpha1
    spec:
      type: object
      properties:
        color: {type: string, default: blue}
    status:
      color: {type: string, value: '${tasks.config.object.data.color}'}
  plan:
    serviceAccountName: deployer
    tasks:
    - name: config
      apply: {apiVersion: v1, kind: ConfigMap, metadata: {name: '${instance.metadata.name}-config'}, data: {color: '${instance.spec.color}'}}
    - name: db
      after: [config]
      apply: {apiVersion: v1, kind: ConfigMap, metadata: {name: '${instance.metadata.name}-db'}, data: {a: b}}
    - name: web
      after: [config, db]
      apply: {apiVersion: v1, kind: ConfigMap, metadata: {name: '${instance.metadata.name}-web'}, data: {a: b}}
`

// shop is the Shop ns/name, as the API server holds it now.
func shop(g Gomega, ns, name string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetAPIVersion("cli.example.com/v1alpha1")
	u.SetKind("Shop")
	g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, u)).To(Succeed())
	return u
}

var _ = Describe("kubectl execloop get of an instance of a PlanDefinition's kind", func() {
	It("shows its task tree, the definition's tasks with the instance's state, named by resource or by kind, and redraws it with --watch", func() {
		ns := namespace("get-instance", "configmaps")
		applyFile(writePlan(ns, shopDefinition))
		DeferCleanup(func() {
			// The instances go first: the definition's Block policy waits for them.
			Expect(client.IgnoreNotFound(k8sClient.Delete(ctx, shopInstance(ns)))).To(Succeed())
		})
		Eventually(func() error { return k8sClient.Create(ctx, shopInstance(ns)) }).Should(Succeed(), "the CRD is served")
		Eventually(func(g Gomega) {
			g.Expect(shop(g, ns, "corner").Object).To(HaveKeyWithValue("status", HaveKeyWithValue("phase", "Succeeded")))
		}).Should(Succeed())

		for _, arg := range []string{"shop/corner", "shops/corner", "shops.cli.example.com/corner", "Shop.cli.example.com/corner"} {
			out, stderr, code := kubectlExecloop(ctx, "get", arg, "-n", ns)
			Expect(stderr).To(BeEmpty(), arg)
			Expect(code).To(Equal(0), arg)
			expectGolden(out, "get-instance", ns)
		}

		By("listing its tasks one under the other for a user who may read the instance but not its definition")
		viewer, err := testEnv.AddUser(envtest.User{Name: "shop-viewer"}, nil)
		Expect(err).NotTo(HaveOccurred())
		viewerConfig, err := viewer.KubeConfig()
		Expect(err).NotTo(HaveOccurred())
		viewerKubeconfig := filepath.Join(GinkgoT().TempDir(), "kubeconfig")
		Expect(os.WriteFile(viewerKubeconfig, viewerConfig, 0o600)).To(Succeed())
		Expect(k8sClient.Create(ctx, &rbacv1.Role{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "shop-viewer"},
			Rules:      []rbacv1.PolicyRule{{APIGroups: []string{"cli.example.com"}, Resources: []string{"shops"}, Verbs: []string{"get", "list", "watch"}}},
		})).To(Succeed())
		Expect(k8sClient.Create(ctx, &rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "shop-viewer"},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "shop-viewer"},
			Subjects:   []rbacv1.Subject{{Kind: rbacv1.UserKind, Name: "shop-viewer"}},
		})).To(Succeed())
		var out, errOut syncBuffer
		viewerCode := cli.Run(ctx, []string{"--kubeconfig", viewerKubeconfig, "get", "shop/corner", "-n", ns},
			genericiooptions.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut})
		Expect(errOut.String()).To(BeEmpty())
		Expect(viewerCode).To(Equal(0))
		expectGolden(out.String(), "get-instance-flat", ns)

		By("refusing what is neither a Plan nor an instance, and an instance that does not exist")
		_, stderr, code := kubectlExecloop(ctx, "get", "configmap/corner-config", "-n", ns)
		Expect(code).To(Equal(2))
		Expect(stderr).To(ContainSubstring("ConfigMap is not a Plan nor the kind of a PlanDefinition"))
		_, stderr, code = kubectlExecloop(ctx, "get", "shop/nowhere", "-n", ns)
		Expect(code).To(Equal(2))
		Expect(stderr).To(ContainSubstring(`"nowhere" not found`))

		By("redrawing with --watch as the instance's status changes")
		watchCtx, stop := context.WithCancel(ctx)
		defer stop()
		var watched syncBuffer
		watchDone := make(chan int)
		go func() {
			defer GinkgoRecover()
			watchDone <- cli.Run(watchCtx, []string{"--kubeconfig", kubeconfig, "get", "shop/corner", "-n", ns, "--watch"},
				genericiooptions.IOStreams{In: strings.NewReader(""), Out: &watched, ErrOut: GinkgoWriter})
		}()
		Eventually(watched.String).Should(ContainSubstring("Shop " + ns + "/corner  Succeeded  3/3"))
		Expect(k8sClient.Patch(ctx, shopInstance(ns), client.RawPatch(types.MergePatchType, []byte(`{"spec":{"color":"red"}}`)))).To(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(shop(g, ns, "corner").Object).To(HaveKeyWithValue("status", HaveKeyWithValue("color", "red")))
		}).Should(Succeed())
		Eventually(func() int { return strings.Count(watched.String(), "Shop "+ns+"/corner") }).Should(BeNumerically(">", 1), "one drawing per change")
		stop()
		Eventually(watchDone).Should(Receive(Equal(0)))
		drawings := strings.Split(strings.TrimSpace(watched.String()), "\n\n")
		Expect(drawings[len(drawings)-1]).To(HavePrefix("Shop " + ns + "/corner  Succeeded  3/3"))
	})
})

// shopInstance is the Shop corner of ns, with no spec: its color defaults.
func shopInstance(ns string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{"spec": map[string]any{}}}
	u.SetAPIVersion("cli.example.com/v1alpha1")
	u.SetKind("Shop")
	u.SetNamespace(ns)
	u.SetName("corner")
	return u
}
