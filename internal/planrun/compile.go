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
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	execloopv1alpha1 "github.com/execloop/execloop/api/v1alpha1"
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
	hash       string                     // of manifest
	tmpl       *template                  // the manifest's expressions; nil when it has none
	raw        *unstructured.Unstructured // the manifest as written, when tmpl is not nil
	refs       []*taskSpec                // the tasks its expressions read
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
	if t.include != nil {
		for _, r := range t.include.refs {
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
	if t.include != nil {
		return "includeWhen: " + t.include.expr
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
// "ConfigMap shop/web-config".
func (t *taskSpec) describe() string {
	if t.key.Namespace == "" {
		return t.gvk.Kind + " " + t.key.Name
	}
	return t.gvk.Kind + " " + t.key.Namespace + "/" + t.key.Name
}

// compile checks a Plan's tasks and resolves them for its identity. What
// can never work until the spec changes (a cycle, an unknown kind, a
// readyWhen that does not compile, two tasks for one object) is a
// reconcile.TerminalError naming the task: the Plan stalls and nothing is
// applied.
func Compile(p *execloopv1alpha1.Plan, id *Identity, mapper meta.RESTMapper) (*Run, error) {
	run := &Run{plan: p, id: id, mapper: mapper, now: time.Now}
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
		if other, dup := targets[target]; dup && (t.kind == kindApply || t.kind == kindDelete) && t.raw == nil {
			return nil, invalid("task %s: %s is also the object of task %s; one object, one task", t.name, t.describe(), other)
		}
		if (t.kind == kindApply || t.kind == kindDelete) && (t.kind == kindApply || t.raw == nil) {
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
	return run, nil
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
	if t.kind == kindApply {
		if t.tmpl, err = compileTemplate(t.name, "apply", manifest.Object); err != nil {
			return nil, err
		}
		if t.tmpl != nil {
			t.raw = manifest.DeepCopy()
		}
	} else if strings.Contains(ref.Name, "${") {
		// The name of a delete or wait target may come from other tasks'
		// objects: a template of one field, the name.
		t.raw = &unstructured.Unstructured{Object: map[string]any{"name": ref.Name}}
		if t.tmpl, err = compileTemplate(t.name, string(t.kind), t.raw.Object); err != nil {
			return nil, err
		}
	}
	if pt.IncludeWhen != "" {
		c, err := conditionPrograms.Compile(pt.IncludeWhen)
		if err != nil {
			return nil, invalid("task %s: includeWhen does not compile: %v", t.name, err)
		}
		t.include = &exprPart{expr: pt.IncludeWhen, prog: c.prog, refs: c.refs}
	}
	if pt.ReadyWhen != "" {
		c, err := readyWhenPrograms.Compile(pt.ReadyWhen)
		if err != nil {
			return nil, invalid("task %s: readyWhen does not compile: %v", t.name, err)
		}
		t.readyWhen = c.prog
	}
	if pt.FailedWhen != "" {
		c, err := readyWhenPrograms.Compile(pt.FailedWhen)
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
	if t.kind == kindApply && t.tmpl == nil { // a template's manifest is made each pass (planRun.fill)
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
// the plan's label, annotation and (in its own namespace, unless its
// deletionPolicy is Orphan) owner reference, and none of the fields the API
// server owns. Under Orphan an owner reference would let the garbage
// collector delete the objects with the Plan (kubectl delete
// --cascade=foreground does so before the cleanup can release them).
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
	if namespace == p.Namespace && p.Spec.DeletionPolicy != execloopv1alpha1.DeletionPolicyOrphan {
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
