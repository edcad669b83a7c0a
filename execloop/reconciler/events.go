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
	"fmt"

	corev1 "k8s.io/api/core/v1"

	"github.com/execloop/execloop/execloop/reconciler/status"
)

// The reasons of the events the Reconciler emits; the package
// documentation lists them.
const (
	eventTaskFailed       = "TaskFailed"       // Warning: a task failed, once per distinct error
	eventPlanCompleted    = "PlanCompleted"    // Normal: the plan needs no more tasks
	eventPlanStalled      = "PlanStalled"      // Warning: the object is Stalled
	eventCleanupCompleted = "CleanupCompleted" // Normal: the cleanup plan is done, the finalizer removed
)

// taskEvents emits a Warning event for each failed task, unless the task
// had already failed with the same message: repeated identical failures
// make no event storm.
func (s *session[T]) taskEvents(failed []status.TaskStatus) {
	was := s.base.ExecloopStatus()
	for _, t := range failed {
		if before := was.Task(t.Name); before != nil && before.State == status.TaskFailed && before.Message == t.Message {
			continue
		}
		s.event(corev1.EventTypeWarning, eventTaskFailed, fmt.Sprintf("Task %s failed (attempt %d): %s", t.Name, t.Attempts, t.Message))
	}
}

// event emits an events.k8s.io event about the object.
func (s *session[T]) event(eventType, reason, note string) {
	if s.r.Recorder != nil {
		s.r.Recorder.Eventf(s.obj, nil, eventType, reason, "Reconcile", "%s", note)
	}
}
