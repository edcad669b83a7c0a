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
// controller-runtime manager with the Plan controller. With --local it first
// starts a local cluster (internal/localcluster) and runs against it.
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/go-logr/logr"
	"golang.org/x/term"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	_ "k8s.io/client-go/plugin/pkg/client/auth"
	"k8s.io/client-go/rest"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/metrics/filters"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	execloopv1alpha1 "github.com/execloop/execloop/api/v1alpha1"
	"github.com/execloop/execloop/controllers"
	"github.com/execloop/execloop/execloop"
	"github.com/execloop/execloop/execloop/reconciler"
)

var scheme = runtime.NewScheme()

func init() {
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(execloopv1alpha1.AddToScheme(scheme))
}

// flags holds the manager's command line.
type flags struct {
	metricsAddr             string
	secureMetrics           bool
	probeAddr               string
	leaderElect             bool
	leaderElectionNamespace string
	enableHTTP2             bool
	local                   bool
	applySamples            bool
	progress                string
	logFile                 string

	maxConcurrentReconciles int
	resyncInterval          time.Duration
	sleepBetweenRuns        time.Duration
	errorsToTolerate        int
	executionTimeout        time.Duration
	maxBackoff              time.Duration
	stalledRetryInterval    time.Duration
	defaultServiceAccount   string
}

func main() {
	var f flags
	flag.StringVar(&f.metricsAddr, "metrics-bind-address", "0",
		"The address the metrics endpoint binds to: :8443 for HTTPS or :8080 for HTTP; 0 disables it.")
	flag.BoolVar(&f.secureMetrics, "metrics-secure", true,
		"Serve metrics over HTTPS, authenticated and authorized through the API server. Set false for plain HTTP.")
	flag.StringVar(&f.probeAddr, "health-probe-bind-address", ":8081", "The address the health and readiness probes bind to; 0 disables them.")
	flag.BoolVar(&f.leaderElect, "leader-elect", false,
		"Enable leader election with a Lease, so that only one replica of the manager reconciles at a time.")
	flag.StringVar(&f.leaderElectionNamespace, "leader-election-namespace", "",
		"The namespace of the leader election Lease. Defaults to the manager's namespace in a cluster; required outside one.")
	flag.BoolVar(&f.enableHTTP2, "enable-http2", false,
		"Serve metrics over HTTP/2 as well. Off by default because of the HTTP/2 Stream Cancellation and Rapid Reset CVEs.")
	flag.BoolVar(&f.local, "local", false,
		"Start a local cluster (etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok from "+localAssetsDir()+"), install the CRDs and config/admission, "+
			"write its kubeconfig to "+localKubeconfigPath+" and run against it. What 'make run' uses when no kubeconfig is found.")
	flag.BoolVar(&f.applySamples, "apply-samples", false, "Apply the Plans of config/samples once the manager runs.")
	flag.StringVar(&f.progress, "progress", "auto",
		"Show the Plans' tasks updating in place in the terminal instead of logs: auto (when standard output is a terminal), always or never.")
	flag.StringVar(&f.logFile, "log-file", "",
		"Write logs to this file instead of standard error. Defaults to "+localLogPath+" while the progress view is shown.")
	flag.IntVar(&f.maxConcurrentReconciles, "max-concurrent-reconciles", 4, "How many Plans are reconciled at once.")
	flag.DurationVar(&f.resyncInterval, "resync-interval", 10*time.Minute,
		"How often a converged Plan gets a pass all the same, to notice drift that no watch reports; 0 means never.")
	flag.DurationVar(&f.sleepBetweenRuns, "sleep-between-runs", execloop.DefaultSleepBetweenRuns,
		"The pause between two passes of a Plan that does not set spec.sleepBetweenRuns.")
	flag.IntVar(&f.errorsToTolerate, "errors-to-tolerate", execloop.DefaultErrorsToTolerate,
		"How many task errors a Plan that does not set spec.errorsToTolerate survives before it stalls.")
	flag.DurationVar(&f.executionTimeout, "execution-timeout", execloop.DefaultExecutionTimeout,
		"How long a Plan that does not set spec.executionTimeout may take to converge; 0 means no limit.")
	flag.DurationVar(&f.maxBackoff, "max-backoff", reconciler.DefaultMaxBackoff,
		"The longest delay before a failed task is tried again; the delay starts at the Plan's sleepBetweenRuns and doubles with each failure in a row. 0 means the default.")
	flag.DurationVar(&f.stalledRetryInterval, "stalled-retry-interval", reconciler.DefaultRetryStalled,
		"How long a Plan stalled by its errors or its execution timeout waits before it is tried again with a fresh budget, "+
			"unless it sets spec.stalledRetryInterval; 0 means never.")
	flag.StringVar(&f.defaultServiceAccount, "default-service-account", "",
		"The ServiceAccount, in each Plan's namespace, that Plans without spec.serviceAccountName act as. "+
			"Empty lets such Plans act as the operator itself, with all of its permissions: set it on multi-tenant clusters.")
	opts := zap.Options{Development: true}
	opts.BindFlags(flag.CommandLine)
	flag.Parse()

	if err := f.validate(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	showProgress := f.progress == "always" || (f.progress == "auto" && term.IsTerminal(int(os.Stdout.Fd())))
	logs, closeLogs, err := f.logOutput(showProgress)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer closeLogs()
	log := zap.New(zap.UseFlagOptions(&opts), zap.WriteTo(logs))
	ctrl.SetLogger(log)
	klog.SetLogger(log) // client-go's own messages, too, stay out of the progress view
	setupLog := ctrl.Log.WithName("setup")

	if err := run(f, showProgress, setupLog); err != nil {
		setupLog.Error(err, "manager stopped with an error")
		if showProgress {
			fmt.Fprintln(os.Stderr, "manager stopped with an error:", err)
		}
		closeLogs()
		os.Exit(1)
	}
}

// validate checks the flags, naming the one that is wrong.
func (f *flags) validate() error {
	switch {
	case f.progress != "auto" && f.progress != "always" && f.progress != "never":
		return fmt.Errorf("--progress must be auto, always or never, got %q", f.progress)
	case f.maxConcurrentReconciles < 1:
		return fmt.Errorf("--max-concurrent-reconciles must be at least 1, got %d", f.maxConcurrentReconciles)
	case f.resyncInterval < 0:
		return fmt.Errorf("--resync-interval must not be negative, got %s", f.resyncInterval)
	case f.sleepBetweenRuns < 0:
		return fmt.Errorf("--sleep-between-runs must not be negative, got %s", f.sleepBetweenRuns)
	case f.errorsToTolerate < 0:
		return fmt.Errorf("--errors-to-tolerate must not be negative, got %d", f.errorsToTolerate)
	case f.executionTimeout < 0:
		return fmt.Errorf("--execution-timeout must not be negative, got %s", f.executionTimeout)
	case f.maxBackoff < 0:
		return fmt.Errorf("--max-backoff must not be negative, got %s", f.maxBackoff)
	case f.stalledRetryInterval < 0:
		return fmt.Errorf("--stalled-retry-interval must not be negative, got %s", f.stalledRetryInterval)
	}
	return nil
}

// localLogPath is where logs go while the progress view holds the terminal.
const localLogPath = "bin/local/manager.log"

// logOutput returns where the logs go: --log-file, the default log file
// while the progress view is shown, standard error otherwise.
func (f *flags) logOutput(showProgress bool) (io.Writer, func(), error) {
	path := f.logFile
	if path == "" && showProgress {
		path = localLogPath
	}
	if path == "" {
		return os.Stderr, func() {}, nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, nil, fmt.Errorf("--log-file %s: %w", path, err)
	}
	file, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, nil, fmt.Errorf("--log-file %s: %w", path, err)
	}
	f.logFile = path
	return file, func() { _ = file.Close() }, nil
}

// run starts the manager and blocks until it stops; a local cluster
// started for it is stopped before run returns.
func run(f flags, showProgress bool, setupLog logr.Logger) error {
	ctx, stop := context.WithCancel(ctrl.SetupSignalHandler())
	defer stop()

	var cfg *rest.Config
	if f.local {
		cp, err := startLocal(ctx, setupLog)
		if err != nil {
			return err
		}
		defer cp.stop()
		cfg = cp.config
		if f.leaderElectionNamespace == "" {
			f.leaderElectionNamespace = "default"
		}
	} else {
		var err error
		if cfg, err = ctrl.GetConfig(); err != nil {
			return fmt.Errorf("loading the kubeconfig (set --kubeconfig or KUBECONFIG, or use --local): %w", err)
		}
	}

	mgr, err := newManager(cfg, f)
	if err != nil {
		return err
	}
	if showProgress {
		if err := mgr.Add(&progressView{
			cache: mgr.GetCache(), in: os.Stdin, out: os.Stdout, stop: stop,
			footer: "Logs: " + f.logFile,
		}); err != nil {
			return err
		}
	}
	if f.applySamples {
		if err := mgr.Add(manager.RunnableFunc(func(ctx context.Context) error {
			return applySamples(ctx, mgr.GetClient(), filepath.Join("config", "samples"), setupLog)
		})); err != nil {
			return err
		}
	}

	setupLog.Info("starting manager")
	if err := mgr.Start(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

// newManager makes the controller-runtime manager with the Plan controller,
// probes, metrics and leader election as the flags say.
func newManager(cfg *rest.Config, f flags) (ctrl.Manager, error) {
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
		Scheme:                        scheme,
		Metrics:                       metricsOpts,
		HealthProbeBindAddress:        f.probeAddr,
		LeaderElection:                f.leaderElect,
		LeaderElectionID:              "manager.execloop.dev",
		LeaderElectionNamespace:       f.leaderElectionNamespace,
		LeaderElectionReleaseOnCancel: true,
	})
	if err != nil {
		return nil, fmt.Errorf("creating the manager: %w", err)
	}
	defaults := execloop.Options{
		SleepBetweenRuns: f.sleepBetweenRuns,
		ErrorsToTolerate: f.errorsToTolerate,
		ExecutionTimeout: f.executionTimeout,
	}
	retryStalled := f.stalledRetryInterval
	if retryStalled == 0 {
		retryStalled = -1 // the flag's 0 means never
	}
	if err := (&controllers.PlanReconciler{
		Defaults:                defaults,
		MaxBackoff:              f.maxBackoff,
		StalledRetryInterval:    retryStalled,
		DefaultServiceAccount:   f.defaultServiceAccount,
		MaxConcurrentReconciles: f.maxConcurrentReconciles,
		ResyncInterval:          f.resyncInterval,
	}).SetupWithManager(mgr); err != nil {
		return nil, fmt.Errorf("setting up the Plan controller: %w", err)
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return nil, fmt.Errorf("adding the health check: %w", err)
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		return nil, fmt.Errorf("adding the readiness check: %w", err)
	}
	return mgr, nil
}
