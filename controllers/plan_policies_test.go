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
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	execloopv1alpha1 "github.com/execloop/execloop/api/v1alpha1"
	"github.com/execloop/execloop/execloop/reconciler"
	"github.com/execloop/execloop/execloop/reconciler/status"
)

// job is a Job's apply manifest, ready as soon as it exists (envtest runs
// no Job controller).
func job(name, image string, policy execloopv1alpha1.ImmutableFieldsPolicy) execloopv1alpha1.PlanTask {
	return execloopv1alpha1.PlanTask{Name: name, ReadyWhen: "true", ImmutableFields: policy, Apply: raw(map[string]any{
		"apiVersion": "batch/v1", "kind": "Job", "metadata": map[string]any{"name": name},
		"spec": map[string]any{"template": map[string]any{"spec": map[string]any{
			"restartPolicy": "Never", "containers": []any{map[string]any{"name": "main", "image": image}},
		}}},
	})}
}

var _ = Describe("The Plan controller, on immutable fields and objects others take over", func() {
	var ns string
	BeforeEach(func() { ns = newNamespace() })

	jobOf := func(g Gomega, name string) *batchv1.Job {
		var j batchv1.Job
		g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &j)).To(Succeed())
		return &j
	}

	It("recreates the object under immutableFields: Recreate, and otherwise fails naming the field, without a dump of the object", func() {
		createPlan(ns, "jobs", execloopv1alpha1.PlanSpec{Tasks: []execloopv1alpha1.PlanTask{
			job("migrate", "migrate:v1", ""), job("strict", "strict:v1", ""),
		}})
		Eventually(phaseOf(ns, "jobs")).Should(Equal(execloopv1alpha1.PlanSucceeded))
		migrateUID, strictUID := jobOf(Default, "migrate").UID, jobOf(Default, "strict").UID

		Eventually(func(g Gomega) {
			p := getPlan(g, ns, "jobs")
			p.Spec.Tasks = []execloopv1alpha1.PlanTask{
				job("migrate", "migrate:v2", execloopv1alpha1.ImmutableFieldsRecreate), job("strict", "strict:v2", ""),
			}
			g.Expect(k8sClient.Update(ctx, p)).To(Succeed())
		}).Should(Succeed())

		Eventually(func(g Gomega) {
			j := jobOf(g, "migrate")
			g.Expect(j.UID).NotTo(Equal(migrateUID), "a new Job")
			g.Expect(j.Spec.Template.Spec.Containers[0].Image).To(Equal("migrate:v2"))
			g.Expect(taskOf(g, getPlan(g, ns, "jobs"), "migrate").State).To(Equal(status.TaskSucceeded))
		}).Should(Succeed())
		Eventually(func(g Gomega) {
			var list eventsv1.EventList
			g.Expect(k8sClient.List(ctx, &list, client.InNamespace(ns))).To(Succeed())
			var notes []string
			for _, e := range list.Items {
				if e.Reason == "Recreating" && e.Regarding.Name == "jobs" {
					notes = append(notes, e.Note)
				}
			}
			g.Expect(notes).To(ContainElement(And(ContainSubstring("Job "+ns+"/migrate"), ContainSubstring("spec.template cannot be changed"))))
		}).Should(Succeed())

		Eventually(func(g Gomega) {
			t := taskOf(g, getPlan(g, ns, "jobs"), "strict")
			g.Expect(t.State).To(Equal(status.TaskFailed))
			g.Expect(t.Message).To(And(ContainSubstring("spec.template cannot be changed once set"), ContainSubstring("immutableFields: Recreate on task strict")))
			g.Expect(t.Message).NotTo(Or(ContainSubstring("PodTemplateSpec"), ContainSubstring("Invalid value")), "no dump of the object")
			g.Expect(len(t.Message)).To(BeNumerically("<", 400))
		}).Should(Succeed())
		Expect(jobOf(Default, "strict").UID).To(Equal(strictUID), "Fail leaves the object alone")
		Expect(jobOf(Default, "strict").Spec.Template.Spec.Containers[0].Image).To(Equal("strict:v1"))
	})

	It("under applyPolicy: IfNotPresent, creates a missing object, never writes it afterwards, and leaves alone one it did not create", func() {
		Expect(k8sClient.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "theirs"}, Data: map[string]string{"owner": "someone"}})).To(Succeed())
		createOnly := func(name string, apply *runtime.RawExtension) execloopv1alpha1.PlanTask {
			return execloopv1alpha1.PlanTask{Name: name, ApplyPolicy: execloopv1alpha1.ApplyIfNotPresent, Apply: apply}
		}
		createPlan(ns, "once", execloopv1alpha1.PlanSpec{Tasks: []execloopv1alpha1.PlanTask{
			createOnly("generated", configMap("generated", map[string]any{"seed": "initial"})),
			createOnly("theirs", configMap("theirs", map[string]any{"owner": "the plan"})),
		}})
		Eventually(phaseOf(ns, "once")).Should(Equal(execloopv1alpha1.PlanSucceeded))
		Expect(getConfigMap(Default, ns, "generated").Data).To(Equal(map[string]string{"seed": "initial"}))
		Expect(getConfigMap(Default, ns, "theirs").Data).To(Equal(map[string]string{"owner": "someone"}))
		Expect(getConfigMap(Default, ns, "theirs").Labels).NotTo(HaveKey(PlanUIDLabel))

		// Someone else takes the object over; a pass asked for afterwards
		// leaves it as they made it.
		Eventually(func(g Gomega) {
			c := getConfigMap(g, ns, "generated")
			c.Data["seed"] = "rotated"
			g.Expect(k8sClient.Update(ctx, c)).To(Succeed())
		}).Should(Succeed())
		Eventually(func(g Gomega) {
			p := getPlan(g, ns, "once")
			p.Annotations = map[string]string{reconciler.RequestedAtAnnotation: "after-the-rotation"}
			g.Expect(k8sClient.Update(ctx, p)).To(Succeed())
		}).Should(Succeed())
		Eventually(func(g Gomega) {
			p := getPlan(g, ns, "once")
			g.Expect(p.Status.LastHandledReconcileAt).To(Equal("after-the-rotation"))
			g.Expect(p.Status.Phase).To(Equal(execloopv1alpha1.PlanSucceeded))
		}).Should(Succeed())
		Expect(getConfigMap(Default, ns, "generated").Data).To(Equal(map[string]string{"seed": "rotated"}))

		// Deleting the plan deletes what it created, and only that.
		Expect(k8sClient.Delete(ctx, getPlan(Default, ns, "once"))).To(Succeed())
		Eventually(gone(&execloopv1alpha1.Plan{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "once"}})).Should(BeTrue())
		Expect(gone(&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "generated"}})()).To(BeTrue())
		Expect(getConfigMap(Default, ns, "theirs").Data).To(Equal(map[string]string{"owner": "someone"}))
	})

	It("fails a task at once when its failedWhen holds, naming the expression, instead of waiting for readyWhen", func() {
		const failedWhen = "has(object.status.failed) && object.status.failed > 0"
		task := job("migrate", "migrate:v1", "")
		task.ReadyWhen = "has(object.status.succeeded) && object.status.succeeded > 0"
		task.FailedWhen = failedWhen
		createPlan(ns, "failing", execloopv1alpha1.PlanSpec{Tasks: []execloopv1alpha1.PlanTask{task}})
		Eventually(func(g Gomega) {
			t := taskOf(g, getPlan(g, ns, "failing"), "migrate")
			g.Expect(t.State).To(Equal(status.TaskInProgress))
			g.Expect(t.Message).To(ContainSubstring("readyWhen is false"))
		}).Should(Succeed())

		// The Job controller's verdict, as envtest runs none.
		Eventually(func(g Gomega) {
			j := jobOf(g, "migrate")
			now := metav1.Now()
			j.Status.StartTime = &now
			j.Status.Failed = 1
			g.Expect(k8sClient.Status().Update(ctx, j)).To(Succeed())
		}).Should(Succeed())
		Eventually(func(g Gomega) {
			t := taskOf(g, getPlan(g, ns, "failing"), "migrate")
			g.Expect(t.State).To(Equal(status.TaskFailed))
			g.Expect(t.Message).To(ContainSubstring("Job " + ns + "/migrate: failed: failedWhen \"" + failedWhen + "\" is true"))
		}).Should(Succeed())
	})
})
