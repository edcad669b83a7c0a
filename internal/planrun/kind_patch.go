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
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	execloopv1alpha1 "github.com/execloop/execloop/api/v1alpha1"
	"github.com/execloop/execloop/execloop/executor"
)

// patchKind sets the fields of its partial manifest on an object that the
// plan does not own, with server-side apply under a field manager of the
// plan alone (PatchFieldManager), forcing conflicts: two plans patching one
// object never take each other's fields, and a patch never takes those of
// execloop's applies. It never creates the object: while the object is
// missing, the task waits. It adds no label, annotation or owner reference
// of the plan, and never deletes the object: its inventory entry is marked
// patched, and once no task patches the object (or the plan is deleted),
// an apply of nothing under the same field manager gives the fields up (a
// field only the patch set is removed; one another manager set too keeps
// that manager's value). The object is watched by name, so that a change
// of a patched field by someone else is repaired.
type patchKind struct{}

// PatchFieldManager is the field manager of the patch tasks of the Plan
// whose UID is planUID.
func PatchFieldManager(planUID types.UID) string { return "execloop-patch/" + string(planUID) }

func (patchKind) field() string                                    { return "patch" }
func (patchKind) in(pt *execloopv1alpha1.PlanTask) bool            { return pt.Patch != nil }
func (patchKind) writesManifest() bool                             { return true }
func (patchKind) exclusive() bool                                  { return true }
func (patchKind) unservedDone() bool                               { return false }
func (patchKind) recorded() bool                                   { return true }
func (patchKind) pre(context.Context, *planTask, *taskState) error { return nil }
func (k patchKind) compile(t *taskSpec, pt *execloopv1alpha1.PlanTask) error {
	return compileManifest(t, k.field(), pt.Patch.Raw)
}

// removal gives the fields up (unpatchTask), whatever the plan's policies.
func (patchKind) removal(e entryTask) executor.Task {
	return &unpatchTask{e}
}

// prepare leaves the fields the API server owns out, and sets the
// namespace; nothing of the plan's is added.
func (patchKind) prepare(_ *execloopv1alpha1.Plan, m *unstructured.Unstructured, namespace string) {
	withoutServerFields(m)
	m.SetNamespace(namespace)
}

// watch: the object, by name.
func (patchKind) watch(t *taskSpec) (Watch, bool) {
	return Watch{Mapping: t.mapping, Namespace: t.key.Namespace, Target: t.key.Name}, true
}

func (patchKind) read(ctx context.Context, r *Run, t *taskSpec, st *taskState) { r.get(ctx, t, st) }

// judge: the object is converged when it is there, this plan patched it
// (same UID) with this manifest, no one changed the patched fields since,
// and it is ready.
func (patchKind) judge(ctx context.Context, p *Run, t *taskSpec, st *taskState) {
	inv := p.inventory(t)
	switch {
	case st.live == nil:
		st.why = "it does not exist; a patch never creates it"
	case inv == nil || inv.UID != st.live.GetUID():
		st.needsApply, st.why = true, "not patched by this plan yet"
	case inv.ManifestHash != t.hash:
		st.needsApply, st.why = true, "the task changed"
	case drifted(t, inv, st.live):
		st.needsApply, st.why = true, "changed by someone else"
	default:
		judgeReady(ctx, t, st)
	}
}

// act applies the patch to the object that is there, and records it.
func (patchKind) act(ctx context.Context, k *planTask, st *taskState) error {
	if st.live == nil || !st.needsApply {
		return nil
	}
	if err := k.run.roomFor(k.t); err != nil {
		return err
	}
	patched := toPatch(k.t, st.live)
	err := k.run.id.client.Apply(ctx, client.ApplyConfigurationFromUnstructured(patched),
		client.FieldOwner(PatchFieldManager(k.run.plan.UID)), client.ForceOwnership)
	switch {
	case claimLost(err) || apierrors.IsNotFound(err):
		// Deleted (and perhaps made again: the UID no longer matches)
		// since the pass read it: the next pass reads it again.
		return k.run.waiting(k.t, "it changed while it was patched")
	case err != nil:
		return fmt.Errorf("patching %s (%s) as %s: %w", k.t.describe(), st.why, k.run.id.Describe(), err)
	}
	st.live = patched
	k.run.secretsChanged()
	if err := k.run.record(k.t, patched, false); err != nil {
		return err
	}
	k.run.inventory(k.t).Patched = true
	return nil
}

// toPatch is the manifest to apply to live: t's, with live's UID, so that
// the apply can never create the object.
func toPatch(t *taskSpec, live *unstructured.Unstructured) *unstructured.Unstructured {
	patched := t.manifest.DeepCopy()
	patched.SetUID(live.GetUID())
	return patched
}

// check waits until the object is there and ready, and fails when
// failedWhen says.
func (patchKind) check(ctx context.Context, k *planTask, st *taskState) error {
	if st.live == nil {
		return k.run.waiting(k.t, "absent; a patch never creates it")
	}
	return k.checkReady(ctx, st.live)
}

// preview dry-runs the patch of the object, as an update of it.
func (patchKind) preview(ctx context.Context, p *Run, t *taskSpec, st *taskState, pr *TaskPreview) {
	if st.live == nil {
		pr.Action, pr.Reason = ActionBlocked, "waiting for "+t.describe()+": "+st.why
		return
	}
	patched := toPatch(t, st.live)
	err := p.id.client.Apply(ctx, client.ApplyConfigurationFromUnstructured(patched),
		client.FieldOwner(PatchFieldManager(p.plan.UID)), client.ForceOwnership, client.DryRunAll)
	if err != nil {
		pr.Action, pr.Reason = failedOrBlocked(err, "patch", t)
		return
	}
	pr.Planned = forPreview(patched)
	pr.Action = ActionUpdate
	if equalObjects(pr.Live, pr.Planned) {
		pr.Action = ActionUnchanged
	}
}

// unpatchTask gives up the fields a patch task set on an object, once no
// task patches it or the plan is deleted: an apply of nothing under the
// plan's patch field manager, made only to the object patched (its UID),
// then drops its inventory entry. An object gone, or made again, has
// nothing of the plan's left.
type unpatchTask struct {
	entryTask
}

func (k *unpatchTask) PerformAction() ([]executor.Task, error) {
	return k.PerformActionContext(context.Background())
}

func (k *unpatchTask) PerformActionContext(ctx context.Context) ([]executor.Task, error) {
	u, err := getInventoryObject(ctx, k.id, k.mapper, k.obj)
	if err != nil {
		return nil, k.failed(ctx, err)
	}
	if u != nil && u.GetUID() == k.obj.UID {
		err := k.id.client.Apply(ctx, client.ApplyConfigurationFromUnstructured(nothingOf(u)), client.FieldOwner(PatchFieldManager(k.plan.UID)))
		if err != nil && !apierrors.IsNotFound(err) && !claimLost(err) { // gone, or made again: nothing of the plan's left
			return nil, k.failed(ctx, fmt.Errorf("giving up the fields patched on %s %s as %s: %w", k.obj.Kind, ObjectName(k.obj), k.id.Describe(), err))
		}
	}
	forget(k.plan, k.obj)
	return nil, nil
}

// previewRemoval dry-runs the unpatch of live: an update that takes the
// patched fields away.
func (k *unpatchTask) previewRemoval(ctx context.Context, live *unstructured.Unstructured, pr *TaskPreview) {
	pr.Action, pr.Reason = ActionUpdate, "fields given up: the plan patched it and no task patches it any more"
	if live.GetUID() != k.obj.UID {
		pr.Action, pr.Reason = ActionUnchanged, "made again since the plan patched it: nothing of the plan's left"
		return
	}
	after := nothingOf(live)
	err := k.id.client.Apply(ctx, client.ApplyConfigurationFromUnstructured(after), client.FieldOwner(PatchFieldManager(k.plan.UID)), client.DryRunAll)
	if err != nil {
		pr.Action, pr.Reason = ActionFailed, fmt.Sprintf("giving up the fields patched on %s as %s: %v", pr.Object, k.id.Describe(), err)
		return
	}
	pr.Planned = forPreview(after)
}

// nothingOf is an apply of no field to live, made only to live itself (its
// UID): under a field manager, it gives up every field that manager set.
func nothingOf(live *unstructured.Unstructured) *unstructured.Unstructured {
	nothing := &unstructured.Unstructured{}
	nothing.SetGroupVersionKind(live.GroupVersionKind())
	nothing.SetNamespace(live.GetNamespace())
	nothing.SetName(live.GetName())
	nothing.SetUID(live.GetUID())
	return nothing
}
