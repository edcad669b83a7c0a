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
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	execloopv1alpha1 "github.com/execloop/execloop/api/v1alpha1"
	"github.com/execloop/execloop/execloop/executor"
)

// applyKind is server-side apply of the task's manifest (field manager
// execloop, forced), with the Plan's label, annotation and owner
// reference; then a wait until the object is ready (readyWhen, or kstatus
// Current). Its object is converged when it exists, is the one the Plan
// applied, still has the values the manifest sets (no drift) and is ready.
// The object is in the inventory, and pruned (or let go, when the plan
// adopted it) once no task applies it.
type applyKind struct{}

func (applyKind) field() string                         { return "apply" }
func (applyKind) in(pt *execloopv1alpha1.PlanTask) bool { return pt.Apply != nil }
func (applyKind) writesManifest() bool                  { return true }
func (applyKind) exclusive() bool                       { return true }
func (applyKind) unservedDone() bool                    { return false }
func (applyKind) recorded() bool                        { return true }
func (k applyKind) compile(t *taskSpec, pt *execloopv1alpha1.PlanTask) error {
	return compileManifest(t, k.field(), pt.Apply.Raw)
}

func (applyKind) removal(entryTask) executor.Task {
	return nil
}

// watch: the objects Plans applied, of the task's resource and namespace.
func (applyKind) watch(t *taskSpec) (Watch, bool) {
	return Watch{Mapping: t.mapping, Namespace: t.key.Namespace}, true
}

// read reads the object from the operator's Watches when it can (fromCache),
// else from the API server.
func (applyKind) read(ctx context.Context, r *Run, t *taskSpec, st *taskState) {
	if r.Watches != nil && r.fromCache(ctx, t, st) {
		return
	}
	r.get(ctx, t, st)
}

// fromCache judges an apply task's object from the operator's Watches, and
// reports whether that verdict stands. Only a verdict that the object needs
// applying again, which a cache that lags behind the last apply could
// give, is checked against the API server; and an object absent from the
// cache of the plans' objects is read unless the existence watch says no
// object is there (controllers/watch_existence.go): whether one is there that someone else
// made (to adopt, refuse or leave alone) is the API server's to say.
func (p *Run) fromCache(ctx context.Context, t *taskSpec, st *taskState) bool {
	plan := client.ObjectKeyFromObject(p.plan)
	live, synced := p.Watches.Get(ctx, plan, p.id, t.mapping, t.key)
	if !synced {
		return false
	}
	st.live = live
	t.kind.judge(ctx, p, t, st)
	switch {
	case !st.needsApply:
		return true
	case live == nil && t.adoption != execloopv1alpha1.AdoptionRefuse && p.Watches.Absent(ctx, plan, p.id, t.mapping, t.key):
		return true // missing, and no one else's either
	}
	*st = taskState{}
	return false
}

// judge decides from st.live whether the task's object is converged.
func (applyKind) judge(ctx context.Context, p *Run, t *taskSpec, st *taskState) {
	inv := p.inventory(t)
	switch {
	case st.live == nil:
		st.needsApply, st.why = true, "missing"
	case t.createOnly:
		// Created, by this plan or someone else: never written again.
		ready, reason, err := readiness(ctx, st.live, t.readyWhen, t.bound)
		st.converged, st.why, st.readyErr = ready, reason, err
	case inv == nil || inv.UID != st.live.GetUID():
		st.needsApply, st.why = true, "not applied by this plan yet"
	case inv.ManifestHash != t.hash:
		st.needsApply, st.why = true, "the task changed"
	case t.read && st.live.GetAnnotations()[ValuesReadAnnotation] == "":
		st.needsApply, st.why = true, "other tasks read it now"
	case drifted(t, inv, st.live):
		st.needsApply, st.why = true, "changed by someone else"
	default:
		judgeReady(ctx, t, st)
	}
}

// pre checks that no other Plan manages the object.
func (applyKind) pre(_ context.Context, k *planTask, st *taskState) error {
	return k.run.anotherPlans(k.t, st.live)
}

// act applies (or, under applyPolicy IfNotPresent, creates) the object
// when it needs it and the inventory has room for it.
func (applyKind) act(ctx context.Context, k *planTask, st *taskState) error {
	if !st.needsApply {
		return nil
	}
	if err := k.run.roomFor(k.t); err != nil {
		return err
	}
	if k.t.createOnly {
		return k.create(ctx, st)
	}
	return k.apply(ctx, st)
}

// check waits until the object is ready (checkReady).
func (applyKind) check(ctx context.Context, k *planTask, st *taskState) error {
	return k.checkReady(ctx, st.live)
}

// preview dry-runs the apply of t's object.
func (applyKind) preview(ctx context.Context, p *Run, t *taskSpec, st *taskState, pr *TaskPreview) {
	if t.createOnly && st.live != nil {
		pr.Action, pr.Reason = ActionUnchanged, "applyPolicy IfNotPresent: there already, never written again"
		return
	}
	applied, _, err := p.toApply(t, st)
	if err != nil {
		pr.Action, pr.Reason = ActionFailed, err.Error()
		return
	}
	verb := "patch"
	if t.createOnly {
		verb = "create"
		err = p.id.client.Create(ctx, applied, client.FieldOwner(FieldManager), client.DryRunAll)
	} else {
		err = p.id.client.Apply(ctx, client.ApplyConfigurationFromUnstructured(applied),
			client.FieldOwner(FieldManager), client.ForceOwnership, client.DryRunAll)
	}
	if err != nil {
		pr.Action, pr.Reason = failedOrBlocked(err, verb, t)
		return
	}
	pr.Planned = forPreview(applied)
	switch {
	case st.live == nil:
		pr.Action = ActionCreate
	case equalObjects(pr.Live, pr.Planned):
		pr.Action = ActionUnchanged
	default:
		pr.Action = ActionUpdate
	}
}

// prepare makes the manifest the plan's (prepareManifest).
func (applyKind) prepare(p *execloopv1alpha1.Plan, m *unstructured.Unstructured, namespace string) {
	prepareManifest(p, m, namespace)
}

// prepareManifest makes an apply manifest the plan's: the target namespace,
// the plan's label, annotation and (in its own namespace, unless its
// deletionPolicy is Orphan) owner reference, naming the kind of p's
// TypeMeta when it is set (an instance's) and Plan otherwise, and none of
// the fields the API server owns. Under Orphan an owner reference would let the garbage
// collector delete the objects with the Plan (kubectl delete
// --cascade=foreground does so before the cleanup can release them).
func prepareManifest(p *execloopv1alpha1.Plan, m *unstructured.Unstructured, namespace string) {
	withoutServerFields(m)
	m.SetNamespace(namespace)
	labels := m.GetLabels()
	if labels == nil {
		labels = map[string]string{}
	}
	labels[PlanUIDLabel] = string(p.UID)
	m.SetLabels(labels)
	annotations := m.GetAnnotations()
	if annotations == nil {
		annotations = map[string]string{}
	}
	annotations[PlanAnnotation] = p.Namespace + "/" + p.Name
	if k := InstanceKind(p); k != "" {
		annotations[InstanceKindAnnotation] = k
	}
	m.SetAnnotations(annotations)
	if namespace == p.Namespace && p.Spec.DeletionPolicy != execloopv1alpha1.DeletionPolicyOrphan {
		owner := execloopv1alpha1.GroupVersion.WithKind("Plan")
		if InstanceKind(p) != "" {
			owner = p.GroupVersionKind()
		}
		m.SetOwnerReferences(append(m.GetOwnerReferences(), metav1.OwnerReference{
			APIVersion: owner.GroupVersion().String(), Kind: owner.Kind, Name: p.Name, UID: p.UID,
			BlockOwnerDeletion: ptr.To(false),
		}))
	}
}

// create creates the object of an applyPolicy: IfNotPresent task and
// records it. An object someone else created meanwhile is left alone, not
// recorded: the next pass finds it present.
func (k *planTask) create(ctx context.Context, st *taskState) error {
	created := k.t.manifest.DeepCopy()
	err := k.run.id.client.Create(ctx, created, client.FieldOwner(FieldManager))
	switch {
	case apierrors.IsAlreadyExists(err):
		return fmt.Errorf("%s was created by someone else meanwhile; leaving it alone: %w", k.t.describe(), executor.ErrInProgress)
	case err != nil:
		return fmt.Errorf("creating %s as %s: %w", k.t.describe(), k.run.id.Describe(), err)
	}
	st.live = created
	k.run.secretsChanged()
	return k.run.record(k.t, created, false)
}

// apply applies the task's object: adopting one that is there and not the
// plan's (or refusing it, under adoptionPolicy Refuse), marking one whose
// values other tasks read, and recording it in the inventory. The apply
// claims the object the pass judged (claim.go); when the object
// turns out to be another, it is read and judged again, and applied again
// once.
func (k *planTask) apply(ctx context.Context, st *taskState) error {
	err := k.applyClaimed(ctx, st)
	if !claimLost(err) {
		return err
	}
	live, err := k.contested(ctx)
	if err != nil {
		return err
	}
	st.live = live
	k.run.secretsChanged()
	err = k.applyClaimed(ctx, st)
	if claimLost(err) {
		// Twice in a row: not a race but a refusal that only looks like
		// one (a webhook that denies with 409, say). It counts.
		return fmt.Errorf("applying %s as %s: %w", k.t.describe(), k.run.id.Describe(), err)
	}
	return err
}

// applyClaimed applies the task's object, claimed as st.live, and records
// it. A lost claim is returned as the API server's error, as is.
func (k *planTask) applyClaimed(ctx context.Context, st *taskState) error {
	applied, adopted, err := k.run.toApply(k.t, st)
	if err != nil {
		return err
	}
	claim(applied, st.live, adopted)
	err = k.run.id.client.Apply(ctx, client.ApplyConfigurationFromUnstructured(applied),
		client.FieldOwner(FieldManager), client.ForceOwnership)
	if claimLost(err) {
		return err
	}
	if fields := immutableFields(err); len(fields) > 0 && st.live != nil {
		return k.immutable(ctx, st, fields)
	}
	if err != nil {
		return fmt.Errorf("applying %s (%s) as %s: %w", k.t.describe(), st.why, k.run.id.Describe(), err)
	}
	st.live = applied
	k.run.secretsChanged()
	return k.run.record(k.t, applied, adopted)
}

// toApply is the object to apply for t, given its live object: t's
// manifest, with no owner reference when the plan adopts (or adopted) the
// object, marked when other tasks read its values. adopted reports that
// the plan takes over an object someone else made; one it may not take
// over (adoptionPolicy Refuse) is an error.
func (p *Run) toApply(t *taskSpec, st *taskState) (applied *unstructured.Unstructured, adopted bool, err error) {
	adopted = p.adopts(st.live)
	if adopted && t.adoption == execloopv1alpha1.AdoptionRefuse {
		return nil, false, refusal(t, st.live)
	}
	applied = t.manifest.DeepCopy()
	if adopted || p.adopted(t) {
		// No owner reference on what the plan did not create: the
		// garbage collector would delete it with the Plan.
		dropOwnerReference(applied, p.plan.UID)
	}
	if t.read {
		annotations := applied.GetAnnotations()
		annotations[ValuesReadAnnotation] = "true"
		applied.SetAnnotations(annotations)
	}
	return applied, adopted, nil
}

// withoutServerFields removes from a manifest the fields the API server
// owns: its status and metadata such as resourceVersion and uid.
func withoutServerFields(m *unstructured.Unstructured) {
	delete(m.Object, "status")
	for _, f := range []string{"resourceVersion", "uid", "creationTimestamp", "generation", "managedFields", "selfLink", "deletionTimestamp"} {
		unstructured.RemoveNestedField(m.Object, "metadata", f)
	}
}
