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

package executor

import (
	"context"
	"time"

	"github.com/execloop/execloop/execloop"
)

// Executor runs plans: it asks the plan which tasks are still needed, runs
// them, and starts over until the plan needs none. It holds only its options,
// so one Executor may serve any number of runs, one after the other or at the
// same time. The zero value runs with the zero Options.
type Executor struct {
	opts execloop.Options
	obs  execloop.Observer
	err  error // what Options.Validate said
}

// New returns an Executor with a copy of opts; nil means DefaultOptions().
// Options that do not validate make every run return the validation error.
// The Options are the original execloop's; what it lacks is given as
// Options of New (WithObserver).
func New(opts *execloop.Options, with ...Option) *Executor {
	o := execloop.DefaultOptions()
	if opts != nil {
		o = *opts
	}
	e := &Executor{opts: o, err: o.Validate()}
	for _, w := range with {
		w.apply(e)
	}
	return e
}

// Option configures an Executor beyond its execloop.Options; see New.
type Option interface {
	apply(e *Executor)
}

// WithObserver is an Option of New: obs is told when passes and tasks start
// and finish, to drive metrics, events or tracing. Nil, like no observer at
// all, costs nothing.
func WithObserver(obs execloop.Observer) Option { return observerOption{obs} }

type observerOption struct{ obs execloop.Observer }

func (o observerOption) apply(e *Executor) { e.obs = o.obs }

// Options returns the executor's options.
func (e *Executor) Options() execloop.Options { return e.opts }

// Run runs plan until its Create returns no tasks, with a fresh error budget,
// pausing SleepBetweenRuns between passes. It is RunWithContext with
// context.Background().
func (e *Executor) Run(plan Plan) error {
	return e.RunWithContext(context.Background(), plan)
}

// RunWithContext runs plan until its Create returns no tasks, with a fresh
// error budget, pausing SleepBetweenRuns between passes. It returns nil when
// the final state is reached, and otherwise:
//   - the Create error (wrapped) when Create fails;
//   - a *FatalError when a task's error is fatal or exhausts the budget;
//   - context.DeadlineExceeded itself when ExecutionTimeout passes, and
//     ctx.Err() itself when ctx is done, so that err == context.Canceled
//     holds as it does for the original execloop. Why the run stopped
//     ("execution timeout of 20m0s exceeded", or the context's cause) goes
//     to the Logger. The run returns promptly: no task phase starts after
//     that, and a phase still running is left to finish on its own
//     goroutine, which ends when the phase returns.
//
// The plan and the tasks receive ctx bounded by ExecutionTimeout.
func (e *Executor) RunWithContext(ctx context.Context, plan Plan) error {
	if e.err != nil {
		return e.err
	}
	run, cancel := ctx, context.CancelFunc(nil)
	if d := e.opts.ExecutionTimeout; d > 0 {
		run, cancel = context.WithTimeout(ctx, d)
		// Called before the run returns: it returns once the cancellation
		// of run, under way when the time limit passed, has reached the
		// contexts made from it, so that no task's check before a phase
		// finds its context not done after the run returned.
		defer cancel()
	}
	_, err := e.start(run, cancel, plan, false, 0)
	e.logStopped(ctx, err)
	return err
}

// logStopped says in the log why a run that ended with err stopped, when
// err is the error of its context: the caller's context, parent, is done
// (with its cause when it has one), or the ExecutionTimeout passed. Only
// the run's context returns its error itself: a task's or Create's is
// wrapped.
func (e *Executor) logStopped(parent context.Context, err error) {
	if e.opts.Logger == nil || err == nil {
		return
	}
	switch perr := parent.Err(); {
	case perr != nil && err == perr: //nolint:errorlint // the run returns the context's error itself
		e.opts.Logger.Warningf("run stopped: %v", context.Cause(parent))
	case perr == nil && err == context.DeadlineExceeded && e.opts.ExecutionTimeout > 0: //nolint:errorlint // as above
		e.opts.Logger.Errorf("run stopped: execution timeout of %s exceeded", e.opts.ExecutionTimeout)
	}
}

// Result is what one pass did.
type Result struct {
	// Done is true when the final state is reached: the plan's Create
	// returned no tasks (and none ran), or every task of the pass succeeded
	// and the plan, a Finisher, said that was the last pass.
	Done bool
	// Tasks has one entry per task execution that ended, in the order they
	// ran, children included. A task that ran more than once in the pass
	// (several parents returned it as a child) has an entry per execution.
	// A task the context interrupted has none: it did not end, and runs
	// again if the plan still asks for it.
	Tasks []TaskResult
	// Errors is the number of errors spent, including those carried in with
	// ErrorsSpent. Keep it (in a custom resource's status, say) and pass it
	// to the next RunOnce to make the budget span passes.
	Errors int
}

// Attempts returns how many times the task named name ran in the pass: 1,
// unless several parents returned it as a child; 0 when it did not run.
func (r Result) Attempts(name string) int {
	n := 0
	for i := range r.Tasks {
		if r.Tasks[i].Name == name {
			n++
		}
	}
	return n
}

// TaskResult is what one execution of a task did.
type TaskResult struct {
	// Name is the task's name.
	Name string
	// Outcome is how the execution ended.
	Outcome execloop.Outcome
	// Phase is the last phase that ran: PhasePost when the task succeeded,
	// otherwise the phase that failed or was in progress.
	Phase execloop.Phase
	// Err is the error that ended the execution; nil when it succeeded.
	Err error
	// Duration is the time the execution took.
	Duration time.Duration
}

// PassOption changes one RunOnce call.
type PassOption interface {
	applyTo(c *passConfig)
}

type passConfig struct {
	errorsSpent int
}

// ErrorsSpent is a PassOption: the pass starts with this many errors of the
// budget already spent, for example as restored from a custom resource's
// status, so that the budget spans passes made by different processes.
type ErrorsSpent int

func (n ErrorsSpent) applyTo(c *passConfig) { c.errorsSpent = int(n) }

// RunOnce runs exactly one pass: one Create, then the tasks it returned and
// their children. Errors a task spends within the budget are reported in the
// Result, not returned. RunOnce returns an error when Create fails (wrapped),
// when a task's error is fatal or exhausts the budget (*FatalError), and when
// ctx is done (ctx.Err() itself; its cause, if any, goes to the Logger); the
// Result then holds the executions that ended before. RunOnce does not apply
// ExecutionTimeout and does not sleep.
func (e *Executor) RunOnce(ctx context.Context, plan Plan, opts ...PassOption) (Result, error) {
	if e.err != nil {
		return Result{}, e.err
	}
	spent := 0
	if len(opts) > 0 { // c escapes through applyTo: only a call with options allocates it
		var c passConfig
		for _, o := range opts {
			o.applyTo(&c)
		}
		spent = c.errorsSpent
	}
	return e.start(ctx, nil, plan, true, spent)
}
