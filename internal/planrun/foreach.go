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
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/google/cel-go/common/types/traits"

	execloopv1alpha1 "github.com/execloop/execloop/api/v1alpha1"
	"github.com/execloop/execloop/execloop/executor"
)

// forEach.
//
// A task with forEach applies one object per item of a list. Each pass
// evaluates the list and makes, of the task, one taskSpec per item with the
// item bound to the task's variable (taskSpec.bound), which the kind's
// methods take as they take any task: its manifest rendered, read, judged,
// applied, recorded in the inventory and checked on its own. An item's
// object is known by its group, kind, namespace and name, never by its
// position, so a reordered list renders the same objects and writes
// nothing. The inventory's entries of the task whose objects no item
// renders any more are pruned.
//
// The binding is generic: a task's own variables sit beside plan and tasks
// (newManifestEnv, objectVariables); a definition's instance variable,
// which every task of a definition sees, goes beside plan and tasks in the
// same way.

// maxItems is the most items a forEach may give (kro has the same limit): a
// longer list fails the task, with nothing of it applied.
const maxItems = 1000

// maxFailing is how many failing items a task's status names.
const maxFailing = 3

// reservedVariables are the names a forEach variable may not take: the
// variables of expressions (instance is a definition's) and CEL's own.
var reservedVariables = []string{"plan", "tasks", "instance", "self", "object",
	"true", "false", "null", "in", "as", "break", "const", "continue", "else", "for", "function",
	"if", "import", "let", "loop", "package", "namespace", "return", "var", "void", "while"}

// celIdentifier is what a forEach variable looks like.
var celIdentifier = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]{0,62}$`)

// forEach is a task's forEach, compiled: its variable and the expression
// of its list.
type forEach struct {
	variable string
	part     exprPart
}

// list is the expression of the list; nil for no forEach.
func (e *forEach) list() *exprPart {
	if e == nil {
		return nil
	}
	return &e.part
}

// variable is the name of t's own variable; empty for none.
func (t *taskSpec) variable() string {
	if t.each == nil {
		return ""
	}
	return t.each.variable
}

// compileForEach checks and compiles pt's forEach; nil when it has none.
// What cannot work is a reconcile.TerminalError naming the task.
func compileForEach(t *taskSpec, pt *execloopv1alpha1.PlanTask) (*forEach, error) {
	if pt.ForEach == nil {
		return nil, nil
	}
	if _, ok := t.kind.(applyKind); !ok {
		return nil, invalid("task %s: forEach goes with apply only (%s names one object)", t.name, t.kind.field())
	}
	if len(pt.ForEach) != 1 {
		return nil, invalid("task %s: forEach must map exactly one variable to a list, not %d", t.name, len(pt.ForEach))
	}
	for name, value := range pt.ForEach {
		if !celIdentifier.MatchString(name) || slices.Contains(reservedVariables, name) {
			return nil, invalid("task %s: forEach's variable %q must be a CEL identifier of at most 63 characters other than %s",
				t.name, name, strings.Join(reservedVariables[:5], ", "))
		}
		parts, err := splitExpressions(value)
		if err != nil || len(parts) != 1 || parts[0].expr == "" {
			return nil, invalid("task %s: forEach.%s must be one ${...} expression that gives a list, not %q", t.name, name, value)
		}
		c, err := t.exprs.manifest.compile(parts[0].expr)
		if err != nil {
			return nil, invalid("task %s: forEach.%s: ${%s} does not compile: %v", t.name, name, parts[0].expr, err)
		}
		return &forEach{variable: name, part: exprPart{expr: parts[0].expr, prog: c.prog, refs: c.refs}}, nil
	}
	return nil, nil
}

// item is one item of a forEach task in a pass: a taskSpec of its own,
// the task's with the item bound, and what the pass found of its object.
type item struct {
	label   string // "item 2 (\"eu\")", in messages
	t       *taskSpec
	st      *taskState
	applied bool  // its object is there as its manifest says
	ready   bool  // and ready
	failure error // it failed in this pass, for good
}

// objects are the live objects of a forEach task's items, in the list's
// order; false while one of them is not there.
func (st *taskState) objects() ([]any, bool) {
	out := make([]any, 0, len(st.items))
	for _, it := range st.items {
		if it.st.live == nil {
			return nil, false
		}
		out = append(out, it.st.live.Object)
	}
	return out, true
}

// expand evaluates t's list and renders, reads and judges each item's
// object. Two items rendering one object, an item rendering another task's,
// or too many items, are an error of the task before anything is read; a
// value not there yet makes the task wait. Once the list is rendered, the
// inventory's entries of t that no item renders are pruned, and those that
// one renders again are kept.
func (p *Run) expand(ctx context.Context, t *taskSpec, st *taskState) error {
	list, err := p.forEachList(ctx, t)
	if err != nil {
		return err
	}
	items, seen, err := p.render(ctx, t, list)
	if err != nil {
		return err
	}
	for _, obj := range p.plan.Status.Objects {
		if targets(t, obj) && seen[entryKey(obj)] == nil {
			p.pruneLater(obj) // its item is gone
		}
	}
	// An entry an item renders again is the task's, even when Compile
	// found no task for it (the task was renamed): not to be pruned.
	p.stale = slices.DeleteFunc(p.stale, func(obj execloopv1alpha1.AppliedObject) bool { return seen[entryKey(obj)] != nil })
	for i := range p.plan.Status.Objects {
		if obj := &p.plan.Status.Objects[i]; seen[entryKey(*obj)] != nil {
			obj.Task = t.name
		}
	}
	st.items = items
	st.converged = true
	for _, it := range items {
		t.kind.read(ctx, p, it.t, it.st)
		it.applied = it.st.live != nil && !it.st.needsApply && it.st.err == nil
		it.ready = it.applied && it.st.converged
		st.converged = st.converged && it.st.converged
		if it.st.err != nil && st.err == nil {
			st.err = fmt.Errorf("%s: %w", it.label, it.st.err)
		}
	}
	p.countItems(t, st)
	return st.err
}

// render makes an item of t for each value of list, its manifest filled,
// and returns them with the items by their objects' keys (objectKey). An
// object that two items, or an item and another task, render is an error.
func (p *Run) render(ctx context.Context, t *taskSpec, list []any) ([]*item, map[string]*item, error) {
	others := map[string]string{} // the objects of the plan's other tasks whose names are known: task
	for _, o := range p.tasks {
		if o != t && o.kind.exclusive() && o.each == nil && o.mapping != nil && !strings.Contains(o.key.Name, "${") {
			others[objectKey(o)] = o.name
		}
	}
	t.fromSecrets = fromSecrets{}
	items := make([]*item, 0, len(list))
	seen := make(map[string]*item, len(list))
	for i, v := range list {
		it := &item{label: itemLabel(i, v), t: t.itemSpec(v), st: &taskState{}}
		if it.t.tmpl != nil {
			err := p.fill(ctx, it.t)
			t.fromSecrets.add(&it.t.fromSecrets)
			if err != nil {
				return nil, nil, fmt.Errorf("%s: %w", it.label, err)
			}
		}
		key := objectKey(it.t)
		if other := seen[key]; other != nil {
			return nil, nil, fmt.Errorf("task %s: %s and %s both render %s: one object, one item; nothing of the task is applied",
				t.name, other.label, it.label, it.t.describe())
		}
		if other, ok := others[key]; ok {
			return nil, nil, fmt.Errorf("task %s: %s renders %s, which is also the object of task %s: one object, one task; nothing of the task is applied",
				t.name, it.label, it.t.describe(), other)
		}
		seen[key] = it
		items = append(items, it)
	}
	return items, seen, nil
}

// forEachList evaluates t's list: a list of at most maxItems items, as
// JSON values.
func (p *Run) forEachList(ctx context.Context, t *taskSpec) ([]any, error) {
	e := t.each.part
	vars, err := p.variables(t, e.refs)
	if err != nil {
		return nil, err
	}
	out, _, err := e.prog.ContextEval(ctx, vars)
	switch {
	case err != nil && notThereYet(err):
		return nil, p.waiting(t, fmt.Sprintf("forEach.%s ${%s} to be known (%v)", t.each.variable, e.expr, err))
	case err != nil:
		return nil, fmt.Errorf("task %s: forEach.%s ${%s}: %w", t.name, t.each.variable, e.expr, err)
	}
	if _, ok := out.(traits.Lister); !ok {
		return nil, fmt.Errorf("task %s: forEach.%s ${%s} gives a %s, not a list", t.name, t.each.variable, e.expr, out.Type().TypeName())
	}
	v, err := jsonOf(out)
	if err != nil {
		return nil, fmt.Errorf("task %s: forEach.%s ${%s}: %w", t.name, t.each.variable, e.expr, err)
	}
	list, _ := v.([]any)
	if len(list) > maxItems {
		return nil, fmt.Errorf("task %s: forEach.%s gives %d items, more than the %d a task may have; nothing of the task is applied",
			t.name, t.each.variable, len(list), maxItems)
	}
	return list, nil
}

// itemSpec is t for one item: v bound to t's variable, its own manifest
// and object, made in the pass (Run.fill).
func (t *taskSpec) itemSpec(v any) *taskSpec {
	c := *t
	c.each = nil
	c.bound = map[string]any{t.each.variable: v}
	c.fromSecrets = fromSecrets{}
	return &c
}

// itemLabel names an item in messages: its position and, shortened, its
// value.
func itemLabel(i int, v any) string {
	b, _ := json.Marshal(v)
	s := string(b)
	const most = 60
	if len(s) > most {
		s = s[:most] + "…"
	}
	return fmt.Sprintf("item %d (%s)", i, s)
}

// objectKey identifies t's object as entryKey identifies an inventory
// entry's.
func objectKey(t *taskSpec) string {
	return t.gvk.Group + "/" + t.gvk.Kind + "/" + t.key.Namespace + "/" + t.key.Name
}

// preItems checks each item's object as the kind does: one that fails
// fails the task before anything of it is applied.
func (k *planTask) preItems(ctx context.Context, st *taskState) error {
	for _, it := range st.items {
		if err := k.t.kind.pre(ctx, &planTask{run: k.run, t: it.t}, it.st); err != nil {
			return fmt.Errorf("%s: %w", it.label, err)
		}
	}
	return nil
}

// actItems writes the objects of the items that need it, once the
// inventory has room for all their new entries: a list that does not fit
// waits, with nothing of it applied. An item that fails does not stop the
// others.
func (k *planTask) actItems(ctx context.Context, st *taskState) error {
	added := 0
	for _, it := range st.items {
		if it.st.needsApply && k.run.inventory(it.t) == nil {
			added++
		}
	}
	if n := len(k.run.plan.Status.Objects); added > 0 && n+added > maxInventory {
		return k.run.waiting(k.t, fmt.Sprintf("not applied until the inventory has room for %d more objects (status.objects holds %d objects, at most %d, %d of them to be pruned)",
			added, n, maxInventory, len(k.run.stale)))
	}
	var waiting []*item
	for _, it := range st.items {
		err := k.t.kind.act(ctx, &planTask{run: k.run, t: it.t}, it.st)
		it.applied = err == nil
		waiting = it.sort(err, waiting)
	}
	k.run.countItems(k.t, st)
	return k.itemsError(st, waiting)
}

// checkItems checks each item's object as the kind does: the task is done
// once every item's is.
func (k *planTask) checkItems(ctx context.Context, st *taskState) error {
	var waiting []*item
	for _, it := range st.items {
		if it.failure != nil {
			continue
		}
		err := k.t.kind.check(ctx, &planTask{run: k.run, t: it.t}, it.st)
		it.ready = err == nil
		waiting = it.sort(err, waiting)
	}
	k.run.countItems(k.t, st)
	return k.itemsError(st, waiting)
}

// sort records the error of the item's write or check: in progress, it
// adds the item to waiting, with why; else it is the item's failure.
func (it *item) sort(err error, waiting []*item) []*item {
	switch {
	case errors.Is(err, executor.ErrInProgress):
		it.st.why = strings.TrimSuffix(err.Error(), ": "+executor.ErrInProgress.Error())
		return append(waiting, it)
	case err != nil:
		it.failure = err
	}
	return waiting
}

// itemsError is the error of a forEach task whose items failed, naming
// the first few; else, when items wait, an error in progress naming
// the first few of them; else nil.
func (k *planTask) itemsError(st *taskState, waiting []*item) error {
	var failed []string
	for _, it := range st.items {
		if it.failure != nil {
			failed = append(failed, it.label+": "+it.failure.Error())
		}
	}
	switch {
	case len(failed) > 0:
		return fmt.Errorf("task %s: %d of %d items failed: %s", k.t.name, len(failed), len(st.items), firstFew(failed))
	case len(waiting) > 0:
		why := make([]string, len(waiting))
		for i, it := range waiting {
			why[i] = it.label + ": " + it.st.why
		}
		return k.run.waiting(k.t, fmt.Sprintf("%d of %d items not ready: %s", len(waiting), len(st.items), firstFew(why)))
	}
	return nil
}

// firstFew joins the first maxFailing of msgs, saying how many it leaves
// out.
func firstFew(msgs []string) string {
	if len(msgs) <= maxFailing {
		return strings.Join(msgs, "; ")
	}
	return strings.Join(msgs[:maxFailing], "; ") + fmt.Sprintf("; and %d more", len(msgs)-maxFailing)
}

// countItems writes t's counts into the plan's status.forEach, one entry
// per task however many items it has.
func (p *Run) countItems(t *taskSpec, st *taskState) {
	c := execloopv1alpha1.ForEachStatus{Task: t.name, Desired: int32(len(st.items))}
	for _, it := range st.items {
		var why string
		switch {
		case it.failure != nil:
			c.Failed++
			why = it.failure.Error()
		case it.st.err != nil:
			why = it.st.err.Error()
		case !it.ready && it.st.why != "":
			why = it.st.why
		}
		if it.applied {
			c.Applied++
		}
		if it.ready {
			c.Ready++
		}
		if why != "" && len(c.Failing) < maxFailing {
			c.Failing = append(c.Failing, truncate(p.redact(errors.New(it.label+": "+why)).Error(), 512))
		}
	}
	all := &p.plan.Status.ForEach
	if i := slices.IndexFunc(*all, func(s execloopv1alpha1.ForEachStatus) bool { return s.Task == t.name }); i >= 0 {
		(*all)[i] = c
		return
	}
	*all = append(*all, c)
}

// sortForEachStatus drops the status.forEach entries of tasks that have
// no forEach (any more).
func (p *Run) sortForEachStatus(specs []*taskSpec) {
	p.plan.Status.ForEach = slices.DeleteFunc(p.plan.Status.ForEach, func(s execloopv1alpha1.ForEachStatus) bool {
		return !slices.ContainsFunc(specs, func(t *taskSpec) bool { return t.name == s.Task && t.each != nil })
	})
}

// truncate cuts s to at most n bytes, at a rune's start.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
