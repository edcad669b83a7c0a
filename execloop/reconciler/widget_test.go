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

package reconciler_test

import (
	"context"
	"slices"
	"sync"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/execloop/execloop/execloop/executor"
	"github.com/execloop/execloop/execloop/reconciler/status"
)

// Widget is the test suite's own custom resource: its spec lists the names
// of its steps, and the tasks behind them are Go code (see script).
type Widget struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              WidgetSpec   `json:"spec,omitempty"`
	Status            WidgetStatus `json:"status,omitempty"`
}

// WidgetSpec names the steps; Note exists to change the generation.
type WidgetSpec struct {
	Steps []string `json:"steps,omitempty"`
	Note  string   `json:"note,omitempty"`
}

// WidgetStatus embeds the adapter's status, as a user's CRD would.
type WidgetStatus struct {
	status.Status `json:",inline"`
}

// ExecloopStatus implements reconciler.Object.
func (w *Widget) ExecloopStatus() *status.Status { return &w.Status.Status }

func (w *Widget) DeepCopyObject() runtime.Object {
	c := *w
	w.ObjectMeta.DeepCopyInto(&c.ObjectMeta)
	c.Spec.Steps = slices.Clone(w.Spec.Steps)
	w.Status.Status.DeepCopyInto(&c.Status.Status)
	return &c
}

// WidgetList is a list of Widgets.
type WidgetList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Widget `json:"items"`
}

func (l *WidgetList) DeepCopyObject() runtime.Object {
	c := *l
	l.ListMeta.DeepCopyInto(&c.ListMeta)
	c.Items = make([]Widget, len(l.Items))
	for i := range l.Items {
		c.Items[i] = *l.Items[i].DeepCopyObject().(*Widget)
	}
	return &c
}

var widgetGV = schema.GroupVersion{Group: "test.execloop.dev", Version: "v1"}

func addWidgets(s *runtime.Scheme) {
	s.AddKnownTypes(widgetGV, &Widget{}, &WidgetList{})
	metav1.AddToGroupVersion(s, widgetGV)
}

// widgetCRD is the Widget CRD, with a status subresource. Its status.tasks
// has the maxItems of status.Status.Tasks, as a CRD generated from it has.
func widgetCRD() *apiextensionsv1.CustomResourceDefinition {
	open := apiextensionsv1.JSONSchemaProps{Type: "object", XPreserveUnknownFields: ptrTrue()}
	maxTasks := int64(status.MaxTasks)
	statusSchema := open
	statusSchema.Properties = map[string]apiextensionsv1.JSONSchemaProps{
		"tasks": {Type: "array", MaxItems: &maxTasks, Items: &apiextensionsv1.JSONSchemaPropsOrArray{Schema: &open}},
	}
	return &apiextensionsv1.CustomResourceDefinition{
		ObjectMeta: metav1.ObjectMeta{Name: "widgets.test.execloop.dev"},
		Spec: apiextensionsv1.CustomResourceDefinitionSpec{
			Group: widgetGV.Group,
			Names: apiextensionsv1.CustomResourceDefinitionNames{Plural: "widgets", Singular: "widget", Kind: "Widget", ListKind: "WidgetList"},
			Scope: apiextensionsv1.NamespaceScoped,
			Versions: []apiextensionsv1.CustomResourceDefinitionVersion{{
				Name: widgetGV.Version, Served: true, Storage: true,
				Subresources: &apiextensionsv1.CustomResourceSubresources{Status: &apiextensionsv1.CustomResourceSubresourceStatus{}},
				Schema: &apiextensionsv1.CustomResourceValidation{OpenAPIV3Schema: &apiextensionsv1.JSONSchemaProps{
					Type:       "object",
					Properties: map[string]apiextensionsv1.JSONSchemaProps{"spec": open, "status": statusSchema},
				}},
			}},
		},
	}
}

func ptrTrue() *bool { t := true; return &t }

// script is how the tasks of one test's widgets behave, and what they did.
type script struct {
	mu       sync.Mutex
	behave   map[string]func(run int) error // by task name; nil succeeds
	runs     map[string]int                 // PerformAction calls by task name
	passes   []time.Time                    // plan factory calls: one per pass
	cleanups []string                       // cleanup tasks in the order they ran
}

func newScript() *script {
	return &script{behave: map[string]func(int) error{}, runs: map[string]int{}}
}

func (s *script) set(task string, f func(run int) error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.behave[task] = f
}

func (s *script) run(task string) error {
	s.mu.Lock()
	s.runs[task]++
	n, f := s.runs[task], s.behave[task]
	s.mu.Unlock()
	if f == nil {
		return nil
	}
	return f(n)
}

func (s *script) count(task string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.runs[task]
}

func (s *script) passTimes() []time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.passes)
}

func (s *script) cleanupOrder() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.cleanups)
}

// widgetPlan is the plan of a widget: a task per step that has not
// succeeded yet. It lists all its steps, so pending ones show in status.
type widgetPlan struct {
	executor.PlanFunc
	steps []string
}

func (p widgetPlan) TaskNames() []string { return p.steps }

// pass records that a pass starts.
func (s *script) pass() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.passes = append(s.passes, time.Now())
}

// planFor is the plan factory of the test reconcilers. Its plan reads the
// status as the pass started: asked again after the pass, it returns the
// same tasks, so its last pass is one that finds no tasks.
func (s *script) planFor(_ context.Context, w *Widget) (executor.Plan, error) {
	s.pass()
	status := w.Status.Status.DeepCopy()
	steps := slices.Clone(w.Spec.Steps)
	return widgetPlan{steps: steps, PlanFunc: func(context.Context) ([]executor.Task, error) {
		var tasks []executor.Task
		for _, step := range steps {
			if status.Succeeded(step) {
				continue
			}
			tasks = append(tasks, executor.NewTask(step, executor.TaskFuncs{
				PerformAction: func(context.Context) ([]executor.Task, error) { return nil, s.run(step) },
			}))
		}
		return tasks, nil
	}}, nil
}

// readmePlan is the plan factory of the README's example: a task per step
// of the spec, left out once it succeeded for the widget's generation, or
// for any generation when the step is one of once. Its plan reads the
// widget's status as the Reconciler updates it, and lists no tasks.
func (s *script) readmePlan(once ...string) func(context.Context, *Widget) (executor.Plan, error) {
	return func(_ context.Context, w *Widget) (executor.Plan, error) {
		s.pass()
		return executor.PlanFunc(func(context.Context) ([]executor.Task, error) {
			var tasks []executor.Task
			for _, step := range w.Spec.Steps {
				done := w.Status.SucceededFor(step, w.Generation)
				if slices.Contains(once, step) {
					done = w.Status.Succeeded(step)
				}
				if !done {
					tasks = append(tasks, executor.NewTask(step, executor.TaskFuncs{
						PerformAction: func(context.Context) ([]executor.Task, error) { return nil, s.run(step) },
					}))
				}
			}
			return tasks, nil
		}), nil
	}
}

// cleanupFor undoes the steps in reverse order, one task per pass.
func (s *script) cleanupFor(_ context.Context, w *Widget) (executor.Plan, error) {
	steps := slices.Clone(w.Spec.Steps)
	return executor.PlanFunc(func(context.Context) ([]executor.Task, error) {
		s.mu.Lock()
		defer s.mu.Unlock()
		if len(s.cleanups) == len(steps) {
			return nil, nil
		}
		next := "undo-" + steps[len(steps)-1-len(s.cleanups)]
		return []executor.Task{executor.NewTask(next, executor.TaskFuncs{
			PerformAction: func(context.Context) ([]executor.Task, error) {
				s.mu.Lock()
				defer s.mu.Unlock()
				s.cleanups = append(s.cleanups, next)
				return nil, nil
			},
		})}, nil
	}), nil
}
