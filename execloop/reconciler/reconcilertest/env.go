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

package reconcilertest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
)

// KubernetesVersion is the version of the kube-apiserver, etcd and kubectl
// that hack/envtest builds, and that Assets looks for.
const KubernetesVersion = "1.37.2"

// TB is what Start needs of a test: *testing.T, or Ginkgo's GinkgoT().
type TB interface {
	Helper()
	Cleanup(func())
	Fatalf(format string, args ...any)
	Logf(format string, args ...any)
}

// EnvOptions say what to start.
type EnvOptions struct {
	// CRDDirectoryPaths and CRDs are your custom resources' definitions,
	// installed before the manager starts.
	CRDDirectoryPaths []string
	CRDs              []*apiextensionsv1.CustomResourceDefinition
	// Scheme holds your types; Kubernetes' own are added. Required.
	Scheme *k8sruntime.Scheme
	// Setup registers your controllers with the manager (for example
	// Reconciler.SetupWithManager). Nil starts a manager with none.
	Setup func(mgr ctrl.Manager) error
	// Assets is the folder of kube-apiserver, etcd and kubectl; Assets()
	// when empty.
	Assets string
	// StartTimeout bounds the control plane's start: two minutes when
	// zero, as a busy two-core machine needs.
	StartTimeout time.Duration
}

// Env is a running control plane and manager, for one test package.
type Env struct {
	Config  *rest.Config
	Client  client.Client
	Manager ctrl.Manager
	// Ctx is done when the Env stops.
	Ctx context.Context
}

// Start starts a control plane (envtest) with your CRDs, and a manager
// with your controllers, and stops both when tb's test ends: the manager
// first, then kube-apiserver and etcd. When start-up fails half-way,
// what did start is stopped before tb fails, so that no process outlives
// the test. Start one Env per test package (in TestMain, or Ginkgo's
// BeforeSuite with GinkgoT()), not one per test: a control plane takes
// seconds to start.
func Start(tb TB, o EnvOptions) *Env {
	tb.Helper()
	env, stop, err := start(o)
	if err != nil {
		if stop != nil {
			stop()
		}
		tb.Fatalf("reconcilertest: %v", err)
		return nil
	}
	tb.Cleanup(stop)
	return env
}

func start(o EnvOptions) (*Env, func(), error) {
	if o.Scheme == nil {
		return nil, nil, errors.New("EnvOptions.Scheme is required: it must hold your types")
	}
	if err := clientgoscheme.AddToScheme(o.Scheme); err != nil {
		return nil, nil, err
	}
	assets := o.Assets
	if assets == "" {
		var err error
		if assets, err = Assets(); err != nil {
			return nil, nil, err
		}
	}
	timeout := o.StartTimeout
	if timeout == 0 {
		timeout = 2 * time.Minute
	}
	testEnv := &envtest.Environment{
		CRDDirectoryPaths: o.CRDDirectoryPaths, CRDs: o.CRDs, ErrorIfCRDPathMissing: true,
		BinaryAssetsDirectory: assets, ControlPlaneStartTimeout: timeout, ControlPlaneStopTimeout: time.Minute,
		Scheme: o.Scheme,
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	started := false
	stop := func() {
		cancel()
		if started {
			if err := <-done; err != nil {
				fmt.Fprintf(os.Stderr, "reconcilertest: the manager stopped with an error: %v\n", err)
			}
		}
		_ = testEnv.Stop() // also after a half-way start: it stops what runs
	}
	cfg, err := testEnv.Start()
	if err != nil {
		return nil, stop, fmt.Errorf("starting the control plane from %s: %w", assets, err)
	}
	c, err := client.New(cfg, client.Options{Scheme: o.Scheme})
	if err != nil {
		return nil, stop, err
	}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{Scheme: o.Scheme, Metrics: metricsserver.Options{BindAddress: "0"}, HealthProbeBindAddress: "0"})
	if err != nil {
		return nil, stop, err
	}
	if o.Setup != nil {
		if err := o.Setup(mgr); err != nil {
			return nil, stop, fmt.Errorf("setting up the controllers: %w", err)
		}
	}
	started = true
	go func() { done <- mgr.Start(ctx) }()
	return &Env{Config: cfg, Client: c, Manager: mgr, Ctx: ctx}, stop, nil
}

// Assets finds kube-apiserver, etcd and kubectl: in KUBEBUILDER_ASSETS
// when it is set, else in bin/k8s/<KubernetesVersion>-<os>-<arch> of the
// working directory or the nearest folder above it that has one, which is
// where `go run github.com/execloop/execloop/hack/envtest -dir bin/k8s`
// (and this project's make envtest) builds them.
func Assets() (string, error) {
	if dir := os.Getenv("KUBEBUILDER_ASSETS"); dir != "" {
		return dir, nil
	}
	rel := filepath.Join("bin", "k8s", fmt.Sprintf("%s-%s-%s", KubernetesVersion, runtime.GOOS, runtime.GOARCH))
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		candidate := filepath.Join(dir, rel)
		if _, err := os.Stat(filepath.Join(candidate, "kube-apiserver")); err == nil {
			return candidate, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no kube-apiserver in KUBEBUILDER_ASSETS (unset) nor in %s of this folder or any above it; build them with: go run github.com/execloop/execloop/hack/envtest@latest -dir bin/k8s", rel)
		}
		dir = parent
	}
}
