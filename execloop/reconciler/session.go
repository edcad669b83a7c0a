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
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/execloop/execloop/execloop"
	"github.com/execloop/execloop/execloop/executor"
	"github.com/execloop/execloop/execloop/reconciler/status"
	"github.com/execloop/execloop/internal/transient"
)

// Object states, as the execloop_objects gauge counts them.
const (
	stateReady       = "Ready"
	stateProgressing = "Progressing"
	stateStalled     = "Stalled"
	statePaused      = "Paused"
	stateDeleting    = "Deleting"
)

// maxMessage bounds the messages written to conditions and task statuses.
const maxMessage = 1024

// A status write is tried this many times, after a conflict (on a fresh
// copy of the object) or a transient error (after a backoff that doubles);
// adding the finalizer as many times, after a conflict.
const (
	writeAttempts      = 5
	statusWriteBackoff = 50 * time.Millisecond
)

// statusWriteTimeout bounds a status write. Status writes outlive the
// reconcile's context, so that what a pass did is recorded even when the
// manager is stopping: otherwise a restarted operator would run finished
// tasks again.
const statusWriteTimeout = 10 * time.Second

// session is one reconcile of one object.
type session[T Object] struct {
	r    *Reconciler[T]
	m    *memo
	key  types.NamespacedName
	obj  T // the object, changed in place
	base T // the object as it was read, or as last written
	now  time.Time
	opts execloop.Options

	retryStalled time.Duration // the object's Reconciler.RetryStalled
	retrying     bool          // the pass is a retry of a Stalled object
}

// noBudget is the error budget of a cleanup plan: deletion never gives up.
const noBudget = 1<<31 - 1

// reconcile runs one pass of the plan that factory builds, when one is due.
func (s *session[T]) reconcile(ctx context.Context, factory func(context.Context, T) (executor.Plan, error), deleting bool) (ctrl.Result, error) {
	st := s.obj.ExecloopStatus()
	gen := s.obj.GetGeneration()
	if result, due, err := s.due(ctx, deleting); !due {
		return result, err
	}
	if deleting {
		// The cleanup plan retries with backoff until it is done: no budget
		// and no time limit stall it.
		s.opts.ErrorsToTolerate, s.opts.ExecutionTimeout = noBudget, 0
	}

	if st.StartTime == nil {
		st.StartTime = &metav1.Time{Time: s.now}
	}
	var deadline time.Time
	if d := s.opts.ExecutionTimeout; d > 0 {
		deadline = st.StartTime.Add(d)
		if !s.now.Before(deadline) {
			return s.stall(ctx, status.ReasonExecutionTimeout, fmt.Errorf("the plan did not finish within its execution timeout of %s", d))
		}
	}

	plan, err := factory(ctx, s.obj)
	if err != nil {
		if errors.Is(err, reconcile.TerminalError(nil)) {
			return s.stall(ctx, status.ReasonInvalidPlan, unwrapTerminal(err))
		}
		return ctrl.Result{}, s.retry(ctx, fmt.Errorf("building the plan: %w", err))
	}

	s.m.lastPass, s.m.gen = s.r.now(), gen
	res, err := s.pass(ctx, plan, deadline)
	var names []string
	if l, ok := plan.(TaskLister); ok {
		names = l.TaskNames()
	}
	now := metav1.Time{Time: s.now}
	failed := recordTasks(st, names, res.Tasks, gen, now, s.backoff)
	var skipped map[string]string
	if sk, ok := plan.(TaskSkipper); ok {
		skipped = sk.SkippedTasks()
		recordSkipped(st, skipped, gen, now)
	}
	boundTasks(st, res.Tasks, skipped)
	st.Errors = int32(res.Errors)
	if err == nil && !res.Done && confirmsDone(ctx, plan, res) {
		res.Done = true
	}
	s.observe(res, err)
	if err == nil || errors.As(err, new(*executor.FatalError)) {
		s.taskEvents(failed)
	}
	return s.conclude(ctx, res, err, deadline, deleting)
}

// conclude records how the pass ended and says when the next one is due.
func (s *session[T]) conclude(ctx context.Context, res executor.Result, err error, deadline time.Time, deleting bool) (ctrl.Result, error) {
	switch {
	case err == nil && res.Done && deleting:
		return ctrl.Result{}, s.removeFinalizer(ctx)
	case err == nil && res.Done:
		return s.ready(ctx)
	case err == nil:
		return s.progressing(ctx, res, deleting)
	case errors.As(err, new(*executor.FatalError)) && deleting:
		// A cleanup never stalls for good: it is tried again after the
		// longest backoff, and says why it waits meanwhile.
		if _, werr := s.stall(ctx, status.ReasonFatalError, err); werr != nil {
			return ctrl.Result{}, werr
		}
		return ctrl.Result{RequeueAfter: s.r.MaxBackoff}, nil
	case errors.As(err, new(*executor.FatalError)):
		reason := status.ReasonFatalError
		if res.Errors > s.opts.ErrorsToTolerate {
			reason = status.ReasonBudgetExhausted
		}
		return s.stall(ctx, reason, err)
	case !deadline.IsZero() && !s.r.now().Before(deadline):
		return s.stall(ctx, status.ReasonExecutionTimeout,
			fmt.Errorf("the plan did not finish within its execution timeout of %s: %w", s.opts.ExecutionTimeout, err))
	case ctx.Err() != nil:
		// The manager is stopping: keep what the pass did.
		if werr := s.write(ctx); werr != nil {
			return ctrl.Result{}, errors.Join(err, werr)
		}
		return ctrl.Result{}, err
	default:
		return ctrl.Result{}, s.retry(ctx, err)
	}
}

// due decides whether a pass runs now. When it does not, it returns what
// Reconcile returns instead: nothing for a paused object or one stalled for
// good, a requeue when the last pass was too recent or a stalled object's
// retry is not due yet.
func (s *session[T]) due(ctx context.Context, deleting bool) (ctrl.Result, bool, error) {
	st := s.obj.ExecloopStatus()
	gen := s.obj.GetGeneration()
	// A deletion runs its cleanup, paused or not: an object that waits for
	// its finalizer must not hang in Terminating.
	if !deleting && s.obj.GetAnnotations()[PausedAnnotation] == "true" {
		return ctrl.Result{}, false, s.pause(ctx, status.ReasonPaused, fmt.Sprintf("Paused by the annotation %s=true", PausedAnnotation))
	}
	if !deleting && s.r.Suspended != nil && s.r.Suspended(s.obj) {
		return ctrl.Result{}, false, s.pause(ctx, status.ReasonSuspended, "Suspended by the spec")
	}
	requested := s.obj.GetAnnotations()[RequestedAtAnnotation]
	switch {
	case passedGeneration(st) != gen:
		// A new spec (or the deletion, which also bumps the generation):
		// start at once with a fresh budget.
		freshStart(st)
		meta.RemoveStatusCondition(&st.Conditions, status.ConditionStalled)
		if deleting {
			st.Tasks = nil // the cleanup plan's tasks replace the plan's
		}
		st.LastHandledReconcileAt = requested
	case requested != "" && requested != st.LastHandledReconcileAt:
		// Someone asked for a pass now: it starts with a fresh budget,
		// stalled or not, and a Stalled condition stays until it mends.
		freshStart(st)
		st.LastHandledReconcileAt = requested
		s.retrying = st.IsStalled(gen)
	case st.IsStalled(gen) && !reconciling(st):
		// Stalled, and no retry under way.
		c := st.Condition(status.ConditionStalled)
		if deleting {
			break // a cleanup's retry was requeued after its backoff
		}
		if !mends(c.Reason) || s.retryStalled < 0 {
			s.r.setState(s.m, stateStalled)
			return ctrl.Result{}, false, nil // quiet until the spec changes
		}
		if st.NextPassTime != nil && s.now.Before(st.NextPassTime.Time) {
			s.r.setState(s.m, stateStalled)
			return ctrl.Result{RequeueAfter: st.NextPassTime.Sub(s.now)}, false, nil
		}
		freshStart(st)
		s.retrying = true
	default:
		s.retrying = st.IsStalled(gen) // a retry under way stays Stalled while its tasks fail
		if wait := s.wait(st); wait > 0 {
			return ctrl.Result{RequeueAfter: wait}, false, nil
		}
	}
	return ctrl.Result{}, true, nil
}

// reconciling reports whether the Reconciling condition is True: passes
// are under way.
func reconciling(st *status.Status) bool {
	c := st.Condition(status.ConditionReconciling)
	return c != nil && c.Status == metav1.ConditionTrue
}

// passedGeneration is the generation the last pass ran for: the Ready
// condition's, which only a pass sets.
func passedGeneration(st *status.Status) int64 {
	if c := st.Condition(status.ConditionReady); c != nil {
		return c.ObservedGeneration
	}
	return 0
}

// wait returns how long until the next pass may start: never sooner than
// SleepBetweenRuns after the previous one, whatever triggered this
// reconcile.
func (s *session[T]) wait(st *status.Status) time.Duration {
	last := time.Time{}
	if s.m.gen == s.obj.GetGeneration() {
		last = s.m.lastPass
	}
	if st.LastPassTime != nil && st.LastPassTime.After(last) {
		last = st.LastPassTime.Time // the record of a previous process
	}
	if last.IsZero() {
		return 0
	}
	return last.Add(s.opts.SleepBetweenRuns).Sub(s.now)
}

// pass runs one pass of plan, bounded by deadline when it is set.
func (s *session[T]) pass(ctx context.Context, plan executor.Plan, deadline time.Time) (executor.Result, error) {
	opts := s.opts
	opts.Logger = execloop.NewLogrLogger(logf.FromContext(ctx))
	if !deadline.IsZero() {
		// What is left by the Reconciler's clock, which may be a test's.
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, deadline.Sub(s.now))
		defer cancel()
	}
	st := s.obj.ExecloopStatus()
	exec := executor.New(&opts, executor.WithObserver(s.r.observer(s.obj, s.r.Observer)))
	return exec.RunOnce(ctx, holding(plan, st, s.now), executor.ErrorsSpent(st.Errors))
}

// backoff is how long a task waits after its failures-th failure in a row.
func (s *session[T]) backoff(failures int32) time.Duration {
	return backoff(s.opts.SleepBetweenRuns, s.r.MaxBackoff, failures)
}

// ready records that the plan needs no more tasks.
func (s *session[T]) ready(ctx context.Context) (ctrl.Result, error) {
	st := s.obj.ExecloopStatus()
	wasReady := s.base.ExecloopStatus().IsReady(s.obj.GetGeneration())
	st.Errors = 0 // a converged plan starts its next convergence (drift) with a fresh budget
	st.StartTime = nil
	st.NextPassTime = nil
	var result ctrl.Result
	if s.r.ResyncInterval > 0 {
		result.RequeueAfter = s.r.ResyncInterval
		st.NextPassTime = &metav1.Time{Time: s.now.Add(s.r.ResyncInterval)}
	}
	msg := "The plan needs no more tasks"
	if n := len(st.Tasks); n > 0 {
		msg = fmt.Sprintf("All %d tasks succeeded", n)
	}
	s.setConditions(metav1.ConditionTrue, status.ReasonSucceeded, msg)
	meta.RemoveStatusCondition(&st.Conditions, status.ConditionReconciling)
	if err := s.write(ctx); err != nil {
		return ctrl.Result{}, err
	}
	s.r.setState(s.m, stateReady)
	if !wasReady {
		s.event(corev1.EventTypeNormal, "PlanCompleted", msg)
	}
	return result, nil
}

// progressing records a pass after which tasks remain, and requeues for
// the earliest time something is due: after SleepBetweenRuns when a task
// succeeded or waits, otherwise when the first failed task may try again.
// A retry of a Stalled object stays Stalled while its tasks fail.
func (s *session[T]) progressing(ctx context.Context, res executor.Result, deleting bool) (ctrl.Result, error) {
	st := s.obj.ExecloopStatus()
	reason, state := status.ReasonProgressing, stateProgressing
	if deleting {
		reason, state = status.ReasonDeleting, stateDeleting
	}
	msg := summary(st)
	var stalled *metav1.Condition
	if c := st.Condition(status.ConditionStalled); c != nil {
		stalled = c.DeepCopy() // setConditions may remove it from the list
	}
	failed := slices.ContainsFunc(res.Tasks, func(t executor.TaskResult) bool { return t.Outcome == execloop.Failed })
	s.setConditions(metav1.ConditionFalse, reason, msg)
	if s.retrying && failed && stalled != nil {
		meta.SetStatusCondition(&st.Conditions, *stalled)
	}
	meta.SetStatusCondition(&st.Conditions, metav1.Condition{
		Type: status.ConditionReconciling, Status: metav1.ConditionTrue, Reason: reason, Message: msg,
		ObservedGeneration: s.obj.GetGeneration(),
	})
	wait := max(s.opts.SleepBetweenRuns, time.Nanosecond) // zero means no pause, but a requeue all the same
	if !slices.ContainsFunc(res.Tasks, moved) {
		if at := earliestAttempt(st); !at.IsZero() {
			wait = max(wait, at.Sub(s.now))
		}
	}
	st.NextPassTime = &metav1.Time{Time: s.now.Add(wait)}
	if err := s.write(ctx); err != nil {
		return ctrl.Result{}, err
	}
	s.r.setState(s.m, state)
	return ctrl.Result{RequeueAfter: wait}, nil
}

// moved reports a task execution after which the next pass should come
// soon: it succeeded, or it waits for something (a held task does not).
func moved(t executor.TaskResult) bool {
	return t.Outcome == execloop.Succeeded || (t.Outcome == execloop.InProgress && !errors.Is(t.Err, errHeld))
}

// stall records a failure the passes cannot get past: Stalled, with the
// reason. A failure that may mend (see mends) is retried with a fresh
// budget after the object's RetryStalled; any other ends the requeues until
// the spec changes.
func (s *session[T]) stall(ctx context.Context, reason string, cause error) (ctrl.Result, error) {
	st := s.obj.ExecloopStatus()
	msg := truncate(cause.Error())
	s.setConditions(metav1.ConditionFalse, reason, msg)
	meta.SetStatusCondition(&st.Conditions, metav1.Condition{
		Type: status.ConditionStalled, Status: metav1.ConditionTrue, Reason: reason, Message: msg,
		ObservedGeneration: s.obj.GetGeneration(),
	})
	meta.RemoveStatusCondition(&st.Conditions, status.ConditionReconciling)
	st.NextPassTime = nil
	retry := mends(reason) && s.retryStalled >= 0
	if retry {
		st.NextPassTime = &metav1.Time{Time: s.now.Add(s.retryStalled)}
	}
	if err := s.write(ctx); err != nil {
		return ctrl.Result{}, err
	}
	s.r.setState(s.m, stateStalled)
	s.event(corev1.EventTypeWarning, "PlanStalled", msg)
	if retry {
		// Returned, the error would be retried with the queue's backoff
		// rather than after RetryStalled; logged here, it is still in the
		// logs where controller-runtime puts a returned one.
		logf.FromContext(ctx).Error(cause, "Stalled", "reason", reason, "retryAfter", s.retryStalled.String())
		return ctrl.Result{RequeueAfter: s.retryStalled}, nil
	}
	return ctrl.Result{}, reconcile.TerminalError(cause)
}

// retry records a failure that may mend (a plan factory or Create error,
// say, from an API call), and returns it for a retry with backoff.
func (s *session[T]) retry(ctx context.Context, cause error) error {
	st := s.obj.ExecloopStatus()
	msg := truncate(cause.Error())
	s.setConditions(metav1.ConditionFalse, status.ReasonCreateFailed, msg)
	meta.SetStatusCondition(&st.Conditions, metav1.Condition{
		Type: status.ConditionReconciling, Status: metav1.ConditionTrue, Reason: status.ReasonCreateFailed, Message: msg,
		ObservedGeneration: s.obj.GetGeneration(),
	})
	if err := s.write(ctx); err != nil {
		return errors.Join(cause, err)
	}
	return cause
}

// pause records that the object is paused or suspended. The generation
// counts as observed (kstatus then sees a paused object as settled), but
// the Ready condition keeps the generation of the last pass, so a spec
// changed while paused still starts afresh when the pause ends.
func (s *session[T]) pause(ctx context.Context, reason, msg string) error {
	st := s.obj.ExecloopStatus()
	st.ObservedGeneration = s.obj.GetGeneration()
	meta.SetStatusCondition(&st.Conditions, metav1.Condition{
		Type: status.ConditionReconciling, Status: metav1.ConditionFalse, Reason: reason, Message: msg,
		ObservedGeneration: st.ObservedGeneration,
	})
	st.NextPassTime = nil
	if err := s.write(ctx); err != nil {
		return err
	}
	s.r.setState(s.m, statePaused)
	return nil
}

// setConditions sets Ready and, unless it is a stall, removes Stalled; it
// also moves observedGeneration to the object's generation.
func (s *session[T]) setConditions(ready metav1.ConditionStatus, reason, msg string) {
	st := s.obj.ExecloopStatus()
	gen := s.obj.GetGeneration()
	st.ObservedGeneration = gen
	meta.SetStatusCondition(&st.Conditions, metav1.Condition{
		Type: status.ConditionReady, Status: ready, Reason: reason, Message: msg, ObservedGeneration: gen,
	})
	if ready == metav1.ConditionTrue || reason == status.ReasonProgressing || reason == status.ReasonDeleting || reason == status.ReasonCreateFailed {
		meta.RemoveStatusCondition(&st.Conditions, status.ConditionStalled)
	}
	for i := range st.Conditions {
		st.Conditions[i].ObservedGeneration = gen
	}
}

// write patches the object's status when it differs from what was read,
// leaving out the pass times: a pass that changed nothing else costs no
// write. The patch carries the resourceVersion; on a conflict the status is
// put on a fresh copy of the object and written again.
func (s *session[T]) write(ctx context.Context) error {
	if sum, ok := any(s.obj).(Summarizer); ok {
		sum.Summarize()
	}
	st, was := s.obj.ExecloopStatus(), s.base.ExecloopStatus()
	last := &metav1.Time{Time: s.now}
	next := st.NextPassTime
	st.LastPassTime, st.NextPassTime = was.LastPassTime, was.NextPassTime
	if equality.Semantic.DeepEqual(s.base, s.obj) {
		st.NextPassTime = next
		return nil
	}
	st.LastPassTime, st.NextPassTime = last, next

	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), statusWriteTimeout)
	defer cancel()
	for attempt := 1; ; attempt++ {
		err := s.r.Client.Status().Patch(ctx, s.obj, client.MergeFromWithOptions(s.base, client.MergeFromWithOptimisticLock{}))
		switch {
		case err == nil:
			s.m.rv = s.obj.GetResourceVersion()
			s.base = s.obj.DeepCopyObject().(T)
			return nil
		case attempt == writeAttempts:
			return fmt.Errorf("writing the status: %w", err)
		case apierrors.IsConflict(err):
			if err := s.refresh(ctx); err != nil {
				return err
			}
		case transient.Error(err):
			select {
			case <-time.After(statusWriteBackoff << (attempt - 1)):
			case <-ctx.Done():
				return fmt.Errorf("writing the status: %w", err)
			}
		default:
			return fmt.Errorf("writing the status: %w", err)
		}
	}
}

// refresh reads the object again after a conflict and puts the status of
// this reconcile on it, so that the next write carries the new
// resourceVersion and clobbers nothing but the status.
func (s *session[T]) refresh(ctx context.Context) error {
	fresh := s.r.newObject()
	if err := s.r.APIReader.Get(ctx, s.key, fresh); err != nil {
		return fmt.Errorf("reading the object again after a conflict: %w", err)
	}
	base := fresh.DeepCopyObject().(T) // the object as the server has it: what the patch is made against
	if err := copyStatus(fresh, s.obj); err != nil {
		return err
	}
	s.base, s.obj = base, fresh
	return nil
}

// copyStatus puts src's whole status (the embedded Status and the fields
// around it) onto dst.
func copyStatus[T Object](dst, src T) error {
	from, err := runtime.DefaultUnstructuredConverter.ToUnstructured(src)
	if err != nil {
		return err
	}
	to, err := runtime.DefaultUnstructuredConverter.ToUnstructured(dst)
	if err != nil {
		return err
	}
	if status, ok := from["status"]; ok {
		to["status"] = status
	} else {
		delete(to, "status")
	}
	return runtime.DefaultUnstructuredConverter.FromUnstructured(to, dst)
}

// addFinalizer adds the Reconciler's finalizer, so that the cleanup plan
// runs before the object goes. A merge patch replaces the whole list of
// finalizers, so it is made under the object's resourceVersion: when someone
// wrote the object since it was read (another controller adding its own
// finalizer, say), the patch is made again against the object as the API
// server has it, rather than drop what they wrote. gone reports an object
// deleted meanwhile: nothing was applied for it, so there is nothing to
// clean up and the reconcile ends.
func (s *session[T]) addFinalizer(ctx context.Context) (gone bool, err error) {
	for attempt := 1; ; attempt++ {
		patch := client.MergeFromWithOptions(s.base, client.MergeFromWithOptimisticLock{})
		controllerutil.AddFinalizer(s.obj, s.r.Finalizer)
		err := s.r.Client.Patch(ctx, s.obj, patch)
		if err == nil {
			s.m.rv = s.obj.GetResourceVersion()
			s.base = s.obj.DeepCopyObject().(T)
			return false, nil
		}
		if !apierrors.IsConflict(err) || attempt == writeAttempts {
			return false, fmt.Errorf("adding the finalizer %s: %w", s.r.Finalizer, err)
		}
		fresh := s.r.newObject()
		if err := s.r.APIReader.Get(ctx, s.key, fresh); err != nil {
			if apierrors.IsNotFound(err) {
				return true, nil
			}
			return false, fmt.Errorf("reading the object again to add the finalizer %s: %w", s.r.Finalizer, err)
		}
		s.base, s.obj = fresh.DeepCopyObject().(T), fresh
		switch {
		case !fresh.GetDeletionTimestamp().IsZero():
			return true, nil
		case controllerutil.ContainsFinalizer(fresh, s.r.Finalizer):
			s.m.rv = fresh.GetResourceVersion()
			return false, nil
		}
	}
}

// removeFinalizer lets the object go once its cleanup plan is done.
func (s *session[T]) removeFinalizer(ctx context.Context) error {
	patch := client.MergeFromWithOptions(s.base, client.MergeFromWithOptimisticLock{})
	controllerutil.RemoveFinalizer(s.obj, s.r.Finalizer)
	if err := s.r.Client.Patch(ctx, s.obj, patch); err != nil {
		return fmt.Errorf("removing the finalizer %s: %w", s.r.Finalizer, err)
	}
	s.r.forget(s.key)
	s.event(corev1.EventTypeNormal, "CleanupCompleted", "The cleanup plan needs no more tasks")
	return nil
}

// taskEvents emits a Warning event for each failed task, unless the task
// had already failed with the same message: repeated identical failures
// make no event storm.
func (s *session[T]) taskEvents(failed []status.TaskStatus) {
	was := s.base.ExecloopStatus()
	for _, t := range failed {
		if before := was.Task(t.Name); before != nil && before.State == status.TaskFailed && before.Message == t.Message {
			continue
		}
		s.event(corev1.EventTypeWarning, "TaskFailed", fmt.Sprintf("Task %s failed (attempt %d): %s", t.Name, t.Attempts, t.Message))
	}
}

// event emits an events.k8s.io event about the object.
func (s *session[T]) event(eventType, reason, note string) {
	if s.r.Recorder != nil {
		s.r.Recorder.Eventf(s.obj, nil, eventType, reason, "Reconcile", "%s", note)
	}
}

// observe counts the pass and its tasks in the metrics.
func (s *session[T]) observe(res executor.Result, err error) {
	for _, t := range res.Tasks {
		outcome := t.Outcome.String()
		taskDuration.WithLabelValues(s.r.Name, outcome).Observe(t.Duration.Seconds())
		taskExecutions.WithLabelValues(s.r.Name, outcome).Inc()
	}
	result := "progressing"
	switch {
	case err != nil:
		result = "error"
	case res.Done:
		result = "done"
	}
	passes.WithLabelValues(s.r.Name, result).Inc()
}

// confirmsDone reports whether the plan, asked once more after a pass in
// which every task succeeded, needs no more tasks: the pass was the last,
// and the object is Ready now rather than after the confirming pass one
// SleepBetweenRuns later. The tasks Create returns are not run. A Finisher
// plan has answered already (executor.Finisher), and is not asked; nor is a
// plan after a pass with a task that failed, waits or was held back. A
// Create that fails or panics counts as a no: the next pass asks again.
func confirmsDone(ctx context.Context, plan executor.Plan, res executor.Result) (done bool) {
	if _, ok := plan.(executor.Finisher); ok || len(res.Tasks) == 0 {
		return false
	}
	for _, t := range res.Tasks {
		if t.Outcome != execloop.Succeeded {
			return false
		}
	}
	defer func() {
		if v := recover(); v != nil {
			logf.FromContext(ctx).Error(fmt.Errorf("panic: %v", v), "Asking the plan whether it needs more tasks")
			done = false
		}
	}()
	var tasks []executor.Task
	var err error
	if cp, ok := plan.(executor.ContextPlan); ok {
		tasks, err = cp.CreateContext(ctx)
	} else {
		tasks, err = plan.Create()
	}
	return err == nil && len(tasks) == 0
}

// recordTasks records the task executions of a pass in st, for the
// object's generation gen. With names (the plan's TaskLister), st.Tasks is
// kept to exactly those tasks, in order. It returns the statuses of the
// tasks that failed in the pass.
//
// A failed task's next attempt is due after backoff(failures in a row); a
// task held back by its backoff keeps its status.
func recordTasks(st *status.Status, names []string, results []executor.TaskResult, gen int64, now metav1.Time, backoff func(failures int32) time.Duration) []status.TaskStatus {
	if names != nil {
		tasks := make([]status.TaskStatus, 0, len(names))
		for _, n := range names {
			if t := st.Task(n); t != nil {
				tasks = append(tasks, *t)
			} else {
				tasks = append(tasks, status.TaskStatus{Name: n, State: status.TaskPending, LastTransitionTime: &now, ObservedGeneration: gen})
			}
		}
		st.Tasks = tasks
	}
	var failed []status.TaskStatus
	for _, res := range results {
		if errors.Is(res.Err, errHeld) {
			continue
		}
		t := st.Task(res.Name)
		if t == nil {
			st.Tasks = append(st.Tasks, status.TaskStatus{Name: res.Name, State: status.TaskPending})
			t = &st.Tasks[len(st.Tasks)-1]
		}
		state := status.TaskSucceeded
		switch res.Outcome {
		case execloop.InProgress:
			state = status.TaskInProgress
		case execloop.Failed:
			state = status.TaskFailed
		}
		if t.State != status.TaskInProgress {
			t.StartedTime = &now // a new attempt; a wait goes on with the same one
		}
		if state != status.TaskInProgress {
			t.Attempts++
		}
		if t.State != state {
			t.State = state
			t.LastTransitionTime = &now
		}
		t.Message = ""
		if res.Err != nil {
			msg := res.Err.Error()
			if state == status.TaskInProgress { // the state says so already
				msg = strings.TrimSuffix(msg, ": "+executor.ErrInProgress.Error())
			}
			t.Message = truncate(res.Phase.String() + ": " + msg)
		}
		t.NextAttemptTime = nil
		t.ObservedGeneration = gen
		switch state {
		case status.TaskSucceeded:
			t.FinishedTime = &now
			t.Failures = 0
		case status.TaskFailed:
			t.Failures++
			t.NextAttemptTime = &metav1.MicroTime{Time: now.Add(backoff(t.Failures))}
			failed = append(failed, *t)
		}
	}
	return failed
}

// recordSkipped records the tasks a plan left out, with why, for the
// object's generation gen.
func recordSkipped(st *status.Status, skipped map[string]string, gen int64, now metav1.Time) {
	for name, why := range skipped {
		t := st.Task(name)
		if t == nil {
			st.Tasks = append(st.Tasks, status.TaskStatus{Name: name})
			t = &st.Tasks[len(st.Tasks)-1]
		}
		if t.State != status.TaskSkipped {
			t.State = status.TaskSkipped
			t.LastTransitionTime = &now
		}
		t.Message = truncate(why)
		t.Failures, t.NextAttemptTime = 0, nil
		t.ObservedGeneration = gen
	}
}

// boundTasks keeps st.Tasks to status.MaxTasks entries, dropping the ones
// least worth keeping as status.MaxTasks describes: the finished tasks that
// the pass (its results and the skipped tasks) did not record, then Pending
// and finished ones, then the rest; the least recently recorded first within
// each. The entries kept stay in their order.
func boundTasks(st *status.Status, results []executor.TaskResult, skipped map[string]string) {
	drop := len(st.Tasks) - status.MaxTasks
	if drop <= 0 {
		return
	}
	recorded := make(map[string]bool, len(results)+len(skipped))
	for _, r := range results {
		recorded[r.Name] = true // a task held back is Failed: it stays as long as can be anyway
	}
	for name := range skipped {
		recorded[name] = true
	}
	rank := func(t *status.TaskStatus) int {
		finished := t.State == status.TaskSucceeded || t.State == status.TaskSkipped
		switch {
		case finished && !recorded[t.Name]:
			return 0
		case finished || t.State == status.TaskPending:
			return 1
		default:
			return 2
		}
	}
	order := make([]int, len(st.Tasks))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		ta, tb := &st.Tasks[a], &st.Tasks[b]
		if c := cmp.Compare(rank(ta), rank(tb)); c != 0 {
			return c
		}
		return recordedAt(ta).Compare(recordedAt(tb))
	})
	gone := make([]bool, len(st.Tasks))
	for _, i := range order[:drop] {
		gone[i] = true
	}
	kept := make([]status.TaskStatus, 0, status.MaxTasks)
	for i := range st.Tasks {
		if !gone[i] {
			kept = append(kept, st.Tasks[i])
		}
	}
	st.Tasks = kept
}

// recordedAt is when a pass last recorded something of a task: the latest
// of its transition, start and finish times; the zero time when its status
// holds none.
func recordedAt(t *status.TaskStatus) time.Time {
	var at time.Time
	for _, ts := range []*metav1.Time{t.LastTransitionTime, t.StartedTime, t.FinishedTime} {
		if ts != nil && ts.After(at) {
			at = ts.Time
		}
	}
	return at
}

// summary says where the plan stands, for the conditions' messages.
func summary(st *status.Status) string {
	succeeded, skipped := 0, 0
	var waiting []string
	for _, t := range st.Tasks {
		switch t.State {
		case status.TaskSucceeded:
			succeeded++
		case status.TaskSkipped:
			skipped++
		case status.TaskInProgress:
			waiting = append(waiting, fmt.Sprintf("%s is %s (%s)", t.Name, t.State, t.Message))
		case status.TaskFailed:
			next := ""
			if t.NextAttemptTime != nil {
				next = ", next attempt at " + t.NextAttemptTime.UTC().Format(time.RFC3339)
			}
			waiting = append(waiting, fmt.Sprintf("%s is %s (%s%s)", t.Name, t.State, t.Message, next))
		}
	}
	msg := fmt.Sprintf("%d of %d tasks succeeded", succeeded, len(st.Tasks))
	if skipped > 0 {
		msg += fmt.Sprintf(", %d skipped", skipped)
	}
	if len(waiting) > 0 {
		msg += "; " + strings.Join(waiting, "; ")
	}
	return truncate(msg)
}

// unwrapTerminal returns the error inside a reconcile.TerminalError, whose
// own message only adds "terminal error: " to it.
func unwrapTerminal(err error) error {
	if inner := errors.Unwrap(err); inner != nil && err.Error() == "terminal error: "+inner.Error() {
		return inner
	}
	return err
}

// truncate bounds a message to maxMessage bytes, cutting at a rune.
func truncate(msg string) string {
	if len(msg) <= maxMessage {
		return msg
	}
	cut := maxMessage - len("…")
	for cut > 0 && !utf8.RuneStart(msg[cut]) {
		cut--
	}
	return msg[:cut] + "…"
}
