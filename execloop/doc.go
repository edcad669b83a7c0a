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

/*
Package execloop is a small execution engine for retryable tasks, and the
root of a Kubernetes reconciler framework built on it. This package holds what
every part shares: the Options of a run, the Logger and its logr bridge, and
the Observer hooks. The engine itself is in package executor; the
controller-runtime adapter is in package reconciler.

# The model

A Task is an isolated unit of work with three phases: Pre checks
preconditions, PerformAction does the work (and may return child tasks), Post
checks the result. A Plan answers one question again and again: which tasks
are still needed to reach the final state? Its Create returns them; an empty
answer means the final state is reached.

The Executor is the control loop: it calls Create, runs the tasks it returned,
sleeps SleepBetweenRuns and asks again, until Create returns nothing. One
Create followed by the execution of its tasks is a pass. A plan that knows
when it is finished (executor.Finisher) can end the loop at the end of a pass
in which every task succeeded, which saves the pass that would only confirm
it.

	exec := executor.New(&opts)
	err := exec.Run(plan) // passes until plan.Create() returns no tasks

# Phases and children

The tasks of a pass run one after the other, in the order Create returned
them. For each task: Pre, then PerformAction, then Post. The tasks that
PerformAction returns are the task's children; they run right after the
parent's Post succeeded, depth first and in order, under the same rules, and
before the parent's next sibling. Children nest at most executor.MaxDepth
(1,000) levels deep: a task deeper than that (one that returns itself or a
parent as a child, say) does not run, and fails in Pre with an error
wrapping executor.ErrTooDeep.

# Outcomes and errors

Every phase returns an error, and the error decides what happens next:

  - nil: the next phase runs; after Post, the children.
  - An error wrapping executor.ErrInProgress: "not yet". The task's remaining
    phases and its children are skipped for this pass, no error is spent, and
    the task runs again in a later pass if Create still returns it.
  - Any other error: the task failed. Its remaining phases and children are
    skipped, the pass goes on with the next task, and one error of the budget
    is spent. ErrorsToTolerate errors are tolerated over a whole run; the one
    that exceeds it ends the run with a *executor.FatalError that wraps it.
  - An error marked with executor.Fatal: the run ends at once with a
    *executor.FatalError.
  - A panic in a phase: recovered, and an error of the task
    (*executor.PanicError) like any other; the stack goes to the debug log.
    A panic elsewhere (in Name or Timeout, an Observer, a Logger) is not
    recovered.
  - runtime.Goexit in a phase (t.FailNow in a test, say) ends the goroutine
    the phase runs on. That is the caller's when the context can never be
    done; otherwise phases run on a helper goroutine (see the executor
    package's Goroutines), whose end fails the task with a fatal error that
    says so, and ends the run.
  - A timeout: a task may have a time limit of its own (executor.TimeoutTask);
    exceeding it is an error of the task that wraps context.DeadlineExceeded.

A Create error ends the run and is returned.

# Contexts and time limits

RunWithContext bounds the run by its context and by ExecutionTimeout. When
either is done the run returns promptly with the context's error itself
(context.DeadlineExceeded when ExecutionTimeout passed), so that
err == context.DeadlineExceeded holds as it does for the original; the
Logger is told why. No phase starts after that; a phase that ignores its
context is left to finish on its own, and its task, which did not end, is
not listed in the Result of RunOnce. Tasks that want the context implement
executor.ContextTask, or are built with executor.NewTask from functions.

# One pass at a time

Executor.RunOnce runs exactly one pass and reports what each task did in an
executor.Result. It does not sleep: in a Kubernetes controller each reconcile
runs one pass and requeues after SleepBetweenRuns instead of blocking a
worker, and the error count travels from pass to pass in the object's status
(executor.ErrorsSpent). Package reconciler does exactly that.

# Logging and observing

Options.Logger receives what happens, naming the task in every message:
successes and waits at debug level, tolerated failures as warnings, failures
that end the run as errors. NewLogrLogger bridges logr (and so
controller-runtime's log.FromContext). An Observer, given to the executor
with executor.WithObserver (Options holds only the original's four fields),
is told when passes and tasks start and finish, to drive metrics, events and
tracing.
*/
package execloop
