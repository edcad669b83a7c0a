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
	"path/filepath"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	execloopv1alpha1 "github.com/execloop/execloop/api/v1alpha1"
	"github.com/execloop/execloop/execloop/reconciler/status"
	"github.com/execloop/execloop/internal/manifest"
	"github.com/execloop/execloop/internal/planrun"
)

// namespacePatch is a patch task, label-ns, setting label key=value on
// Namespace name.
func namespacePatch(name, key, value string) execloopv1alpha1.PlanTask {
	return execloopv1alpha1.PlanTask{Name: "label-ns", Patch: raw(map[string]any{
		"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": name, "labels": map[string]any{key: value}},
	})}
}

// labelsOf returns the labels of Namespace name, failing the poll while it
// is not there.
func labelsOf(name string) func(Gomega) map[string]string {
	return func(g Gomega) map[string]string {
		ns := &corev1.Namespace{}
		g.Expect(k8sClient.Get(ctx, client.ObjectKey{Name: name}, ns)).To(Succeed())
		return ns.Labels
	}
}

// sharedNamespace returns a name for a Namespace that a spec creates, as
// someone other than the Plan, and deletes when it ends.
func sharedNamespace() string {
	name := "shared-" + newNamespace() // unique: a Namespace of that name exists
	DeferCleanup(func() {
		_ = k8sClient.Delete(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}})
	})
	return name
}

// createNamespace creates Namespace name with labels, as the spec (someone
// other than the Plan).
func createNamespace(name string, labels map[string]string) {
	GinkgoHelper()
	Expect(k8sClient.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}})).To(Succeed())
}

var _ = Describe("A patch task", func() {
	It("waits, spending no error, for an object it never creates, then sets its field once someone creates it", func() {
		ns, shared := newNamespace(), sharedNamespace()
		createPlan(ns, "label", execloopv1alpha1.PlanSpec{Tasks: []execloopv1alpha1.PlanTask{namespacePatch(shared, "team-a/enabled", "true")}})

		Eventually(func(g Gomega) {
			p := getPlan(g, ns, "label")
			t := taskOf(g, p, "label-ns")
			g.Expect(t.State).To(Equal(status.TaskInProgress))
			g.Expect(t.Message).To(ContainSubstring("Namespace " + shared))
			g.Expect(t.Message).To(ContainSubstring("a patch never creates it"))
			g.Expect(p.Status.Errors).To(BeZero())
		}).Should(Succeed())
		Consistently(func() bool {
			return k8sClient.Get(ctx, client.ObjectKey{Name: shared}, &corev1.Namespace{}) == nil
		}, "2s").Should(BeFalse(), "the patch created the Namespace")

		createNamespace(shared, map[string]string{"owner": "platform"})
		Eventually(labelsOf(shared)).Should(HaveKeyWithValue("team-a/enabled", "true"))
		Eventually(phaseOf(ns, "label")).Should(Equal(execloopv1alpha1.PlanSucceeded))

		got := labelsOf(shared)(Default)
		Expect(got).To(HaveKeyWithValue("owner", "platform"))
		Expect(got).NotTo(HaveKey(planrun.PlanUIDLabel), "a patch adds no label of the plan")
		live := &corev1.Namespace{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Name: shared}, live)).To(Succeed())
		Expect(live.Annotations).NotTo(HaveKey(planrun.PlanAnnotation))
		Expect(live.OwnerReferences).To(BeEmpty())
		p := getPlan(Default, ns, "label")
		Expect(p.Status.Objects).To(ConsistOf(And(HaveField("Name", shared), HaveField("Patched", true))))
	})

	It("gives its field up when the task is removed, and leaves the other labels and the object", func() {
		ns, shared := newNamespace(), sharedNamespace()
		createNamespace(shared, map[string]string{"owner": "platform"})
		p := createPlan(ns, "label", execloopv1alpha1.PlanSpec{Tasks: []execloopv1alpha1.PlanTask{
			namespacePatch(shared, "team-a/enabled", "true"),
			{Name: "config", Apply: configMap("config", map[string]any{"a": "1"})},
		}})
		Eventually(phaseOf(ns, "label")).Should(Equal(execloopv1alpha1.PlanSucceeded))
		Expect(labelsOf(shared)(Default)).To(HaveKeyWithValue("team-a/enabled", "true"))

		Eventually(func(g Gomega) {
			g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(p), p)).To(Succeed())
			p.Spec.Tasks = p.Spec.Tasks[1:]
			g.Expect(k8sClient.Update(ctx, p)).To(Succeed())
		}).Should(Succeed())
		Eventually(labelsOf(shared)).ShouldNot(HaveKey("team-a/enabled"))
		Eventually(func(g Gomega) []execloopv1alpha1.AppliedObject { return getPlan(g, ns, "label").Status.Objects }).
			Should(ConsistOf(HaveField("Name", "config")))
		Expect(labelsOf(shared)(Default)).To(HaveKeyWithValue("owner", "platform"))
	})

	It("gives its field up when the plan is deleted, and leaves the other labels and the object", func() {
		ns, shared := newNamespace(), sharedNamespace()
		createNamespace(shared, map[string]string{"owner": "platform"})
		p := createPlan(ns, "label", execloopv1alpha1.PlanSpec{
			DeletionPolicy: execloopv1alpha1.DeletionPolicyOrphan, // a patch's fields go all the same
			Tasks:          []execloopv1alpha1.PlanTask{namespacePatch(shared, "team-a/enabled", "true")},
		})
		Eventually(labelsOf(shared)).Should(HaveKeyWithValue("team-a/enabled", "true"))

		Expect(k8sClient.Delete(ctx, p)).To(Succeed())
		Eventually(func() bool {
			return k8sClient.Get(ctx, client.ObjectKeyFromObject(p), &execloopv1alpha1.Plan{}) != nil
		}).Should(BeTrue(), "the Plan is gone")
		got := labelsOf(shared)(Default)
		Expect(got).NotTo(HaveKey("team-a/enabled"))
		Expect(got).To(HaveKeyWithValue("owner", "platform"))
	})

	It("keeps the value of a field another manager set too", func() {
		ns, shared := newNamespace(), sharedNamespace()
		createNamespace(shared, map[string]string{"team-a/enabled": "true"}) // set by its creator, as the patch sets it
		p := createPlan(ns, "label", execloopv1alpha1.PlanSpec{Tasks: []execloopv1alpha1.PlanTask{namespacePatch(shared, "team-a/enabled", "true")}})
		Eventually(phaseOf(ns, "label")).Should(Equal(execloopv1alpha1.PlanSucceeded))

		Expect(k8sClient.Delete(ctx, p)).To(Succeed())
		Eventually(func() bool {
			return k8sClient.Get(ctx, client.ObjectKeyFromObject(p), &execloopv1alpha1.Plan{}) != nil
		}).Should(BeTrue(), "the Plan is gone")
		Expect(labelsOf(shared)(Default)).To(HaveKeyWithValue("team-a/enabled", "true"))
	})

	It("sets its field again when another field manager changes it", func() {
		ns, shared := newNamespace(), sharedNamespace()
		createNamespace(shared, nil)
		createPlan(ns, "label", execloopv1alpha1.PlanSpec{Tasks: []execloopv1alpha1.PlanTask{namespacePatch(shared, "team-a/enabled", "true")}})
		Eventually(phaseOf(ns, "label")).Should(Equal(execloopv1alpha1.PlanSucceeded))

		live := &corev1.Namespace{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Name: shared}, live)).To(Succeed())
		live.Labels["team-a/enabled"] = "false"
		Expect(k8sClient.Update(ctx, live, client.FieldOwner("someone-else"))).To(Succeed())
		Eventually(labelsOf(shared)).Should(HaveKeyWithValue("team-a/enabled", "true"))
	})

	It("lets two plans patch different labels of one object, each keeping its own", func() {
		ns, shared := newNamespace(), sharedNamespace()
		createNamespace(shared, nil)
		createPlan(ns, "team-a", execloopv1alpha1.PlanSpec{Tasks: []execloopv1alpha1.PlanTask{namespacePatch(shared, "team-a/enabled", "true")}})
		createPlan(ns, "team-b", execloopv1alpha1.PlanSpec{Tasks: []execloopv1alpha1.PlanTask{namespacePatch(shared, "team-b/enabled", "yes")}})
		Eventually(phaseOf(ns, "team-a")).Should(Equal(execloopv1alpha1.PlanSucceeded))
		Eventually(phaseOf(ns, "team-b")).Should(Equal(execloopv1alpha1.PlanSucceeded))
		Eventually(labelsOf(shared)).Should(And(HaveKeyWithValue("team-a/enabled", "true"), HaveKeyWithValue("team-b/enabled", "yes")))
		Consistently(labelsOf(shared), "2s").Should(And(HaveKeyWithValue("team-a/enabled", "true"), HaveKeyWithValue("team-b/enabled", "yes")))
	})

	It("converges as its sample shows, and gives the fields up with the Plan", func() {
		objs, err := manifest.ReadFile(filepath.Join("..", "config", "samples", "execloop_v1alpha1_plan_patch.yaml"))
		Expect(err).NotTo(HaveOccurred())
		Expect(objs).To(HaveLen(1))
		ns := newNamespace()
		sample := objs[0]
		sample.SetNamespace(ns)
		Expect(k8sClient.Create(ctx, sample)).To(Succeed())
		Eventually(func(g Gomega) string { return taskOf(g, getPlan(g, ns, sample.GetName()), "label-config").Message }).
			Should(ContainSubstring("a patch never creates it"))

		// The sample Plan web would apply it; someone else does here.
		Expect(k8sClient.Create(ctx, &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web-config", Labels: map[string]string{"app": "web"}},
			Data:       map[string]string{"GREETING": "hello"},
		})).To(Succeed())
		Eventually(phaseOf(ns, sample.GetName())).Should(Equal(execloopv1alpha1.PlanSucceeded))
		cm := getConfigMap(Default, ns, "web-config")
		Expect(cm.Labels).To(HaveKeyWithValue("example.com/team", "web"))
		Expect(cm.Annotations).To(HaveKeyWithValue("example.com/patched-by", ns+"/"+sample.GetName()))

		Expect(k8sClient.Delete(ctx, sample)).To(Succeed())
		Eventually(func(g Gomega) map[string]string { return getConfigMap(g, ns, "web-config").Labels }).
			ShouldNot(HaveKey("example.com/team"))
		cm = getConfigMap(Default, ns, "web-config")
		Expect(cm.Annotations).NotTo(HaveKey("example.com/patched-by"))
		Expect(cm.Labels).To(HaveKeyWithValue("app", "web"))
		Expect(cm.Data).To(HaveKeyWithValue("GREETING", "hello"))
	})

	It("refuses to turn an object it applied into one it patches, and the reverse, naming the task", func() {
		ns, shared := newNamespace(), sharedNamespace()
		createNamespace(shared, nil)
		label := raw(map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": "config", "labels": map[string]any{"x": "y"}}})
		createPlan(ns, "applied", execloopv1alpha1.PlanSpec{Tasks: []execloopv1alpha1.PlanTask{{Name: "config", Apply: label}}})
		createPlan(ns, "patched", execloopv1alpha1.PlanSpec{Tasks: []execloopv1alpha1.PlanTask{namespacePatch(shared, "team-a/enabled", "true")}})
		Eventually(phaseOf(ns, "applied")).Should(Equal(execloopv1alpha1.PlanSucceeded))
		Eventually(phaseOf(ns, "patched")).Should(Equal(execloopv1alpha1.PlanSucceeded))

		switchKind := func(name string, change func(*execloopv1alpha1.PlanTask)) {
			Eventually(func(g Gomega) {
				p := getPlan(g, ns, name)
				change(&p.Spec.Tasks[0])
				g.Expect(k8sClient.Update(ctx, p)).To(Succeed())
			}).Should(Succeed())
		}
		switchKind("applied", func(t *execloopv1alpha1.PlanTask) { t.Patch, t.Apply = t.Apply, nil })
		switchKind("patched", func(t *execloopv1alpha1.PlanTask) { t.Apply, t.Patch = t.Patch, nil })
		Eventually(stalledMessage(ns, "applied")).Should(And(ContainSubstring("task config"), ContainSubstring("cannot go from apply to patch")))
		Eventually(stalledMessage(ns, "patched")).Should(And(ContainSubstring("task label-ns"), ContainSubstring("cannot go from patch to apply")))
		Expect(getConfigMap(Default, ns, "config").Labels).To(HaveKey(planrun.PlanUIDLabel), "the applied object is left as it was")
		Expect(labelsOf(shared)(Default)).NotTo(HaveKey(planrun.PlanUIDLabel), "the patched object is not taken over")
	})

	It("makes a plan that also applies the object it patches invalid, naming both tasks", func() {
		ns := newNamespace()
		createPlan(ns, "both", execloopv1alpha1.PlanSpec{Tasks: []execloopv1alpha1.PlanTask{
			{Name: "config", Apply: configMap("config", map[string]any{"a": "1"})},
			{Name: "label-config", Patch: raw(map[string]any{
				"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": "config", "labels": map[string]any{"x": "y"}},
			})},
		}})
		Eventually(stalledMessage(ns, "both")).Should(And(ContainSubstring("task label-config"), ContainSubstring("task config"), ContainSubstring("one object, one task")))
	})
})
