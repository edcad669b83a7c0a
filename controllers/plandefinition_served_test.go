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
	"context"
	"strings"
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	eventsv1 "k8s.io/api/events/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/discovery"
	fakediscovery "k8s.io/client-go/discovery/fake"
	clienttesting "k8s.io/client-go/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	execloopv1alpha1 "github.com/execloop/execloop/api/v1alpha1"
	"github.com/execloop/execloop/execloop/reconciler/status"
)

// readyDefinition creates d and waits until its CRD is Established.
func readyDefinition(d *unstructured.Unstructured) {
	GinkgoHelper()
	createDefinition(d)
	Eventually(definitionCondition(d.GetName(), status.ConditionReady)).Should(And(
		HaveField("Status", metav1.ConditionTrue), HaveField("Reason", ReasonEstablished)))
}

// changeDefinition changes the stored definition d with change and
// updates it, again on a conflict with the controller's writes.
func changeDefinition(d *unstructured.Unstructured, change func(d *unstructured.Unstructured)) {
	GinkgoHelper()
	Eventually(func(g Gomega) {
		live := d.DeepCopy()
		g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(d), live)).To(Succeed())
		change(live)
		g.Expect(k8sClient.Update(ctx, live)).To(Succeed())
	}).Should(Succeed())
}

// setSchema sets the field at path of the schema of d's instances' spec.
func setSchema(d *unstructured.Unstructured, value any, path ...string) {
	GinkgoHelper()
	Expect(unstructured.SetNestedField(d.Object, value, append([]string{"spec", "api", "spec"}, path...)...)).To(Succeed())
}

// servedSchema is the schema of the instances' spec that the CRD name
// serves.
func servedSchema(g Gomega, name string) apiextensionsv1.JSONSchemaProps {
	crd := &apiextensionsv1.CustomResourceDefinition{}
	g.Expect(k8sClient.Get(ctx, client.ObjectKey{Name: name}, crd)).To(Succeed())
	g.Expect(crd.Spec.Versions).To(HaveLen(1))
	g.Expect(crd.Spec.Versions[0].Schema).NotTo(BeNil())
	g.Expect(crd.Spec.Versions[0].Schema.OpenAPIV3Schema.Properties).To(HaveKey("spec"))
	return crd.Spec.Versions[0].Schema.OpenAPIV3Schema.Properties["spec"]
}

// createInstance creates u once the API server serves its kind.
func createInstance(u *unstructured.Unstructured) {
	GinkgoHelper()
	Eventually(func() error { return k8sClient.Create(ctx, u) }).Should(Succeed())
}

var _ = Describe("PlanDefinition schema changes and kinds already served", func() {
	It("refuses a breaking change of the instances' schema, leaving the CRD as it was and naming each change and the number of instances; the annotation lets it through, with an event", func() {
		ns := newNamespace()
		d := newDefinition(definitionGroup)
		readyDefinition(d)
		createInstance(instance(d, ns, "one", map[string]any{"image": "nginx"}))
		createInstance(instance(d, ns, "two", map[string]any{"image": "nginx", "replicas": int64(15)}))

		changeDefinition(d, func(d *unstructured.Unstructured) {
			setSchema(d, int64(10), "properties", "replicas", "maximum")
			setSchema(d, map[string]any{"type": "string"}, "properties", "team")
			setSchema(d, []any{"image", "team"}, "required")
		})
		Eventually(definitionCondition(d.GetName(), status.ConditionStalled)).Should(And(
			HaveField("Status", metav1.ConditionTrue),
			HaveField("Reason", ReasonBreakingChange),
			HaveField("Message", And(
				ContainSubstring("CRD "+d.GetName()+", which serves 2 instances"),
				ContainSubstring("spec.replicas: maximum lowered from 20 to 10"),
				ContainSubstring("spec.team: new required field"),
				ContainSubstring(AllowBreakingChangesAnnotation+`: "true"`),
			)),
		))
		Expect(definitionCondition(d.GetName(), status.ConditionReady)(Default)).To(HaveField("Reason", ReasonBreakingChange))
		served := servedSchema(Default, d.GetName())
		Expect(served.Properties["replicas"].Maximum).To(HaveValue(BeNumerically("==", 20)))
		Expect(served.Properties).NotTo(HaveKey("team"))
		Expect(served.Required).To(ConsistOf("image"))

		changeDefinition(d, func(d *unstructured.Unstructured) {
			d.SetAnnotations(map[string]string{AllowBreakingChangesAnnotation: "true"})
		})
		Eventually(func(g Gomega) {
			s := servedSchema(g, d.GetName())
			g.Expect(s.Properties["replicas"].Maximum).To(HaveValue(BeNumerically("==", 10)))
			g.Expect(s.Required).To(ConsistOf("image", "team"))
		}).Should(Succeed())
		Eventually(definitionCondition(d.GetName(), status.ConditionReady)).Should(And(
			HaveField("Status", metav1.ConditionTrue), HaveField("Reason", ReasonEstablished)))
		Eventually(func(g Gomega) []string {
			var list eventsv1.EventList
			g.Expect(k8sClient.List(ctx, &list)).To(Succeed())
			var notes []string
			for _, e := range list.Items {
				if e.Reason == ReasonBreakingChangesApplied && e.Regarding.Name == d.GetName() {
					notes = append(notes, e.Note)
				}
			}
			return notes
		}).Should(ConsistOf(And(
			ContainSubstring("spec.replicas: maximum lowered from 20 to 10"),
			ContainSubstring("spec.team: new required field"),
			ContainSubstring("2 instances"),
		)))
	})

	It("applies a compatible change (a new optional field, a relaxed maximum, a new enum value), and the API server accepts an instance using it", func() {
		ns := newNamespace()
		d := newDefinition(definitionGroup)
		setSchema(d, map[string]any{"type": "string", "enum": []any{"small", "large"}}, "properties", "tier")
		readyDefinition(d)
		createInstance(instance(d, ns, "before", map[string]any{"image": "nginx", "tier": "small"}))

		changeDefinition(d, func(d *unstructured.Unstructured) {
			setSchema(d, int64(50), "properties", "replicas", "maximum")
			setSchema(d, []any{"small", "medium", "large"}, "properties", "tier", "enum")
			setSchema(d, map[string]any{"type": "string"}, "properties", "team")
		})
		Eventually(func(g Gomega) {
			s := servedSchema(g, d.GetName())
			g.Expect(s.Properties["replicas"].Maximum).To(HaveValue(BeNumerically("==", 50)))
			g.Expect(s.Properties).To(HaveKey("team"))
		}).Should(Succeed())
		Eventually(definitionCondition(d.GetName(), status.ConditionReady)).Should(And(
			HaveField("Status", metav1.ConditionTrue), HaveField("Reason", ReasonEstablished)))

		// The API server validates with the new schema a moment after the
		// CRD changed.
		after := instance(d, ns, "after", map[string]any{"image": "nginx", "replicas": int64(30), "tier": "medium", "team": "web"})
		createInstance(after)
		read := after.DeepCopy()
		Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(after), read)).To(Succeed())
		Expect(read.Object["spec"]).To(HaveKeyWithValue("team", "web"), "not pruned")
	})

	It("refuses a kind another CRD of the group already serves, naming that CRD, and generates nothing", func() {
		d := newDefinition(definitionGroup)
		api := apiOf(d)
		otherPlural := "others" + strings.TrimPrefix(api["plural"], "webapp")
		other := createForeignCRD(api["group"], api["kind"], otherPlural)
		disco, err := discovery.NewDiscoveryClientForConfig(cfg)
		Expect(err).NotTo(HaveOccurred())
		Eventually(func(g Gomega) {
			resources, err := disco.ServerResourcesForGroupVersion(api["group"] + "/v1")
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(resources.APIResources).To(ContainElement(HaveField("Name", otherPlural)))
		}).Should(Succeed())
		createDefinition(d)

		Eventually(definitionCondition(d.GetName(), status.ConditionStalled)).Should(And(
			HaveField("Status", metav1.ConditionTrue),
			HaveField("Reason", ReasonKindServed),
			HaveField("Message", And(
				ContainSubstring("CRD "+other.Name+" already serves kind "+api["kind"]),
				ContainSubstring("nothing is generated"),
			)),
		))
		err = k8sClient.Get(ctx, client.ObjectKey{Name: d.GetName()}, &apiextensionsv1.CustomResourceDefinition{})
		Expect(apierrors.IsNotFound(err)).To(BeTrue(), "want no CRD, got %v", err)
	})
})

// TestServedElsewhere: what serves a definition's kind or plural in its
// group, other than its own CRD, is named: a CRD by its name, a resource
// of no CRD as the API server's own.
func TestServedElsewhere(t *testing.T) {
	webapps := &metav1.APIResourceList{GroupVersion: "platform.example.com/v1alpha1", APIResources: []metav1.APIResource{
		{Name: "webapps", Kind: "WebApp"}, {Name: "webapps/status", Kind: "WebApp"},
	}}
	others := &metav1.APIResourceList{GroupVersion: "platform.example.com/v1", APIResources: []metav1.APIResource{
		{Name: "others", Kind: "WebApp"},
	}}
	leases := &metav1.APIResourceList{GroupVersion: "coordination.k8s.io/v1", APIResources: []metav1.APIResource{
		{Name: "leases", Kind: "Lease"},
	}}
	webApp := execloopv1alpha1.DefinitionAPI{Group: "platform.example.com", Kind: "WebApp", Plural: "webapps"}
	crd := func(name string) client.Object {
		return &apiextensionsv1.CustomResourceDefinition{ObjectMeta: metav1.ObjectMeta{Name: name}}
	}
	for _, tc := range []struct {
		name      string
		api       execloopv1alpha1.DefinitionAPI
		own       bool
		resources []*metav1.APIResourceList
		crds      []client.Object
		want      string // "" or a part of the message
	}{
		{"nothing serves the group", webApp, false, []*metav1.APIResourceList{leases}, nil, ""},
		{"the definition's own CRD serves it", webApp, true, []*metav1.APIResourceList{webapps, leases}, []client.Object{crd("webapps.platform.example.com")}, ""},
		{"another CRD serves the kind, in another version",
			webApp, true, []*metav1.APIResourceList{webapps, others}, []client.Object{crd("webapps.platform.example.com"), crd("others.platform.example.com")},
			"CRD others.platform.example.com already serves kind WebApp, resource others, in platform.example.com/v1"},
		{"a CRD that is not the definition's serves the plural",
			webApp, false, []*metav1.APIResourceList{webapps}, []client.Object{crd("webapps.platform.example.com")},
			"CRD webapps.platform.example.com already serves kind WebApp, resource webapps"},
		{"a built-in API serves the kind",
			execloopv1alpha1.DefinitionAPI{Group: "coordination.k8s.io", Kind: "Lease", Plural: "myleases"}, false, []*metav1.APIResourceList{leases}, nil,
			"the API server itself (a built-in or aggregated API, not a CRD) already serves kind Lease, resource leases, in coordination.k8s.io/v1"},
		{"a built-in API serves the plural",
			execloopv1alpha1.DefinitionAPI{Group: "coordination.k8s.io", Kind: "MyLease", Plural: "leases"}, false, []*metav1.APIResourceList{leases}, nil,
			"the API server itself (a built-in or aggregated API, not a CRD) already serves kind Lease, resource leases"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := runtime.NewScheme()
			if err := apiextensionsv1.AddToScheme(s); err != nil {
				t.Fatal(err)
			}
			r := &PlanDefinitionReconciler{
				Discovery: &fakediscovery.FakeDiscovery{Fake: &clienttesting.Fake{Resources: tc.resources}},
				APIReader: fake.NewClientBuilder().WithScheme(s).WithObjects(tc.crds...).Build(),
			}
			got, err := r.servedElsewhere(context.Background(), tc.api, tc.own)
			if err != nil {
				t.Fatal(err)
			}
			if tc.want == "" && got != "" || !strings.Contains(got, tc.want) {
				t.Fatalf("want %q, got %q", tc.want, got)
			}
		})
	}
}
