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

package executor_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"

	"github.com/execloop/execloop/execloop"
	"github.com/execloop/execloop/execloop/executor"
)

// events is an Observer that writes down what it is told.
type events struct {
	lines []string
}

type spanKey struct{}

func (e *events) PassStarted(ctx context.Context) context.Context {
	e.lines = append(e.lines, "pass started")
	return context.WithValue(ctx, spanKey{}, "pass")
}

func (e *events) TaskStarted(ctx context.Context, task string) context.Context {
	e.lines = append(e.lines, fmt.Sprintf("%s started under %v", task, ctx.Value(spanKey{})))
	return context.WithValue(ctx, spanKey{}, task)
}

func (e *events) TaskFinished(ctx context.Context, ev execloop.TaskEvent) {
	e.lines = append(e.lines, fmt.Sprintf("%s finished under %v: %s in %s, err=%v", ev.Task, ctx.Value(spanKey{}), ev.Outcome, ev.Phase, ev.Err))
	if ev.Duration < 0 {
		e.lines = append(e.lines, "negative duration")
	}
}

func (e *events) PassFinished(_ context.Context, ev execloop.PassEvent) {
	e.lines = append(e.lines, fmt.Sprintf("pass finished: done=%v succeeded=%d in-progress=%d failed=%d errors=%d err=%v",
		ev.Done, ev.Succeeded, ev.InProgress, ev.Failed, ev.Errors, ev.Err))
}

func TestObserverIsToldAboutPassesAndTasks(t *testing.T) {
	obs := &events{}
	tr := &trace{}
	var phaseCtx any
	seeCtx := executor.NewTask("b", executor.TaskFuncs{Pre: func(ctx context.Context) error {
		phaseCtx = ctx.Value(spanKey{})
		return fmt.Errorf("later: %w", executor.ErrInProgress)
	}})
	plan := &passes{lists: [][]executor.Task{{
		&fake{name: "a", children: []executor.Task{&fake{name: "a1", post: errBoom, tr: tr}}, tr: tr},
		seeCtx,
		nil, // a task that does not run is started and finished all the same
	}}}
	o := execloop.Options{ErrorsToTolerate: 2}
	exec := executor.New(&o, executor.WithObserver(obs))
	if _, err := exec.RunOnce(background, plan); err != nil {
		t.Fatal(err)
	}
	if _, err := exec.RunOnce(background, plan); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"pass started",
		"a started under pass",
		"a finished under a: Succeeded in Post, err=<nil>",
		"a1 started under pass",
		"a1 finished under a1: Failed in Post, err=boom",
		"b started under pass",
		"b finished under b: InProgress in Pre, err=later: in progress",
		"<nil> started under pass",
		"<nil> finished under <nil>: Failed in Pre, err=the plan returned a nil task",
		"pass finished: done=false succeeded=1 in-progress=1 failed=2 errors=2 err=<nil>",
		"pass started",
		"pass finished: done=true succeeded=0 in-progress=0 failed=0 errors=0 err=<nil>",
	}
	if got := strings.Join(obs.lines, "\n"); got != strings.Join(want, "\n") {
		t.Errorf("observer was told:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}
	if phaseCtx != "b" {
		t.Errorf("the task's phases got the context %v, want the one TaskStarted returned", phaseCtx)
	}
}

// lines is a Logger that writes down each message with its level.
type lines struct{ out []string }

func (l *lines) Debugf(f string, a ...any)   { l.out = append(l.out, "DEBUG "+fmt.Sprintf(f, a...)) }
func (l *lines) Infof(f string, a ...any)    { l.out = append(l.out, "INFO "+fmt.Sprintf(f, a...)) }
func (l *lines) Warningf(f string, a ...any) { l.out = append(l.out, "WARNING "+fmt.Sprintf(f, a...)) }
func (l *lines) Errorf(f string, a ...any)   { l.out = append(l.out, "ERROR "+fmt.Sprintf(f, a...)) }

func TestLoggingNamesTheTaskAndUsesTheLevelOfTheOutcome(t *testing.T) {
	log := &lines{}
	tr := &trace{}
	o := execloop.Options{ErrorsToTolerate: 1, Logger: log}
	plan := &passes{lists: [][]executor.Task{{
		&fake{name: "fine", tr: tr},
		&fake{name: "waits", pre: fmt.Errorf("no db: %w", executor.ErrInProgress), tr: tr},
		&fake{name: "flaky", act: errBoom, tr: tr},
		&fake{name: "broken", panicIn: "Post", tr: tr},
	}}}
	_, err := executor.New(&o).RunOnce(background, plan)
	if err == nil {
		t.Fatal("the second failure was tolerated")
	}
	wantPrefixes := []string{
		"DEBUG plan Create returned 4 tasks",
		`DEBUG task "fine" succeeded in `,
		`DEBUG task "waits" in progress in Pre: no db: in progress`,
		`WARNING task "flaky" failed in PerformAction (1 of 1 tolerated errors spent): boom`,
		`ERROR task "broken" failed in Post, ending the run: Post panicked: broken blew up`,
		`DEBUG task "broken" panicked in Post: broken blew up` + "\ngoroutine ",
	}
	if len(log.out) != len(wantPrefixes) {
		t.Fatalf("logged %d lines, want %d:\n%s", len(log.out), len(wantPrefixes), strings.Join(log.out, "\n"))
	}
	for i, w := range wantPrefixes {
		if !strings.HasPrefix(log.out[i], w) {
			t.Errorf("line %d = %q, want it to start with %q", i, log.out[i], w)
		}
	}
}

func TestLogrBridge(t *testing.T) {
	var out []string
	sink := funcr.New(func(_, args string) { out = append(out, args) }, funcr.Options{Verbosity: 1})
	l := execloop.NewLogrLogger(sink)
	l.Debugf("d %d", 1)
	l.Infof("i %d", 2)
	l.Warningf("w %d", 3)
	l.Errorf("e %d", 4)
	l.(execloop.ValuesLogger).WithValues("task", "t").Infof("kv")
	want := []string{
		`"level"=1 "msg"="d 1"`,
		`"level"=0 "msg"="i 2"`,
		`"level"=0 "msg"="w 3" "severity"="warning"`,
		`"msg"="e 4" "error"=null`,
		`"level"=0 "msg"="kv" "task"="t"`,
	}
	if got := strings.Join(out, "\n"); got != strings.Join(want, "\n") {
		t.Errorf("logr got:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}
	if !l.(execloop.DebugEnabler).DebugEnabled() {
		t.Error("DebugEnabled is false at verbosity 1")
	}
	quiet := execloop.NewLogrLogger(funcr.New(func(string, string) {}, funcr.Options{Verbosity: 0}))
	if quiet.(execloop.DebugEnabler).DebugEnabled() {
		t.Error("DebugEnabled is true at verbosity 0")
	}
	execloop.NewLogrLogger(logr.Discard()).Errorf("into the void") // must not panic
}

func TestQuietLoggersCostNoAllocations(t *testing.T) {
	plan := repeat(noops(100))
	allocs := func(l execloop.Logger) float64 {
		o := execloop.Options{Logger: l}
		exec := executor.New(&o)
		return testing.AllocsPerRun(20, func() {
			if _, err := exec.RunOnce(background, plan); err != nil {
				t.Fatal(err)
			}
		})
	}
	base := allocs(nil)
	for name, l := range map[string]execloop.Logger{
		"logr.Discard":         execloop.NewLogrLogger(logr.Discard()),
		"funcr at verbosity 0": execloop.NewLogrLogger(funcr.New(func(string, string) {}, funcr.Options{})),
	} {
		if got := allocs(l); got != base {
			t.Errorf("a pass of 100 tasks with %s allocates %.0f times, with no logger %.0f", name, got, base)
		}
	}
}
