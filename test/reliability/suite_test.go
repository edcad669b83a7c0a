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

// Package reliability injects faults and bad input into the operator and
// counts what was lost or done twice (which must be nothing): API faults,
// SIGKILLs of the manager mid-plan, misbehaving tasks, invalid Plans,
// tenants that reach for each other's namespaces, and leaks. `make
// test-reliability` runs it and writes results.md with every figure.
package reliability

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	execloopv1alpha1 "github.com/execloop/execloop/api/v1alpha1"
	"github.com/execloop/execloop/test/support"
)

var results = flag.String("results", "", "write the figures to this Markdown file")

var (
	testEnv   *envtest.Environment
	cfg       *rest.Config
	k8sClient client.Client
	scheme    = runtime.NewScheme()
	root      = filepath.Join("..", "..")
	workDir   string
	auditLog  string
	figures   = &report{}
)

// report collects the figures of every suite, for results.md.
type report struct {
	mu       sync.Mutex
	sections map[string][]string
}

func (r *report) add(section, format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.sections == nil {
		r.sections = map[string][]string{}
	}
	r.sections[section] = append(r.sections[section], fmt.Sprintf(format, args...))
}

func (r *report) markdown() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var b strings.Builder
	b.WriteString("# execloop reliability and security figures\n\n")
	fmt.Fprintf(&b, "Produced by `make test-reliability` (`go test ./test/reliability -results test/reliability/results.md`) on %s, %s, against an envtest control plane (kube-apiserver and etcd built from source) with an audit log.\n\n",
		support.Machine(), time.Now().UTC().Format("2006-01-02"))
	keys := make([]string, 0, len(r.sections))
	for k := range r.sections {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "## %s\n\n", k)
		for _, l := range r.sections[k] {
			fmt.Fprintf(&b, "%s\n", l)
		}
		b.WriteString("\n")
	}
	return b.String()
}

// auditPolicy records who wrote ConfigMaps and Secrets, and how it went.
const auditPolicy = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
- level: Metadata
  resources:
  - group: ""
    resources: ["configmaps", "secrets"]
  verbs: ["create", "patch", "update", "delete"]
- level: None
`

func TestMain(m *testing.M) {
	flag.Parse()
	ctrl.SetLogger(logr.Discard())
	klog.SetLogger(logr.Discard()) // client-go's reflectors report every cut watch
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(execloopv1alpha1.AddToScheme(scheme))
	var err error
	if workDir, err = os.MkdirTemp("", "reliability-"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	policy := filepath.Join(workDir, "audit-policy.yaml")
	auditLog = filepath.Join(workDir, "audit.log")
	if err := os.WriteFile(policy, []byte(auditPolicy), 0o600); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	testEnv = &envtest.Environment{
		CRDDirectoryPaths:        []string{filepath.Join(root, "config", "crd", "bases")},
		ErrorIfCRDPathMissing:    true,
		BinaryAssetsDirectory:    support.AssetsDir(root),
		ControlPlaneStartTimeout: support.StartTimeout,
	}
	testEnv.ControlPlane.GetAPIServer().Configure().
		Append("audit-policy-file", policy).
		Append("audit-log-path", auditLog).
		Append("audit-log-mode", "blocking")
	if cfg, err = testEnv.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "starting the control plane:", err)
		_ = testEnv.Stop() // envtest leaves the control plane running when, say, the CRDs are refused
		os.Exit(1)
	}
	fast := rest.CopyConfig(cfg)
	fast.QPS, fast.Burst = 1000, 2000
	if k8sClient, err = client.New(fast, client.Options{Scheme: scheme}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		_ = testEnv.Stop()
		os.Exit(1)
	}
	code := m.Run()
	_ = testEnv.Stop()
	if *results != "" && code == 0 {
		if err := os.WriteFile(*results, []byte(figures.markdown()), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, err)
			code = 1
		}
	}
	_ = os.RemoveAll(workDir)
	os.Exit(code)
}

// auditEvent is the part of an audit log line the suites read.
type auditEvent struct {
	Verb      string `json:"verb"`
	ObjectRef struct {
		Resource  string `json:"resource"`
		Namespace string `json:"namespace"`
		Name      string `json:"name"`
	} `json:"objectRef"`
	User struct {
		Username string `json:"username"`
	} `json:"user"`
	ResponseStatus struct {
		Code int `json:"code"`
	} `json:"responseStatus"`
	RequestReceivedTimestamp metav1.MicroTime `json:"requestReceivedTimestamp"`
}

// auditedConfigMaps returns the audit events about ConfigMaps in a
// namespace.
func auditedConfigMaps(t testing.TB, namespace string) []auditEvent {
	t.Helper()
	f, err := os.Open(auditLog)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	var out []auditEvent
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		var e auditEvent
		if json.Unmarshal(sc.Bytes(), &e) == nil && e.ObjectRef.Resource == "configmaps" && e.ObjectRef.Namespace == namespace {
			out = append(out, e)
		}
	}
	return out
}

// creations counts, per object, the requests that created it: a create, or
// a server-side apply answered 201 Created.
func creations(events []auditEvent) map[string]int {
	out := map[string]int{}
	for _, e := range events {
		if e.ResponseStatus.Code == 201 {
			out[e.ObjectRef.Name]++
		}
	}
	return out
}

func newNamespace(t testing.TB, prefix string) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: prefix + "-"}}
	if err := k8sClient.Create(context.Background(), ns); err != nil {
		t.Fatal(err)
	}
	return ns.Name
}

// buildManager builds the manager binary once.
var buildManager = sync.OnceValues(func() (string, error) {
	bin := filepath.Join(workDir, "manager")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/manager")
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build: %w: %s", err, out)
	}
	return bin, nil
})
