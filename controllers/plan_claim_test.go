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
	"strings"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	execloopv1alpha1 "github.com/execloop/execloop/api/v1alpha1"
	"github.com/execloop/execloop/execloop/reconciler/status"
)

var _ = Describe("The Plan controller, when two Plans want one object", func() {
	var ns string
	BeforeEach(func() {
		ns = newNamespace()
		DeferCleanup(applyHooks.off, ns)
	})

	It("lets exactly one of two Plans created together own it, with its values, and fails the other naming the winner, 50 pairs with slow applies", func() {
		const pairs = 50
		// Every apply into ns waits, so that both Plans of a pair have
		// read the object (absent) before either one's apply arrives.
		applyHooks.delay(ns, 300*time.Millisecond)
		for i := range pairs {
			for _, side := range []string{"a", "b"} {
				createPlan(ns, fmt.Sprintf("pair-%d-%s", i, side), execloopv1alpha1.PlanSpec{Tasks: []execloopv1alpha1.PlanTask{
					{Name: "shared", Apply: configMap(fmt.Sprintf("shared-%d", i), map[string]any{"by-" + side: side})},
				}})
			}
		}

		Eventually(func(g Gomega) {
			var plans execloopv1alpha1.PlanList
			g.Expect(k8sClient.List(ctx, &plans, client.InNamespace(ns))).To(Succeed())
			byName := map[string]*execloopv1alpha1.Plan{}
			for i := range plans.Items {
				byName[plans.Items[i].Name] = &plans.Items[i]
			}
			var maps corev1.ConfigMapList
			g.Expect(k8sClient.List(ctx, &maps, client.InNamespace(ns))).To(Succeed())
			byMap := map[string]*corev1.ConfigMap{}
			for i := range maps.Items {
				byMap[maps.Items[i].Name] = &maps.Items[i]
			}
			for i := range pairs {
				a, b := byName[fmt.Sprintf("pair-%d-a", i)], byName[fmt.Sprintf("pair-%d-b", i)]
				g.Expect(a).NotTo(BeNil())
				g.Expect(b).NotTo(BeNil())
				winner, loser, side := a, b, "a"
				if b.Status.Phase == execloopv1alpha1.PlanSucceeded {
					winner, loser, side = b, a, "b"
				}
				g.Expect(winner.Status.Phase).To(Equal(execloopv1alpha1.PlanSucceeded), "pair %d: one Plan is Ready", i)
				g.Expect(loser.Status.Phase).NotTo(Equal(execloopv1alpha1.PlanSucceeded), "pair %d: both Plans are Ready", i)
				lost := taskOf(g, loser, "shared")
				g.Expect(lost.State).To(Equal(status.TaskFailed), "pair %d: the loser's task", i)
				g.Expect(lost.Message).To(ContainSubstring("is managed by another Plan (%s/%s)", ns, winner.Name), "pair %d", i)
				g.Expect(loser.Status.Objects).To(BeEmpty(), "pair %d: the loser applied the object too", i)

				cm := byMap[fmt.Sprintf("shared-%d", i)]
				g.Expect(cm).NotTo(BeNil())
				g.Expect(cm.Labels).To(HaveKeyWithValue(PlanUIDLabel, string(winner.UID)), "pair %d", i)
				g.Expect(cm.Annotations).To(HaveKeyWithValue(PlanAnnotation, ns+"/"+winner.Name), "pair %d", i)
				g.Expect(cm.Data).To(Equal(map[string]string{"by-" + side: side}), "pair %d: the winner's values, and none of the loser's", i)
				g.Expect(cm.OwnerReferences).To(HaveExactElements(HaveField("UID", winner.UID)), "pair %d", i)
			}
		}).WithTimeout(4 * time.Minute).WithPolling(time.Second).Should(Succeed())
	})

	It("reports at its next pass that another Plan took over an object it applied", func() {
		createPlan(ns, "holder", execloopv1alpha1.PlanSpec{Tasks: []execloopv1alpha1.PlanTask{
			{Name: "held", Apply: configMap("held", map[string]any{"a": "b"})},
		}})
		Eventually(phaseOf(ns, "holder")).Should(Equal(execloopv1alpha1.PlanSucceeded))

		// What an apply of another Plan leaves: its label and annotation.
		Eventually(func(g Gomega) {
			cm := getConfigMap(g, ns, "held")
			cm.Labels[PlanUIDLabel] = "00000000-0000-0000-0000-000000000000"
			cm.Annotations[PlanAnnotation] = ns + "/usurper"
			g.Expect(k8sClient.Update(ctx, cm)).To(Succeed())
		}).Should(Succeed())

		// No resync runs in this suite: only a pass that the takeover
		// started notices it.
		Eventually(func(g Gomega) {
			t := taskOf(g, getPlan(g, ns, "holder"), "held")
			g.Expect(t.State).NotTo(Equal(status.TaskSucceeded))
			g.Expect(t.Message).To(ContainSubstring("ConfigMap %s/held is managed by another Plan (%s/usurper)", ns, ns))
		}).Should(Succeed())
	})

	It("follows the adoption policy for an object someone creates between the Plan's read and its apply", func() {
		var once sync.Map
		applyHooks.on(ns, func(path string) {
			name := path[strings.LastIndex(path, "/")+1:]
			if !strings.Contains(path, "/configmaps/") || !strings.HasPrefix(name, "sneaky-") {
				return
			}
			if _, done := once.LoadOrStore(name, true); done {
				return
			}
			defer GinkgoRecover()
			Expect(k8sClient.Create(ctx, &corev1.ConfigMap{
				ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
				Data:       map[string]string{"a": "someone's"},
			})).To(Succeed())
		})
		createPlan(ns, "late", execloopv1alpha1.PlanSpec{Tasks: []execloopv1alpha1.PlanTask{
			{Name: "refused", AdoptionPolicy: execloopv1alpha1.AdoptionRefuse, Apply: configMap("sneaky-refused", map[string]any{"a": "b"})},
			{Name: "adopted", Apply: configMap("sneaky-adopted", map[string]any{"a": "b"})},
		}})

		Eventually(func(g Gomega) {
			p := getPlan(g, ns, "late")
			t := taskOf(g, p, "refused")
			g.Expect(t.State).To(Equal(status.TaskFailed))
			g.Expect(t.Message).To(ContainSubstring("ConfigMap %s/sneaky-refused is already there", ns))
			g.Expect(taskOf(g, p, "adopted").State).To(Equal(status.TaskSucceeded))
			g.Expect(entry(g, p, "sneaky-adopted")).To(And(HaveField("Adopted", true), HaveField("Release", true)))
		}).Should(Succeed())
		refused := getConfigMap(Default, ns, "sneaky-refused")
		Expect(refused.Data).To(Equal(map[string]string{"a": "someone's"}), "Refuse applies nothing")
		Expect(refused.Labels).NotTo(HaveKey(PlanUIDLabel))
		adopted := getConfigMap(Default, ns, "sneaky-adopted")
		Expect(adopted.Data).To(Equal(map[string]string{"a": "b"}))
		Expect(adopted.OwnerReferences).To(BeEmpty(), "no owner reference on what the plan did not create")
	})
})
