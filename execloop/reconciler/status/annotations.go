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

// The annotations execloop/reconciler reads on an object: requests to it,
// which tools such as the kubectl plugin set. Package reconciler has the
// same constants under the same names.
const (
	// PausedAnnotation set to "true" on an object stops its passes: the
	// Reconciler records ReasonPaused and does nothing else until the
	// annotation is removed or set to another value.
	PausedAnnotation = "execloop.dev/paused"

	// RequestedAtAnnotation set to a value it has not had before (the time,
	// say) makes the object's next pass start at once with a fresh error
	// budget, whether the object is Stalled, backing off or waiting for
	// SleepBetweenRuns. Status.LastHandledReconcileAt records the value the
	// pass started for, so a tool can tell when the request took effect.
	// Paused and suspended objects stay paused.
	RequestedAtAnnotation = "execloop.dev/reconcile-requested-at"
)
