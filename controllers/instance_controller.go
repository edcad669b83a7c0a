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
	"maps"
	"sync"
	"sync/atomic"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/source"

	execloopv1alpha1 "github.com/execloop/execloop/api/v1alpha1"
	"github.com/execloop/execloop/execloop/executor"
	"github.com/execloop/execloop/execloop/reconciler"
	"github.com/execloop/execloop/internal/planrun"
)

// reconvergeInterval paces the passes a template change brings: one
// instance every reconvergeInterval, so that a definition with thousands of
// instances does not send them all to the API server at once.
const reconvergeInterval = 100 * time.Millisecond

// instanceController reconciles the instances of one PlanDefinition's kind,
// each as a Plan whose tasks are the definition's (docs/design.md): the Plan
// reconciler's machinery (reconciler.Reconciler[*Plan]) drives each
// instance seen as a Plan (instance_client.go), and the objects it applies
// are watched for drift by a watcher of its own, which wakes only instances
// of its kind. It runs from start until stop, outside the manager, for as
// long as its definition is served.
type instanceController struct {
	gvk      schema.GroupVersionKind
	plans    *PlanReconciler // the identities and defaults, shared with Plans
	cache    cache.Cache     // where the instances are read and listed
	recorder events.EventRecorder
	def      atomic.Pointer[planrun.Definition]
	// generation is the definition's generation def was compiled from.
	generation atomic.Int64
	instances  *reconciler.Reconciler[*execloopv1alpha1.Plan]
	watcher    *watcher

	ctx    context.Context // the controller's: done once it stops
	cancel context.CancelFunc
	done   chan struct{}

	mu   sync.Mutex
	seen map[types.NamespacedName]*instanceState // the instances being reconciled
}

// instanceState is what the controller keeps of an instance between the
// steps of one reconcile (Reconcile forgets it at the end).
type instanceState struct {
	spec   map[string]any // its spec, as last read
	run    *planrun.Run   // its last pass; nil during its cleanup
	gen    int64          // the definition's generation of run
	values map[string]any // the declared fields as run gives them; nil until evaluated
	fields map[string]any // its declared status fields and definitionGeneration, as last read or written
}

// definitionGeneration is the field of an instance's status that holds
// the generation of the definition its last pass ran: the definition
// counts an instance Ready with its current plan only once it is that.
const definitionGeneration = "definitionGeneration"

// startInstances starts the controller of def's kind, with its compiled
// plan, until ctx is done or stop is called.
func startInstances(ctx context.Context, mgr ctrl.Manager, plans *PlanReconciler, def *execloopv1alpha1.PlanDefinition, compiled *planrun.Definition) (*instanceController, error) {
	api := def.Spec.API
	ic := &instanceController{
		gvk:   schema.GroupVersionKind{Group: api.Group, Version: api.Version, Kind: api.Kind},
		plans: plans, cache: mgr.GetCache(), recorder: mgr.GetEventRecorder(def.Name),
		done: make(chan struct{}), seen: map[types.NamespacedName]*instanceState{},
	}
	ic.def.Store(compiled)
	ic.generation.Store(def.Generation)
	log := mgr.GetLogger().WithName("instances").WithValues("kind", ic.gvk.GroupKind().String())
	ic.watcher = newWatcher(log.WithName("watcher"), ic.gvk.GroupKind().String())
	ic.instances = &reconciler.Reconciler[*execloopv1alpha1.Plan]{
		Name:            def.Name,
		Client:          instanceClient{Client: mgr.GetClient(), cache: instanceReader{Reader: mgr.GetCache(), ic: ic}},
		APIReader:       instanceReader{Reader: mgr.GetAPIReader(), ic: ic},
		Recorder:        ic.recorder,
		TracerProvider:  plans.TracerProvider,
		ResyncInterval:  plans.ResyncInterval,
		Options:         plans.Defaults,
		OptionsFor:      planOptions,
		MaxBackoff:      plans.MaxBackoff,
		RetryStalled:    plans.StalledRetryInterval,
		RetryStalledFor: plans.retryStalledFor,
		Suspended:       func(p *execloopv1alpha1.Plan) bool { return p.Spec.Suspend },
		Plan:            ic.planFor,
		Cleanup:         ic.cleanupFor,
	}
	c, err := controller.NewUnmanaged(def.Name, controller.Options{
		Reconciler:              ic,
		MaxConcurrentReconciles: plans.MaxConcurrentReconciles,
		Logger:                  log,
		// A definition deleted and made again gets a controller of the
		// same name.
		SkipNameValidation: ptr.To(true),
	})
	if err != nil {
		return nil, err
	}
	if err := c.Watch(source.Kind(mgr.GetCache(), client.Object(ic.newInstance()), &handler.EnqueueRequestForObject{}, reconciler.Predicates())); err != nil {
		return nil, err
	}
	if err := c.Watch(source.Channel(ic.watcher.events, &handler.EnqueueRequestForObject{})); err != nil {
		return nil, err
	}
	ic.ctx, ic.cancel = context.WithCancel(ctx)
	ctx = ic.ctx
	go func() { _ = ic.watcher.Start(ctx) }()
	go func() {
		defer close(ic.done)
		if err := c.Start(ctx); err != nil {
			log.Error(err, "The controller of the instances stopped")
		}
	}()
	return ic, nil
}

// stop stops the controller and its informers, and waits until its
// reconciles are over.
func (ic *instanceController) stop(ctx context.Context) {
	ic.cancel()
	<-ic.done
	if err := ic.cache.RemoveInformer(ctx, ic.newInstance()); err != nil {
		logf.FromContext(ctx).Error(err, "Stopping the informer of the instances", "kind", ic.gvk.GroupKind().String())
	}
}

// update gives the controller the plan of the definition's generation,
// and, when it changed, passes every instance again, one each
// reconvergeInterval, until the controller stops.
func (ic *instanceController) update(generation int64, compiled *planrun.Definition) {
	ctx := ic.ctx
	if ic.generation.Load() == generation {
		return
	}
	ic.def.Store(compiled)
	ic.generation.Store(generation)
	keys, err := ic.list(ctx)
	if err != nil {
		logf.FromContext(ctx).Error(err, "Listing the instances to pass them again")
		return
	}
	go func() {
		tick := time.NewTicker(reconvergeInterval)
		defer tick.Stop()
		for _, key := range keys {
			if !ic.watcher.enqueue(ctx, key) {
				return
			}
			select {
			case <-tick.C:
			case <-ctx.Done():
				return
			}
		}
	}()
}

// newInstance is an empty instance of the controller's kind.
func (ic *instanceController) newInstance() *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(ic.gvk)
	return u
}

// list lists the instances, from the cache.
func (ic *instanceController) list(ctx context.Context) ([]types.NamespacedName, error) {
	items, err := ic.items(ctx)
	if err != nil {
		return nil, err
	}
	keys := make([]types.NamespacedName, len(items))
	for i := range items {
		keys[i] = client.ObjectKeyFromObject(&items[i])
	}
	return keys, nil
}

// items are the instances, from the cache.
func (ic *instanceController) items(ctx context.Context) ([]unstructured.Unstructured, error) {
	l := &unstructured.UnstructuredList{}
	l.SetGroupVersionKind(ic.gvk.GroupVersion().WithKind(ic.gvk.Kind + "List"))
	if err := ic.cache.List(ctx, l); err != nil {
		return nil, err
	}
	return l.Items, nil
}

// Reconcile runs one pass of an instance, as of a Plan, then writes its
// declared status fields when the pass changed their values and wrote
// nothing itself. What it kept of the instance for the pass goes with it.
// Once the instance is gone, the watches that served only it stop.
func (ic *instanceController) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	defer ic.forget(req.NamespacedName)
	res, err := ic.instances.Reconcile(ctx, req)
	if err != nil {
		return res, err
	}
	if fields := ic.changedFields(ctx, req.NamespacedName); len(fields) > 0 {
		u := ic.newInstance()
		u.SetNamespace(req.Namespace)
		u.SetName(req.Name)
		patch, err := instancePatch([]byte("{}"), fields)
		if err != nil {
			return res, err
		}
		if err := ic.instances.Client.Status().Patch(ctx, u, client.RawPatch(types.MergePatchType, patch)); err != nil {
			return res, client.IgnoreNotFound(err)
		}
	}
	if res.IsZero() && apierrors.IsNotFound(ic.cache.Get(ctx, req.NamespacedName, ic.newInstance())) {
		ic.watcher.release(req.NamespacedName)
	}
	return res, nil
}

// forget drops what the controller kept of the instance at key for a
// reconcile: its spec, its last pass and its status fields, which the
// next reconcile reads again.
func (ic *instanceController) forget(key types.NamespacedName) {
	ic.mu.Lock()
	defer ic.mu.Unlock()
	delete(ic.seen, key)
}

// state is what the controller keeps of the instance at key.
func (ic *instanceController) state(key types.NamespacedName) *instanceState {
	ic.mu.Lock()
	defer ic.mu.Unlock()
	st := ic.seen[key]
	if st == nil {
		st = &instanceState{}
		ic.seen[key] = st
	}
	return st
}

// asPlan fills p with the instance u seen as a Plan, and keeps its spec
// for the pass and its declared status fields for their next write.
func (ic *instanceController) asPlan(u *unstructured.Unstructured, p *execloopv1alpha1.Plan) error {
	view, err := ic.def.Load().AsPlan(u)
	if err != nil {
		return err
	}
	*p = *view
	spec, _ := u.Object["spec"].(map[string]any)
	ic.wrote(u)
	st := ic.state(client.ObjectKeyFromObject(u))
	ic.mu.Lock()
	st.spec = spec
	ic.mu.Unlock()
	return nil
}

// wrote keeps the declared status fields of u, as the API server holds
// them.
func (ic *instanceController) wrote(u *unstructured.Unstructured) {
	status, _ := u.Object["status"].(map[string]any)
	fields := map[string]any{}
	for _, name := range append(ic.def.Load().StatusFields(), definitionGeneration) {
		if v, ok := status[name]; ok {
			fields[name] = v
		}
	}
	st := ic.state(client.ObjectKeyFromObject(u))
	ic.mu.Lock()
	st.fields = fields
	ic.mu.Unlock()
}

// changedFields are the declared status fields of the instance at key
// whose values, as its last pass evaluates them, are not those it holds.
func (ic *instanceController) changedFields(ctx context.Context, key types.NamespacedName) map[string]any {
	st := ic.state(key)
	ic.mu.Lock()
	run, values, held := st.run, st.values, maps.Clone(st.fields)
	ic.mu.Unlock()
	if run == nil {
		return nil
	}
	if values == nil { // once per pass: the status write and Reconcile both ask
		values = ic.evaluate(ctx, run)
		ic.mu.Lock()
		values[definitionGeneration] = st.gen
		st.values = values
		ic.mu.Unlock()
	}
	changed := map[string]any{}
	for name, v := range values {
		if old, ok := held[name]; !ok || !equality.Semantic.DeepEqual(old, v) {
			changed[name] = v
		}
	}
	return changed
}

// evaluate is the declared status fields as run gives them, logging those
// it cannot evaluate and those left unset as computed from a Secret.
func (ic *instanceController) evaluate(ctx context.Context, run *planrun.Run) map[string]any {
	values, secret, err := ic.def.Load().StatusValues(ctx, run)
	if err != nil {
		logf.FromContext(ctx).Error(err, "Evaluating the declared status fields")
	}
	if len(secret) > 0 {
		logf.FromContext(ctx).Info("Status fields left unset: their values come from a Secret", "fields", secret)
	}
	return values
}

// planFor is the plan factory of instances: the definition's plan compiled
// for the instance seen as p, as the instance's identity.
func (ic *instanceController) planFor(_ context.Context, p *execloopv1alpha1.Plan) (executor.Plan, error) {
	st := ic.state(client.ObjectKeyFromObject(p))
	ic.mu.Lock()
	spec := st.spec
	ic.mu.Unlock()
	id, err := ic.plans.identities.ForPlan(p, ic.plans.DefaultServiceAccount)
	if err != nil {
		return nil, err
	}
	gen := ic.generation.Load()
	run, err := ic.def.Load().CompilePlan(p, spec, id, ic.plans.identities.Mapper())
	if err != nil {
		return nil, err
	}
	run.Watches = ic.watcher
	run.Recorder = ic.recorder
	ic.mu.Lock()
	st.run, st.gen, st.values = run, gen, nil
	ic.mu.Unlock()
	return run, nil
}

// cleanupFor is the cleanup plan factory of instances: as a Plan's
// (PlanReconciler.cleanup).
func (ic *instanceController) cleanupFor(ctx context.Context, p *execloopv1alpha1.Plan) (executor.Plan, error) {
	st := ic.state(client.ObjectKeyFromObject(p))
	ic.mu.Lock()
	st.run = nil
	ic.mu.Unlock()
	return ic.plans.cleanup(ctx, p, ic.recorder)
}

// describe names an instance seen as p in messages: "WebApp ns/name".
func describe(p *execloopv1alpha1.Plan) string {
	kind := "Plan"
	if planrun.InstanceKind(p) != "" {
		kind = p.Kind
	}
	if p.Namespace == "" {
		return fmt.Sprintf("%s %s", kind, p.Name)
	}
	return fmt.Sprintf("%s %s/%s", kind, p.Namespace, p.Name)
}
