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
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	execloopv1alpha1 "github.com/execloop/execloop/api/v1alpha1"
	"github.com/execloop/execloop/execloop/executor"
)

// deleteKind deletes the object the task names (in the background) and
// waits until it is gone. It is converged while the object does not exist,
// which holds too when the API server has no such kind. Nothing of it is in
// the inventory.
type deleteKind struct{}

func (deleteKind) field() string                                                      { return "delete" }
func (deleteKind) in(pt *execloopv1alpha1.PlanTask) bool                              { return pt.Delete != nil }
func (deleteKind) writesManifest() bool                                               { return false }
func (deleteKind) exclusive() bool                                                    { return true }
func (deleteKind) unservedDone() bool                                                 { return true }
func (deleteKind) recorded() bool                                                     { return false }
func (deleteKind) prepare(*execloopv1alpha1.Plan, *unstructured.Unstructured, string) {}
func (deleteKind) watch(*taskSpec) (Watch, bool)                                      { return Watch{}, false }
func (deleteKind) pre(context.Context, *planTask, *taskState) error                   { return nil }
func (k deleteKind) compile(t *taskSpec, pt *execloopv1alpha1.PlanTask) error {
	return compileReference(t, k.field(), pt.Delete)
}

func (deleteKind) removal(entryTask) executor.Task {
	return nil
}

func (deleteKind) read(ctx context.Context, r *Run, t *taskSpec, st *taskState) { r.get(ctx, t, st) }

func (deleteKind) judge(_ context.Context, _ *Run, _ *taskSpec, st *taskState) {
	st.converged = st.live == nil
}

// act deletes the object unless it is gone or going already.
func (deleteKind) act(ctx context.Context, k *planTask, st *taskState) error {
	if st.live == nil || st.live.GetDeletionTimestamp() != nil {
		return nil
	}
	err := k.run.id.client.Delete(ctx, st.live, client.PropagationPolicy(metav1.DeletePropagationBackground))
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("deleting %s as %s: %w", k.t.describe(), k.run.id.Describe(), err)
	}
	return nil
}

// check waits until the object is gone.
func (deleteKind) check(ctx context.Context, k *planTask, st *taskState) error {
	if st.live == nil {
		return nil
	}
	live := &unstructured.Unstructured{}
	live.SetGroupVersionKind(k.t.gvk)
	switch err := k.run.id.client.Get(ctx, k.t.key, live); {
	case apierrors.IsNotFound(err):
		return nil
	case err != nil:
		return fmt.Errorf("reading %s as %s: %w", k.t.describe(), k.run.id.Describe(), err)
	}
	return k.run.waiting(k.t, "being deleted")
}

func (deleteKind) preview(_ context.Context, _ *Run, _ *taskSpec, st *taskState, pr *TaskPreview) {
	pr.Action = ActionUnchanged
	if st.live != nil {
		pr.Action = ActionDelete
	}
}
