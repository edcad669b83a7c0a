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

package planrun

import (
	"context"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	execloopv1alpha1 "github.com/execloop/execloop/api/v1alpha1"
	"github.com/execloop/execloop/execloop/executor"
)

// kind is what the tasks of one kind do. Each kind is in a file of its own
// (kind_apply.go, kind_delete.go, kind_wait.go, kind_patch.go) and listed in kinds, the
// one place that tells kinds apart: the compiler, the pass, the preview and
// the inventory ask a task's kind.
type kind interface {
	// field is the field of PlanTask a task of the kind is written in
	// ("apply"), which names the kind in messages.
	field() string
	// in reports whether pt is written in the kind's field.
	in(pt *execloopv1alpha1.PlanTask) bool
	// compile checks pt's field and sets t's object: t.gvk and t.key, and
	// for a kind that writes a manifest, t.manifest and its template.
	compile(t *taskSpec, pt *execloopv1alpha1.PlanTask) error
	// writesManifest reports whether the task writes a manifest to its
	// object (whose template's paths are the object's), rather than
	// naming an object. Such a task's object is one task's alone.
	writesManifest() bool
	// exclusive reports whether the task's object may be no other task's
	// of the plan whose kind is exclusive too.
	exclusive() bool
	// prepare makes a manifest of the kind the object to write, in
	// namespace (see compile); kinds that write none never see one.
	prepare(p *execloopv1alpha1.Plan, m *unstructured.Unstructured, namespace string)
	// watch is what the plan's passes watch for the task, when anything.
	watch(t *taskSpec) (Watch, bool)
	// unservedDone reports whether a task is done when the API server has
	// no such kind as its object's.
	unservedDone() bool
	// read reads the task's object into st.live (nil when it does not
	// exist) and judges it (st.converged, st.needsApply, st.why).
	read(ctx context.Context, r *Run, t *taskSpec, st *taskState)
	// judge decides from st.live whether the task's object is converged.
	judge(ctx context.Context, r *Run, t *taskSpec, st *taskState)
	// pre is the task's Pre: a check of what the pass read (no other
	// Plan's object, say).
	pre(ctx context.Context, k *planTask, st *taskState) error
	// act is the task's PerformAction: its write, when it needs one.
	act(ctx context.Context, k *planTask, st *taskState) error
	// check is the task's Post: nil once its object is as the kind wants it
	// (ready, gone), else an error; in progress while it waits.
	check(ctx context.Context, k *planTask, st *taskState) error
	// preview says what a pass would do to the task's object.
	preview(ctx context.Context, r *Run, t *taskSpec, st *taskState, pr *TaskPreview)
	// recorded reports whether the task's object has an entry in the
	// inventory (status.objects), which is removed (see removal) once no
	// task writes the object.
	recorded() bool
	// removal is the task that removes what a task of the kind left in the
	// inventory entry e.obj, once no task writes its object or the plan is
	// deleted; nil when the plan's policies decide (deletionPolicy,
	// adoptionPolicy: a deletion in dependency order, or a release).
	removal(e entryTask) executor.Task
}

// kinds are the kinds of task, in the order of PlanTask's fields.
var kinds = []kind{applyKind{}, deleteKind{}, waitKind{}, patchKind{}}

// entryKind returns the kind of the task that wrote an inventory entry.
func entryKind(obj execloopv1alpha1.AppliedObject) kind {
	if obj.Patched {
		return patchKind{}
	}
	return applyKind{}
}

// kindOf returns the kind of pt: the one field of kinds that it sets.
func kindOf(pt *execloopv1alpha1.PlanTask) (kind, error) {
	var set []kind
	fields := make([]string, len(kinds))
	for i, k := range kinds {
		fields[i] = k.field()
		if k.in(pt) {
			set = append(set, k)
		}
	}
	if len(set) != 1 {
		last := len(fields) - 1
		return nil, invalid("task %s: exactly one of %s and %s must be set", pt.Name, strings.Join(fields[:last], ", "), fields[last])
	}
	return set[0], nil
}

// removalPreviewer is a removal that previews itself, as a dry run of what
// it changes (an unpatch); the others delete or let go, as previewPrune
// says.
type removalPreviewer interface {
	previewRemoval(ctx context.Context, live *unstructured.Unstructured, pr *TaskPreview)
}
