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

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/execloop/execloop/execloop"
	"github.com/execloop/execloop/execloop/executor"
	"github.com/execloop/execloop/execloop/reconciler/status"
)

// session is one reconcile of one object.
type session[T Object] struct {
	r    *Reconciler[T]
	m    *objectMemory
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
	tasks, err := executor.CreateTasks(ctx, plan)
	return err == nil && len(tasks) == 0
}
