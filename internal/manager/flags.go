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
	"flag"
	"fmt"
	"strings"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/execloop/execloop/execloop"
	"github.com/execloop/execloop/execloop/reconciler"
)

// Flags are the manager's command line: where it serves metrics and probes,
// leader election, and the defaults and limits of the Plan controller. Bind
// registers them with their defaults; Validate checks them.
type Flags struct {
	MetricsAddr             string
	SecureMetrics           bool
	ProbeAddr               string
	LeaderElect             bool
	LeaderElectionNamespace string
	EnableHTTP2             bool

	MaxConcurrentReconciles int
	ResyncInterval          time.Duration
	SleepBetweenRuns        time.Duration
	ErrorsToTolerate        int
	ExecutionTimeout        time.Duration
	MaxBackoff              time.Duration
	StalledRetryInterval    time.Duration
	DefaultServiceAccount   string
	// DefinitionGroups are the API groups PlanDefinitions may serve
	// (--definition-groups, comma-separated); empty refuses every
	// definition.
	DefinitionGroups []string

	// Zap are the logger's flags (--zap-devel, --zap-log-level, ...).
	Zap zap.Options
}

// Bind registers the flags on fs, with their defaults.
func (f *Flags) Bind(fs *flag.FlagSet) {
	fs.StringVar(&f.MetricsAddr, "metrics-bind-address", "0",
		"The address the metrics endpoint binds to: :8443 for HTTPS or :8080 for HTTP; 0 disables it.")
	fs.BoolVar(&f.SecureMetrics, "metrics-secure", true,
		"Serve metrics over HTTPS, authenticated and authorized through the API server. Set false for plain HTTP.")
	fs.StringVar(&f.ProbeAddr, "health-probe-bind-address", ":8081", "The address the health and readiness probes bind to; 0 disables them.")
	fs.BoolVar(&f.LeaderElect, "leader-elect", false,
		"Enable leader election with a Lease, so that only one replica of the manager reconciles at a time.")
	fs.StringVar(&f.LeaderElectionNamespace, "leader-election-namespace", "",
		"The namespace of the leader election Lease. Defaults to the manager's namespace in a cluster; required outside one.")
	fs.BoolVar(&f.EnableHTTP2, "enable-http2", false,
		"Serve metrics over HTTP/2 as well. Off by default because of the HTTP/2 Stream Cancellation and Rapid Reset CVEs.")
	fs.IntVar(&f.MaxConcurrentReconciles, "max-concurrent-reconciles", 4, "How many Plans are reconciled at once.")
	fs.DurationVar(&f.ResyncInterval, "resync-interval", 10*time.Minute,
		"How often a converged Plan gets a pass all the same, to notice drift that no watch reports; 0 means never.")
	fs.DurationVar(&f.SleepBetweenRuns, "sleep-between-runs", execloop.DefaultSleepBetweenRuns,
		"The pause between two passes of a Plan that does not set spec.sleepBetweenRuns.")
	fs.IntVar(&f.ErrorsToTolerate, "errors-to-tolerate", execloop.DefaultErrorsToTolerate,
		"How many task errors a Plan that does not set spec.errorsToTolerate survives before it stalls.")
	fs.DurationVar(&f.ExecutionTimeout, "execution-timeout", execloop.DefaultExecutionTimeout,
		"How long a Plan that does not set spec.executionTimeout may take to converge; 0 means no limit.")
	fs.DurationVar(&f.MaxBackoff, "max-backoff", reconciler.DefaultMaxBackoff,
		"The longest delay before a failed task is tried again; the delay starts at the Plan's sleepBetweenRuns and doubles with each failure in a row. 0 means the default.")
	fs.DurationVar(&f.StalledRetryInterval, "stalled-retry-interval", reconciler.DefaultRetryStalled,
		"How long a Plan stalled by its errors or its execution timeout waits before it is tried again with a fresh budget, "+
			"unless it sets spec.stalledRetryInterval; 0 means never.")
	fs.StringVar(&f.DefaultServiceAccount, "default-service-account", "",
		"The ServiceAccount, in each Plan's namespace, that Plans without spec.serviceAccountName act as. "+
			"Empty lets such Plans act as the operator itself, with all of its permissions: set it on multi-tenant clusters.")
	fs.Func("definition-groups",
		"The API groups, comma-separated, whose kinds PlanDefinitions may define, such as platform.example.com. "+
			"Empty (the default) refuses every PlanDefinition: each is Stalled, naming its group and this flag.",
		func(s string) error {
			f.DefinitionGroups = nil
			for g := range strings.SplitSeq(s, ",") {
				if g = strings.TrimSpace(g); g != "" {
					f.DefinitionGroups = append(f.DefinitionGroups, g)
				}
			}
			return nil
		})
	f.Zap = zap.Options{Development: true}
	f.Zap.BindFlags(fs)
}

// Validate checks the flags, naming the one that is wrong.
func (f *Flags) Validate() error {
	switch {
	case f.MaxConcurrentReconciles < 1:
		return fmt.Errorf("--max-concurrent-reconciles must be at least 1, got %d", f.MaxConcurrentReconciles)
	case f.ResyncInterval < 0:
		return fmt.Errorf("--resync-interval must not be negative, got %s", f.ResyncInterval)
	case f.SleepBetweenRuns < 0:
		return fmt.Errorf("--sleep-between-runs must not be negative, got %s", f.SleepBetweenRuns)
	case f.ErrorsToTolerate < 0:
		return fmt.Errorf("--errors-to-tolerate must not be negative, got %d", f.ErrorsToTolerate)
	case f.ExecutionTimeout < 0:
		return fmt.Errorf("--execution-timeout must not be negative, got %s", f.ExecutionTimeout)
	case f.MaxBackoff < 0:
		return fmt.Errorf("--max-backoff must not be negative, got %s", f.MaxBackoff)
	case f.StalledRetryInterval < 0:
		return fmt.Errorf("--stalled-retry-interval must not be negative, got %s", f.StalledRetryInterval)
	}
	return nil
}
