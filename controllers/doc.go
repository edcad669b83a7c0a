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
Package controllers holds the execloop operator's controllers.

The Plan controller turns each Plan resource into an execloop plan (package
internal/planrun compiles it and runs its passes) and runs it with
execloop/reconciler, one pass per reconcile. It keeps the informers the
passes read through (watch.go: the objects Plans applied; watch_targets.go:
single objects that tasks read; watch_existence.go: whether any object is
there), and a change that someone else makes to what a Plan applied wakes
that Plan.

The PlanDefinition controller generates the CRD of each PlanDefinition
(plandefinition_controller.go) and waits until it is Established; it does
not reconcile the instances of that CRD yet (see docs/design.md).
*/
package controllers
