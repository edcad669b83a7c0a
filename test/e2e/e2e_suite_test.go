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

// Package e2e runs the real manager binary, as a user would, against a
// whole local cluster the suite starts (internal/localcluster: a
// controller-manager, a scheduler and kwok's fake node beside the API
// server): samples and chains converge, a manager killed with SIGKILL
// mid-plan resumes without creating anything twice, two managers share the
// work through leader election, the manager runs with nothing but the RBAC
// that config/ generates, deletion cleans up and invalid plans are turned
// away; and what only a real cluster shows: Deployments that really roll
// out, Jobs that complete or fail, the garbage collector meeting a deleted
// Plan, a deleted Namespace holding a Plan.
package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	execloopv1alpha1 "github.com/execloop/execloop/api/v1alpha1"
	"github.com/execloop/execloop/internal/localcluster"
	"github.com/execloop/execloop/test/support"
)

var (
	ctx        context.Context
	cancel     context.CancelFunc
	cluster    *localcluster.Cluster
	cfg        *rest.Config
	k8sClient  client.Client
	scheme     = runtime.NewScheme()
	root       = filepath.Join("..", "..")
	managerBin string
	kubeconfig string // the control plane's admin
	pluginBin  string // kubectl-execloop, built
	workDir    string
)

func TestE2E(t *testing.T) {
	RegisterFailHandler(Fail)
	SetDefaultEventuallyTimeout(45 * time.Second)
	SetDefaultEventuallyPollingInterval(200 * time.Millisecond)
	RunSpecs(t, "End-to-end Suite")
}

var _ = BeforeSuite(func() {
	ctx, cancel = context.WithCancel(context.Background())
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(execloopv1alpha1.AddToScheme(scheme))
	workDir = GinkgoT().TempDir()

	By("building the manager binary")
	managerBin = filepath.Join(workDir, "manager")
	build := exec.Command("go", "build", "-o", managerBin, "./cmd/manager")
	build.Dir = root
	out, err := build.CombinedOutput()
	Expect(err).NotTo(HaveOccurred(), string(out))
	By("building the kubectl plugin")
	pluginBin = filepath.Join(workDir, "kubectl-execloop")
	build = exec.Command("go", "build", "-o", pluginBin, "./cmd/kubectl-execloop")
	build.Dir = root
	out, err = build.CombinedOutput()
	Expect(err).NotTo(HaveOccurred(), string(out))

	By("starting the local cluster")
	assets := os.Getenv("KUBEBUILDER_ASSETS") // make test-e2e's
	if assets == "" {
		assets = support.AssetsDir(root)
	}
	start := time.Now()
	cluster, err = localcluster.Start(ctx, localcluster.Options{
		BinaryDir:         assets,
		CRDDirectoryPaths: []string{filepath.Join(root, "config", "crd", "bases")},
		StartTimeout:      support.StartTimeout,
	})
	Expect(err).NotTo(HaveOccurred())
	GinkgoWriter.Printf("the local cluster started in %s\n", time.Since(start).Round(time.Millisecond))
	cfg = cluster.Config
	k8sClient, err = client.New(cfg, client.Options{Scheme: scheme})
	Expect(err).NotTo(HaveOccurred())
	kubeconfig = filepath.Join(workDir, "admin.kubeconfig")
	Expect(os.WriteFile(kubeconfig, cluster.KubeConfig, 0o600)).To(Succeed())
})

var _ = AfterSuite(func() {
	stopAll()
	cancel()
	if cluster != nil {
		Expect(cluster.Stop()).To(Succeed())
	}
})

// managerProcess is a running manager binary; its output goes to a file.
type managerProcess struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{}
}

var (
	processesMu sync.Mutex
	processes   []*managerProcess
)

// startManager runs the manager binary with a kubeconfig and extra flags.
func startManager(name, kubeconfig string, args ...string) *managerProcess {
	logPath := filepath.Join(workDir, name+".log")
	out, err := os.Create(logPath)
	Expect(err).NotTo(HaveOccurred())
	args = append([]string{
		"--kubeconfig", kubeconfig, "--health-probe-bind-address=0",
		"--sleep-between-runs=200ms", "--zap-devel=false", "--zap-log-level=debug",
	}, args...)
	cmd := exec.Command(managerBin, args...)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.Dir = root
	Expect(cmd.Start()).To(Succeed())
	p := &managerProcess{name: name, cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		_ = out.Close()
		close(p.done)
	}()
	processesMu.Lock()
	processes = append(processes, p)
	processesMu.Unlock()
	return p
}

// kill stops the process with a signal and waits for it.
func (p *managerProcess) kill(sig syscall.Signal) {
	select {
	case <-p.done:
		return
	default:
	}
	Expect(p.cmd.Process.Signal(sig)).To(Succeed())
	Eventually(p.done, 30*time.Second).Should(BeClosed())
}

// logs returns what the process wrote so far.
func (p *managerProcess) logs() string {
	b, _ := os.ReadFile(p.log)
	return string(b)
}

func stopAll() {
	processesMu.Lock()
	defer processesMu.Unlock()
	for _, p := range processes {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-p.done:
			case <-time.After(20 * time.Second):
				_ = p.cmd.Process.Kill()
			}
		}
	}
	processes = nil
}

// When a spec fails, the tail of each manager's log, and of the cluster's
// controllers', goes to its output.
var _ = JustAfterEach(func() {
	if !CurrentSpecReport().Failed() {
		return
	}
	processesMu.Lock()
	defer processesMu.Unlock()
	for _, p := range processes {
		GinkgoWriter.Printf("--- last lines of the log of %s:\n%s\n", p.name, lastLines(p.logs(), 80))
	}
	for _, name := range []string{"kube-controller-manager", "kube-scheduler", "kwok"} {
		b, _ := os.ReadFile(filepath.Join(cluster.Dir, name+".log"))
		GinkgoWriter.Printf("--- last lines of the log of %s:\n%s\n", name, lastLines(string(b), 30))
	}
})

func newNamespace() string {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "e2e-"}}
	Expect(k8sClient.Create(ctx, ns)).To(Succeed())
	return ns.Name
}

// lastLines returns the last n lines of text.
func lastLines(text string, n int) string {
	lines := strings.Split(text, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
