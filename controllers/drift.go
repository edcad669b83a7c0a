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
	"strings"
	"sync"

	"github.com/go-logr/logr"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/metadata/metadatainformer"
	"k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	execloopv1alpha1 "github.com/execloop/execloop/api/v1alpha1"
)

// driftWatcher watches the objects Plans applied, as the identity that
// applied them, and wakes the owning Plan when one is changed or deleted by
// someone else. It starts one metadata-only informer per identity, resource
// and namespace, selecting on PlanUIDLabel, the first time a Plan applies
// (or finds) an object of that resource. An identity that may not list and
// watch a resource gets no watch: its Plans see drift at their next pass.
type driftWatcher struct {
	events chan event.GenericEvent
	log    logr.Logger

	mu      sync.Mutex
	ctx     context.Context // set when the manager starts the watcher
	watches map[watchKey]bool
}

type watchKey struct {
	identity  string
	resource  schema.GroupVersionResource
	namespace string
}

var (
	_ manager.Runnable               = (*driftWatcher)(nil)
	_ manager.LeaderElectionRunnable = (*driftWatcher)(nil)
)

func newDriftWatcher(log logr.Logger) *driftWatcher {
	return &driftWatcher{events: make(chan event.GenericEvent, 1024), log: log, watches: map[watchKey]bool{}}
}

// Start keeps the watcher's informers running until ctx is done.
func (w *driftWatcher) Start(ctx context.Context) error {
	w.mu.Lock()
	w.ctx = ctx
	w.mu.Unlock()
	<-ctx.Done()
	return nil
}

// NeedLeaderElection is true: only the leader watches, as only it reconciles.
func (w *driftWatcher) NeedLeaderElection() bool { return true }

// ensure watches the objects of mapping's resource in namespace (all
// namespaces for a cluster-scoped resource) as id, once.
func (w *driftWatcher) ensure(ctx context.Context, id *identity, mapping *meta.RESTMapping, namespace string) {
	if mapping.Scope.Name() != meta.RESTScopeNameNamespace {
		namespace = metav1.NamespaceAll
	}
	key := watchKey{identity: id.name, resource: mapping.Resource, namespace: namespace}
	w.mu.Lock()
	runCtx := w.ctx
	_, known := w.watches[key]
	if !known && runCtx != nil {
		w.watches[key] = false // taken; true once the informer runs
	}
	w.mu.Unlock()
	if known || runCtx == nil {
		return
	}

	// One list first: an identity that may not list and watch gets no
	// informer (which would retry and log for ever).
	_, err := id.metadata.Resource(mapping.Resource).Namespace(namespace).List(ctx, metav1.ListOptions{LabelSelector: PlanUIDLabel, Limit: 1})
	if err != nil {
		if !apierrors.IsForbidden(err) {
			w.mu.Lock()
			delete(w.watches, key) // try again next time
			w.mu.Unlock()
		}
		w.log.Info("not watching for drift; changes are noticed at the next pass", "identity", id.describe(),
			"resource", mapping.Resource.String(), "namespace", namespace, "reason", err.Error())
		return
	}
	informer := metadatainformer.NewFilteredMetadataInformer(id.metadata, mapping.Resource, namespace, 0, cache.Indexers{},
		func(o *metav1.ListOptions) { o.LabelSelector = PlanUIDLabel }).Informer()
	if _, err := informer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		UpdateFunc: func(oldObj, newObj any) {
			o, n := asMeta(oldObj), asMeta(newObj)
			if o == nil || n == nil || !changedBySomeone(o, n) {
				return
			}
			w.wake(n)
		},
		DeleteFunc: func(obj any) {
			if m := asMeta(obj); m != nil {
				w.wake(m)
			}
		},
	}); err != nil {
		w.log.Error(err, "adding the drift handler", "resource", mapping.Resource.String())
		return
	}
	go informer.RunWithContext(runCtx)
	w.mu.Lock()
	w.watches[key] = true
	w.mu.Unlock()
}

// changedBySomeone reports an update that may be drift: a new generation (a
// spec change), or any change of an object that has no generation; status
// changes of objects with a status subresource are not.
func changedBySomeone(o, n metav1.Object) bool {
	if n.GetGeneration() != 0 {
		return n.GetGeneration() != o.GetGeneration()
	}
	return n.GetResourceVersion() != o.GetResourceVersion()
}

// wake enqueues the Plan named by the object's PlanAnnotation.
func (w *driftWatcher) wake(obj metav1.Object) {
	ns, name, ok := strings.Cut(obj.GetAnnotations()[PlanAnnotation], "/")
	if !ok {
		return
	}
	w.mu.Lock()
	ctx := w.ctx
	w.mu.Unlock()
	select {
	case w.events <- event.GenericEvent{Object: &execloopv1alpha1.Plan{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}}:
	case <-ctx.Done():
	}
}

// asMeta returns the object of an informer event, also from a tombstone.
func asMeta(obj any) metav1.Object {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	m, _ := obj.(metav1.Object)
	return m
}
