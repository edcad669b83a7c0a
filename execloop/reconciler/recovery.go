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
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/execloop/execloop/execloop/executor"
	"github.com/execloop/execloop/execloop/reconciler/status"
)

// RequestedAtAnnotation set to a value it has not had before (the time, say)
// makes the object's next pass start at once with a fresh error budget,
// whether the object is Stalled, backing off or waiting for
// SleepBetweenRuns. Status.LastHandledReconcileAt records the value the pass
// started for, so a tool can tell when the request took effect. Paused and
// suspended objects stay paused.
const RequestedAtAnnotation = "execloop.dev/reconcile-requested-at"

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

// mends reports whether an object stalled for reason may succeed without a
// change of its spec: an exhausted error budget or an exceeded execution
// timeout is retried with a fresh budget; a fatal error or an invalid plan
// is not.
func mends(reason string) bool {
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

// errHeld is the error of a task that a pass leaves out while it backs off.
// It wraps executor.ErrInProgress, so it spends no error, and the task's
// status is left as its last attempt left it.
var errHeld = fmt.Errorf("backing off after a failure: %w", executor.ErrInProgress)

// holding wraps plan for one pass so that the tasks whose next attempt is
// after now do not run: neither when Create returns them nor when a parent
// returns them as children. It returns plan itself when no task backs off.
func holding(plan executor.Plan, st *status.Status, now time.Time) executor.Plan {
	var held map[string]bool
	for i := range st.Tasks {
		t := &st.Tasks[i]
		if t.State == status.TaskFailed && t.NextAttemptTime != nil && now.Before(t.NextAttemptTime.Time) {
			if held == nil {
				held = map[string]bool{}
			}
			held[t.Name] = true
		}
	}
	if held == nil {
		return plan
	}
	return &heldPlan{plan: plan, held: held}
}

// heldPlan is a plan whose tasks back off as its status says.
type heldPlan struct {
	plan executor.Plan
	held map[string]bool // names of the tasks that back off
}

var (
	_ executor.ContextPlan = (*heldPlan)(nil)
	_ executor.Finisher    = (*heldPlan)(nil)
	_ executor.ContextTask = heldTask{}
	_ executor.TimeoutTask = heldTask{}
)

func (p *heldPlan) Create() ([]executor.Task, error) { return p.CreateContext(context.Background()) }

func (p *heldPlan) CreateContext(ctx context.Context) ([]executor.Task, error) {
	var tasks []executor.Task
	var err error
	if cp, ok := p.plan.(executor.ContextPlan); ok {
		tasks, err = cp.CreateContext(ctx)
	} else {
		tasks, err = p.plan.Create()
	}
	return p.wrap(tasks), err
}

// Finished asks the plan, when it is a Finisher. A pass in which a task was
// held never asks: it had a task in progress.
func (p *heldPlan) Finished() bool {
	f, ok := p.plan.(executor.Finisher)
	return ok && f.Finished()
}

func (p *heldPlan) wrap(tasks []executor.Task) []executor.Task {
	for i, t := range tasks {
		if t != nil {
			tasks[i] = heldTask{Task: t, plan: p}
		}
	}
	return tasks
}

// heldTask runs its task's phases unless the task backs off, and wraps the
// children it returns so that they back off too.
type heldTask struct {
	executor.Task
	plan *heldPlan
}

func (t heldTask) Pre() error { return t.PreContext(context.Background()) }
func (t heldTask) PerformAction() ([]executor.Task, error) {
	return t.PerformActionContext(context.Background())
}
func (t heldTask) Post() error { return t.PostContext(context.Background()) }

func (t heldTask) Timeout() time.Duration {
	if tt, ok := t.Task.(executor.TimeoutTask); ok {
		return tt.Timeout()
	}
	return 0
}

func (t heldTask) PreContext(ctx context.Context) error {
	if t.plan.held[t.Name()] {
		return errHeld
	}
	if ct, ok := t.Task.(executor.ContextTask); ok {
		return ct.PreContext(ctx)
	}
	return t.Task.Pre()
}

func (t heldTask) PerformActionContext(ctx context.Context) ([]executor.Task, error) {
	var children []executor.Task
	var err error
	if ct, ok := t.Task.(executor.ContextTask); ok {
		children, err = ct.PerformActionContext(ctx)
	} else {
		children, err = t.Task.PerformAction()
	}
	return t.plan.wrap(children), err
}

func (t heldTask) PostContext(ctx context.Context) error {
	if ct, ok := t.Task.(executor.ContextTask); ok {
		return ct.PostContext(ctx)
	}
	return t.Task.Post()
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
