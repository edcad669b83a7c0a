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

package controllers

import (
	"context"
	"fmt"
	"time"

	"go.opentelemetry.io/otel/trace"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/source"

	execloopv1alpha1 "github.com/execloop/execloop/api/v1alpha1"
	"github.com/execloop/execloop/execloop"
	"github.com/execloop/execloop/execloop/executor"
	"github.com/execloop/execloop/execloop/reconciler"
	"github.com/execloop/execloop/internal/planrun"
)

// Labels and annotations the operator puts on every object a Plan applies,
// and the field manager of its applies (see package planrun).
const (
	PlanUIDLabel         = planrun.PlanUIDLabel
	PlanAnnotation       = planrun.PlanAnnotation
	ValuesReadAnnotation = planrun.ValuesReadAnnotation
	FieldManager         = planrun.FieldManager
)

// ControllerName names the Plan controller in logs, metrics and events.
const ControllerName = "plan"

// A Plan is what the adapter drives, and it derives its phase and progress.
var (
	_ reconciler.Object     = (*execloopv1alpha1.Plan)(nil)
	_ reconciler.Summarizer = (*execloopv1alpha1.Plan)(nil)
)

// PlanReconciler converges the cluster to the tasks of Plan resources: it
// turns each Plan into an execloop plan and runs one pass per reconcile with
// execloop/reconciler.
type PlanReconciler struct {
	// Client is the manager's client, for Plans and Namespaces.
	Client client.Client
	// APIReader reads past the cache. Defaults to the manager's.
	APIReader client.Reader
	// Config is the operator's REST config; impersonating clients for the
	// plans' ServiceAccounts are made from it.
	Config *rest.Config
	// Recorder emits events. Defaults to the manager's.
	Recorder events.EventRecorder

	// Defaults are the execloop options of Plans that do not set their own
	// (spec.sleepBetweenRuns, spec.errorsToTolerate, spec.executionTimeout).
	Defaults execloop.Options
	// DefaultServiceAccount, when set, is the ServiceAccount (in the Plan's
	// namespace) that Plans without spec.serviceAccountName act as. Empty
	// means such Plans act as the operator itself.
	DefaultServiceAccount string
	// MaxConcurrentReconciles is how many Plans are reconciled at once.
	MaxConcurrentReconciles int
	// MaxBackoff caps the delay before a failed task is tried again (see
	// reconciler.Reconciler.MaxBackoff). Defaults to 5 minutes.
	MaxBackoff time.Duration
	// StalledRetryInterval is how long a Plan stalled by its errors or its
	// execution timeout waits before a retry with a fresh budget, for
	// Plans without spec.stalledRetryInterval. Defaults to 5 minutes;
	// negative means never.
	StalledRetryInterval time.Duration
	// ResyncInterval, when positive, runs a pass of every converged Plan
	// this often, to notice drift that no watch reports (objects of kinds
	// the Plan's identity may not watch). Zero means never.
	ResyncInterval time.Duration
	// TracerProvider, when set, traces every pass.
	TracerProvider trace.TracerProvider

	plans      *reconciler.Reconciler[*execloopv1alpha1.Plan]
	identities *planrun.Identities
	watcher    *watcher
}

// +kubebuilder:rbac:groups=execloop.dev,resources=plans,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=execloop.dev,resources=plans/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=execloop.dev,resources=plans/finalizers,verbs=update
// +kubebuilder:rbac:groups="",resources=serviceaccounts,verbs=impersonate
// +kubebuilder:rbac:groups="",resources=namespaces,verbs=get
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconcile runs at most one pass of a Plan: see package
// execloop/reconciler for what a pass records and when the next one runs.
// Once a Plan is gone, the watches that served only it stop.
func (r *PlanReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	res, err := r.plans.Reconcile(ctx, req)
	if err == nil && res.IsZero() {
		if apierrors.IsNotFound(r.Client.Get(ctx, req.NamespacedName, &execloopv1alpha1.Plan{})) {
			r.watcher.release(req.NamespacedName)
		}
	}
	return res, err
}

// SetupWithManager registers the Plan controller with mgr.
func (r *PlanReconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.Client == nil {
		r.Client = mgr.GetClient()
	}
	if r.APIReader == nil {
		r.APIReader = mgr.GetAPIReader()
	}
	if r.Config == nil {
		r.Config = mgr.GetConfig()
	}
	if r.Recorder == nil {
		r.Recorder = mgr.GetEventRecorder(ControllerName)
	}
	ids, err := planrun.NewIdentities(r.Config, mgr.GetScheme(), mgr.GetRESTMapper())
	if err != nil {
		return err
	}
	r.identities = ids
	r.watcher = newWatcher(mgr.GetLogger().WithName("watcher"), "")
	if err := mgr.Add(r.watcher); err != nil {
		return err
	}
	r.plans = &reconciler.Reconciler[*execloopv1alpha1.Plan]{
		Name:            ControllerName,
		Client:          r.Client,
		APIReader:       r.APIReader,
		Recorder:        r.Recorder,
		TracerProvider:  r.TracerProvider,
		ResyncInterval:  r.ResyncInterval,
		Options:         r.Defaults,
		OptionsFor:      planOptions,
		MaxBackoff:      r.MaxBackoff,
		RetryStalled:    r.StalledRetryInterval,
		RetryStalledFor: r.retryStalledFor,
		Suspended:       func(p *execloopv1alpha1.Plan) bool { return p.Spec.Suspend },
		Plan:            r.planFor,
		Cleanup: func(ctx context.Context, p *execloopv1alpha1.Plan) (executor.Plan, error) {
			return r.cleanup(ctx, p, r.Recorder)
		},
	}
	return ctrl.NewControllerManagedBy(mgr).
		Named(ControllerName).
		For(&execloopv1alpha1.Plan{}, builder.WithPredicates(reconciler.Predicates())).
		WatchesRawSource(source.Channel(r.watcher.events, &handler.EnqueueRequestForObject{})).
		WithOptions(controller.Options{MaxConcurrentReconciles: r.MaxConcurrentReconciles}).
		Complete(r)
}

// retryStalledFor is how long a Plan stalled on a failure that may mend
// waits before a retry: its spec.stalledRetryInterval (0s: never), or d.
func (r *PlanReconciler) retryStalledFor(p *execloopv1alpha1.Plan, d time.Duration) time.Duration {
	if i := p.Spec.StalledRetryInterval; i != nil {
		if i.Duration <= 0 {
			return -1 // 0s means never
		}
		return i.Duration
	}
	return d
}

// planOptions applies a Plan's own settings over the operator's defaults.
func planOptions(p *execloopv1alpha1.Plan, o execloop.Options) execloop.Options {
	if d := p.Spec.SleepBetweenRuns; d != nil {
		o.SleepBetweenRuns = d.Duration
	}
	if n := p.Spec.ErrorsToTolerate; n != nil {
		o.ErrorsToTolerate = int(*n)
	}
	if d := p.Spec.ExecutionTimeout; d != nil {
		o.ExecutionTimeout = d.Duration
	}
	return o
}

// planFor is the plan factory: it checks what admission could not (cycles,
// kinds, readyWhen expressions) before anything is applied, and returns the
// execloop plan of one pass.
func (r *PlanReconciler) planFor(_ context.Context, p *execloopv1alpha1.Plan) (executor.Plan, error) {
	id, err := r.identities.ForPlan(p, r.DefaultServiceAccount)
	if err != nil {
		return nil, err
	}
	run, err := planrun.Compile(p, id, r.identities.Mapper())
	if err != nil {
		return nil, err
	}
	run.Watches = r.watcher
	run.Recorder = r.Recorder
	return run, nil
}

// cleanup is the cleanup plan factory of Plans, and of instances seen as
// Plans, whose events recorder emits: with deletionPolicy Delete it
// deletes what the plan applied in reverse dependency order, with Orphan it
// lets the objects go. When the Plan's namespace is being deleted, the
// namespace takes the objects in it along, and the cleanup deletes the
// others; one the Plan's identity may no longer delete (its ServiceAccount
// and bindings may be gone already) is named in a Warning event and the
// log, and let go. The event is about the object left behind (the Plan is
// its related object): a namespace being deleted takes no new events, so
// one about the Plan would be refused.
func (r *PlanReconciler) cleanup(ctx context.Context, p *execloopv1alpha1.Plan, recorder events.EventRecorder) (executor.Plan, error) {
	var ns corev1.Namespace
	if err := r.APIReader.Get(ctx, types.NamespacedName{Name: p.Namespace}, &ns); err != nil && !apierrors.IsNotFound(err) {
		return nil, fmt.Errorf("reading the namespace of %s: %w", describe(p), err)
	}
	id, err := r.identities.ForPlan(p, r.DefaultServiceAccount)
	if err != nil {
		return nil, err
	}
	c := planrun.NewCleanup(p, id, r.identities.Mapper())
	c.NamespaceGoing = !ns.DeletionTimestamp.IsZero() || ns.Name == ""
	c.LeftBehind = func(ctx context.Context, obj execloopv1alpha1.AppliedObject, cause error) {
		msg := fmt.Sprintf("Left %s %s behind: the namespace of %s is being deleted, and %s", obj.Kind, planrun.ObjectName(obj), describe(p), cause)
		logf.FromContext(ctx).Error(cause, "Left an object behind", "kind", obj.Kind, "object", planrun.ObjectName(obj))
		left := &unstructured.Unstructured{}
		left.SetAPIVersion(obj.APIVersion)
		left.SetKind(obj.Kind)
		left.SetNamespace(obj.Namespace)
		left.SetName(obj.Name)
		left.SetUID(obj.UID)
		recorder.Eventf(left, p, corev1.EventTypeWarning, "CleanupLeftBehind", "Delete", "%s", msg)
	}
	return c, nil
}
