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

The Plan controller turns each Plan resource into an execloop plan and runs
it with execloop/reconciler, one pass per reconcile. A pass asks the API
server, as the Plan's identity (its ServiceAccount, impersonated, or the
operator itself), which tasks' objects are not converged, and runs those
whose after tasks are done:

  - apply: server-side apply of the manifest (field manager execloop, forced),
    with the Plan's label, annotation and owner reference; then wait until
    the object is ready (readyWhen, or kstatus Current). An object counts as
    converged when it exists, is the one the Plan applied, still has the
    values the manifest sets (no drift) and is ready.
  - delete: delete the object and wait until it is gone.
  - wait: wait until the object exists and is ready.

A task that succeeds returns the tasks it unblocks as its children, so a
chain of tasks that are ready at once converges in one pass. What applied
objects the Plan owns is kept in its status (the inventory): it tells drift
from a spec change, prunes what removed tasks left behind, and is deleted in
reverse order (or released) when the Plan goes.
*/
package controllers
