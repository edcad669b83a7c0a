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

package manager

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"

	"github.com/go-logr/logr"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/metrics/filters"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	execloopv1alpha1 "github.com/execloop/execloop/api/v1alpha1"
	"github.com/execloop/execloop/controllers"
	"github.com/execloop/execloop/execloop"
)

// LeaderElectionID is the name of the leader election Lease.
const LeaderElectionID = "manager.execloop.dev"

// Scheme holds the kinds the manager works with: client-go's, CRDs, the
// Plan and the PlanDefinition.
var Scheme = runtime.NewScheme()

func init() {
	utilruntime.Must(clientgoscheme.AddToScheme(Scheme))
	utilruntime.Must(apiextensionsv1.AddToScheme(Scheme))
	utilruntime.Must(execloopv1alpha1.AddToScheme(Scheme))
}

// SetLogger makes the logger of the zap flags, writing to w, the logger of
// controller-runtime and of client-go's own messages, and returns it.
func SetLogger(f Flags, w io.Writer) logr.Logger {
	log := zap.New(zap.UseFlagOptions(&f.Zap), zap.WriteTo(w))
	ctrl.SetLogger(log)
	klog.SetLogger(log)
	return log
}

// New makes the controller-runtime manager with the Plan and PlanDefinition
// controllers, probes, metrics and leader election as the flags say. It
// does not start it: see Run.
func New(cfg *rest.Config, f Flags) (ctrl.Manager, error) {
	var tlsOpts []func(*tls.Config)
	if !f.EnableHTTP2 {
		tlsOpts = append(tlsOpts, func(c *tls.Config) { c.NextProtos = []string{"http/1.1"} })
	}
	metricsOpts := metricsserver.Options{
		BindAddress:   f.MetricsAddr,
		SecureServing: f.SecureMetrics,
		TLSOpts:       tlsOpts,
	}
	if f.SecureMetrics {
		metricsOpts.FilterProvider = filters.WithAuthenticationAndAuthorization
	}

	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                        Scheme,
		Metrics:                       metricsOpts,
		HealthProbeBindAddress:        f.ProbeAddr,
		LeaderElection:                f.LeaderElect,
		LeaderElectionID:              LeaderElectionID,
		LeaderElectionNamespace:       f.LeaderElectionNamespace,
		LeaderElectionReleaseOnCancel: true,
	})
	if err != nil {
		return nil, fmt.Errorf("creating the manager: %w", err)
	}
	defaults := execloop.Options{
		SleepBetweenRuns: f.SleepBetweenRuns,
		ErrorsToTolerate: f.ErrorsToTolerate,
		ExecutionTimeout: f.ExecutionTimeout,
	}
	retryStalled := f.StalledRetryInterval
	if retryStalled == 0 {
		retryStalled = -1 // the flag's 0 means never
	}
	plans := &controllers.PlanReconciler{
		Defaults:                defaults,
		MaxBackoff:              f.MaxBackoff,
		StalledRetryInterval:    retryStalled,
		DefaultServiceAccount:   f.DefaultServiceAccount,
		MaxConcurrentReconciles: f.MaxConcurrentReconciles,
		ResyncInterval:          f.ResyncInterval,
	}
	if err := plans.SetupWithManager(mgr); err != nil {
		return nil, fmt.Errorf("setting up the Plan controller: %w", err)
	}
	if err := (&controllers.PlanDefinitionReconciler{Plans: plans, Groups: f.DefinitionGroups}).SetupWithManager(mgr); err != nil {
		return nil, fmt.Errorf("setting up the PlanDefinition controller: %w", err)
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return nil, fmt.Errorf("adding the health check: %w", err)
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		return nil, fmt.Errorf("adding the readiness check: %w", err)
	}
	return mgr, nil
}

// Run starts mgr and blocks until ctx is done or the manager fails; a
// manager stopped by ctx is no error.
func Run(ctx context.Context, mgr ctrl.Manager, log logr.Logger) error {
	log.Info("starting manager")
	if err := mgr.Start(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}
