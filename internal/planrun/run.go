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
	"sync"
	"time"

	"github.com/google/cel-go/common/types/ref"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/client"

	execloopv1alpha1 "github.com/execloop/execloop/api/v1alpha1"
	"github.com/execloop/execloop/execloop/executor"
)

// Run is the execloop plan of one pass of a Plan. Create asks the API
// server, as the Plan's identity, which tasks' objects are not converged
// (missing, changed by someone else, not ready, still present) and returns
// those whose after tasks are all done; a task that succeeds returns, as its
// children, the tasks it unblocks.
type Run struct {
	plan   *execloopv1alpha1.Plan // the reconciled object: tasks update its inventory
	id     *Identity
	mapper meta.RESTMapper
	// instance is the instance variable of expressions, when the run is
	// an instance's of a definition (definition.go); nil for a Plan.
	instance ref.Val
	// Watches are the operator's informers, which the pass reads through
	// and keeps; nil reads the API server (a preview).
	Watches Watches
	// Recorder emits the pass's events (Recreating); nil emits none.
	Recorder events.EventRecorder
	tasks    []*taskSpec // in dependency order
	stale    []execloopv1alpha1.AppliedObject
	state    map[string]*taskState // this pass's, by task name
	skipped  map[string]string     // this pass's tasks left out, by name: why
	now      func() time.Time

	secrets   *secretValues // this pass's, once computed (redact.go)
	secretsMu sync.Mutex    // guards secrets
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
	skipped    bool // left out: its includeWhen is false
	// items are a forEach task's, once its list is known and rendered
	// (Run.expand); nil for a task without forEach, or before.
	items []*item
}

var (
	_ executor.ContextPlan = (*Run)(nil)
	_ executor.Finisher    = (*Run)(nil)
	_ executor.ContextTask = (*planTask)(nil)
	_ executor.TimeoutTask = (*planTask)(nil)
)

// phaseTimeout bounds the phases of one execution of a task (its reads and
// writes in one pass; the wait for readiness across passes is the task's
// spec.tasks[].timeout): an API server that stops answering fails the task
// instead of holding a worker.
const phaseTimeout = 2 * time.Minute

// TaskNames lists the plan's tasks in spec order, for the status.
func (p *Run) TaskNames() []string {
	names := make([]string, len(p.plan.Spec.Tasks))
	for i, t := range p.plan.Spec.Tasks {
		names[i] = t.Name
	}
	return names
}

// Create calls CreateContext with context.Background().
func (p *Run) Create() ([]executor.Task, error) { return p.CreateContext(context.Background()) }

// CreateContext returns the tasks to run in this pass: the tasks whose after
// tasks are done and whose object is not converged (or whose success is not
// recorded yet), then the pruning of what removed tasks left behind.
func (p *Run) CreateContext(ctx context.Context) ([]executor.Task, error) {
	p.state = make(map[string]*taskState, len(p.tasks))
	p.skipped = map[string]string{}
	p.secretsChanged()
	var out []executor.Task
	for _, t := range p.tasks {
		if !p.depsDone(t) {
			continue
		}
		st := p.evaluate(ctx, t)
		if st.skipped || st.converged && p.settled(t) {
			st.done = true
			continue
		}
		st.returned = true
		out = append(out, &planTask{run: p, t: t})
	}
	// Pruned together, the stale objects go in dependency order
	// (deletableNow); the ones to let go are released at once.
	var prune []execloopv1alpha1.AppliedObject
	for _, obj := range p.stale {
		if k := entryKind(obj).removal(entryTask{name: removalName("prune:", obj, p.stale), plan: p.plan, id: p.id, mapper: p.mapper, obj: obj}); k != nil {
			out = append(out, k)
			continue
		}
		if obj.Release {
			out = append(out, &releaseTask{entryTask{name: removalName("prune:", obj, p.stale), plan: p.plan, id: p.id, mapper: p.mapper, obj: obj}})
			continue
		}
		prune = append(prune, obj)
	}
	for _, obj := range deletableNow(p.plan, prune) {
		out = append(out, &removal{name: removalName("prune:", obj, p.stale), plan: p.plan, id: p.id, mapper: p.mapper, obj: obj})
	}
	if p.Watches != nil {
		// Here, once the names of the objects read are resolved.
		p.Watches.Retain(client.ObjectKeyFromObject(p.plan), p.id, p.watches())
	}
	return redacting(p, out), nil
}

// watches are the watches the plan's passes read through, as its tasks'
// kinds say.
func (p *Run) watches() []Watch {
	var out []Watch
	for _, t := range p.tasks {
		if t.mapping == nil {
			continue
		}
		if w, ok := t.kind.watch(t); ok {
			out = append(out, w)
		}
	}
	return out
}

// depsDone reports whether every task t runs after is done in this pass
// (or is about to be: its PerformAction succeeded and its Post is next).
func (p *Run) depsDone(t *taskSpec) bool {
	for _, d := range t.after {
		st := p.state[d.name]
		if st == nil || (!st.done && !st.assumed) {
			return false
		}
	}
	// The tasks its expressions read are not waited for here: the task
	// itself waits for their objects (Run.fill), saying so.
	return true
}

// evaluate reads a task's object, once per pass, and decides whether it is
// converged. An apply task's object is read from the operator's Watches
// (the cache of the plans' objects) when the run has them; only a verdict
// that the object needs applying again, which a cache that lags behind
// the last apply could give, is checked against the API server.
func (p *Run) evaluate(ctx context.Context, t *taskSpec) *taskState {
	if st := p.state[t.name]; st != nil {
		return st
	}
	st := &taskState{}
	p.state[t.name] = st
	defer p.secretsChanged() // its object, manifest and fromSecrets
	if t.include != nil {
		included, err := p.included(ctx, t)
		if err != nil {
			st.err = err
			return st
		}
		if !included {
			st.skipped = true
			p.skip(t)
			return st
		}
	}
	if t.mapping == nil {
		if t.noKind && t.kind.unservedDone() {
			st.converged = true
			return st
		}
		st.err = p.unserved(t)
		return st
	}
	if t.each != nil {
		st.err = p.expand(ctx, t, st)
		return st
	}
	if t.tmpl != nil {
		if err := p.fill(ctx, t); err != nil {
			st.err = err
			return st
		}
	}
	if w, ok := t.kind.watch(t); ok && w.Target != "" && p.Watches != nil {
		p.Watches.WatchTarget(ctx, client.ObjectKeyFromObject(p.plan), p.id, t.mapping, t.key)
	}
	t.kind.read(ctx, p, t, st)
	return st
}

// get reads t's object from the API server, as the plan's identity, and
// judges it.
func (p *Run) get(ctx context.Context, t *taskSpec, st *taskState) {
	live := &unstructured.Unstructured{}
	live.SetGroupVersionKind(t.gvk)
	switch err := p.id.client.Get(ctx, t.key, live); {
	case apierrors.IsNotFound(err):
	case err != nil:
		st.err = fmt.Errorf("reading %s as %s: %w", t.describe(), p.id.Describe(), err)
		return
	default:
		st.live = live
	}
	t.kind.judge(ctx, p, t, st)
}

// Finished reports, after a pass in which every task succeeded, whether the
// whole plan is done: every task converged before the pass or succeeded in
// it, and nothing is left to prune. Then the next Create would return no
// tasks, and this pass is the last.
func (p *Run) Finished() bool {
	for _, t := range p.tasks {
		if st := p.state[t.name]; st == nil || !st.done {
			return false
		}
	}
	for _, obj := range p.stale {
		if holds(p.plan, obj) {
			return false
		}
	}
	return true
}

// settled reports whether the status already shows the task succeeded. A
// task whose object converged while its status says otherwise (it was
// waiting, and what it waited for happened) still runs, doing nothing but
// its checks, so that its success is recorded and its dependents follow it.
// A success for an earlier generation counts (Succeeded, not SucceededFor):
// whether the task is done for the current spec is what converged says,
// from the live object, so a spec change runs again only the tasks whose
// objects no longer match it.
func (p *Run) settled(t *taskSpec) bool {
	return p.plan.Status.Succeeded(t.name)
}

// unblocked returns the tasks that parent's success unblocks: dependents
// whose other after tasks are done and that are not converged and settled.
// A dependent that is both is done at once, and what it unblocks counts
// too.
func (p *Run) unblocked(ctx context.Context, parent *taskSpec) []executor.Task {
	var out []executor.Task
	for _, d := range parent.dependents {
		if st := p.state[d.name]; (st != nil && (st.returned || st.done)) || !p.depsDone(d) {
			continue
		}
		st := p.evaluate(ctx, d)
		if st.skipped || st.converged && p.settled(d) {
			st.done = true
			out = append(out, p.unblocked(ctx, d)...)
			continue
		}
		st.returned = true
		out = append(out, &planTask{run: p, t: d})
	}
	return out
}

// unserved is the error of a task whose kind the API server does not serve
// (yet). When a task it runs after applies the CustomResourceDefinition of
// that kind, which is Established by now, the task waits for discovery to
// serve the kind; otherwise it fails, and is tried again with backoff, as the
// kind may come later all the same (a CRD installed by someone else, an
// aggregated API back from an outage).
func (p *Run) unserved(t *taskSpec) error {
	if t.provider != nil {
		return p.waiting(t, fmt.Sprintf("kind %s in %s, which the CustomResourceDefinition of task %s defines, to be served by the API server",
			t.gvk.Kind, t.gvk.GroupVersion(), t.provider.name))
	}
	return fmt.Errorf("task %s: %w", t.name, t.unserved)
}

// waiting is the error of a task whose object is not there yet: in progress
// (no error spent) until the task's timeout, counted from the start of the
// task's current attempt, has passed; a failure after that.
func (p *Run) waiting(t *taskSpec, what string) error {
	if t.timeout > 0 {
		if ts := p.plan.Status.Task(t.name); ts != nil && ts.StartedTime != nil && p.now().Sub(ts.StartedTime.Time) > t.timeout {
			return fmt.Errorf("%s: still %s after the task's timeout of %s", t.describe(), what, t.timeout)
		}
	}
	return fmt.Errorf("waiting for %s: %s: %w", t.describe(), what, executor.ErrInProgress)
}

// judgeReady judges a task whose object st.live is there and as the task
// wants it: converged once it is ready, unless its failedWhen holds (then
// it is not, and the task runs, for its check to fail).
func judgeReady(ctx context.Context, t *taskSpec, st *taskState) {
	if err := failure(ctx, st.live, t.failedWhen, t.failedExpr, t.bound); err != nil {
		st.why = err.Error()
		return
	}
	st.converged, st.why, st.readyErr = readiness(ctx, st.live, t.readyWhen, t.bound)
}

// checkReady is the check of a task that wrote live: an error when its
// failedWhen holds, in progress (waiting) until it is ready.
func (k *planTask) checkReady(ctx context.Context, live *unstructured.Unstructured) error {
	if err := failure(ctx, live, k.t.failedWhen, k.t.failedExpr, k.t.bound); err != nil {
		return fmt.Errorf("%s: %w", k.t.describe(), err)
	}
	ready, reason, err := readiness(ctx, live, k.t.readyWhen, k.t.bound)
	if err != nil {
		return fmt.Errorf("%s: %w", k.t.describe(), err)
	}
	if !ready {
		return k.run.waiting(k.t, "not ready ("+reason+")")
	}
	return nil
}

// planTask runs one task of a Plan, as its kind says.
type planTask struct {
	run *Run
	t   *taskSpec
}

func (k *planTask) Name() string           { return k.t.name }
func (k *planTask) Timeout() time.Duration { return phaseTimeout }
func (k *planTask) Pre() error             { return k.PreContext(context.Background()) }
func (k *planTask) PerformAction() ([]executor.Task, error) {
	return k.PerformActionContext(context.Background())
}
func (k *planTask) Post() error { return k.PostContext(context.Background()) }

// PreContext checks that the object could be read, and what the task's
// kind checks.
func (k *planTask) PreContext(ctx context.Context) error {
	st := k.run.evaluate(ctx, k.t)
	if st.err != nil {
		return st.err
	}
	if k.t.each != nil {
		return k.preItems(ctx, st)
	}
	return k.t.kind.pre(ctx, k, st)
}

// PerformActionContext does the task's write, when it needs one, and
// returns the tasks this one unblocks.
func (k *planTask) PerformActionContext(ctx context.Context) ([]executor.Task, error) {
	st := k.run.state[k.t.name]
	var err error
	if k.t.each != nil {
		err = k.actItems(ctx, st)
	} else {
		err = k.t.kind.act(ctx, k, st)
	}
	if err != nil {
		return nil, err
	}
	st.assumed = true
	return k.run.unblocked(ctx, k.t), nil
}

// PostContext checks that the object is as the task's kind wants it (ready,
// gone); until then the task is in progress.
func (k *planTask) PostContext(ctx context.Context) error {
	st := k.run.state[k.t.name]
	var err error
	if k.t.each != nil {
		err = k.checkItems(ctx, st)
	} else {
		err = k.t.kind.check(ctx, k, st)
	}
	st.assumed = false
	st.done = err == nil
	return err
}
