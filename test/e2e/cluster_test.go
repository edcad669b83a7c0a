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
	"encoding/json"
	"fmt"
	"syscall"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	execloopv1alpha1 "github.com/execloop/execloop/api/v1alpha1"
	"github.com/execloop/execloop/controllers"
	"github.com/execloop/execloop/execloop/reconciler/status"
	"github.com/execloop/execloop/internal/localcluster"
)

// --- helpers for what only a real cluster does ---

var holds int

// holdLabel returns a node label that no node carries yet: pods that
// select it (onNodesLabelled) stay Pending until releaseHold.
func holdLabel(ns string) string {
	holds++
	return fmt.Sprintf("e2e.execloop.dev/hold-%s-%d", ns, holds)
}

// onNodesLabelled makes the pods of a workload task select nodes labelled
// key=true.
func onNodesLabelled(t execloopv1alpha1.PlanTask, key string) execloopv1alpha1.PlanTask {
	return withPodSpec(t, func(spec map[string]any) { spec["nodeSelector"] = map[string]any{key: "true"} })
}

// withImage sets the image of the first container of a workload task.
func withImage(t execloopv1alpha1.PlanTask, image string) execloopv1alpha1.PlanTask {
	return withPodSpec(t, func(spec map[string]any) { spec["containers"].([]any)[0].(map[string]any)["image"] = image })
}

// withPodSpec returns t with its manifest's pod template spec edited by f.
func withPodSpec(t execloopv1alpha1.PlanTask, f func(map[string]any)) execloopv1alpha1.PlanTask {
	var obj map[string]any
	Expect(json.Unmarshal(t.Apply.Raw, &obj)).To(Succeed())
	f(obj["spec"].(map[string]any)["template"].(map[string]any)["spec"].(map[string]any))
	t.Apply = raw(obj)
	return t
}

// releaseHold labels every node with key=true, so that the pods held by
// it are scheduled; the label goes again when the spec ends.
func releaseHold(key string) {
	label := func(value any) {
		nodes := &corev1.NodeList{}
		Expect(k8sClient.List(ctx, nodes)).To(Succeed())
		Expect(nodes.Items).NotTo(BeEmpty())
		for i := range nodes.Items {
			patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"labels": map[string]any{key: value}}})
			Expect(err).NotTo(HaveOccurred())
			Expect(k8sClient.Patch(ctx, &nodes.Items[i], client.RawPatch(types.MergePatchType, patch))).To(Succeed())
		}
	}
	label("true")
	DeferCleanup(func() { label(nil) })
}

// appPods returns the pods of Deployment app (deploymentTask) in ns.
func appPods(ns string) func(Gomega) []corev1.Pod {
	return func(g Gomega) []corev1.Pod {
		pods := &corev1.PodList{}
		g.Expect(k8sClient.List(ctx, pods, client.InNamespace(ns), client.MatchingLabels{"app": "app"})).To(Succeed())
		return pods.Items
	}
}

// gone returns whether obj, by key, is no longer there.
func gone(obj client.Object, ns, name string) func() bool {
	return func() bool {
		return apierrors.IsNotFound(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, obj))
	}
}

// appReplicaSets returns how many ReplicaSets Deployment app has in ns.
func appReplicaSets(ns string) func(Gomega) int {
	return func(g Gomega) int {
		list := &appsv1.ReplicaSetList{}
		g.Expect(k8sClient.List(ctx, list, client.InNamespace(ns), client.MatchingLabels{"app": "app"})).To(Succeed())
		return len(list.Items)
	}
}

// jobTask applies a Job of one pod that succeeds, or fails when fail is
// set (localcluster.FailAnnotation), with readyWhen on its Complete
// condition and failedWhen on its Failed one.
func jobTask(name string, fail bool) execloopv1alpha1.PlanTask {
	annotations := map[string]any{}
	if fail {
		annotations[localcluster.FailAnnotation] = "true"
	}
	return execloopv1alpha1.PlanTask{
		Name: name,
		Apply: raw(map[string]any{
			"apiVersion": "batch/v1", "kind": "Job", "metadata": map[string]any{"name": name},
			"spec": map[string]any{
				"backoffLimit": 0,
				"template": map[string]any{
					"metadata": map[string]any{"labels": map[string]any{"app": name}, "annotations": annotations},
					"spec": map[string]any{
						"restartPolicy": "Never",
						"containers":    []any{map[string]any{"name": "work", "image": "registry.example/work:1"}},
					},
				},
			},
		}),
		ReadyWhen:  "has(object.status.conditions) && object.status.conditions.exists(c, c.type == 'Complete' && c.status == 'True')",
		FailedWhen: "has(object.status.conditions) && object.status.conditions.exists(c, c.type == 'Failed' && c.status == 'True')",
	}
}

// deletePlansAtEnd deletes the Plans left in ns when the spec ends, and
// waits until they are gone. Registered after the spec's manager, it runs
// while that manager still does: a later spec's manager, with other
// permissions (the generated RBAC), would meet them otherwise.
func deletePlansAtEnd(ns string) {
	DeferCleanup(func() {
		Expect(k8sClient.DeleteAllOf(ctx, &execloopv1alpha1.Plan{}, client.InNamespace(ns))).To(Succeed())
		Eventually(func(g Gomega) []execloopv1alpha1.Plan {
			list := &execloopv1alpha1.PlanList{}
			g.Expect(k8sClient.List(ctx, list, client.InNamespace(ns))).To(Succeed())
			return list.Items
		}).Should(BeEmpty())
	})
}

// hasOwnerReference returns whether obj names uid among its owners.
func hasOwnerReference(obj client.Object, uid types.UID) bool {
	for _, r := range obj.GetOwnerReferences() {
		if r.UID == uid {
			return true
		}
	}
	return false
}

// --- specs ---

var _ = Describe("On a real cluster, the manager", Ordered, func() {
	It("runs on nodes that stay Ready: kwok renews their Leases, as kubelets do", func() {
		nodes := &corev1.NodeList{}
		Expect(k8sClient.List(ctx, nodes)).To(Succeed())
		Expect(nodes.Items).NotTo(BeEmpty())
		for _, node := range nodes.Items {
			Expect(node.Spec.Taints).To(BeEmpty(), "node %s is healthy and schedulable", node.Name)
			// The controller-manager marks a node's pods not ready once its
			// Lease is 40 s old; kwok renews it every 10 s.
			Eventually(func(g Gomega) {
				lease := &coordinationv1.Lease{}
				g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: corev1.NamespaceNodeLease, Name: node.Name}, lease)).To(Succeed())
				g.Expect(lease.Spec.RenewTime).NotTo(BeNil())
				g.Expect(time.Since(lease.Spec.RenewTime.Time)).To(BeNumerically("<", 40*time.Second))
			}).Should(Succeed(), "node %s has a fresh Lease", node.Name)
		}
	})

	It("waits for a Deployment's real rollout, and for the new rollout when its image changes", func() {
		ns := newNamespace()
		m := startManager("rollout", kubeconfig)
		DeferCleanup(m.kill, syscall.SIGTERM)
		deletePlansAtEnd(ns)

		hold := holdLabel(ns)
		app := onNodesLabelled(deploymentTask("app", ""), hold)
		plan := &execloopv1alpha1.Plan{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "rollout"}, Spec: execloopv1alpha1.PlanSpec{
			Tasks: []execloopv1alpha1.PlanTask{app, configMapTask("after", "app")},
		}}
		Expect(k8sClient.Create(ctx, plan)).To(Succeed())

		By("waiting while the pod cannot be scheduled")
		Eventually(appPods(ns)).Should(ConsistOf(HaveField("Status.Phase", corev1.PodPending)))
		Eventually(taskStateOf(ns, "rollout", "app")).Should(Equal(status.TaskInProgress))
		Consistently(gone(&corev1.ConfigMap{}, ns, "after"), 2*time.Second).Should(BeTrue(), "the task after the Deployment waits")

		By("going on once the pod runs")
		releaseHold(hold)
		Eventually(phaseOf(ns, "rollout")).Should(Equal(execloopv1alpha1.PlanSucceeded))
		d := &appsv1.Deployment{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "app"}, d)).To(Succeed())
		Expect(d.Status.AvailableReplicas).To(Equal(int32(1)))
		Expect(appPods(ns)(Default)).To(ConsistOf(And(
			HaveField("Status.Phase", corev1.PodRunning),
			HaveField("Spec.Containers", ConsistOf(HaveField("Image", "registry.example/app:1"))),
		)))

		By("changing the image, with the new pod held: the plan waits for the new rollout")
		hold2 := holdLabel(ns)
		Eventually(func() error {
			p := getPlan(Default, ns, "rollout")
			p.Spec.Tasks[0] = withImage(onNodesLabelled(deploymentTask("app", ""), hold2), "registry.example/app:2")
			return k8sClient.Update(ctx, p)
		}).Should(Succeed())
		Eventually(func(g Gomega) {
			p := getPlan(g, ns, "rollout")
			g.Expect(p.Status.ObservedGeneration).To(Equal(p.Generation))
			g.Expect(p.Status.Phase).To(Equal(execloopv1alpha1.PlanRunning))
			g.Expect(p.Status.Task("app").State).To(Equal(status.TaskInProgress))
		}).Should(Succeed())
		Consistently(phaseOf(ns, "rollout"), 2*time.Second).Should(Equal(execloopv1alpha1.PlanRunning), "the old pod still serves, the new one is Pending")
		releaseHold(hold2)
		Eventually(phaseOf(ns, "rollout")).Should(Equal(execloopv1alpha1.PlanSucceeded))
		d = &appsv1.Deployment{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "app"}, d)).To(Succeed())
		Expect(d.Status.UpdatedReplicas).To(Equal(int32(1)))
		Expect(d.Status.AvailableReplicas).To(Equal(int32(1)))
		// The old pod, scaled down, may still be on its way out.
		Eventually(appPods(ns)).Should(ConsistOf(And(
			HaveField("Status.Phase", corev1.PodRunning),
			HaveField("Spec.Containers", ConsistOf(HaveField("Image", "registry.example/app:2"))),
		)))
	})

	It("follows a Job task's completion with readyWhen, and its failure with failedWhen", func() {
		ns := newNamespace()
		m := startManager("jobs", kubeconfig)
		DeferCleanup(m.kill, syscall.SIGTERM)
		deletePlansAtEnd(ns)

		hold := holdLabel(ns)
		ok := &execloopv1alpha1.Plan{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "ok"}, Spec: execloopv1alpha1.PlanSpec{
			Tasks: []execloopv1alpha1.PlanTask{onNodesLabelled(jobTask("migrate", false), hold), configMapTask("after-migrate", "migrate")},
		}}
		bad := &execloopv1alpha1.Plan{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "bad"}, Spec: execloopv1alpha1.PlanSpec{
			Tasks: []execloopv1alpha1.PlanTask{jobTask("broken", true), configMapTask("after-broken", "broken")},
		}}
		Expect(k8sClient.Create(ctx, ok)).To(Succeed())
		Expect(k8sClient.Create(ctx, bad)).To(Succeed())

		By("waiting while the Job's pod cannot run")
		Eventually(taskStateOf(ns, "ok", "migrate")).Should(Equal(status.TaskInProgress))
		Consistently(taskStateOf(ns, "ok", "migrate"), 2*time.Second).Should(Equal(status.TaskInProgress))
		releaseHold(hold)
		Eventually(phaseOf(ns, "ok")).Should(Equal(execloopv1alpha1.PlanSucceeded))
		job := &batchv1.Job{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "migrate"}, job)).To(Succeed())
		Expect(job.Status.Succeeded).To(Equal(int32(1)))
		Expect(gone(&corev1.ConfigMap{}, ns, "after-migrate")()).To(BeFalse())

		By("failing the task whose Job failed, and running nothing after it")
		Eventually(func(g Gomega) {
			t := getPlan(g, ns, "bad").Status.Task("broken")
			g.Expect(t).NotTo(BeNil())
			g.Expect(t.State).To(Equal(status.TaskFailed))
			g.Expect(t.Message).To(ContainSubstring("failedWhen"))
		}).Should(Succeed())
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "broken"}, job)).To(Succeed())
		Expect(job.Status.Failed).To(Equal(int32(1)))
		Expect(gone(&corev1.ConfigMap{}, ns, "after-broken")()).To(BeTrue())
	})

	DescribeTable("deleting a Plan with cascading deletion removes what it created, and the garbage collector leaves what it adopted",
		func(propagation metav1.DeletionPropagation) {
			ns := newNamespace()
			m := startManager("cascade-"+string(propagation), kubeconfig)
			DeferCleanup(m.kill, syscall.SIGTERM)

			adopted := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "adopted"}, Data: map[string]string{"made-by": "e2e"}}
			Expect(k8sClient.Create(ctx, adopted)).To(Succeed())
			plan := &execloopv1alpha1.Plan{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "cascade"}, Spec: execloopv1alpha1.PlanSpec{
				AdoptionPolicy: execloopv1alpha1.AdoptionRelease,
				Tasks:          []execloopv1alpha1.PlanTask{configMapTask("created", ""), deploymentTask("app", "created"), configMapTask("adopted", "")},
			}}
			Expect(k8sClient.Create(ctx, plan)).To(Succeed())
			Eventually(phaseOf(ns, "cascade")).Should(Equal(execloopv1alpha1.PlanSucceeded))
			Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "adopted"}, adopted)).To(Succeed())
			Expect(hasOwnerReference(adopted, getPlan(Default, ns, "cascade").UID)).To(BeFalse(), "nothing for the garbage collector to take")
			Expect(appPods(ns)(Default)).To(HaveLen(1))
			Expect(appReplicaSets(ns)(Default)).To(Equal(1))

			Expect(k8sClient.Delete(ctx, getPlan(Default, ns, "cascade"), client.PropagationPolicy(propagation))).To(Succeed())
			Eventually(gone(&execloopv1alpha1.Plan{}, ns, "cascade")).Should(BeTrue())
			Eventually(gone(&corev1.ConfigMap{}, ns, "created")).Should(BeTrue())
			Eventually(gone(&appsv1.Deployment{}, ns, "app")).Should(BeTrue())
			Eventually(appReplicaSets(ns)).Should(BeZero(), "the garbage collector deleted the Deployment's ReplicaSet")
			Eventually(appPods(ns)).Should(BeEmpty(), "and its pods")
			// The garbage collector acts within a second of an owner's
			// deletion: three seconds give it every chance.
			Consistently(gone(&corev1.ConfigMap{}, ns, "adopted"), 3*time.Second).Should(BeFalse(), "the adopted ConfigMap survives")
			Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "adopted"}, adopted)).To(Succeed())
			Expect(adopted.OwnerReferences).To(BeEmpty())
			Expect(adopted.Labels).NotTo(HaveKey(controllers.PlanUIDLabel))
		},
		Entry("in the foreground (kubectl delete --cascade=foreground)", metav1.DeletePropagationForeground),
		Entry("in the background (kubectl delete --cascade=background)", metav1.DeletePropagationBackground),
	)

	DescribeTable("deleting a Plan whose deletionPolicy is Orphan leaves everything it applied",
		func(propagation metav1.DeletionPropagation) {
			ns := newNamespace()
			m := startManager("orphan-"+string(propagation), kubeconfig)
			DeferCleanup(m.kill, syscall.SIGTERM)

			plan := &execloopv1alpha1.Plan{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "orphan"}, Spec: execloopv1alpha1.PlanSpec{
				DeletionPolicy: execloopv1alpha1.DeletionPolicyOrphan,
				Tasks:          []execloopv1alpha1.PlanTask{configMapTask("config", ""), deploymentTask("app", "config")},
			}}
			Expect(k8sClient.Create(ctx, plan)).To(Succeed())
			Eventually(phaseOf(ns, "orphan")).Should(Equal(execloopv1alpha1.PlanSucceeded))
			uid := getPlan(Default, ns, "orphan").UID

			Expect(k8sClient.Delete(ctx, getPlan(Default, ns, "orphan"), client.PropagationPolicy(propagation))).To(Succeed())
			Eventually(gone(&execloopv1alpha1.Plan{}, ns, "orphan")).Should(BeTrue())
			Consistently(func(g Gomega) {
				cm, d := &corev1.ConfigMap{}, &appsv1.Deployment{}
				g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "config"}, cm)).To(Succeed())
				g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "app"}, d)).To(Succeed())
				g.Expect(d.DeletionTimestamp).To(BeNil())
				g.Expect(hasOwnerReference(cm, uid) || hasOwnerReference(d, uid)).To(BeFalse(), "nothing is left for the garbage collector")
				g.Expect(appPods(ns)(g)).To(ConsistOf(HaveField("Status.Phase", corev1.PodRunning)))
			}, 3*time.Second).Should(Succeed())
		},
		Entry("in the background (kubectl delete, the default)", metav1.DeletePropagationBackground),
		Entry("in the foreground (kubectl delete --cascade=foreground)", metav1.DeletePropagationForeground),
	)

	It("deletes a Plan's cluster-scoped objects and objects in other namespaces when its Namespace is deleted", func() {
		ns, other := newNamespace(), newNamespace()
		m := startManager("namespace", kubeconfig)
		DeferCleanup(m.kill, syscall.SIGTERM)

		role := "e2e-" + ns
		plan := &execloopv1alpha1.Plan{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "spread"}, Spec: execloopv1alpha1.PlanSpec{
			Tasks: []execloopv1alpha1.PlanTask{
				configMapTask("local", ""),
				deploymentTask("app", "local"),
				{Name: "role", Apply: raw(map[string]any{
					"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": map[string]any{"name": role},
					"rules": []any{map[string]any{"apiGroups": []any{""}, "resources": []any{"configmaps"}, "verbs": []any{"get"}}},
				})},
				{Name: "remote", Apply: raw(map[string]any{
					"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": "remote", "namespace": other},
				})},
			},
		}}
		Expect(k8sClient.Create(ctx, plan)).To(Succeed())
		Eventually(phaseOf(ns, "spread")).Should(Equal(execloopv1alpha1.PlanSucceeded))

		Expect(k8sClient.Delete(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})).To(Succeed())
		// The namespace controller waits at least 5 s before it deletes a
		// namespace's content, then the plan cleans up before it goes.
		Eventually(gone(&corev1.Namespace{}, "", ns), 2*time.Minute).Should(BeTrue(), "the Namespace went away")
		Expect(gone(&rbacv1.ClusterRole{}, "", role)()).To(BeTrue(), "the cluster-scoped ClusterRole was deleted")
		Expect(gone(&corev1.ConfigMap{}, other, "remote")()).To(BeTrue(), "the ConfigMap in the other namespace was deleted")
		namespaces := &corev1.NamespaceList{}
		Expect(k8sClient.List(ctx, namespaces)).To(Succeed())
		for _, n := range namespaces.Items {
			Expect(n.Status.Phase).NotTo(Equal(corev1.NamespaceTerminating), "namespace %s", n.Name)
		}
		left := &corev1.ConfigMapList{}
		Expect(k8sClient.List(ctx, left, client.InNamespace(other))).To(Succeed())
		for _, cm := range left.Items {
			Expect(cm.DeletionTimestamp).To(BeNil(), "ConfigMap %s/%s is not left Terminating", other, cm.Name)
		}
	})

	It("cleans up a Plan deleted while the manager was down once the manager starts", func() {
		ns := newNamespace()
		before := startManager("down-before", kubeconfig)
		plan := &execloopv1alpha1.Plan{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "offline"}, Spec: execloopv1alpha1.PlanSpec{
			Tasks: []execloopv1alpha1.PlanTask{configMapTask("config", ""), deploymentTask("app", "config")},
		}}
		Expect(k8sClient.Create(ctx, plan)).To(Succeed())
		Eventually(phaseOf(ns, "offline")).Should(Equal(execloopv1alpha1.PlanSucceeded))
		Expect(appPods(ns)(Default)).To(HaveLen(1))
		before.kill(syscall.SIGTERM)

		Expect(k8sClient.Delete(ctx, getPlan(Default, ns, "offline"))).To(Succeed())
		Consistently(func(g Gomega) {
			g.Expect(getPlan(g, ns, "offline").DeletionTimestamp).NotTo(BeNil())
			g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "app"}, &appsv1.Deployment{})).To(Succeed())
		}, 2*time.Second).Should(Succeed(), "nothing cleans up while the manager is down")

		after := startManager("down-after", kubeconfig)
		DeferCleanup(after.kill, syscall.SIGTERM)
		Eventually(gone(&execloopv1alpha1.Plan{}, ns, "offline")).Should(BeTrue())
		Expect(gone(&corev1.ConfigMap{}, ns, "config")()).To(BeTrue())
		Expect(gone(&appsv1.Deployment{}, ns, "app")()).To(BeTrue())
		Eventually(appPods(ns)).Should(BeEmpty())
	})
})
