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
Package reconciler turns any custom resource into an execloop plan driven by
controller-runtime: one pass per reconcile, the state that must survive a
restart in the object's status, a requeue until the plan needs no more tasks.

# What a reconcile does

	get the object
	deleted?   run one pass of the cleanup plan; drop the finalizer when it is done
	paused?    (annotation execloop.dev/paused: "true") record it, do nothing else
	requested? (annotation execloop.dev/reconcile-requested-at has a new value) a pass now, with a fresh budget
	stalled?   for good: do nothing until the spec changes; otherwise wait for RetryStalled, then a fresh budget
	too early? (less than SleepBetweenRuns since the last pass) requeue for the rest
	build the plan, restore the error count from status, run one pass (RunOnce),
	           leaving out the failed tasks whose backoff is not over
	record each task's state, with the generation it ran for
	all done?  (every task of the pass succeeded) ask Create once more, running nothing:
	           no tasks means Ready now, not one SleepBetweenRuns later
	write the status if it changed; requeue for the earliest time something is due

A new metadata.generation (a spec change) starts a pass at once and resets
the error count and the Stalled condition.

# Errors, backoff and retries

What can still succeed without anyone editing the object, does:

  - A task that fails spends one error of the budget and is tried again
    after a backoff: SleepBetweenRuns (at least 100ms), doubling with each
    failure in a row, plus up to a tenth at random, never more than
    MaxBackoff (5 minutes by default). TaskStatus.Failures and
    TaskStatus.NextAttemptTime record it, so a restarted operator keeps it.
    Until then the passes leave the task out (its children too); the tasks
    that do not depend on it go on. The reconcile requeues for the earliest
    time anything is due.
  - An exhausted error budget (reason BudgetExhausted) or an exceeded
    ExecutionTimeout (reason ExecutionTimeout) sets Stalled=True and
    Ready=False, emits a PlanStalled Warning event and logs the error (as
    "Stalled", where a terminal stall's is logged by controller-runtime as
    "Reconciler error"), so waiters (kubectl wait, kstatus, Flux health
    checks) and readers of the logs see the failure; after RetryStalled
    (5 minutes by default; Status.NextPassTime says when) the object gets
    passes again with a fresh budget and execution timeout. Stalled stays
    True until a pass makes progress with no task failing.
  - Setting RequestedAtAnnotation to a new value starts a pass at once with
    a fresh budget, stalled or not; Status.LastHandledReconcileAt records
    the value handled.
  - The cleanup plan of a deleted object never gives up: it has no error
    budget and no execution timeout, its failed tasks back off like any
    other, and the conditions' messages say what it waits for.

What cannot work as written stays terminal until the spec changes (or the
annotation asks again): a plan factory's reconcile.TerminalError (reason
InvalidPlan) and a task's fatal error (reason FatalError).

# Embedding

Embed status.Status (package execloop/reconciler/status, which depends on
apimachinery only, so API packages stay light) in your resource's status,
implement Object, and give a Reconciler a plan factory:

	type WidgetStatus struct {
		status.Status `json:",inline"`
	}

	func (w *Widget) ExecloopStatus() *status.Status { return &w.Status.Status }

	r := &reconciler.Reconciler[*Widget]{
		Name:    "widget",
		Plan:    func(ctx context.Context, w *Widget) (executor.Plan, error) { ... },
		Options: execloop.DefaultOptions(),
	}
	err := r.SetupWithManager(mgr)

The plan's Create is asked, every pass, which tasks are still needed; it can
read status.Status.SucceededFor(name, obj.GetGeneration()) to leave out what
is done for the current spec, so that a spec change runs every task once
more. A task that must not run again when the spec changes (a one-time
bootstrap, say) is left out with status.Status.Succeeded instead, which holds
for any generation. Tasks must be idempotent: a task whose side effect
happened just before the operator died runs again.

After a pass in which every task succeeded, Create is asked once more, and
what it returns is not run: when it returns no tasks, the object is Ready in
that reconcile. So Create must be free of side effects, which it is when it
only says what is still needed. A plan that implements executor.Finisher
answers for itself and is not asked again.

# What it records

status.Status holds observedGeneration, the Ready/Reconciling/Stalled conditions,
the error count, one status.TaskStatus per task (with the generation its
state was recorded for), and the start, last and next pass times. It is
written through the status subresource with a merge patch that carries the
resourceVersion, retried on conflict, and only when something changed: a
converged object costs no writes.

A plan that is a TaskLister keeps the task list to its own tasks; otherwise
the list holds the tasks that have run, at most status.MaxTasks of them: past
that, the finished tasks the pass did not record go first, the oldest first,
and those in progress or failed stay, so that a plan whose task names change
with its spec cannot grow the status past what the API server accepts.

Events (events.k8s.io), by reason: TaskFailed (Warning, once per distinct
error of a task), PlanCompleted (Normal: the plan needs no more tasks),
PlanStalled (Warning: the object is Stalled) and CleanupCompleted (Normal:
the cleanup plan is done and the finalizer removed). Metrics, in
controller-runtime's registry: execloop_task_duration_seconds,
execloop_task_executions_total, execloop_passes_total and execloop_objects,
labelled by controller and outcome, result or state only: no label carries
an object's or a task's name, so the number of series does not grow with
what users create. Tracing: with
a TracerProvider, one span per pass and a child span per task (named after
the task).
*/
package reconciler
