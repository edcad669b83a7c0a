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

// Package planrun is what the operator and the kubectl plugin must agree
// on about a Plan: compiling it (Compile), one pass of it as its identity
// (Run, an execloop plan), the cleanup when it is deleted (Cleanup), and the
// preview of a pass (Previewer). It runs no controller and starts no
// informer: the operator hands its watches in (Watches).
//
// A pass asks the API server, as the Plan's identity (its ServiceAccount,
// impersonated, or the operator itself), which tasks' objects are not
// converged, and runs those whose after tasks are done. What each kind of
// task does (apply, delete, wait, patch) is in a file of its own, kind_*.go,
// behind one interface (kind.go). A task with forEach (foreach.go) becomes,
// in each pass, one task per item of its list, each with the item bound,
// which its kind takes as any task; its items' objects are known by what
// they render, never by their position.
//
// A task that succeeds returns the tasks it unblocks as its children, so a
// chain of tasks that are ready at once converges in one pass. What the
// Plan's tasks wrote is kept in its status (the inventory): it tells drift
// from a spec change, and removes what removed tasks left behind. Objects
// the Plan applied are pruned, and deleted in reverse order (or released)
// when the Plan goes; objects it only patched get their fields back.
package planrun

// Labels, annotations and the field manager a Plan's writes carry.
const (
	// PlanUIDLabel holds the UID of the Plan that applied the object; the
	// drift watches select on it.
	PlanUIDLabel = "execloop.dev/plan-uid"
	// PlanAnnotation holds the <namespace>/<name> of the Plan that applied
	// the object.
	PlanAnnotation = "execloop.dev/plan"
	// InstanceKindAnnotation holds, on an object applied for an instance
	// of a PlanDefinition, the instance's <kind>.<group>: PlanAnnotation
	// then names the instance, not a Plan.
	InstanceKindAnnotation = "execloop.dev/instance-kind"
	// ValuesReadAnnotation marks an object whose values other tasks of its
	// Plan read with expressions: any change of it, its status's too,
	// wakes the Plan, so that what reads it is applied again promptly.
	ValuesReadAnnotation = "execloop.dev/values-read"
	// FieldManager is the server-side apply field manager of the objects a
	// Plan applies.
	FieldManager = "execloop"
)
