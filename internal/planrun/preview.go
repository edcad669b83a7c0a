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
	"errors"
	"fmt"
	"strings"

	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"

	execloopv1alpha1 "github.com/execloop/execloop/api/v1alpha1"
	"github.com/execloop/execloop/execloop/executor"
)

// Action is what a pass of a Plan would do to one task's object, as
// Preview tells it.
type Action string

// The actions of a preview.
const (
	ActionCreate    Action = "create"    // the object is not there: applying creates it
	ActionUpdate    Action = "update"    // applying changes the object's fields
	ActionUnchanged Action = "unchanged" // nothing to write (a wait task's object is there and ready)
	ActionDelete    Action = "delete"    // a delete task's object is there
	ActionPrune     Action = "prune"     // an object the plan applied that no task applies any more
	ActionSkipped   Action = "skipped"   // includeWhen is false
	ActionBlocked   Action = "blocked"   // waits for a task, a kind or a value not there yet
	ActionDenied    Action = "denied"    // the Plan's identity may not do it
	ActionFailed    Action = "failed"    // the task would fail (a value of the wrong type, a refusal)
)

// Changes reports whether the action writes to the cluster.
func (a Action) Changes() bool {
	return a == ActionCreate || a == ActionUpdate || a == ActionDelete || a == ActionPrune
}

// TaskPreview is what a pass of a Plan would do to one task's object now.
type TaskPreview struct {
	// Task is the task's name; for a prune, the task that applied the
	// object, when the inventory says.
	Task   string
	Action Action
	// Object names the object, such as "ConfigMap shop/web"; empty when
	// its name is not known yet.
	Object string
	// Reason says why the task is blocked, denied, skipped or failed, or
	// how a prune goes.
	Reason string
	// Live and Planned are the object as it is and as the apply would
	// leave it (the API server's dry run), without managedFields, uid,
	// resourceVersion, generation and creationTimestamp; nil when absent.
	// What came from a Secret is masked ("***"): a Secret's values, in any
	// object a field an expression computed from a Secret's value, and
	// such values wherever they show, in Object and Reason too.
	Live, Planned *unstructured.Unstructured
}

// Previewer previews what the Plan controller would do with a Plan: it
// compiles the Plan exactly as the operator does, reads each task's object
// as the Plan's identity (its ServiceAccount, impersonated from Config),
// resolves the expressions, and applies each object as a server-side dry
// run (dryRun=All, field manager execloop, forcing conflicts). Nothing is
// changed.
type Previewer struct {
	// Config is the user's; it must allow impersonating the Plan's
	// ServiceAccount. A Plan with neither a ServiceAccount nor
	// DefaultServiceAccount acts as the operator itself, which a preview
	// cannot be: it acts as Config's user then.
	Config *rest.Config
	Scheme *runtime.Scheme
	Mapper meta.RESTMapper
	// DefaultServiceAccount is the operator's --default-service-account.
	DefaultServiceAccount string
}

// Identity names who the preview of p acts as.
func (pv *Previewer) Identity(p *execloopv1alpha1.Plan) string {
	sa := p.Spec.ServiceAccountName
	if sa == "" {
		sa = pv.DefaultServiceAccount
	}
	if sa == "" {
		return "you (the Plan acts as the operator itself)"
	}
	return fmt.Sprintf("system:serviceaccount:%s:%s", p.Namespace, sa)
}

// Preview returns, in dependency order, what a pass would do to each task's
// object (each item's, for a task with forEach), then the prunes. An error is a Plan the operator would not run
// (a cycle, a task name that does not exist, an expression that does not
// compile), or a failure to reach the API server.
func (pv *Previewer) Preview(ctx context.Context, p *execloopv1alpha1.Plan) ([]TaskPreview, error) {
	ids, err := NewIdentities(pv.Config, pv.Scheme, pv.Mapper)
	if err != nil {
		return nil, err
	}
	id, err := ids.ForPlan(p, pv.DefaultServiceAccount)
	if err != nil {
		return nil, err
	}
	run, err := Compile(p.DeepCopy(), id, pv.Mapper)
	if err != nil {
		return nil, err
	}
	run.state = make(map[string]*taskState, len(run.tasks))
	run.skipped = map[string]string{}
	out := make([]TaskPreview, 0, len(run.tasks)+len(run.stale))
	for _, t := range run.tasks {
		st := run.evaluate(ctx, t)
		if st.items == nil {
			out = append(out, run.preview(ctx, t, st))
			continue
		}
		for _, it := range st.items { // a forEach task's: each item's object
			out = append(out, run.preview(ctx, it.t, it.st))
		}
	}
	for _, obj := range run.stale {
		pr, err := run.previewPrune(ctx, obj)
		if err != nil {
			return nil, err
		}
		if pr != nil {
			out = append(out, *pr)
		}
	}
	run.redactPreviews(out)
	return out, nil
}

// preview says what the pass would do to t, whose object st describes.
func (p *Run) preview(ctx context.Context, t *taskSpec, st *taskState) TaskPreview {
	pr := TaskPreview{Task: t.name}
	if t.key.Name != "" {
		pr.Object = t.describe()
	}
	pr.Live = forPreview(st.live)
	p.judgePreview(ctx, t, st, &pr)
	return pr
}

// judgePreview sets what the pass would do to t.
func (p *Run) judgePreview(ctx context.Context, t *taskSpec, st *taskState, pr *TaskPreview) {
	switch {
	case st.skipped:
		pr.Action, pr.Reason = ActionSkipped, p.skipped[t.name]
	case st.err != nil:
		pr.Action, pr.Reason = failedOrBlocked(st.err, "get", t)
	default:
		t.kind.preview(ctx, p, t, st, pr)
	}
}

// previewPrune says what becomes of an object the plan applied that no
// task applies any more; nil when it is gone already.
func (p *Run) previewPrune(ctx context.Context, obj execloopv1alpha1.AppliedObject) (*TaskPreview, error) {
	pr := &TaskPreview{Task: obj.Task, Action: ActionPrune, Object: obj.Kind + " " + ObjectName(obj)}
	live, err := getInventoryObject(ctx, p.id, p.mapper, obj)
	switch {
	case apierrors.IsNotFound(err) || meta.IsNoMatchError(err):
		return nil, nil
	case apierrors.IsForbidden(err):
		pr.Action, pr.Reason = ActionDenied, fmt.Sprintf("%s may not get %s", p.id.Describe(), pr.Object)
		return pr, nil
	case err != nil:
		return nil, fmt.Errorf("reading %s as %s: %w", pr.Object, p.id.Describe(), err)
	case live == nil:
		return nil, nil
	}
	pr.Live = forPreview(live)
	if rp, ok := entryKind(obj).removal(entryTask{name: pr.Task, plan: p.plan, id: p.id, mapper: p.mapper, obj: obj}).(removalPreviewer); ok {
		rp.previewRemoval(ctx, live, pr)
		return pr, nil
	}
	if obj.Release {
		pr.Reason = "let go, not deleted: the plan adopted it and adoptionPolicy is Release"
	} else {
		pr.Reason = "deleted: the plan created it and no task applies it any more"
	}
	return pr, nil
}

// failedOrBlocked sorts the error of a task's read or dry run: a denial
// (naming the verb and the resource), a wait, or a failure.
func failedOrBlocked(err error, verb string, t *taskSpec) (Action, string) {
	switch {
	case apierrors.IsForbidden(err):
		resource := t.gvk.Kind
		if t.mapping != nil {
			resource = t.mapping.Resource.GroupResource().String()
		}
		where := ""
		if t.key.Namespace != "" {
			where = " in namespace " + t.key.Namespace
		}
		return ActionDenied, fmt.Sprintf("may not %s %s%s: %s", verb, resource, where, apierrors.ReasonForError(err))
	case errors.Is(err, executor.ErrInProgress):
		return ActionBlocked, strings.TrimSuffix(err.Error(), ": "+executor.ErrInProgress.Error())
	default:
		return ActionFailed, err.Error()
	}
}

// forPreview copies obj without the fields the API server keeps for
// itself, which every write changes; nil for nil.
func forPreview(obj *unstructured.Unstructured) *unstructured.Unstructured {
	if obj == nil {
		return nil
	}
	c := obj.DeepCopy()
	for _, f := range []string{"managedFields", "uid", "resourceVersion", "generation", "creationTimestamp"} {
		unstructured.RemoveNestedField(c.Object, "metadata", f)
	}
	return c
}

// equalObjects compares two objects as previewed.
func equalObjects(a, b *unstructured.Unstructured) bool {
	return apiequality.Semantic.DeepEqual(a.Object, b.Object)
}
