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

// Package widget is an example operator built on execloop's public
// packages only: a Widget's controller writes its parts into a ConfigMap,
// waits for the Secret it names, then writes a summary. Its suite
// (widget_test.go) is written with execloop/reconciler/reconcilertest and
// reads as the operator's specification.
package widget

import (
	"context"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/execloop/execloop/examples/widget/api/v1alpha1"
	"github.com/execloop/execloop/execloop"
	"github.com/execloop/execloop/execloop/executor"
	"github.com/execloop/execloop/execloop/reconciler"
)

// The Widget's steps, in order.
const (
	StepParts   = "parts"   // write the ConfigMap <name>-parts
	StepSecret  = "secret"  // wait for spec.secretName
	StepSummary = "summary" // write the ConfigMap <name>-summary
)

// FieldManager is the field manager of the Widget controller's applies.
const FieldManager = "widget-controller"

// New returns the Widget controller's Reconciler; SetupWithManager gives
// it the manager's client, or set Client for a test without a manager.
func New() *reconciler.Reconciler[*v1alpha1.Widget] {
	r := &reconciler.Reconciler[*v1alpha1.Widget]{Name: "widget", Options: execloop.DefaultOptions()}
	r.Plan = func(_ context.Context, w *v1alpha1.Widget) (executor.Plan, error) {
		return &plan{c: r.Client, w: w}, nil
	}
	return r
}

// plan is one pass of a Widget: the steps not done yet.
type plan struct {
	c client.Client
	w *v1alpha1.Widget
}

var (
	_ executor.ContextPlan  = (*plan)(nil)
	_ reconciler.TaskLister = (*plan)(nil)
)

// TaskNames lists the Widget's steps, so its status shows the ones to come.
func (p *plan) TaskNames() []string {
	if p.w.Spec.SecretName == "" {
		return []string{StepParts, StepSummary}
	}
	return []string{StepParts, StepSecret, StepSummary}
}

// Create is CreateContext without a context, as executor.Plan has it.
func (p *plan) Create() ([]executor.Task, error) { return p.CreateContext(context.Background()) }

// CreateContext returns the steps that have not succeeded yet. Each runs
// after the one before it: a step's PerformAction returns the next as a
// child.
func (p *plan) CreateContext(context.Context) ([]executor.Task, error) {
	names := p.TaskNames()
	for i, name := range names {
		if !p.w.Status.SucceededFor(name, p.w.Generation) { // redone after a spec change
			return []executor.Task{p.step(names, i)}, nil
		}
	}
	return nil, nil
}

// step is the task of names[i], which unblocks names[i+1].
func (p *plan) step(names []string, i int) executor.Task {
	run := map[string]func(context.Context) error{
		StepParts: p.writeParts, StepSecret: p.waitForSecret, StepSummary: p.writeSummary,
	}[names[i]]
	return executor.NewTask(names[i], executor.TaskFuncs{
		PerformAction: func(ctx context.Context) ([]executor.Task, error) {
			if err := run(ctx); err != nil {
				return nil, err
			}
			if i+1 < len(names) {
				return []executor.Task{p.step(names, i+1)}, nil
			}
			return nil, nil
		},
	})
}

func (p *plan) writeParts(ctx context.Context) error {
	return p.apply(ctx, p.w.Name+"-parts", map[string]string{"parts": strings.Join(p.w.Spec.Parts, "\n")})
}

// waitForSecret is in progress, spending no error, until the Secret is
// there.
func (p *plan) waitForSecret(ctx context.Context) error {
	var s corev1.Secret
	err := p.c.Get(ctx, client.ObjectKey{Namespace: p.w.Namespace, Name: p.w.Spec.SecretName}, &s)
	if apierrors.IsNotFound(err) {
		return fmt.Errorf("waiting for Secret %s/%s: %w", p.w.Namespace, p.w.Spec.SecretName, executor.ErrInProgress)
	}
	return err
}

// writeSummary lists the Secret's keys, never its values.
func (p *plan) writeSummary(ctx context.Context) error {
	data := map[string]string{"parts": fmt.Sprint(len(p.w.Spec.Parts))}
	if name := p.w.Spec.SecretName; name != "" {
		var s corev1.Secret
		if err := p.c.Get(ctx, client.ObjectKey{Namespace: p.w.Namespace, Name: name}, &s); err != nil {
			return err
		}
		keys := make([]string, 0, len(s.Data))
		for k := range s.Data {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		data["secretKeys"] = strings.Join(keys, ",")
	}
	return p.apply(ctx, p.w.Name+"-summary", data)
}

// apply server-side applies a ConfigMap the Widget owns.
func (p *plan) apply(ctx context.Context, name string, data map[string]string) error {
	cm := &corev1.ConfigMap{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: metav1.ObjectMeta{Namespace: p.w.Namespace, Name: name},
		Data:       data,
	}
	if err := controllerutil.SetControllerReference(p.w, cm, p.c.Scheme()); err != nil {
		return err
	}
	u, err := toUnstructured(cm)
	if err != nil {
		return err
	}
	return p.c.Apply(ctx, client.ApplyConfigurationFromUnstructured(u), client.FieldOwner(FieldManager), client.ForceOwnership)
}

func toUnstructured(obj client.Object) (*unstructured.Unstructured, error) {
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return nil, err
	}
	u := &unstructured.Unstructured{Object: m}
	unstructured.RemoveNestedField(u.Object, "metadata", "creationTimestamp")
	return u, nil
}
