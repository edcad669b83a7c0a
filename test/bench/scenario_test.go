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

package bench

import (
	"context"
	"errors"
	"fmt"
	"maps"
	goruntime "runtime"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	ctrl "sigs.k8s.io/controller-runtime"
	crcache "sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	execloopv1alpha1 "github.com/execloop/execloop/api/v1alpha1"
	"github.com/execloop/execloop/controllers"
)

// The controllers compared.
const (
	execloopKind    = "execloop"
	handwrittenKind = "hand-written, plain"
	// The hand-written reconciler that does what a Plan does (equalWork).
	equalWorkKind = "hand-written, equal work"
	blockingKind  = "blocking Run"
	// The operator with a PlanDefinition served (definition_test.go),
	// converging Plans, or the definition's instances.
	servedPlansKind = "execloop Plans, a definition served"
	instancesKind   = "execloop instances of a PlanDefinition"
)

// scenario is one measured run: a controller converging plans.
type scenario struct {
	controller string
	plans      int
	workers    int
	waits      bool // the middle ConfigMap must be ready (readyDelay after it appears) before the last
	expression bool // the last ConfigMap takes a value from the first's live object, with an expression
	keep       bool // leave the converged plans in place, for the caller to clean
	heap       bool // measure the heap the manager holds once they converged
	// objects, when not 0, replaces the three chained ConfigMaps by that
	// many independent ones: in one task with forEach, or in as many tasks
	// (fanPlan).
	objects int
	forEach bool
}

func (s scenario) String() string {
	w := ""
	if s.waits {
		w = ", readiness waits"
	}
	if s.expression {
		w += ", one expression"
	}
	switch {
	case s.objects > 0 && s.forEach:
		w += fmt.Sprintf(", one task over %d items", s.objects)
	case s.objects > 0:
		w += fmt.Sprintf(", %d tasks", s.objects)
	}
	return fmt.Sprintf("%s, N=%d, %d workers%s", s.controller, s.plans, s.workers, w)
}

// readyDelay is how long after a ConfigMap appears the simulator marks it
// ready: about what a small Deployment takes to become available.
const readyDelay = time.Second

// outcome is what a scenario measured.
type outcome struct {
	scenario
	elapsed      time.Duration // from the first create until every plan is Ready
	verbs        map[string]int
	statusWrites int
	reconciles   float64
	namespace    string
	// CPU used while the scenario ran, by the API server, etcd and this
	// process (the controller, with the harness's creators and watch);
	// cpuKnown is false where the control plane's could not be read.
	cpuAPIServer, cpuEtcd, cpuSelf time.Duration
	cpuKnown                       bool
	// With heap, what the heap grew by (HeapAlloc after a GC): from before
	// the manager started until its controller served, managerHeap; from
	// then, the first create, until the plans converged and the requests
	// settled, with the harness's own watch stopped, heldHeap: what the
	// manager holds for them.
	managerHeap, heldHeap int64
}

func (o outcome) perPlan(n int) float64 { return float64(n) / float64(o.plans) }

// millisPerPlan is d in milliseconds per plan of the scenario.
func (o outcome) millisPerPlan(d time.Duration) string {
	return fmt.Sprintf("%.1f", d.Seconds()*1000/float64(o.plans))
}

// cpuAll is the CPU the API server, etcd and this process used together.
func (o outcome) cpuAll() time.Duration { return o.cpuAPIServer + o.cpuEtcd + o.cpuSelf }

// cpuPerPlan reads "API server / etcd / this process" in milliseconds of CPU
// per plan.
func (o outcome) cpuPerPlan() string {
	if !o.cpuKnown {
		return "n/a / n/a / " + o.millisPerPlan(o.cpuSelf) + " ms"
	}
	return o.millisPerPlan(o.cpuAPIServer) + " / " + o.millisPerPlan(o.cpuEtcd) + " / " + o.millisPerPlan(o.cpuSelf) + " ms"
}

// running is a manager started for a scenario.
type running struct {
	mgr        ctrl.Manager
	requests   *requests
	controller string
	stop       func()
}

// startController runs a manager that sees only namespace ns, with the
// scenario's controller.
func startController(t testing.TB, ns string, s scenario, resync time.Duration) *running {
	t.Helper()
	reqs := newRequests()
	mgr, err := ctrl.NewManager(reqs.config(), ctrl.Options{
		Scheme:                 scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Cache: crcache.Options{
			DefaultNamespaces: map[string]crcache.Config{ns: {}},
			DefaultTransform:  crcache.TransformStripManagedFields(),
		},
		Controller: config.Controller{SkipNameValidation: ptr(true)},
	})
	if err != nil {
		t.Fatal(err)
	}
	var name string
	switch s.controller {
	case execloopKind:
		name, err = setupExecloop(mgr, s.workers, resync)
	case handwrittenKind:
		name, err = setupHandwritten(mgr, s.workers)
	case equalWorkKind:
		name, err = setupEqualWork(mgr, s.workers)
	case blockingKind:
		name, err = setupBlocking(mgr, s.workers, s.waits)
	case servedPlansKind, instancesKind:
		name, err = setupDefinitions(mgr, s.workers, s.controller == instancesKind)
	}
	if err != nil {
		t.Fatal(err)
	}
	defined := reconciles(controllers.DefinitionControllerName)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	if !mgr.GetCache().WaitForCacheSync(ctx) {
		t.Fatal("the manager's cache did not sync")
	}
	if s.controller == servedPlansKind || s.controller == instancesKind {
		awaitDefinition(t, mgr, defined)
	}
	return &running{mgr: mgr, requests: reqs, controller: name, stop: func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("manager: %v", err)
		}
	}}
}

func ptr[T any](v T) *T { return &v }

// execloopNamespace labels the namespaces of execloop's Plans, and of the
// equal-work baseline's: the install's finalizer policy is bound to them
// alone, so that the plain baselines' Plans are admitted as in a cluster
// without execloop.
const execloopNamespace = "bench.execloop.dev/execloop"

// newNamespace makes a namespace for one scenario, labelled
// execloopNamespace when its Plans get the cleanup finalizer.
func newNamespace(t testing.TB, finalized bool) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "bench-"}}
	if finalized {
		ns.Labels = map[string]string{execloopNamespace: "true"}
	}
	if err := k8sClient.Create(context.Background(), ns); err != nil {
		t.Fatal(err)
	}
	return ns.Name
}

// clean deletes what a scenario left in namespace ns: its plans, the
// ConfigMaps they made and its events. envtest runs no namespace or garbage
// collector, so without it every scenario would meet the objects of all the
// scenarios before it, and the second of a pair would pay for the first's.
// No controller runs any more to honour the plans' finalizers: they are
// dropped first.
func clean(t testing.TB, ns string) {
	t.Helper()
	started := time.Now()
	defer func() { t.Logf("cleaned %s in %s", ns, time.Since(started).Round(time.Millisecond)) }()
	ctx := context.Background()
	list := &execloopv1alpha1.PlanList{}
	if err := k8sClient.List(ctx, list, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	dropFinalizers(t, len(list.Items), func(i int) client.Object { return &list.Items[i] })
	for _, kind := range []client.Object{&execloopv1alpha1.Plan{}, &corev1.ConfigMap{}, &corev1.Event{}} {
		deleteAll(t, ns, kind)
	}
}

// deleteAll deletes the objects of obj's kind in ns. Deleting thousands
// can outlast the API server's request timeout on a busy machine (3,000
// plans took over 4 minutes once): what it deleted stays deleted, and the
// request is sent again, three times at most.
func deleteAll(t testing.TB, ns string, obj client.Object) {
	t.Helper()
	var err error
	for range 3 {
		if err = k8sClient.DeleteAllOf(context.Background(), obj, client.InNamespace(ns)); err == nil {
			return
		}
	}
	t.Fatalf("deleting the %T objects of %s: %v", obj, ns, err)
}

// dropFinalizers removes the finalizers of the n objects at(i), from 16
// goroutines.
func dropFinalizers(t testing.TB, n int, at func(int) client.Object) {
	t.Helper()
	ctx := context.Background()
	errs := make([]error, n)
	workqueue.ParallelizeUntil(ctx, 16, n, func(i int) {
		obj := at(i)
		if len(obj.GetFinalizers()) == 0 {
			return
		}
		err := k8sClient.Patch(ctx, obj, client.RawPatch(types.MergePatchType, []byte(`{"metadata":{"finalizers":null}}`)))
		if err != nil && !apierrors.IsNotFound(err) {
			errs[i] = err
		}
	})
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
}

// createPlans creates the scenario's plans at once, from 16 goroutines.
func createPlans(t testing.TB, ns string, s scenario) {
	t.Helper()
	errs := make([]error, s.plans)
	workqueue.ParallelizeUntil(context.Background(), 16, s.plans, func(i int) {
		name := fmt.Sprintf("p-%05d", i)
		p := benchPlan(ns, name, s.waits, s.expression)
		if s.objects > 0 {
			p = fanPlan(ns, name, s.objects, s.forEach)
		}
		errs[i] = k8sClient.Create(context.Background(), p)
	})
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
}

// readyWatch counts the Ready plans of a namespace from an informer, so
// that waiting for them puts no load on the API server beyond one watch.
type readyWatch struct {
	informer cache.SharedIndexInformer
	cancel   context.CancelFunc
	done     chan struct{} // closed when the informer stopped
}

// watchReady watches the Plans of ns, or with instances the instances of
// the bench's definition, each held as a Plan (instanceAsPlan).
func watchReady(t testing.TB, ns string, instances bool) *readyWatch {
	t.Helper()
	newList := func() client.ObjectList { return &execloopv1alpha1.PlanList{} }
	var example runtime.Object = &execloopv1alpha1.Plan{}
	if instances {
		newList = func() client.ObjectList { return newInstanceList() }
		example = newInstance()
	}
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, _ metav1.ListOptions) (runtime.Object, error) {
			list := newList()
			return list, k8sClient.List(ctx, list, client.InNamespace(ns))
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			return k8sWatcher.Watch(ctx, newList(), client.InNamespace(ns), &client.ListOptions{Raw: &o})
		},
	}
	informer := cache.NewSharedIndexInformer(lw, example, 0, cache.Indexers{})
	if instances {
		if err := informer.SetTransform(instanceAsPlan); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	w := &readyWatch{informer: informer, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(w.done)
		informer.RunWithContext(ctx)
	}()
	if !cache.WaitForCacheSync(ctx.Done(), informer.HasSynced) {
		t.Fatal("the harness's informer did not sync")
	}
	return w
}

// stop stops the informer and waits until it has, so that what it held
// can be collected.
func (w *readyWatch) stop() {
	w.cancel()
	<-w.done
}

// waitAll returns when n plans are Ready.
func (w *readyWatch) waitAll(t testing.TB, n int, limit time.Duration) time.Time {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		ready := 0
		for _, obj := range w.informer.GetStore().List() {
			p := obj.(*execloopv1alpha1.Plan)
			if p.Status.IsReady(p.Generation) {
				ready++
			}
		}
		if ready == n {
			return time.Now()
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d plans Ready after %s", ready, n, limit)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// converge runs a scenario from the creation of its plans until all are
// Ready, in a namespace of its own.
func converge(t testing.TB, s scenario) outcome {
	t.Helper()
	instances := s.controller == instancesKind
	ns := newNamespace(t, s.controller != handwrittenKind && s.controller != blockingKind)
	if !s.keep {
		defer clean(t, ns) // after the manager stopped: no controller may act on the deletions
		if instances {
			defer cleanInstances(t, ns) // before clean, which leaves them
		}
	}
	quiesce(t)
	var heap0, heap1 int64
	if s.heap {
		heap0 = int64(heap())
	}
	r := startController(t, ns, s, 0)
	defer r.stop()
	if s.waits {
		stopSimulator := simulateReadiness(t, ns)
		defer stopSimulator()
	}
	ready := watchReady(t, ns, instances)
	defer ready.stop()
	if s.heap {
		heap1 = int64(heap())
	}
	before := reconciles(r.controller)
	apiserver0, etcd0, known0 := controlPlaneCPU()
	self0 := cpuTime()
	start := time.Now()
	if instances {
		createInstances(t, ns, s.plans)
	} else {
		createPlans(t, ns, s)
	}
	end := ready.waitAll(t, s.plans, 15*time.Minute)
	apiserver1, etcd1, known1 := controlPlaneCPU()
	self1 := cpuTime()
	verbs, statusWrites, reconciled := r.settled(t, s.plans, before)
	o := outcome{scenario: s, elapsed: end.Sub(start), verbs: verbs, statusWrites: statusWrites,
		reconciles: reconciled, namespace: ns,
		cpuAPIServer: apiserver1 - apiserver0, cpuEtcd: etcd1 - etcd0, cpuSelf: self1 - self0, cpuKnown: known0 && known1}
	if s.heap {
		ready.stop()
		if err := ready.informer.GetStore().Replace(nil, ""); err != nil { // the harness's copies of the plans
			t.Fatal(err)
		}
		o.managerHeap, o.heldHeap = heap1-heap0, int64(heap())-heap1
	}
	t.Logf("%s: %s; requests: %s; writes/plan %.2f; status writes/plan %.2f; reconciles/plan %.2f; CPU/plan %s",
		s, o.elapsed.Round(time.Millisecond), formatVerbs(verbs), o.perPlan(writes(verbs)), o.perPlan(statusWrites), o.reconciles/float64(s.plans), o.cpuPerPlan())
	return o
}

// settled returns the requests and the reconciles the controller made for
// the scenario's plans once it is done with them. A plan is Ready once its
// status is written, before the reconcile that wrote it returns and is
// counted, and before the event it then emits is sent (by the event
// broadcaster, on a goroutine of its own): counted at once, the last plans'
// events and reconciles could be missing. It waits until every plan was
// reconciled and the counts held still for a fifth of a second, at most
// ten seconds.
func (r *running) settled(t testing.TB, plans int, reconcilesBefore float64) (verbs map[string]int, statusWrites int, reconciled float64) {
	t.Helper()
	verbs, statusWrites = r.requests.snapshot()
	deadline, still := time.Now().Add(10*time.Second), 0
	for still < 2 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
		now, nowStatus := r.requests.snapshot()
		reconciled = reconciles(r.controller) - reconcilesBefore
		if reconciled >= float64(plans) && maps.Equal(now, verbs) && nowStatus == statusWrites {
			still++
		} else {
			still = 0
		}
		verbs, statusWrites = now, nowStatus
	}
	if still < 2 {
		t.Logf("%s: the requests and reconciles did not settle in 10 s after the plans were Ready", r.controller)
	}
	return verbs, statusWrites, reconciled
}

// quiesce returns once the control plane is idle: its API server and etcd
// used less than a tenth of a CPU over a fifth of a second, or after 15 s.
// What a scenario leaves the API server to finish (its garbage, the
// deletions of its clean-up) is then not paid by the next one; nor is this
// process's garbage (the caches of the managers before), collected first.
func quiesce(t testing.TB) {
	t.Helper()
	goruntime.GC()
	const window, idle = 200 * time.Millisecond, 20 * time.Millisecond
	started := time.Now()
	for time.Since(started) < 15*time.Second {
		a0, e0, ok0 := controlPlaneCPU()
		time.Sleep(window)
		a1, e1, ok1 := controlPlaneCPU()
		if !ok0 || !ok1 || (a1-a0)+(e1-e0) < idle {
			break
		}
	}
	if waited := time.Since(started); waited > time.Second {
		t.Logf("the control plane was busy for %s before the scenario", waited.Round(100*time.Millisecond))
	}
}

// simulateReadiness marks the ConfigMaps that stand for workloads (the
// middle task's) ready with an annotation, readyDelay after they appear:
// what a workload's own controller would do.
func simulateReadiness(t testing.TB, ns string) (stop func()) {
	t.Helper()
	cs := kubernetes.NewForConfigOrDie(fastConfig())
	queue := workqueue.NewTypedDelayingQueue[types.NamespacedName]()
	factory := cache.NewSharedIndexInformer(
		cache.NewListWatchFromClient(cs.CoreV1().RESTClient(), "configmaps", ns, fields.Everything()),
		&corev1.ConfigMap{}, 0, cache.Indexers{})
	_, _ = factory.AddEventHandler(cache.ResourceEventHandlerFuncs{AddFunc: func(obj any) {
		cm := obj.(*corev1.ConfigMap)
		if waitsFor(cm.Name[len(cm.Name)-1:]) && cm.Annotations[readyAnnotation] == "" {
			queue.AddAfter(types.NamespacedName{Namespace: cm.Namespace, Name: cm.Name}, readyDelay)
		}
	}})
	ctx, cancel := context.WithCancel(context.Background())
	go factory.RunWithContext(ctx)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				key, shutdown := queue.Get()
				if shutdown {
					return
				}
				patch := []byte(fmt.Sprintf(`{"metadata":{"annotations":{%q:"true"}}}`, readyAnnotation))
				_, err := cs.CoreV1().ConfigMaps(key.Namespace).Patch(ctx, key.Name, types.MergePatchType, patch, metav1.PatchOptions{})
				if err != nil && ctx.Err() == nil {
					queue.AddAfter(key, readyDelay)
				}
				queue.Done(key)
			}
		}()
	}
	return func() {
		cancel()
		queue.ShutDown()
		wg.Wait()
	}
}
