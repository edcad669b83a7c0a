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

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
)

// Watches are the informers a pass reads through and keeps, when the
// operator runs it (package controllers); a Run without them, such as a
// preview's, reads the API server. plan names the Plan whose pass asks.
type Watches interface {
	// Get returns the object at key from the cache of the objects Plans
	// applied, as id sees them (nil when it is not there), and whether
	// that cache is synced: when it is not, the pass reads the API server.
	Get(ctx context.Context, plan types.NamespacedName, id *Identity, mapping *meta.RESTMapping, key types.NamespacedName) (obj *unstructured.Unstructured, synced bool)
	// Absent reports whether the existence cache of key's resource and
	// namespace says, surely, that no object is at key.
	Absent(ctx context.Context, plan types.NamespacedName, id *Identity, mapping *meta.RESTMapping, key types.NamespacedName) bool
	// WatchTarget watches the one object at key for plan, as id: any
	// change of it wakes the plan.
	WatchTarget(ctx context.Context, plan types.NamespacedName, id *Identity, mapping *meta.RESTMapping, key types.NamespacedName)
	// Retain keeps for plan the watches listed and stops plan's others.
	Retain(plan types.NamespacedName, id *Identity, keep []Watch)
}

// Watch is one watch a plan's passes read through.
type Watch struct {
	// Mapping is the watched resource's.
	Mapping *meta.RESTMapping
	// Namespace is where it watches; empty for a cluster-scoped resource.
	Namespace string
	// Target, when set, is the name of the one object watched (a target
	// watch, WatchTarget). Otherwise the watch is of the objects Plans
	// applied in Namespace, and of whether any object is there (Get and
	// Absent).
	Target string
}
