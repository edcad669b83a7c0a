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
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types/ref"
	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	schemacel "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/cel"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/cel/model"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	apiservercel "k8s.io/apiserver/pkg/cel"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	execloopv1alpha1 "github.com/execloop/execloop/api/v1alpha1"
)

// A definition's tasks.
//
// A PlanDefinition's spec.plan runs for each of its instances as a Plan's
// tasks run for the Plan, with one variable more in the expressions of
// manifests and includeWhen: instance, the instance's metadata (name,
// namespace, labels, annotations: what plan holds) and spec. It is typed by the
// definition's schema of the instances' spec, as self is in a CRD's
// validation rules (fields kept by x-kubernetes-preserve-unknown-fields
// that the schema does not declare cannot be read), so that an expression naming
// a field the schema does not have, or using one as another type, makes the
// definition invalid when it is compiled, before any instance exists. The
// plan variable is the instance's metadata, as it is a Plan's.

const (
	// planVar, tasksVar and instanceVar are the names of the variables
	// of expressions; objectVar that of a task's object in tasks, and of
	// the object readyWhen and failedWhen read.
	planVar, tasksVar, objectVar = "plan", "tasks", "object"
	// instanceVar is the name of the instance variable.
	instanceVar = "instance"
	// instanceType is the name of its CEL type, which prefixes those of
	// its objects' (instanceType.spec): a name no expression can spell
	// as a variable's fields, or instance.spec would name a type.
	instanceType = "execloop.dev.Instance"
)

// Definition is a PlanDefinition's plan, compiled once for all its
// instances (CompileDefinition); Compile resolves it for one of them.
type Definition struct {
	plan   execloopv1alpha1.PlanSpec
	status map[string]execloopv1alpha1.StatusField // the instances' declared status fields
	exprs  expressions
	schema *structuralschema.Structural // of the instance variable: metadata and spec
}

// SchemaError is the error of CompileDefinition for a schema of the
// instances' spec that is not structural: the expressions cannot be
// checked against it. The API server refuses such a schema in a CRD with a
// message naming the field, which says more than this error does.
type SchemaError struct{ Err error }

func (e *SchemaError) Error() string { return "spec.api.spec: " + e.Err.Error() }
func (e *SchemaError) Unwrap() error { return e.Err }

// CompileDefinition compiles a definition's plan, and the values of its
// instances' status fields, against spec, the schema of its instances'
// spec. A schema that is not structural is a *SchemaError. What makes the
// definition invalid for every instance is a reconcile.TerminalError whose
// message starts with the definition's field: in spec.plan, a manifest's
// expression or an includeWhen that does not compile with the typed
// instance variable (${instance.spec.imagee} where the schema has image),
// two tasks of one name, an after or an expression naming no task, a
// cycle, naming the task, the field and the expression; in a status
// field's value, what compileStatus refuses. The kinds of the tasks are
// not looked up: that happens for each instance (Compile), whose namespace
// they may depend on.
func CompileDefinition(plan execloopv1alpha1.PlanSpec, spec *apiextensionsv1.JSONSchemaProps, status map[string]execloopv1alpha1.StatusField) (*Definition, error) {
	root, err := instanceSchema(spec)
	if err != nil {
		return nil, err
	}
	env, err := instanceEnv(root)
	if err != nil {
		return nil, err
	}
	tracked := cel.EvalOptions(cel.OptTrackState) // as the Plans' (cel.go)
	envFunc := func() (*cel.Env, error) { return env, nil }
	d := &Definition{
		plan:   *plan.DeepCopy(),
		status: status,
		exprs: expressions{
			manifest: newProgramCache(envFunc, false, tracked), condition: newProgramCache(envFunc, true, tracked),
			instanceNames: true, items: itemPrograms(env, tracked),
		},
		schema: root,
	}
	// No kind is served by an empty mapper: every task stays unbound.
	if _, err := compile(&execloopv1alpha1.Plan{Spec: d.plan}, d.exprs, &Identity{}, meta.NewDefaultRESTMapper(nil)); err != nil {
		if errors.Is(err, reconcile.TerminalError(nil)) {
			err = errors.Unwrap(err) // to say where, once
		}
		return nil, invalid("spec.plan: %v", err)
	}
	if err := d.compileStatus(status); err != nil {
		return nil, err
	}
	return d, nil
}

// Compile resolves the definition's tasks for instance, for its identity:
// CompilePlan of AsPlan's Plan.
func (d *Definition) Compile(instance *unstructured.Unstructured, id *Identity, mapper meta.RESTMapper) (*Run, error) {
	p, err := d.AsPlan(instance)
	if err != nil {
		return nil, err
	}
	spec, _ := instance.Object["spec"].(map[string]any)
	return d.CompilePlan(p, spec, id, mapper)
}

// AsPlan is instance seen as a Plan: its apiVersion, kind and metadata,
// the definition's plan as its spec, and, as its status, what the
// instance's status holds of a Plan's (conditions, inventory, tasks). The
// operator's Plan reconciler drives this Plan, and what it writes of the
// Plan's metadata and status is written into the instance.
func (d *Definition) AsPlan(instance *unstructured.Unstructured) (*execloopv1alpha1.Plan, error) {
	return AsPlan(instance, &d.plan)
}

// AsPlan is instance, an instance of a definition's kind, seen as a Plan
// whose spec is a copy of spec (its definition's spec.plan): the method
// AsPlan of its compiled definition, for a reader that has only the
// definition (kubectl execloop get). An error says the instance's status
// is not a Plan's.
func AsPlan(instance *unstructured.Unstructured, spec *execloopv1alpha1.PlanSpec) (*execloopv1alpha1.Plan, error) {
	p := &execloopv1alpha1.Plan{
		TypeMeta: metav1.TypeMeta{APIVersion: instance.GetAPIVersion(), Kind: instance.GetKind()},
		ObjectMeta: metav1.ObjectMeta{
			Name: instance.GetName(), Namespace: instance.GetNamespace(), UID: instance.GetUID(),
			Generation: instance.GetGeneration(), ResourceVersion: instance.GetResourceVersion(),
			Labels: instance.GetLabels(), Annotations: instance.GetAnnotations(),
			Finalizers: instance.GetFinalizers(), DeletionTimestamp: instance.GetDeletionTimestamp(),
			CreationTimestamp: instance.GetCreationTimestamp(),
		},
		Spec: *spec.DeepCopy(),
	}
	if st, ok := instance.Object["status"].(map[string]any); ok {
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(st, &p.Status); err != nil {
			return nil, fmt.Errorf("the status of %s %s: %w", instance.GetKind(), instance.GetName(), err)
		}
	}
	return p, nil
}

// CompilePlan resolves the definition's tasks for p, an instance seen as a
// Plan (AsPlan) whose spec is spec, as Compile does a Plan's (the
// package's Compile), with the names and namespaces its manifests take
// from the instance evaluated. The run updates p's status. Its expressions
// see the variable instance. A name that cannot be evaluated for this
// instance is a reconcile.TerminalError naming the task, the field and the
// expression.
func (d *Definition) CompilePlan(p *execloopv1alpha1.Plan, spec map[string]any, id *Identity, mapper meta.RESTMapper) (*Run, error) {
	value := d.instanceValue(p, spec)
	vars := map[string]any{planVar: planVariable(p), tasksVar: map[string]any{}, instanceVar: value}
	for i := range p.Spec.Tasks {
		pt := &p.Spec.Tasks[i]
		for field, m := range map[string]*runtime.RawExtension{"apply": pt.Apply, "patch": pt.Patch} {
			if m == nil {
				continue
			}
			var err error
			if m.Raw, err = d.withNames(pt.Name, forEachVariable(pt), field, m.Raw, vars); err != nil {
				return nil, err
			}
		}
	}
	run, err := compile(p, d.exprs, id, mapper)
	if err != nil {
		return nil, err
	}
	run.instance = value
	return run, nil
}

// StatusFields names the instances' declared status fields.
func (d *Definition) StatusFields() []string { return slices.Sorted(maps.Keys(d.status)) }

// itemPrograms gives the program caches of the manifests of a
// definition's forEach tasks, one per name of their own variable: env's
// variables, and that one.
func itemPrograms(env *cel.Env, options ...cel.ProgramOption) func(item string) *programCache {
	var mu sync.Mutex
	caches := map[string]*programCache{}
	return func(item string) *programCache {
		mu.Lock()
		defer mu.Unlock()
		if caches[item] == nil {
			caches[item] = newProgramCache(sync.OnceValues(func() (*cel.Env, error) { return env.Extend(itemVariable(item)...) }), false, options...)
		}
		return caches[item]
	}
}

// forEachVariable is the name of pt's own variable; empty without forEach.
func forEachVariable(pt *execloopv1alpha1.PlanTask) string {
	for name := range pt.ForEach {
		return name
	}
	return ""
}

// InstanceKind is the <kind>.<group> of p when it is an instance of a
// definition seen as a Plan (AsPlan), and empty for a Plan.
func InstanceKind(p *execloopv1alpha1.Plan) string {
	gvk := p.GroupVersionKind()
	if gvk.Kind == "" || gvk.Group == execloopv1alpha1.GroupVersion.Group {
		return ""
	}
	return gvk.GroupKind().String()
}

// withNames returns the manifest raw of a task's field with the
// expressions of its metadata.name and metadata.namespace evaluated with
// vars. The name of a forEach task, whose own variable is item, is left
// to be evaluated for each item.
func (d *Definition) withNames(task, item, field string, raw []byte, vars map[string]any) ([]byte, error) {
	m := map[string]any{}
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, invalid("task %s: %s is not a JSON object: %v", task, field, err)
	}
	tmpl, err := compileTemplate(d.exprs, item, task, field, m)
	if err != nil || tmpl == nil {
		return raw, err
	}
	changed := false
	for _, f := range tmpl.fields {
		switch at := strings.TrimPrefix(f.at, field+"."); {
		case at == "metadata.namespace", at == "metadata.name" && item == "":
			v, err := f.value(context.Background(), vars, nil, &fromSecrets{})
			if err != nil {
				return nil, invalid("task %s: %v", task, err)
			}
			name, ok := v.(string)
			if !ok {
				return nil, invalid("task %s: %s gives a %T, not a name", task, f.at, v)
			}
			setPath(m, f.path, name)
			changed = true
		}
	}
	if !changed {
		return raw, nil
	}
	return json.Marshal(m)
}

// instanceValue is the instance variable of the expressions of an
// instance seen as p, whose spec is spec: the plan variable (its metadata)
// and spec, as CEL values of the types the schema says.
func (d *Definition) instanceValue(p *execloopv1alpha1.Plan, spec map[string]any) ref.Val {
	if spec == nil {
		spec = map[string]any{}
	}
	v := planVariable(p)
	v["spec"] = runtime.DeepCopyJSON(spec)
	return schemacel.UnstructuredToVal(v, d.schema)
}

// instanceMetadata is the schema of the instance variable but its spec:
// the metadata of the plan variable (planVariable).
const instanceMetadata = `{"type": "object", "properties": {"metadata": {"type": "object", "properties": {
	"name": {"type": "string"}, "namespace": {"type": "string"},
	"labels": {"type": "object", "additionalProperties": {"type": "string"}},
	"annotations": {"type": "object", "additionalProperties": {"type": "string"}}}}}}`

// instanceSchema is the schema of the instance variable: the metadata
// fields it has, and spec as the definition declares it.
func instanceSchema(spec *apiextensionsv1.JSONSchemaProps) (*structuralschema.Structural, error) {
	s, err := structuralOf(spec)
	if err != nil {
		return nil, &SchemaError{Err: err}
	}
	if errs := structuralschema.ValidateStructural(field.NewPath("spec", "api", "spec"), s); len(errs) > 0 {
		return nil, &SchemaError{Err: errs.ToAggregate()}
	}
	md := &apiextensionsv1.JSONSchemaProps{}
	if err := json.Unmarshal([]byte(instanceMetadata), md); err != nil {
		return nil, err
	}
	root, err := structuralOf(md)
	if err != nil {
		return nil, err
	}
	root.Properties["spec"] = *s
	return root, nil
}

// structuralOf is s as the API server sees it.
func structuralOf(s *apiextensionsv1.JSONSchemaProps) (*structuralschema.Structural, error) {
	internal := &apiextensions.JSONSchemaProps{}
	if err := apiextensionsv1.Convert_v1_JSONSchemaProps_To_apiextensions_JSONSchemaProps(s, internal, nil); err != nil {
		return nil, err
	}
	return structuralschema.NewStructural(internal)
}

// instanceEnv is the environment of a definition's manifests and
// includeWhen: the Plans' (manifestEnv) and the instance variable, typed by
// root as the API server types self in a CRD's validation rules: under
// x-kubernetes-preserve-unknown-fields, only the fields the schema declares
// can be read.
func instanceEnv(root *structuralschema.Structural) (*cel.Env, error) {
	base, err := manifestEnv()
	if err != nil {
		return nil, err
	}
	decl := model.SchemaDeclType(root, false)
	if decl == nil {
		return nil, &SchemaError{Err: errors.New("the schema has no CEL type")}
	}
	decl = decl.MaybeAssignTypeName(instanceType)
	provider := apiservercel.NewDeclTypeProvider(decl)
	provider.SetRecognizeKeywordAsFieldName(true) // instance.metadata.namespace
	opts, err := provider.EnvOptions(base.CELTypeProvider())
	if err != nil {
		return nil, err
	}
	return base.Extend(append(opts, cel.Variable(instanceVar, decl.CelType()))...)
}
