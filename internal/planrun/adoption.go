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
	"fmt"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
)

// adopts reports whether applying a task's object now adopts it: live, read
// from the API server, is there and is not this plan's (no label of its
// UID): made by hand, by Helm, by another controller, or released by a
// Plan, or made again by someone after the plan's was deleted.
func (p *Run) adopts(live *unstructured.Unstructured) bool {
	return live != nil && live.GetLabels()[PlanUIDLabel] != string(p.plan.UID)
}

// adopted reports whether the inventory says t's object was adopted.
func (p *Run) adopted(t *taskSpec) bool {
	inv := p.inventory(t)
	return inv != nil && inv.Adopted
}

// refusal is the error of a task under adoptionPolicy Refuse whose object
// is already there and is not the plan's: it applies nothing.
func refusal(t *taskSpec, live *unstructured.Unstructured) error {
	return fmt.Errorf("%s is already there, %s; adoptionPolicy Refuse on task %s leaves it alone (Release or Delete adopts it)",
		t.describe(), managedBy(live), t.name)
}

// dropOwnerReference removes the Plan's owner reference from a manifest.
func dropOwnerReference(m *unstructured.Unstructured, plan types.UID) {
	refs := slices.DeleteFunc(m.GetOwnerReferences(), func(r metav1.OwnerReference) bool { return r.UID == plan })
	if len(refs) == 0 {
		unstructured.RemoveNestedField(m.Object, "metadata", "ownerReferences")
		return
	}
	m.SetOwnerReferences(refs)
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
