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
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/execloop/execloop/execloop"
	"github.com/execloop/execloop/execloop/executor"
	"github.com/execloop/execloop/execloop/reconciler"
	"github.com/execloop/execloop/execloop/reconciler/status"
)

// A controller of your own on the adapter: a Widget (whose status embeds
// status.Status) runs a task per step of its spec, once per generation of
// the spec. In an operator, call r.SetupWithManager(mgr); here a fake client
// stands in for the API server and the example calls Reconcile itself. The
// pass that runs the last steps finds the plan needs no more, so one
// reconcile makes the widget Ready.
func ExampleReconciler() {
	ctx := context.Background()
	w := &Widget{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "w", Generation: 1}, Spec: WidgetSpec{Steps: []string{"fetch", "build"}}}
	r := &reconciler.Reconciler[*Widget]{
		Name:    "widget",
		Options: execloop.DefaultOptions(),
		Client:  fakeClient(w),
		Plan: func(_ context.Context, w *Widget) (executor.Plan, error) {
			return executor.PlanFunc(func(context.Context) ([]executor.Task, error) {
				var tasks []executor.Task
				for _, step := range w.Spec.Steps {
					if !w.Status.SucceededFor(step, w.Generation) { // done in an earlier pass, for this spec
						tasks = append(tasks, executor.NewTask(step, executor.TaskFuncs{
							PerformAction: func(context.Context) ([]executor.Task, error) {
								fmt.Println("running", step)
								return nil, nil
							},
						}))
					}
				}
				return tasks, nil
			}), nil
		},
	}

	res, err := r.Reconcile(ctx, ctrl.Request{NamespacedName: client.ObjectKeyFromObject(w)})
	fmt.Println("requeue after", res.RequeueAfter, err)
	_ = r.Client.Get(ctx, client.ObjectKeyFromObject(w), w)
	fmt.Println(w.Status.Task("fetch").State, w.Status.Task("build").State, w.Status.Condition(status.ConditionReady).Reason)
	// Output:
	// running fetch
	// running build
	// requeue after 0s <nil>
	// Succeeded Succeeded Succeeded
}

// fakeClient is an in-memory client that holds objs.
func fakeClient(objs ...client.Object) client.Client {
	s := runtime.NewScheme()
	addWidgets(s)
	return fake.NewClientBuilder().WithScheme(s).WithObjects(objs...).WithStatusSubresource(&Widget{}).Build()
}
