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

package cli_test

import (
	"encoding/base64"
	"encoding/json"
	"regexp"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/types"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	execloopv1alpha1 "github.com/execloop/execloop/api/v1alpha1"
)

// showNone matches a text that holds none of values, as given or
// base64-encoded (as a Secret's data stores them).
func showNone(values ...string) types.GomegaMatcher {
	var shown []types.GomegaMatcher
	for _, v := range values {
		shown = append(shown, ContainSubstring(v), ContainSubstring(base64.StdEncoding.EncodeToString([]byte(v))))
	}
	return Not(Or(shown...))
}

var _ = Describe("values read from Secrets", func() {
	It("never show when the API server refuses an object that holds one, wherever the refusal is told", func() {
		// Not a valid DNS name, so the API server refuses it as a
		// Service's externalName, decoded or as stored, quoting it.
		const value = "Hunter2_Sentinel-x9"
		ns := namespace("secret-refused", "secrets", "services")
		Expect(k8sClient.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "creds"},
			Data: map[string][]byte{"password": []byte(value)}})).To(Succeed())
		applyFile(writePlan(ns, `
apiVersion: execloop.dev/v1alpha1
kind: Plan
metadata: {name: web, namespace: NS}
spec:
  serviceAccountName: deployer
  tasks:
  - name: creds
    wait: {apiVersion: v1, kind: Secret, name: creds}
  - name: db
    apply:
      apiVersion: v1
      kind: Service
      metadata: {name: db}
      spec: {type: ExternalName, externalName: '${string(base64.decode(tasks.creds.object.data.password))}'}
  - name: db-stored
    apply:
      apiVersion: v1
      kind: Service
      metadata: {name: db-stored}
      spec: {type: ExternalName, externalName: '${tasks.creds.object.data.password}'}
`))
		refusal := `spec.externalName: Invalid value: "***": a lowercase RFC 1123 subdomain`

		By("the status: each task's message, and the conditions once the plan stalls")
		var plan execloopv1alpha1.Plan
		Eventually(func(g Gomega) {
			g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "web"}, &plan)).To(Succeed())
			g.Expect(plan.Status.IsStalled(plan.Generation)).To(BeTrue(), "phase %s", plan.Status.Phase)
			for _, task := range []string{"db", "db-stored"} {
				ts := plan.Status.Task(task)
				g.Expect(ts).NotTo(BeNil())
				g.Expect(ts.Message).To(ContainSubstring(refusal), "the message names the field and the reason")
			}
		}, "60s").Should(Succeed())
		status, err := json.Marshal(plan.Status)
		Expect(err).NotTo(HaveOccurred())
		Expect(string(status)).To(And(ContainSubstring("spec.externalName"), showNone(value)))

		By("the events: the tasks' failures, and the stall")
		Eventually(func(g Gomega) {
			var events eventsv1.EventList
			g.Expect(k8sClient.List(ctx, &events, client.InNamespace(ns))).To(Succeed())
			var notes []string
			reasons := map[string]bool{}
			for _, e := range events.Items {
				notes = append(notes, e.Note)
				reasons[e.Reason] = true
			}
			g.Expect(reasons).To(And(HaveKey("TaskFailed"), HaveKey("PlanStalled")))
			g.Expect(strings.Join(notes, "\n")).To(And(ContainSubstring(refusal), showNone(value)))
		}).Should(Succeed())

		By("the manager's log")
		Eventually(managerLog.String).Should(ContainSubstring(`\"***\": a lowercase RFC 1123 subdomain`))
		Expect(managerLog.String()).To(showNone(value))

		By("kubectl execloop get -o wide, and diff")
		out, _, code := kubectlExecloop(ctx, "get", "plan/web", "-n", ns, "-o", "wide")
		Expect(code).To(Equal(0))
		Expect(out).To(And(ContainSubstring(refusal), showNone(value)))
		out, _, code = kubectlExecloop(ctx, "diff", "plan/web", "-n", ns)
		Expect(code).To(Equal(2), "a task would fail: exit status 2\n%s", out)
		Expect(out).To(And(MatchRegexp(`(?m)^  failed\s+db\s+Service `+ns+`/db\s.*`+regexp.QuoteMeta(refusal)), showNone(value)))
	})

	It("show as masked in a preview, on both sides of a changed line whose value is computed from one", func() {
		const first, second = "first-pass-1", "second-pass-2"
		ns := namespace("secret-diff", "secrets", "configmaps")
		for name, password := range map[string]string{"db-creds": first, "db-creds-v2": second} {
			Expect(k8sClient.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
				Data: map[string][]byte{"password": []byte(password)}})).To(Succeed())
		}
		plan := `
apiVersion: execloop.dev/v1alpha1
kind: Plan
metadata: {name: app, namespace: NS}
spec:
  serviceAccountName: deployer
  tasks:
  - name: creds
    wait: {apiVersion: v1, kind: Secret, name: SECRET}
  - name: config
    apply:
      apiVersion: v1
      kind: ConfigMap
      metadata: {name: config}
      data:
        dsn: 'postgres://app:${string(base64.decode(tasks.creds.object.data.password))}@db:5432/app'
        color: blue
`
		applyFile(writePlan(ns, strings.ReplaceAll(plan, "SECRET", "db-creds")))
		Eventually(phaseOf(ns, "app")).Should(Equal(execloopv1alpha1.PlanSucceeded))
		var cm corev1.ConfigMap
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "config"}, &cm)).To(Succeed())
		Expect(cm.Data["dsn"]).To(Equal("postgres://app:" + first + "@db:5432/app"))

		out, stderr, code := kubectlExecloop(ctx, "diff", "-f", writePlan(ns, strings.ReplaceAll(plan, "SECRET", "db-creds-v2")))
		Expect(stderr).To(BeEmpty())
		Expect(code).To(Equal(1), "a change: exit status 1\n%s", out)
		Expect(out).To(MatchRegexp(`(?m)^  update\s+config\s+ConfigMap ` + ns + `/config$`))
		Expect(out).To(MatchRegexp(`(?m)^-  dsn: '\*\*\* \(before\)'$`))
		Expect(out).To(MatchRegexp(`(?m)^\+  dsn: '\*\*\* \(after\)'$`))
		Expect(out).To(MatchRegexp(`(?m)^   color: blue$`), "what no Secret gave shows")
		Expect(out).To(showNone(first, second))
	})
})
