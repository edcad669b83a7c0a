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
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	execloopv1alpha1 "github.com/execloop/execloop/api/v1alpha1"
	"github.com/execloop/execloop/execloop/reconciler/status"
	"github.com/execloop/execloop/internal/manifest"
	"github.com/execloop/execloop/test/support"
)

// --- helpers ---

func configMapTask(name, after string) execloopv1alpha1.PlanTask {
	t := execloopv1alpha1.PlanTask{Name: name, Apply: raw(map[string]any{
		"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": name}, "data": map[string]any{"task": name},
	})}
	if after != "" {
		t.After = []string{after}
	}
	return t
}

func deploymentTask(name, after string) execloopv1alpha1.PlanTask {
	labels := map[string]any{"app": name}
	t := execloopv1alpha1.PlanTask{Name: name, Apply: raw(map[string]any{
		"apiVersion": "apps/v1", "kind": "Deployment", "metadata": map[string]any{"name": name},
		"spec": map[string]any{
			"replicas": 1, "selector": map[string]any{"matchLabels": labels},
			"template": map[string]any{
				"metadata": map[string]any{"labels": labels},
				"spec":     map[string]any{"containers": []any{map[string]any{"name": "app", "image": "registry.example/app:1"}}},
			},
		},
	})}
	if after != "" {
		t.After = []string{after}
	}
	return t
}

func raw(obj map[string]any) *runtime.RawExtension {
	b, err := json.Marshal(obj)
	Expect(err).NotTo(HaveOccurred())
	return &runtime.RawExtension{Raw: b}
}

func getPlan(g Gomega, ns, name string) *execloopv1alpha1.Plan {
	p := &execloopv1alpha1.Plan{}
	g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, p)).To(Succeed())
	return p
}

func phaseOf(ns, name string) func(Gomega) execloopv1alpha1.PlanPhase {
	return func(g Gomega) execloopv1alpha1.PlanPhase { return getPlan(g, ns, name).Status.Phase }
}

func taskStateOf(ns, plan, task string) func(Gomega) status.TaskState {
	return func(g Gomega) status.TaskState {
		if t := getPlan(g, ns, plan).Status.Task(task); t != nil {
			return t.State
		}
		return ""
	}
}

func uidOf(obj client.Object, ns, name string) types.UID {
	Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, obj)).To(Succeed())
	return obj.GetUID()
}

// applySample creates the Plans of config/samples in namespace ns.
func applySample(ns string) {
	b, err := os.ReadFile(filepath.Join(root, "config", "samples", "execloop_v1alpha1_plan.yaml"))
	Expect(err).NotTo(HaveOccurred())
	p := &execloopv1alpha1.Plan{}
	Expect(yaml.UnmarshalStrict(b, p)).To(Succeed())
	p.Namespace = ns
	p.Spec.SleepBetweenRuns = &metav1.Duration{Duration: 200 * time.Millisecond}
	Expect(k8sClient.Create(ctx, p)).To(Succeed())
}

// installObjects returns the objects of `kustomize build config/default`,
// which is what `make build-installer` writes to dist/install.yaml.
func installObjects() []*unstructured.Unstructured {
	cmd := exec.Command(filepath.Join("bin", "kustomize"), "build", filepath.Join("config", "default"))
	cmd.Dir = root
	out, err := cmd.Output()
	Expect(err).NotTo(HaveOccurred(), "kustomize build config/default (make test-e2e installs kustomize into bin/)")
	objs, err := manifest.Read(bytes.NewReader(out))
	Expect(err).NotTo(HaveOccurred())
	return objs
}

// tokenKubeconfig writes a kubeconfig that authenticates as a
// ServiceAccount with a token from the TokenRequest API.
func tokenKubeconfig(ns, sa string) string {
	token, err := support.ServiceAccountToken(ctx, k8sClient, ns, sa)
	Expect(err).NotTo(HaveOccurred())
	kc := clientcmdapi.NewConfig()
	kc.Clusters["envtest"] = &clientcmdapi.Cluster{Server: cfg.Host, CertificateAuthorityData: cfg.CAData}
	kc.AuthInfos[sa] = &clientcmdapi.AuthInfo{Token: token}
	kc.Contexts["sa"] = &clientcmdapi.Context{Cluster: "envtest", AuthInfo: sa}
	kc.CurrentContext = "sa"
	path := filepath.Join(workDir, sa+".kubeconfig")
	Expect(clientcmd.WriteToFile(*kc, path)).To(Succeed())
	return path
}

// --- specs ---

var _ = Describe("The manager binary", Ordered, func() {
	It("converges the sample and an after chain, recording every task", func() {
		ns := newNamespace()
		m := startManager("converge", kubeconfig)
		DeferCleanup(m.kill, syscall.SIGTERM)

		applySample(ns)
		chain := &execloopv1alpha1.Plan{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "chain"}, Spec: execloopv1alpha1.PlanSpec{
			Tasks: []execloopv1alpha1.PlanTask{configMapTask("c", "b"), configMapTask("a", ""), configMapTask("b", "a")},
		}}
		Expect(k8sClient.Create(ctx, chain)).To(Succeed())

		Eventually(phaseOf(ns, "chain")).Should(Equal(execloopv1alpha1.PlanSucceeded))
		p := getPlan(Default, ns, "chain")
		Expect(p.Status.Progress).To(Equal("3/3"))
		Expect(p.Status.Objects).To(HaveLen(3))
		Expect([]string{p.Status.Objects[0].Task, p.Status.Objects[1].Task, p.Status.Objects[2].Task}).To(Equal([]string{"a", "b", "c"}))
		for _, t := range p.Status.Tasks {
			Expect(t.State).To(Equal(status.TaskSucceeded))
			Expect(t.Attempts).To(Equal(int32(1)))
		}

		By("looking at it with the kubectl plugin, as a user would")
		plugin := func(args ...string) (string, int) {
			cmd := exec.Command(pluginBin, append([]string{"--kubeconfig", kubeconfig, "-n", ns}, args...)...)
			out, err := cmd.CombinedOutput()
			var exit *exec.ExitError
			if errors.As(err, &exit) {
				return string(out), exit.ExitCode()
			}
			Expect(err).NotTo(HaveOccurred())
			return string(out), 0
		}
		out, code := plugin("get", "plan/chain")
		Expect(code).To(Equal(0), out)
		Expect(out).To(And(HavePrefix(ns+"/chain  Succeeded  3/3\n"), MatchRegexp(`(?m)^✓ a +Succeeded +attempts 1 `), MatchRegexp(`(?m)^└─ ✓ b `)))
		out, code = plugin("diff", "plan/chain")
		Expect(code).To(Equal(0), "a converged plan changes nothing:\n%s", out)
		Expect(out).To(MatchRegexp(`(?m)^  unchanged +c +ConfigMap ` + ns + `/c$`))

		// The cluster's controllers and kwok's node roll the Deployment out:
		// nobody touches it.
		Eventually(phaseOf(ns, "web")).Should(Equal(execloopv1alpha1.PlanSucceeded))
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "web"}, &corev1.Service{})).To(Succeed())
		Expect(m.logs()).To(ContainSubstring(`"task":"config"`), "structured logs name the task")
	})

	It("resumes after SIGKILL mid-plan without creating anything twice or losing status", func() {
		ns := newNamespace()
		first := startManager("before-kill", kubeconfig)
		// db's pod stays Pending, and the plan waits for it, until the hold
		// is released.
		hold := holdLabel(ns)
		plan := &execloopv1alpha1.Plan{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "crash"}, Spec: execloopv1alpha1.PlanSpec{
			Tasks: []execloopv1alpha1.PlanTask{configMapTask("config", ""), onNodesLabelled(deploymentTask("db", "config"), hold), configMapTask("app", "db")},
		}}
		Expect(k8sClient.Create(ctx, plan)).To(Succeed())
		Eventually(taskStateOf(ns, "crash", "db")).Should(Equal(status.TaskInProgress))
		configUID := uidOf(&corev1.ConfigMap{}, ns, "config")
		dbUID := uidOf(&appsv1.Deployment{}, ns, "db")
		before := getPlan(Default, ns, "crash").Status

		first.kill(syscall.SIGKILL)
		Expect(first.cmd.ProcessState.Sys().(syscall.WaitStatus).Signal()).To(Equal(syscall.SIGKILL))

		second := startManager("after-kill", kubeconfig)
		DeferCleanup(second.kill, syscall.SIGTERM)
		// The window opens once the second manager has made a pass over the
		// plan: opened at its start, a busy machine could spend the whole
		// window starting the manager, and nothing would be tested.
		Eventually(second.logs).Should(MatchRegexp(`"msg":"plan Create returned[^\n]*"namespace":"`+ns+`"`), "the second manager made a pass over the plan")
		Consistently(taskStateOf(ns, "crash", "db"), 2*time.Second).Should(Equal(status.TaskInProgress))
		releaseHold(hold)
		Eventually(phaseOf(ns, "crash")).Should(Equal(execloopv1alpha1.PlanSucceeded))

		Expect(uidOf(&corev1.ConfigMap{}, ns, "config")).To(Equal(configUID), "config was not created again")
		Expect(uidOf(&appsv1.Deployment{}, ns, "db")).To(Equal(dbUID), "db was not created again")
		after := getPlan(Default, ns, "crash").Status
		Expect(after.Task("config").Attempts).To(Equal(int32(1)), "the finished task did not run again")
		Expect(after.Task("config").FinishedTime).To(Equal(before.Task("config").FinishedTime), "its status was kept")
		Expect(after.Task("db").StartedTime).To(Equal(before.Task("db").StartedTime), "the wait went on with the same attempt")
		Expect(after.Task("db").Attempts).To(Equal(int32(1)))
		Expect(after.Objects).To(HaveLen(3))
	})

	It("runs with leader election: one manager reconciles, the other takes over when it dies", func() {
		ns := newNamespace()
		leaderArgs := []string{"--leader-elect", "--leader-election-namespace=" + ns}
		a := startManager("leader-a", kubeconfig, leaderArgs...)
		Eventually(a.logs).Should(ContainSubstring("Successfully acquired lease"))
		b := startManager("leader-b", kubeconfig, leaderArgs...)
		DeferCleanup(b.kill, syscall.SIGTERM)
		Eventually(b.logs).Should(ContainSubstring("Attempting to acquire leader lease"))

		hold := holdLabel(ns)
		plan := &execloopv1alpha1.Plan{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "elected"}, Spec: execloopv1alpha1.PlanSpec{
			Tasks: []execloopv1alpha1.PlanTask{configMapTask("config", ""), onNodesLabelled(deploymentTask("db", "config"), hold), configMapTask("app", "db")},
		}}
		Expect(k8sClient.Create(ctx, plan)).To(Succeed())
		Eventually(taskStateOf(ns, "elected", "db")).Should(Equal(status.TaskInProgress))
		Expect(a.logs()).To(ContainSubstring("Starting workers"))
		Expect(b.logs()).NotTo(ContainSubstring("Starting workers"), "only the leader reconciles")
		Expect(b.logs()).NotTo(ContainSubstring("plan Create returned"))

		a.kill(syscall.SIGKILL)
		lease := &coordinationv1.Lease{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "manager.execloop.dev"}, lease)).To(Succeed())
		lastRenew := lease.Spec.RenewTime.Time // the dead leader's last word
		holder := *lease.Spec.HolderIdentity
		duration := time.Duration(ptr.Deref(lease.Spec.LeaseDurationSeconds, 15)) * time.Second

		Eventually(b.logs, duration+15*time.Second).Should(ContainSubstring("Successfully acquired lease"))
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "manager.execloop.dev"}, lease)).To(Succeed())
		Expect(*lease.Spec.HolderIdentity).NotTo(Equal(holder))
		// The lease has to expire first, as the candidate saw it renewed,
		// and the candidate looks every retry period (2s): a figure to
		// report, not a wall-clock limit to assert on a busy machine.
		tookOver := lease.Spec.AcquireTime.Sub(lastRenew)
		GinkgoWriter.Printf("the second manager took the lease %s after the dead leader's last renewal (lease duration %s, retry period 2s)\n", tookOver, duration)
		Expect(tookOver).To(BeNumerically(">=", duration), "not before the dead leader's lease expired")

		releaseHold(hold)
		Eventually(phaseOf(ns, "elected")).Should(Equal(execloopv1alpha1.PlanSucceeded))
		Expect(b.logs()).To(ContainSubstring("plan Create returned"))
	})

	It("installs from config/default, and runs with nothing but the RBAC it generates", func() {
		By("applying every manifest of the install for real")
		var deployment *unstructured.Unstructured
		for _, u := range installObjects() {
			if u.GetKind() == "CustomResourceDefinition" {
				continue // installed with the control plane; equal, so a no-op
			}
			Expect(k8sClient.Apply(ctx, client.ApplyConfigurationFromUnstructured(u), client.FieldOwner("e2e"), client.ForceOwnership)).
				To(Succeed(), "%s %s", u.GetKind(), u.GetName())
			if u.GetKind() == "Deployment" {
				deployment = u
			}
		}
		Expect(deployment).NotTo(BeNil())
		Expect(deployment.GetNamespace()).To(Equal("execloop-system"))

		By("running the manager as its ServiceAccount")
		kc := tokenKubeconfig("execloop-system", "execloop-controller-manager")
		m := startManager("as-rbac", kc, "--leader-elect", "--leader-election-namespace=execloop-system")
		DeferCleanup(m.kill, syscall.SIGTERM)

		ns := newNamespace()
		By("giving new Plans the cleanup finalizer at admission, with the policy and binding as kustomize named them")
		Expect(support.AwaitFinalizerPolicy(ctx, k8sClient, ns, 30*time.Second)).To(Succeed())
		applySample(ns)
		Eventually(phaseOf(ns, "web")).Should(Equal(execloopv1alpha1.PlanSucceeded))
		Expect(m.logs()).NotTo(ContainSubstring("forbidden"), "the generated RBAC is enough")

		By("deleting the plan: the cleanup runs with the same RBAC")
		Expect(k8sClient.Delete(ctx, getPlan(Default, ns, "web"))).To(Succeed())
		Eventually(func() bool {
			return apierrors.IsNotFound(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "web"}, &execloopv1alpha1.Plan{}))
		}).Should(BeTrue())
		for _, obj := range []client.Object{&corev1.ConfigMap{}, &appsv1.Deployment{}, &corev1.Service{}} {
			name := "web"
			if _, ok := obj.(*corev1.ConfigMap); ok {
				name = "web-config"
			}
			Expect(apierrors.IsNotFound(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, obj))).To(BeTrue(), "%T %s was deleted", obj, name)
		}
	})

	It("turns invalid plans away with messages that name the field", func() {
		ns := newNamespace()
		cases := map[string]execloopv1alpha1.PlanSpec{
			"exactly one of apply, delete, wait and patch must be set": {Tasks: []execloopv1alpha1.PlanTask{{Name: "idle"}}},
			"after must not name the task itself":                      {Tasks: []execloopv1alpha1.PlanTask{configMapTask("self", "self")}},
			"task orphan: after names ghost, which is not a task of this plan": {
				Tasks: []execloopv1alpha1.PlanTask{configMapTask("orphan", "ghost")},
			},
		}
		for message, spec := range cases {
			err := k8sClient.Create(ctx, &execloopv1alpha1.Plan{ObjectMeta: metav1.ObjectMeta{Namespace: ns, GenerateName: "bad-"}, Spec: spec})
			Expect(err).To(HaveOccurred())
			Expect(apierrors.IsInvalid(err)).To(BeTrue())
			Expect(err.Error()).To(ContainSubstring(message))
			Expect(err.Error()).To(ContainSubstring("spec.tasks"))
		}
	})
})
