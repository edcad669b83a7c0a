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
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	execloopv1alpha1 "github.com/execloop/execloop/api/v1alpha1"
	"github.com/execloop/execloop/execloop/reconciler/status"
	"github.com/execloop/execloop/test/support"
)

// raw turns an object, written as a map, into a task's apply field.
func raw(obj map[string]any) *runtime.RawExtension {
	b, err := json.Marshal(obj)
	Expect(err).NotTo(HaveOccurred())
	return &runtime.RawExtension{Raw: b}
}

// configMap is an apply manifest of a ConfigMap.
func configMap(name string, data map[string]any, extra ...func(map[string]any)) *runtime.RawExtension {
	obj := map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": name}, "data": data}
	for _, f := range extra {
		f(obj)
	}
	return raw(obj)
}

// deployment is an apply manifest of a one-replica Deployment.
func deployment(name string) *runtime.RawExtension {
	labels := map[string]any{"app": name}
	return raw(map[string]any{
		"apiVersion": "apps/v1", "kind": "Deployment", "metadata": map[string]any{"name": name},
		"spec": map[string]any{
			"replicas": 1,
			"selector": map[string]any{"matchLabels": labels},
			"template": map[string]any{
				"metadata": map[string]any{"labels": labels},
				"spec":     map[string]any{"containers": []any{map[string]any{"name": "app", "image": "registry.example/app:1"}}},
			},
		},
	})
}

func newNamespace() string {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "plan-"}}
	Expect(k8sClient.Create(ctx, ns)).To(Succeed())
	return ns.Name
}

// grantConfigMaps lets ServiceAccount sa of ns do verbs on the ConfigMaps of
// ns, with a Role and a RoleBinding named after it.
func grantConfigMaps(ns, sa string, verbs ...string) {
	GinkgoHelper()
	Expect(k8sClient.Create(ctx, &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: sa + "-configmaps"},
		Rules:      []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: verbs}},
	})).To(Succeed())
	Expect(k8sClient.Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: sa + "-configmaps"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: sa + "-configmaps"},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: ns, Name: sa}},
	})).To(Succeed())
}

func createPlan(ns, name string, spec execloopv1alpha1.PlanSpec) *execloopv1alpha1.Plan {
	p := &execloopv1alpha1.Plan{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: spec}
	Expect(k8sClient.Create(ctx, p)).To(Succeed())
	return p
}

func getPlan(g Gomega, ns, name string) *execloopv1alpha1.Plan {
	p := &execloopv1alpha1.Plan{}
	g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, p)).To(Succeed())
	return p
}

func phaseOf(ns, name string) func(Gomega) execloopv1alpha1.PlanPhase {
	return func(g Gomega) execloopv1alpha1.PlanPhase { return getPlan(g, ns, name).Status.Phase }
}

// taskOf returns the status of the task named task, failing the poll (not
// panicking) while the task is not in the Plan's status yet.
func taskOf(g Gomega, p *execloopv1alpha1.Plan, task string) status.TaskStatus {
	t := p.Status.Task(task)
	g.Expect(t).NotTo(BeNil(), "task %q is not in the status of Plan %s/%s yet", task, p.Namespace, p.Name)
	return *t
}

func stateOf(p *execloopv1alpha1.Plan, task string) status.TaskState {
	if t := p.Status.Task(task); t != nil {
		return t.State
	}
	return ""
}

func stalledMessage(ns, name string) func(Gomega) string {
	return func(g Gomega) string {
		p := getPlan(g, ns, name)
		if !p.Status.IsStalled(p.Generation) {
			return ""
		}
		return p.Status.Condition(status.ConditionStalled).Message
	}
}

func getConfigMap(g Gomega, ns, name string) *corev1.ConfigMap {
	cm := &corev1.ConfigMap{}
	g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, cm)).To(Succeed())
	return cm
}

func gone(obj client.Object) func() bool {
	return func() bool {
		return apierrors.IsNotFound(k8sClient.Get(ctx, client.ObjectKeyFromObject(obj), obj))
	}
}

// The poll of issue 17, forced to run before the task is in status: a Plan
// whose status has no tasks yet, as the first poll after createPlan may
// see it.
var _ = Describe("A poll of a task's status", func() {
	It("fails and polls again, instead of panicking, before the task is in status", func() {
		early := &execloopv1alpha1.Plan{}
		early.Namespace, early.Name = "ns", "tidy"
		Expect(func() { _ = early.Status.Task("wait-cert").Message }).To(Panic(), "the poll as it was written")
		failures := InterceptGomegaFailures(func() {
			Eventually(func(g Gomega) string { return taskOf(g, early, "wait-cert").Message }).
				WithTimeout(300 * time.Millisecond).WithPolling(50 * time.Millisecond).Should(ContainSubstring("cert"))
		})
		Expect(failures).To(ConsistOf(ContainSubstring(`task "wait-cert" is not in the status of Plan ns/tidy yet`)))
	})
})

var _ = Describe("The Plan controller", func() {
	var ns string
	BeforeEach(func() { ns = newNamespace() })

	It("applies tasks in order, waits for readiness, and runs a task once everything in its after succeeded", func() {
		p := createPlan(ns, "web", execloopv1alpha1.PlanSpec{Tasks: []execloopv1alpha1.PlanTask{
			{Name: "app", After: []string{"config", "db"}, Apply: configMap("app", map[string]any{"uses": "db"})},
			{Name: "config", Apply: configMap("web-config", map[string]any{"color": "blue"})},
			{Name: "db", After: []string{"config"}, Apply: deployment("db")},
		}})

		Eventually(func(g Gomega) {
			got := getPlan(g, ns, "web")
			g.Expect(stateOf(got, "config")).To(Equal(status.TaskSucceeded))
			g.Expect(stateOf(got, "db")).To(Equal(status.TaskInProgress))
			g.Expect(taskOf(g, got, "db").Message).To(ContainSubstring("waiting for Deployment " + ns + "/db: not ready"))
			g.Expect(stateOf(got, "app")).To(Equal(status.TaskPending))
			g.Expect(got.Status.Phase).To(Equal(execloopv1alpha1.PlanRunning))
			g.Expect(got.Status.Progress).To(Equal("1/3"))
		}).Should(Succeed())
		Consistently(gone(&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "app"}}), time.Second).
			Should(BeTrue(), "app waits for db")

		Eventually(support.MakeDeploymentAvailable).WithArguments(ctx, k8sClient, ns, "db").Should(Succeed())
		Eventually(phaseOf(ns, "web")).Should(Equal(execloopv1alpha1.PlanSucceeded))

		got := getPlan(Default, ns, "web")
		Expect(got.Status.Progress).To(Equal("3/3"))
		Expect(got.Status.ObservedGeneration).To(Equal(got.Generation))
		Expect(got.Status.Objects).To(HaveLen(3))
		Expect(got.Status.Objects[0].Task).To(Equal("config"), "the inventory keeps the order of first application")
		app := getConfigMap(Default, ns, "app")
		Expect(app.Labels).To(HaveKeyWithValue(PlanUIDLabel, string(p.UID)))
		Expect(app.Annotations).To(HaveKeyWithValue(PlanAnnotation, ns+"/web"))
		Expect(app.OwnerReferences).To(ContainElement(HaveField("UID", p.UID)))
		Expect(app.ManagedFields).To(ContainElement(HaveField("Manager", FieldManager)))
		for _, obj := range got.Status.Objects {
			Expect(obj.UID).NotTo(BeEmpty())
		}
	})

	It("converges the sample of config/samples", func() {
		b, err := os.ReadFile(filepath.Join("..", "config", "samples", "execloop_v1alpha1_plan.yaml"))
		Expect(err).NotTo(HaveOccurred())
		sample := &execloopv1alpha1.Plan{}
		Expect(yaml.UnmarshalStrict(b, sample)).To(Succeed())
		sample.Namespace = ns
		Expect(k8sClient.Create(ctx, sample)).To(Succeed())

		Eventually(support.MakeDeploymentAvailable).WithArguments(ctx, k8sClient, ns, "web").Should(Succeed())
		Eventually(phaseOf(ns, "web")).Should(Equal(execloopv1alpha1.PlanSucceeded))
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "web"}, &corev1.Service{})).To(Succeed())
		Expect(getPlan(Default, ns, "web").Status.Progress).To(Equal("3/3"))
	})

	It("repairs drift: an applied object changed or deleted by someone else is applied again", func() {
		createPlan(ns, "drift", execloopv1alpha1.PlanSpec{Tasks: []execloopv1alpha1.PlanTask{
			{Name: "config", Apply: configMap("settings", map[string]any{"color": "blue"})},
		}})
		Eventually(phaseOf(ns, "drift")).Should(Equal(execloopv1alpha1.PlanSucceeded))
		uid := getConfigMap(Default, ns, "settings").UID

		cm := getConfigMap(Default, ns, "settings")
		cm.Data["color"] = "red"
		cm.Data["extra"] = "someone else's"
		Expect(k8sClient.Update(ctx, cm)).To(Succeed())
		Eventually(func(g Gomega) map[string]string { return getConfigMap(g, ns, "settings").Data }).
			Should(Equal(map[string]string{"color": "blue", "extra": "someone else's"}), "our field is repaired, theirs is left alone")
		Expect(getConfigMap(Default, ns, "settings").UID).To(Equal(uid))

		Expect(k8sClient.Delete(ctx, getConfigMap(Default, ns, "settings"))).To(Succeed())
		Eventually(func(g Gomega) types.UID { return getConfigMap(g, ns, "settings").UID }).ShouldNot(Equal(uid))
		Eventually(phaseOf(ns, "drift")).Should(Equal(execloopv1alpha1.PlanSucceeded))
	})

	It("repairs drift of a Secret applied with stringData: its data changed or removed by someone else", func() {
		createPlan(ns, "secret-drift", execloopv1alpha1.PlanSpec{Tasks: []execloopv1alpha1.PlanTask{
			{Name: "creds", Apply: raw(map[string]any{"apiVersion": "v1", "kind": "Secret", "metadata": map[string]any{"name": "creds"},
				"stringData": map[string]any{"password": "hunter2"}})},
		}})
		Eventually(phaseOf(ns, "secret-drift")).Should(Equal(execloopv1alpha1.PlanSucceeded))
		password := func(g Gomega) string {
			var s corev1.Secret
			g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "creds"}, &s)).To(Succeed())
			return string(s.Data["password"])
		}
		Expect(password(Default)).To(Equal("hunter2"))

		for _, change := range []func(*corev1.Secret){
			func(s *corev1.Secret) { s.Data["password"] = []byte("changed by hand") },
			func(s *corev1.Secret) { delete(s.Data, "password") },
		} {
			Eventually(func(g Gomega) {
				var s corev1.Secret
				g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "creds"}, &s)).To(Succeed())
				change(&s)
				g.Expect(k8sClient.Update(ctx, &s)).To(Succeed())
			}).Should(Succeed())
			Eventually(password).Should(Equal("hunter2"))
		}
	})

	It("reads its objects through a watch, and stops the watch once no plan needs it", func() {
		createPlan(ns, "watched", execloopv1alpha1.PlanSpec{Tasks: []execloopv1alpha1.PlanTask{
			{Name: "config", Apply: configMap("watched", map[string]any{"a": "b"})},
		}})
		Eventually(phaseOf(ns, "watched")).Should(Equal(execloopv1alpha1.PlanSucceeded))
		Expect(planReconciler.watcher.running(ns)).To(Equal(1), "the pass read the ConfigMap through an informer of the plan's namespace")
		Expect(k8sClient.Delete(ctx, getPlan(Default, ns, "watched"))).To(Succeed())
		Eventually(gone(&execloopv1alpha1.Plan{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "watched"}})).Should(BeTrue())
		Eventually(planReconciler.watcher.running).WithArguments(ns).Should(BeZero(), "the informer of ConfigMaps in the plan's namespace stopped")
	})

	It("stops the watch of a kind the plan no longer applies", func() {
		createPlan(ns, "switches", execloopv1alpha1.PlanSpec{Tasks: []execloopv1alpha1.PlanTask{
			{Name: "config", Apply: configMap("switches", map[string]any{"a": "b"})},
		}})
		Eventually(phaseOf(ns, "switches")).Should(Equal(execloopv1alpha1.PlanSucceeded))
		Expect(planReconciler.watcher.resources(ns)).To(ConsistOf("configmaps"))

		Eventually(func(g Gomega) {
			p := getPlan(g, ns, "switches")
			p.Spec.Tasks = []execloopv1alpha1.PlanTask{{Name: "creds", Apply: raw(map[string]any{
				"apiVersion": "v1", "kind": "Secret", "metadata": map[string]any{"name": "switches"}, "stringData": map[string]any{"a": "b"},
			})}}
			g.Expect(k8sClient.Update(ctx, p)).To(Succeed())
		}).Should(Succeed())
		Eventually(func(g Gomega) {
			p := getPlan(g, ns, "switches")
			g.Expect(p.Status.IsReady(p.Generation)).To(BeTrue())
		}).Should(Succeed())
		Expect(planReconciler.watcher.resources(ns)).To(ConsistOf("secrets"), "the ConfigMaps' informer stopped with the last task applying one")
	})

	It("costs no writes once converged", func() {
		createPlan(ns, "quiet", execloopv1alpha1.PlanSpec{Tasks: []execloopv1alpha1.PlanTask{
			{Name: "config", Apply: configMap("quiet", map[string]any{"a": "b"})},
		}})
		Eventually(phaseOf(ns, "quiet")).Should(Equal(execloopv1alpha1.PlanSucceeded))
		cmRV := getConfigMap(Default, ns, "quiet").ResourceVersion
		// Wake the plan: an annotation change is a reconcile and a pass.
		Eventually(func(g Gomega) {
			latest := getPlan(g, ns, "quiet")
			latest.Annotations = map[string]string{"poke": "1"}
			g.Expect(k8sClient.Update(ctx, latest)).To(Succeed())
		}).Should(Succeed())
		planRV := getPlan(Default, ns, "quiet").ResourceVersion
		Consistently(func(g Gomega) []string {
			return []string{getPlan(g, ns, "quiet").ResourceVersion, getConfigMap(g, ns, "quiet").ResourceVersion}
		}, 2*time.Second).Should(Equal([]string{planRV, cmRV}))
	})

	It("deletes objects with delete tasks and waits for objects with wait tasks and readyWhen", func() {
		legacy := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "legacy"}}
		Expect(k8sClient.Create(ctx, legacy)).To(Succeed())
		createPlan(ns, "tidy", execloopv1alpha1.PlanSpec{Tasks: []execloopv1alpha1.PlanTask{
			{Name: "retire-old", Delete: &execloopv1alpha1.ObjectReference{APIVersion: "v1", Kind: "ConfigMap", Name: "legacy"}},
			{Name: "wait-cert", Wait: &execloopv1alpha1.ObjectReference{APIVersion: "v1", Kind: "Secret", Name: "web-tls"},
				ReadyWhen: "has(object.data) && 'tls.crt' in object.data"},
			{Name: "app", After: []string{"wait-cert", "retire-old"}, Apply: configMap("uses-cert", map[string]any{"cert": "web-tls"})},
		}})
		Eventually(gone(legacy)).Should(BeTrue())
		Eventually(func(g Gomega) string {
			return taskOf(g, getPlan(g, ns, "tidy"), "wait-cert").Message
		}).Should(ContainSubstring("waiting for Secret " + ns + "/web-tls: absent"))

		secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web-tls"}, Data: map[string][]byte{"other": []byte("x")}}
		Expect(k8sClient.Create(ctx, secret)).To(Succeed())
		Eventually(func(g Gomega) string {
			return taskOf(g, getPlan(g, ns, "tidy"), "wait-cert").Message
		}).Should(ContainSubstring("not ready (readyWhen is false)"))
		Consistently(gone(&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "uses-cert"}}), time.Second).Should(BeTrue())

		secret.Data["tls.crt"] = []byte("cert")
		Expect(k8sClient.Update(ctx, secret)).To(Succeed())
		Eventually(phaseOf(ns, "tidy")).Should(Equal(execloopv1alpha1.PlanSucceeded))
		getConfigMap(Default, ns, "uses-cert")
		Expect(getPlan(Default, ns, "tidy").Status.Objects).To(HaveLen(1), "only applied objects are in the inventory")
	})

	It("fails a task that waits longer than its timeout", func() {
		createPlan(ns, "impatient", execloopv1alpha1.PlanSpec{
			ErrorsToTolerate: ptr.To[int32](0),
			Tasks: []execloopv1alpha1.PlanTask{{
				Name: "wait-db", Timeout: &metav1.Duration{Duration: time.Second},
				Wait: &execloopv1alpha1.ObjectReference{APIVersion: "v1", Kind: "Secret", Name: "never"},
			}},
		})
		Eventually(stalledMessage(ns, "impatient")).Should(ContainSubstring("Secret " + ns + "/never: still absent after the task's timeout of 1s"))
	})

	Describe("with a ServiceAccount", func() {
		BeforeEach(func() {
			Expect(k8sClient.Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "deployer"}})).To(Succeed())
			grantConfigMaps(ns, "deployer", "get", "list", "watch", "create", "patch", "delete")
		})

		It("acts as that ServiceAccount: what it may do converges", func() {
			createPlan(ns, "allowed", execloopv1alpha1.PlanSpec{ServiceAccountName: "deployer", Tasks: []execloopv1alpha1.PlanTask{
				{Name: "config", Apply: configMap("as-deployer", map[string]any{"a": "b"})},
			}})
			Eventually(phaseOf(ns, "allowed")).Should(Equal(execloopv1alpha1.PlanSucceeded))
			getConfigMap(Default, ns, "as-deployer")
		})

		It("acts as that ServiceAccount: what it may not do fails with the verb and resource denied", func() {
			createPlan(ns, "denied", execloopv1alpha1.PlanSpec{ServiceAccountName: "deployer", ErrorsToTolerate: ptr.To[int32](1), Tasks: []execloopv1alpha1.PlanTask{
				{Name: "secret", Apply: raw(map[string]any{"apiVersion": "v1", "kind": "Secret", "metadata": map[string]any{"name": "s"}, "stringData": map[string]any{"k": "v"}})},
			}})
			Eventually(func(g Gomega) string {
				return taskOf(g, getPlan(g, ns, "denied"), "secret").Message
			}).Should(And(
				ContainSubstring("system:serviceaccount:"+ns+":deployer"),
				ContainSubstring(`cannot get resource "secrets"`),
			))
			Eventually(phaseOf(ns, "denied")).Should(Equal(execloopv1alpha1.PlanFailed))
			Expect(gone(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "s"}})()).To(BeTrue())
		})
	})

	It("on deletion deletes what it applied in reverse order, waiting for each to be gone", func() {
		hold := func(obj map[string]any) {
			obj["metadata"].(map[string]any)["finalizers"] = []any{"test.execloop.dev/hold"}
		}
		createPlan(ns, "teardown", execloopv1alpha1.PlanSpec{Tasks: []execloopv1alpha1.PlanTask{
			{Name: "first", Apply: configMap("first", map[string]any{"n": "1"}, hold)},
			{Name: "second", After: []string{"first"}, Apply: configMap("second", map[string]any{"n": "2"}, hold)},
			{Name: "third", After: []string{"second"}, Apply: configMap("third", map[string]any{"n": "3"}, hold)},
		}})
		Eventually(phaseOf(ns, "teardown")).Should(Equal(execloopv1alpha1.PlanSucceeded))
		Expect(k8sClient.Delete(ctx, getPlan(Default, ns, "teardown"))).To(Succeed())

		deleting := func(name string) func(Gomega) bool {
			return func(g Gomega) bool { return !getConfigMap(g, ns, name).DeletionTimestamp.IsZero() }
		}
		release := func(name string) {
			Eventually(func(g Gomega) {
				cm := getConfigMap(g, ns, name)
				cm.Finalizers = nil
				g.Expect(k8sClient.Update(ctx, cm)).To(Succeed())
			}).Should(Succeed())
		}
		Eventually(deleting("third")).Should(BeTrue())
		Consistently(deleting("second"), time.Second).Should(BeFalse(), "second waits until third is gone")
		release("third")
		Eventually(deleting("second")).Should(BeTrue())
		Consistently(deleting("first"), time.Second).Should(BeFalse())
		release("second")
		Eventually(deleting("first")).Should(BeTrue())
		release("first")
		Eventually(gone(&execloopv1alpha1.Plan{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "teardown"}})).Should(BeTrue())
	})

	It("on deletion with deletionPolicy Orphan leaves the objects, without the plan's marks", func() {
		p := createPlan(ns, "orphan", execloopv1alpha1.PlanSpec{DeletionPolicy: execloopv1alpha1.DeletionPolicyOrphan, Tasks: []execloopv1alpha1.PlanTask{
			{Name: "config", Apply: configMap("kept", map[string]any{"a": "b"})},
		}})
		Eventually(phaseOf(ns, "orphan")).Should(Equal(execloopv1alpha1.PlanSucceeded))
		Expect(k8sClient.Delete(ctx, getPlan(Default, ns, "orphan"))).To(Succeed())
		Eventually(gone(&execloopv1alpha1.Plan{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "orphan"}})).Should(BeTrue())
		kept := getConfigMap(Default, ns, "kept")
		Expect(kept.Labels).NotTo(HaveKey(PlanUIDLabel))
		Expect(kept.Annotations).NotTo(HaveKey(PlanAnnotation))
		Expect(kept.OwnerReferences).NotTo(ContainElement(HaveField("UID", p.UID)))
		Expect(kept.Data).To(HaveKeyWithValue("a", "b"))
	})

	It("prunes what a removed task applied, and adopts the object of a renamed one", func() {
		createPlan(ns, "prune", execloopv1alpha1.PlanSpec{Tasks: []execloopv1alpha1.PlanTask{
			{Name: "keep", Apply: configMap("keep", map[string]any{"a": "b"})},
			{Name: "drop", Apply: configMap("drop", map[string]any{"a": "b"})},
		}})
		Eventually(phaseOf(ns, "prune")).Should(Equal(execloopv1alpha1.PlanSucceeded))
		keepUID := getConfigMap(Default, ns, "keep").UID

		Eventually(func(g Gomega) {
			p := getPlan(g, ns, "prune")
			p.Spec.Tasks = []execloopv1alpha1.PlanTask{{Name: "renamed", Apply: configMap("keep", map[string]any{"a": "b"})}}
			g.Expect(k8sClient.Update(ctx, p)).To(Succeed())
		}).Should(Succeed())
		Eventually(gone(&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "drop"}})).Should(BeTrue())
		Eventually(func(g Gomega) []string {
			p := getPlan(g, ns, "prune")
			g.Expect(p.Status.Phase).To(Equal(execloopv1alpha1.PlanSucceeded))
			var tasks []string
			for _, o := range p.Status.Objects {
				tasks = append(tasks, o.Task)
			}
			return tasks
		}).Should(Equal([]string{"renamed"}))
		Expect(getConfigMap(Default, ns, "keep").UID).To(Equal(keepUID), "the renamed task's object was adopted, not recreated")
	})

	It("does nothing while suspended", func() {
		createPlan(ns, "suspended", execloopv1alpha1.PlanSpec{Suspend: true, Tasks: []execloopv1alpha1.PlanTask{
			{Name: "config", Apply: configMap("later", map[string]any{"a": "b"})},
		}})
		Eventually(phaseOf(ns, "suspended")).Should(Equal(execloopv1alpha1.PlanSuspended))
		Consistently(gone(&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "later"}}), time.Second).Should(BeTrue())
		Eventually(func(g Gomega) {
			p := getPlan(g, ns, "suspended")
			p.Spec.Suspend = false
			g.Expect(k8sClient.Update(ctx, p)).To(Succeed())
		}).Should(Succeed())
		Eventually(phaseOf(ns, "suspended")).Should(Equal(execloopv1alpha1.PlanSucceeded))
	})

	DescribeTable("stalls a plan that admission cannot refuse, naming the task, and applies nothing of it",
		func(tasks []execloopv1alpha1.PlanTask, message string) {
			createPlan(ns, "invalid", execloopv1alpha1.PlanSpec{Tasks: tasks})
			Eventually(stalledMessage(ns, "invalid")).Should(ContainSubstring(message))
			Expect(getPlan(Default, ns, "invalid").Status.Phase).To(Equal(execloopv1alpha1.PlanFailed))
			Consistently(gone(&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "innocent"}}), 500*time.Millisecond).Should(BeTrue())
		},
		Entry("a cycle in after", []execloopv1alpha1.PlanTask{
			{Name: "innocent", Apply: configMap("innocent", nil)},
			{Name: "a", After: []string{"c"}, Apply: configMap("a", nil)},
			{Name: "b", After: []string{"a"}, Apply: configMap("b", nil)},
			{Name: "c", After: []string{"b"}, Apply: configMap("c", nil)},
		}, "form a cycle: a → c → b → a"),
		Entry("a readyWhen that does not compile", []execloopv1alpha1.PlanTask{
			{Name: "innocent", Apply: configMap("innocent", nil)},
			{Name: "db", Apply: configMap("db", nil), ReadyWhen: "object.status.ready ==="},
		}, "task db: readyWhen does not compile"),
		Entry("a readyWhen that is not a bool", []execloopv1alpha1.PlanTask{
			{Name: "innocent", Apply: configMap("innocent", nil)},
			{Name: "db", Apply: configMap("db", nil), ReadyWhen: "'yes'"},
		}, "task db: readyWhen does not compile: the expression is of type string, not bool"),
		Entry("an expression naming a task that is not there", []execloopv1alpha1.PlanTask{
			{Name: "innocent", Apply: configMap("innocent", nil)},
			{Name: "svc", Apply: configMap("svc", nil)},
			{Name: "cm", Apply: configMap("cm", map[string]any{"ip": "${tasks.svcc.object.data.ip}"})},
		}, "task cm: apply.data.ip: ${tasks.svcc.object.data.ip} names task svcc, which is not a task of this plan"),
		Entry("expressions that read each other's tasks", []execloopv1alpha1.PlanTask{
			{Name: "innocent", Apply: configMap("innocent", nil)},
			{Name: "a", Apply: configMap("a", map[string]any{"x": "${tasks.b.object.data.x}"})},
			{Name: "b", Apply: configMap("b", map[string]any{"x": "${tasks.a.object.data.x}"})},
		}, "form a cycle: a → b → a"),
		Entry("an expression that does not compile", []execloopv1alpha1.PlanTask{
			{Name: "innocent", Apply: configMap("innocent", nil)},
			{Name: "cm", Apply: configMap("cm", map[string]any{"x": "${plan.metadata.name +}"})},
		}, "task cm: apply.data.x: ${plan.metadata.name +} does not compile"),
		Entry("an expression in the name of the object", []execloopv1alpha1.PlanTask{
			{Name: "innocent", Apply: configMap("innocent", nil)},
			{Name: "cm", Apply: configMap("${plan.metadata.name}", nil)},
		}, "task cm: apply.metadata.name holds an expression"),
		Entry("a failedWhen that does not compile", []execloopv1alpha1.PlanTask{
			{Name: "innocent", Apply: configMap("innocent", nil)},
			{Name: "db", Apply: configMap("db", nil), FailedWhen: "object.status.failed >"},
		}, "task db: failedWhen does not compile"),
		Entry("a namespace on a cluster-scoped kind", []execloopv1alpha1.PlanTask{
			{Name: "innocent", Apply: configMap("innocent", nil)},
			{Name: "ns", Apply: raw(map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": "x", "namespace": "y"}})},
		}, `task ns: Namespace is cluster-scoped, so its namespace must be empty, not "y"`),
		Entry("two tasks for one object", []execloopv1alpha1.PlanTask{
			{Name: "innocent", Apply: configMap("innocent", nil)},
			{Name: "twin", Apply: configMap("innocent", map[string]any{"other": "data"})},
		}, "task twin: ConfigMap "),
	)
})
