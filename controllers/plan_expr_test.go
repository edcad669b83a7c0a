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
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	execloopv1alpha1 "github.com/execloop/execloop/api/v1alpha1"
	"github.com/execloop/execloop/execloop/reconciler/status"
	"github.com/execloop/execloop/test/support"
)

// service is the apply manifest of a Service of the given type with one
// port.
func service(name, kind string, port any) map[string]any {
	return map[string]any{"apiVersion": "v1", "kind": "Service", "metadata": map[string]any{"name": name},
		"spec": map[string]any{"type": kind, "selector": map[string]any{"app": name}, "ports": []any{map[string]any{"port": port}}}}
}

var _ = Describe("The Plan controller, passing values between tasks", func() {
	var ns string
	BeforeEach(func() { ns = newNamespace() })

	getService := func(g Gomega, name string) *corev1.Service {
		var s corev1.Service
		g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &s)).To(Succeed())
		return &s
	}

	It("fills a manifest from other tasks' objects and the plan, keeping a whole expression's type, in the order the references give", func() {
		createPlan(ns, "values", execloopv1alpha1.PlanSpec{Tasks: []execloopv1alpha1.PlanTask{
			// Listed before what it reads, with no after: the references order it.
			{Name: "endpoints", Apply: configMap("endpoints", map[string]any{
				"url":     `http://${tasks["back-end"].object.spec.clusterIP}:${tasks["back-end"].object.spec.ports[0].port}`,
				"plan":    "${plan.metadata.name}",
				"literal": "$${not an expression}",
			})},
			{Name: "mirror", Apply: raw(service("mirror", "ClusterIP", `${tasks["back-end"].object.spec.ports[0].port + 1}`))},
			{Name: "back-end", Apply: raw(service("back-end", "ClusterIP", 8080))},
		}})
		Eventually(phaseOf(ns, "values")).Should(Equal(execloopv1alpha1.PlanSucceeded))
		ip := getService(Default, "back-end").Spec.ClusterIP
		Expect(ip).NotTo(BeEmpty())
		Expect(getConfigMap(Default, ns, "endpoints").Data).To(Equal(map[string]string{
			"url": "http://" + ip + ":8080", "plan": "values", "literal": "${not an expression}",
		}))
		Expect(getService(Default, "mirror").Spec.Ports[0].Port).To(Equal(int32(8081)), "a whole expression keeps its type: a number")
	})

	It("converges the values sample of config/samples", func() {
		b, err := os.ReadFile(filepath.Join("..", "config", "samples", "execloop_v1alpha1_plan_values.yaml"))
		Expect(err).NotTo(HaveOccurred())
		sample := &execloopv1alpha1.Plan{}
		Expect(yaml.UnmarshalStrict(b, sample)).To(Succeed())
		sample.Namespace = ns
		Expect(k8sClient.Create(ctx, sample)).To(Succeed())
		Eventually(phaseOf(ns, "values")).Should(Equal(execloopv1alpha1.PlanSucceeded))
		ip := getService(Default, "backend").Spec.ClusterIP
		Expect(getConfigMap(Default, ns, "backend-endpoint").Data).To(Equal(map[string]string{"url": "http://" + ip + ":8080", "deployedBy": "values"}))
	})

	It("waits, spending no error, for a value not written yet, and applies it once it is there", func() {
		const expr = "tasks.front.object.status.loadBalancer.ingress[0].ip"
		createPlan(ns, "waiting", execloopv1alpha1.PlanSpec{Tasks: []execloopv1alpha1.PlanTask{
			{Name: "front", Apply: raw(service("front", "LoadBalancer", 80)), ReadyWhen: "true"},
			{Name: "address", Apply: configMap("address", map[string]any{"ip": "${" + expr + "}"})},
		}})
		Eventually(func(g Gomega) {
			p := getPlan(g, ns, "waiting")
			t := taskOf(g, p, "address")
			g.Expect(t.State).To(Equal(status.TaskInProgress))
			g.Expect(t.Message).To(ContainSubstring("${" + expr + "} at apply.data.ip, not there yet"))
			g.Expect(p.Status.Errors).To(BeZero())
		}).Should(Succeed())

		// The load balancer's controller, as envtest runs none.
		Eventually(func(g Gomega) {
			s := getService(g, "front")
			s.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: "203.0.113.7"}}
			g.Expect(k8sClient.Status().Update(ctx, s)).To(Succeed())
		}).Should(Succeed())
		Eventually(func(g Gomega) map[string]string { return getConfigMap(g, ns, "address").Data }).
			Should(Equal(map[string]string{"ip": "203.0.113.7"}))
		Eventually(phaseOf(ns, "waiting")).Should(Equal(execloopv1alpha1.PlanSucceeded))

	})

	It("waits for an object named by another task's, reads a Secret's key through it, and keeps the value out of status", func() {
		const value = "s3cr3t-user-7"
		createPlan(ns, "reader", execloopv1alpha1.PlanSpec{Tasks: []execloopv1alpha1.PlanTask{
			{Name: "pointer", Apply: configMap("pointer", map[string]any{"secret": "creds-v2"})},
			{Name: "creds", Wait: &execloopv1alpha1.ObjectReference{APIVersion: "v1", Kind: "Secret", Name: "${tasks.pointer.object.data.secret}"}},
			{Name: "app", Apply: configMap("app", map[string]any{"user": "${string(base64.decode(tasks.creds.object.data.user))}"})},
		}})
		Eventually(func(g Gomega) {
			t := taskOf(g, getPlan(g, ns, "reader"), "creds")
			g.Expect(t.State).To(Equal(status.TaskInProgress))
			g.Expect(t.Message).To(ContainSubstring("Secret " + ns + "/creds-v2"))
		}).Should(Succeed())

		Expect(k8sClient.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "creds-v2"}, Data: map[string][]byte{"user": []byte(value)}})).To(Succeed())
		Eventually(phaseOf(ns, "reader")).Should(Equal(execloopv1alpha1.PlanSucceeded))
		Expect(getConfigMap(Default, ns, "app").Data).To(Equal(map[string]string{"user": value}))
		st, err := json.Marshal(getPlan(Default, ns, "reader").Status)
		Expect(err).NotTo(HaveOccurred())
		Expect(string(st)).NotTo(Or(ContainSubstring(value), ContainSubstring(base64.StdEncoding.EncodeToString([]byte(value)))))
	})

	It("applies again, promptly, a Deployment whose env comes from a Secret a wait task reads, when the Secret changes", func() {
		// No resync runs in this suite: only the watch of the Secret, which
		// is not the plan's, can wake the converged plan.
		secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "db-password"}, Data: map[string][]byte{"password": []byte("first-9f2")}}
		Expect(k8sClient.Create(ctx, secret)).To(Succeed())
		app := deployment("app")
		var manifest map[string]any
		Expect(json.Unmarshal(app.Raw, &manifest)).To(Succeed())
		container := manifest["spec"].(map[string]any)["template"].(map[string]any)["spec"].(map[string]any)["containers"].([]any)[0].(map[string]any)
		container["env"] = []any{map[string]any{"name": "DB_PASSWORD", "value": "${string(base64.decode(tasks.password.object.data.password))}"}}
		createPlan(ns, "rotates", execloopv1alpha1.PlanSpec{Tasks: []execloopv1alpha1.PlanTask{
			{Name: "password", Wait: &execloopv1alpha1.ObjectReference{APIVersion: "v1", Kind: "Secret", Name: "db-password"}},
			{Name: "app", Apply: raw(manifest)},
		}})
		envOf := func(g Gomega) []corev1.EnvVar {
			var d appsv1.Deployment
			g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "app"}, &d)).To(Succeed())
			g.Expect(d.Spec.Template.Spec.Containers).NotTo(BeEmpty())
			return d.Spec.Template.Spec.Containers[0].Env
		}
		Eventually(envOf).Should(Equal([]corev1.EnvVar{{Name: "DB_PASSWORD", Value: "first-9f2"}}))
		Eventually(support.MakeDeploymentAvailable).WithArguments(ctx, k8sClient, ns, "app").Should(Succeed())
		Eventually(phaseOf(ns, "rotates")).Should(Equal(execloopv1alpha1.PlanSucceeded))

		Eventually(func(g Gomega) {
			var s corev1.Secret
			g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(secret), &s)).To(Succeed())
			s.Data["password"] = []byte("second-4c1")
			g.Expect(k8sClient.Update(ctx, &s)).To(Succeed())
		}).Should(Succeed())
		Eventually(envOf).Should(Equal([]corev1.EnvVar{{Name: "DB_PASSWORD", Value: "second-4c1"}}))
		st, err := json.Marshal(getPlan(Default, ns, "rotates").Status)
		Expect(err).NotTo(HaveOccurred())
		Expect(string(st)).NotTo(Or(ContainSubstring("first-9f2"), ContainSubstring("second-4c1")))
	})

	It("skips a task whose includeWhen is false, runs its dependents, and prunes what it applied once it is false again", func() {
		const cond = `tasks.flag.object.data.enabled == "true"`
		tasks := func(enabled string) []execloopv1alpha1.PlanTask {
			return []execloopv1alpha1.PlanTask{
				{Name: "flag", Apply: configMap("flag", map[string]any{"enabled": enabled})},
				{Name: "extra", IncludeWhen: cond, Apply: configMap("extra", map[string]any{"a": "b"})},
				{Name: "after-extra", After: []string{"extra"}, Apply: configMap("after-extra", map[string]any{"a": "b"})},
			}
		}
		setFlag := func(enabled string) {
			Eventually(func(g Gomega) {
				p := getPlan(g, ns, "optional")
				p.Spec.Tasks = tasks(enabled)
				g.Expect(k8sClient.Update(ctx, p)).To(Succeed())
			}).Should(Succeed())
		}
		readyWith := func(state status.TaskState) {
			Eventually(func(g Gomega) {
				p := getPlan(g, ns, "optional")
				g.Expect(p.Status.IsReady(p.Generation)).To(BeTrue())
				g.Expect(taskOf(g, p, "extra").State).To(Equal(state))
				g.Expect(p.Status.Progress).To(Equal("3/3"))
			}).Should(Succeed())
		}
		extra := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "extra"}}

		createPlan(ns, "optional", execloopv1alpha1.PlanSpec{Tasks: tasks("false")})
		readyWith(status.TaskSkipped)
		Expect(taskOf(Default, getPlan(Default, ns, "optional"), "extra").Message).To(Equal("includeWhen " + strconv.Quote(cond) + " is false"))
		Expect(gone(extra)()).To(BeTrue(), "a skipped task applies nothing")
		Expect(getConfigMap(Default, ns, "after-extra").Data).To(HaveKey("a"), "what runs after it runs")

		setFlag("true")
		readyWith(status.TaskSucceeded)
		Expect(gone(extra)()).To(BeFalse())

		setFlag("false")
		readyWith(status.TaskSkipped)
		Expect(gone(extra)()).To(BeTrue(), "pruned once skipped")
	})

	It("applies again, promptly, what reads a value that changed in a status, once converged", func() {
		// A Job's status changes keep its generation: they are no drift, and
		// only the mark of an object whose values are read wakes the plan.
		createPlan(ns, "follows", execloopv1alpha1.PlanSpec{Tasks: []execloopv1alpha1.PlanTask{
			job("worker", "worker:v1", ""),
			{Name: "count", Apply: configMap("count", map[string]any{"active": "${string(tasks.worker.object.status.active)}"})},
		}})
		setActive := func(n int32) {
			Eventually(func(g Gomega) {
				var j batchv1.Job
				g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "worker"}, &j)).To(Succeed())
				if j.Status.StartTime == nil { // set once: it may not change afterwards
					now := metav1.Now()
					j.Status.StartTime = &now
				}
				j.Status.Active = n
				g.Expect(k8sClient.Status().Update(ctx, &j)).To(Succeed())
			}).Should(Succeed())
		}
		Eventually(func(g Gomega) { taskOf(g, getPlan(g, ns, "follows"), "count") }).Should(Succeed())
		setActive(1)
		Eventually(phaseOf(ns, "follows")).Should(Equal(execloopv1alpha1.PlanSucceeded))
		Expect(getConfigMap(Default, ns, "count").Data).To(Equal(map[string]string{"active": "1"}))

		setActive(2)
		Eventually(func(g Gomega) map[string]string { return getConfigMap(g, ns, "count").Data }).
			Should(Equal(map[string]string{"active": "2"}))
	})
})
