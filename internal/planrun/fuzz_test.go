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
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	execloopv1alpha1 "github.com/execloop/execloop/api/v1alpha1"
)

// fuzzMapper knows ConfigMaps (namespaced) and Namespaces (cluster-scoped).
func fuzzMapper() meta.RESTMapper {
	m := meta.NewDefaultRESTMapper([]schema.GroupVersion{{Version: "v1"}})
	m.Add(schema.GroupVersionKind{Version: "v1", Kind: "ConfigMap"}, meta.RESTScopeNamespace)
	m.Add(schema.GroupVersionKind{Version: "v1", Kind: "Namespace"}, meta.RESTScopeRoot)
	return m
}

var fuzzReadyWhen = []string{"", "true", "object.metadata.name == 'x'", "object.status.ready ==", "'no bool'"}

// planFromBytes builds a Plan of up to 12 tasks from fuzz input: for each
// task one byte picks its kind and readyWhen, one its after list.
func planFromBytes(data []byte) *execloopv1alpha1.Plan {
	p := &execloopv1alpha1.Plan{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "fuzz", UID: "uid"}}
	n := 0
	if len(data) > 0 {
		n = int(data[0] % 13)
		data = data[1:]
	}
	next := func() byte {
		if len(data) == 0 {
			return 0
		}
		b := data[0]
		data = data[1:]
		return b
	}
	for i := range n {
		kind, edges := next(), next()
		t := execloopv1alpha1.PlanTask{Name: fmt.Sprintf("t%d", i), ReadyWhen: fuzzReadyWhen[int(kind>>4)%len(fuzzReadyWhen)]}
		obj := map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": fmt.Sprintf("c%d", i)}}
		switch kind % 5 {
		case 1:
			obj["kind"] = "Namespace"
		case 2:
			obj["kind"] = "Gadget"
		case 3:
			obj["metadata"] = map[string]any{"name": "shared"}
		}
		raw, _ := json.Marshal(obj)
		t.Apply = &runtime.RawExtension{Raw: raw}
		for j := range 8 {
			if edges&(1<<j) != 0 {
				t.After = append(t.After, fmt.Sprintf("t%d", (i+j+1)%13))
			}
		}
		p.Spec.Tasks = append(p.Spec.Tasks, t)
	}
	return p
}

// hasCycle reports whether the plan's after edges (to known tasks) form a
// cycle, by a depth-first search of its own.
func hasCycle(p *execloopv1alpha1.Plan) bool {
	after := map[string][]string{}
	for _, t := range p.Spec.Tasks {
		after[t.Name] = t.After
	}
	state := map[string]int{} // 1 on the path, 2 done
	var visit func(string) bool
	visit = func(n string) bool {
		switch state[n] {
		case 1:
			return true
		case 2:
			return false
		}
		state[n] = 1
		for _, d := range after[n] {
			if _, ok := after[d]; ok && visit(d) {
				return true
			}
		}
		state[n] = 2
		return false
	}
	for n := range after {
		if visit(n) {
			return true
		}
	}
	return false
}

// FuzzCompile feeds random task graphs (cycles, self references, unknown
// names and kinds, shared objects, readyWhen that does or does not compile)
// to the graph builder: it never panics, refuses what it must with a
// terminal error, and orders what it accepts so that every task comes after
// the tasks it names.
func FuzzCompile(f *testing.F) {
	f.Add([]byte{3, 0, 0, 0, 1, 0, 2})
	f.Add([]byte{4, 0, 2, 0, 4, 0, 1, 0, 0})
	f.Add([]byte{2, 0, 1, 0, 1})
	f.Add([]byte{5, 0x10, 0, 0x20, 1, 0x30, 3, 2, 0, 3, 0})
	mapper := fuzzMapper()
	f.Fuzz(func(t *testing.T, data []byte) {
		p := planFromBytes(data)
		run, err := Compile(p, &Identity{}, mapper)
		if err != nil {
			if !errors.Is(err, reconcile.TerminalError(nil)) {
				t.Fatalf("a static mapper gave a transient error: %v", err)
			}
			if hasCycle(p) && !strings.Contains(err.Error(), "cycle") && !strings.Contains(err.Error(), "task ") {
				t.Fatalf("a cyclic plan was refused with %q", err)
			}
			return
		}
		if hasCycle(p) {
			t.Fatalf("a cyclic plan compiled")
		}
		pos := map[string]int{}
		for i, task := range run.tasks {
			pos[task.name] = i
		}
		if len(pos) != len(p.Spec.Tasks) {
			t.Fatalf("%d tasks ordered, %d in the plan", len(pos), len(p.Spec.Tasks))
		}
		for _, task := range run.tasks {
			for _, d := range task.after {
				if pos[d.name] >= pos[task.name] {
					t.Fatalf("%s is ordered before %s, which it runs after", task.name, d.name)
				}
			}
		}
	})
}

// FuzzReadyWhen feeds random expressions and objects to readyWhen: compiling
// never panics, and evaluating a compiled expression never panics (the cost
// limit ends costly ones; the fuzzer's own timeout would catch a hang).
func FuzzReadyWhen(f *testing.F) {
	f.Add("object.status.readyReplicas == object.spec.replicas", []byte(`{"spec":{"replicas":2},"status":{"readyReplicas":2}}`))
	f.Add("has(object.data) && 'k' in object.data", []byte(`{"data":{"k":"v"}}`))
	f.Add("object.items.all(i, i > 0)", []byte(`{"items":[1,2,3]}`))
	f.Add("[1,2,3].map(x, [x, x]).size() > 0", []byte(`{}`))
	f.Add("object.a.b.c", []byte(`{"a":null}`))
	f.Fuzz(func(t *testing.T, expr string, obj []byte) {
		c, err := readyWhenPrograms.compile(expr)
		if err != nil {
			return
		}
		prog := c.prog
		u := &unstructured.Unstructured{Object: map[string]any{}}
		if json.Unmarshal(obj, &u.Object) != nil {
			return
		}
		ready, reason, err := readiness(context.Background(), u, prog, nil)
		if ready && (reason != "" || err != nil) {
			t.Fatalf("ready, yet reason %q and error %v", reason, err)
		}
	})
}

// FuzzManifestExpressions feeds random string values (with ${...} or not)
// and random objects of another task to the compiler and the resolver of
// manifest expressions: neither panics; what compiles either resolves, waits
// for a missing value, or fails with an error naming the field; and a value
// with no ${ passes through unchanged.
func FuzzManifestExpressions(f *testing.F) {
	f.Add(`http://${tasks["db"].object.spec.clusterIP}:${tasks.db.object.spec.ports[0].port}`, []byte(`{"spec":{"clusterIP":"10.0.0.1","ports":[{"port":80}]}}`))
	f.Add(`${tasks.db.object.status.loadBalancer.ingress[0].ip}`, []byte(`{"status":{}}`))
	f.Add(`${{"a": [1, 2, {"b": '}'}]}}`, []byte(`{}`))
	f.Add(`$${not} ${plan.metadata.name} ${'}'}`, []byte(`{}`))
	f.Add(`${tasks[plan.metadata.name]}`, []byte(`{}`))
	f.Add(`${tasks.db.object}`, []byte(`{"a":1.5,"b":[true,null]}`))
	f.Add(`${`, []byte(`{}`))
	f.Fuzz(func(t *testing.T, value string, obj []byte) {
		manifest := map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": "c"}, "data": map[string]any{"k": value}}
		tmpl, err := compileTemplate(planExpressions, "", "t", "apply", manifest)
		if err != nil {
			if !errors.Is(err, reconcile.TerminalError(nil)) || !strings.Contains(err.Error(), "task t: apply.data.k") {
				t.Fatalf("a refusal that is not terminal or names no field: %v", err)
			}
			return
		}
		if tmpl == nil {
			if strings.Contains(value, "${") {
				t.Fatalf("%q holds ${ but compiled to no template", value)
			}
			return
		}
		live := map[string]any{}
		if json.Unmarshal(obj, &live) != nil {
			return
		}
		tasks := map[string]any{}
		for _, r := range tmpl.refs {
			tasks[r] = map[string]any{"object": live}
		}
		vars := map[string]any{"plan": map[string]any{"metadata": map[string]any{"name": "fuzz", "namespace": "ns"}}, "tasks": tasks}
		out, _, err := tmpl.resolve(context.Background(), manifest, vars, nil)
		var missing *missingValue
		switch {
		case errors.As(err, &missing):
		case err != nil:
			if !strings.Contains(err.Error(), "apply.data.k") {
				t.Fatalf("an error that names no field: %v", err)
			}
		default:
			if _, err := json.Marshal(out); err != nil {
				t.Fatalf("a resolved manifest that is not JSON: %v", err)
			}
			if manifest["data"].(map[string]any)["k"] != value {
				t.Fatal("resolving changed the manifest it was given")
			}
		}
	})
}
