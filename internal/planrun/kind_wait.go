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

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	execloopv1alpha1 "github.com/execloop/execloop/api/v1alpha1"
	"github.com/execloop/execloop/execloop/executor"
)

// waitKind waits until the object the task names exists and is ready
// (readyWhen, or kstatus Current), and fails when failedWhen says. It
// writes nothing; when other tasks' expressions read its object, the plan
// watches that object, so that a change of it wakes the plan.
type waitKind struct{}

func (waitKind) field() string                                                      { return "wait" }
func (waitKind) in(pt *execloopv1alpha1.PlanTask) bool                              { return pt.Wait != nil }
func (waitKind) writesManifest() bool                                               { return false }
func (waitKind) exclusive() bool                                                    { return false }
func (waitKind) unservedDone() bool                                                 { return false }
func (waitKind) recorded() bool                                                     { return false }
func (waitKind) prepare(*execloopv1alpha1.Plan, *unstructured.Unstructured, string) {}
func (waitKind) pre(context.Context, *planTask, *taskState) error                   { return nil }
func (waitKind) act(context.Context, *planTask, *taskState) error                   { return nil }
func (k waitKind) compile(t *taskSpec, pt *execloopv1alpha1.PlanTask) error {
	return compileReference(t, k.field(), pt.Wait)
}

func (waitKind) removal(entryTask) executor.Task {
	return nil
}

// watch: the object, when other tasks read it and its name is known.
func (waitKind) watch(t *taskSpec) (Watch, bool) {
	if !t.read || t.key.Name == "" {
		return Watch{}, false
	}
	return Watch{Mapping: t.mapping, Namespace: t.key.Namespace, Target: t.key.Name}, true
}

func (waitKind) read(ctx context.Context, r *Run, t *taskSpec, st *taskState) { r.get(ctx, t, st) }

func (waitKind) judge(ctx context.Context, _ *Run, t *taskSpec, st *taskState) {
	if st.live == nil {
		st.why = "it does not exist"
		return
	}
	judgeReady(ctx, t, st)
}

// check waits until the object exists and is ready.
func (waitKind) check(ctx context.Context, k *planTask, st *taskState) error {
	if st.live == nil {
		return k.run.waiting(k.t, "absent")
	}
	if err := failure(ctx, st.live, k.t.failedWhen, k.t.failedExpr, k.t.bound); err != nil {
		return fmt.Errorf("%s: %w", k.t.describe(), err)
	}
	if st.readyErr != nil {
		return fmt.Errorf("%s: %w", k.t.describe(), st.readyErr)
	}
	if !st.converged {
		return k.run.waiting(k.t, "not ready ("+st.why+")")
	}
	return nil
}

func (waitKind) preview(_ context.Context, _ *Run, t *taskSpec, st *taskState, pr *TaskPreview) {
	if st.converged {
		pr.Action = ActionUnchanged
		return
	}
	pr.Action, pr.Reason = ActionBlocked, "waiting for "+t.describe()+": "+st.why
}
