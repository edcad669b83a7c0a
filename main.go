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

// Command manager runs the execloop operator: flags, then the logger, then a
// controller-runtime manager with the operator's controllers. With --local it
// first starts an embedded control plane and runs against it.
package main

import (
	"crypto/tls"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	_ "k8s.io/client-go/plugin/pkg/client/auth"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/metrics/filters"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	execloopv1alpha1 "github.com/execloop/execloop/api/v1alpha1"
	"github.com/execloop/execloop/controllers"
	"github.com/execloop/execloop/execloop"
)

var scheme = runtime.NewScheme()

func init() {
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(execloopv1alpha1.AddToScheme(scheme))
}

// flags holds the manager's command line.
type flags struct {
	metricsAddr   string
	secureMetrics bool
	probeAddr     string
	leaderElect   bool
	enableHTTP2   bool
	local         bool

	maxConcurrentReconciles int
	sleepBetweenRuns        time.Duration
	errorsToTolerate        int
	executionTimeout        time.Duration
	defaultServiceAccount   string
}

func main() {
	var f flags
	flag.StringVar(&f.metricsAddr, "metrics-bind-address", "0",
		"The address the metrics endpoint binds to: :8443 for HTTPS or :8080 for HTTP; 0 disables it.")
	flag.BoolVar(&f.secureMetrics, "metrics-secure", true,
		"Serve metrics over HTTPS, authenticated and authorized through the API server. Set false for plain HTTP.")
	flag.StringVar(&f.probeAddr, "health-probe-bind-address", ":8081", "The address the health and readiness probes bind to.")
	flag.BoolVar(&f.leaderElect, "leader-elect", false,
		"Enable leader election with a Lease, so that only one replica of the manager reconciles at a time.")
	flag.BoolVar(&f.enableHTTP2, "enable-http2", false,
		"Serve metrics over HTTP/2 as well. Off by default because of the HTTP/2 Stream Cancellation and Rapid Reset CVEs.")
	flag.BoolVar(&f.local, "local", false,
		"Start an embedded control plane (kube-apiserver and etcd from "+localAssetsDir()+"), install the CRDs, "+
			"write its kubeconfig to "+localKubeconfigPath+" and run against it. What `make run` uses when no kubeconfig is found.")
	flag.IntVar(&f.maxConcurrentReconciles, "max-concurrent-reconciles", 4, "How many Plans are reconciled at once.")
	flag.DurationVar(&f.sleepBetweenRuns, "sleep-between-runs", execloop.DefaultSleepBetweenRuns,
		"The pause between two passes of a Plan that does not set spec.sleepBetweenRuns.")
	flag.IntVar(&f.errorsToTolerate, "errors-to-tolerate", execloop.DefaultErrorsToTolerate,
		"How many task errors a Plan that does not set spec.errorsToTolerate survives before it stalls.")
	flag.DurationVar(&f.executionTimeout, "execution-timeout", execloop.DefaultExecutionTimeout,
		"How long a Plan that does not set spec.executionTimeout may take to converge; 0 means no limit.")
	flag.StringVar(&f.defaultServiceAccount, "default-service-account", "",
		"The ServiceAccount, in each Plan's namespace, that Plans without spec.serviceAccountName act as. "+
			"Empty lets such Plans act as the operator itself, with all of its permissions: set it on multi-tenant clusters.")
	opts := zap.Options{Development: true}
	opts.BindFlags(flag.CommandLine)
	flag.Parse()

	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&opts)))
	setupLog := ctrl.Log.WithName("setup")

	if err := run(f, setupLog); err != nil {
		setupLog.Error(err, "manager stopped with an error")
		os.Exit(1)
	}
}

// run starts the manager and blocks until it stops; a local control plane
// started for it is stopped before run returns.
func run(f flags, setupLog logr.Logger) error {
	ctx := ctrl.SetupSignalHandler()

	var cfg *rest.Config
	if f.local {
		cp, err := startLocal(setupLog)
		if err != nil {
			return err
		}
		defer cp.stop()
		cfg = cp.config
	} else {
		var err error
		if cfg, err = ctrl.GetConfig(); err != nil {
			return fmt.Errorf("loading the kubeconfig (set --kubeconfig or KUBECONFIG, or use --local): %w", err)
		}
	}

	var tlsOpts []func(*tls.Config)
	if !f.enableHTTP2 {
		tlsOpts = append(tlsOpts, func(c *tls.Config) { c.NextProtos = []string{"http/1.1"} })
	}
	metricsOpts := metricsserver.Options{
		BindAddress:   f.metricsAddr,
		SecureServing: f.secureMetrics,
		TLSOpts:       tlsOpts,
	}
	if f.secureMetrics {
		metricsOpts.FilterProvider = filters.WithAuthenticationAndAuthorization
	}

	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                 scheme,
		Metrics:                metricsOpts,
		HealthProbeBindAddress: f.probeAddr,
		LeaderElection:         f.leaderElect,
		LeaderElectionID:       "manager.execloop.dev",
	})
	if err != nil {
		return fmt.Errorf("creating the manager: %w", err)
	}
	defaults := execloop.Options{
		SleepBetweenRuns: f.sleepBetweenRuns,
		ErrorsToTolerate: f.errorsToTolerate,
		ExecutionTimeout: f.executionTimeout,
	}
	if err := defaults.Validate(); err != nil {
		return fmt.Errorf("flags: %w", err)
	}
	if err := (&controllers.PlanReconciler{
		Defaults:                defaults,
		DefaultServiceAccount:   f.defaultServiceAccount,
		MaxConcurrentReconciles: f.maxConcurrentReconciles,
	}).SetupWithManager(mgr); err != nil {
		return fmt.Errorf("setting up the Plan controller: %w", err)
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return fmt.Errorf("adding the health check: %w", err)
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		return fmt.Errorf("adding the readiness check: %w", err)
	}

	setupLog.Info("starting manager")
	return mgr.Start(ctx)
}
