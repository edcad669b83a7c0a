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
	"encoding/json"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	execloopv1alpha1 "github.com/execloop/execloop/api/v1alpha1"
	"github.com/execloop/execloop/controllers"
	"github.com/execloop/execloop/execloop"
	"github.com/execloop/execloop/execloop/executor"
	"github.com/execloop/execloop/execloop/reconciler"
	"github.com/execloop/execloop/execloop/reconciler/status"
)

// The annotation the readiness simulator sets on ConfigMaps some time after
// they appear: a stand-in for a workload becoming ready.
const readyAnnotation = "bench.execloop.dev/ready"

// benchPlan is the plan every controller converges: three ConfigMaps, each
// after the one before. With waits it is shaped like the sample (a
// configuration, a workload, a Service): the middle one must also be ready,
// which takes readyDelay, before the last is applied. With expression, the
// last one carries a value of the first's live object, read with an
// expression (the baselines, which compile no expressions, use the value
// it resolves to).
func waitsFor(step string) bool { return step == "b" }

func benchPlan(ns, name string, waits, expression bool) *execloopv1alpha1.Plan {
	p := &execloopv1alpha1.Plan{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	prev := ""
	for _, step := range []string{"a", "b", "c"} {
		data := map[string]any{"step": step}
		if expression && step == "c" {
			data["first"] = "${tasks.a.object.data.step}"
		}
		manifest, _ := json.Marshal(map[string]any{
			"apiVersion": "v1", "kind": "ConfigMap",
			"metadata": map[string]any{"name": name + "-" + step},
			"data":     data,
		})
		t := execloopv1alpha1.PlanTask{Name: step, Apply: &runtime.RawExtension{Raw: manifest}}
		if prev != "" {
			t.After = []string{prev}
		}
		if waits && waitsFor(step) {
			t.ReadyWhen = fmt.Sprintf("has(object.metadata.annotations) && '%s' in object.metadata.annotations", readyAnnotation)
		}
		p.Spec.Tasks = append(p.Spec.Tasks, t)
		prev = step
	}
	return p
}

// manifests returns the ConfigMaps of a plan's tasks, in the plan's namespace.
func manifests(p *execloopv1alpha1.Plan) []*unstructured.Unstructured {
	out := make([]*unstructured.Unstructured, len(p.Spec.Tasks))
	for i, t := range p.Spec.Tasks {
		u := &unstructured.Unstructured{}
		_ = json.Unmarshal(t.Apply.Raw, &u.Object)
		u.SetNamespace(p.Namespace)
		if _, ok, _ := unstructured.NestedString(u.Object, "data", "first"); ok {
			_ = unstructured.SetNestedField(u.Object, "a", "data", "first") // what the expression resolves to
		}
		out[i] = u
	}
	return out
}

// markReady records Ready=True the way the Plan controller does, so the
// harness waits for every controller the same way.
func markReady(p *execloopv1alpha1.Plan) {
	p.Status.ObservedGeneration = p.Generation
	meta.SetStatusCondition(&p.Status.Conditions, metav1.Condition{
		Type: status.ConditionReady, Status: metav1.ConditionTrue, Reason: status.ReasonSucceeded,
		Message: "done", ObservedGeneration: p.Generation,
	})
}

// setupExecloop registers the Plan controller, as the operator runs it.
func setupExecloop(mgr ctrl.Manager, workers int, resync time.Duration) (string, error) {
	return controllers.ControllerName, newPlanReconciler(workers, resync).SetupWithManager(mgr)
}

// newPlanReconciler is the Plan controller of every execloop scenario.
func newPlanReconciler(workers int, resync time.Duration) *controllers.PlanReconciler {
	return &controllers.PlanReconciler{
		Defaults:                execloop.Options{SleepBetweenRuns: 100 * time.Millisecond, ErrorsToTolerate: 5},
		MaxConcurrentReconciles: workers,
		ResyncInterval:          resync,
	}
}

// handwritten is the plain baseline: it creates the three ConfigMaps in
// order and marks the plan ready, in one reconcile. It does less than a
// Plan does, and is kept for reference beside the equal-work baseline.
type handwritten struct {
	client.Client
}

func (h *handwritten) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	p := &execloopv1alpha1.Plan{}
	if err := h.Get(ctx, req.NamespacedName, p); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if p.Status.IsReady(p.Generation) {
		return ctrl.Result{}, nil
	}
	for _, cm := range manifests(p) {
		if err := h.Create(ctx, cm); err != nil && !apierrors.IsAlreadyExists(err) {
			return ctrl.Result{}, err
		}
	}
	markReady(p)
	return ctrl.Result{}, h.Status().Update(ctx, p)
}

func setupHandwritten(mgr ctrl.Manager, workers int) (string, error) {
	return "handwritten", ctrl.NewControllerManagedBy(mgr).Named("handwritten").
		For(&execloopv1alpha1.Plan{}, builder.WithPredicates(reconciler.Predicates())).
		WithOptions(controller.Options{MaxConcurrentReconciles: workers}).
		Complete(&handwritten{Client: mgr.GetClient()})
}

// equalWork is the baseline that does what a Plan does for the same three
// chained ConfigMaps, written the way a competent author would without a
// framework:
//   - each ConfigMap server-side applied, in order, with the labels,
//     annotation and owner reference the Plan controller gives it;
//   - a status with kstatus conditions, phase, progress and an inventory of
//     the three objects, in one patch;
//   - the finalizer honoured: the admission policy config/default ships
//     gives new Plans the cleanup finalizer, in its namespaces as in
//     execloop's, and a deleted plan has it removed (the owner references
//     leave the ConfigMaps to the garbage collector);
//   - one event when the plan becomes ready;
//   - a watch of the ConfigMaps it applied, for drift: a change of one
//     applies the plan again. Their creation, its own doing, is ignored.
//
// It is level-based: every reconcile applies all three (a no-op when
// nothing drifted) and writes the status only when it changed.
type equalWork struct {
	client.Client
	recorder events.EventRecorder
}

const equalWorkManager = "equal-work"

func (e *equalWork) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	p := &execloopv1alpha1.Plan{}
	if err := e.Get(ctx, req.NamespacedName, p); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !p.DeletionTimestamp.IsZero() {
		if !controllerutil.ContainsFinalizer(p, reconciler.DefaultFinalizer) {
			return ctrl.Result{}, nil
		}
		patch := client.MergeFromWithOptions(p.DeepCopy(), client.MergeFromWithOptimisticLock{})
		controllerutil.RemoveFinalizer(p, reconciler.DefaultFinalizer)
		return ctrl.Result{}, client.IgnoreNotFound(e.Patch(ctx, p, patch))
	}
	base := p.DeepCopy()
	wasReady := p.Status.IsReady(p.Generation)
	owner := metav1.OwnerReference{
		APIVersion: execloopv1alpha1.GroupVersion.String(), Kind: "Plan", Name: p.Name, UID: p.UID,
		BlockOwnerDeletion: ptr(false),
	}
	var objects []execloopv1alpha1.AppliedObject
	for i, cm := range manifests(p) {
		cm.SetLabels(map[string]string{controllers.PlanUIDLabel: string(p.UID)})
		cm.SetAnnotations(map[string]string{controllers.PlanAnnotation: p.Namespace + "/" + p.Name})
		cm.SetOwnerReferences([]metav1.OwnerReference{owner})
		err := e.Apply(ctx, client.ApplyConfigurationFromUnstructured(cm), client.FieldOwner(equalWorkManager), client.ForceOwnership)
		if err != nil {
			return ctrl.Result{}, fmt.Errorf("applying ConfigMap %s: %w", cm.GetName(), err)
		}
		objects = append(objects, execloopv1alpha1.AppliedObject{
			Task: p.Spec.Tasks[i].Name, APIVersion: "v1", Kind: "ConfigMap",
			Namespace: cm.GetNamespace(), Name: cm.GetName(), UID: cm.GetUID(),
		})
	}
	p.Status.Objects = objects
	p.Status.Phase = execloopv1alpha1.PlanSucceeded
	p.Status.Progress = fmt.Sprintf("%d/%d", len(objects), len(p.Spec.Tasks))
	markReady(p)
	meta.RemoveStatusCondition(&p.Status.Conditions, status.ConditionReconciling)
	meta.RemoveStatusCondition(&p.Status.Conditions, status.ConditionStalled)
	if !equality.Semantic.DeepEqual(base.Status, p.Status) {
		if err := e.Status().Patch(ctx, p, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{})); err != nil {
			return ctrl.Result{}, err
		}
	}
	if !wasReady {
		e.recorder.Eventf(p, nil, corev1.EventTypeNormal, status.ReasonSucceeded, "Reconcile", "applied %d ConfigMaps", len(objects))
	}
	return ctrl.Result{}, nil
}

func setupEqualWork(mgr ctrl.Manager, workers int) (string, error) {
	const name = "equal-work"
	return name, ctrl.NewControllerManagedBy(mgr).Named(name).
		For(&execloopv1alpha1.Plan{}, builder.WithPredicates(reconciler.Predicates())).
		Watches(&corev1.ConfigMap{},
			handler.EnqueueRequestForOwner(mgr.GetScheme(), mgr.GetRESTMapper(), &execloopv1alpha1.Plan{}),
			builder.WithPredicates(predicate.Funcs{CreateFunc: func(event.CreateEvent) bool { return false }})).
		WithOptions(controller.Options{MaxConcurrentReconciles: workers}).
		Complete(&equalWork{Client: mgr.GetClient(), recorder: mgr.GetEventRecorder(name)})
}

// blocking is the baseline of the original engine: one reconcile runs the
// whole plan to completion with Run, sleeping between passes, and holds its
// worker all that time.
type blocking struct {
	client.Client
	waits bool
}

func (b *blocking) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	p := &execloopv1alpha1.Plan{}
	if err := b.Get(ctx, req.NamespacedName, p); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if p.Status.IsReady(p.Generation) {
		return ctrl.Result{}, nil
	}
	opts := execloop.Options{SleepBetweenRuns: 100 * time.Millisecond, ErrorsToTolerate: 5, ExecutionTimeout: 10 * time.Minute}
	plan := &chainPlan{c: b.Client, cms: manifests(p), waits: b.waits}
	if err := executor.New(&opts).RunWithContext(ctx, plan); err != nil {
		return ctrl.Result{}, err
	}
	markReady(p)
	return ctrl.Result{}, b.Status().Update(ctx, p)
}

func setupBlocking(mgr ctrl.Manager, workers int, waits bool) (string, error) {
	return "blocking", ctrl.NewControllerManagedBy(mgr).Named("blocking").
		For(&execloopv1alpha1.Plan{}, builder.WithPredicates(reconciler.Predicates())).
		WithOptions(controller.Options{MaxConcurrentReconciles: workers}).
		Complete(&blocking{Client: mgr.GetClient(), waits: waits})
}

// chainPlan applies the ConfigMaps one after the other, each once the one
// before is there (and, with waits, once the middle one is ready).
type chainPlan struct {
	c     client.Client
	cms   []*unstructured.Unstructured
	waits bool
}

func (p *chainPlan) Create() ([]executor.Task, error) {
	for i, cm := range p.cms {
		live := &unstructured.Unstructured{}
		live.SetGroupVersionKind(cm.GroupVersionKind())
		err := p.c.Get(context.Background(), client.ObjectKeyFromObject(cm), live)
		if apierrors.IsNotFound(err) || (err == nil && p.mustWait(cm) && live.GetAnnotations()[readyAnnotation] == "") {
			return []executor.Task{p.task(i)}, nil
		}
		if err != nil {
			return nil, err
		}
	}
	return nil, nil
}

func (p *chainPlan) mustWait(cm *unstructured.Unstructured) bool {
	name := cm.GetName()
	return p.waits && waitsFor(name[len(name)-1:])
}

func (p *chainPlan) task(i int) executor.Task {
	cm := p.cms[i]
	return executor.NewTask(cm.GetName(), executor.TaskFuncs{
		PerformAction: func(ctx context.Context) ([]executor.Task, error) {
			err := p.c.Apply(ctx, client.ApplyConfigurationFromUnstructured(cm.DeepCopy()), client.FieldOwner("blocking"), client.ForceOwnership)
			if err != nil {
				return nil, err
			}
			if i+1 < len(p.cms) {
				return []executor.Task{p.task(i + 1)}, nil
			}
			return nil, nil
		},
		Post: func(ctx context.Context) error {
			if !p.mustWait(cm) {
				return nil
			}
			live := &unstructured.Unstructured{}
			live.SetGroupVersionKind(cm.GroupVersionKind())
			if err := p.c.Get(ctx, client.ObjectKeyFromObject(cm), live); err != nil {
				return err
			}
			if live.GetAnnotations()[readyAnnotation] == "" {
				return fmt.Errorf("%s not ready: %w", cm.GetName(), executor.ErrInProgress)
			}
			return nil
		},
	})
}
