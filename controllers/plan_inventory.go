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
	"slices"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	execloopv1alpha1 "github.com/execloop/execloop/api/v1alpha1"
)

// inventory returns the inventory entry of a task, or nil.
func (p *planRun) inventory(task string) *execloopv1alpha1.AppliedObject {
	for i := range p.plan.Status.Objects {
		if p.plan.Status.Objects[i].Task == task {
			return &p.plan.Status.Objects[i]
		}
	}
	return nil
}

// record keeps what a task applied in the inventory, in the order the tasks
// first applied: the reverse of that order is a safe order of deletion.
func (p *planRun) record(t *taskSpec, live *unstructured.Unstructured) error {
	h, err := liveHash(t.manifest, live)
	if err != nil {
		return err
	}
	entry := execloopv1alpha1.AppliedObject{
		Task: t.name, APIVersion: t.gvk.GroupVersion().String(), Kind: t.gvk.Kind,
		Namespace: t.key.Namespace, Name: t.key.Name, UID: live.GetUID(),
		ManifestHash: t.hash, LiveHash: h,
	}
	if inv := p.inventory(t.name); inv != nil {
		*inv = entry
	} else {
		p.plan.Status.Objects = append(p.plan.Status.Objects, entry)
	}
	return nil
}

// sortInventory keeps the inventory entries of the plan's tasks and marks
// the others stale. Entries of tasks that left the plan (or name another
// object now) are pruned, unless a task of the plan applies that same
// object: then it adopts the object (a renamed task) and the entry just
// goes.
func (p *planRun) sortInventory(byName map[string]*taskSpec, specs []*taskSpec) {
	kept := p.plan.Status.Objects[:0]
	for _, obj := range p.plan.Status.Objects {
		t := byName[obj.Task]
		switch {
		case t != nil && t.kind == kindApply && (sameObject(t, obj) || t.mapping == nil && sameKindAndName(t, obj)):
			// The task's object, or the object of a task whose kind is not
			// served right now: an outage of its API is no removal.
			kept = append(kept, obj)
		case slices.ContainsFunc(specs, func(t *taskSpec) bool { return t.kind == kindApply && sameObject(t, obj) }):
		default:
			kept = append(kept, obj)
			p.stale = append(p.stale, obj)
		}
	}
	p.plan.Status.Objects = kept
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

// objectName is an inventory entry's namespace/name, or name.
func objectName(obj execloopv1alpha1.AppliedObject) string {
	if obj.Namespace == "" {
		return obj.Name
	}
	return obj.Namespace + "/" + obj.Name
}
