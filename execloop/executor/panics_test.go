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
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/execloop/execloop/execloop"
	"github.com/execloop/execloop/execloop/executor"
)

func TestPanicsAreErrorsOfTheTask(t *testing.T) {
	// Phases run on the pass's goroutine when the context can never be done,
	// and on a helper goroutine when it can: panics are recovered on both.
	cancellable, cancel := context.WithCancel(background)
	defer cancel()
	for _, where := range []struct {
		name string
		ctx  context.Context
	}{{"on the pass's goroutine", background}, {"on the helper goroutine", cancellable}} {
		for _, phase := range []string{"Pre", "PerformAction", "Post"} {
			t.Run("a panic in "+phase+" "+where.name+" is recovered and counted like any error", func(t *testing.T) {
				tr := &trace{}
				plan := &passes{lists: [][]executor.Task{{&fake{name: "a", panicIn: phase, tr: tr}, &fake{name: "b", tr: tr}}}}
				res, err := tolerant(1).RunOnce(where.ctx, plan)
				if err != nil {
					t.Fatalf("RunOnce: %v", err)
				}
				var pe *executor.PanicError
				if !errors.As(res.Tasks[0].Err, &pe) || pe.Phase.String() != phase || pe.Value != "a blew up" || len(pe.Stack) == 0 {
					t.Fatalf("task error = %#v, want a PanicError of %s with value and stack", res.Tasks[0].Err, phase)
				}
				if res.Errors != 1 || res.Tasks[0].Outcome != execloop.Failed || res.Tasks[0].Phase.String() != phase {
					t.Errorf("Errors = %d, outcome %s in %s; want 1, Failed in %s", res.Errors, res.Tasks[0].Outcome, res.Tasks[0].Phase, phase)
				}
				if !strings.HasSuffix(tr.String(), "b.Pre b.PerformAction b.Post") {
					t.Errorf("the pass did not go on after the panic: %s", tr)
				}
			})
		}
		t.Run("several panics "+where.name+", children's among them, each fail their own task", func(t *testing.T) {
			tr := &trace{}
			parent := &fake{name: "p", tr: tr, children: []executor.Task{
				&fake{name: "c1", panicIn: "Post", tr: tr},
				&fake{name: "c2", tr: tr},
			}}
			plan := &passes{lists: [][]executor.Task{{
				&fake{name: "a", panicIn: "Pre", tr: tr},
				parent,
				&fake{name: "b", panicIn: "PerformAction", tr: tr},
				&fake{name: "z", tr: tr},
			}}}
			res, err := tolerant(3).RunOnce(where.ctx, plan)
			if err != nil {
				t.Fatalf("RunOnce: %v", err)
			}
			var got []string
			for _, r := range res.Tasks {
				var pe *executor.PanicError
				got = append(got, fmt.Sprintf("%s %s in %s (panic: %v)", r.Name, r.Outcome, r.Phase, errors.As(r.Err, &pe)))
			}
			want := []string{
				"a Failed in Pre (panic: true)",
				"p Succeeded in Post (panic: false)",
				"c1 Failed in Post (panic: true)",
				"c2 Succeeded in Post (panic: false)",
				"b Failed in PerformAction (panic: true)",
				"z Succeeded in Post (panic: false)",
			}
			if strings.Join(got, "\n") != strings.Join(want, "\n") || res.Errors != 3 {
				t.Errorf("tasks:\n%s\nerrors: %d; want\n%s\nerrors: 3", strings.Join(got, "\n"), res.Errors, strings.Join(want, "\n"))
			}
		})
	}
	t.Run("a panic that exhausts the budget ends the run with a FatalError", func(t *testing.T) {
		tr := &trace{}
		err := tolerant(0).Run(repeat{&fake{name: "a", panicIn: "Post", tr: tr}})
		var fe *executor.FatalError
		var pe *executor.PanicError
		if !errors.As(err, &fe) || !errors.As(err, &pe) {
			t.Fatalf("Run = %v, want a FatalError wrapping a PanicError", err)
		}
	})
	t.Run("a panic outside the phases, in an observer, is not recovered", func(t *testing.T) {
		defer func() {
			if v := recover(); v != "observer blew up" {
				t.Errorf("recovered %v, want the observer's panic", v)
			}
		}()
		_, _ = executor.New(&execloop.Options{}, executor.WithObserver(panickingObserver{})).RunOnce(background, repeat{&fake{name: "a", tr: &trace{}}})
		t.Error("RunOnce returned")
	})
	t.Run("runtime.Goexit in a phase on the pass's goroutine ends it, as it would without the executor", func(t *testing.T) {
		returned := false
		ended := make(chan struct{})
		obs := &events{}
		go func() {
			defer close(ended)
			goexit := executor.NewTask("goexit", executor.TaskFuncs{
				Pre: func(context.Context) error { runtime.Goexit(); return nil },
			})
			_, _ = executor.New(&execloop.Options{}, executor.WithObserver(obs)).RunOnce(background, repeat{goexit})
			returned = true
		}()
		<-ended
		if returned {
			t.Error("RunOnce returned after runtime.Goexit")
		}
		if want := "pass started\ngoexit started under pass"; strings.Join(obs.lines, "\n") != want {
			t.Errorf("the observer was told:\n%s\nwant:\n%s", strings.Join(obs.lines, "\n"), want)
		}
	})
}

func TestGoexitOffTheCallersGoroutineFailsTheRun(t *testing.T) {
	// With a context that can be done, phases run on a helper goroutine,
	// and a task with a timeout of its own on the run's runner goroutine:
	// runtime.Goexit there (t.FailNow in a task, say) ends that goroutine,
	// not the caller's, which must not wait for it for ever. The run cannot
	// go on as the task's code meant: it fails, and says why.
	ctx, cancel := context.WithCancel(background)
	defer cancel()
	for _, where := range []struct {
		name    string
		ctx     context.Context
		timeout time.Duration
	}{
		{"on the helper", ctx, 0},
		{"on the runner, beside the helper", ctx, time.Hour},
		{"on the runner, beside the caller's goroutine", background, time.Hour},
	} {
		t.Run(where.name, func(t *testing.T) {
			tr := &trace{}
			goexit := executor.NewTask("goexit", executor.TaskFuncs{
				Timeout:       where.timeout,
				PerformAction: func(context.Context) ([]executor.Task, error) { runtime.Goexit(); return nil, nil },
			})
			plan := repeat{goexit, &fake{name: "b", tr: tr}}
			done := make(chan struct{})
			var res executor.Result
			var err error
			go func() {
				defer close(done)
				res, err = tolerant(3).RunOnce(where.ctx, plan)
			}()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("RunOnce did not return after a phase called runtime.Goexit")
			}
			var fe *executor.FatalError
			if !errors.As(err, &fe) || err.Error() != `execloop: task "goexit" failed in PerformAction: fatal: PerformAction called runtime.Goexit` {
				t.Fatalf("RunOnce = %v, want a FatalError saying the task called runtime.Goexit", err)
			}
			if len(res.Tasks) != 1 || res.Tasks[0].Outcome != execloop.Failed || res.Tasks[0].Phase != execloop.PhasePerformAction {
				t.Errorf("tasks = %+v; want goexit Failed in PerformAction, and nothing after", res.Tasks)
			}
			if got := tr.String(); got != "" {
				t.Errorf("phases ran %q after the task called runtime.Goexit, want none", got)
			}
		})
	}
}

// panickingObserver panics when told a task started.
type panickingObserver struct{}

func (panickingObserver) PassStarted(ctx context.Context) context.Context { return ctx }

func (panickingObserver) TaskStarted(context.Context, string) context.Context {
	panic("observer blew up")
}

func (panickingObserver) TaskFinished(context.Context, execloop.TaskEvent) {}

func (panickingObserver) PassFinished(context.Context, execloop.PassEvent) {}
