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

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

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
// which takes readyDelay, before the last is applied.
func waitsFor(step string) bool { return step == "b" }

func benchPlan(ns, name string, waits bool) *execloopv1alpha1.Plan {
	p := &execloopv1alpha1.Plan{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	prev := ""
	for _, step := range []string{"a", "b", "c"} {
		manifest, _ := json.Marshal(map[string]any{
			"apiVersion": "v1", "kind": "ConfigMap",
			"metadata": map[string]any{"name": name + "-" + step},
			"data":     map[string]any{"step": step},
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

// fillStatus gives a plan the status the Plan controller writes once it
// converged: conditions, three succeeded tasks, three inventory entries.
func fillStatus(p *execloopv1alpha1.Plan) {
	now := metav1.Now()
	markReady(p)
	p.Status.Phase = execloopv1alpha1.PlanSucceeded
	p.Status.Progress = "3/3"
	p.Status.LastPassTime = &now
	for _, cm := range manifests(p) {
		task := cm.GetName()[len(cm.GetName())-1:]
		p.Status.Tasks = append(p.Status.Tasks, status.TaskStatus{
			Name: task, State: status.TaskSucceeded, Attempts: 1,
			LastTransitionTime: &now, StartedTime: &now, FinishedTime: &now,
		})
		p.Status.Objects = append(p.Status.Objects, execloopv1alpha1.AppliedObject{
			Task: task, APIVersion: "v1", Kind: "ConfigMap", Namespace: p.Namespace, Name: cm.GetName(),
			UID: "0b4e7a1c-6d1f-4c55-9b0e-2f8a3c9d7e61", ManifestHash: "5f2c9a7b1e3d4c6a8b0e2f41", LiveHash: "9d8c7b6a5f4e3d2c1b0a9f8e",
		})
	}
}

// setupExecloop registers the Plan controller, as the operator runs it.
func setupExecloop(mgr ctrl.Manager, workers int, resync time.Duration) (string, error) {
	return controllers.ControllerName, (&controllers.PlanReconciler{
		Defaults:                execloop.Options{SleepBetweenRuns: 100 * time.Millisecond, ErrorsToTolerate: 5},
		MaxConcurrentReconciles: workers,
		ResyncInterval:          resync,
	}).SetupWithManager(mgr)
}

// handwritten is the baseline without a framework: it creates the three
// ConfigMaps in order and marks the plan ready, in one reconcile. With
// finalize, it first adds a finalizer (and never removes it: the benchmark
// deletes no plan).
type handwritten struct {
	client.Client
	finalize bool
}

const handwrittenFinalizer = "bench.execloop.dev/cleanup"

func (h *handwritten) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	p := &execloopv1alpha1.Plan{}
	if err := h.Get(ctx, req.NamespacedName, p); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if p.Status.IsReady(p.Generation) {
		return ctrl.Result{}, nil
	}
	if h.finalize && !controllerutil.ContainsFinalizer(p, handwrittenFinalizer) {
		patch := client.MergeFromWithOptions(p.DeepCopy(), client.MergeFromWithOptimisticLock{})
		controllerutil.AddFinalizer(p, handwrittenFinalizer)
		if err := h.Patch(ctx, p, patch); err != nil {
			return ctrl.Result{}, err
		}
	}
	for _, cm := range manifests(p) {
		if err := h.Create(ctx, cm); err != nil && !apierrors.IsAlreadyExists(err) {
			return ctrl.Result{}, err
		}
	}
	markReady(p)
	return ctrl.Result{}, h.Status().Update(ctx, p)
}

func setupHandwritten(mgr ctrl.Manager, workers int, finalize bool) (string, error) {
	name := "handwritten"
	if finalize {
		name = "handwritten-finalizer"
	}
	return name, ctrl.NewControllerManagedBy(mgr).Named(name).
		For(&execloopv1alpha1.Plan{}, builder.WithPredicates(reconciler.Predicates())).
		WithOptions(controller.Options{MaxConcurrentReconciles: workers}).
		Complete(&handwritten{Client: mgr.GetClient(), finalize: finalize})
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
