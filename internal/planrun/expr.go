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
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/google/cel-go/cel"
	celast "github.com/google/cel-go/common/ast"
	"github.com/google/cel-go/common/operators"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/common/types/traits"
	"google.golang.org/protobuf/types/known/structpb"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	execloopv1alpha1 "github.com/execloop/execloop/api/v1alpha1"
)

// Expressions in manifests.
//
// A string value of an apply manifest may hold CEL between ${ and }. A
// value that is one expression and nothing else takes the expression's
// type (a number, a bool, a list, a map); expressions inside a longer
// string are interpolated as text. They see two variables: plan, the
// Plan's metadata (plan.metadata.name, namespace, labels, annotations), and
// tasks, the live object of each task as last read, by task name:
// tasks["db"].object.status.endpoint (tasks.db works for names without a
// hyphen). A reference to a task orders the task after it, as after does,
// but asks less: the object must be there (applied or found), not ready.
// A value that is not there yet makes the task wait. $${ writes a literal
// ${. The object's apiVersion, kind, name and namespace hold no
// expressions: what a task applies is known before anything is read. (A
// definition's tasks may name their objects from the instance, which is
// known before anything is read: see definition.go.)

// template is the string values of a manifest that hold expressions.
type template struct {
	fields []*exprField
	refs   []string // the tasks referenced
}

// exprField is a string value of a manifest that holds expressions (or
// only $${ escapes).
type exprField struct {
	path  []any  // map keys (string) and list indices (int) from the root
	at    string // the task's field, as in messages: apply.spec.ports[0].port, wait.name
	parts []exprPart
	whole bool // one expression and nothing else: it keeps its type
}

// exprPart is literal text, or an expression.
type exprPart struct {
	text string
	expr string // the CEL, without ${ }; empty for text
	prog cel.Program
	refs []string
}

// compileTemplate finds and compiles the expressions of a task's apply
// manifest with exprs' programs for a task whose own variable is item
// (forEach; empty for none); nil when it has none. An expression that does
// not compile, or that names a task other than by a constant name, is a
// reconcile.TerminalError naming the task, the field and the expression.
// The object's apiVersion, kind, namespace and name must be known before
// anything is read: its name may hold an expression of a forEach task
// (its objects are told apart by it), and its name and namespace one of
// a definition's that reads no task (evaluated for each instance).
func compileTemplate(exprs expressions, item, task, field string, manifest map[string]any) (*template, error) {
	programs := exprs.forItem(item)
	tmpl := &template{}
	var walk func(v any, path []any) error
	walk = func(v any, path []any) error {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				if err := walk(e, append(slices.Clip(path), k)); err != nil {
					return err
				}
			}
		case []any:
			for i, e := range x {
				if err := walk(e, append(slices.Clip(path), i)); err != nil {
					return err
				}
			}
		case string:
			if !strings.Contains(x, "${") {
				return nil
			}
			f, err := compileField(task, field, x, path, programs)
			if err != nil {
				return err
			}
			tmpl.fields = append(tmpl.fields, f)
		}
		return nil
	}
	if err := walk(manifest, nil); err != nil {
		return nil, err
	}
	if len(tmpl.fields) == 0 {
		return nil, nil
	}
	slices.SortFunc(tmpl.fields, func(a, b *exprField) int { return strings.Compare(a.at, b.at) })
	for _, f := range tmpl.fields {
		if !mayHoldExpression(strings.TrimPrefix(f.at, field+"."), exprs.instanceNames && !f.readsTasks(), item != "") {
			return nil, invalid("task %s: %s holds an expression: the object's apiVersion, kind, name and namespace must be known before anything is read", task, f.at)
		}
		for _, p := range f.parts {
			for _, r := range p.refs {
				if !slices.Contains(tmpl.refs, r) {
					tmpl.refs = append(tmpl.refs, r)
				}
			}
		}
	}
	return tmpl, nil
}

// mayHoldExpression reports whether the field of a manifest at the path at
// may hold an expression: any but apiVersion and kind, and metadata.name
// and metadata.namespace only when it is evaluated per instance (byInstance:
// a definition's expression that reads no task) or, for the name, per item
// (perItem: a forEach task's).
func mayHoldExpression(at string, byInstance, perItem bool) bool {
	switch at {
	case "apiVersion", "kind":
		return false
	case "metadata.namespace":
		return byInstance
	case "metadata.name":
		return byInstance || perItem
	}
	return true
}

// compileField compiles the parts of one string value of the task's field
// (apply, or the name of a delete or wait target).
func compileField(task, field, s string, path []any, programs *programCache) (*exprField, error) {
	f := &exprField{path: slices.Clone(path), at: field}
	if p := pathString(path); p != "" {
		f.at += "." + p
	}
	parts, err := splitExpressions(s)
	if err != nil {
		return nil, invalid("task %s: %s: %v", task, f.at, err)
	}
	for _, p := range parts {
		if p.expr != "" {
			c, err := programs.compile(p.expr)
			if err != nil {
				return nil, invalid("task %s: %s: ${%s} does not compile: %v", task, f.at, p.expr, err)
			}
			p.prog, p.refs = c.prog, c.refs
		}
		f.parts = append(f.parts, p)
	}
	f.whole = len(f.parts) == 1 && f.parts[0].expr != ""
	return f, nil
}

// readsTasks reports whether an expression of f reads a task's object.
func (f *exprField) readsTasks() bool {
	return slices.ContainsFunc(f.parts, func(p exprPart) bool { return len(p.refs) > 0 })
}

// splitExpressions cuts s into text and ${...} expressions. The closing }
// is the one that matches, so an expression may hold CEL maps and quoted
// strings with braces; $${ is a literal ${.
func splitExpressions(s string) ([]exprPart, error) {
	var parts []exprPart
	var text strings.Builder
	for i := 0; i < len(s); {
		switch {
		case strings.HasPrefix(s[i:], "$${"):
			text.WriteString("${")
			i += 3
		case strings.HasPrefix(s[i:], "${"):
			end, err := closingBrace(s, i+2)
			if err != nil {
				return nil, err
			}
			expr := strings.TrimSpace(s[i+2 : end])
			if expr == "" {
				return nil, fmt.Errorf("an empty ${} at offset %d", i)
			}
			if text.Len() > 0 {
				parts = append(parts, exprPart{text: text.String()})
				text.Reset()
			}
			parts = append(parts, exprPart{expr: expr})
			i = end + 1
		default:
			text.WriteByte(s[i])
			i++
		}
	}
	if text.Len() > 0 || len(parts) == 0 {
		parts = append(parts, exprPart{text: text.String()})
	}
	return parts, nil
}

// closingBrace returns the index of the } that closes an expression
// starting at start, skipping quoted strings and nested braces.
func closingBrace(s string, start int) (int, error) {
	depth := 0
	for j := start; j < len(s); j++ {
		switch c := s[j]; c {
		case '\'', '"':
			k := j + 1
			for k < len(s) && s[k] != c {
				if s[k] == '\\' {
					k++
				}
				k++
			}
			if k >= len(s) {
				return 0, fmt.Errorf("a quoted string in the ${ at offset %d is not closed", start-2)
			}
			j = k
		case '{':
			depth++
		case '}':
			if depth == 0 {
				return j, nil
			}
			depth--
		}
	}
	return 0, fmt.Errorf("the ${ at offset %d has no closing }", start-2)
}

// taskRefs lists the tasks an expression reads, which it must name by a
// constant: tasks["name"] or tasks.name.
func taskRefs(ast *cel.Ast) ([]string, error) {
	var refs []string
	for _, e := range celast.MatchDescendants(celast.NavigateAST(ast.NativeRep()), celast.KindMatcher(celast.IdentKind)) {
		if e.AsIdent() != tasksVar {
			continue
		}
		name := ""
		if parent, ok := e.Parent(); ok {
			switch parent.Kind() {
			case celast.SelectKind:
				name = parent.AsSelect().FieldName()
			case celast.CallKind:
				c := parent.AsCall()
				args := c.Args()
				if (c.FunctionName() == operators.Index || c.FunctionName() == operators.OptIndex) && len(args) == 2 &&
					args[0].ID() == e.ID() && args[1].Kind() == celast.LiteralKind {
					if s, ok := args[1].AsLiteral().(types.String); ok {
						name = string(s)
					}
				}
			}
		}
		if name == "" {
			return nil, errors.New(`name a task by a constant, as tasks["name"] or tasks.name`)
		}
		if !slices.Contains(refs, name) {
			refs = append(refs, name)
		}
	}
	return refs, nil
}

// where names the first field and expression that read task name, for
// messages.
func (tmpl *template) where(name string) string {
	for _, f := range tmpl.fields {
		for _, p := range f.parts {
			if slices.Contains(p.refs, name) {
				return fmt.Sprintf("%s: ${%s}", f.at, p.expr)
			}
		}
	}
	return ""
}

// missingValue is the error of an expression whose value is not there yet:
// the task waits for it.
type missingValue struct {
	at, expr string
	cause    error
}

func (m *missingValue) Error() string {
	return fmt.Sprintf("${%s} at %s, not there yet (%v)", m.expr, m.at, m.cause)
}

// fill makes, for this pass, the manifest of a task with expressions from
// the live objects of the tasks they read. Until such an object, or a value
// an expression reads of it, is there, the task waits.
func (p *Run) fill(ctx context.Context, t *taskSpec) error {
	vars, err := p.variables(t, t.tmpl.refs)
	if err != nil {
		return err
	}
	for k, v := range t.bound {
		vars[k] = v
	}
	m, from, err := t.tmpl.resolve(ctx, t.raw.Object, vars, p.secretsRead(t))
	t.fromSecrets = from
	var missing *missingValue
	switch {
	case errors.As(err, &missing):
		return p.waiting(t, missing.Error())
	case err != nil:
		return fmt.Errorf("task %s: %w", t.name, err)
	}
	if !t.kind.writesManifest() { // the name of the object the task names
		name, ok := m["name"].(string)
		if !ok || name == "" {
			return fmt.Errorf("task %s: %s gives no name", t.name, t.tmpl.fields[0].at)
		}
		t.key.Name = name
		return nil
	}
	u := &unstructured.Unstructured{Object: m}
	if t.bound != nil { // a forEach item, named by its expressions
		if t.key.Name = u.GetName(); t.key.Name == "" {
			return fmt.Errorf("task %s: apply.metadata.name gives no name", t.name)
		}
	}
	t.kind.prepare(p.plan, u, t.key.Namespace)
	h, err := hashJSON(u.Object)
	if err != nil {
		return err
	}
	t.manifest, t.hash = u, h
	return nil
}

// variables are the variables of t's expressions that read the tasks
// named refs; until the object of one of them is there, t waits.
func (p *Run) variables(t *taskSpec, refs []string) (map[string]any, error) {
	vars, missing := p.varsOf(refs)
	if missing != "" {
		what := "the object"
		if st := p.state[missing]; st != nil && st.items != nil {
			what = "the objects" // of a forEach task
		}
		return nil, p.waiting(t, fmt.Sprintf("%s of task %s, which %s reads", what, missing, t.where(missing)))
	}
	return vars, nil
}

// varsOf are the variables of expressions that read the tasks named refs,
// with the objects this pass read; missing names a task whose object is
// not there (yet), and vars is nil then.
func (p *Run) varsOf(refs []string) (vars map[string]any, missing string) {
	tasks := make(map[string]any, len(refs))
	for _, r := range refs {
		st := p.state[r]
		if st != nil && st.items != nil { // a forEach task's
			objects, ok := st.objects()
			if !ok {
				return nil, r
			}
			tasks[r] = map[string]any{"objects": objects}
			continue
		}
		if st == nil || st.live == nil {
			return nil, r
		}
		tasks[r] = map[string]any{objectVar: st.live.Object}
	}
	vars = map[string]any{planVar: planVariable(p.plan), tasksVar: tasks}
	if p.instance != nil {
		vars[instanceVar] = p.instance
	}
	return vars, ""
}

// included evaluates t's includeWhen: false leaves the task out. A value
// it reads that is not there yet makes the task wait.
func (p *Run) included(ctx context.Context, t *taskSpec) (bool, error) {
	vars, err := p.variables(t, t.include.refs)
	if err != nil {
		return false, err
	}
	out, details, err := t.include.prog.ContextEval(ctx, vars)
	if err != nil && p.secretsRead(t).met(details, nil) { // its error may show what it derived
		t.fromSecrets.values.addComputed(details)
	}
	switch {
	case err != nil && notThereYet(err):
		return false, p.waiting(t, fmt.Sprintf("includeWhen %q to be known (%v)", t.include.expr, err))
	case err != nil:
		return false, fmt.Errorf("task %s: includeWhen %q: %w", t.name, t.include.expr, err)
	}
	b, ok := out.(types.Bool)
	if !ok {
		return false, fmt.Errorf("task %s: includeWhen %q gives a %s, not a bool", t.name, t.include.expr, out.Type().TypeName())
	}
	return bool(b), nil
}

// skip leaves t out of the plan for this pass, and prunes what it applied.
func (p *Run) skip(t *taskSpec) {
	p.skipped[t.name] = fmt.Sprintf("includeWhen %q is false", t.include.expr)
	for _, obj := range p.plan.Status.Objects { // a forEach task's are many
		if targets(t, obj) {
			p.pruneLater(obj)
		}
	}
	p.plan.Status.ForEach = slices.DeleteFunc(p.plan.Status.ForEach, func(s execloopv1alpha1.ForEachStatus) bool { return s.Task == t.name })
}

// pruneLater marks obj's entry stale, once: the pass prunes it.
func (p *Run) pruneLater(obj execloopv1alpha1.AppliedObject) {
	if !slices.ContainsFunc(p.stale, func(o execloopv1alpha1.AppliedObject) bool { return entryKey(o) == entryKey(obj) }) {
		p.stale = append(p.stale, obj)
	}
}

// SkippedTasks lists the tasks the pass left out, with why (it implements
// execloop/reconciler.TaskSkipper).
func (p *Run) SkippedTasks() map[string]string { return p.skipped }

// planVariable is the plan variable of expressions: the Plan's metadata.
func planVariable(p *execloopv1alpha1.Plan) map[string]any {
	return map[string]any{"metadata": map[string]any{
		"name": p.Name, "namespace": p.Namespace, "labels": anyValues(p.Labels), "annotations": anyValues(p.Annotations),
	}}
}

// anyValues is m as expressions read it.
func anyValues(m map[string]string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// resolve returns a copy of manifest with the values of the template's
// fields, evaluated with vars. A value not there yet is a *missingValue; a
// value of a type its place cannot take is an error naming the field and
// the expression. The fields an expression computed from one of secrets
// (the values of Secrets that vars hold; nil for none), and the results
// of those expressions, are in from, also when an error stopped it.
func (tmpl *template) resolve(ctx context.Context, manifest map[string]any, vars map[string]any, secrets *secretValues) (_ map[string]any, from fromSecrets, _ error) {
	out := runtime.DeepCopyJSON(manifest)
	for _, f := range tmpl.fields {
		v, err := f.value(ctx, vars, secrets, &from)
		if err != nil {
			return nil, from, err
		}
		setPath(out, f.path, v)
	}
	return out, from, nil
}

func (f *exprField) value(ctx context.Context, vars map[string]any, secrets *secretValues, from *fromSecrets) (any, error) {
	var text strings.Builder
	for _, p := range f.parts {
		if p.expr == "" {
			text.WriteString(p.text)
			continue
		}
		out, details, err := p.prog.ContextEval(ctx, vars)
		if err != nil {
			if secrets.met(details, nil) { // its error may show what it derived
				from.values.addComputed(details)
			}
			if notThereYet(err) {
				return nil, &missingValue{at: f.at, expr: p.expr, cause: err}
			}
			return nil, fmt.Errorf("%s: ${%s}: %w", f.at, p.expr, err)
		}
		secret := secrets.met(details, out)
		if f.whole {
			v, err := jsonOf(out)
			if err != nil {
				return nil, fmt.Errorf("%s: ${%s} gives a %s, which a manifest cannot hold", f.at, p.expr, out.Type().TypeName())
			}
			if secret || secrets.holdsLeaf(v) { // a map or a list of a Secret's values
				from.record(f.path, v)
			}
			return v, nil
		}
		s, ok := textOf(out)
		if !ok {
			return nil, fmt.Errorf("%s: ${%s} gives a %s, which cannot be part of a string", f.at, p.expr, out.Type().TypeName())
		}
		if secret {
			from.record(f.path, s)
		}
		text.WriteString(s)
	}
	return text.String(), nil
}

// notThereYet reports an evaluation error that says a value is missing: a
// field or a list element a controller has not written yet.
func notThereYet(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "no such key") || strings.Contains(msg, "no such attribute") || strings.Contains(msg, "out of range")
}

// textOf formats a scalar for interpolation.
func textOf(v ref.Val) (string, bool) {
	switch x := v.(type) {
	case types.String:
		return string(x), true
	case types.Int:
		return strconv.FormatInt(int64(x), 10), true
	case types.Uint:
		return strconv.FormatUint(uint64(x), 10), true
	case types.Double:
		return strconv.FormatFloat(float64(x), 'g', -1, 64), true
	case types.Bool:
		return strconv.FormatBool(bool(x)), true
	}
	return "", false
}

// jsonOf converts a CEL value into what an unstructured manifest holds:
// JSON values, with whole numbers as int64. Maps and lists are walked, so
// that those of any provider convert (the instance variable's are the API
// server's, which do not convert to JSON themselves).
func jsonOf(v ref.Val) (any, error) {
	switch x := v.(type) {
	case traits.Mapper:
		out := map[string]any{}
		for it := x.Iterator(); it.HasNext() == types.True; {
			k := it.Next()
			ks, ok := k.(types.String)
			if !ok {
				return nil, fmt.Errorf("a map key of type %s", k.Type().TypeName())
			}
			e, err := jsonOf(x.Get(k))
			if err != nil {
				return nil, err
			}
			out[string(ks)] = e
		}
		return out, nil
	case traits.Lister:
		out := []any{}
		for it := x.Iterator(); it.HasNext() == types.True; {
			e, err := jsonOf(it.Next())
			if err != nil {
				return nil, err
			}
			out = append(out, e)
		}
		return out, nil
	}
	native, err := v.ConvertToNative(reflect.TypeFor[*structpb.Value]())
	if err != nil {
		return nil, err
	}
	pb, ok := native.(*structpb.Value)
	if !ok {
		return nil, errors.New("not a JSON value")
	}
	return wholeNumbers(pb.AsInterface()), nil
}

func wholeNumbers(v any) any {
	switch x := v.(type) {
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1<<53 {
			return int64(x)
		}
	case map[string]any:
		for k, e := range x {
			x[k] = wholeNumbers(e)
		}
	case []any:
		for i, e := range x {
			x[i] = wholeNumbers(e)
		}
	}
	return v
}

// setPath sets the value at path, which exists in m.
func setPath(m map[string]any, path []any, v any) {
	var cur any = m
	for i, step := range path {
		last := i == len(path)-1
		switch k := step.(type) {
		case string:
			mm := cur.(map[string]any)
			if last {
				mm[k] = v
				return
			}
			cur = mm[k]
		case int:
			l := cur.([]any)
			if last {
				l[k] = v
				return
			}
			cur = l[k]
		}
	}
}

// pathString writes a path as in messages: spec.ports[0].port.
func pathString(path []any) string {
	var b strings.Builder
	for _, step := range path {
		switch k := step.(type) {
		case string:
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(k)
		case int:
			fmt.Fprintf(&b, "[%d]", k)
		}
	}
	return b.String()
}
