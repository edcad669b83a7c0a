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
	"bytes"
	"context"
	"flag"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	execloopv1alpha1 "github.com/execloop/execloop/api/v1alpha1"
	"github.com/execloop/execloop/controllers"
	"github.com/execloop/execloop/execloop"
	"github.com/execloop/execloop/internal/cli"
	"github.com/execloop/execloop/test/support"
)

// update rewrites the golden files: go test ./internal/cli -update.
var update = flag.Bool("update", false, "rewrite testdata/*.golden from this run")

// definitionGroup is the one API group the suite's PlanDefinitions may
// serve.
const definitionGroup = "cli.example.com"

var (
	ctx        context.Context
	cancel     context.CancelFunc
	testEnv    *envtest.Environment
	k8sClient  client.Client
	kubeconfig string
	mgrDone    chan struct{}
	// managerLog is what the manager logged, as it logs it.
	managerLog = &syncBuffer{}
)

func TestCLI(t *testing.T) {
	RegisterFailHandler(Fail)
	SetDefaultEventuallyTimeout(20 * time.Second)
	SetDefaultEventuallyPollingInterval(100 * time.Millisecond)
	RunSpecs(t, "kubectl execloop Suite")
}

var _ = BeforeSuite(func() {
	logf.SetLogger(zap.New(zap.WriteTo(io.MultiWriter(GinkgoWriter, managerLog)), zap.UseDevMode(true)))
	ctx, cancel = context.WithCancel(context.TODO())
	testEnv = &envtest.Environment{
		CRDDirectoryPaths:        []string{filepath.Join("..", "..", "config", "crd", "bases")},
		ErrorIfCRDPathMissing:    true,
		BinaryAssetsDirectory:    support.AssetsDir(filepath.Join("..", "..")),
		ControlPlaneStartTimeout: support.StartTimeout,
	}
	cfg, err := testEnv.Start()
	Expect(err).NotTo(HaveOccurred())
	k8sClient, err = client.New(cfg, client.Options{Scheme: cli.Scheme()})
	Expect(err).NotTo(HaveOccurred())

	// The plugin runs as a user would: from a kubeconfig, as an admin.
	admin, err := testEnv.AddUser(envtest.User{Name: "admin", Groups: []string{"system:masters"}}, nil)
	Expect(err).NotTo(HaveOccurred())
	b, err := admin.KubeConfig()
	Expect(err).NotTo(HaveOccurred())
	kubeconfig = filepath.Join(GinkgoT().TempDir(), "kubeconfig")
	Expect(os.WriteFile(kubeconfig, b, 0o600)).To(Succeed())

	// The manager's scheme has CRDs too: the PlanDefinition controller
	// generates them.
	mgrScheme := cli.Scheme()
	utilruntime.Must(apiextensionsv1.AddToScheme(mgrScheme))
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme: mgrScheme, Metrics: metricsserver.Options{BindAddress: "0"}, HealthProbeBindAddress: "0",
	})
	Expect(err).NotTo(HaveOccurred())
	plans := &controllers.PlanReconciler{
		Defaults:                execloop.Options{SleepBetweenRuns: 200 * time.Millisecond, ErrorsToTolerate: 3},
		MaxConcurrentReconciles: 2,
		MaxBackoff:              2 * time.Second,
	}
	Expect(plans.SetupWithManager(mgr)).To(Succeed())
	Expect((&controllers.PlanDefinitionReconciler{Plans: plans, Groups: []string{definitionGroup}}).SetupWithManager(mgr)).To(Succeed())
	mgrDone = make(chan struct{})
	go func() {
		defer GinkgoRecover()
		defer close(mgrDone)
		Expect(mgr.Start(ctx)).To(Succeed())
	}()
})

// AfterSuite stops only what was started, also after a BeforeSuite that
// failed half-way, so that no control plane outlives the suite.
var _ = AfterSuite(func() {
	if cancel != nil {
		cancel()
	}
	if mgrDone != nil {
		<-mgrDone
	}
	if testEnv != nil {
		Expect(testEnv.Stop()).To(Succeed())
	}
})

// syncBuffer is a buffer the plugin writes to while a test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// kubectlExecloop runs the plugin with args, as the admin of the
// kubeconfig, and returns its output and exit status.
func kubectlExecloop(ctx context.Context, args ...string) (stdout, stderr string, code int) {
	var out, errOut syncBuffer
	code = cli.Run(ctx, append([]string{"--kubeconfig", kubeconfig}, args...),
		genericiooptions.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut})
	return out.String(), errOut.String(), code
}

var (
	uidPattern = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)
	agePattern = regexp.MustCompile(`attempts (\d+) *\d+[smh]`)
)

// expectGolden compares out, its UIDs, ages and the test's namespace ns
// replaced, with testdata/name.golden.
func expectGolden(out, name, ns string) {
	GinkgoHelper()
	out = strings.ReplaceAll(out, ns, "<ns>")
	out = uidPattern.ReplaceAllString(out, "<uid>")
	out = agePattern.ReplaceAllString(out, "attempts $1 <age>")
	path := filepath.Join("testdata", name+".golden")
	if *update {
		Expect(os.WriteFile(path, []byte(out), 0o644)).To(Succeed())
	}
	want, err := os.ReadFile(path)
	Expect(err).NotTo(HaveOccurred(), "no golden file; go test ./internal/cli -update writes it")
	Expect(out).To(Equal(string(want)))
}

// namespace makes a namespace named after base, with ServiceAccount
// deployer, which may do everything to resources (of the core group)
// there, and returns its name.
func namespace(base string, resources ...string) string {
	GinkgoHelper()
	n := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: base + "-"}}
	Expect(k8sClient.Create(ctx, n)).To(Succeed())
	name := n.Name
	Expect(k8sClient.Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: name, Name: "deployer"}})).To(Succeed())
	Expect(k8sClient.Create(ctx, &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Namespace: name, Name: "deployer"},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: resources,
			Verbs: []string{"get", "list", "watch", "create", "patch", "update", "delete"}}},
	})).To(Succeed())
	Expect(k8sClient.Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Namespace: name, Name: "deployer"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "deployer"},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: name, Name: "deployer"}},
	})).To(Succeed())
	return name
}

// writePlan writes a Plan's YAML, NS replaced by ns, to a file and returns
// its path.
func writePlan(ns, yaml string) string {
	GinkgoHelper()
	path := filepath.Join(GinkgoT().TempDir(), "plan.yaml")
	Expect(os.WriteFile(path, []byte(strings.ReplaceAll(yaml, "NS", ns)), 0o600)).To(Succeed())
	return path
}

func phaseOf(ns, name string) func(Gomega) execloopv1alpha1.PlanPhase {
	return func(g Gomega) execloopv1alpha1.PlanPhase {
		var p execloopv1alpha1.Plan
		g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &p)).To(Succeed())
		return p.Status.Phase
	}
}
