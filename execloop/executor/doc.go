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
Package executor runs execloop plans: Task, Plan and the Executor that runs
plans until they need no more tasks.

# Running

	exec := executor.New(&opts)          // nil means execloop.DefaultOptions()
	err := exec.Run(plan)                // until Create returns no tasks
	err = exec.RunWithContext(ctx, plan) // bounded by ctx and ExecutionTimeout
	res, err := exec.RunOnce(ctx, plan)  // exactly one pass

An execloop.Observer, given as executor.New(&opts, executor.WithObserver(obs)),
is told when passes and tasks start and finish.

Run and RunWithContext start each run with a fresh error budget. RunOnce
starts from zero errors, or from the count given with ErrorsSpent. A plan
that knows when it is finished implements Finisher: a pass in which every
task succeeded then ends the run without a confirming pass.

# Outcomes

Each execution of a task ends in one of three outcomes (execloop.Outcome):

  - Succeeded: Pre, PerformAction and Post returned nil; the children run
    next.
  - InProgress: a phase returned an error wrapping ErrInProgress. Nothing is
    spent; the plan decides in its next Create whether the task runs again.
  - Failed: a phase returned another error, panicked (*PanicError) or
    exceeded the task's timeout (an error wrapping context.DeadlineExceeded).
    One error of the budget is spent.

What ends a run or a pass early, and what is returned:

  - a fatal error (Fatal): *FatalError naming the task, wrapping its error;
  - the error that makes the count exceed ErrorsToTolerate: *FatalError
    naming the task and the budget, wrapping the error;
  - a Create error: that error, wrapped;
  - the context done, or ExecutionTimeout passed (runs only): the context's
    error itself, context.Canceled or context.DeadlineExceeded; the Logger
    is told why (the timeout, or the context's cause).

A tolerated task error is never returned: RunOnce reports it in its Result.

# Goroutines

When the run's context can never be done (context.Background() with no
ExecutionTimeout, say), the run's passes run on the caller's goroutine.
Otherwise (a deadline, a cancel function, or the ExecutionTimeout, which
RunWithContext makes into one context.WithTimeout per run) the run's passes
run on one helper goroutine, phases one after the other, while the caller
waits for the helper or for the context, whichever comes first. The helper
checks the context before each phase, so no phase starts once it is done. A
phase that ignores its context cannot keep a run past its end: the caller
returns at once, and the phase is left to finish on its own; the helper
then starts nothing else and ends when the phase returns. RunOnce's Result
does not list the task left behind, which did not end; the observer and the
logger hear that it was interrupted, and in which phase.

A task with a time limit of its own (TimeoutTask), or whose observer-made
context has a Done channel of its own, runs on the run's runner, a
goroutine that runs such tasks one at a time, for the same reason: so that
its time limit abandons it and the pass goes on. A runner left behind with
its task ends once the phase under way returns; the next such task gets a
new one.

A phase that calls runtime.Goexit (t.FailNow in a test, say) on the helper
or on the runner ends that goroutine: the task fails with a fatal error
saying so, which ends the run; runtime.Goexit in Create there ends the run
with a Create error. A panic or runtime.Goexit outside the phases (in an
observer, a logger, a task's Name) happens again on the caller's
goroutine. On the caller's goroutine, runtime.Goexit ends it, as it would
without the executor.
*/
package executor
