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
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/execloop/execloop/execloop"
	"github.com/execloop/execloop/execloop/executor"
	"github.com/execloop/execloop/execloop/reconciler/status"
)

// maxMessage bounds the messages written to conditions and task statuses.
const maxMessage = 1024

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
		s.event(corev1.EventTypeNormal, eventPlanCompleted, msg)
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
	if !slices.ContainsFunc(res.Tasks, wantsNextPassSoon) {
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

// stall records a failure the passes cannot get past: Stalled, with the
// reason. A failure that may mend (see recoverable) is retried with a fresh
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
	retry := recoverable(reason) && s.retryStalled >= 0
	if retry {
		st.NextPassTime = &metav1.Time{Time: s.now.Add(s.retryStalled)}
	}
	if err := s.write(ctx); err != nil {
		return ctrl.Result{}, err
	}
	s.r.setState(s.m, stateStalled)
	s.event(corev1.EventTypeWarning, eventPlanStalled, msg)
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
