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

package chart

import (
	"bytes"
	"path/filepath"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"helm.sh/helm/v4/pkg/action"
	"helm.sh/helm/v4/pkg/kube"
	release "helm.sh/helm/v4/pkg/release/v1"
	appsv1 "k8s.io/api/apps/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/execloop/execloop/internal/manifest"
)

// installed reads the objects of a release's manifest.
func installed(r any) []*unstructured.Unstructured {
	rel, ok := r.(*release.Release)
	Expect(ok).To(BeTrue(), "Helm returned a %T", r)
	objs, err := manifest.Read(bytes.NewBufferString(rel.Manifest))
	Expect(err).NotTo(HaveOccurred())
	Expect(objs).NotTo(BeEmpty())
	return objs
}

// exists says whether the object u names is in the cluster.
func exists(u *unstructured.Unstructured) func() (bool, error) {
	return func() (bool, error) {
		live := &unstructured.Unstructured{}
		live.SetGroupVersionKind(u.GroupVersionKind())
		err := k8sClient.Get(ctx, client.ObjectKeyFromObject(u), live)
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		return err == nil, err
	}
}

// allowed asks the API server, as the admin, whether user may do verb on
// the WebApps of group (their subresource, when not empty), in any
// namespace.
func allowed(user, verb, group, subresource string) bool {
	review := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
		User: user,
		ResourceAttributes: &authorizationv1.ResourceAttributes{
			Verb: verb, Group: group, Resource: "webapps", Subresource: subresource,
		},
	}}
	Expect(k8sClient.Create(ctx, review)).To(Succeed())
	return review.Status.Allowed
}

// The CRDs of the chart: what crds/ holds, which Helm installs but never
// upgrades or deletes.
func chartCRDs() []*unstructured.Unstructured {
	files, err := filepath.Glob(filepath.Join(chartPath, "crds", "*.yaml"))
	Expect(err).NotTo(HaveOccurred())
	var crds []*unstructured.Unstructured
	for _, f := range files {
		objs, err := manifest.ReadFile(f)
		Expect(err).NotTo(HaveOccurred())
		crds = append(crds, objs...)
	}
	Expect(crds).NotTo(BeEmpty())
	return crds
}

var _ = Describe("The chart in a control plane", Ordered, func() {
	var objects []*unstructured.Unstructured // what the release installed

	It("installs its CRDs and every object it renders", func() {
		install := action.NewInstall(helm)
		install.ReleaseName, install.Namespace, install.CreateNamespace = releaseName, releaseNamespace, true
		install.WaitStrategy = kube.HookOnlyStrategy // no kubelet here runs the manager's pod
		install.Timeout = 2 * time.Minute
		r, err := install.Run(loadChart(GinkgoT()), nil)
		Expect(err).NotTo(HaveOccurred())
		objects = installed(r)
		for _, u := range objects {
			Expect(exists(u)()).To(BeTrue(), "%s", key(u))
		}
		for _, u := range chartCRDs() {
			crd := &apiextensionsv1.CustomResourceDefinition{}
			Eventually(func(g Gomega) {
				g.Expect(k8sClient.Get(ctx, client.ObjectKey{Name: u.GetName()}, crd)).To(Succeed())
				g.Expect(crd.Status.Conditions).To(ContainElement(And(
					HaveField("Type", apiextensionsv1.Established), HaveField("Status", apiextensionsv1.ConditionTrue))))
			}).Should(Succeed(), "CRD %s is established", u.GetName())
		}
	})

	It("runs the manager as its ServiceAccount: the sample and a tenant's Plan converge and are deleted with nothing but the RBAC it ships", func() {
		runManagerAsServiceAccount(objects)
	})

	It("upgrades to other values", func() {
		upgrade := action.NewUpgrade(helm)
		upgrade.Namespace = releaseNamespace
		upgrade.WaitStrategy = kube.HookOnlyStrategy
		upgrade.Timeout = 2 * time.Minute
		r, err := upgrade.Run(releaseName, loadChart(GinkgoT()), map[string]any{
			"replicas":         2,
			"applierRole":      map[string]any{"enabled": false},
			"manager":          map[string]any{"defaultServiceAccount": "deployer"},
			"definitionGroups": []any{"platform.example.com"},
		})
		Expect(err).NotTo(HaveOccurred())
		upgraded := installed(r)

		d := &appsv1.Deployment{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: releaseNamespace, Name: "execloop-controller-manager"}, d)).To(Succeed())
		Expect(*d.Spec.Replicas).To(Equal(int32(2)))
		Expect(d.Spec.Template.Spec.Containers[0].Args).To(ContainElement("--default-service-account=deployer"))
		for _, u := range objects {
			if u.GetName() == "execloop-applier-role" || u.GetName() == "execloop-applier-rolebinding" {
				Expect(exists(u)()).To(BeFalse(), "%s went with applierRole.enabled=false", key(u))
			}
		}
		Expect(d.Spec.Template.Spec.Containers[0].Args).To(ContainElement("--definition-groups=platform.example.com"))
		Expect(upgraded).To(HaveLen(len(objects)), "the upgrade trades the applier role and its binding for the definition instances' role and its binding")
		objects = upgraded

		By("asking the API server what the manager may do to the instances of the definition groups")
		user := "system:serviceaccount:" + releaseNamespace + ":" + d.Spec.Template.Spec.ServiceAccountName
		for _, verb := range []string{"get", "list", "watch", "update", "patch", "delete"} {
			for _, sub := range []string{"", "status", "finalizers"} {
				Expect(allowed(user, verb, "platform.example.com", sub)).To(BeTrue(), "%s may %s webapps.platform.example.com (subresource %q)", user, verb, sub)
			}
		}
		Expect(allowed(user, "create", "platform.example.com", "")).To(BeFalse(), "instances are their users' to create")
		Expect(allowed(user, "get", "other.example.com", "")).To(BeFalse(), "no group but the listed one")
	})

	It("uninstalls everything but the CRDs", func() {
		uninstall := action.NewUninstall(helm)
		uninstall.WaitStrategy = kube.HookOnlyStrategy
		uninstall.Timeout = 2 * time.Minute
		_, err := uninstall.Run(releaseName)
		Expect(err).NotTo(HaveOccurred())
		for _, u := range objects {
			Eventually(exists(u)).Should(BeFalse(), "%s is gone", key(u))
		}
		for _, u := range chartCRDs() {
			Expect(exists(u)()).To(BeTrue(), "CRD %s stays, as Helm keeps what crds/ installed", u.GetName())
		}
		secrets := &unstructured.UnstructuredList{}
		secrets.SetAPIVersion("v1")
		secrets.SetKind("SecretList")
		Expect(k8sClient.List(ctx, secrets, client.InNamespace(releaseNamespace), client.MatchingLabels{"owner": "helm"})).To(Succeed())
		Expect(secrets.Items).To(BeEmpty(), "no release history is left behind")
	})
})
