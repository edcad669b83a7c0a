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
	"encoding/json"
	"os"
	"path/filepath"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	execloopv1alpha1 "github.com/execloop/execloop/api/v1alpha1"
	"github.com/execloop/execloop/execloop/reconciler/status"
)

// regional is a task that applies a ConfigMap cfg-<region> per item of
// list, a CEL list expression.
func regional(list string) execloopv1alpha1.PlanTask {
	return execloopv1alpha1.PlanTask{
		Name:    "regional",
		ForEach: map[string]string{"region": "${" + list + "}"},
		Apply:   configMap(`${"cfg-" + string(region)}`, map[string]any{"region": "${string(region)}"}),
	}
}

// setForEach points the regional task of Plan ns/name at list.
func setForEach(ns, name, list string) {
	GinkgoHelper()
	Eventually(func(g Gomega) {
		p := getPlan(g, ns, name)
		for i := range p.Spec.Tasks {
			if p.Spec.Tasks[i].Name == "regional" {
				p.Spec.Tasks[i].ForEach = map[string]string{"region": "${" + list + "}"}
			}
		}
		g.Expect(k8sClient.Update(ctx, p)).To(Succeed())
	}).Should(Succeed())
}

// succeededForSpec polls until Plan ns/name succeeded for its current
// spec.
func succeededForSpec(ns, name string) {
	GinkgoHelper()
	Eventually(func(g Gomega) {
		p := getPlan(g, ns, name)
		g.Expect(p.Status.ObservedGeneration).To(Equal(p.Generation))
		g.Expect(p.Status.Phase).To(Equal(execloopv1alpha1.PlanSucceeded))
	}).Should(Succeed())
}

// versions are the UID and resourceVersion of each ConfigMap of ns the
// plan applied, by name.
func versions(g Gomega, ns string) map[string]string {
	var list corev1.ConfigMapList
	g.Expect(k8sClient.List(ctx, &list, client.InNamespace(ns))).To(Succeed())
	out := map[string]string{}
	for _, cm := range list.Items {
		if strings.HasPrefix(cm.Name, "cfg-") {
			out[cm.Name] = string(cm.UID) + "@" + cm.ResourceVersion
		}
	}
	return out
}

// regionalStatus returns the status.forEach entry of the regional task.
func regionalStatus(g Gomega, p *execloopv1alpha1.Plan) execloopv1alpha1.ForEachStatus {
	for _, s := range p.Status.ForEach {
		if s.Task == "regional" {
			return s
		}
	}
	g.Expect(p.Status.ForEach).To(ContainElement(HaveField("Task", "regional")))
	return execloopv1alpha1.ForEachStatus{}
}

var _ = Describe("The Plan controller, with a task's forEach", func() {
	var ns string
	BeforeEach(func() { ns = newNamespace() })

	DescribeTable("admission refuses a forEach that cannot work, saying why",
		func(task map[string]any, message string) {
			task["name"] = "each"
			err := admit(ns, map[string]any{"tasks": []any{task}}, client.DryRunAll)
			Expect(err).To(HaveOccurred())
			Expect(err.Error()).To(ContainSubstring(message))
		},
		Entry("with wait", map[string]any{"forEach": map[string]any{"x": "${[1]}"},
			"wait": map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "name": "a"}},
			"task each: forEach goes with apply only"),
		Entry("two variables", map[string]any{"forEach": map[string]any{"x": "${[1]}", "y": "${[2]}"}, "apply": cm("a")},
			"must have at most 1 item"),
		Entry("a variable named like plan's", map[string]any{"forEach": map[string]any{"plan": "${[1]}"}, "apply": cm("a")},
			"forEach's variable must be a CEL identifier"),
		Entry("a variable that is no identifier", map[string]any{"forEach": map[string]any{"a-b": "${[1]}"}, "apply": cm("a")},
			"forEach's variable must be a CEL identifier"),
		Entry("a value that is no expression", map[string]any{"forEach": map[string]any{"x": "[1]"}, "apply": cm("a")},
			"forEach's value must be one ${...} expression"),
	)

	It("applies one object per item, and a reorder of the list keeps their UIDs and writes nothing", func() {
		createPlan(ns, "reorder", execloopv1alpha1.PlanSpec{Tasks: []execloopv1alpha1.PlanTask{regional(`["eu", "us", "ap"]`)}})
		succeededForSpec(ns, "reorder")
		Expect(getConfigMap(Default, ns, "cfg-us").Data).To(Equal(map[string]string{"region": "us"}))
		before := versions(Default, ns)
		Expect(before).To(HaveLen(3))
		p := getPlan(Default, ns, "reorder")
		Expect(p.Status.Objects).To(HaveLen(3), "one inventory entry per object")
		Expect(p.Status.ForEach).To(Equal([]execloopv1alpha1.ForEachStatus{{Task: "regional", Desired: 3, Applied: 3, Ready: 3}}))

		setForEach(ns, "reorder", `["ap", "eu", "us"]`)
		succeededForSpec(ns, "reorder")
		Expect(versions(Default, ns)).To(Equal(before), "the same objects, unwritten")
	})

	It("prunes the object of a removed item alone, and applies that of an added item alone", func() {
		createPlan(ns, "prune", execloopv1alpha1.PlanSpec{Tasks: []execloopv1alpha1.PlanTask{regional(`["eu", "us", "ap"]`)}})
		succeededForSpec(ns, "prune")
		before := versions(Default, ns)

		setForEach(ns, "prune", `["eu", "ap", "sa"]`)
		Eventually(func(g Gomega) []string {
			var names []string
			for n := range versions(g, ns) {
				names = append(names, n)
			}
			return names
		}).Should(ConsistOf("cfg-eu", "cfg-ap", "cfg-sa"))
		succeededForSpec(ns, "prune")
		after := versions(Default, ns)
		Expect(after["cfg-eu"]).To(Equal(before["cfg-eu"]))
		Expect(after["cfg-ap"]).To(Equal(before["cfg-ap"]))
		Expect(inventoryNames(getPlan(Default, ns, "prune"))).To(ConsistOf("cfg-eu", "cfg-ap", "cfg-sa"))
	})

	It("fails, naming both items and applying nothing, when two items render the same object", func() {
		createPlan(ns, "twins", execloopv1alpha1.PlanSpec{Tasks: []execloopv1alpha1.PlanTask{regional(`["eu", "us", "eu"]`)}})
		Eventually(func(g Gomega) string {
			return taskOf(g, getPlan(g, ns, "twins"), "regional").Message
		}).Should(ContainSubstring(`item 0 ("eu") and item 2 ("eu") both render ConfigMap ` + ns + `/cfg-eu`))
		Expect(versions(Default, ns)).To(BeEmpty())
		Expect(getPlan(Default, ns, "twins").Status.Objects).To(BeEmpty())
	})

	It("fails, applying nothing of it, when an item renders the object of another task", func() {
		createPlan(ns, "clash", execloopv1alpha1.PlanSpec{Tasks: []execloopv1alpha1.PlanTask{
			{Name: "static", Apply: configMap("cfg-us", map[string]any{"region": "us"})},
			regional(`["eu", "us"]`),
		}})
		Eventually(func(g Gomega) string {
			return taskOf(g, getPlan(g, ns, "clash"), "regional").Message
		}).Should(ContainSubstring(`item 1 ("us") renders ConfigMap ` + ns + `/cfg-us, which is also the object of task static`))
		Expect(versions(Default, ns)).NotTo(HaveKey("cfg-eu"))
	})

	It("fails with a clear message, applying nothing, when the list has more than 1000 items", func() {
		createPlan(ns, "long", execloopv1alpha1.PlanSpec{Tasks: []execloopv1alpha1.PlanTask{regional(`lists.range(1001)`)}})
		Eventually(func(g Gomega) string {
			return taskOf(g, getPlan(g, ns, "long"), "regional").Message
		}).Should(ContainSubstring("forEach.region gives 1001 items, more than the 1000 a task may have; nothing of the task is applied"))
		Expect(versions(Default, ns)).To(BeEmpty())
	})

	It("judges readiness per item, and runs the tasks after it once every item's object is ready", func() {
		task := regional(`["eu", "us", "ap"]`)
		// An item's own variable in readyWhen: eu is ready at once.
		task.ReadyWhen = `region == "eu" || ("ready" in object.metadata.labels && object.metadata.labels.ready == "yes")`
		createPlan(ns, "ready", execloopv1alpha1.PlanSpec{Tasks: []execloopv1alpha1.PlanTask{task, {
			Name: "summary", After: []string{"regional"},
			Apply: configMap("summary", map[string]any{"names": `${tasks.regional.objects.map(o, o.metadata.name).join(",")}`}),
		}}})
		label := func(name string) {
			Eventually(func(g Gomega) {
				cm := getConfigMap(g, ns, name)
				cm.Labels["ready"] = "yes"
				g.Expect(k8sClient.Update(ctx, cm)).To(Succeed())
			}).Should(Succeed())
		}
		Eventually(func(g Gomega) {
			p := getPlan(g, ns, "ready")
			g.Expect(regionalStatus(g, p)).To(And(HaveField("Desired", int32(3)), HaveField("Applied", int32(3)), HaveField("Ready", int32(1))))
			g.Expect(taskOf(g, p, "regional").State).To(Equal(status.TaskInProgress))
			g.Expect(taskOf(g, p, "regional").Message).To(ContainSubstring("2 of 3 items not ready"))
		}).Should(Succeed())
		label("cfg-us")
		Eventually(func(g Gomega) int32 { return regionalStatus(g, getPlan(g, ns, "ready")).Ready }).Should(Equal(int32(2)))
		p := getPlan(Default, ns, "ready")
		Expect(regionalStatus(Default, p).Failing).To(ConsistOf(HavePrefix(`item 2 ("ap")`)))
		Expect(stateOf(p, "summary")).NotTo(Equal(status.TaskSucceeded))
		Expect(gone(&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "summary"}})()).To(BeTrue(), "summary waits for every item")

		label("cfg-ap")
		succeededForSpec(ns, "ready")
		Expect(getConfigMap(Default, ns, "summary").Data).To(Equal(map[string]string{"names": "cfg-eu,cfg-us,cfg-ap"}))
	})

	It("converges the forEach sample of config/samples, its summary reading every item's object", func() {
		b, err := os.ReadFile(filepath.Join("..", "config", "samples", "execloop_v1alpha1_plan_foreach.yaml"))
		Expect(err).NotTo(HaveOccurred())
		sample := &execloopv1alpha1.Plan{}
		Expect(yaml.UnmarshalStrict(b, sample)).To(Succeed())
		sample.Namespace = ns
		Expect(k8sClient.Create(ctx, sample)).To(Succeed())
		Eventually(phaseOf(ns, "regions")).Should(Equal(execloopv1alpha1.PlanSucceeded))
		Expect(getConfigMap(Default, ns, "regions-summary").Data).To(Equal(map[string]string{"names": "cfg-eu,cfg-us,cfg-ap"}))
	})

	It("leaves the whole task out with includeWhen, pruning every item's object", func() {
		task := regional(`["eu", "us"]`)
		task.IncludeWhen = `plan.metadata.name == "include"`
		createPlan(ns, "include", execloopv1alpha1.PlanSpec{Tasks: []execloopv1alpha1.PlanTask{task}})
		succeededForSpec(ns, "include")
		Expect(versions(Default, ns)).To(HaveLen(2))

		Eventually(func(g Gomega) {
			p := getPlan(g, ns, "include")
			p.Spec.Tasks[0].IncludeWhen = `plan.metadata.name == "another"`
			g.Expect(k8sClient.Update(ctx, p)).To(Succeed())
		}).Should(Succeed())
		Eventually(func(g Gomega) map[string]string { return versions(g, ns) }).Should(BeEmpty())
		Eventually(func(g Gomega) {
			p := getPlan(g, ns, "include")
			g.Expect(taskOf(g, p, "regional").State).To(Equal(status.TaskSkipped))
			g.Expect(p.Status.Objects).To(BeEmpty())
		}).Should(Succeed())
	})

	It("keeps the status of a task over 1000 items to one entry, under 256 KiB", func() {
		createPlan(ns, "thousand", execloopv1alpha1.PlanSpec{Tasks: []execloopv1alpha1.PlanTask{regional(`lists.range(1000)`)}})
		Eventually(func(g Gomega) {
			p := getPlan(g, ns, "thousand")
			g.Expect(regionalStatus(g, p).Desired).To(Equal(int32(1000)))
			g.Expect(taskOf(g, p, "regional").Message).To(ContainSubstring("until the inventory has room for 1000 more objects"))
		}).Should(Succeed())
		p := getPlan(Default, ns, "thousand")
		b, err := json.Marshal(p.Status)
		Expect(err).NotTo(HaveOccurred())
		GinkgoWriter.Printf("status of a Plan with a forEach of 1000 items: %d bytes\n", len(b))
		Expect(len(b)).To(BeNumerically("<", 256*1024))
		Expect(p.Status.Tasks).To(HaveLen(1))
		Expect(regionalStatus(Default, p).Failing).To(HaveLen(3))
		Expect(versions(Default, ns)).To(BeEmpty(), "a list that does not fit the inventory is not applied in part")
	})
})
