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

package reconciler_test

import (
	"fmt"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/execloop/execloop/execloop/reconciler"
	"github.com/execloop/execloop/execloop/reconciler/status"
)

// respec changes a widget's spec, making a new generation.
func respec(ns, name string, change func(*WidgetSpec)) {
	GinkgoHelper()
	Eventually(func(g Gomega) {
		w := widget(g, ns, name)
		change(&w.Spec)
		g.Expect(k8sClient.Update(suiteCtx, w)).To(Succeed())
	}).Should(Succeed())
}

// readyFor waits until a widget is Ready for its current generation, and
// returns it.
func readyFor(ns, name string) *Widget {
	GinkgoHelper()
	var w *Widget
	Eventually(func(g Gomega) {
		w = widget(g, ns, name)
		g.Expect(condition(w, status.ConditionReady)).To(Equal("True/Succeeded"))
		g.Expect(w.Status.Condition(status.ConditionReady).ObservedGeneration).To(Equal(w.Generation))
	}).Should(Succeed())
	return w
}

// steps names n steps after a version.
func steps(version string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s-%03d", version, i)
	}
	return out
}

var _ = Describe("A Reconciler embedded as the README shows it", func() {
	var (
		ns string
		s  *script
	)
	BeforeEach(func() {
		ns = newNamespace()
		s = newScript()
	})

	It("is Ready after the pass that runs its last tasks, without waiting SleepBetweenRuns for a pass that finds none", func() {
		stop := startManager(ns, func(ctrl.Manager) *reconciler.Reconciler[*Widget] {
			return &reconciler.Reconciler[*Widget]{Name: uniqueName(), Plan: s.readmePlan(), Options: options(time.Hour, 0)}
		})
		DeferCleanup(stop)
		createWidget(ns, "at-once", "fetch", "build")

		w := readyFor(ns, "at-once")
		Expect(w.Status.Condition(status.ConditionReady).Message).To(Equal("All 2 tasks succeeded"))
		Expect(w.Status.Condition(status.ConditionReconciling)).To(BeNil())
		Expect(s.passTimes()).To(HaveLen(1), "one pass ran the tasks and found the plan needs no more")
		Expect(s.count("fetch")).To(Equal(1))
		Expect(s.count("build")).To(Equal(1))
	})

	It("runs a step again after a spec change, once per generation, unless the plan asks Succeeded instead of SucceededFor", func() {
		stop := startManager(ns, func(ctrl.Manager) *reconciler.Reconciler[*Widget] {
			return &reconciler.Reconciler[*Widget]{Name: uniqueName(), Plan: s.readmePlan("bootstrap"), Options: options(100*time.Millisecond, 0)}
		})
		DeferCleanup(stop)
		createWidget(ns, "respec", "bootstrap", "build")
		w := readyFor(ns, "respec")
		Expect(w.Status.Task("build")).To(HaveField("ObservedGeneration", w.Generation))
		Expect(s.count("build")).To(Equal(1))

		respec(ns, "respec", func(spec *WidgetSpec) { spec.Note = "a new image" })
		w = readyFor(ns, "respec")
		Expect(w.Generation).To(Equal(int64(2)))
		Expect(s.count("build")).To(Equal(2), "the step ran again for the new spec")
		Expect(w.Status.Task("build")).To(HaveField("ObservedGeneration", int64(2)))
		Expect(w.Status.SucceededFor("build", 2)).To(BeTrue())
		Expect(s.count("bootstrap")).To(Equal(1), "a step the plan checks with Succeeded ran once")
		Expect(w.Status.Task("bootstrap")).To(HaveField("ObservedGeneration", int64(1)))
		Expect(w.Status.SucceededFor("bootstrap", 2)).To(BeFalse())

		passes := len(s.passTimes())
		Consistently(func() int { return len(s.passTimes()) }, 500*time.Millisecond).Should(Equal(passes), "a Ready widget gets no more passes")
		Expect(s.count("build")).To(Equal(2), "once per generation")
	})

	It("keeps Status.Tasks within status.MaxTasks when task names change with the spec, dropping the oldest finished ones, so its status is still written", func() {
		const perVersion = 300 // four versions: 1,200 task names
		stop := startManager(ns, func(ctrl.Manager) *reconciler.Reconciler[*Widget] {
			return &reconciler.Reconciler[*Widget]{Name: uniqueName(), Plan: s.readmePlan(), Options: options(100*time.Millisecond, 0)}
		})
		DeferCleanup(stop)
		createWidget(ns, "versions", steps("v1", perVersion)...)
		readyFor(ns, "versions")
		for _, v := range []string{"v2", "v3", "v4"} {
			respec(ns, "versions", func(spec *WidgetSpec) { spec.Steps = steps(v, perVersion) })
			readyFor(ns, "versions")
		}

		w := widget(Default, ns, "versions")
		Expect(w.Status.Tasks).To(HaveLen(status.MaxTasks))
		byVersion := map[string]int{}
		for _, t := range w.Status.Tasks {
			byVersion[strings.SplitN(t.Name, "-", 2)[0]]++
		}
		Expect(byVersion).To(Equal(map[string]int{"v1": status.MaxTasks - 3*perVersion, "v2": perVersion, "v3": perVersion, "v4": perVersion}),
			"the oldest version's tasks went first")
		for _, step := range steps("v4", perVersion) {
			Expect(w.Status.SucceededFor(step, w.Generation)).To(BeTrue(), "step %s", step)
			Expect(s.count(step)).To(Equal(1), "step %s ran once: its pass was recorded", step)
		}
	})
})
