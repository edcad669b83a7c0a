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
	"slices"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// refuseAdoption fails, under adoptionPolicy Refuse, the first apply of an
// object that is already there and is not the plan's, naming who manages
// it; it applies nothing then. The object is read from the API server: the
// watcher's cache holds the plans' objects only.
func (k *planTask) refuseAdoption(ctx context.Context, st *taskState) error {
	live := st.live
	if live == nil {
		live = &unstructured.Unstructured{}
		live.SetGroupVersionKind(k.t.gvk)
		switch err := k.run.id.client.Get(ctx, k.t.key, live); {
		case apierrors.IsNotFound(err):
			return nil
		case err != nil:
			return fmt.Errorf("reading %s as %s: %w", k.t.describe(), k.run.id.describe(), err)
		}
	}
	if live.GetLabels()[PlanUIDLabel] == string(k.run.plan.UID) {
		return nil // applied by this plan before its status could say so
	}
	return fmt.Errorf("%s is already there, %s; adoptionPolicy Refuse on task %s leaves it alone (Release or Delete adopts it)",
		k.t.describe(), managedBy(live), k.t.name)
}

// managedBy says who manages an object, as its field managers and owners
// name them.
func managedBy(obj *unstructured.Unstructured) string {
	var managers []string
	for _, f := range obj.GetManagedFields() {
		if !slices.Contains(managers, f.Manager) {
			managers = append(managers, f.Manager)
		}
	}
	var owners []string
	for _, o := range obj.GetOwnerReferences() {
		owners = append(owners, o.Kind+" "+o.Name)
	}
	var parts []string
	if len(managers) > 0 {
		parts = append(parts, "managed by "+strings.Join(managers, ", "))
	}
	if len(owners) > 0 {
		parts = append(parts, "owned by "+strings.Join(owners, ", "))
	}
	if len(parts) == 0 {
		return "made by someone else"
	}
	return strings.Join(parts, ", ")
}
