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

package status

import (
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Condition types, kstatus-compatible: kstatus reads Ready, Reconciling and
// Stalled together with observedGeneration.
const (
	// ConditionReady is True once the plan needs no more tasks.
	ConditionReady = "Ready"
	// ConditionReconciling is True while passes remain; it is removed once
	// the plan is done, or False with reason Paused while paused.
	ConditionReconciling = "Reconciling"
	// ConditionStalled is True when the plan failed: for good for this
	// generation (a fatal error, an invalid plan), or until a retry with a
	// fresh budget succeeds (an exhausted budget, the time limit). It is
	// removed when the generation changes or a pass makes progress without
	// a failure.
	ConditionStalled = "Stalled"
)

// Condition reasons.
const (
	// ReasonSucceeded: the plan's Create returned no tasks.
	ReasonSucceeded = "Succeeded"
	// ReasonProgressing: passes remain.
	ReasonProgressing = "Progressing"
	// ReasonPaused: the object carries the paused annotation.
	ReasonPaused = "Paused"
	// ReasonSuspended: the object's spec suspends it (the Reconciler's
	// Suspended hook).
	ReasonSuspended = "Suspended"
	// ReasonDeleting: the cleanup plan is running.
	ReasonDeleting = "Deleting"
	// ReasonBudgetExhausted: more task errors than the options tolerate.
	ReasonBudgetExhausted = "BudgetExhausted"
	// ReasonFatalError: a task returned an error marked fatal.
	ReasonFatalError = "FatalError"
	// ReasonExecutionTimeout: the plan ran longer than its ExecutionTimeout.
	ReasonExecutionTimeout = "ExecutionTimeout"
	// ReasonInvalidPlan: the plan could not be built (the plan factory
	// returned a reconcile.TerminalError).
	ReasonInvalidPlan = "InvalidPlan"
	// ReasonCreateFailed: the plan's Create failed; the pass is retried
	// with backoff.
	ReasonCreateFailed = "CreateFailed"
)

// TaskState is where a task stands.
// +kubebuilder:validation:Enum=Pending;InProgress;Succeeded;Failed;Skipped
type TaskState string

// Task states.
const (
	// TaskPending: the task has not run yet.
	TaskPending TaskState = "Pending"
	// TaskInProgress: the task ran and is waiting for something (a phase
	// returned an error wrapping executor.ErrInProgress).
	TaskInProgress TaskState = "InProgress"
	// TaskSucceeded: the task's last execution succeeded.
	TaskSucceeded TaskState = "Succeeded"
	// TaskFailed: the task's last execution failed.
	TaskFailed TaskState = "Failed"
	// TaskSkipped: the plan left the task out, by a condition of its own
	// (see reconciler.TaskSkipper); it counts as done.
	TaskSkipped TaskState = "Skipped"
)

// Status is what the Reconciler records about an object's plan. Embed it
// inline in your custom resource's status and expose it through the
// reconciler.Object interface:
//
//	type WidgetStatus struct {
//		status.Status `json:",inline"`
//		// fields of your own
//	}
//
//	func (w *Widget) ExecloopStatus() *status.Status { return &w.Status.Status }
//
// The Reconciler owns these fields; everything that must survive a restart
// of the operator lives here.
// +kubebuilder:object:generate=true
type Status struct {
	// observedGeneration is the metadata.generation the status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// conditions are Ready, Reconciling and Stalled, as kstatus reads them.
	// +optional
	// +listType=map
	// +listMapKey=type
	// +patchStrategy=merge
	// +patchMergeKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty" patchStrategy:"merge" patchMergeKey:"type"`

	// errors is the number of task errors spent from the error budget in
	// this generation.
	// +optional
	// +kubebuilder:validation:Minimum=0
	Errors int32 `json:"errors,omitempty"`

	// Only the adapter writes tasks, and always the whole list: atomic, so
	// that managedFields record the list, not every field of every entry.
	// As a map list it made a converged three-task Plan 4,290 bytes instead
	// of 3,428, and each write of it cost the API server that much more.

	// tasks is the state of each task of the plan, at most 1,024 of them:
	// past that, the finished tasks that the last pass did not record are
	// dropped first, the least recently recorded first.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=1024
	Tasks []TaskStatus `json:"tasks,omitempty"`

	// startTime is when the first pass of this generation ran; the
	// execution timeout counts from here.
	// +optional
	StartTime *metav1.Time `json:"startTime,omitempty"`

	// lastPassTime is when the last pass that changed something ran.
	// +optional
	LastPassTime *metav1.Time `json:"lastPassTime,omitempty"`

	// nextPassTime is when the next pass is due; empty when none is. For an
	// object Stalled on a failure that may mend, it is when the pass with a
	// fresh budget is due.
	// +optional
	NextPassTime *metav1.Time `json:"nextPassTime,omitempty"`

	// lastHandledReconcileAt is the value of the object's
	// execloop.dev/reconcile-requested-at annotation that the last pass
	// started for: once it equals the annotation, the request took effect.
	// +optional
	// +kubebuilder:validation:MaxLength=256
	LastHandledReconcileAt string `json:"lastHandledReconcileAt,omitempty"`
}

// TaskStatus is where one task stands.
// +kubebuilder:object:generate=true
type TaskStatus struct {
	// name is the task's name.
	// +required
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`

	// state is Pending, InProgress, Succeeded or Failed.
	// +required
	State TaskState `json:"state"`

	// attempts counts the executions of the task that ended in success or
	// failure; passes that found it still in progress are the same attempt.
	// +optional
	// +kubebuilder:validation:Minimum=0
	Attempts int32 `json:"attempts,omitempty"`

	// message is the last error, or what the task is waiting for.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	Message string `json:"message,omitempty"`

	// lastTransitionTime is when state last changed.
	// +optional
	LastTransitionTime *metav1.Time `json:"lastTransitionTime,omitempty"`

	// startedTime is when the current attempt started.
	// +optional
	StartedTime *metav1.Time `json:"startedTime,omitempty"`

	// finishedTime is when the task last succeeded.
	// +optional
	FinishedTime *metav1.Time `json:"finishedTime,omitempty"`

	// failures counts the task's failed attempts since it last succeeded;
	// the delay before its next attempt doubles with each.
	// +optional
	// +kubebuilder:validation:Minimum=0
	Failures int32 `json:"failures,omitempty"`

	// nextAttemptTime is when a failed task is tried again: until then the
	// passes leave it out (backoff). Empty when the task is not failed. In
	// microseconds, as backoffs start below a second.
	// +optional
	NextAttemptTime *metav1.MicroTime `json:"nextAttemptTime,omitempty"`

	// observedGeneration is the metadata.generation of the object when the
	// task's state was last recorded: a Succeeded task succeeded for that
	// spec. Empty for a state recorded before the field existed.
	// +optional
	// +kubebuilder:validation:Minimum=0
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
}

// MaxTasks is the most entries Status.Tasks holds, its maxItems in a CRD.
// A Reconciler keeps the list that short, so that the status can always be
// written: when a pass leaves more entries, it drops first the finished ones
// (Succeeded, Skipped) that the pass did not record, least recently recorded
// first; then, if that is not enough, the least recently recorded of the
// Pending and finished ones; only then the least recently recorded of the
// rest (InProgress, Failed). A plan whose tasks are named anew with every
// spec (after a version, say) therefore keeps the tasks of its latest passes
// and those still under way. A plan that lists its tasks (a
// reconciler.TaskLister) keeps exactly those, and should list at most
// MaxTasks: a task whose entry is dropped is no longer Succeeded, so a plan
// that leaves out the succeeded tasks runs it again.
const MaxTasks = 1024

// Task returns the status of the task named name, or nil.
func (s *Status) Task(name string) *TaskStatus {
	for i := range s.Tasks {
		if s.Tasks[i].Name == name {
			return &s.Tasks[i]
		}
	}
	return nil
}

// SucceededFor reports whether the task named name last succeeded, and did
// so for the given generation (the object's metadata.generation) or a later
// one. A plan uses it to leave out the tasks that are done for the current
// spec, so that a restarted operator does not run them again, while a spec
// change runs every task once more:
//
//	if !w.Status.SucceededFor(step, w.Generation) {
//		tasks = append(tasks, ...)
//	}
//
// A task that need not run again when the spec changes uses Succeeded
// instead.
func (s *Status) SucceededFor(name string, generation int64) bool {
	t := s.Task(name)
	return t != nil && t.State == TaskSucceeded && t.ObservedGeneration >= generation
}

// Succeeded reports whether the task named name last succeeded, for any
// generation of the object. A plan uses it to leave out a task that must run
// once and need not run again when the spec changes (a one-time
// bootstrap, say, or a task whose plan checks the live state for itself);
// SucceededFor is the check that redoes a task after a spec change.
func (s *Status) Succeeded(name string) bool {
	t := s.Task(name)
	return t != nil && t.State == TaskSucceeded
}

// Condition returns the condition of type t, or nil.
func (s *Status) Condition(t string) *metav1.Condition {
	return meta.FindStatusCondition(s.Conditions, t)
}

// IsReady reports whether the Ready condition is True for the given
// generation.
func (s *Status) IsReady(generation int64) bool {
	c := s.Condition(ConditionReady)
	return c != nil && c.Status == metav1.ConditionTrue && c.ObservedGeneration == generation
}

// IsStalled reports whether the Stalled condition is True for the given
// generation.
func (s *Status) IsStalled(generation int64) bool {
	c := s.Condition(ConditionStalled)
	return c != nil && c.Status == metav1.ConditionTrue && c.ObservedGeneration == generation
}
