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
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/execloop/execloop/execloop"
	"github.com/execloop/execloop/execloop/executor"
)

var errBoom = errors.New("boom")

func tolerant(n int) *executor.Executor {
	o := execloop.Options{ErrorsToTolerate: n}
	return executor.New(&o)
}

func TestPassRunsTasksInOrderAndSkipsWhatFollowsAnError(t *testing.T) {
	cases := []struct {
		name  string
		tasks func(tr *trace) []executor.Task
		want  string
	}{{
		name: "tasks run in order, each through Pre, PerformAction and Post",
		tasks: func(tr *trace) []executor.Task {
			return []executor.Task{&fake{name: "a", tr: tr}, &fake{name: "b", tr: tr}}
		},
		want: "a.Pre a.PerformAction a.Post b.Pre b.PerformAction b.Post",
	}, {
		name: "an error in Pre skips PerformAction and Post, and the pass goes on with the next task",
		tasks: func(tr *trace) []executor.Task {
			return []executor.Task{&fake{name: "a", pre: errBoom, tr: tr}, &fake{name: "b", tr: tr}}
		},
		want: "a.Pre b.Pre b.PerformAction b.Post",
	}, {
		name: "an error in PerformAction skips Post and the children",
		tasks: func(tr *trace) []executor.Task {
			child := &fake{name: "a1", tr: tr}
			return []executor.Task{&fake{name: "a", act: errBoom, children: []executor.Task{child}, tr: tr}, &fake{name: "b", tr: tr}}
		},
		want: "a.Pre a.PerformAction b.Pre b.PerformAction b.Post",
	}, {
		name: "an error in Post skips the children",
		tasks: func(tr *trace) []executor.Task {
			child := &fake{name: "a1", tr: tr}
			return []executor.Task{&fake{name: "a", post: errBoom, children: []executor.Task{child}, tr: tr}, &fake{name: "b", tr: tr}}
		},
		want: "a.Pre a.PerformAction a.Post b.Pre b.PerformAction b.Post",
	}, {
		name: "children run depth first, in order, right after their parent's Post and before its next sibling",
		tasks: func(tr *trace) []executor.Task {
			a11 := &fake{name: "a11", tr: tr}
			a1 := &fake{name: "a1", children: []executor.Task{a11}, tr: tr}
			a2 := &fake{name: "a2", tr: tr}
			return []executor.Task{&fake{name: "a", children: []executor.Task{a1, a2}, tr: tr}, &fake{name: "b", tr: tr}}
		},
		want: "a.Pre a.PerformAction a.Post a1.Pre a1.PerformAction a1.Post a11.Pre a11.PerformAction a11.Post " +
			"a2.Pre a2.PerformAction a2.Post b.Pre b.PerformAction b.Post",
	}, {
		name: "children follow the same rules: a failing child skips its own children only",
		tasks: func(tr *trace) []executor.Task {
			a11 := &fake{name: "a11", tr: tr}
			a1 := &fake{name: "a1", pre: errBoom, children: []executor.Task{a11}, tr: tr}
			a2 := &fake{name: "a2", tr: tr}
			return []executor.Task{&fake{name: "a", children: []executor.Task{a1, a2}, tr: tr}}
		},
		want: "a.Pre a.PerformAction a.Post a1.Pre a2.Pre a2.PerformAction a2.Post",
	}, {
		name: "an in-progress error skips the rest of the task like any error",
		tasks: func(tr *trace) []executor.Task {
			child := &fake{name: "a1", tr: tr}
			wait := fmt.Errorf("not ready: %w", executor.ErrInProgress)
			return []executor.Task{&fake{name: "a", post: wait, children: []executor.Task{child}, tr: tr}, &fake{name: "b", tr: tr}}
		},
		want: "a.Pre a.PerformAction a.Post b.Pre b.PerformAction b.Post",
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tr := &trace{}
			_, err := tolerant(10).RunOnce(background, &passes{lists: [][]executor.Task{tc.tasks(tr)}})
			if err != nil {
				t.Fatalf("RunOnce: %v", err)
			}
			if got := tr.String(); got != tc.want {
				t.Errorf("phases ran:\n got %s\nwant %s", got, tc.want)
			}
		})
	}
}

func TestRunOnceReportsEachTask(t *testing.T) {
	tr := &trace{}
	wait := fmt.Errorf("waiting for the database: %w", executor.ErrInProgress)
	shared := &fake{name: "shared", tr: tr}
	plan := &passes{lists: [][]executor.Task{{
		&fake{name: "ok", children: []executor.Task{shared}, tr: tr},
		&fake{name: "waits", post: wait, tr: tr},
		&fake{name: "fails", act: errBoom, tr: tr},
		&fake{name: "again", children: []executor.Task{shared}, tr: tr},
	}}}

	res, err := tolerant(1).RunOnce(background, plan, executor.ErrorsSpent(0))
	if err != nil {
		t.Fatalf("RunOnce: %v", err)
	}
	if res.Done {
		t.Error("Done is true for a pass that ran tasks")
	}
	if res.Errors != 1 {
		t.Errorf("Errors = %d, want 1 (in-progress errors are not spent)", res.Errors)
	}
	type row struct {
		name    string
		outcome execloop.Outcome
		phase   execloop.Phase
		err     error
	}
	want := []row{
		{"ok", execloop.Succeeded, execloop.PhasePost, nil},
		{"shared", execloop.Succeeded, execloop.PhasePost, nil},
		{"waits", execloop.InProgress, execloop.PhasePost, executor.ErrInProgress},
		{"fails", execloop.Failed, execloop.PhasePerformAction, errBoom},
		{"again", execloop.Succeeded, execloop.PhasePost, nil},
		{"shared", execloop.Succeeded, execloop.PhasePost, nil},
	}
	if len(res.Tasks) != len(want) {
		t.Fatalf("got %d task results, want %d: %+v", len(res.Tasks), len(want), res.Tasks)
	}
	for i, w := range want {
		g := res.Tasks[i]
		if g.Name != w.name || g.Outcome != w.outcome || g.Phase != w.phase || !errors.Is(g.Err, w.err) || (w.err == nil) != (g.Err == nil) {
			t.Errorf("task %d = {%s %s %s %v}, want {%s %s %s %v}", i, g.Name, g.Outcome, g.Phase, g.Err, w.name, w.outcome, w.phase, w.err)
		}
		if g.Duration < 0 {
			t.Errorf("task %s has a negative duration %s", g.Name, g.Duration)
		}
	}
	for name, n := range map[string]int{"shared": 2, "ok": 1, "missing": 0} {
		if got := res.Attempts(name); got != n {
			t.Errorf("Attempts(%q) = %d, want %d", name, got, n)
		}
	}

	res, err = tolerant(1).RunOnce(background, plan)
	if err != nil || !res.Done || len(res.Tasks) != 0 {
		t.Errorf("second pass = %+v, %v; want Done with no tasks", res, err)
	}
}

func TestErrorBudget(t *testing.T) {
	fatal := executor.Fatal(errBoom)
	cases := []struct {
		name      string
		tolerate  int
		carried   int
		tasks     func(tr *trace) []executor.Task
		wantTrace string
		wantFatal bool
		wantSpent int
	}{{
		name:     "errors up to ErrorsToTolerate are tolerated and reported, not returned",
		tolerate: 2,
		tasks: func(tr *trace) []executor.Task {
			return []executor.Task{&fake{name: "a", pre: errBoom, tr: tr}, &fake{name: "b", post: errBoom, tr: tr}, &fake{name: "c", tr: tr}}
		},
		wantTrace: "a.Pre b.Pre b.PerformAction b.Post c.Pre c.PerformAction c.Post",
		wantSpent: 2,
	}, {
		name:     "the error that exceeds ErrorsToTolerate ends the pass with a FatalError",
		tolerate: 1,
		tasks: func(tr *trace) []executor.Task {
			return []executor.Task{&fake{name: "a", pre: errBoom, tr: tr}, &fake{name: "b", pre: errBoom, tr: tr}, &fake{name: "c", tr: tr}}
		},
		wantTrace: "a.Pre b.Pre",
		wantFatal: true,
		wantSpent: 2,
	}, {
		name:     "with ErrorsToTolerate 0 the first error is fatal",
		tolerate: 0,
		tasks: func(tr *trace) []executor.Task {
			return []executor.Task{&fake{name: "a", act: errBoom, tr: tr}, &fake{name: "b", tr: tr}}
		},
		wantTrace: "a.Pre a.PerformAction",
		wantFatal: true,
		wantSpent: 1,
	}, {
		name:     "errors carried in with ErrorsSpent count against the budget",
		tolerate: 2,
		carried:  2,
		tasks: func(tr *trace) []executor.Task {
			return []executor.Task{&fake{name: "a", post: errBoom, tr: tr}, &fake{name: "b", tr: tr}}
		},
		wantTrace: "a.Pre a.PerformAction a.Post",
		wantFatal: true,
		wantSpent: 3,
	}, {
		name:     "in-progress errors never spend the budget",
		tolerate: 0,
		tasks: func(tr *trace) []executor.Task {
			wait := fmt.Errorf("not yet: %w", executor.ErrInProgress)
			return []executor.Task{&fake{name: "a", pre: wait, tr: tr}, &fake{name: "b", act: wait, tr: tr}, &fake{name: "c", post: wait, tr: tr}}
		},
		wantTrace: "a.Pre b.Pre b.PerformAction c.Pre c.PerformAction c.Post",
	}, {
		name:     "a fatal error ends the pass at once, whatever is left of the budget",
		tolerate: 10,
		tasks: func(tr *trace) []executor.Task {
			return []executor.Task{&fake{name: "a", act: fatal, tr: tr}, &fake{name: "b", tr: tr}}
		},
		wantTrace: "a.Pre a.PerformAction",
		wantFatal: true,
	}, {
		name:     "a fatal error wins over an in-progress error it wraps",
		tolerate: 10,
		tasks: func(tr *trace) []executor.Task {
			return []executor.Task{&fake{name: "a", pre: executor.Fatal(executor.ErrInProgress), tr: tr}, &fake{name: "b", tr: tr}}
		},
		wantTrace: "a.Pre",
		wantFatal: true,
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tr := &trace{}
			res, err := tolerant(tc.tolerate).RunOnce(background, &passes{lists: [][]executor.Task{tc.tasks(tr)}}, executor.ErrorsSpent(tc.carried))
			if got := tr.String(); got != tc.wantTrace {
				t.Errorf("phases ran:\n got %s\nwant %s", got, tc.wantTrace)
			}
			var fe *executor.FatalError
			if got := errors.As(err, &fe); got != tc.wantFatal {
				t.Fatalf("RunOnce error = %v; FatalError: %v, want %v", err, got, tc.wantFatal)
			}
			if tc.wantFatal && !errors.Is(err, errBoom) && !errors.Is(err, executor.ErrInProgress) {
				t.Errorf("the FatalError %q does not wrap the task's error", err)
			}
			if tc.wantFatal && !strings.Contains(err.Error(), `task "a"`) && !strings.Contains(err.Error(), `task "b"`) {
				t.Errorf("the FatalError %q does not name the task", err)
			}
			if res.Errors != tc.wantSpent {
				t.Errorf("Errors = %d, want %d", res.Errors, tc.wantSpent)
			}
		})
	}
}

func TestRunSpendsTheBudgetAcrossPassesAndStartsEachRunAfresh(t *testing.T) {
	tr := &trace{}
	plan := repeat{&fake{name: "flaky", pre: errBoom, tr: tr}}
	exec := tolerant(2)
	for run := 1; run <= 2; run++ {
		tr.steps = nil
		err := exec.Run(plan)
		var fe *executor.FatalError
		if !errors.As(err, &fe) || !errors.Is(err, errBoom) {
			t.Fatalf("run %d: Run = %v, want a FatalError wrapping the task's error", run, err)
		}
		if got, want := tr.String(), "flaky.Pre flaky.Pre flaky.Pre"; got != want {
			t.Errorf("run %d: phases ran %q, want %q (two tolerated errors, the third is fatal)", run, got, want)
		}
	}
}

func TestRunStopsWhenCreateReturnsNothing(t *testing.T) {
	tr := &trace{}
	plan := &passes{lists: [][]executor.Task{
		{&fake{name: "a", tr: tr}},
		{&fake{name: "b", tr: tr}},
	}}
	if err := tolerant(0).Run(plan); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if plan.creates != 3 {
		t.Errorf("Create was called %d times, want 3 (two passes, then the empty answer)", plan.creates)
	}
	if got, want := tr.String(), "a.Pre a.PerformAction a.Post b.Pre b.PerformAction b.Post"; got != want {
		t.Errorf("phases ran %q, want %q", got, want)
	}
}

type failingPlan struct{ err error }

func (p failingPlan) Create() ([]executor.Task, error) { return nil, p.err }

type panickingPlan struct{}

func (panickingPlan) Create() ([]executor.Task, error) { panic("no plan today") }

func TestCreateErrorsEndTheRun(t *testing.T) {
	cases := []struct {
		name string
		plan executor.Plan
		want string
	}{
		{"a Create error is returned, wrapped", failingPlan{errBoom}, "plan Create failed: boom"},
		{"a panic in Create is an error, not a crash", panickingPlan{}, "plan Create failed: panic: no plan today"},
		{"a nil plan is an error", nil, "the plan is nil"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tolerant(5).Run(tc.plan)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Run = %v, want an error containing %q", err, tc.want)
			}
			if p, ok := tc.plan.(failingPlan); ok && !errors.Is(err, p.err) {
				t.Errorf("errors.Is(%v, the Create error) is false", err)
			}
		})
	}
}

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
	// and a task with a timeout of its own on a goroutine of its own:
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
		{"on a task's own goroutine, beside the helper", ctx, time.Hour},
		{"on a task's own goroutine, beside the caller's", background, time.Hour},
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

func TestContextTasksGetTheRunsContext(t *testing.T) {
	type key struct{}
	ctx := context.WithValue(background, key{}, "run")
	var seen []string
	see := func(phase string) func(context.Context) error {
		return func(ctx context.Context) error {
			seen = append(seen, fmt.Sprintf("%s:%v", phase, ctx.Value(key{})))
			return nil
		}
	}
	task := executor.NewTask("ctx", executor.TaskFuncs{
		Pre: see("Pre"),
		PerformAction: func(ctx context.Context) ([]executor.Task, error) {
			return nil, see("PerformAction")(ctx)
		},
		Post: see("Post"),
	})
	plan := executor.PlanFunc(func(ctx context.Context) ([]executor.Task, error) {
		seen = append(seen, fmt.Sprintf("Create:%v", ctx.Value(key{})))
		if len(seen) > 1 {
			return nil, nil
		}
		return []executor.Task{task, executor.NewTask("empty", executor.TaskFuncs{})}, nil
	})
	if err := tolerant(0).RunWithContext(ctx, plan); err != nil {
		t.Fatalf("RunWithContext: %v", err)
	}
	if got, want := strings.Join(seen, " "), "Create:run Pre:run PerformAction:run Post:run Create:run"; got != want {
		t.Errorf("contexts seen: %s, want %s", got, want)
	}
}

func TestTaskTimeout(t *testing.T) {
	t.Run("a task that honours its context fails when its timeout passes, and the pass goes on", func(t *testing.T) {
		tr := &trace{}
		slow := executor.NewTask("slow", executor.TaskFuncs{
			Timeout: 20 * time.Millisecond,
			PerformAction: func(ctx context.Context) ([]executor.Task, error) {
				<-ctx.Done()
				return nil, ctx.Err()
			},
			Post: func(context.Context) error { tr.add("slow.Post"); return nil },
		})
		plan := &passes{lists: [][]executor.Task{{slow, &fake{name: "next", tr: tr}}}}
		res, err := tolerant(1).RunOnce(background, plan)
		if err != nil {
			t.Fatalf("RunOnce: %v", err)
		}
		got := res.Tasks[0]
		if got.Outcome != execloop.Failed || !errors.Is(got.Err, context.DeadlineExceeded) || !strings.Contains(got.Err.Error(), "timeout of 20ms") {
			t.Errorf("slow = %s %v, want Failed with a timeout error", got.Outcome, got.Err)
		}
		if res.Errors != 1 {
			t.Errorf("Errors = %d, want 1", res.Errors)
		}
		if tr.String() != "next.Pre next.PerformAction next.Post" {
			t.Errorf("phases ran: %s", tr)
		}
	})
	t.Run("a task that ignores its context is left behind when its timeout passes", func(t *testing.T) {
		leaks := goleak.IgnoreCurrent()
		tr := &trace{}
		release := make(chan struct{})
		stuck := executor.NewTask("stuck", executor.TaskFuncs{
			Timeout: 20 * time.Millisecond,
			Pre: func(context.Context) error {
				<-release
				return nil
			},
			PerformAction: func(context.Context) ([]executor.Task, error) { tr.add("stuck.PerformAction"); return nil, nil },
		})
		plan := &passes{lists: [][]executor.Task{{stuck, &fake{name: "next", tr: tr}}}}
		res, err := tolerant(1).RunOnce(background, plan)
		if err != nil {
			t.Fatalf("RunOnce: %v", err)
		}
		if !errors.Is(res.Tasks[0].Err, context.DeadlineExceeded) {
			t.Errorf("stuck error = %v, want a timeout", res.Tasks[0].Err)
		}
		close(release)
		goleak.VerifyNone(t, leaks)
		if tr.String() != "next.Pre next.PerformAction next.Post" {
			t.Errorf("phases ran: %s (PerformAction of the stuck task must never start)", tr)
		}
	})
}

func TestRunWithContext(t *testing.T) {
	wait := &fake{name: "waits", pre: fmt.Errorf("not yet: %w", executor.ErrInProgress), tr: &trace{}}

	t.Run("ExecutionTimeout ends the run with DeadlineExceeded itself, and the log says why", func(t *testing.T) {
		log := &lines{}
		o := execloop.Options{SleepBetweenRuns: time.Millisecond, ExecutionTimeout: 30 * time.Millisecond, Logger: log}
		err := executor.New(&o).RunWithContext(background, repeat{wait})
		if err != context.DeadlineExceeded { //nolint:errorlint // the original's users compare with ==
			t.Fatalf("RunWithContext = %#v, want context.DeadlineExceeded itself", err)
		}
		if last := log.out[len(log.out)-1]; last != "ERROR run stopped: execution timeout of 30ms exceeded" {
			t.Errorf("the last log line is %q, want the execution timeout", last)
		}
	})

	t.Run("a context deadline ends the run with DeadlineExceeded itself", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(background, 30*time.Millisecond)
		defer cancel()
		o := execloop.Options{SleepBetweenRuns: time.Millisecond}
		if err := executor.New(&o).RunWithContext(ctx, repeat{wait}); err != context.DeadlineExceeded { //nolint:errorlint // as above
			t.Fatalf("RunWithContext = %#v, want context.DeadlineExceeded itself", err)
		}
	})

	t.Run("a cancellation with a cause ends the run with Canceled itself, and the log gives the cause", func(t *testing.T) {
		ctx, cancel := context.WithCancelCause(background)
		cancel(errors.New("shutting down"))
		log := &lines{}
		o := execloop.Options{Logger: log}
		if err := executor.New(&o).RunWithContext(ctx, repeat{wait}); err != context.Canceled { //nolint:errorlint // as above
			t.Fatalf("RunWithContext = %#v, want context.Canceled itself", err)
		}
		if got := strings.Join(log.out, "\n"); got != "WARNING run stopped: shutting down" {
			t.Errorf("logged %q, want the cause", got)
		}
		if _, err := executor.New(&o).RunOnce(ctx, repeat{wait}); err != context.Canceled { //nolint:errorlint // as above
			t.Errorf("RunOnce = %#v, want context.Canceled itself", err)
		}
	})

	t.Run("cancellation interrupts the sleep between passes", func(t *testing.T) {
		ctx, cancel := context.WithCancel(background)
		plan := executor.PlanFunc(func(context.Context) ([]executor.Task, error) {
			cancel() // the first pass cancels; the run must not sleep the hour
			return []executor.Task{wait}, nil
		})
		o := execloop.Options{SleepBetweenRuns: time.Hour}
		done := make(chan error, 1)
		go func() { done <- executor.New(&o).RunWithContext(ctx, plan) }()
		select {
		case err := <-done:
			if err != context.Canceled { //nolint:errorlint // as above
				t.Fatalf("RunWithContext = %#v, want context.Canceled itself", err)
			}
		case <-time.After(time.Minute):
			t.Fatal("RunWithContext kept sleeping after its context was cancelled")
		}
	})

	t.Run("cancellation returns while a phase that ignores its context is in flight, and no phase starts after", func(t *testing.T) {
		leaks := goleak.IgnoreCurrent()
		tr := &trace{}
		b := &blockingTask{started: make(chan struct{}), release: make(chan struct{}), tr: tr}
		ctx, cancel := context.WithCancel(background)
		done := make(chan error, 1)
		go func() {
			done <- tolerant(5).RunWithContext(ctx, repeat{b, &fake{name: "after", tr: tr}})
		}()
		<-b.started
		cancel()
		select {
		case err := <-done:
			if err != context.Canceled { //nolint:errorlint // as above
				t.Fatalf("RunWithContext = %#v, want context.Canceled itself", err)
			}
		case <-time.After(time.Minute):
			t.Fatal("RunWithContext waited for a phase that ignores its context")
		}
		close(b.release)
		goleak.VerifyNone(t, leaks)
		if got, want := tr.String(), "blocker.Pre blocker.PerformAction"; got != want {
			t.Errorf("phases ran %q, want %q", got, want)
		}
	})

	t.Run("a context done before the run starts runs nothing", func(t *testing.T) {
		ctx, cancel := context.WithCancel(background)
		cancel()
		plan := &passes{lists: [][]executor.Task{{wait}}}
		if err := tolerant(5).RunWithContext(ctx, plan); !errors.Is(err, context.Canceled) || plan.creates != 0 {
			t.Fatalf("RunWithContext = %v after %d Creates, want Canceled after none", err, plan.creates)
		}
	})
}

func TestAnExecutorServesConcurrentRuns(t *testing.T) {
	exec := tolerant(3)
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tr := &trace{}
			plan := &passes{lists: [][]executor.Task{
				{&fake{name: "a", pre: errBoom, tr: tr}, &fake{name: "b", tr: tr}},
				{&fake{name: "c", post: errBoom, tr: tr}},
			}}
			if err := exec.Run(plan); err != nil {
				errs[i] = err
			} else if plan.creates != 3 {
				errs[i] = fmt.Errorf("Create called %d times, want 3", plan.creates)
			}
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("run %d: %v", i, err)
		}
	}
}

func TestOptions(t *testing.T) {
	d := execloop.DefaultOptions()
	if d.SleepBetweenRuns != time.Second || d.ErrorsToTolerate != 5 || d.ExecutionTimeout != 20*time.Minute || d.Logger == nil {
		t.Errorf("DefaultOptions() = %+v, want 1s, 5, 20m and a logger", d)
	}
	o := d.WithSleepBetweenRuns(time.Minute).WithErrorsToTolerate(1).WithExecutionTimeout(time.Hour).WithLogger(nil)
	if o.SleepBetweenRuns != time.Minute || o.ErrorsToTolerate != 1 || o.ExecutionTimeout != time.Hour || o.Logger != nil {
		t.Errorf("With* gave %+v", o)
	}
	if d.SleepBetweenRuns != time.Second || d.Logger == nil {
		t.Errorf("With* changed the receiver: %+v", d)
	}
	if got := executor.New(nil).Options(); got.ErrorsToTolerate != 5 || got.SleepBetweenRuns != time.Second {
		t.Errorf("New(nil) options = %+v, want the defaults", got)
	}

	invalid := []struct {
		opts execloop.Options
		want string
	}{
		{execloop.Options{ErrorsToTolerate: -1}, "execloop: Options.ErrorsToTolerate must not be negative, got -1"},
		{execloop.Options{SleepBetweenRuns: -time.Second}, "execloop: Options.SleepBetweenRuns must not be negative, got -1s"},
		{execloop.Options{ExecutionTimeout: -time.Minute}, "execloop: Options.ExecutionTimeout must not be negative, got -1m0s"},
	}
	for _, tc := range invalid {
		exec := executor.New(&tc.opts)
		err := exec.Run(repeat{})
		var oe *execloop.OptionError
		if !errors.As(err, &oe) || err.Error() != tc.want {
			t.Errorf("Run with %+v = %v, want %q", tc.opts, err, tc.want)
		}
		if _, err := exec.RunOnce(background, repeat{}); err == nil {
			t.Errorf("RunOnce with %+v ran", tc.opts)
		}
	}

	var zero executor.Executor
	tr := &trace{}
	if err := zero.Run(&passes{lists: [][]executor.Task{{&fake{name: "a", tr: tr}}}}); err != nil || tr.String() != "a.Pre a.PerformAction a.Post" {
		t.Errorf("the zero Executor: %v, %s", err, tr)
	}
}

func TestPhaseAndOutcomeNames(t *testing.T) {
	got := fmt.Sprint(execloop.PhasePre, execloop.PhasePerformAction, execloop.PhasePost, execloop.Phase(7),
		execloop.Succeeded, execloop.InProgress, execloop.Failed, execloop.Outcome(9))
	if want := "Pre PerformAction Post Phase(7) Succeeded InProgress Failed Outcome(9)"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if got := executor.Fatal(nil); got != nil {
		t.Errorf("Fatal(nil) = %v, want nil", got)
	}
}

func TestFatalErrorText(t *testing.T) {
	cases := []struct {
		name string
		err  error
		want string
	}{
		{"a bare FatalError prints as the original's does", &executor.FatalError{}, "FatalError: "},
		{"an error marked with Fatal prints its cause", executor.Fatal(errBoom), "fatal: boom"},
		{"a message without a cause prints alone", &executor.FatalError{Message: "stop"}, "stop"},
		{"a message and a cause are joined", &executor.FatalError{Message: "stop", Err: errBoom}, "stop: boom"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.err.Error(); got != tc.want {
				t.Errorf("Error() = %q, want %q", got, tc.want)
			}
		})
	}
}

// finishing is a plan that knows when it is finished: it needs each of its
// steps once, and says so after the pass that ran the last one.
type finishing struct {
	steps    []executor.Task
	creates  int
	finished bool
}

func (p *finishing) Create() ([]executor.Task, error) {
	p.creates++
	if p.finished {
		return nil, nil
	}
	return p.steps, nil
}

func (p *finishing) Finished() bool {
	p.finished = true
	return true
}

func TestAFinisherSavesTheConfirmingPass(t *testing.T) {
	t.Run("a pass in which every task succeeded is the last when the plan says so", func(t *testing.T) {
		tr := &trace{}
		plan := &finishing{steps: []executor.Task{&fake{name: "a", tr: tr}, &fake{name: "b", tr: tr}}}
		res, err := tolerant(0).RunOnce(background, plan)
		if err != nil || !res.Done || len(res.Tasks) != 2 {
			t.Fatalf("RunOnce = %+v, %v; want Done after running both tasks", res, err)
		}
		plan.finished, plan.creates = false, 0
		if err := tolerant(0).Run(plan); err != nil || plan.creates != 1 {
			t.Errorf("Run = %v after %d Creates, want nil after 1", err, plan.creates)
		}
	})
	t.Run("a pass with a task in progress or failed does not ask", func(t *testing.T) {
		for _, f := range []*fake{
			{name: "waits", pre: fmt.Errorf("later: %w", executor.ErrInProgress), tr: &trace{}},
			{name: "fails", pre: errBoom, tr: &trace{}},
		} {
			plan := &finishing{steps: []executor.Task{f}}
			res, err := tolerant(1).RunOnce(background, plan)
			if err != nil || res.Done || plan.finished {
				t.Errorf("%s: RunOnce = %+v, %v, Finished asked: %v; want not Done and not asked", f.name, res, err, plan.finished)
			}
		}
	})
}

// cyclic returns its parent as its child: a and b, each the other's child.
type cyclic struct {
	name string
	next *cyclic
}

func (c *cyclic) Name() string                            { return c.name }
func (c *cyclic) Pre() error                              { return nil }
func (c *cyclic) PerformAction() ([]executor.Task, error) { return []executor.Task{c.next}, nil }
func (c *cyclic) Post() error                             { return nil }

func TestChildrenNestAtMostMaxDepth(t *testing.T) {
	a := &cyclic{name: "a"}
	a.next = &cyclic{name: "b", next: a}
	ctx, cancel := context.WithCancel(background)
	defer cancel()
	for name, ctx := range map[string]context.Context{"on the caller's goroutine": background, "on the helper": ctx} {
		t.Run(name, func(t *testing.T) {
			tr := &trace{}
			plan := &passes{lists: [][]executor.Task{{a, &fake{name: "after", tr: tr}}}}
			res, err := tolerant(1).RunOnce(ctx, plan)
			if err != nil {
				t.Fatalf("RunOnce: %v", err)
			}
			if got, want := len(res.Tasks), executor.MaxDepth+3; got != want {
				t.Fatalf("%d task results, want %d: MaxDepth+1 runs of the cycle, the child beyond it, and the next task", got, want)
			}
			deep := res.Tasks[executor.MaxDepth+1]
			if deep.Outcome != execloop.Failed || deep.Phase != execloop.PhasePre || !errors.Is(deep.Err, executor.ErrTooDeep) {
				t.Errorf("the task beyond MaxDepth = {%s %s %s %v}, want Failed in Pre with ErrTooDeep", deep.Name, deep.Outcome, deep.Phase, deep.Err)
			}
			if want := fmt.Sprintf("task %q would run at depth %d, beyond the limit of %d", deep.Name, executor.MaxDepth+1, executor.MaxDepth); deep.Err == nil || !strings.Contains(deep.Err.Error(), want) {
				t.Errorf("its error %v does not say %q", deep.Err, want)
			}
			if res.Errors != 1 || tr.String() != "after.Pre after.PerformAction after.Post" {
				t.Errorf("errors %d, trace %q: want one error spent and the pass gone on", res.Errors, tr)
			}
		})
	}

	_, err := tolerant(0).RunOnce(background, &passes{lists: [][]executor.Task{{a}}})
	var fatal *executor.FatalError
	if !errors.As(err, &fatal) || !errors.Is(err, executor.ErrTooDeep) {
		t.Errorf("with no error tolerated, RunOnce = %v, want a FatalError wrapping ErrTooDeep", err)
	}
}
