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

// Package bench measures what execloop costs at scale, as ratios against
// baselines run side by side in the same process against the same control
// plane: a hand-written controller-runtime reconciler, and a reconciler that
// blocks on the whole plan as the original engine did. `make bench` runs the
// whole matrix and writes results.md; `make test` runs a small smoke version
// so that the harness cannot rot.
package bench

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"

	"github.com/go-logr/logr"
	dto "github.com/prometheus/client_model/go"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apimachinery/pkg/util/sets"
	apirequest "k8s.io/apiserver/pkg/endpoints/request"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	execloopv1alpha1 "github.com/execloop/execloop/api/v1alpha1"
	"github.com/execloop/execloop/test/support"
)

var (
	full    = flag.Bool("full", false, "run the whole benchmark matrix (make bench) instead of the smoke version")
	results = flag.String("results", "", "write the results table to this Markdown file")
	scale   = flag.Float64("scale", 1, "with -full, scale every number of plans by this factor: 0.02 runs the whole matrix in a few minutes, to check the harness")
)

var (
	testEnv    *envtest.Environment
	cfg        *rest.Config
	k8sClient  client.Client
	k8sWatcher client.WithWatch
	scheme     = runtime.NewScheme()
)

func TestMain(m *testing.M) {
	flag.Parse()
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(apiextensionsv1.AddToScheme(scheme)) // the PlanDefinition controller reads CRDs
	utilruntime.Must(execloopv1alpha1.AddToScheme(scheme))
	root := filepath.Join("..", "..")
	testEnv = &envtest.Environment{
		CRDDirectoryPaths:        []string{filepath.Join(root, "config", "crd", "bases")},
		ErrorIfCRDPathMissing:    true,
		BinaryAssetsDirectory:    support.AssetsDir(root),
		ControlPlaneStartTimeout: support.StartTimeout,
	}
	// Each scenario ends by deleting what it made with deletecollection
	// requests, which only the harness sends; the API server serves them
	// one object at a time unless given workers. With eight, deleting 1,000
	// plans and what they applied took half as long (10.6 s against 20.3 s).
	testEnv.ControlPlane.GetAPIServer().Configure().Set("delete-collection-workers", "8")
	var err error
	if cfg, err = testEnv.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "starting the control plane:", err)
		_ = testEnv.Stop() // envtest leaves the control plane running when, say, the CRDs are refused
		os.Exit(1)
	}
	// The harness's own client: fast, and not counted.
	if k8sWatcher, err = client.NewWithWatch(fastConfig(), client.Options{Scheme: scheme}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		_ = testEnv.Stop()
		os.Exit(1)
	}
	k8sClient = k8sWatcher
	if err := installFinalizerPolicy(root); err != nil {
		fmt.Fprintln(os.Stderr, "installing the finalizer policy:", err)
		_ = testEnv.Stop()
		os.Exit(1)
	}
	// The controllers' logs: dropped, with debug off, as in production.
	ctrl.SetLogger(logr.Discard())
	code := m.Run()
	_ = testEnv.Stop()
	os.Exit(code)
}

// installFinalizerPolicy installs the MutatingAdmissionPolicy that
// config/default ships, which gives new Plans execloop's cleanup finalizer,
// bound to the namespaces labelled execloopNamespace; it returns once the
// API server applies it.
func installFinalizerPolicy(root string) error {
	ctx := context.Background()
	probe := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "bench-policy-probe", Labels: map[string]string{execloopNamespace: "true"}}}
	if err := k8sClient.Create(ctx, probe); err != nil {
		return err
	}
	return support.InstallFinalizerPolicy(ctx, k8sClient, root,
		map[string]any{"matchLabels": map[string]any{execloopNamespace: "true"}}, probe.Name, time.Minute)
}

// fastConfig is the harness's own config: not rate-limited, not counted.
func fastConfig() *rest.Config {
	c := rest.CopyConfig(cfg)
	c.QPS, c.Burst = 1000, 2000
	return c
}

// requests counts the API requests a controller makes, by verb, through a
// transport wrapped around its REST config.
type requests struct {
	mu     sync.Mutex
	verbs  map[string]int
	status int // writes to a status subresource
	info   *apirequest.RequestInfoFactory
}

func newRequests() *requests {
	return &requests{verbs: map[string]int{}, info: &apirequest.RequestInfoFactory{
		APIPrefixes: sets.NewString("api", "apis"), GrouplessAPIPrefixes: sets.NewString("api"),
	}}
}

// config returns a copy of the control plane's config whose requests r
// counts. It sets no client-side rate limit, as controller-runtime's
// GetConfig gives operators none (QPS -1) unless their flags set one.
func (r *requests) config() *rest.Config {
	c := rest.CopyConfig(cfg)
	c.QPS, c.Burst = -1, 0
	c.WrapTransport = func(rt http.RoundTripper) http.RoundTripper {
		return roundTripFunc(func(req *http.Request) (*http.Response, error) {
			r.count(req)
			return rt.RoundTrip(req)
		})
	}
	return c
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }

func (r *requests) count(req *http.Request) {
	info, err := r.info.NewRequestInfo(req)
	verb := "other"
	if err == nil && info.IsResourceRequest {
		verb = info.Verb
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.verbs[verb]++
	if err == nil && info.Subresource == "status" && (verb == "patch" || verb == "update") {
		r.status++
	}
}

func (r *requests) snapshot() (map[string]int, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]int, len(r.verbs))
	for k, v := range r.verbs {
		out[k] = v
	}
	return out, r.status
}

// writes is the number of requests that change something.
func writes(verbs map[string]int) int {
	return verbs["create"] + verbs["update"] + verbs["patch"] + verbs["delete"]
}

// formatVerbs lists the counts by verb, most first.
func formatVerbs(verbs map[string]int) string {
	if len(verbs) == 0 {
		return "none"
	}
	keys := make([]string, 0, len(verbs))
	for k := range verbs {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		return verbs[keys[i]] > verbs[keys[j]] || (verbs[keys[i]] == verbs[keys[j]] && keys[i] < keys[j])
	})
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, verbs[k])
	}
	return strings.Join(parts, ", ")
}

// reconciles returns controller-runtime's count of reconciles of a
// controller, all results together.
func reconciles(controller string) float64 {
	families, err := metrics.Registry.Gather()
	if err != nil {
		return 0
	}
	total := 0.0
	for _, f := range families {
		if f.GetName() != "controller_runtime_reconcile_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			if label(m, "controller") == controller {
				total += m.GetCounter().GetValue()
			}
		}
	}
	return total
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

// cpuTime is the CPU time this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// clockTicks is the unit of the CPU times in /proc/<pid>/stat: USER_HZ,
// which is 100 on every Linux this harness runs on.
const clockTicks = 100

// controlPlaneCPU is the CPU time this run's kube-apiserver and etcd have
// used so far, read from /proc: etcd is the process started with this run's
// data directory, the API server the one pointed at this run's etcd, so the
// control planes of other test packages running at the same time are not
// counted. ok is false where /proc cannot tell (not Linux).
func controlPlaneCPU() (apiserver, etcd time.Duration, ok bool) {
	e := testEnv.ControlPlane.Etcd
	if e == nil || e.URL == nil {
		return 0, 0, false
	}
	pids, err := filepath.Glob("/proc/[0-9]*")
	if err != nil {
		return 0, 0, false
	}
	var foundAPIServer, foundEtcd bool
	for _, dir := range pids {
		cmdline, err := os.ReadFile(filepath.Join(dir, "cmdline"))
		if err != nil {
			continue
		}
		args := strings.Split(string(cmdline), "\x00")
		switch {
		case slices.Contains(args, "--data-dir="+e.DataDir):
			etcd, foundEtcd = processCPU(dir), true
		case slices.Contains(args, "--etcd-servers="+e.URL.String()):
			apiserver, foundAPIServer = processCPU(dir), true
		}
	}
	return apiserver, etcd, foundAPIServer && foundEtcd
}

// processCPU is the user and system CPU time of the process whose /proc
// directory is dir.
func processCPU(dir string) time.Duration {
	stat, err := os.ReadFile(filepath.Join(dir, "stat"))
	if err != nil {
		return 0
	}
	// The command name, in parentheses, may hold spaces: count fields after it.
	s := string(stat)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(fields) < 13 {
		return 0
	}
	var user, system int64
	_, _ = fmt.Sscan(fields[11], &user)
	_, _ = fmt.Sscan(fields[12], &system)
	return time.Duration(user+system) * time.Second / clockTicks
}
