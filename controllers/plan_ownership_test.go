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
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	execloopv1alpha1 "github.com/execloop/execloop/api/v1alpha1"
	"github.com/execloop/execloop/execloop/reconciler/status"
)

// inventoryNames lists the names of the objects in a Plan's inventory.
func inventoryNames(p *execloopv1alpha1.Plan) []string {
	var names []string
	for _, o := range p.Status.Objects {
		names = append(names, o.Name)
	}
	return names
}

// entry returns the inventory entry of the object named name.
func entry(g Gomega, p *execloopv1alpha1.Plan, name string) execloopv1alpha1.AppliedObject {
	for _, o := range p.Status.Objects {
		if o.Name == name {
			return o
		}
	}
	g.Expect(inventoryNames(p)).To(ContainElement(name), "the inventory of Plan %s", p.Name)
	return execloopv1alpha1.AppliedObject{}
}

var _ = Describe("The Plan controller, on what a Plan owns", func() {
	var ns string
	BeforeEach(func() { ns = newNamespace() })

	// handmade makes a ConfigMap by hand, with the key the plans apply: a
	// forced apply takes that field over, so the hand's field manager may
	// be gone from the object afterwards; only a read before the apply can
	// tell it was there.
	handmade := func(name string) {
		GinkgoHelper()
		Expect(k8sClient.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Data: map[string]string{"a": "someone's"}})).To(Succeed())
	}

	It("releases, rather than deletes, an object it found there; deletes it under adoptionPolicy Delete; refuses it under Refuse", func() {
		handmade("found")
		handmade("found-deleted")
		handmade("found-changed")
		handmade("found-refused")
		createPlan(ns, "adopter", execloopv1alpha1.PlanSpec{Tasks: []execloopv1alpha1.PlanTask{
			{Name: "fresh", Apply: configMap("fresh", map[string]any{"a": "b"})},
			{Name: "remade", Apply: configMap("remade", map[string]any{"a": "b"})},
			{Name: "found", Apply: configMap("found", map[string]any{"a": "b"})},
			{Name: "found-deleted", AdoptionPolicy: execloopv1alpha1.AdoptionDelete, Apply: configMap("found-deleted", map[string]any{"a": "b"})},
			{Name: "found-changed", AdoptionPolicy: execloopv1alpha1.AdoptionDelete, Apply: configMap("found-changed", map[string]any{"a": "b"})},
		}})
		createPlan(ns, "refuser", execloopv1alpha1.PlanSpec{AdoptionPolicy: execloopv1alpha1.AdoptionRefuse, Tasks: []execloopv1alpha1.PlanTask{
			{Name: "found-refused", Apply: configMap("found-refused", map[string]any{"a": "b"})},
			{Name: "remade-refused", Apply: configMap("remade-refused", map[string]any{"a": "b"})},
		}})

		Eventually(phaseOf(ns, "adopter")).Should(Equal(execloopv1alpha1.PlanSucceeded))
		Eventually(func(g Gomega) {
			p := getPlan(g, ns, "adopter")
			g.Expect(entry(g, p, "fresh")).To(And(HaveField("Adopted", false), HaveField("Release", false)))
			g.Expect(entry(g, p, "found")).To(And(HaveField("Adopted", true), HaveField("Release", true)))
			g.Expect(entry(g, p, "found-deleted")).To(And(HaveField("Adopted", true), HaveField("Release", false)))
		}).Should(Succeed())
		for _, c := range []string{"found", "found-deleted"} {
			Expect(getConfigMap(Default, ns, c).OwnerReferences).To(BeEmpty(), "%s: no owner reference on what the plan did not create", c)
		}
		Eventually(func(g Gomega) {
			t := taskOf(g, getPlan(g, ns, "refuser"), "found-refused")
			g.Expect(t.State).To(Equal(status.TaskFailed))
			g.Expect(t.Message).To(And(ContainSubstring("ConfigMap "+ns+"/found-refused is already there, managed by "), ContainSubstring("adoptionPolicy Refuse on task found-refused")))
		}).Should(Succeed())
		refused := getConfigMap(Default, ns, "found-refused")
		Expect(refused.Data).To(Equal(map[string]string{"a": "someone's"}), "Refuse applies nothing")
		Expect(refused.Labels).NotTo(HaveKey(PlanUIDLabel))

		// Someone deletes an object the plan made and makes it again by
		// hand: it is theirs now, adopted (and released) under Release,
		// refused under Refuse.
		// The plans are suspended meanwhile, so that neither repairs the
		// deletion before the hand makes the object again.
		suspend := func(plan string, on bool) {
			Eventually(func(g Gomega) {
				p := getPlan(g, ns, plan)
				p.Spec.Suspend = on
				g.Expect(k8sClient.Update(ctx, p)).To(Succeed())
			}).Should(Succeed())
			if on {
				Eventually(phaseOf(ns, plan)).Should(Equal(execloopv1alpha1.PlanSuspended))
			}
		}
		Eventually(func() bool {
			return gone(&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "remade-refused"}})()
		}).Should(BeFalse())
		suspend("adopter", true)
		suspend("refuser", true)
		for _, name := range []string{"remade", "remade-refused"} {
			Expect(k8sClient.Delete(ctx, getConfigMap(Default, ns, name))).To(Succeed())
			Eventually(gone(&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}})).Should(BeTrue())
			handmade(name)
		}
		suspend("adopter", false)
		suspend("refuser", false)
		Eventually(func(g Gomega) {
			g.Expect(entry(g, getPlan(g, ns, "adopter"), "remade")).To(And(HaveField("Adopted", true), HaveField("Release", true)))
			t := taskOf(g, getPlan(g, ns, "refuser"), "remade-refused")
			g.Expect(t.Message).To(ContainSubstring("ConfigMap " + ns + "/remade-refused is already there"))
		}).Should(Succeed())
		Expect(getConfigMap(Default, ns, "remade-refused").Data).To(Equal(map[string]string{"a": "someone's"}))

		// The policy changed to Release after the object was adopted.
		Eventually(func(g Gomega) {
			p := getPlan(g, ns, "adopter")
			p.Spec.Tasks[4].AdoptionPolicy = execloopv1alpha1.AdoptionRelease
			g.Expect(k8sClient.Update(ctx, p)).To(Succeed())
		}).Should(Succeed())
		Eventually(func(g Gomega) {
			p := getPlan(g, ns, "adopter")
			g.Expect(p.Status.IsReady(p.Generation)).To(BeTrue())
			g.Expect(entry(g, p, "found-changed")).To(HaveField("Release", true))
		}).Should(Succeed())

		Expect(k8sClient.Delete(ctx, getPlan(Default, ns, "adopter"))).To(Succeed())
		Eventually(gone(&execloopv1alpha1.Plan{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "adopter"}})).Should(BeTrue())
		Expect(gone(&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "fresh"}})()).To(BeTrue(), "what it created is deleted")
		Expect(gone(&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "found-deleted"}})()).To(BeTrue(), "adoptionPolicy Delete")
		for _, name := range []string{"found", "found-changed", "remade"} {
			c := getConfigMap(Default, ns, name)
			Expect(c.Labels).NotTo(HaveKey(PlanUIDLabel), "%s released", name)
			Expect(c.Annotations).NotTo(HaveKey(PlanAnnotation), "%s released", name)
			Expect(c.OwnerReferences).To(BeEmpty(), "%s released", name)
		}
	})

	It("adopts or refuses an object made by hand where the watch of the plans' objects runs already, which does not hold it", func() {
		// The first plan starts the watch of ConfigMaps in ns; the next
		// plan finds its objects absent from that cache, which holds the
		// plans' objects only. Whether someone else made one, the
		// metadata-only watch of every ConfigMap there says once it has
		// synced (watch_existence.go), so this waits for it: then no object is
		// read before its first apply, and the hand-made ones must still
		// be adopted or refused.
		first := createPlan(ns, "first", execloopv1alpha1.PlanSpec{Tasks: []execloopv1alpha1.PlanTask{
			{Name: "one", Apply: configMap("one", map[string]any{"a": "b"})},
		}})
		Eventually(phaseOf(ns, "first")).Should(Equal(execloopv1alpha1.PlanSucceeded))
		Eventually(func() []string { return planReconciler.watcher.resources(ns) }).Should(ContainElement("configmaps"))
		id, err := planReconciler.identities.ForPlan(first, "")
		Expect(err).NotTo(HaveOccurred())
		mapping, err := planReconciler.identities.Mapper().RESTMapping(schema.GroupKind{Kind: "ConfigMap"}, "v1")
		Expect(err).NotTo(HaveOccurred())
		Eventually(func() bool {
			return planReconciler.watcher.Absent(ctx, client.ObjectKeyFromObject(first), id, mapping, client.ObjectKey{Namespace: ns, Name: "nothing"})
		}).Should(BeTrue(), "the existence watch synced")
		handmade("late")
		handmade("late-refused")
		// Made with the very value the plan applies: no field conflicts.
		Expect(k8sClient.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "late-same"}, Data: map[string]string{"a": "b"}})).To(Succeed())
		for _, name := range []string{"late", "late-refused", "late-same"} {
			Eventually(func() bool {
				return planReconciler.watcher.Absent(ctx, client.ObjectKeyFromObject(first), id, mapping, client.ObjectKey{Namespace: ns, Name: name})
			}).Should(BeFalse(), "the existence watch has seen %s", name)
		}
		createPlan(ns, "second", execloopv1alpha1.PlanSpec{Tasks: []execloopv1alpha1.PlanTask{
			{Name: "late", Apply: configMap("late", map[string]any{"a": "b"})},
			{Name: "late-same", Apply: configMap("late-same", map[string]any{"a": "b"})},
			{Name: "new", Apply: configMap("new", map[string]any{"a": "b"})},
			{Name: "late-refused", AdoptionPolicy: execloopv1alpha1.AdoptionRefuse, Apply: configMap("late-refused", map[string]any{"a": "b"})},
		}})
		Eventually(func(g Gomega) {
			p := getPlan(g, ns, "second")
			g.Expect(entry(g, p, "late")).To(And(HaveField("Adopted", true), HaveField("Release", true)))
			g.Expect(entry(g, p, "late-same")).To(And(HaveField("Adopted", true), HaveField("Release", true)))
			g.Expect(entry(g, p, "new")).To(HaveField("Adopted", false))
			t := taskOf(g, p, "late-refused")
			g.Expect(t.State).To(Equal(status.TaskFailed))
			g.Expect(t.Message).To(ContainSubstring("ConfigMap " + ns + "/late-refused is already there"))
		}).Should(Succeed())
		for _, c := range []string{"late", "late-same"} {
			Expect(getConfigMap(Default, ns, c).OwnerReferences).To(BeEmpty(), "%s: no owner reference on what the plan did not create", c)
		}
		Expect(getConfigMap(Default, ns, "new").OwnerReferences).To(HaveLen(1), "what it created is the Plan's")
		refused := getConfigMap(Default, ns, "late-refused")
		Expect(refused.Data).To(Equal(map[string]string{"a": "someone's"}), "Refuse applies nothing")
		Expect(refused.Labels).NotTo(HaveKey(PlanUIDLabel))
	})

	It("prunes the old object of a task that names another one, however long that takes, and loses neither entry", func() {
		createPlan(ns, "repoint", execloopv1alpha1.PlanSpec{Tasks: []execloopv1alpha1.PlanTask{
			{Name: "config", Apply: configMap("old", map[string]any{"a": "b"})},
		}})
		Eventually(phaseOf(ns, "repoint")).Should(Equal(execloopv1alpha1.PlanSucceeded))
		const hold = "test.execloop.dev/hold"
		Eventually(func(g Gomega) {
			c := getConfigMap(g, ns, "old")
			controllerutil.AddFinalizer(c, hold)
			g.Expect(k8sClient.Update(ctx, c)).To(Succeed())
		}).Should(Succeed())

		Eventually(func(g Gomega) {
			p := getPlan(g, ns, "repoint")
			p.Spec.Tasks[0].Apply = configMap("new", map[string]any{"a": "b"})
			g.Expect(k8sClient.Update(ctx, p)).To(Succeed())
		}).Should(Succeed())
		// Passes go on while the finalizer holds the old object: both
		// entries stay through several of them.
		var passes []metav1.Time
		Eventually(func(g Gomega) {
			p := getPlan(g, ns, "repoint")
			g.Expect(inventoryNames(p)).To(ConsistOf("old", "new"))
			g.Expect(getConfigMap(g, ns, "old").DeletionTimestamp).NotTo(BeNil())
			g.Expect(taskOf(g, p, "prune:config").Message).To(ContainSubstring("held by the finalizers " + hold))
			if last := p.Status.LastPassTime; last != nil && (len(passes) == 0 || !last.Equal(&passes[len(passes)-1])) {
				passes = append(passes, *last)
			}
			g.Expect(passes).To(HaveLen(3))
		}).Should(Succeed())

		Eventually(func(g Gomega) {
			c := getConfigMap(g, ns, "old")
			controllerutil.RemoveFinalizer(c, hold)
			g.Expect(k8sClient.Update(ctx, c)).To(Succeed())
		}).Should(Succeed())
		Eventually(func(g Gomega) {
			p := getPlan(g, ns, "repoint")
			g.Expect(p.Status.IsReady(p.Generation)).To(BeTrue())
			g.Expect(inventoryNames(p)).To(ConsistOf("new"))
		}).Should(Succeed())
		Expect(gone(&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "old"}})()).To(BeTrue())

		Expect(k8sClient.Delete(ctx, getPlan(Default, ns, "repoint"))).To(Succeed())
		Eventually(gone(&execloopv1alpha1.Plan{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "repoint"}})).Should(BeTrue())
		Expect(gone(&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "new"}})()).To(BeTrue(), "nothing it created is left behind")
	})

	It("prunes each old object of a task that named another one twice under a name of its own", func() {
		createPlan(ns, "twice", execloopv1alpha1.PlanSpec{Tasks: []execloopv1alpha1.PlanTask{
			{Name: "config", Apply: configMap("first", map[string]any{"a": "b"})},
		}})
		Eventually(phaseOf(ns, "twice")).Should(Equal(execloopv1alpha1.PlanSucceeded))
		const hold = "test.execloop.dev/hold"
		holdOn := func(name string, on bool) {
			Eventually(func(g Gomega) {
				c := getConfigMap(g, ns, name)
				if on {
					controllerutil.AddFinalizer(c, hold)
				} else {
					controllerutil.RemoveFinalizer(c, hold)
				}
				g.Expect(k8sClient.Update(ctx, c)).To(Succeed())
			}).Should(Succeed())
		}
		repoint := func(name string) {
			Eventually(func(g Gomega) {
				p := getPlan(g, ns, "twice")
				p.Spec.Tasks[0].Apply = configMap(name, map[string]any{"a": "b"})
				g.Expect(k8sClient.Update(ctx, p)).To(Succeed())
			}).Should(Succeed())
		}
		holdOn("first", true)
		repoint("second")
		Eventually(func(g Gomega) {
			p := getPlan(g, ns, "twice")
			g.Expect(inventoryNames(p)).To(ConsistOf("first", "second"))
			g.Expect(taskOf(g, p, "prune:config").Message).To(ContainSubstring("held by the finalizers " + hold))
		}).Should(Succeed())
		holdOn("second", true)
		repoint("third")

		// Two prunes wait, each with its own status.
		Eventually(func(g Gomega) {
			p := getPlan(g, ns, "twice")
			g.Expect(inventoryNames(p)).To(ConsistOf("first", "second", "third"))
			for _, old := range []string{"first", "second"} {
				t := taskOf(g, p, "prune:config/ConfigMap/"+ns+"/"+old)
				g.Expect(t.State).To(Equal(status.TaskInProgress))
				g.Expect(t.Message).To(ContainSubstring("ConfigMap " + ns + "/" + old + " to be deleted (held by the finalizers " + hold))
			}
		}).Should(Succeed())

		holdOn("first", false)
		holdOn("second", false)
		Eventually(func(g Gomega) {
			p := getPlan(g, ns, "twice")
			g.Expect(p.Status.IsReady(p.Generation)).To(BeTrue())
			g.Expect(inventoryNames(p)).To(ConsistOf("third"))
		}).Should(Succeed())
		for _, old := range []string{"first", "second"} {
			Expect(gone(&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: old}})()).To(BeTrue(), old)
		}
	})

	It("deletes in reverse dependency order, after edges added later included, each object once what must go before it is gone", func() {
		createPlan(ns, "ordered", execloopv1alpha1.PlanSpec{Tasks: []execloopv1alpha1.PlanTask{
			{Name: "a", Apply: configMap("a", nil)},
			{Name: "b", Apply: configMap("b", nil)},
		}})
		Eventually(phaseOf(ns, "ordered")).Should(Equal(execloopv1alpha1.PlanSucceeded))
		Eventually(func(g Gomega) {
			p := getPlan(g, ns, "ordered")
			p.Spec.Tasks[0].After = []string{"b"} // a now runs after b: b was applied last, and must go last
			g.Expect(k8sClient.Update(ctx, p)).To(Succeed())
		}).Should(Succeed())
		Eventually(func(g Gomega) {
			p := getPlan(g, ns, "ordered")
			g.Expect(p.Status.IsReady(p.Generation)).To(BeTrue())
		}).Should(Succeed())
		const hold = "test.execloop.dev/hold"
		for _, name := range []string{"a", "b"} {
			Eventually(func(g Gomega) {
				c := getConfigMap(g, ns, name)
				controllerutil.AddFinalizer(c, hold)
				g.Expect(k8sClient.Update(ctx, c)).To(Succeed())
			}).Should(Succeed())
		}
		release := func(name string) {
			Eventually(func(g Gomega) {
				c := getConfigMap(g, ns, name)
				controllerutil.RemoveFinalizer(c, hold)
				g.Expect(k8sClient.Update(ctx, c)).To(Succeed())
			}).Should(Succeed())
		}

		Expect(k8sClient.Delete(ctx, getPlan(Default, ns, "ordered"))).To(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(getConfigMap(g, ns, "a").DeletionTimestamp).NotTo(BeNil(), "a, which runs after b, goes first")
		}).Should(Succeed())
		Expect(getConfigMap(Default, ns, "b").DeletionTimestamp).To(BeNil(), "b waits until a is gone")
		release("a")
		Eventually(func(g Gomega) {
			g.Expect(getConfigMap(g, ns, "b").DeletionTimestamp).NotTo(BeNil())
		}).Should(Succeed())
		release("b")
		Eventually(gone(&execloopv1alpha1.Plan{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "ordered"}})).Should(BeTrue())
	})

	It("deletes, after its Namespace and CRD tasks were renamed, the custom resource and what is in the namespace, then the CRD and the Namespace", func() {
		target := ns + "-owned"
		tasks := func(nsTask, crdTask string) []execloopv1alpha1.PlanTask {
			cr := custom("OrderGadget", "g")
			cr["metadata"].(map[string]any)["namespace"] = target
			return []execloopv1alpha1.PlanTask{
				{Name: nsTask, Apply: raw(map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": target}})},
				{Name: crdTask, Apply: raw(crd("OrderGadget"))},
				// No after: only the rule that a Namespace goes last orders
				// the ConfigMap's deletion before it (applying it fails until
				// the Namespace is there, and is tried again).
				{Name: "config", Apply: configMap("config", nil, inNamespace(target))},
				{Name: "gadget", After: []string{nsTask, crdTask}, Apply: raw(cr)},
			}
		}
		createPlan(ns, "renamed", execloopv1alpha1.PlanSpec{Tasks: tasks("ns", "crd")})
		Eventually(phaseOf(ns, "renamed")).Should(Equal(execloopv1alpha1.PlanSucceeded))
		Eventually(func(g Gomega) {
			p := getPlan(g, ns, "renamed")
			p.Spec.Tasks = tasks("namespace", "definition")
			g.Expect(k8sClient.Update(ctx, p)).To(Succeed())
		}).Should(Succeed())
		Eventually(func(g Gomega) {
			p := getPlan(g, ns, "renamed")
			g.Expect(p.Status.IsReady(p.Generation)).To(BeTrue())
		}).Should(Succeed())

		const hold = "test.execloop.dev/hold"
		object := func(apiVersion, kind string) *unstructured.Unstructured {
			u := &unstructured.Unstructured{}
			u.SetAPIVersion(apiVersion)
			u.SetKind(kind)
			return u
		}
		objects := map[string]client.Object{
			"gadget":    object("recovery.example.com/v1", "OrderGadget"),
			"config":    &corev1.ConfigMap{},
			"namespace": &corev1.Namespace{},
			"crd":       object("apiextensions.k8s.io/v1", "CustomResourceDefinition"),
		}
		keys := map[string]client.ObjectKey{
			"gadget": {Namespace: target, Name: "g"}, "config": {Namespace: target, Name: "config"},
			"namespace": {Name: target}, "crd": {Name: "ordergadgets.recovery.example.com"},
		}
		deleting := func(g Gomega, name string) bool {
			obj := objects[name]
			err := k8sClient.Get(ctx, keys[name], obj)
			if apierrors.IsNotFound(err) {
				return true
			}
			g.Expect(err).NotTo(HaveOccurred())
			return obj.GetDeletionTimestamp() != nil
		}
		setHold := func(name string, on bool) {
			Eventually(func(g Gomega) {
				obj := objects[name]
				g.Expect(k8sClient.Get(ctx, keys[name], obj)).To(Succeed())
				if on {
					controllerutil.AddFinalizer(obj, hold)
				} else {
					controllerutil.RemoveFinalizer(obj, hold)
				}
				g.Expect(k8sClient.Update(ctx, obj)).To(Succeed())
			}).Should(Succeed())
		}
		setHold("gadget", true)
		setHold("config", true)

		Expect(k8sClient.Delete(ctx, getPlan(Default, ns, "renamed"))).To(Succeed())
		Eventually(deleting).WithArguments("gadget").Should(BeTrue(), "the custom resource goes first")
		Eventually(deleting).WithArguments("config").Should(BeTrue(), "and what is in the namespace with it")
		for _, name := range []string{"namespace", "crd"} {
			Expect(deleting(Default, name)).To(BeFalse(), "%s waits for what is in it or made of it", name)
		}
		setHold("gadget", false)
		Eventually(gone(objects["gadget"])).Should(BeTrue())
		for _, name := range []string{"namespace", "crd"} {
			Expect(deleting(Default, name)).To(BeFalse(), "%s goes after everything else: the ConfigMap is still there", name)
		}
		setHold("config", false)
		Eventually(deleting).WithArguments("crd").Should(BeTrue())
		Eventually(deleting).WithArguments("namespace").Should(BeTrue())
		// envtest runs no namespace controller: finish the Namespace's
		// deletion as it would.
		Eventually(func(g Gomega) {
			var n corev1.Namespace
			g.Expect(k8sClient.Get(ctx, keys["namespace"], &n)).To(Succeed())
			n.Spec.Finalizers = nil
			g.Expect(k8sClient.SubResource("finalize").Update(ctx, &n)).To(Succeed())
		}).Should(Succeed())
		Eventually(gone(&execloopv1alpha1.Plan{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "renamed"}})).Should(BeTrue())
	})
})
