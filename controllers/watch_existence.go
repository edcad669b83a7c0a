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

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/types"

	"github.com/execloop/execloop/internal/planrun"
)

// The watches of the plans' objects hold only objects with PlanUIDLabel, so
// their caches cannot tell whether an object a task is about to create is
// absent or was made by someone else (to adopt, or to refuse). Reading each
// new object from the API server first cost a GET per object: three per
// plan of three new objects. Instead, for each resource and namespace the
// plans apply to, the watcher keeps a metadata-only watch of every object,
// as the plan's identity (the same RBAC: list and watch of the resource),
// and an object that its synced cache does not hold is taken as absent
// without a read. An object someone creates between the cache's view and
// the apply is not taken over all the same: the apply of an object taken
// as absent can only create it (plan_claim.go). Tasks under adoptionPolicy
// Refuse still read first, which spares them a refused apply.

// existsKeyOf is the key of the metadata-only watch of every object of
// mapping's resource in namespace, as id.
func existsKeyOf(id *planrun.Identity, mapping *meta.RESTMapping, namespace string) watchKey {
	k := watchKeyOf(id, mapping, namespace)
	k.all = true
	return k
}

// absent reports whether the object at key is known to be absent: the
// metadata-only watch of its resource there, as id, has synced and does not
// hold it. It is false when that is not known (no watch yet, not synced, or
// id may not list and watch the resource): the caller reads the object.
func (w *watcher) Absent(ctx context.Context, plan types.NamespacedName, id *planrun.Identity, mapping *meta.RESTMapping, key types.NamespacedName) bool {
	informer := w.ensure(ctx, plan, id, mapping, existsKeyOf(id, mapping, key.Namespace))
	if informer == nil || !informer.HasSynced() {
		return false
	}
	_, exists, err := informer.GetStore().GetByKey(storeKey(key))
	return err == nil && !exists
}
