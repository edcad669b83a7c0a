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
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	execloopv1alpha1 "github.com/execloop/execloop/api/v1alpha1"
)

// immutableFields returns the fields that made the API server refuse an
// apply because they may not change (a Job's spec.template, a Service's
// spec.clusterIPs[0], a PersistentVolumeClaim's spec; "spec" for a
// StatefulSet, whose spec allows changes to a few fields only; a field a
// CRD's validation rule keeps as it was), or nil when err is not such a
// refusal. The refusal's
// own text is left out: it holds the whole new value, which for a pod
// template is a dump of the object that ends, once cut to fit a status,
// before the words "field is immutable".
func immutableFields(err error) []string {
	var status apierrors.APIStatus
	if !apierrors.IsInvalid(err) || !errors.As(err, &status) || status.Status().Details == nil {
		return nil
	}
	var fields []string
	for _, c := range status.Status().Details.Causes {
		msg := strings.ToLower(c.Message)
		immutable := strings.Contains(msg, "immutable") || strings.Contains(msg, "may not change once set") ||
			c.Type == metav1.CauseTypeForbidden && strings.Contains(msg, "updates to")
		if immutable && c.Field != "" && !slices.Contains(fields, c.Field) {
			fields = append(fields, c.Field)
		}
	}
	return fields
}

// immutable handles an apply refused because fields may not change: under
// immutableFields: Recreate, the object is deleted (once: an object being
// deleted is waited for) and the task waits until it is gone, when the
// next pass creates it again; otherwise the task fails, naming the fields
// and the policy that would recreate the object.
func (k *planTask) immutable(ctx context.Context, st *taskState, fields []string) error {
	what := strings.Join(fields, ", ")
	if !k.t.recreate {
		return fmt.Errorf("applying %s as %s: the API server refused the change: %s cannot be changed once set (immutableFields: Recreate on task %s deletes the %s and creates it again)",
			k.t.describe(), k.run.id.Describe(), what, k.t.name, k.t.gvk.Kind)
	}
	if inv := k.run.inventory(k.t); st.live.GetLabels()[PlanUIDLabel] != string(k.run.plan.UID) || inv == nil ||
		inv.Adopted && k.t.adoption != execloopv1alpha1.AdoptionDelete {
		return fmt.Errorf("applying %s as %s: the API server refused the change: %s cannot be changed once set, and the object is not this plan's to delete and create again (it did not create it; adoptionPolicy Delete lets it)",
			k.t.describe(), k.run.id.Describe(), what)
	}
	if st.live.GetDeletionTimestamp() == nil {
		uid := st.live.GetUID()
		err := k.run.id.client.Delete(ctx, st.live, client.PropagationPolicy(metav1.DeletePropagationBackground),
			client.Preconditions{UID: &uid})
		if err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("deleting %s as %s, to create it again since %s cannot be changed: %w", k.t.describe(), k.run.id.Describe(), what, err)
		}
		if k.run.Recorder != nil {
			k.run.Recorder.Eventf(k.run.plan, nil, corev1.EventTypeNormal, "Recreating", "Delete",
				"Task %s: deleted %s to create it again: %s cannot be changed once set", k.t.name, k.t.describe(), what)
		}
	}
	return k.run.waiting(k.t, "gone, deleted to be created again since "+what+" cannot be changed once set")
}
