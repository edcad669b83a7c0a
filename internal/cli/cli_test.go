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
	"context"
	"encoding/base64"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	execloopv1alpha1 "github.com/execloop/execloop/api/v1alpha1"
	"github.com/execloop/execloop/internal/manifest"
)

// applyFile creates the Plans of a file, as a user's kubectl apply would.
func applyFile(path string) {
	GinkgoHelper()
	objs, err := manifest.ReadFile(path)
	Expect(err).NotTo(HaveOccurred())
	for _, o := range objs {
		Expect(k8sClient.Create(ctx, o)).To(Succeed())
	}
}

var _ = Describe("kubectl execloop diff", func() {
	It("previews a new Plan: every object created, a value not there yet blocked, a Secret's values masked", func() {
		ns := namespace("diff-new", "configmaps", "secrets")
		old := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "old-creds", Annotations: map[string]string{
			"kubectl.kubernetes.io/last-applied-configuration": `{"stringData":{"token":"t0ken-q7"}}`}}, Data: map[string][]byte{"token": []byte("t0ken-q7")}}
		Expect(k8sClient.Create(ctx, old)).To(Succeed())
		file := writePlan(ns, `
apiVersion: execloop.dev/v1alpha1
kind: Plan
metadata: {name: web, namespace: NS}
spec:
  serviceAccountName: deployer
  tasks:
  - name: config
    apply: {apiVersion: v1, kind: ConfigMap, metadata: {name: config}, data: {color: blue}}
  - name: creds
    apply: {apiVersion: v1, kind: Secret, metadata: {name: creds}, stringData: {password: hunter2-x9}}
  - name: app
    after: [config]
    apply: {apiVersion: v1, kind: ConfigMap, metadata: {name: app}, data: {color: '${tasks.config.object.data.color}'}}
  - name: drop
    delete: {apiVersion: v1, kind: Secret, name: old-creds}
`)
		out, stderr, code := kubectlExecloop(ctx, "diff", "-f", file)
		Expect(stderr).To(BeEmpty())
		Expect(code).To(Equal(1), "changes: exit status 1")
		for _, secret := range []string{"hunter2-x9", "t0ken-q7"} {
			Expect(out).NotTo(Or(ContainSubstring(secret), ContainSubstring(base64.StdEncoding.EncodeToString([]byte(secret)))))
		}
		expectGolden(out, "diff-new", ns)
		var p execloopv1alpha1.Plan
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "web"}, &p)).NotTo(Succeed(), "a preview creates nothing")
	})

	It("previews a converged Plan as unchanged, and a change of it as one update, one prune and a create whose values it resolves", func() {
		ns := namespace("diff-changed", "configmaps")
		applyFile(writePlan(ns, `
apiVersion: execloop.dev/v1alpha1
kind: Plan
metadata: {name: web, namespace: NS}
spec:
  serviceAccountName: deployer
  tasks:
  - name: keep
    apply: {apiVersion: v1, kind: ConfigMap, metadata: {name: keep}, data: {replicas: "1", color: blue}}
  - name: old
    apply: {apiVersion: v1, kind: ConfigMap, metadata: {name: old}, data: {a: b}}
`))
		Eventually(phaseOf(ns, "web")).Should(Equal(execloopv1alpha1.PlanSucceeded))
		out, stderr, code := kubectlExecloop(ctx, "diff", "plan/web", "-n", ns)
		Expect(stderr).To(BeEmpty())
		Expect(code).To(Equal(0), "no changes: exit status 0\n%s", out)
		expectGolden(out, "diff-unchanged", ns)

		changed := writePlan(ns, `
apiVersion: execloop.dev/v1alpha1
kind: Plan
metadata: {name: web, namespace: NS}
spec:
  serviceAccountName: deployer
  tasks:
  - name: keep
    apply: {apiVersion: v1, kind: ConfigMap, metadata: {name: keep}, data: {replicas: "3", color: blue}}
  - name: copy
    apply: {apiVersion: v1, kind: ConfigMap, metadata: {name: copy}, data: {color: '${tasks.keep.object.data.color}', plan: '${plan.metadata.name}'}}
`)
		out, stderr, code = kubectlExecloop(ctx, "diff", "-f", changed)
		Expect(stderr).To(BeEmpty())
		Expect(code).To(Equal(1))
		expectGolden(out, "diff-changed", ns)
	})

	It("previews each item's object of a forEach: an item kept unchanged, one added created, one removed pruned", func() {
		ns := namespace("diff-foreach", "configmaps")
		regions := func(list string) string {
			return writePlan(ns, `
apiVersion: execloop.dev/v1alpha1
kind: Plan
metadata: {name: web, namespace: NS}
spec:
  serviceAccountName: deployer
  tasks:
  - name: regional
    forEach: {region: '${`+list+`}'}
    apply: {apiVersion: v1, kind: ConfigMap, metadata: {name: '${"cfg-" + region}'}, data: {region: '${region}'}}
`)
		}
		applyFile(regions(`["eu", "us"]`))
		Eventually(phaseOf(ns, "web")).Should(Equal(execloopv1alpha1.PlanSucceeded))
		out, stderr, code := kubectlExecloop(ctx, "diff", "-f", regions(`["us", "ap"]`))
		Expect(stderr).To(BeEmpty())
		Expect(code).To(Equal(1))
		expectGolden(out, "diff-foreach", ns)
	})

	It("marks denied what the Plan's ServiceAccount may not do, naming the verb and the resource", func() {
		ns := namespace("diff-denied", "configmaps")
		file := writePlan(ns, `
apiVersion: execloop.dev/v1alpha1
kind: Plan
metadata: {name: web, namespace: NS}
spec:
  serviceAccountName: deployer
  tasks:
  - name: config
    apply: {apiVersion: v1, kind: ConfigMap, metadata: {name: config}, data: {a: b}}
  - name: creds
    apply: {apiVersion: v1, kind: Secret, metadata: {name: creds}, stringData: {password: x}}
`)
		out, stderr, code := kubectlExecloop(ctx, "diff", "-f", file)
		Expect(stderr).To(BeEmpty())
		Expect(code).To(Equal(2), "a task that would be denied: exit status 2")
		expectGolden(out, "diff-denied", ns)
	})

	It("marks blocked a custom resource whose CustomResourceDefinition the plan installs", func() {
		ns := namespace("diff-crd", "pods")
		file := writePlan(ns, `
apiVersion: execloop.dev/v1alpha1
kind: Plan
metadata: {name: widgets, namespace: NS}
spec:
  tasks:
  - name: crd
    apply:
      apiVersion: apiextensions.k8s.io/v1
      kind: CustomResourceDefinition
      metadata: {name: widgets.example.dev}
      spec:
        group: example.dev
        names: {kind: Widget, plural: widgets, singular: widget, listKind: WidgetList}
        scope: Namespaced
        versions:
        - name: v1
          served: true
          storage: true
          schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
  - name: widget
    after: [crd]
    apply: {apiVersion: example.dev/v1, kind: Widget, metadata: {name: w}, spec: {size: 3}}
`)
		out, stderr, code := kubectlExecloop(ctx, "diff", "-f", file)
		Expect(stderr).To(BeEmpty())
		Expect(code).To(Equal(1))
		expectGolden(out, "diff-crd", ns)
	})

	It("previews a patch as an update of the object someone else made, as the Plan's identity", func() {
		ns := namespace("diff-patch", "configmaps")
		Expect(k8sClient.Create(ctx, &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "shared", Labels: map[string]string{"owner": "platform"}},
			Data:       map[string]string{"a": "1"},
		})).To(Succeed())
		file := writePlan(ns, `
apiVersion: execloop.dev/v1alpha1
kind: Plan
metadata: {name: web, namespace: NS}
spec:
  serviceAccountName: deployer
  tasks:
  - name: label
    patch: {apiVersion: v1, kind: ConfigMap, metadata: {name: shared, labels: {team-a/enabled: "true"}}}
`)
		out, stderr, code := kubectlExecloop(ctx, "diff", "-f", file)
		Expect(stderr).To(BeEmpty())
		Expect(code).To(Equal(1))
		expectGolden(out, "diff-patch", ns)

		By("previewing the removal of the patch, once applied, as the fields given up")
		applyFile(file)
		Eventually(phaseOf(ns, "web")).Should(Equal(execloopv1alpha1.PlanSucceeded))
		removed := writePlan(ns, `
apiVersion: execloop.dev/v1alpha1
kind: Plan
metadata: {name: web, namespace: NS}
spec:
  serviceAccountName: deployer
  tasks:
  - name: other
    apply: {apiVersion: v1, kind: ConfigMap, metadata: {name: other}, data: {a: b}}
`)
		out, stderr, code = kubectlExecloop(ctx, "diff", "-f", removed)
		Expect(stderr).To(BeEmpty())
		Expect(code).To(Equal(1))
		expectGolden(out, "diff-unpatch", ns)
	})

	It("refuses a Plan the operator would not run, naming the task, with exit status 2", func() {
		ns := namespace("diff-invalid", "configmaps")
		file := writePlan(ns, `
apiVersion: execloop.dev/v1alpha1
kind: Plan
metadata: {name: web, namespace: NS}
spec:
  tasks:
  - name: app
    apply: {apiVersion: v1, kind: ConfigMap, metadata: {name: app}, data: {a: '${tasks.confg.object.data.a}'}}
`)
		out, stderr, code := kubectlExecloop(ctx, "diff", "-f", file)
		Expect(code).To(Equal(2))
		Expect(out).To(BeEmpty())
		Expect(stderr).To(And(ContainSubstring("task app"), ContainSubstring("confg")))
	})
})

var _ = Describe("kubectl execloop get, retry, suspend and resume", func() {
	It("shows a Plan's tasks as a tree, lists the Plans, and redraws with --watch as the status changes", func() {
		ns := namespace("get-tree", "configmaps")
		watchCtx, stop := context.WithCancel(ctx)
		defer stop()
		applyFile(writePlan(ns, `
apiVersion: execloop.dev/v1alpha1
kind: Plan
metadata: {name: shop, namespace: NS}
spec:
  serviceAccountName: deployer
  tasks:
  - name: config
    apply: {apiVersion: v1, kind: ConfigMap, metadata: {name: config}, data: {a: b}}
  - name: db
    after: [config]
    apply: {apiVersion: v1, kind: ConfigMap, metadata: {name: db}, data: {a: b}}
  - name: web
    after: [config, db]
    apply: {apiVersion: v1, kind: ConfigMap, metadata: {name: web}, data: {a: b}}
  - name: cache
    after: [config]
    apply: {apiVersion: v1, kind: ConfigMap, metadata: {name: cache}, data: {a: b}}
`))
		var watched syncBuffer
		watchDone := make(chan int)
		go func() {
			defer GinkgoRecover()
			out, _, code := kubectlExecloop(watchCtx, "get", "plan/shop", "-n", ns, "--watch")
			_, _ = watched.Write([]byte(out))
			watchDone <- code
		}()
		Eventually(phaseOf(ns, "shop")).Should(Equal(execloopv1alpha1.PlanSucceeded))
		out, stderr, code := kubectlExecloop(ctx, "get", "plan/shop", "-n", ns)
		Expect(stderr).To(BeEmpty())
		Expect(code).To(Equal(0))
		expectGolden(out, "get-tree", ns)

		out, _, code = kubectlExecloop(ctx, "get", "-n", ns)
		Expect(code).To(Equal(0))
		Expect(strings.Split(strings.TrimSpace(out), "\n")).To(HaveExactElements(
			MatchRegexp(`^NAME\s+PHASE\s+PROGRESS\s+AGE\s+MESSAGE$`), MatchRegexp(`^shop\s+Succeeded\s+4/4\s+\d+s$`)))
		out, _, _ = kubectlExecloop(ctx, "get", "-A")
		Expect(out).To(MatchRegexp(`(?m)^` + ns + `\s+shop\s+Succeeded`))
		_, stderr, code = kubectlExecloop(ctx, "get", "--watch", "-n", ns)
		Expect(code).To(Equal(2))
		Expect(stderr).To(ContainSubstring("--watch follows one Plan: name it"))

		// The watch's drawings, once it ends: the last one shows the plan done.
		Consistently(watchDone, "300ms").ShouldNot(Receive(), "--watch runs until interrupted")
		stop()
		Eventually(watchDone).Should(Receive(Equal(0)))
		drawings := strings.Split(strings.TrimSpace(watched.String()), "\n\n")
		Expect(len(drawings)).To(BeNumerically(">", 1), "one drawing per change:\n%s", watched.String())
		Expect(drawings[len(drawings)-1]).To(HavePrefix(ns + "/shop  Succeeded  4/4"))
	})

	It("retries a Stalled Plan, which its next pass clears, and suspends and resumes it, saying when the operator acted", func() {
		ns := namespace("retry-stalled", "pods") // deployer may not touch ConfigMaps yet
		applyFile(writePlan(ns, `
apiVersion: execloop.dev/v1alpha1
kind: Plan
metadata: {name: web, namespace: NS}
spec:
  serviceAccountName: deployer
  errorsToTolerate: 0
  sleepBetweenRuns: 1h
  stalledRetryInterval: 0s
  tasks:
  - name: config
    apply: {apiVersion: v1, kind: ConfigMap, metadata: {name: config}, data: {a: b}}
`))
		Eventually(func(g Gomega) {
			var p execloopv1alpha1.Plan
			g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "web"}, &p)).To(Succeed())
			g.Expect(p.Status.IsStalled(p.Generation)).To(BeTrue())
		}).Should(Succeed())
		// The RoleBinding it lacked: only a retry runs a pass now (no
		// retry of stalled plans, an hour between passes).
		var role rbacv1.Role
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "deployer"}, &role)).To(Succeed())
		role.Rules = []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"configmaps"},
			Verbs: []string{"get", "list", "watch", "create", "patch", "update", "delete"}}}
		Expect(k8sClient.Update(ctx, &role)).To(Succeed())

		out, stderr, code := kubectlExecloop(ctx, "retry", "plan/web", "-n", ns)
		Expect(stderr).To(BeEmpty())
		Expect(code).To(Equal(0))
		Expect(out).To(And(ContainSubstring("plan "+ns+"/web: retry requested at "), ContainSubstring("the operator started the pass")))
		Eventually(phaseOf(ns, "web")).Should(Equal(execloopv1alpha1.PlanSucceeded))

		out, _, code = kubectlExecloop(ctx, "suspend", "plan/web", "-n", ns)
		Expect(code).To(Equal(0))
		Expect(out).To(HaveSuffix("plan " + ns + "/web: suspended; phase Suspended\n"))
		_, stderr, code = kubectlExecloop(ctx, "retry", "plan/web", "-n", ns)
		Expect(code).To(Equal(2), "a retry would run no pass of a suspended Plan")
		Expect(stderr).To(ContainSubstring("is suspended (spec.suspend), and stays so through a retry: resume it first"))
		out, _, code = kubectlExecloop(ctx, "resume", "web", "-n", ns)
		Expect(code).To(Equal(0))
		Expect(out).To(HaveSuffix("plan " + ns + "/web: resumed; phase Succeeded\n"))

		_, stderr, code = kubectlExecloop(ctx, "retry", "configmap/web", "-n", ns)
		Expect(code).To(Equal(2))
		Expect(stderr).To(ContainSubstring(`"configmap/web" is not a Plan`))
	})

	It("explains each command with an example", func() {
		for _, args := range [][]string{{"--help"}, {"diff", "--help"}, {"get", "--help"}, {"retry", "--help"}, {"suspend", "--help"}, {"resume", "--help"}} {
			out, _, code := kubectlExecloop(ctx, args...)
			Expect(code).To(Equal(0), "%v", args)
			Expect(out).To(And(ContainSubstring("Examples:"), ContainSubstring("kubectl execloop ")), "%v", args)
		}
	})
})
