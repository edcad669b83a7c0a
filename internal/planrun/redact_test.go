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
	"encoding/base64"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"

	execloopv1alpha1 "github.com/execloop/execloop/api/v1alpha1"
	"github.com/execloop/execloop/execloop/executor"
)

// secretObject is a Secret whose data holds each value, base64-encoded, by
// its key.
func secretObject(data map[string]string) *unstructured.Unstructured {
	d := map[string]any{}
	for k, v := range data {
		d[k] = base64.StdEncoding.EncodeToString([]byte(v))
	}
	return &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Secret",
		"metadata": map[string]any{"name": "creds"}, "data": d}}
}

func TestAValueComputedFromASecretIsRecordedWithItsField(t *testing.T) {
	creds := secretObject(map[string]string{"password": "hunter2-x9", "user": "app-user"})
	config := map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": "config"},
		"data": map[string]any{"host": "db.shop"}}
	vars := map[string]any{"plan": planVariable(&execloopv1alpha1.Plan{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "shop"}}), "tasks": map[string]any{
		"creds": map[string]any{"object": creds.Object}, "config": map[string]any{"object": config},
	}}
	var secrets secretValues
	secrets.addSecret(creds)

	tests := []struct {
		name       string
		value      string
		wantSecret bool
		wantValues []string // among the values recorded
	}{
		{name: "a Secret's data as stored", value: "${tasks.creds.object.data.password}", wantSecret: true,
			wantValues: []string{base64.StdEncoding.EncodeToString([]byte("hunter2-x9"))}},
		{name: "a Secret's value decoded and changed", value: "${string(base64.decode(tasks.creds.object.data.password)).upperAscii()}", wantSecret: true,
			wantValues: []string{"HUNTER2-X9"}},
		{name: "a DSN that holds a Secret's value", value: "postgres://app:${string(base64.decode(tasks.creds.object.data.password))}@${tasks.config.object.data.host}/app", wantSecret: true,
			wantValues: []string{"hunter2-x9"}},
		{name: "a Secret's whole data", value: "${tasks.creds.object.data}", wantSecret: true},
		{name: "a choice made on a Secret's value", value: `${tasks.creds.object.data.password == "x" ? "was-x" : "was-not-x"}`, wantSecret: true,
			wantValues: []string{"was-not-x"}},
		{name: "a Secret's name", value: "${tasks.creds.object.metadata.name}", wantSecret: false},
		{name: "a value of a ConfigMap", value: "${tasks.config.object.data.host}", wantSecret: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			manifest := map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": "app"},
				"data": map[string]any{"value": tt.value, "plain": "${plan.metadata.name}"}}
			tmpl, err := compileTemplate(planExpressions, "", "app", "apply", manifest)
			if err != nil {
				t.Fatal(err)
			}
			_, from, err := tmpl.resolve(context.Background(), manifest, vars, &secrets)
			if err != nil {
				t.Fatal(err)
			}
			var want [][]any
			if tt.wantSecret {
				want = [][]any{{"data", "value"}}
			}
			if !reflect.DeepEqual(from.paths, want) {
				t.Errorf("fields computed from a Secret: %v, want %v", from.paths, want)
			}
			for _, v := range tt.wantValues {
				if _, ok := from.values.set[v]; !ok {
					t.Errorf("values computed from a Secret: %v, want %q among them", from.values.set, v)
				}
			}
		})
	}
}

func TestTheMaskReplacesEveryValueOfASecretAndLeavesShortOnes(t *testing.T) {
	var s secretValues
	s.addSecret(secretObject(map[string]string{"password": "hunter2-x9", "pin": "123"}))
	s.add("HUNTER2-X9")
	s.add("hunter2-x9-and-more")
	tests := []struct{ in, want string }{
		{`spec.externalName: Invalid value: "hunter2-x9": a lowercase RFC 1123 subdomain`, `spec.externalName: Invalid value: "***": a lowercase RFC 1123 subdomain`},
		{"data: aHVudGVyMi14OQ==", "data: ***"},
		{"upper HUNTER2-X9, longer hunter2-x9-and-more", "upper ***, longer ***"},
		{"pin 123 and its base64 MTIz stay: shorter than 4", "pin 123 and its base64 MTIz stay: shorter than 4"},
	}
	for _, tt := range tests {
		if got := s.mask(tt.in); got != tt.want {
			t.Errorf("mask(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestATaskErrorOfAPassHasTheValuesOfSecretsMasked(t *testing.T) {
	creds := &taskSpec{name: "creds", kind: waitKind{}}
	run := &Run{tasks: []*taskSpec{creds}, state: map[string]*taskState{
		"creds": {live: secretObject(map[string]string{"password": "hunter2-x9"})},
	}}
	refused := fmt.Errorf(`applying Service shop/db: spec.externalName: Invalid value: "hunter2-x9": %w`, executor.ErrInProgress)
	tasks := redacting(run, []executor.Task{executor.NewTask("db", executor.TaskFuncs{
		Pre: func(context.Context) error { return refused },
	})})
	err := tasks[0].(executor.ContextTask).PreContext(context.Background())
	if want := `applying Service shop/db: spec.externalName: Invalid value: "***": in progress`; err == nil || err.Error() != want {
		t.Errorf("the task's error: %v, want %q", err, want)
	}
	if !errors.Is(err, executor.ErrInProgress) {
		t.Error("the masked error no longer wraps what the task's did")
	}
	if strings.Contains(fmt.Sprintf("%v %+v %s", err, err, err), "hunter2") {
		t.Error("the value shows when the error is formatted")
	}
}

func TestTheMaskCoversAValueAsMessagesQuoteIt(t *testing.T) {
	invalid := func(value any) string {
		return apierrors.NewInvalid(schema.GroupKind{Kind: "ConfigMap"}, "app", field.ErrorList{
			field.Invalid(field.NewPath("metadata", "labels"), value, "not a valid label"),
		}).Error()
	}
	_, parseErr := strconv.Atoi("hunter\x0122")
	tests := []struct {
		name   string
		secret string // the Secret's value, decoded
		text   string // a message that shows it
		gone   string // what must not show
	}{
		{name: "a string the API server quotes with %q", secret: "hunter22\n",
			text: invalid("hunter22\n"), gone: "hunter"},
		{name: "a map the API server shows as JSON", secret: "pw<&>pw",
			text: invalid(map[string]any{"pass": "pw<&>pw"}), gone: "pw"},
		{name: "a control character the API server quotes with %q, unlike JSON", secret: "hunter\x0122",
			text: invalid("hunter\x0122"), gone: "hunter"},
		{name: "a value strconv quotes", secret: "hunter\x0122",
			text: parseErr.Error(), gone: "hunter"},
		{name: "a value without its trailing newline", secret: "hunter22\n",
			text: invalid("hunter22"), gone: "hunter"},
		{name: "a quoted form of a short value stays", secret: "p\n\t",
			text: invalid("p\n\t"), gone: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s secretValues
			s.addSecret(secretObject(map[string]string{"password": tt.secret}))
			got := s.mask(tt.text)
			if tt.gone == "" {
				if got != tt.text {
					t.Errorf("mask(%q) = %q, want it unchanged", tt.text, got)
				}
				return
			}
			if strings.Contains(got, tt.gone) || !strings.Contains(got, masked) {
				t.Errorf("mask(%q) = %q, want %q masked", tt.text, got, tt.gone)
			}
		})
	}
}

// credsAndConfig are the variables of expressions that read a Secret,
// creds, whose dsn holds a password, and a ConfigMap, config.
func credsAndConfig() (vars map[string]any, creds, config *unstructured.Unstructured) {
	creds = secretObject(map[string]string{"dsn": "app:hunter2-x9@db.shop"})
	config = &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{"name": "config"}, "data": map[string]any{"host": "db.shop"}}}
	vars = map[string]any{"plan": planVariable(&execloopv1alpha1.Plan{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "shop"}}),
		"tasks": map[string]any{"creds": map[string]any{"object": creds.Object}, "config": map[string]any{"object": config.Object}}}
	return vars, creds, config
}

func TestAnExpressionThatFailsOnAValueDerivedFromASecretHasItMasked(t *testing.T) {
	vars, creds, _ := credsAndConfig()
	var secrets secretValues
	secrets.addSecret(creds)
	const user = `string(base64.decode(tasks.creds.object.data.dsn)).split("@")[0]`
	tests := []struct {
		name     string
		value    string
		missing  bool   // the error says a value is not there yet
		wantText string // in the masked error
	}{
		{name: "a key derived from a Secret that is not there yet", value: "${tasks.config.object.data[" + user + "]}",
			missing: true, wantText: "no such key: ***"},
		{name: "a pattern derived from a Secret that does not parse", value: `${tasks.config.object.data.host.matches(` + user + ` + "(")}`,
			wantText: "missing closing )"},
		{name: "a key not derived from a Secret keeps its message", value: `${tasks.config.object.data["no-" + tasks.config.object.data.host]}`,
			missing: true, wantText: "no such key: no-db.shop"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			manifest := map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": "app"},
				"data": map[string]any{"value": tt.value}}
			tmpl, err := compileTemplate(planExpressions, "", "app", "apply", manifest)
			if err != nil {
				t.Fatal(err)
			}
			_, from, err := tmpl.resolve(context.Background(), manifest, vars, &secrets)
			var missing *missingValue
			if err == nil || errors.As(err, &missing) != tt.missing {
				t.Fatalf("the error: %v, want one that says a value is missing: %v", err, tt.missing)
			}
			from.values.addAll(&secrets)
			got := from.values.mask(err.Error())
			if strings.Contains(got, "hunter2") || strings.Contains(got, "app:") || !strings.Contains(got, tt.wantText) {
				t.Errorf("the masked error: %q, want %q in it and no value derived from the Secret", got, tt.wantText)
			}
		})
	}
}

func TestAnIncludeWhenThatFailsOnAValueDerivedFromASecretHasItMasked(t *testing.T) {
	_, creds, config := credsAndConfig()
	credsTask, configTask := &taskSpec{name: "creds", kind: waitKind{}}, &taskSpec{name: "config", kind: waitKind{}}
	expr := `tasks.config.object.data[string(base64.decode(tasks.creds.object.data.dsn)).split("@")[0]] == "x"`
	c, err := conditionPrograms.compile(expr)
	if err != nil {
		t.Fatal(err)
	}
	app := &taskSpec{name: "app", kind: applyKind{}, refs: []*taskSpec{credsTask, configTask},
		include: &exprPart{expr: expr, prog: c.prog, refs: c.refs}}
	run := &Run{plan: &execloopv1alpha1.Plan{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "shop"}},
		tasks: []*taskSpec{credsTask, configTask, app},
		state: map[string]*taskState{"creds": {live: creds}, "config": {live: config}}}
	_, err = run.included(context.Background(), app)
	if !errors.Is(err, executor.ErrInProgress) {
		t.Fatalf("the error: %v, want the task waiting", err)
	}
	if got := run.redact(err).Error(); strings.Contains(got, "hunter2") || !strings.Contains(got, "no such key: ***") {
		t.Errorf("the masked error: %q, want the key masked", got)
	}
}

func TestAReadyWhenThatFailsOnASecretHasItsMessageWithheld(t *testing.T) {
	_, creds, config := credsAndConfig()
	config.Object["data"] = creds.Object["data"] // the same data, in clear: nothing to withhold
	c, err := readyWhenPrograms.compile(`object.data[object.data.dsn.substring(0, 8)] == "x"`)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		live       *unstructured.Unstructured
		wantReason string
	}{
		{name: "over a Secret", live: creds, wantReason: "readyWhen: " + withheld},
		{name: "over a ConfigMap", live: config, wantReason: "readyWhen: no such key: YXBwOmh1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ready, reason, err := readiness(context.Background(), tt.live, c.prog, nil)
			if ready || err != nil || reason != tt.wantReason {
				t.Errorf("readiness: %v, %q, %v; want not ready, %q", ready, reason, err, tt.wantReason)
			}
		})
	}
}

func TestAPanicInATaskOfAPassHasTheValuesOfSecretsMasked(t *testing.T) {
	run := &Run{tasks: []*taskSpec{{name: "creds", kind: waitKind{}}}, state: map[string]*taskState{
		"creds": {live: secretObject(map[string]string{"password": "hunter2-x9"})},
	}}
	leak := errors.New("bad value hunter2-x9")
	tests := []struct {
		name  string
		funcs func(v any) executor.TaskFuncs
		value any
	}{
		{name: "Pre panics with a string", value: "bad value hunter2-x9",
			funcs: func(v any) executor.TaskFuncs {
				return executor.TaskFuncs{Pre: func(context.Context) error { panic(v) }}
			}},
		{name: "PerformAction panics with an error", value: leak,
			funcs: func(v any) executor.TaskFuncs {
				return executor.TaskFuncs{PerformAction: func(context.Context) ([]executor.Task, error) { panic(v) }}
			}},
		{name: "Post panics with a value without a Secret's", value: 42,
			funcs: func(v any) executor.TaskFuncs {
				return executor.TaskFuncs{Post: func(context.Context) error { panic(v) }}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			task := redacting(run, []executor.Task{executor.NewTask("db", tt.funcs(tt.value))})[0].(executor.ContextTask)
			got := func() (v any) {
				defer func() { v = recover() }()
				ctx := context.Background()
				if err := task.PreContext(ctx); err != nil {
					return err
				}
				if _, err := task.PerformActionContext(ctx); err != nil {
					return err
				}
				return task.PostContext(ctx)
			}()
			text := fmt.Sprint(got)
			if strings.Contains(text, "hunter2") || text != strings.ReplaceAll(fmt.Sprint(tt.value), "hunter2-x9", masked) {
				t.Errorf("the panic: %q, want %v with the Secret's value masked", text, tt.value)
			}
			if err, ok := tt.value.(error); ok && !errors.Is(got.(error), err) {
				t.Error("the masked panic no longer wraps the error the task panicked with")
			}
		})
	}
}

// BenchmarkRedactingTheErrorsOfAPass redacts the error of each of the 100
// tasks of a pass that reads a Secret: what a pass in which every task
// waits does.
func BenchmarkRedactingTheErrorsOfAPass(b *testing.B) {
	run := &Run{state: map[string]*taskState{}}
	for i := range 100 {
		t := &taskSpec{name: fmt.Sprintf("task-%d", i), kind: applyKind{}}
		run.tasks = append(run.tasks, t)
		run.state[t.name] = &taskState{}
	}
	run.state["task-0"].live = secretObject(map[string]string{"password": "hunter2-x9", "user": "app-user"})
	errs := make([]error, len(run.tasks))
	for i, t := range run.tasks {
		errs[i] = fmt.Errorf("waiting for %s: the object of task creds (hunter2-x9): %w", t.name, executor.ErrInProgress)
	}
	for b.Loop() {
		for _, err := range errs {
			_ = run.redact(err)
		}
	}
}

func TestAPassComputesItsSecretValuesOnceUntilWhatTheyComeFromChanges(t *testing.T) {
	run := &Run{tasks: []*taskSpec{{name: "creds", kind: waitKind{}}}, state: map[string]*taskState{
		"creds": {live: secretObject(map[string]string{"password": "hunter2-x9"})},
	}}
	first := run.secretValues()
	replacer := first.masker()
	tests := []struct {
		name     string
		change   func()
		wantSame bool   // the values computed before
		hidden   string // a value masked now
	}{
		{name: "asked again, after errors were redacted", change: func() {
			_ = run.redact(errors.New("hunter2-x9"))
			_ = run.redact(errors.New("hunter2-x9 again"))
		}, wantSame: true, hidden: "hunter2-x9"},
		{name: "after the Secret changed", change: func() {
			run.state["creds"].live = secretObject(map[string]string{"password": "swordfish-2"})
			run.secretsChanged()
		}, hidden: "swordfish-2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.change()
			got := run.secretValues()
			if same := got == first && got.masker() == replacer; same != tt.wantSame {
				t.Errorf("the values and their Replacer are the ones computed before: %v, want %v", same, tt.wantSame)
			}
			if text := got.mask("a " + tt.hidden); text != "a "+masked {
				t.Errorf("mask: %q, want %q masked", text, tt.hidden)
			}
		})
	}
}
