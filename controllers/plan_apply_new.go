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

package controllers

import (
	"context"
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	execloopv1alpha1 "github.com/execloop/execloop/api/v1alpha1"
)

// A task whose object the plan never applied, and which the cache of the
// plans' objects does not hold, most likely has no object yet: the plan
// applies it without reading it first, sparing a request per new object
// (a plan of three new objects made three more GETs). That apply does not
// force conflicts: on an object someone else made, a field they set to
// another value makes the API server refuse it, changing nothing; then
// the task reads the object and goes the usual way. Where no field
// conflicts, the apply goes through, and its answer tells who made the
// object: one execloop created has execloop's apply as its only field
// manager, made when the object was created; the maker of any other keeps
// its field manager, as the apply forced nothing. Such an object is
// adopted as if it had been read first: applied again without the owner
// reference, and recorded adopted. Left open: an object someone made with
// no field at all (no manager entry) less than a second before the apply
// counts as created. adoptionPolicy Refuse, which must not write to such
// an object at all, and applyPolicy IfNotPresent, which creates rather
// than applies, read first.

// blindApply reports whether t's object may be applied without a read,
// given what the cache says (live is nil: not among the plans' objects).
func (p *planRun) blindApply(t *taskSpec, live *unstructured.Unstructured) bool {
	return live == nil && !t.createOnly && t.adoption != execloopv1alpha1.AdoptionRefuse && p.inventory(t) == nil
}

// applyUnread applies the object of a task that blindApply allowed. done
// is false when the API server refused: the caller reads the object and
// goes the usual way, which knows what each refusal means.
func (k *planTask) applyUnread(ctx context.Context, st *taskState) (done bool, err error) {
	applied, _, err := k.run.toApply(k.t, st)
	if err != nil {
		return false, err
	}
	if err := k.run.id.client.Apply(ctx, client.ApplyConfigurationFromUnstructured(applied), client.FieldOwner(FieldManager)); err != nil {
		return false, nil
	}
	if createdBy(applied, FieldManager) {
		st.live = applied
		return true, k.run.record(k.t, applied, false)
	}
	// Someone else's, adopted: no owner reference to the Plan.
	adopted, _, err := k.run.toApply(k.t, st)
	if err != nil {
		return true, err
	}
	dropOwnerReference(adopted, k.run.plan.UID)
	if err := k.run.id.client.Apply(ctx, client.ApplyConfigurationFromUnstructured(adopted),
		client.FieldOwner(FieldManager), client.ForceOwnership); err != nil {
		return true, fmt.Errorf("adopting %s as %s: %w", k.t.describe(), k.run.id.describe(), err)
	}
	st.live = adopted
	return true, k.run.record(k.t, adopted, true)
}

// createdBy reports whether obj, as an apply by manager returned it, was
// created by that apply: its only field manager is manager's apply, made
// when the object was created. The two times have whole seconds, and the
// API server takes them a moment apart: they may differ by a second.
func createdBy(obj *unstructured.Unstructured, manager string) bool {
	fields := obj.GetManagedFields()
	if len(fields) != 1 {
		return false
	}
	f := fields[0]
	created := obj.GetCreationTimestamp()
	if f.Manager != manager || f.Operation != metav1.ManagedFieldsOperationApply || f.Time == nil || created.IsZero() {
		return false
	}
	d := f.Time.Sub(created.Time)
	return d >= -time.Second && d <= time.Second
}
