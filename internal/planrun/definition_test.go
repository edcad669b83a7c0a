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
	"reflect"
	"strings"
	"testing"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	execloopv1alpha1 "github.com/execloop/execloop/api/v1alpha1"
	"github.com/execloop/execloop/execloop/executor"
)

// webAppSchema is the schema of a WebApp's spec in these tests.
const webAppSchema = `{"type": "object", "required": ["image"], "properties": {
	"image": {"type": "string"},
	"replicas": {"type": "integer", "default": 2},
	"ratio": {"type": "number"},
	"expose": {"type": "boolean"},
	"env": {"type": "object", "additionalProperties": {"type": "string"}},
	"ports": {"type": "array", "items": {"type": "integer"}},
	"extra": {"type": "object", "x-kubernetes-preserve-unknown-fields": true, "properties": {
		"tier": {"type": "string"}, "version": {"type": "string"}}}}}`

func schemaOf(t *testing.T, s string) *apiextensionsv1.JSONSchemaProps {
	t.Helper()
	out := &apiextensionsv1.JSONSchemaProps{}
	if err := json.Unmarshal([]byte(s), out); err != nil {
		t.Fatal(err)
	}
	return out
}

// deploymentTask is a task named deploy that applies a Deployment named
// web whose spec is spec.
func deploymentTask(t *testing.T, spec map[string]any) execloopv1alpha1.PlanTask {
	t.Helper()
	return namedDeploymentTask(t, map[string]any{"name": "web"}, spec)
}

// namedDeploymentTask is a task named deploy that applies a Deployment of
// the metadata and spec given.
func namedDeploymentTask(t *testing.T, metadata, spec map[string]any) execloopv1alpha1.PlanTask {
	t.Helper()
	b, err := json.Marshal(map[string]any{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": metadata, "spec": spec})
	if err != nil {
		t.Fatal(err)
	}
	return execloopv1alpha1.PlanTask{Name: "deploy", Apply: &runtime.RawExtension{Raw: b}}
}

// TestCompileDefinition: a definition's expressions are checked against
// the schema of its instances when it is compiled, so a field the schema
// does not have, or one used as another type, makes the definition
// invalid (a TerminalError naming the task, the field and the
// expression); what the schema declares compiles. Under
// x-kubernetes-preserve-unknown-fields only the declared fields can be
// read, as in a CRD's validation rules. The Plans' checks hold too.
func TestCompileDefinition(t *testing.T) {
	for _, tc := range []struct {
		name string
		task func(t *testing.T) execloopv1alpha1.PlanTask
		want []string // in the error; none: it compiles
	}{
		{"a field of the schema", func(t *testing.T) execloopv1alpha1.PlanTask {
			return deploymentTask(t, map[string]any{"image": "${instance.spec.image}", "replicas": "${instance.spec.replicas}"})
		}, nil},
		{"the metadata, a map, a list, a number, a boolean", func(t *testing.T) execloopv1alpha1.PlanTask {
			return deploymentTask(t, map[string]any{
				"name": "${instance.metadata.name}-${instance.metadata.namespace}", "level": `${instance.spec.env["LEVEL"]}`,
				"port": "${instance.spec.ports[0] + 1}", "ratio": "${instance.spec.ratio * 2.0}", "on": "${instance.spec.expose && true}",
				"owner": `${instance.metadata.labels["team"]}`,
			})
		}, nil},
		{"a declared field under a part that keeps unknown fields", func(t *testing.T) execloopv1alpha1.PlanTask {
			return deploymentTask(t, map[string]any{"tier": "${instance.spec.extra.tier}"})
		}, nil},
		{"an undeclared field under a part that keeps unknown fields, as in a CRD's rules", func(t *testing.T) execloopv1alpha1.PlanTask {
			return deploymentTask(t, map[string]any{"any": "${instance.spec.extra.whatever}"})
		}, []string{"task deploy", "apply.spec.any", "${instance.spec.extra.whatever}", "undefined field 'whatever'"}},
		{"a field the schema does not have", func(t *testing.T) execloopv1alpha1.PlanTask {
			return deploymentTask(t, map[string]any{"image": "${instance.spec.imagee}"})
		}, []string{"spec.plan: task deploy", "apply.spec.image", "${instance.spec.imagee}", "undefined field 'imagee'"}},
		{"a metadata field the variable does not have", func(t *testing.T) execloopv1alpha1.PlanTask {
			return deploymentTask(t, map[string]any{"x": "${instance.metadata.generateName}"})
		}, []string{"task deploy", "apply.spec.x", "${instance.metadata.generateName}", "undefined field 'generateName'"}},
		{"a field used as another type", func(t *testing.T) execloopv1alpha1.PlanTask {
			return deploymentTask(t, map[string]any{"replicas": `${instance.spec.replicas + "1"}`})
		}, []string{"task deploy", "apply.spec.replicas", `${instance.spec.replicas + "1"}`, "no matching overload"}},
		{"an includeWhen on a field the schema does not have", func(t *testing.T) execloopv1alpha1.PlanTask {
			pt := deploymentTask(t, map[string]any{"image": "${instance.spec.image}"})
			pt.IncludeWhen = "instance.spec.exposed"
			return pt
		}, []string{"task deploy", "includeWhen does not compile", "undefined field 'exposed'"}},
		{"an includeWhen that is no bool", func(t *testing.T) execloopv1alpha1.PlanTask {
			pt := deploymentTask(t, map[string]any{"image": "${instance.spec.image}"})
			pt.IncludeWhen = "instance.spec.replicas"
			return pt
		}, []string{"task deploy", "includeWhen", "not bool"}},
		{"a name and namespace from the instance", func(t *testing.T) execloopv1alpha1.PlanTask {
			return namedDeploymentTask(t, map[string]any{"name": "${instance.metadata.name}-web", "namespace": "${instance.spec.env['NS']}"}, nil)
		}, nil},
		{"a name from the instance, mistyped", func(t *testing.T) execloopv1alpha1.PlanTask {
			return namedDeploymentTask(t, map[string]any{"name": "${instance.metadata.nme}"}, nil)
		}, []string{"task deploy", "apply.metadata.name", "${instance.metadata.nme}", "undefined field 'nme'"}},
		{"a name from a task", func(t *testing.T) execloopv1alpha1.PlanTask {
			return namedDeploymentTask(t, map[string]any{"name": "${tasks.db.object.metadata.name}"}, nil)
		}, []string{"task deploy", "apply.metadata.name holds an expression"}},
		{"an after naming no task", func(t *testing.T) execloopv1alpha1.PlanTask {
			pt := deploymentTask(t, map[string]any{"image": "${instance.spec.image}"})
			pt.After = []string{"db"}
			return pt
		}, []string{"task deploy", "after names db"}},
		{"an expression naming no task", func(t *testing.T) execloopv1alpha1.PlanTask {
			return deploymentTask(t, map[string]any{"host": "${tasks.db.object.spec.clusterIP}"})
		}, []string{"task deploy", "apply.spec.host", "names task db"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := CompileDefinition(execloopv1alpha1.PlanSpec{Tasks: []execloopv1alpha1.PlanTask{tc.task(t)}}, schemaOf(t, webAppSchema), nil)
			if tc.want == nil {
				if err != nil || d == nil {
					t.Fatalf("want it compiled, got %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("want the definition refused, it compiled")
			}
			if !errors.Is(err, reconcile.TerminalError(nil)) {
				t.Errorf("want a TerminalError, got %v", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("want %q in the error, got %v", w, err)
				}
			}
		})
	}
}

// TestCompileDefinitionSchema: a schema of the instances' spec that is not
// structural is a SchemaError naming the field (the expressions cannot be
// checked against it).
func TestCompileDefinitionSchema(t *testing.T) {
	for _, tc := range []struct{ name, schema, want string }{
		{"a property without a type", `{"type": "object", "properties": {"image": {}}}`, "spec.api.spec.properties[image].type"},
		{"a root that is no object", `{"type": "string"}`, "spec.api.spec"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := CompileDefinition(execloopv1alpha1.PlanSpec{}, schemaOf(t, tc.schema), nil)
			if se := (*SchemaError)(nil); !errors.As(err, &se) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("want a SchemaError naming %s, got %v", tc.want, err)
			}
		})
	}
}

// TestDefinitionInstance: compiled for an instance, a definition's task
// fills its manifest from the instance variable (numbers, booleans, maps
// and lists keep their types, and text is interpolated), plan is the
// instance's metadata, the owner reference names the instance's kind, and
// the instance's status is the run's inventory. A field the instance does
// not set, and the schema has, makes the task wait.
func TestDefinitionInstance(t *testing.T) {
	instance, mapper := webApp(), deploymentMapper()
	for _, tc := range []struct {
		name string
		spec map[string]any
		want map[string]any // the manifest's spec; nil: the task waits
	}{
		{"values keep their types", map[string]any{
			"image": "${instance.spec.image}", "replicas": "${instance.spec.replicas}", "ratio": "${instance.spec.ratio * 1.5}",
			"expose": "${instance.spec.expose}", "env": "${instance.spec.env}", "ports": "${instance.spec.ports}", "tier": "${instance.spec.extra.tier}",
		}, map[string]any{
			"image": "nginx:1", "replicas": int64(3), "ratio": int64(3), "expose": true,
			"env": map[string]any{"LEVEL": "debug"}, "ports": []any{int64(80), int64(443)}, "tier": "gold",
		}},
		{"text is interpolated, and plan is the instance's metadata", map[string]any{
			"host": "${instance.metadata.name}.${plan.metadata.namespace}:${instance.spec.ports[1]}", "team": `${instance.metadata.labels["team"]}`,
		}, map[string]any{"host": "shop.team-a:443", "team": "a"}},
		{"a field the instance does not set", map[string]any{"version": "${instance.spec.extra.version}"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := CompileDefinition(execloopv1alpha1.PlanSpec{Tasks: []execloopv1alpha1.PlanTask{deploymentTask(t, tc.spec)}}, schemaOf(t, webAppSchema), nil)
			if err != nil {
				t.Fatal(err)
			}
			run, err := d.Compile(instance, &Identity{}, mapper)
			if err != nil {
				t.Fatal(err)
			}
			if n := len(run.plan.Status.Objects); n != 1 || run.plan.Status.Objects[0].Task != "deploy" {
				t.Errorf("want the instance's inventory in the run, got %+v", run.plan.Status.Objects)
			}
			run.state = map[string]*taskState{}
			task := run.tasks[0]
			err = run.fill(context.Background(), task)
			if tc.want == nil {
				if !errors.Is(err, executor.ErrInProgress) {
					t.Fatalf("want the task waiting, got %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := task.manifest.Object["spec"]; !reflect.DeepEqual(got, tc.want) {
				t.Errorf("spec:\n got %#v\nwant %#v", got, tc.want)
			}
			refs := task.manifest.GetOwnerReferences()
			if len(refs) != 1 || refs[0].APIVersion != "platform.example.com/v1alpha1" || refs[0].Kind != "WebApp" || refs[0].Name != "shop" || refs[0].UID != "i-1" {
				t.Errorf("want the instance as the owner, got %+v", refs)
			}
		})
	}
}

// webApp is an instance of the WebApp of webAppSchema, whose status lists
// a Deployment its task deploy applied.
func webApp() *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "platform.example.com/v1alpha1", "kind": "WebApp",
		"metadata": map[string]any{"name": "shop", "namespace": "team-a", "uid": "i-1", "labels": map[string]any{"team": "a"}},
		"spec": map[string]any{
			"image": "nginx:1", "replicas": int64(3), "ratio": int64(2), "expose": true,
			"env": map[string]any{"LEVEL": "debug"}, "ports": []any{int64(80), int64(443)}, "extra": map[string]any{"tier": "gold"},
		},
		"status": map[string]any{"objects": []any{map[string]any{"apiVersion": "apps/v1", "kind": "Deployment", "namespace": "team-a", "name": "web", "task": "deploy"}}},
	}}
}

// deploymentMapper serves Deployments.
func deploymentMapper() meta.RESTMapper {
	mapper := meta.NewDefaultRESTMapper(nil)
	mapper.Add(schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}, meta.RESTScopeNamespace)
	return mapper
}

// TestDefinitionInstanceNames: a definition's manifest may take its
// object's name and namespace from the instance; they are evaluated when
// the definition is compiled for the instance, so the object is known
// before anything is read. One the instance does not set makes the
// instance invalid, naming the task, the field and the expression. A
// Plan's manifest still may not name its object by an expression.
func TestDefinitionInstanceNames(t *testing.T) {
	for _, tc := range []struct {
		name, objName, objNamespace string
		want                        string // the object's namespace/name, or what the error holds
		ok                          bool
	}{
		{"a name from the instance", "${instance.metadata.name}-web", "", "team-a/shop-web", true},
		{"a namespace from the instance", "web", `${instance.spec.env["LEVEL"]}`, "debug/web", true},
		{"a name from a field the instance does not set", "${instance.spec.extra.version}", "", "task deploy: ${instance.spec.extra.version} at apply.metadata.name, not there yet", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			metadata := map[string]any{"name": tc.objName}
			if tc.objNamespace != "" {
				metadata["namespace"] = tc.objNamespace
			}
			d, err := CompileDefinition(execloopv1alpha1.PlanSpec{Tasks: []execloopv1alpha1.PlanTask{namedDeploymentTask(t, metadata, map[string]any{"image": "${instance.spec.image}"})}}, schemaOf(t, webAppSchema), nil)
			if err != nil {
				t.Fatal(err)
			}
			run, err := d.Compile(webApp(), &Identity{}, deploymentMapper())
			if !tc.ok {
				if err == nil || !errors.Is(err, reconcile.TerminalError(nil)) || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("want a TerminalError holding %q, got %v", tc.want, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := run.tasks[0].key.String(); got != tc.want {
				t.Errorf("want the object %s, got %s", tc.want, got)
			}
		})
	}
	t.Run("a Plan's manifest", func(t *testing.T) {
		p := &execloopv1alpha1.Plan{Spec: execloopv1alpha1.PlanSpec{Tasks: []execloopv1alpha1.PlanTask{
			namedDeploymentTask(t, map[string]any{"name": "${plan.metadata.name}-web"}, nil),
		}}}
		if _, err := Compile(p, &Identity{}, deploymentMapper()); err == nil || !strings.Contains(err.Error(), "apply.metadata.name holds an expression") {
			t.Fatalf("want the Plan refused, got %v", err)
		}
	})
}
