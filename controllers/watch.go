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
	"time"

	"github.com/go-logr/logr"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/metadata/metadatainformer"
	"k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	execloopv1alpha1 "github.com/execloop/execloop/api/v1alpha1"
	"github.com/execloop/execloop/internal/planrun"
)

// watcher keeps, per identity, resource and namespace, an informer of the
// objects Plans applied (those with PlanUIDLabel), as that identity sees
// them. It serves two ends: a Plan's passes read their objects from it
// instead of the API server, and a change or deletion by someone else wakes
// the owning Plan (drift). An informer starts the first time a Plan applies
// (or looks for) an object of that resource; an identity that may not list
// and watch the resource gets none, and its Plans read from the API server
// and see drift at their next pass. The watcher asks again, at most every
// deniedRetry, so that RBAC granted later takes effect without a restart.
// It also watches single objects that wait tasks read (watch_targets.go).
//
// An informer lives as long as a Plan uses it: when the last Plan that
// reads through it is gone, or no longer applies objects of that resource
// there as that identity (its tasks or its ServiceAccount changed), it
// stops.
type watcher struct {
	events chan event.GenericEvent
	log    logr.Logger
	// kind is the <kind>.<group> of the instances whose objects the
	// watcher serves (planrun.InstanceKind), empty for Plans': a change
	// wakes only an owner of that kind (instance_controller.go).
	kind string

	mu          sync.Mutex
	ctx         context.Context // set when the manager starts the watcher
	watches     map[watchKey]*watch
	byPlan      map[types.NamespacedName]map[watchKey]struct{} // the watches each Plan uses
	retryDenied time.Duration                                  // deniedRetry, but for tests
}

// deniedRetry is how long an identity that was refused a list of a resource
// goes without a watch of it before the watcher asks again.
const deniedRetry = time.Minute

// watch is one informer and the Plans that use it.
type watch struct {
	informer cache.SharedIndexInformer // nil while starting, or when not allowed
	stop     context.CancelFunc
	denied   time.Time // when the identity was last refused; zero otherwise
	plans    map[types.NamespacedName]struct{}
}

type watchKey struct {
	identity  string
	resource  schema.GroupVersionResource
	namespace string
	name      string // set for a watch of one object, by name (WatchTarget: watch_targets.go)
	all       bool   // a metadata-only watch of every object, for existence (watch_existence.go)
}

var (
	_ manager.Runnable               = (*watcher)(nil)
	_ manager.LeaderElectionRunnable = (*watcher)(nil)
	_ planrun.Watches                = (*watcher)(nil)
)

func newWatcher(log logr.Logger, kind string) *watcher {
	return &watcher{
		events: make(chan event.GenericEvent, 1024), log: log, kind: kind, retryDenied: deniedRetry,
		watches: map[watchKey]*watch{}, byPlan: map[types.NamespacedName]map[watchKey]struct{}{},
	}
}

// Start keeps the watcher's informers running until ctx is done.
func (w *watcher) Start(ctx context.Context) error {
	w.mu.Lock()
	w.ctx = ctx
	w.mu.Unlock()
	<-ctx.Done()
	return nil
}

// NeedLeaderElection is true: only the leader watches, as only it reconciles.
func (w *watcher) NeedLeaderElection() bool { return true }

// get returns the object at key as id last saw it, when the informer for
// its resource and namespace has synced: a nil object then means that no
// Plan's object is there. synced is false when there is no synced informer
// (yet); the caller reads from the API server instead.
func (w *watcher) Get(ctx context.Context, plan types.NamespacedName, id *planrun.Identity, mapping *meta.RESTMapping, key types.NamespacedName) (obj *unstructured.Unstructured, synced bool) {
	informer := w.ensure(ctx, plan, id, mapping, watchKeyOf(id, mapping, key.Namespace))
	if informer == nil || !informer.HasSynced() {
		return nil, false
	}
	item, exists, err := informer.GetStore().GetByKey(storeKey(key))
	if err != nil || !exists {
		return nil, err == nil
	}
	u, ok := item.(*unstructured.Unstructured)
	if !ok {
		return nil, false
	}
	return u.DeepCopy(), true
}

// ensure returns the informer of key (mapping's resource in a namespace, or
// all namespaces for a cluster-scoped resource; one object of it when
// key.name is set) as id, starting it once, and records that plan uses it;
// nil when id may not list and watch the resource (asked again after
// w.retryDenied), or the watcher is not running.
func (w *watcher) ensure(ctx context.Context, plan types.NamespacedName, id *planrun.Identity, mapping *meta.RESTMapping, key watchKey) cache.SharedIndexInformer {
	namespace := key.namespace
	w.mu.Lock()
	runCtx := w.ctx
	wt, known := w.watches[key]
	wasDenied := known && !wt.denied.IsZero()
	switch {
	case known:
		w.use(wt, key, plan)
		if !wasDenied || time.Since(wt.denied) < w.retryDenied {
			informer := wt.informer // nil while another reconcile starts it, or while denied
			w.mu.Unlock()
			return informer
		}
		wt.denied = time.Time{} // this reconcile asks again; the others read from the API server meanwhile
	case runCtx == nil:
		w.mu.Unlock()
		return nil
	default:
		wt = &watch{plans: map[types.NamespacedName]struct{}{}}
		w.watches[key] = wt // taken; its informer is set, under the lock, once it runs
		w.use(wt, key, plan)
	}
	w.mu.Unlock()

	// One list first: an identity that may not list and watch gets no
	// informer (which would retry and log for ever).
	selection := key.selection()
	probe := selection
	probe.Limit = 1
	var err error
	if key.all {
		_, err = id.Metadata().Resource(mapping.Resource).Namespace(namespace).List(ctx, probe)
	} else {
		_, err = id.Dynamic().Resource(mapping.Resource).Namespace(namespace).List(ctx, probe)
	}
	if err != nil {
		w.mu.Lock()
		if apierrors.IsForbidden(err) && len(wt.plans) > 0 {
			wt.denied = time.Now()
		} else {
			delete(w.watches, key) // try again next time (if a Plan still asks)
		}
		w.mu.Unlock()
		log := w.log
		if wasDenied {
			log = log.V(1) // said when it was first refused
		}
		log.Info("not watching; the plans of this identity read from the API server and notice drift at their next pass",
			"identity", id.Describe(), "resource", mapping.Resource.String(), "namespace", namespace, "reason", err.Error())
		return nil
	}
	if wasDenied {
		w.log.Info("watching now: the identity may list and watch the resource",
			"identity", id.Describe(), "resource", mapping.Resource.String(), "namespace", namespace)
	}
	tweak := func(o *metav1.ListOptions) {
		o.LabelSelector, o.FieldSelector = selection.LabelSelector, selection.FieldSelector
	}
	var informer cache.SharedIndexInformer
	if key.all {
		informer = metadatainformer.NewFilteredMetadataInformer(id.Metadata(), mapping.Resource, namespace, 0, cache.Indexers{}, tweak).Informer()
	} else {
		informer = dynamicinformer.NewFilteredDynamicInformer(id.Dynamic(), mapping.Resource, namespace, 0, cache.Indexers{}, tweak).Informer()
	}
	// managedFields are most of an object's size and no concern of ours.
	if err := informer.SetTransform(func(obj any) (any, error) {
		if m, ok := obj.(metav1.Object); ok {
			m.SetManagedFields(nil)
		}
		return obj, nil
	}); err != nil {
		w.log.Error(err, "setting the informer's transform", "resource", mapping.Resource.String())
	}
	var handler cache.ResourceEventHandler
	switch {
	case key.all: // read only: it wakes no plan
	case key.name != "":
		handler = w.targetHandler(key)
	default:
		handler = w.driftHandler()
	}
	if handler != nil {
		if _, err := informer.AddEventHandler(handler); err != nil {
			w.log.Error(err, "adding the drift handler", "resource", mapping.Resource.String())
			w.mu.Lock()
			delete(w.watches, key)
			w.mu.Unlock()
			return nil
		}
	}
	informerCtx, stop := context.WithCancel(runCtx)
	go informer.RunWithContext(informerCtx)
	w.mu.Lock()
	wt.informer, wt.stop = informer, stop
	w.mu.Unlock()
	return informer
}

// selection selects what the watch of key sees: the objects Plans applied,
// or the one object named.
func (key watchKey) selection() metav1.ListOptions {
	if key.all {
		// Every object, labelled or not: a watch of only the unlabelled
		// ones would, with the watch of the plans' objects, lose sight of
		// an object for as long as one watch lags the other when its
		// label comes or goes (a Plan's cleanup releasing it, another
		// Plan adopting it), and a plan would take it for absent and
		// its own.
		return metav1.ListOptions{}
	}
	if key.name != "" {
		return metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector("metadata.name", key.name).String()}
	}
	return metav1.ListOptions{LabelSelector: PlanUIDLabel}
}

// driftHandler wakes the Plan that applied an object someone else changed
// or deleted, or whose values others read and that changed, and the Plan
// that held an object whose label now names another Plan: it reports the
// takeover at its next pass.
func (w *watcher) driftHandler() cache.ResourceEventHandler {
	return cache.ResourceEventHandlerFuncs{
		UpdateFunc: func(oldObj, newObj any) {
			o, n := asMeta(oldObj), asMeta(newObj)
			if o == nil || n == nil {
				return
			}
			if o.GetLabels()[PlanUIDLabel] != n.GetLabels()[PlanUIDLabel] {
				w.wake(o)
			}
			if changedBySomeone(o, n) || valuesChanged(o, n) {
				w.wake(n)
			}
		},
		DeleteFunc: func(obj any) {
			if m := asMeta(obj); m != nil {
				w.wake(m)
			}
		},
	}
}

// storeKey is an object's key in an informer's store.
func storeKey(key types.NamespacedName) string {
	if key.Namespace == "" {
		return key.Name
	}
	return key.Namespace + "/" + key.Name
}

// watchKeyOf is the key of the watch that serves id's reads of mapping's
// resource in namespace: all namespaces for a cluster-scoped resource.
func watchKeyOf(id *planrun.Identity, mapping *meta.RESTMapping, namespace string) watchKey {
	if mapping.Scope.Name() != meta.RESTScopeNameNamespace {
		namespace = metav1.NamespaceAll
	}
	return watchKey{identity: id.Name(), resource: mapping.Resource, namespace: namespace}
}

// use records that plan reads through wt. w.mu is held.
func (w *watcher) use(wt *watch, key watchKey, plan types.NamespacedName) {
	wt.plans[plan] = struct{}{}
	keys := w.byPlan[plan]
	if keys == nil {
		keys = map[watchKey]struct{}{}
		w.byPlan[plan] = keys
	}
	keys[key] = struct{}{}
}

// drop records that plan no longer reads through the watch of key, and
// stops the watch's informer when no Plan does (or forgets its refusal).
// w.mu is held.
func (w *watcher) drop(key watchKey, plan types.NamespacedName) {
	wt := w.watches[key]
	if wt == nil {
		return
	}
	delete(wt.plans, plan)
	if len(wt.plans) > 0 {
		return
	}
	switch {
	case wt.stop != nil:
		wt.stop()
		delete(w.watches, key)
	case !wt.denied.IsZero():
		delete(w.watches, key)
	}
}

// release records that plan is gone, and stops the informers no Plan uses
// any more; it forgets refusals no Plan needs any more.
func (w *watcher) release(plan types.NamespacedName) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for key := range w.byPlan[plan] {
		w.drop(key, plan)
	}
	delete(w.byPlan, plan)
}

// Retain records that plan reads through the watches listed only, as its
// tasks stand now: the informers it used for a resource it no longer
// applies, or as an identity it no longer acts as, stop when no other Plan
// uses them. A watch of the objects Plans applied is two: of those objects,
// and of whether any object is there (watch_existence.go).
func (w *watcher) Retain(plan types.NamespacedName, id *planrun.Identity, watches []planrun.Watch) {
	keep := make(map[watchKey]struct{}, 2*len(watches))
	for _, wt := range watches {
		if wt.Target != "" {
			keep[targetKeyOf(id, wt.Mapping, types.NamespacedName{Namespace: wt.Namespace, Name: wt.Target})] = struct{}{}
			continue
		}
		keep[watchKeyOf(id, wt.Mapping, wt.Namespace)] = struct{}{}
		keep[existsKeyOf(id, wt.Mapping, wt.Namespace)] = struct{}{}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for key := range w.byPlan[plan] {
		if _, ok := keep[key]; !ok {
			w.drop(key, plan)
			delete(w.byPlan[plan], key)
		}
	}
}

// resources lists, for tests, the resources with an informer of the plans'
// objects running for namespace (existence watches aside).
func (w *watcher) resources(namespace string) []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []string
	for key, wt := range w.watches {
		if wt.stop != nil && key.namespace == namespace && !key.all {
			out = append(out, key.resource.Resource)
		}
	}
	return out
}

// running is the number of informers of the plans' objects running for
// namespace (existence watches aside), for tests: counting one namespace's
// keeps a test blind to the Plans of others.
func (w *watcher) running(namespace string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for key, wt := range w.watches {
		if wt.stop != nil && key.namespace == namespace && !key.all {
			n++
		}
	}
	return n
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

// valuesChanged reports any change of an object whose values other tasks
// read (ValuesReadAnnotation): a status change is one too.
func valuesChanged(o, n metav1.Object) bool {
	return n.GetAnnotations()[ValuesReadAnnotation] != "" && n.GetResourceVersion() != o.GetResourceVersion()
}

// wake enqueues the Plan named by the object's PlanAnnotation, or the
// instance of the watcher's kind it names.
func (w *watcher) wake(obj metav1.Object) {
	ns, name, ok := strings.Cut(obj.GetAnnotations()[PlanAnnotation], "/")
	if !ok || obj.GetAnnotations()[planrun.InstanceKindAnnotation] != w.kind {
		return
	}
	w.mu.Lock()
	ctx := w.ctx
	w.mu.Unlock()
	w.enqueue(ctx, types.NamespacedName{Namespace: ns, Name: name})
}

// enqueue asks for a reconcile of plan; false when ctx is done first.
func (w *watcher) enqueue(ctx context.Context, plan types.NamespacedName) bool {
	select {
	case w.events <- event.GenericEvent{Object: &execloopv1alpha1.Plan{ObjectMeta: metav1.ObjectMeta{Namespace: plan.Namespace, Name: plan.Name}}}:
		return true
	case <-ctx.Done():
		return false
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
