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
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/cel-go/cel"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	execloopv1alpha1 "github.com/execloop/execloop/api/v1alpha1"
)

// taskSpec is a task of a Plan, checked and resolved: its readyWhen
// compiled and, once the API server serves its object's kind, its mapping
// and namespace settled.
type taskSpec struct {
	name       string
	kind       kind
	gvk        schema.GroupVersionKind
	mapping    *meta.RESTMapping    // nil while the kind is not served
	unserved   error                // why mapping is nil
	noKind     bool                 // the API server said it has no such kind
	provider   *taskSpec            // the task before this one that applies the CRD of its kind, if any
	key        types.NamespacedName // the object's
	manifest   *unstructured.Unstructured
	hash       string                     // of manifest
	tmpl       *template                  // the manifest's expressions; nil when it has none
	raw        *unstructured.Unstructured // the manifest as written, when tmpl is not nil
	refs       []*taskSpec                // the tasks its expressions read
	exprs      expressions                // where its manifest's and includeWhen's programs come from
	include    *exprPart                  // includeWhen; nil when it has none
	read       bool                       // other tasks' expressions read its object
	readyWhen  cel.Program
	failedWhen cel.Program
	failedExpr string // failedWhen's text, for messages
	timeout    time.Duration
	recreate   bool                            // immutableFields: Recreate
	createOnly bool                            // applyPolicy: IfNotPresent
	adoption   execloopv1alpha1.AdoptionPolicy // of the task, or else of the plan; Release when neither says
	after      []*taskSpec
	dependents []*taskSpec

	// each is the task's forEach; nil when it has none. Each pass makes of
	// such a task one taskSpec per item (an item of forEach.go), which
	// the kind's methods take as they take any task.
	each *forEach
	// bound are the variables bound to this task alone, besides plan and
	// tasks: a forEach item's, {region: "eu"}; nil for none.
	bound map[string]any

	// fromSecrets is what its expressions computed from Secrets in this
	// pass (redact.go).
	fromSecrets fromSecrets
}

// exprRefs are the names of the tasks t's expressions read: its
// manifest's (or target name's) and its includeWhen's.
func (t *taskSpec) exprRefs() []string {
	var refs []string
	if t.tmpl != nil {
		refs = append(refs, t.tmpl.refs...)
	}
	for _, e := range []*exprPart{t.include, t.each.list()} {
		if e == nil {
			continue
		}
		for _, r := range e.refs {
			if !slices.Contains(refs, r) {
				refs = append(refs, r)
			}
		}
	}
	return refs
}

// where names the first expression of t that reads task name, for
// messages.
func (t *taskSpec) where(name string) string {
	if t.tmpl != nil {
		if w := t.tmpl.where(name); w != "" {
			return w
		}
	}
	if t.include != nil && slices.Contains(t.include.refs, name) {
		return "includeWhen: " + t.include.expr
	}
	if t.each != nil && slices.Contains(t.each.part.refs, name) {
		return "forEach: ${" + t.each.part.expr + "}"
	}
	return "an expression"
}

// deps are the tasks t runs after: those after names, and those its
// expressions read.
func (t *taskSpec) deps() []*taskSpec {
	if len(t.refs) == 0 {
		return t.after
	}
	deps := slices.Clone(t.after)
	for _, r := range t.refs {
		if !slices.Contains(deps, r) {
			deps = append(deps, r)
		}
	}
	return deps
}

// describe names the task's object in messages, such as
// "ConfigMap shop/web-config"; for a forEach task, its objects.
func (t *taskSpec) describe() string {
	if t.each != nil {
		return fmt.Sprintf("the %s objects of forEach %s", t.gvk.Kind, t.each.variable)
	}
	if t.key.Namespace == "" {
		return t.gvk.Kind + " " + t.key.Name
	}
	return t.gvk.Kind + " " + t.key.Namespace + "/" + t.key.Name
}

// Compile checks a Plan's tasks and resolves them for its identity. What
// can never work until the spec changes (a cycle, an unknown kind, a
// readyWhen that does not compile, two tasks for one object) is a
// reconcile.TerminalError naming the task: the Plan stalls and nothing is
// applied.
func Compile(p *execloopv1alpha1.Plan, id *Identity, mapper meta.RESTMapper) (*Run, error) {
	return compile(p, planExpressions, id, mapper)
}

// compile is Compile with the expressions' programs taken from exprs.
func compile(p *execloopv1alpha1.Plan, exprs expressions, id *Identity, mapper meta.RESTMapper) (*Run, error) {
	run := &Run{plan: p, id: id, mapper: mapper, now: time.Now}
	byName := make(map[string]*taskSpec, len(p.Spec.Tasks))
	targets := map[string]string{} // object → task
	specs := make([]*taskSpec, 0, len(p.Spec.Tasks))
	for i := range p.Spec.Tasks {
		t, err := resolve(p, &p.Spec.Tasks[i], exprs, mapper)
		if err != nil {
			return nil, err
		}
		if _, dup := byName[t.name]; dup {
			return nil, invalid("spec.tasks: two tasks are named %s", t.name)
		}
		// A name that expressions give is known in a pass only.
		if t.kind.exclusive() && !strings.Contains(t.key.Name, "${") {
			target := t.gvk.GroupKind().String() + " " + t.key.String()
			if other, dup := targets[target]; dup {
				return nil, invalid("task %s: %s is also the object of task %s; one object, one task", t.name, t.describe(), other)
			}
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
	if err := linkReferences(specs, byName); err != nil {
		return nil, err
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

	run.sortInventory(specs)
	run.sortForEachStatus(specs)
	for _, t := range specs {
		if err := run.sameKindAsInventory(t); err != nil {
			return nil, err
		}
	}
	return run, nil
}

// sameKindAsInventory refuses a task whose object the inventory lists as
// written by a task of another kind: an object the plan applied cannot
// become one it only patches (its label, annotation, owner reference and
// fields would stay), nor the reverse (the plan would take as its own an
// object someone else made). The old task's removal must finish first.
func (p *Run) sameKindAsInventory(t *taskSpec) error {
	inv := p.inventory(t)
	if inv == nil || entryKind(*inv) == t.kind {
		return nil
	}
	return invalid("task %s: %s of %s, which the plan's inventory lists as written by a %s task: an object cannot go from %s to %s; remove the task, and add it back once status.objects no longer lists the object",
		t.name, t.kind.field(), t.describe(), entryKind(*inv).field(), entryKind(*inv).field(), t.kind.field())
}

// linkReferences makes each task whose expressions read other tasks depend
// on them. A name that is no task of the plan, or the task itself, makes the
// plan invalid.
func linkReferences(specs []*taskSpec, byName map[string]*taskSpec) error {
	for _, t := range specs {
		for _, name := range t.exprRefs() {
			dep, ok := byName[name]
			switch {
			case !ok:
				return invalid("task %s: %s names task %s, which is not a task of this plan", t.name, t.where(name), name)
			case dep == t:
				return invalid("task %s: %s reads the task's own object", t.name, t.where(name))
			}
			t.refs = append(t.refs, dep)
			dep.read = true
			if !slices.Contains(dep.dependents, t) {
				dep.dependents = append(dep.dependents, t)
			}
		}
	}
	return nil
}

// invalid is a reconcile.TerminalError: the Plan stalls with this message.
func invalid(format string, args ...any) error {
	return reconcile.TerminalError(fmt.Errorf(format, args...))
}

// resolve checks one task against the Plan, compiling its expressions with
// exprs, and, when the API server serves the task's kind, binds it to that
// kind.
func resolve(p *execloopv1alpha1.Plan, pt *execloopv1alpha1.PlanTask, exprs expressions, mapper meta.RESTMapper) (*taskSpec, error) {
	t := &taskSpec{name: pt.Name, exprs: exprs}
	var err error
	if t.kind, err = kindOf(pt); err != nil {
		return nil, err
	}
	if t.each, err = compileForEach(t, pt); err != nil {
		return nil, err
	}
	_, objectPrograms := programsFor(t.variable()) // readyWhen and failedWhen see no instance
	if err := t.kind.compile(t, pt); err != nil {
		return nil, err
	}
	if pt.IncludeWhen != "" {
		c, err := exprs.condition.compile(pt.IncludeWhen)
		if err != nil {
			return nil, invalid("task %s: includeWhen does not compile: %v", t.name, err)
		}
		t.include = &exprPart{expr: pt.IncludeWhen, prog: c.prog, refs: c.refs}
	}
	if pt.ReadyWhen != "" {
		c, err := objectPrograms.compile(pt.ReadyWhen)
		if err != nil {
			return nil, invalid("task %s: readyWhen does not compile: %v", t.name, err)
		}
		t.readyWhen = c.prog
	}
	if pt.FailedWhen != "" {
		c, err := objectPrograms.compile(pt.FailedWhen)
		if err != nil {
			return nil, invalid("task %s: failedWhen does not compile: %v", t.name, err)
		}
		t.failedWhen, t.failedExpr = c.prog, pt.FailedWhen
	}
	if pt.Timeout != nil {
		t.timeout = pt.Timeout.Duration
	}
	t.recreate = pt.ImmutableFields == execloopv1alpha1.ImmutableFieldsRecreate
	t.createOnly = pt.ApplyPolicy == execloopv1alpha1.ApplyIfNotPresent
	t.adoption = execloopv1alpha1.AdoptionRelease
	for _, a := range []execloopv1alpha1.AdoptionPolicy{pt.AdoptionPolicy, p.Spec.AdoptionPolicy} {
		if a != "" {
			t.adoption = a
			break
		}
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
	if t.kind.writesManifest() && t.tmpl == nil { // a template's manifest is made each pass (Run.fill)
		t.kind.prepare(p, t.manifest, t.key.Namespace)
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
		if d.kind.writesManifest() && definesKind(d.manifest, t.gvk) {
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

// compileManifest sets t's object from the manifest in its field: its
// group, version, kind and key, and the template of its expressions.
func compileManifest(t *taskSpec, field string, raw []byte) error {
	manifest := &unstructured.Unstructured{}
	if err := json.Unmarshal(raw, &manifest.Object); err != nil {
		return invalid("task %s: %s is not a JSON object: %v", t.name, field, err)
	}
	for _, f := range []struct{ path, value string }{
		{"apiVersion", manifest.GetAPIVersion()}, {"kind", manifest.GetKind()}, {"metadata.name", manifest.GetName()},
	} {
		if f.value == "" {
			return invalid("task %s: %s.%s is required", t.name, field, f.path)
		}
	}
	if err := t.setObject(field, manifest.GetAPIVersion(), manifest.GetKind(), manifest.GetNamespace(), manifest.GetName()); err != nil {
		return err
	}
	t.manifest = manifest
	tmpl, err := compileTemplate(t.exprs, t.variable(), t.name, field, manifest.Object)
	if err != nil || tmpl == nil {
		return err
	}
	t.tmpl, t.raw = tmpl, manifest.DeepCopy()
	return nil
}

// compileReference sets t's object from the reference in its field. Its
// name may come from other tasks' objects: a template of one field, the
// name.
func compileReference(t *taskSpec, field string, ref *execloopv1alpha1.ObjectReference) error {
	if err := t.setObject(field, ref.APIVersion, ref.Kind, ref.Namespace, ref.Name); err != nil {
		return err
	}
	if !strings.Contains(ref.Name, "${") {
		return nil
	}
	t.raw = &unstructured.Unstructured{Object: map[string]any{"name": ref.Name}}
	var err error
	t.tmpl, err = compileTemplate(t.exprs, "", t.name, field, t.raw.Object)
	return err
}

// setObject sets the group, version, kind and key of t's object.
func (t *taskSpec) setObject(field, apiVersion, kind, namespace, name string) error {
	gv, err := schema.ParseGroupVersion(apiVersion)
	if err != nil {
		return invalid("task %s: %s.apiVersion %q: %v", t.name, field, apiVersion, err)
	}
	t.gvk = gv.WithKind(kind)
	t.key = types.NamespacedName{Namespace: namespace, Name: name}
	return nil
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
			if placed[t] || slices.ContainsFunc(t.deps(), func(d *taskSpec) bool { return !placed[d] }) {
				continue
			}
			placed[t] = true
			order = append(order, t)
			progress = true
			break // restart from the top: spec order wins among the ready
		}
		if !progress {
			return nil, invalid("spec.tasks: the dependencies (after, and the tasks that expressions read) form a cycle: %s", cycle(specs, placed))
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
		deps := t.deps()
		next := deps[slices.IndexFunc(deps, func(d *taskSpec) bool { return !placed[d] })]
		t = next
	}
}
