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
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	execloopv1alpha1 "github.com/execloop/execloop/api/v1alpha1"
)

// inventory returns the inventory entry of t's object, or nil.
func (p *Run) inventory(t *taskSpec) *execloopv1alpha1.AppliedObject {
	for i := range p.plan.Status.Objects {
		if targets(t, p.plan.Status.Objects[i]) {
			return &p.plan.Status.Objects[i]
		}
	}
	return nil
}

// targets reports whether task t writes the object of an inventory entry,
// or may (its kind is not served right now, so its namespace is not
// settled: an outage of its API is no removal).
func targets(t *taskSpec, obj execloopv1alpha1.AppliedObject) bool {
	if t.each != nil {
		// Its objects' names are known in a pass only (Run.expand).
		gv, _ := schema.ParseGroupVersion(obj.APIVersion)
		return obj.Task == t.name && gv.Group == t.gvk.Group && obj.Kind == t.gvk.Kind
	}
	return t.kind.recorded() && (sameObject(t, obj) || t.mapping == nil && sameKindAndName(t, obj))
}

// record keeps what a task applied in the inventory, an entry per object,
// in the order the objects were first applied. adopted says that the
// object was there before the apply and not the plan's; an entry of the
// same object (same UID) keeps what it says.
func (p *Run) record(t *taskSpec, live *unstructured.Unstructured, adopted bool) error {
	// The usual case: the API server kept the values as applied, and
	// liveHash would be manifestHash again. The status, which every watch
	// of Plans receives whole on each write, need not say it twice.
	h := ""
	if !asApplied(t.manifest, live) {
		var err error
		if h, err = liveHash(t.manifest, live); err != nil {
			return err
		}
	}
	entry := execloopv1alpha1.AppliedObject{
		Task: t.name, APIVersion: t.gvk.GroupVersion().String(), Kind: t.gvk.Kind,
		Namespace: t.key.Namespace, Name: t.key.Name, UID: live.GetUID(),
		ManifestHash: t.hash, LiveHash: h, Adopted: adopted,
	}
	inv := p.inventory(t)
	if inv != nil && inv.UID == entry.UID {
		entry.Adopted = inv.Adopted // a new UID is a new object: created again, or adopted again
	}
	entry.Release = entry.Adopted && t.adoption == execloopv1alpha1.AdoptionRelease
	if inv != nil {
		*inv = entry
	} else {
		p.plan.Status.Objects = append(p.plan.Status.Objects, entry)
	}
	return nil
}

// maxInventory is the most entries status.objects may hold (its MaxItems):
// a status with one more is refused, and the object it would record is
// lost to the plan.
const maxInventory = 512

// roomFor returns an error when applying t's object would add an entry to
// a full inventory: the object waits to be applied until prunes make room,
// rather than be applied and not recorded; in progress, until the task's
// timeout passes (see waiting). The inventory holds an entry per task at
// most, and the stale entries of removed or re-pointed tasks until their
// prune is done.
func (p *Run) roomFor(t *taskSpec) error {
	n := len(p.plan.Status.Objects)
	if n < maxInventory || p.inventory(t) != nil {
		return nil
	}
	return p.waiting(t, fmt.Sprintf("not applied until the inventory has room (status.objects holds %d objects, its most, %d of them to be pruned: see the prune: tasks)",
		n, len(p.stale)))
}

// sortInventory gives each inventory entry the task that applies its object
// now, and marks stale the entries no task applies any more: removed tasks',
// and the old objects of tasks that name another object now. Those are
// pruned; the entry of the new object is another entry, so neither is lost
// while a prune takes many passes.
func (p *Run) sortInventory(specs []*taskSpec) {
	kept := p.plan.Status.Objects[:0]
	seen := map[string]bool{}
	for _, obj := range p.plan.Status.Objects {
		key := entryKey(obj)
		if seen[key] {
			continue // one entry per object
		}
		seen[key] = true
		if i := slices.IndexFunc(specs, func(t *taskSpec) bool { return targets(t, obj) }); i >= 0 {
			obj.Task = specs[i].name
			obj.Release = obj.Adopted && specs[i].adoption == execloopv1alpha1.AdoptionRelease // the policy as it is now
		} else {
			p.stale = append(p.stale, obj)
		}
		kept = append(kept, obj)
	}
	p.plan.Status.Objects = kept
}

// entryKey identifies an inventory entry's object: group, kind, namespace
// and name (the version may differ).
func entryKey(obj execloopv1alpha1.AppliedObject) string {
	gv, _ := schema.ParseGroupVersion(obj.APIVersion)
	return gv.Group + "/" + obj.Kind + "/" + obj.Namespace + "/" + obj.Name
}

// holds reports whether the Plan's inventory still has obj's entry.
func holds(p *execloopv1alpha1.Plan, obj execloopv1alpha1.AppliedObject) bool {
	key := entryKey(obj)
	return slices.ContainsFunc(p.Status.Objects, func(o execloopv1alpha1.AppliedObject) bool { return entryKey(o) == key })
}

// forget drops obj's entry from a Plan's inventory.
func forget(p *execloopv1alpha1.Plan, obj execloopv1alpha1.AppliedObject) {
	key := entryKey(obj)
	p.Status.Objects = slices.DeleteFunc(p.Status.Objects, func(o execloopv1alpha1.AppliedObject) bool { return entryKey(o) == key })
}

// sameObject reports whether an inventory entry is the object task t
// applies (the version may differ).
func sameObject(t *taskSpec, obj execloopv1alpha1.AppliedObject) bool {
	return sameKindAndName(t, obj) && obj.Namespace == t.key.Namespace
}

// sameKindAndName reports whether an inventory entry has the group, kind
// and name of task t's object: the same object, when t's namespace is not
// settled yet.
func sameKindAndName(t *taskSpec, obj execloopv1alpha1.AppliedObject) bool {
	gv, _ := schema.ParseGroupVersion(obj.APIVersion)
	return gv.Group == t.gvk.Group && obj.Kind == t.gvk.Kind && obj.Name == t.key.Name
}

// removalName names the task that prunes, deletes or releases obj, one of
// the entries all: prefix and the task that applied it ("prune:config").
// Entries of the same task (one that named another object while the prune
// of the first waits on a finalizer) each get the long name instead (see
// longRemovalName), so that each has a status of its own.
func removalName(prefix string, obj execloopv1alpha1.AppliedObject, all []execloopv1alpha1.AppliedObject) string {
	same := 0
	for _, o := range all {
		if o.Task == obj.Task {
			same++
		}
	}
	if same > 1 {
		return longRemovalName(prefix, obj)
	}
	return prefix + obj.Task
}

// longRemovalName is removalName with the object's kind, group and name:
// "prune:config/ConfigMap/team-a/old", "delete:gw/Gateway.example.com/web".
// A name past the status's 253 characters ends in a hash of the whole.
func longRemovalName(prefix string, obj execloopv1alpha1.AppliedObject) string {
	kind := obj.Kind
	if gv, _ := schema.ParseGroupVersion(obj.APIVersion); gv.Group != "" {
		kind += "." + gv.Group
	}
	name := prefix + obj.Task + "/" + kind + "/" + ObjectName(obj)
	const most = 253 // TaskStatus.Name's MaxLength
	if len(name) <= most {
		return name
	}
	sum := sha256.Sum256([]byte(name))
	suffix := "-" + hex.EncodeToString(sum[:4])
	return name[:most-len(suffix)] + suffix
}

// ObjectName is an inventory entry's namespace/name, or name.
func ObjectName(obj execloopv1alpha1.AppliedObject) string {
	if obj.Namespace == "" {
		return obj.Name
	}
	return obj.Namespace + "/" + obj.Name
}
