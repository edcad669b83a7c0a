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
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/execloop/execloop/execloop"
	"github.com/execloop/execloop/execloop/executor"
	"github.com/execloop/execloop/execloop/reconciler/status"
)

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
		if !recoverable(c.Reason) || s.retryStalled < 0 {
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

// wantsNextPassSoon reports a task execution after which the next pass
// should come soon: it succeeded, or it waits for something (a held task
// does not).
func wantsNextPassSoon(t executor.TaskResult) bool {
	return t.Outcome == execloop.Succeeded || (t.Outcome == execloop.InProgress && !errors.Is(t.Err, errHeld))
}
