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

package reconciler

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"time"

	"go.opentelemetry.io/otel/trace"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/execloop/execloop/execloop"
	"github.com/execloop/execloop/execloop/executor"
	"github.com/execloop/execloop/execloop/reconciler/status"
)

const (
	// PausedAnnotation set to "true" on an object stops its passes: the
	// Reconciler records status.ReasonPaused and does nothing else until the
	// annotation is removed or set to another value.
	PausedAnnotation = status.PausedAnnotation

	// DefaultFinalizer is the finalizer the Reconciler adds to objects when
	// it has a Cleanup plan factory.
	DefaultFinalizer = "execloop.dev/cleanup"
)

// Object is a custom resource the Reconciler can drive: a client.Object
// whose status embeds Status.
type Object interface {
	client.Object
	// ExecloopStatus returns the Status embedded in the object's status,
	// for the Reconciler to read and update in place.
	ExecloopStatus() *status.Status
}

// Summarizer is an optional interface of the objects a Reconciler drives:
// Summarize is called before the status is compared and written, to derive
// fields of the object's own status (a phase, a progress count) from Status.
type Summarizer interface {
	Summarize()
}

// TaskLister is an optional interface of the plans that a plan factory
// returns: a plan that knows all its tasks lists their names, in order. The
// Reconciler then keeps Status.Tasks to exactly those tasks, listing the ones
// that have not run yet as Pending and dropping the ones that left the plan.
// Without it, Status.Tasks holds the tasks that have run, at most
// status.MaxTasks of them: past that, the finished tasks that the last pass
// did not record are dropped first, the least recently recorded first.
type TaskLister interface {
	TaskNames() []string
}

// TaskSkipper is an optional interface of plans: after a pass, the tasks
// it names (with why) are recorded as Skipped, with no attempt counted. A
// plan that leaves a task out by a condition says so this way.
type TaskSkipper interface {
	SkippedTasks() map[string]string
}

// Reconciler reconciles objects of type T, a pointer to a custom resource
// struct, by running one pass of an execloop plan per reconcile. Set its
// fields, then call SetupWithManager.
type Reconciler[T Object] struct {
	// Name names the controller in logs, metrics and events; it must be a
	// DNS-1123 subdomain. Required.
	Name string

	// Plan builds the plan for an object; its Create is then asked which
	// tasks are still needed, and asked once more after a pass in which
	// every task succeeded, unless the plan is an executor.Finisher: no
	// tasks then makes the object Ready at once. Return an error wrapped with
	// reconcile.TerminalError when the object can never yield a plan (an
	// invalid spec): the object becomes Stalled with reason InvalidPlan
	// until its spec changes. Other errors are retried with backoff.
	// Required.
	Plan func(ctx context.Context, obj T) (executor.Plan, error)

	// Cleanup builds the plan that runs when an object is deleted. When it
	// is set, the Reconciler adds Finalizer to every object that lacks it,
	// before the object's first pass, and removes it once the cleanup plan's
	// Create returns no tasks. An object created with the finalizer (by a
	// MutatingAdmissionPolicy, as config/admission does for Plans) costs
	// that write less. Nil means no cleanup and no finalizer.
	Cleanup func(ctx context.Context, obj T) (executor.Plan, error)

	// Options are the execloop options of every object: SleepBetweenRuns is
	// the pause between two passes of an object, ErrorsToTolerate its error
	// budget per generation, ExecutionTimeout the time its plan may take
	// from its first pass (zero: no limit). Logger is replaced by the
	// reconcile's logr logger.
	Options execloop.Options

	// Observer, when set, is told about every pass of every object and its
	// tasks (executor.WithObserver), alongside the Reconciler's own
	// tracing. Nil means none.
	Observer execloop.Observer

	// OptionsFor, when set, returns the options of one object, starting
	// from Options; for example to honour per-object settings in its spec.
	OptionsFor func(obj T, defaults execloop.Options) execloop.Options

	// MaxBackoff caps the delay before a failed task is tried again. A task
	// that fails waits SleepBetweenRuns (at least 100ms), twice that after
	// its second failure in a row, and so on, plus up to a tenth of that at
	// random; each failure still spends one error of the budget. The time of
	// its next attempt is in its status, so a restarted operator keeps it,
	// and the tasks that do not depend on it go on meanwhile. Defaults to
	// DefaultMaxBackoff.
	MaxBackoff time.Duration

	// RetryStalled is how long an object Stalled on a failure that may mend
	// (an exhausted error budget, an exceeded ExecutionTimeout) waits
	// before a pass with a fresh budget and a fresh execution timeout.
	// Stalled stays True through such passes until one makes progress with
	// no task failing. Defaults to DefaultRetryStalled; negative means
	// never. A fatal error or an invalid plan is never retried: the object
	// waits for a new spec, or for RequestedAtAnnotation.
	RetryStalled time.Duration

	// RetryStalledFor, when set, returns the RetryStalled of one object,
	// starting from RetryStalled (0 keeps RetryStalled, negative is never); for example to honour a per-object
	// setting in its spec.
	RetryStalledFor func(obj T, defaults time.Duration) time.Duration

	// Suspended, when set, reports objects whose spec suspends their passes
	// (a spec.suspend field, say). They are treated like paused objects,
	// with reason Suspended.
	Suspended func(obj T) bool

	// ResyncInterval, when positive, runs a pass of converged objects this
	// often, to notice drift that no watch reports. Zero means never.
	ResyncInterval time.Duration

	// MaxConcurrentReconciles is how many objects are reconciled at once.
	// Defaults to 1.
	MaxConcurrentReconciles int

	// Builder, when set, is given the controller's builder before it is
	// built, to add watches (Owns, Watches) or options.
	Builder func(b *builder.Builder) *builder.Builder

	// Client reads and writes objects. Defaults to the manager's client.
	Client client.Client

	// APIReader reads objects past the cache, when the cache may not hold
	// the Reconciler's own last write yet. Defaults to the manager's.
	APIReader client.Reader

	// Recorder emits events. Defaults to the manager's events.k8s.io
	// recorder named Name.
	Recorder events.EventRecorder

	// TracerProvider, when set, traces every pass: one span per pass and a
	// child span per task. Nil means no tracing.
	TracerProvider trace.TracerProvider

	// Finalizer is the finalizer added when Cleanup is set. Defaults to
	// DefaultFinalizer.
	Finalizer string

	// Clock tells the time of passes, backoff and stall retries. Defaults
	// to the real clock; a test sets a fake one (reconcilertest.Driver
	// does) to step through SleepBetweenRuns and backoff without waiting.
	Clock clock.PassiveClock

	once      sync.Once
	setupErr  error
	newObject func() T
	tracer    trace.Tracer
	now       func() time.Time

	mu      sync.Mutex
	objects map[types.NamespacedName]*objectMemory
}

var _ reconcile.Reconciler = (*Reconciler[Object])(nil)

// objectMemory is what the Reconciler remembers of an object between
// reconciles. The object's status is the record that survives a restart;
// this only covers the time until the informer cache has caught up with it.
type objectMemory struct {
	uid      types.UID
	rv       string    // resourceVersion of the Reconciler's last write
	gen      int64     // generation of the last pass
	lastPass time.Time // when the last pass started
	state    string    // for the objects gauge
}

// SetupWithManager validates the Reconciler, fills in its defaults from mgr
// and registers its controller with mgr.
func (r *Reconciler[T]) SetupWithManager(mgr ctrl.Manager) error {
	if r.Client == nil {
		r.Client = mgr.GetClient()
	}
	if r.APIReader == nil {
		r.APIReader = mgr.GetAPIReader()
	}
	if r.Recorder == nil && r.Name != "" {
		r.Recorder = mgr.GetEventRecorder(r.Name)
	}
	if err := r.setup(); err != nil {
		return err
	}
	b := ctrl.NewControllerManagedBy(mgr).
		Named(r.Name).
		For(r.newObject(), builder.WithPredicates(Predicates())).
		WithOptions(controller.Options{MaxConcurrentReconciles: r.MaxConcurrentReconciles})
	if r.Builder != nil {
		b = r.Builder(b)
	}
	return b.Complete(r)
}

// Predicates filters the events of the objects a Reconciler drives down to
// the ones that need a pass: spec changes and deletions (a new generation)
// and annotation changes (pausing and resuming). The Reconciler's own status
// writes pass none of them, so they cost no reconcile. SetupWithManager uses
// it; use it in For when you build the controller yourself.
func Predicates() predicate.Predicate {
	return predicate.Or[client.Object](
		predicate.GenerationChangedPredicate{},
		predicate.AnnotationChangedPredicate{},
	)
}

// setup checks the configuration and fills in its defaults, once.
func (r *Reconciler[T]) setup() error {
	r.once.Do(func() { r.setupErr = r.complete() })
	return r.setupErr
}

// complete checks the configuration and fills in what does not come from a
// manager.
func (r *Reconciler[T]) complete() error {
	var zero T
	typ := reflect.TypeOf(zero)
	switch {
	case typ == nil || typ.Kind() != reflect.Pointer || typ.Elem().Kind() != reflect.Struct:
		return fmt.Errorf("reconciler: the type parameter must be a pointer to a struct, got %v", typ)
	case r.Name == "":
		return errors.New("reconciler: Name is required")
	case len(validation.IsDNS1123Subdomain(r.Name)) > 0:
		return fmt.Errorf("reconciler: Name %q must be a DNS-1123 subdomain: %v", r.Name, validation.IsDNS1123Subdomain(r.Name))
	case r.Plan == nil:
		return fmt.Errorf("reconciler %q: Plan is required", r.Name)
	case r.Client == nil:
		return fmt.Errorf("reconciler %q: Client is required", r.Name)
	case r.ResyncInterval < 0:
		return fmt.Errorf("reconciler %q: ResyncInterval must not be negative, got %s", r.Name, r.ResyncInterval)
	case r.MaxBackoff < 0:
		return fmt.Errorf("reconciler %q: MaxBackoff must not be negative, got %s", r.Name, r.MaxBackoff)
	case r.MaxConcurrentReconciles < 0:
		return fmt.Errorf("reconciler %q: MaxConcurrentReconciles must not be negative, got %d", r.Name, r.MaxConcurrentReconciles)
	}
	if err := r.Options.Validate(); err != nil {
		return fmt.Errorf("reconciler %q: %w", r.Name, err)
	}
	r.newObject = func() T { return reflect.New(typ.Elem()).Interface().(T) }
	if r.APIReader == nil {
		r.APIReader = r.Client
	}
	if r.Finalizer == "" {
		r.Finalizer = DefaultFinalizer
	}
	if r.MaxBackoff == 0 {
		r.MaxBackoff = DefaultMaxBackoff
	}
	if r.RetryStalled == 0 {
		r.RetryStalled = DefaultRetryStalled
	}
	if r.TracerProvider != nil {
		r.tracer = r.TracerProvider.Tracer("github.com/execloop/execloop/execloop/reconciler")
	}
	switch {
	case r.Clock != nil:
		r.now = r.Clock.Now
	case r.now == nil:
		r.now = time.Now
	}
	r.objects = map[types.NamespacedName]*objectMemory{}
	return nil
}

// remember returns what the Reconciler remembers of the object, starting
// afresh when the object was deleted and created again under the same name.
func (r *Reconciler[T]) remember(key types.NamespacedName, uid types.UID) *objectMemory {
	r.mu.Lock()
	defer r.mu.Unlock()
	m := r.objects[key]
	if m == nil || m.uid != uid {
		if m != nil {
			objectsGauge.WithLabelValues(r.Name, m.state).Dec()
		}
		m = &objectMemory{uid: uid}
		r.objects[key] = m
	}
	return m
}

// forget drops what the Reconciler remembers of a deleted object.
func (r *Reconciler[T]) forget(key types.NamespacedName) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if m := r.objects[key]; m != nil {
		if m.state != "" {
			objectsGauge.WithLabelValues(r.Name, m.state).Dec()
		}
		delete(r.objects, key)
	}
}

// setState moves the object to state in the objects gauge.
func (r *Reconciler[T]) setState(m *objectMemory, state string) {
	if m.state == state {
		return
	}
	if m.state != "" {
		objectsGauge.WithLabelValues(r.Name, m.state).Dec()
	}
	objectsGauge.WithLabelValues(r.Name, state).Inc()
	m.state = state
}

// Reconcile runs at most one pass of the object's plan; see the package
// documentation for the steps. Without SetupWithManager (in a unit test with
// a fake client, say), the first call checks the configuration.
func (r *Reconciler[T]) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	if err := r.setup(); err != nil {
		return ctrl.Result{}, reconcile.TerminalError(err)
	}
	obj := r.newObject()
	if err := r.Client.Get(ctx, req.NamespacedName, obj); err != nil {
		if apierrors.IsNotFound(err) {
			r.forget(req.NamespacedName)
			return ctrl.Result{}, nil
		}
		return ctrl.Result{}, err
	}
	m := r.remember(req.NamespacedName, obj.GetUID())
	if m.rv != "" && obj.GetResourceVersion() != m.rv {
		// The cache may not hold our last write yet: a pass must not start
		// from a stale error count or task list.
		if err := r.APIReader.Get(ctx, req.NamespacedName, obj); err != nil {
			return ctrl.Result{}, client.IgnoreNotFound(err)
		}
	}
	m.rv = obj.GetResourceVersion()

	s := &session[T]{r: r, m: m, obj: obj, base: obj.DeepCopyObject().(T), now: r.now(), key: req.NamespacedName}
	s.opts = r.Options
	s.retryStalled = r.RetryStalled
	if r.RetryStalledFor != nil {
		if d := r.RetryStalledFor(obj, r.RetryStalled); d != 0 {
			s.retryStalled = d // 0 keeps RetryStalled, as for the field itself
		}
	}
	if r.OptionsFor != nil {
		s.opts = r.OptionsFor(obj, r.Options)
		if err := s.opts.Validate(); err != nil {
			return s.stall(ctx, status.ReasonInvalidPlan, err)
		}
	}

	if !obj.GetDeletionTimestamp().IsZero() {
		if r.Cleanup == nil || !controllerutil.ContainsFinalizer(obj, r.Finalizer) {
			return ctrl.Result{}, nil
		}
		return s.reconcile(ctx, r.Cleanup, true)
	}
	if r.Cleanup != nil && !controllerutil.ContainsFinalizer(obj, r.Finalizer) {
		if gone, err := s.addFinalizer(ctx); gone || err != nil {
			return ctrl.Result{}, err
		}
	}
	return s.reconcile(ctx, r.Plan, false)
}
