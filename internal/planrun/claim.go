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
	"errors"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	execloopv1alpha1 "github.com/execloop/execloop/api/v1alpha1"
)

// One object, one Plan.
//
// Every Plan applies as the one field manager FieldManager, forcing
// conflicts, so the API server never tells one Plan's apply from
// another's: whoever applies last takes the object, label and values. A
// Plan decides what it may write from what it read (a watch's cache, or a
// GET), and an object can appear or change between that read and the
// apply: two Plans that both saw it absent would both apply it, and both
// record success. So every apply carries a precondition that holds only
// if the object is still what the Plan judged it to be:
//
//   - an object the Plan found absent is applied with a resourceVersion
//     that no stored object can have (absentResourceVersion). The API
//     server ignores the resourceVersion of an apply that creates the
//     object, so the object is created as usual; if it exists by then, its
//     resourceVersion differs and the apply is refused, changing nothing.
//     The write only creates. (A UID cannot serve here: the API server
//     refuses an apply that names a UID and finds no object.)
//   - an object the Plan adopts (there, but not labelled as any Plan's) is
//     applied with the resourceVersion it was read at: if anyone changed
//     it since (another Plan adopting it first), the apply is refused.
//   - an object the Plan already holds is applied with its UID: one made
//     again by someone else meanwhile is not taken over.
//
// An apply refused for its precondition wrote nothing. The object is read
// again and judged as at the start: another Plan's is refused, naming it;
// someone else's is refused under adoptionPolicy Refuse, and otherwise
// adopted, claimed at the resourceVersion just read; this plan's own (a
// cache behind the plan's last apply) is applied again. The field manager
// stays one for all Plans, so objects applied before this change keep
// their owner.

// absentResourceVersion is a resourceVersion no stored object has: the
// API server's revisions are etcd's, signed 64-bit numbers, and this is
// the largest unsigned one. As the precondition of an apply, it holds only
// when the apply creates the object.
const absentResourceVersion = "18446744073709551615"

// claim sets on applied, the object about to be applied, the precondition
// that it is still the object live stands for (nil: absent). adopting
// reports that this apply takes over an object someone else made.
func claim(applied, live *unstructured.Unstructured, adopting bool) {
	switch {
	case live == nil:
		applied.SetResourceVersion(absentResourceVersion)
	case adopting:
		applied.SetResourceVersion(live.GetResourceVersion())
	default:
		applied.SetUID(live.GetUID())
	}
}

// claimLost reports whether an apply was refused because its claim no
// longer held: the object was created, made again or changed since the
// plan read it. A UID that differs is an update of metadata.uid, which the
// API server refuses as immutable; a resourceVersion that differs is a
// conflict.
func claimLost(err error) bool {
	if apierrors.IsConflict(err) {
		return true
	}
	var status apierrors.APIStatus
	if !apierrors.IsInvalid(err) || !errors.As(err, &status) || status.Status().Details == nil {
		return false
	}
	for _, c := range status.Status().Details.Causes {
		if c.Field == "metadata.uid" {
			return true
		}
	}
	return false
}

// anotherPlans is the error of a task whose object another Plan applied:
// it names that Plan. nil when live is absent, this plan's, or no Plan's.
func (p *Run) anotherPlans(t *taskSpec, live *unstructured.Unstructured) error {
	if live == nil {
		return nil
	}
	owner := live.GetLabels()[PlanUIDLabel]
	if owner == "" || owner == string(p.plan.UID) {
		return nil
	}
	return fmt.Errorf("%s is managed by another Plan (%s): two Plans must not apply the same object",
		t.describe(), live.GetAnnotations()[PlanAnnotation])
}

// contested reads again the object of an apply refused by its claim: it
// is returned (nil when absent) to be judged and applied again, unless
// another Plan applied it (the task fails, naming that Plan) or someone
// else made it and the task's adoptionPolicy is Refuse (refused).
func (k *planTask) contested(ctx context.Context) (*unstructured.Unstructured, error) {
	live := &unstructured.Unstructured{}
	live.SetGroupVersionKind(k.t.gvk)
	switch err := k.run.id.client.Get(ctx, k.t.key, live); {
	case apierrors.IsNotFound(err):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("reading %s as %s, which changed while it was applied: %w", k.t.describe(), k.run.id.Describe(), err)
	}
	if err := k.run.anotherPlans(k.t, live); err != nil {
		return nil, err
	}
	if k.run.adopts(live) && k.t.adoption == execloopv1alpha1.AdoptionRefuse {
		return nil, refusal(k.t, live)
	}
	return live, nil
}
