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
	stalled?   (for this generation) do nothing until the spec changes
	too early? (less than SleepBetweenRuns since the last pass) requeue for the rest
	build the plan, restore the error count from status, run one pass (RunOnce)
	write the status if it changed; requeue after SleepBetweenRuns while tasks remain

A new metadata.generation (a spec change) starts a pass at once and resets
the error count and the Stalled condition. A fatal error, an exhausted error
budget or an exceeded ExecutionTimeout sets Stalled=True and Ready=False,
emits a Warning event and stops requeueing until the generation changes.

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
read status.Status.Succeeded to leave out what is done. Tasks must be idempotent: a
task whose side effect happened just before the operator died runs again.

# What it records

status.Status holds observedGeneration, the Ready/Reconciling/Stalled conditions,
the error count, one status.TaskStatus per task, and the start, last and next pass
times. It is written through the status subresource with a merge patch that
carries the resourceVersion, retried on conflict, and only when something
changed: a converged object costs no writes.

Events (events.k8s.io): status.TaskFailed (Warning, once per distinct error),
PlanCompleted (Normal), PlanStalled (Warning). Metrics, in controller-runtime's
registry: execloop_task_duration_seconds, execloop_task_executions_total,
execloop_passes_total and execloop_objects. Tracing: with a TracerProvider,
one span per pass and a child span per task.
*/
package reconciler
