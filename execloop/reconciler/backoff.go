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
	"math/rand/v2"
	"time"

	"github.com/execloop/execloop/execloop/reconciler/status"
)

// RequestedAtAnnotation set to a value it has not had before (the time, say)
// makes the object's next pass start at once with a fresh error budget,
// whether the object is Stalled, backing off or waiting for
// SleepBetweenRuns. Status.LastHandledReconcileAt records the value the pass
// started for, so a tool can tell when the request took effect. Paused and
// suspended objects stay paused.
const RequestedAtAnnotation = status.RequestedAtAnnotation

const (
	// DefaultMaxBackoff is the default of Reconciler.MaxBackoff.
	DefaultMaxBackoff = 5 * time.Minute
	// DefaultRetryStalled is the default of Reconciler.RetryStalled.
	DefaultRetryStalled = 5 * time.Minute
	// minBackoff is the first delay of a task's backoff when
	// SleepBetweenRuns is shorter.
	minBackoff = 100 * time.Millisecond
)

// backoff returns how long a task waits after its failures-th failure in a
// row: base, doubling with each failure, never more than limit, plus up to
// a tenth of that at random, so that the tasks of many objects that failed
// together do not come back together.
func backoff(base, limit time.Duration, failures int32) time.Duration {
	d := max(base, minBackoff)
	for i := int32(1); i < failures && d < limit; i++ {
		d *= 2
	}
	d = min(d, limit)
	return d + rand.N(d/10+1)
}

// recoverable reports whether an object stalled for reason may succeed
// without a change of its spec: an exhausted error budget or an exceeded
// execution timeout is retried with a fresh budget; a fatal error or an
// invalid plan is not.
func recoverable(reason string) bool {
	return reason == status.ReasonBudgetExhausted || reason == status.ReasonExecutionTimeout
}

// freshStart gives the object a fresh error budget and execution timeout,
// and lets every failed task try again at once.
func freshStart(st *status.Status) {
	st.Errors = 0
	st.StartTime = nil
	for i := range st.Tasks {
		st.Tasks[i].Failures = 0
		st.Tasks[i].NextAttemptTime = nil
	}
}

// earliestAttempt returns the earliest next attempt of a failed task, or the
// zero time.
func earliestAttempt(st *status.Status) time.Time {
	var at time.Time
	for i := range st.Tasks {
		if t := st.Tasks[i].NextAttemptTime; t != nil && st.Tasks[i].State == status.TaskFailed && (at.IsZero() || t.Time.Before(at)) {
			at = t.Time
		}
	}
	return at
}
