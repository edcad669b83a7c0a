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

package reliability

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	execloopv1alpha1 "github.com/execloop/execloop/api/v1alpha1"
	"github.com/execloop/execloop/execloop/reconciler/status"
)

func cm(name string) map[string]any {
	return map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": name}}
}

func task(name string, fields ...any) map[string]any {
	t := map[string]any{"name": name}
	for i := 0; i+1 < len(fields); i += 2 {
		t[fields[i].(string)] = fields[i+1]
	}
	return t
}

func tasks(n int) []any {
	out := make([]any, n)
	for i := range out {
		out[i] = task(fmt.Sprintf("t%d", i), "apply", cm(fmt.Sprintf("c%d", i)))
	}
	return out
}

// badPlan is an invalid Plan and how it must be turned away: at admission
// with a message naming the field, or Stalled with a message naming the
// task.
type badPlan struct {
	what    string
	spec    map[string]any
	refused []string // substrings of the admission error
	stalled string   // substring of the Stalled message
	// applied names the object applied before the plan's fault could show:
	// a readyWhen that gives no bool is found out only by evaluating it.
	applied string
}

var badPlans = []badPlan{
	{what: "an empty task list", spec: map[string]any{"tasks": []any{}}, refused: []string{"spec.tasks", "at least 1 items"}},
	{what: "no tasks field", spec: map[string]any{}, refused: []string{"spec.tasks: Required value"}},
	{what: "257 tasks", spec: map[string]any{"tasks": tasks(257)}, refused: []string{"spec.tasks: Too many: 257"}},
	{what: "a task without a name", spec: map[string]any{"tasks": []any{task("", "apply", cm("c"))}}, refused: []string{"spec.tasks[0].name"}},
	{what: "a name with capitals", spec: map[string]any{"tasks": []any{task("Config", "apply", cm("c"))}}, refused: []string{`spec.tasks[0].name: Invalid value: "Config"`}},
	{what: "a name with an underscore", spec: map[string]any{"tasks": []any{task("my_task", "apply", cm("c"))}}, refused: []string{`spec.tasks[0].name: Invalid value: "my_task"`}},
	{what: "a name in unicode", spec: map[string]any{"tasks": []any{task("café", "apply", cm("c"))}}, refused: []string{`spec.tasks[0].name: Invalid value: "café"`}},
	{what: "a name of 64 characters", spec: map[string]any{"tasks": []any{task(strings.Repeat("a", 64), "apply", cm("c"))}}, refused: []string{"spec.tasks[0].name: Too long"}},
	{what: "two tasks with one name", spec: map[string]any{"tasks": []any{task("twin", "apply", cm("a")), task("twin", "apply", cm("b"))}}, refused: []string{"spec.tasks[1]: Duplicate value"}},
	{what: "a task with nothing to do", spec: map[string]any{"tasks": []any{task("idle")}}, refused: []string{"spec.tasks[0]", "task idle: exactly one of apply, delete, wait and patch must be set"}},
	{what: "apply and delete", spec: map[string]any{"tasks": []any{task("both", "apply", cm("c"), "delete", map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "name": "c"})}}, refused: []string{"task both: exactly one of apply, delete, wait and patch"}},
	{what: "apply and wait", spec: map[string]any{"tasks": []any{task("both", "apply", cm("c"), "wait", map[string]any{"apiVersion": "v1", "kind": "Secret", "name": "s"})}}, refused: []string{"task both: exactly one of apply, delete, wait and patch"}},
	{what: "after naming no task", spec: map[string]any{"tasks": []any{task("app", "after", []any{"ghost"}, "apply", cm("c"))}}, refused: []string{"spec.tasks", "task app: after names ghost, which is not a task of this plan"}},
	{what: "after naming the task itself", spec: map[string]any{"tasks": []any{task("loop", "after", []any{"loop"}, "apply", cm("c"))}}, refused: []string{"task loop: after must not name the task itself"}},
	{what: "after with 9 names", spec: map[string]any{"tasks": append(tasks(9), task("last", "after", []any{"t0", "t1", "t2", "t3", "t4", "t5", "t6", "t7", "t8"}, "apply", cm("last")))}, refused: []string{"spec.tasks[9].after: Too many: 9"}},
	{what: "after naming one task twice", spec: map[string]any{"tasks": []any{task("a", "apply", cm("a")), task("b", "after", []any{"a", "a"}, "apply", cm("b"))}}, refused: []string{"spec.tasks[1].after[1]: Duplicate value"}},
	{what: "apply without metadata.name", spec: map[string]any{"tasks": []any{task("nameless", "apply", map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{}})}}, refused: []string{"task nameless: apply.metadata.name is required"}},
	{what: "apply without kind", spec: map[string]any{"tasks": []any{task("kindless", "apply", map[string]any{"apiVersion": "v1", "metadata": map[string]any{"name": "x"}})}}, refused: []string{"spec.tasks[0].apply.kind: Required value"}},
	{what: "apply without apiVersion", spec: map[string]any{"tasks": []any{task("versionless", "apply", map[string]any{"kind": "ConfigMap", "metadata": map[string]any{"name": "x"}})}}, refused: []string{"spec.tasks[0].apply.apiVersion: Required value"}},
	{what: "an empty apply object", spec: map[string]any{"tasks": []any{task("empty", "apply", map[string]any{})}}, refused: []string{"spec.tasks[0].apply"}},
	{what: "delete without a name", spec: map[string]any{"tasks": []any{task("vague", "delete", map[string]any{"apiVersion": "v1", "kind": "ConfigMap"})}}, refused: []string{"spec.tasks[0].delete.name: Required value"}},
	{what: "delete without a kind", spec: map[string]any{"tasks": []any{task("vague", "delete", map[string]any{"apiVersion": "v1", "name": "x"})}}, refused: []string{"spec.tasks[0].delete.kind: Required value"}},
	{what: "wait without an apiVersion", spec: map[string]any{"tasks": []any{task("vague", "wait", map[string]any{"kind": "Secret", "name": "x"})}}, refused: []string{"spec.tasks[0].wait.apiVersion: Required value"}},
	{what: "readyWhen on a delete task", spec: map[string]any{"tasks": []any{task("gone", "delete", map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "name": "x"}, "readyWhen", "true")}}, refused: []string{"task gone: readyWhen goes with apply, wait or patch"}},
	{what: "a readyWhen of 1,025 characters", spec: map[string]any{"tasks": []any{task("long", "apply", cm("c"), "readyWhen", strings.Repeat("t", 1025))}}, refused: []string{"spec.tasks[0].readyWhen: Too long"}},
	{what: "a sleepBetweenRuns that is not a duration", spec: map[string]any{"sleepBetweenRuns": "2 fortnights", "tasks": tasks(1)}, refused: []string{`spec.sleepBetweenRuns: Invalid value: "2 fortnights"`}},
	{what: "a negative executionTimeout", spec: map[string]any{"executionTimeout": "-5m", "tasks": tasks(1)}, refused: []string{`spec.executionTimeout: Invalid value: "-5m"`}},
	{what: "a task timeout that is not a duration", spec: map[string]any{"tasks": []any{task("t", "apply", cm("c"), "timeout", "soon")}}, refused: []string{`spec.tasks[0].timeout: Invalid value: "soon"`}},
	{what: "a negative errorsToTolerate", spec: map[string]any{"errorsToTolerate": -1, "tasks": tasks(1)}, refused: []string{"spec.errorsToTolerate: Invalid value: -1"}},
	{what: "an errorsToTolerate over 10,000", spec: map[string]any{"errorsToTolerate": 10001, "tasks": tasks(1)}, refused: []string{"spec.errorsToTolerate: Invalid value: 10001"}},
	{what: "an unknown deletionPolicy", spec: map[string]any{"deletionPolicy": "Keep", "tasks": tasks(1)}, refused: []string{`spec.deletionPolicy: Unsupported value: "Keep"`}},
	{what: "a serviceAccountName that is not a name", spec: map[string]any{"serviceAccountName": "Not A Name", "tasks": tasks(1)}, refused: []string{`spec.serviceAccountName: Invalid value: "Not A Name"`}},
	{what: "a spec over the API server's size limit (a 3.5 MB ConfigMap)", spec: map[string]any{"tasks": []any{task("huge", "apply", map[string]any{
		"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": "huge"}, "data": map[string]any{"blob": strings.Repeat("x", 3_500_000)},
	})}}, refused: []string{"too large"}},
	{what: "a cycle in after", spec: map[string]any{"tasks": []any{
		task("a", "after", []any{"b"}, "apply", cm("a")), task("b", "after", []any{"a"}, "apply", cm("b")),
	}}, stalled: "form a cycle: a → b → a"},
	{what: "a readyWhen that does not compile", spec: map[string]any{"tasks": []any{task("db", "apply", cm("db"), "readyWhen", "object.status ==")}}, stalled: "task db: readyWhen does not compile"},
	{what: "a readyWhen that gives no bool (found out once the object exists)", spec: map[string]any{"errorsToTolerate": 0, "tasks": []any{task("db", "apply", cm("no-bool"), "readyWhen", "object.metadata.name")}}, stalled: "readyWhen returned a string, not a bool", applied: "no-bool"},
	{what: "a kind the API server does not serve", spec: map[string]any{"tasks": []any{task("gadget", "apply", map[string]any{"apiVersion": "example.com/v1", "kind": "Gadget", "metadata": map[string]any{"name": "g"}})}}, stalled: "task gadget: the API server has no kind Gadget in example.com/v1"},
	{what: "an apiVersion that is not one", spec: map[string]any{"tasks": []any{task("odd", "apply", map[string]any{"apiVersion": "a/b/c", "kind": "Thing", "metadata": map[string]any{"name": "t"}})}}, refused: []string{`spec.tasks[0].apply.apiVersion: Invalid value: "a/b/c"`}},
	{what: "a namespace on a cluster-scoped kind", spec: map[string]any{"tasks": []any{task("ns", "apply", map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": "x", "namespace": "y"}})}}, stalled: `task ns: Namespace is cluster-scoped`},
	{what: "two tasks applying one object", spec: map[string]any{"tasks": []any{task("one", "apply", cm("same")), task("two", "apply", cm("same"))}}, stalled: "task two: ConfigMap"},
}

// TestBadInput turns away every plan of badPlans, at admission or as
// Stalled, and applies nothing of any; and admits the plans at the limits.
func TestBadInput(t *testing.T) {
	ns := newNamespace(t, "badinput")
	startManager(t, managerOptions{namespaces: []string{ns}})
	admit := func(i int, spec map[string]any) error {
		p := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": execloopv1alpha1.GroupVersion.String(), "kind": "Plan",
			"metadata": map[string]any{"name": fmt.Sprintf("bad-%02d", i), "namespace": ns},
			"spec":     spec,
		}}
		return k8sClient.Create(context.Background(), p)
	}
	refused, stalled := 0, 0
	var rows []string
	for i, b := range badPlans {
		err := admit(i, b.spec)
		if b.refused != nil {
			if err == nil {
				t.Errorf("%s: admitted", b.what)
				continue
			}
			for _, want := range b.refused {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("%s: refused with %q, which lacks %q", b.what, err, want)
				}
			}
			refused++
			rows = append(rows, fmt.Sprintf("| %s | refused at admission | %s |", b.what, oneLine(err.Error(), 160)))
			continue
		}
		if err != nil {
			t.Errorf("%s: refused at admission (%v), but it is for the controller to stall", b.what, err)
		}
	}
	for i, b := range badPlans {
		if b.refused != nil {
			continue
		}
		name := fmt.Sprintf("bad-%02d", i)
		var msg string
		waitFor(t, time.Minute, name+" Stalled", func() (bool, string) {
			p := &execloopv1alpha1.Plan{}
			if err := k8sClient.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, p); err != nil {
				return false, err.Error()
			}
			if c := p.Status.Condition(status.ConditionStalled); c != nil && p.Status.IsStalled(p.Generation) {
				msg = c.Message
				return true, ""
			}
			return false, string(p.Status.Phase)
		})
		if !strings.Contains(msg, b.stalled) {
			t.Errorf("%s: Stalled with %q, which lacks %q", b.what, msg, b.stalled)
		}
		stalled++
		rows = append(rows, fmt.Sprintf("| %s | Stalled | %s |", b.what, oneLine(msg, 160)))
	}
	var cms corev1.ConfigMapList
	if err := k8sClient.List(context.Background(), &cms, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	expected := map[string]bool{"kube-root-ca.crt": true}
	for _, b := range badPlans {
		expected[b.applied] = true
	}
	applied := 0
	for _, c := range cms.Items {
		if !expected[c.Name] {
			applied++
		}
	}
	if applied != 0 {
		t.Errorf("%d objects were applied from invalid plans", applied)
	}
	// At the limits, and in unicode where it is allowed: admitted.
	limits := map[string]map[string]any{
		"256 tasks":                     {"tasks": tasks(256)},
		"a task name of 63 characters":  {"tasks": []any{task(strings.Repeat("a", 63), "apply", cm("c"))}},
		"after with 8 names":            {"tasks": append(tasks(8), task("last", "after", []any{"t0", "t1", "t2", "t3", "t4", "t5", "t6", "t7"}, "apply", cm("last")))},
		"unicode in a ConfigMap's data": {"suspend": true, "tasks": []any{task("u", "apply", map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": "u"}, "data": map[string]any{"greeting": "grüß dich, 世界"}})}},
	}
	i := 100
	for what, spec := range limits {
		spec["suspend"] = true // admitted is all this checks
		if err := admit(i, spec); err != nil {
			t.Errorf("%s: refused: %v", what, err)
		}
		i++
	}

	section := "4. Bad input"
	figures.add(section, "`go test ./test/reliability -run TestBadInput`: %d invalid Plans, each turned away — %d at admission with a message naming the field, %d Stalled with a message naming the task — and **%d** objects applied from any of them, but for the one plan whose fault can only show once its object exists (a readyWhen that gives no bool). Plans at the limits (256 tasks, a 63-character task name, 8 names in after, unicode data) are admitted.", len(badPlans), refused, stalled, applied)
	figures.add(section, "")
	figures.add(section, "| invalid plan | turned away | message |")
	figures.add(section, "|---|---|---|")
	for _, r := range rows {
		figures.add(section, "%s", r)
	}
	figures.add(section, "")
	fuzzFigures(section)
}

// fuzzFigures adds the fuzzers' last lines, when make test-reliability ran
// them first (FUZZ_RESULTS names the folder of their output).
func fuzzFigures(section string) {
	dir := os.Getenv("FUZZ_RESULTS")
	if dir == "" {
		return
	}
	figures.add(section, "Fuzzing, as `make test-reliability` runs it:")
	figures.add(section, "")
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			continue
		}
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		last := ""
		for _, l := range lines {
			if strings.Contains(l, "execs:") || strings.Contains(l, "survived") {
				last = strings.TrimSpace(l)
			}
		}
		figures.add(section, "- `%s`: %s", strings.TrimSuffix(e.Name(), ".txt"), strings.TrimSpace(last))
	}
}

func oneLine(s string, n int) string {
	s = strings.ReplaceAll(strings.ReplaceAll(s, "\n", " "), "|", "\\|")
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
