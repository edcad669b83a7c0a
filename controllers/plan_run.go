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
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/cel-go/cel"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	execloopv1alpha1 "github.com/execloop/execloop/api/v1alpha1"
	"github.com/execloop/execloop/execloop/executor"
)

// What a task does.
type taskKind string

const (
	kindApply  taskKind = "apply"
	kindDelete taskKind = "delete"
	kindWait   taskKind = "wait"
)

// taskSpec is a task of a Plan, checked and resolved: its readyWhen
// compiled and, once the API server serves its object's kind, its mapping
// and namespace settled.
type taskSpec struct {
	name       string
	kind       taskKind
	gvk        schema.GroupVersionKind
	mapping    *meta.RESTMapping    // nil while the kind is not served
	unserved   error                // why mapping is nil
	noKind     bool                 // the API server said it has no such kind
	provider   *taskSpec            // the task before this one that applies the CRD of its kind, if any
	key        types.NamespacedName // the object's
	manifest   *unstructured.Unstructured
	hash       string // of manifest
	readyWhen  cel.Program
	timeout    time.Duration
	after      []*taskSpec
	dependents []*taskSpec
}

// describe names the task's object in messages, such as
// "ConfigMap shop/web-config".
func (t *taskSpec) describe() string {
	if t.key.Namespace == "" {
		return t.gvk.Kind + " " + t.key.Name
	}
	return t.gvk.Kind + " " + t.key.Namespace + "/" + t.key.Name
}

// planRun is the execloop plan of one pass of a Plan. Create asks the API
// server, as the Plan's identity, which tasks' objects are not converged
// (missing, changed by someone else, not ready, still present) and returns
// those whose after tasks are all done; a task that succeeds returns, as its
// children, the tasks it unblocks.
type planRun struct {
	plan    *execloopv1alpha1.Plan // the reconciled object: tasks update its inventory
	id      *identity
	mapper  meta.RESTMapper
	watcher *watcher
	tasks   []*taskSpec // in dependency order
	stale   []execloopv1alpha1.AppliedObject
	state   map[string]*taskState // this pass's, by task name
	now     func() time.Time
}

// taskState is what a pass found out about a task's object.
type taskState struct {
	err        error                      // reading the object failed
	live       *unstructured.Unstructured // nil when the object does not exist
	needsApply bool                       // missing, changed or drifted
	why        string                     // why it is not converged
	readyErr   error                      // readyWhen does not give a bool
	converged  bool
	returned   bool // already handed to the executor in this pass
	assumed    bool // its PerformAction succeeded; done if its Post does
	done       bool // converged, or succeeded in this pass
}

var (
	_ executor.ContextPlan = (*planRun)(nil)
	_ executor.Finisher    = (*planRun)(nil)
	_ executor.ContextTask = (*planTask)(nil)
	_ executor.TimeoutTask = (*planTask)(nil)
)

// phaseTimeout bounds the phases of one execution of a task (its reads and
// writes in one pass; the wait for readiness across passes is the task's
// spec.tasks[].timeout): an API server that stops answering fails the task
// instead of holding a worker.
const phaseTimeout = 2 * time.Minute

// TaskNames lists the plan's tasks in spec order, for the status.
func (p *planRun) TaskNames() []string {
	names := make([]string, len(p.plan.Spec.Tasks))
	for i, t := range p.plan.Spec.Tasks {
		names[i] = t.Name
	}
	return names
}

// Create calls CreateContext with context.Background().
func (p *planRun) Create() ([]executor.Task, error) { return p.CreateContext(context.Background()) }

// CreateContext returns the tasks to run in this pass: the tasks whose after
// tasks are done and whose object is not converged (or whose success is not
// recorded yet), then the pruning of what removed tasks left behind.
func (p *planRun) CreateContext(ctx context.Context) ([]executor.Task, error) {
	p.state = make(map[string]*taskState, len(p.tasks))
	var out []executor.Task
	for _, t := range p.tasks {
		if !p.depsDone(t) {
			continue
		}
		st := p.evaluate(ctx, t)
		if st.converged && p.settled(t) {
			st.done = true
			continue
		}
		st.returned = true
		out = append(out, &planTask{run: p, t: t})
	}
	for _, obj := range p.stale {
		out = append(out, removals("prune:", p.plan, p.id, p.mapper, []execloopv1alpha1.AppliedObject{obj}))
	}
	return out, nil
}

// depsDone reports whether every task t runs after is done in this pass
// (or is about to be: its PerformAction succeeded and its Post is next).
func (p *planRun) depsDone(t *taskSpec) bool {
	for _, d := range t.after {
		st := p.state[d.name]
		if st == nil || (!st.done && !st.assumed) {
			return false
		}
	}
	return true
}

// evaluate reads a task's object, once per pass, and decides whether it is
// converged. An apply task's object is read from the watcher's cache of the
// plans' objects when it has one; only a verdict that the object needs
// applying again, which a cache that lags behind the last apply could give,
// is checked against the API server.
func (p *planRun) evaluate(ctx context.Context, t *taskSpec) *taskState {
	if st := p.state[t.name]; st != nil {
		return st
	}
	st := &taskState{}
	p.state[t.name] = st
	if t.mapping == nil {
		if t.kind == kindDelete && t.noKind {
			st.converged = true // no object of a kind that is not served
			return st
		}
		st.err = p.unserved(t)
		return st
	}
	if t.kind == kindApply && p.watcher != nil {
		if live, synced := p.watcher.get(ctx, client.ObjectKeyFromObject(p.plan), p.id, t.mapping, t.key); synced {
			st.live = live
			p.judge(ctx, t, st)
			if !st.needsApply || p.inventory(t.name) == nil {
				return st // a new task's object needs no read: it is applied anyway
			}
			*st = taskState{}
		}
	}
	live := &unstructured.Unstructured{}
	live.SetGroupVersionKind(t.gvk)
	switch err := p.id.client.Get(ctx, t.key, live); {
	case apierrors.IsNotFound(err):
	case err != nil:
		st.err = fmt.Errorf("reading %s as %s: %w", t.describe(), p.id.describe(), err)
		return st
	default:
		st.live = live
	}
	p.judge(ctx, t, st)
	return st
}

// judge decides from st.live whether the task's object is converged.
func (p *planRun) judge(ctx context.Context, t *taskSpec, st *taskState) {
	switch t.kind {
	case kindApply:
		inv := p.inventory(t.name)
		switch {
		case st.live == nil:
			st.needsApply, st.why = true, "missing"
		case inv == nil || inv.UID != st.live.GetUID():
			st.needsApply, st.why = true, "not applied by this plan yet"
		case inv.ManifestHash != t.hash:
			st.needsApply, st.why = true, "the task changed"
		default:
			if h, err := liveHash(t.manifest, st.live); err != nil || h != inv.LiveHash {
				st.needsApply, st.why = true, "changed by someone else"
				break
			}
			if ready, reason, err := readiness(ctx, st.live, t.readyWhen); !ready {
				st.why, st.readyErr = reason, err
				break
			}
			st.converged = true
		}
	case kindDelete:
		st.converged = st.live == nil
	case kindWait:
		if st.live == nil {
			st.why = "it does not exist"
			break
		}
		ready, reason, err := readiness(ctx, st.live, t.readyWhen)
		st.converged, st.why, st.readyErr = ready, reason, err
	}
}

// Finished reports, after a pass in which every task succeeded, whether the
// whole plan is done: every task converged before the pass or succeeded in
// it, and nothing is left to prune. Then the next Create would return no
// tasks, and this pass is the last.
func (p *planRun) Finished() bool {
	for _, t := range p.tasks {
		if st := p.state[t.name]; st == nil || !st.done {
			return false
		}
	}
	for _, obj := range p.stale {
		if p.inventory(obj.Task) != nil {
			return false
		}
	}
	return true
}

// settled reports whether the status already shows the task succeeded. A
// task whose object converged while its status says otherwise (it was
// waiting, and what it waited for happened) still runs, doing nothing but
// its checks, so that its success is recorded and its dependents follow it.
func (p *planRun) settled(t *taskSpec) bool {
	return p.plan.Status.Succeeded(t.name)
}

// unblocked returns the tasks that parent's success unblocks: dependents
// whose other after tasks are done and that are not converged and settled.
// A dependent that is both is done at once, and what it unblocks counts
// too.
func (p *planRun) unblocked(ctx context.Context, parent *taskSpec) []executor.Task {
	var out []executor.Task
	for _, d := range parent.dependents {
		if st := p.state[d.name]; (st != nil && (st.returned || st.done)) || !p.depsDone(d) {
			continue
		}
		st := p.evaluate(ctx, d)
		if st.converged && p.settled(d) {
			st.done = true
			out = append(out, p.unblocked(ctx, d)...)
			continue
		}
		st.returned = true
		out = append(out, &planTask{run: p, t: d})
	}
	return out
}

// inventory returns the inventory entry of a task, or nil.
func (p *planRun) inventory(task string) *execloopv1alpha1.AppliedObject {
	for i := range p.plan.Status.Objects {
		if p.plan.Status.Objects[i].Task == task {
			return &p.plan.Status.Objects[i]
		}
	}
	return nil
}

// record keeps what a task applied in the inventory, in the order the tasks
// first applied: the reverse of that order is a safe order of deletion.
func (p *planRun) record(t *taskSpec, live *unstructured.Unstructured) error {
	h, err := liveHash(t.manifest, live)
	if err != nil {
		return err
	}
	entry := execloopv1alpha1.AppliedObject{
		Task: t.name, APIVersion: t.gvk.GroupVersion().String(), Kind: t.gvk.Kind,
		Namespace: t.key.Namespace, Name: t.key.Name, UID: live.GetUID(),
		ManifestHash: t.hash, LiveHash: h,
	}
	if inv := p.inventory(t.name); inv != nil {
		*inv = entry
	} else {
		p.plan.Status.Objects = append(p.plan.Status.Objects, entry)
	}
	return nil
}

// unserved is the error of a task whose kind the API server does not serve
// (yet). When a task it runs after applies the CustomResourceDefinition of
// that kind, which is Established by now, the task waits for discovery to
// serve the kind; otherwise it fails, and is tried again with backoff, as the
// kind may come later all the same (a CRD installed by someone else, an
// aggregated API back from an outage).
func (p *planRun) unserved(t *taskSpec) error {
	if t.provider != nil {
		return p.waiting(t, fmt.Sprintf("kind %s in %s, which the CustomResourceDefinition of task %s defines, to be served by the API server",
			t.gvk.Kind, t.gvk.GroupVersion(), t.provider.name))
	}
	return fmt.Errorf("task %s: %w", t.name, t.unserved)
}

// waiting is the error of a task whose object is not there yet: in progress
// (no error spent) until the task's timeout, counted from the start of the
// task's current attempt, has passed; a failure after that.
func (p *planRun) waiting(t *taskSpec, what string) error {
	if t.timeout > 0 {
		if ts := p.plan.Status.Task(t.name); ts != nil && ts.StartedTime != nil && p.now().Sub(ts.StartedTime.Time) > t.timeout {
			return fmt.Errorf("%s: still %s after the task's timeout of %s", t.describe(), what, t.timeout)
		}
	}
	return fmt.Errorf("waiting for %s: %s: %w", t.describe(), what, executor.ErrInProgress)
}

// planTask runs one apply, delete or wait task of a Plan.
type planTask struct {
	run *planRun
	t   *taskSpec
}

func (k *planTask) Name() string           { return k.t.name }
func (k *planTask) Timeout() time.Duration { return phaseTimeout }
func (k *planTask) Pre() error             { return k.PreContext(context.Background()) }
func (k *planTask) PerformAction() ([]executor.Task, error) {
	return k.PerformActionContext(context.Background())
}
func (k *planTask) Post() error { return k.PostContext(context.Background()) }

// PreContext checks that the object could be read, and that no other Plan
// manages it.
func (k *planTask) PreContext(ctx context.Context) error {
	st := k.run.evaluate(ctx, k.t)
	if st.err != nil {
		return st.err
	}
	if k.t.kind == kindApply && st.live != nil {
		if owner := st.live.GetLabels()[PlanUIDLabel]; owner != "" && owner != string(k.run.plan.UID) {
			return fmt.Errorf("%s is managed by another Plan (%s): two Plans must not apply the same object",
				k.t.describe(), st.live.GetAnnotations()[PlanAnnotation])
		}
	}
	return nil
}

// PerformActionContext applies or deletes the object when it needs it, and
// returns the tasks this one unblocks.
func (k *planTask) PerformActionContext(ctx context.Context) ([]executor.Task, error) {
	st := k.run.state[k.t.name]
	switch {
	case k.t.kind == kindApply && st.needsApply:
		applied := k.t.manifest.DeepCopy()
		err := k.run.id.client.Apply(ctx, client.ApplyConfigurationFromUnstructured(applied),
			client.FieldOwner(FieldManager), client.ForceOwnership)
		if err != nil {
			return nil, fmt.Errorf("applying %s (%s) as %s: %w", k.t.describe(), st.why, k.run.id.describe(), err)
		}
		st.live = applied
		if err := k.run.record(k.t, applied); err != nil {
			return nil, err
		}
	case k.t.kind == kindDelete && st.live != nil && st.live.GetDeletionTimestamp() == nil:
		err := k.run.id.client.Delete(ctx, st.live, client.PropagationPolicy(metav1.DeletePropagationBackground))
		if err != nil && !apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("deleting %s as %s: %w", k.t.describe(), k.run.id.describe(), err)
		}
	}
	st.assumed = true
	return k.run.unblocked(ctx, k.t), nil
}

// PostContext checks that the object is ready (apply, wait) or gone
// (delete); until then the task is in progress.
func (k *planTask) PostContext(ctx context.Context) error {
	st := k.run.state[k.t.name]
	err := k.check(ctx, st)
	st.assumed = false
	st.done = err == nil
	return err
}

func (k *planTask) check(ctx context.Context, st *taskState) error {
	switch k.t.kind {
	case kindApply:
		ready, reason, err := readiness(ctx, st.live, k.t.readyWhen)
		if err != nil {
			return fmt.Errorf("%s: %w", k.t.describe(), err)
		}
		if !ready {
			return k.run.waiting(k.t, "not ready ("+reason+")")
		}
	case kindDelete:
		if st.live == nil {
			return nil
		}
		live := &unstructured.Unstructured{}
		live.SetGroupVersionKind(k.t.gvk)
		switch err := k.run.id.client.Get(ctx, k.t.key, live); {
		case apierrors.IsNotFound(err):
			return nil
		case err != nil:
			return fmt.Errorf("reading %s as %s: %w", k.t.describe(), k.run.id.describe(), err)
		}
		return k.run.waiting(k.t, "being deleted")
	case kindWait:
		if st.live == nil {
			return k.run.waiting(k.t, "absent")
		}
		if st.readyErr != nil {
			return fmt.Errorf("%s: %w", k.t.describe(), st.readyErr)
		}
		if !st.converged {
			return k.run.waiting(k.t, "not ready ("+st.why+")")
		}
	}
	return nil
}

// compile checks a Plan's tasks and resolves them for its identity. What
// can never work until the spec changes (a cycle, an unknown kind, a
// readyWhen that does not compile, two tasks for one object) is a
// reconcile.TerminalError naming the task: the Plan stalls and nothing is
// applied.
func compile(p *execloopv1alpha1.Plan, id *identity, mapper meta.RESTMapper) (*planRun, error) {
	run := &planRun{plan: p, id: id, mapper: mapper, now: time.Now}
	byName := make(map[string]*taskSpec, len(p.Spec.Tasks))
	targets := map[string]string{} // object → task
	specs := make([]*taskSpec, 0, len(p.Spec.Tasks))
	for i := range p.Spec.Tasks {
		t, err := resolve(p, &p.Spec.Tasks[i], mapper)
		if err != nil {
			return nil, err
		}
		if _, dup := byName[t.name]; dup {
			return nil, invalid("spec.tasks: two tasks are named %s", t.name)
		}
		target := t.gvk.GroupKind().String() + " " + t.key.String()
		if other, dup := targets[target]; dup && (t.kind == kindApply || t.kind == kindDelete) {
			return nil, invalid("task %s: %s is also the object of task %s; one object, one task", t.name, t.describe(), other)
		}
		if t.kind == kindApply || t.kind == kindDelete {
			targets[target] = t.name
		}
		byName[t.name] = t
		specs = append(specs, t)
	}
	for i := range p.Spec.Tasks {
		t := specs[i]
		for _, a := range p.Spec.Tasks[i].After {
			dep, ok := byName[a]
			switch {
			case !ok:
				return nil, invalid("task %s: after names %s, which is not a task of this plan", t.name, a)
			case dep == t:
				return nil, invalid("task %s: after must not name the task itself", t.name)
			}
			t.after = append(t.after, dep)
			dep.dependents = append(dep.dependents, t)
		}
	}
	order, err := dependencyOrder(specs)
	if err != nil {
		return nil, err
	}
	run.tasks = order
	for _, t := range specs {
		if t.mapping == nil {
			t.provider = crdProvider(t)
		}
	}

	run.sortInventory(byName, specs)
	return run, nil
}

// sortInventory keeps the inventory entries of the plan's tasks and marks
// the others stale. Entries of tasks that left the plan (or name another
// object now) are pruned, unless a task of the plan applies that same
// object: then it adopts the object (a renamed task) and the entry just
// goes.
func (p *planRun) sortInventory(byName map[string]*taskSpec, specs []*taskSpec) {
	kept := p.plan.Status.Objects[:0]
	for _, obj := range p.plan.Status.Objects {
		t := byName[obj.Task]
		switch {
		case t != nil && t.kind == kindApply && (sameObject(t, obj) || t.mapping == nil && sameKindAndName(t, obj)):
			// The task's object, or the object of a task whose kind is not
			// served right now: an outage of its API is no removal.
			kept = append(kept, obj)
		case slices.ContainsFunc(specs, func(t *taskSpec) bool { return t.kind == kindApply && sameObject(t, obj) }):
		default:
			kept = append(kept, obj)
			p.stale = append(p.stale, obj)
		}
	}
	p.plan.Status.Objects = kept
}

// invalid is a reconcile.TerminalError: the Plan stalls with this message.
func invalid(format string, args ...any) error {
	return reconcile.TerminalError(fmt.Errorf(format, args...))
}

// sameObject reports whether an inventory entry is the object task t
// applies (the version may differ).
func sameObject(t *taskSpec, obj execloopv1alpha1.AppliedObject) bool {
	return sameKindAndName(t, obj) && obj.Namespace == t.key.Namespace
}

// sameKindAndName reports whether an inventory entry has the group, kind
// and name of task t's object: the same object, when t's namespace is not
// settled yet.
func sameKindAndName(t *taskSpec, obj execloopv1alpha1.AppliedObject) bool {
	gv, _ := schema.ParseGroupVersion(obj.APIVersion)
	return gv.Group == t.gvk.Group && obj.Kind == t.gvk.Kind && obj.Name == t.key.Name
}

// resolve checks one task against the Plan and, when the API server serves
// the task's kind, binds it to that kind.
func resolve(p *execloopv1alpha1.Plan, pt *execloopv1alpha1.PlanTask, mapper meta.RESTMapper) (*taskSpec, error) {
	t := &taskSpec{name: pt.Name}
	ref, manifest, err := target(pt)
	if err != nil {
		return nil, err
	}
	t.kind = kindOf(pt)

	gv, err := schema.ParseGroupVersion(ref.APIVersion)
	if err != nil {
		return nil, invalid("task %s: %s.apiVersion %q: %v", t.name, t.kind, ref.APIVersion, err)
	}
	t.gvk = gv.WithKind(ref.Kind)
	t.key = types.NamespacedName{Namespace: ref.Namespace, Name: ref.Name}
	t.manifest = manifest
	if pt.ReadyWhen != "" {
		if t.readyWhen, err = readyWhenPrograms.compile(pt.ReadyWhen); err != nil {
			return nil, invalid("task %s: readyWhen does not compile: %v", t.name, err)
		}
	}
	if pt.Timeout != nil {
		t.timeout = pt.Timeout.Duration
	}
	return t, t.bind(p, mapper)
}

// bind looks the task's kind up. A kind the API server does not serve (yet)
// leaves the task unbound, with the reason: a CRD may install it later. A
// served kind settles the object's namespace and the apply manifest.
func (t *taskSpec) bind(p *execloopv1alpha1.Plan, mapper meta.RESTMapper) error {
	mapping, err := mapper.RESTMapping(t.gvk.GroupKind(), t.gvk.Version)
	switch {
	case meta.IsNoMatchError(err):
		t.unserved = fmt.Errorf("the API server has no kind %s in %s", t.gvk.Kind, t.gvk.GroupVersion())
		t.noKind = true
		return nil
	case err != nil:
		t.unserved = fmt.Errorf("looking up kind %s in %s: %w", t.gvk.Kind, t.gvk.GroupVersion(), err)
		return nil
	}
	t.mapping = mapping
	if mapping.Scope.Name() == meta.RESTScopeNameNamespace {
		if t.key.Namespace == "" {
			t.key.Namespace = p.Namespace
		}
	} else if t.key.Namespace != "" {
		return invalid("task %s: %s is cluster-scoped, so its namespace must be empty, not %q", t.name, t.gvk.Kind, t.key.Namespace)
	}
	if t.kind == kindApply {
		prepareManifest(p, t.manifest, t.key.Namespace)
		if t.hash, err = hashJSON(t.manifest.Object); err != nil {
			return err
		}
	}
	return nil
}

// crdProvider returns the task that t runs after, directly or through other
// tasks' after, and that applies a CustomResourceDefinition serving t's
// group, kind and version; nil when there is none.
func crdProvider(t *taskSpec) *taskSpec {
	seen := map[*taskSpec]bool{}
	queue := slices.Clone(t.after)
	for len(queue) > 0 {
		d := queue[0]
		queue = queue[1:]
		if seen[d] {
			continue
		}
		seen[d] = true
		if d.kind == kindApply && definesKind(d.manifest, t.gvk) {
			return d
		}
		queue = append(queue, d.after...)
	}
	return nil
}

// definesKind reports whether manifest is a CustomResourceDefinition that
// serves gvk.
func definesKind(manifest *unstructured.Unstructured, gvk schema.GroupVersionKind) bool {
	if manifest == nil || manifest.GroupVersionKind().GroupKind() != (schema.GroupKind{Group: "apiextensions.k8s.io", Kind: "CustomResourceDefinition"}) {
		return false
	}
	group, _, _ := unstructured.NestedString(manifest.Object, "spec", "group")
	kind, _, _ := unstructured.NestedString(manifest.Object, "spec", "names", "kind")
	if group != gvk.Group || kind != gvk.Kind {
		return false
	}
	versions, _, _ := unstructured.NestedSlice(manifest.Object, "spec", "versions")
	for _, v := range versions {
		if m, ok := v.(map[string]any); ok && m["name"] == gvk.Version && m["served"] == true {
			return true
		}
	}
	return false
}

// kindOf says what a task does; target checked that it does one thing.
func kindOf(pt *execloopv1alpha1.PlanTask) taskKind {
	switch {
	case pt.Apply != nil:
		return kindApply
	case pt.Delete != nil:
		return kindDelete
	}
	return kindWait
}

// target returns the object a task is about and, for apply, its manifest.
func target(pt *execloopv1alpha1.PlanTask) (execloopv1alpha1.ObjectReference, *unstructured.Unstructured, error) {
	switch {
	case pt.Apply != nil && pt.Delete == nil && pt.Wait == nil:
		manifest := &unstructured.Unstructured{}
		if err := json.Unmarshal(pt.Apply.Raw, &manifest.Object); err != nil {
			return execloopv1alpha1.ObjectReference{}, nil, invalid("task %s: apply is not a JSON object: %v", pt.Name, err)
		}
		ref := execloopv1alpha1.ObjectReference{
			APIVersion: manifest.GetAPIVersion(), Kind: manifest.GetKind(),
			Name: manifest.GetName(), Namespace: manifest.GetNamespace(),
		}
		if ref.APIVersion == "" || ref.Kind == "" || ref.Name == "" {
			return ref, nil, invalid("task %s: apply needs apiVersion, kind and metadata.name", pt.Name)
		}
		return ref, manifest, nil
	case pt.Delete != nil && pt.Apply == nil && pt.Wait == nil:
		return *pt.Delete, nil, nil
	case pt.Wait != nil && pt.Apply == nil && pt.Delete == nil:
		return *pt.Wait, nil, nil
	}
	return execloopv1alpha1.ObjectReference{}, nil, invalid("task %s: exactly one of apply, delete and wait must be set", pt.Name)
}

// prepareManifest makes an apply manifest the plan's: the target namespace,
// the plan's label, annotation and (in its own namespace) owner reference,
// and none of the fields the API server owns.
func prepareManifest(p *execloopv1alpha1.Plan, m *unstructured.Unstructured, namespace string) {
	delete(m.Object, "status")
	for _, f := range []string{"resourceVersion", "uid", "creationTimestamp", "generation", "managedFields", "selfLink", "deletionTimestamp"} {
		unstructured.RemoveNestedField(m.Object, "metadata", f)
	}
	m.SetNamespace(namespace)
	labels := m.GetLabels()
	if labels == nil {
		labels = map[string]string{}
	}
	labels[PlanUIDLabel] = string(p.UID)
	m.SetLabels(labels)
	annotations := m.GetAnnotations()
	if annotations == nil {
		annotations = map[string]string{}
	}
	annotations[PlanAnnotation] = p.Namespace + "/" + p.Name
	m.SetAnnotations(annotations)
	if namespace == p.Namespace {
		m.SetOwnerReferences(append(m.GetOwnerReferences(), metav1.OwnerReference{
			APIVersion: execloopv1alpha1.GroupVersion.String(), Kind: "Plan", Name: p.Name, UID: p.UID,
			BlockOwnerDeletion: ptr.To(false),
		}))
	}
}

// dependencyOrder sorts the tasks so that each comes after the tasks it
// names in after, keeping spec order where the dependencies allow. A cycle
// is a reconcile.TerminalError that names it.
func dependencyOrder(specs []*taskSpec) ([]*taskSpec, error) {
	placed := make(map[*taskSpec]bool, len(specs))
	order := make([]*taskSpec, 0, len(specs))
	for len(order) < len(specs) {
		progress := false
		for _, t := range specs {
			if placed[t] || slices.ContainsFunc(t.after, func(d *taskSpec) bool { return !placed[d] }) {
				continue
			}
			placed[t] = true
			order = append(order, t)
			progress = true
			break // restart from the top: spec order wins among the ready
		}
		if !progress {
			return nil, invalid("spec.tasks: the after dependencies form a cycle: %s", cycle(specs, placed))
		}
	}
	return order, nil
}

// cycle finds a cycle among the tasks not placed, as "a → b → a".
func cycle(specs []*taskSpec, placed map[*taskSpec]bool) string {
	var start *taskSpec
	for _, t := range specs {
		if !placed[t] {
			start = t
			break
		}
	}
	seen := map[*taskSpec]int{}
	var path []string
	for t := start; ; {
		if i, ok := seen[t]; ok {
			return strings.Join(append(path[i:], t.name), " → ")
		}
		seen[t] = len(path)
		path = append(path, t.name)
		next := t.after[slices.IndexFunc(t.after, func(d *taskSpec) bool { return !placed[d] })]
		t = next
	}
}

// objectName is an inventory entry's namespace/name, or name.
func objectName(obj execloopv1alpha1.AppliedObject) string {
	if obj.Namespace == "" {
		return obj.Name
	}
	return obj.Namespace + "/" + obj.Name
}
