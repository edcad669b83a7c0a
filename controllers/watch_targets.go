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
	"k8s.io/client-go/tools/cache"

	"github.com/execloop/execloop/internal/planrun"
)

// The object of a wait or patch task is not the plan's: it carries no
// PlanUIDLabel, so the watches of the plans' objects do not see it. When
// other tasks read values from a wait task's object (a Secret's key, a
// Service's address), and always for a patch task's (whose patched fields
// someone may change), the plan watches that one object, by name, as its
// identity, and any change of it, its creation or its deletion wakes each
// plan that watches it. A wait task whose object nobody reads needs no
// watch: until it is ready the plan looks again every SleepBetweenRuns,
// and afterwards it does not matter.

// targetKeyOf is the key of the watch of the one object at key.
func targetKeyOf(id *planrun.Identity, mapping *meta.RESTMapping, key types.NamespacedName) watchKey {
	k := watchKeyOf(id, mapping, key.Namespace)
	k.name = key.Name
	return k
}

// watchTarget makes sure the object at key is watched for plan, as id.
// When id may not list and watch it, the plan sees its changes at its next
// pass only.
func (w *watcher) WatchTarget(ctx context.Context, plan types.NamespacedName, id *planrun.Identity, mapping *meta.RESTMapping, key types.NamespacedName) {
	w.ensure(ctx, plan, id, mapping, targetKeyOf(id, mapping, key))
}

// targetHandler wakes the plans that read the object key watches, on any
// change of it after the informer's first list.
func (w *watcher) targetHandler(key watchKey) cache.ResourceEventHandler {
	wake := func() { w.wakeAll(key) }
	return cache.ResourceEventHandlerDetailedFuncs{
		AddFunc: func(_ any, initial bool) {
			if !initial {
				wake()
			}
		},
		UpdateFunc: func(oldObj, newObj any) {
			o, n := asMeta(oldObj), asMeta(newObj)
			if o != nil && n != nil && o.GetResourceVersion() != n.GetResourceVersion() {
				wake()
			}
		},
		DeleteFunc: func(any) { wake() },
	}
}

// wakeAll enqueues every plan that uses the watch of key.
func (w *watcher) wakeAll(key watchKey) {
	w.mu.Lock()
	ctx := w.ctx
	var plans []types.NamespacedName
	if wt := w.watches[key]; wt != nil {
		for p := range wt.plans {
			plans = append(plans, p)
		}
	}
	w.mu.Unlock()
	for _, p := range plans {
		if !w.enqueue(ctx, p) {
			return
		}
	}
}
