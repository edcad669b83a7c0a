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
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/execloop/execloop/execloop"
	"github.com/execloop/execloop/execloop/executor"
)

// With a context that can be done, passes run on a helper goroutine. What
// the caller reads of a pass after giving up on it decides how the two hand
// it over, so each spec below runs in each of these ways.
type way struct {
	name    string
	once    bool // RunOnce, whose Result the caller returns
	observe bool // an observer and a logger, which the caller tells
}

var ways = []way{
	{name: "Run with no observer and no logger"},
	{name: "RunOnce", once: true},
	{name: "RunOnce with an observer and a logger", once: true, observe: true},
}

// do runs plan in the way w under ctx.
func (w way) do(ctx context.Context, plan executor.Plan, obs *events, log *lines) (executor.Result, error) {
	o := execloop.Options{ErrorsToTolerate: 5}
	var with []executor.Option
	if w.observe {
		o.Logger = log
		with = append(with, executor.WithObserver(obs))
	}
	exec := executor.New(&o, with...)
	if w.once {
		return exec.RunOnce(ctx, plan)
	}
	return executor.Result{}, exec.RunWithContext(ctx, plan)
}

func TestACancelledPassOnTheHelperGoroutine(t *testing.T) {
	for _, w := range ways {
		t.Run(w.name+": the caller returns while a phase that ignores its context runs, and nothing of the pass changes after", func(t *testing.T) {
			leaks := goleak.IgnoreCurrent()
			tr := &trace{}
			b := &blockingTask{started: make(chan struct{}), release: make(chan struct{}), tr: tr}
			plan := &passes{lists: [][]executor.Task{{&fake{name: "first", tr: tr}, b, &fake{name: "after", tr: tr}}}}
			ctx, cancel := context.WithCancel(background)
			obs, log := &events{}, &lines{}
			type outcome struct {
				res executor.Result
				err error
			}
			done := make(chan outcome, 1)
			go func() {
				res, err := w.do(ctx, plan, obs, log)
				done <- outcome{res, err}
			}()
			<-b.started
			cancel()
			var got outcome
			select {
			case got = <-done:
			case <-time.After(time.Minute):
				t.Fatal("the run waited for a phase that ignores its context")
			}
			if got.err != context.Canceled { //nolint:errorlint // the context's error itself
				t.Fatalf("error = %#v, want context.Canceled", got.err)
			}
			taskResults := fmt.Sprint(got.res.Tasks)
			events, logged := slices.Clone(obs.lines), slices.Clone(log.out)

			close(b.release)
			goleak.VerifyNone(t, leaks)
			if got, want := tr.String(), "first.Pre first.PerformAction first.Post blocker.Pre blocker.PerformAction"; got != want {
				t.Errorf("phases ran %q, want %q", got, want)
			}
			if after := fmt.Sprint(got.res.Tasks); after != taskResults {
				t.Errorf("the Result changed after RunOnce returned:\n%s\nthen\n%s", taskResults, after)
			}
			if !slices.Equal(obs.lines, events) || !slices.Equal(log.out, logged) {
				t.Errorf("the observer or the logger was told more after the run returned:\n%s\n%s",
					strings.Join(obs.lines[len(events):], "\n"), strings.Join(log.out[len(logged):], "\n"))
			}
			if w.once {
				if len(got.res.Tasks) != 1 || got.res.Tasks[0].Name != "first" {
					t.Errorf("Result.Tasks = %+v, want only first: the interrupted blocker did not end", got.res.Tasks)
				}
			}
			if w.observe {
				want := []string{
					"blocker finished under blocker: Failed in PerformAction, err=context canceled",
					"pass finished: done=false succeeded=1 in-progress=0 failed=1 errors=0 err=context canceled",
				}
				if last := obs.lines[len(obs.lines)-2:]; !slices.Equal(last, want) {
					t.Errorf("the observer was last told:\n%s\nwant:\n%s", strings.Join(last, "\n"), strings.Join(want, "\n"))
				}
				if last := log.out[len(log.out)-1]; last != `WARNING task "blocker" interrupted in PerformAction: context canceled` {
					t.Errorf("the last log line is %q, want the interrupted task", last)
				}
			}
		})

		t.Run(w.name+": a phase that cancels the run's context is the last to start", func(t *testing.T) {
			ctx, cancel := context.WithCancel(background)
			defer cancel()
			tr := &trace{}
			cancels := executor.NewTask("cancels", executor.TaskFuncs{
				Pre:           func(context.Context) error { tr.add("cancels.Pre"); cancel(); return nil },
				PerformAction: func(context.Context) ([]executor.Task, error) { tr.add("cancels.PerformAction"); return nil, nil },
			})
			plan := &passes{lists: [][]executor.Task{{cancels, &fake{name: "after", tr: tr}}}}
			res, err := w.do(ctx, plan, &events{}, &lines{})
			if err != context.Canceled { //nolint:errorlint // the context's error itself
				t.Fatalf("error = %#v, want context.Canceled", err)
			}
			if got := tr.String(); got != "cancels.Pre" {
				t.Errorf("phases ran %q, want only cancels.Pre", got)
			}
			if len(res.Tasks) != 0 {
				t.Errorf("Result.Tasks = %+v, want none: the interrupted task did not end", res.Tasks)
			}
		})

		t.Run(w.name+": a task's own timeout fails that task, and the pass goes on", func(t *testing.T) {
			ctx, cancel := context.WithCancel(background)
			defer cancel()
			tr := &trace{}
			release := make(chan struct{})
			defer close(release)
			stuck := executor.NewTask("stuck", executor.TaskFuncs{
				Timeout: 20 * time.Millisecond,
				Pre:     func(context.Context) error { <-release; return nil },
			})
			plan := &passes{lists: [][]executor.Task{{stuck, &fake{name: "next", tr: tr}}}}
			res, err := w.do(ctx, plan, &events{}, &lines{})
			if err != nil {
				t.Fatalf("error = %v, want none: the timeout is the task's, not the pass's", err)
			}
			if got := tr.String(); got != "next.Pre next.PerformAction next.Post" {
				t.Errorf("phases ran %q", got)
			}
			if w.once && (len(res.Tasks) != 2 || res.Tasks[0].Outcome != execloop.Failed || !strings.Contains(fmt.Sprint(res.Tasks[0].Err), "timeout of 20ms")) {
				t.Errorf("Result.Tasks = %+v, want stuck Failed with its timeout, then next", res.Tasks)
			}
		})
	}

	t.Run("runtime.Goexit in a phase fails the run, with an error that says so", func(t *testing.T) {
		ctx, cancel := context.WithCancel(background)
		defer cancel()
		tr := &trace{}
		goexit := executor.NewTask("goexit", executor.TaskFuncs{
			Post: func(context.Context) error { runtime.Goexit(); return nil },
		})
		plan := &passes{lists: [][]executor.Task{{goexit, &fake{name: "b", tr: tr}}, {&fake{name: "c", tr: tr}}}}
		log := &lines{}
		o := execloop.Options{ErrorsToTolerate: 1, Logger: log}
		err := executor.New(&o).RunWithContext(ctx, plan)
		var fe *executor.FatalError
		if !errors.As(err, &fe) || err.Error() != `execloop: task "goexit" failed in Post: fatal: Post called runtime.Goexit` {
			t.Fatalf("RunWithContext = %v, want a FatalError saying the task called runtime.Goexit", err)
		}
		if got := tr.String(); got != "" {
			t.Errorf("phases ran %q after the task called runtime.Goexit, want none", got)
		}
		if !slices.Contains(log.out, `ERROR task "goexit" failed in Post, ending the run: fatal: Post called runtime.Goexit`) {
			t.Errorf("the log lacks the task's failure:\n%s", strings.Join(log.out, "\n"))
		}
	})

	t.Run("runtime.Goexit in Create ends the run with a Create error", func(t *testing.T) {
		ctx, cancel := context.WithCancel(background)
		defer cancel()
		plan := executor.PlanFunc(func(context.Context) ([]executor.Task, error) { runtime.Goexit(); return nil, nil })
		err := tolerant(5).RunWithContext(ctx, plan)
		if err == nil || err.Error() != "execloop: plan Create failed: Create called runtime.Goexit" {
			t.Fatalf("RunWithContext = %v, want the Create error", err)
		}
	})

	t.Run("a panic in an observer reaches the caller's goroutine, as it does without a helper", func(t *testing.T) {
		ctx, cancel := context.WithCancel(background)
		defer cancel()
		defer func() {
			if v := recover(); v != "observer blew up" {
				t.Errorf("recovered %v, want the observer's panic", v)
			}
		}()
		_, _ = executor.New(&execloop.Options{}, executor.WithObserver(panickingObserver{})).RunOnce(ctx, repeat{&fake{name: "a", tr: &trace{}}})
		t.Error("RunOnce returned")
	})

	t.Run("runtime.Goexit in an observer ends the caller's goroutine, as it does without a helper", func(t *testing.T) {
		ctx, cancel := context.WithCancel(background)
		defer cancel()
		returned := false
		ended := make(chan struct{})
		go func() {
			defer close(ended)
			_, _ = executor.New(&execloop.Options{}, executor.WithObserver(exitingObserver{})).RunOnce(ctx, repeat{&fake{name: "a", tr: &trace{}}})
			returned = true
		}()
		<-ended
		if returned {
			t.Error("RunOnce returned after the observer called runtime.Goexit")
		}
	})
}

func TestRunOnceLeftByItsCallerReturnsWhatEndedBefore(t *testing.T) {
	// Without an observer or a logger, the caller of a RunOnce that gives
	// up returns the executions the helper recorded before, and the errors
	// spent, carried-in ones included, while the helper may still append:
	// here a failure, then a parent whose children outgrow the Result's
	// first array, the last of which blocks.
	leaks := goleak.IgnoreCurrent()
	tr := &trace{}
	b := &blockingTask{started: make(chan struct{}), release: make(chan struct{}), tr: tr}
	children := append(noops(5), b)
	parent := &fake{name: "parent", tr: tr, children: children}
	plan := &passes{lists: [][]executor.Task{{&fake{name: "fails", tr: tr, pre: errors.New("no")}, parent}}}
	ctx, cancel := context.WithCancel(background)
	type outcome struct {
		res executor.Result
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		res, err := tolerant(5).RunOnce(ctx, plan, executor.ErrorsSpent(2))
		done <- outcome{res, err}
	}()
	<-b.started
	cancel()
	got := <-done
	close(b.release)
	goleak.VerifyNone(t, leaks)
	if got.err != context.Canceled { //nolint:errorlint // the context's error itself
		t.Fatalf("error = %#v, want context.Canceled", got.err)
	}
	var names []string
	for _, r := range got.res.Tasks {
		names = append(names, r.Name)
	}
	if want := "fails parent noop-0 noop-1 noop-2 noop-3 noop-4"; strings.Join(names, " ") != want {
		t.Errorf("Result.Tasks = %v, want %s", names, want)
	}
	if got.res.Errors != 3 || got.res.Done {
		t.Errorf("Result = {Errors: %d, Done: %v}, want 3 errors (2 carried in) and not done", got.res.Errors, got.res.Done)
	}
}

// exitingObserver calls runtime.Goexit when told a task started.
type exitingObserver struct{ execloop.NopObserver }

func (exitingObserver) TaskStarted(context.Context, string) context.Context {
	runtime.Goexit()
	return nil
}

func TestAPassCutOffAtAnyMomentHandsOverCleanly(t *testing.T) {
	// Deadlines that fall anywhere in a pass of quick tasks: in a phase, in
	// the executor's work between phases, in Create. Under -race this
	// checks that the caller and the helper never touch the pass at once.
	tasks := noops(200)
	for _, w := range ways {
		t.Run(w.name, func(t *testing.T) {
			leaks := goleak.IgnoreCurrent()
			for i := range 200 {
				ctx, cancel := context.WithTimeout(background, time.Duration(rand.IntN(200))*time.Microsecond)
				obs, log := &events{}, &lines{}
				res, err := w.do(ctx, &passes{lists: [][]executor.Task{tasks}}, obs, log)
				cancel()
				if err != nil && err != context.DeadlineExceeded { //nolint:errorlint // the context's error itself
					t.Fatalf("run %d: error = %v", i, err)
				}
				if w.once && err == nil && len(res.Tasks) != len(tasks) {
					t.Fatalf("run %d: %d tasks reported after a full pass", i, len(res.Tasks))
				}
				if w.observe && len(obs.lines) > 0 {
					started, finished := 0, 0
					for _, l := range obs.lines {
						started += strings.Count(l, " started under ")
						finished += strings.Count(l, " finished under ")
					}
					if started != finished || !strings.HasPrefix(obs.lines[len(obs.lines)-1], "pass finished") {
						t.Fatalf("run %d: %d tasks started, %d finished, last told %q", i, started, finished, obs.lines[len(obs.lines)-1])
					}
				}
			}
			goleak.VerifyNone(t, leaks)
		})
	}
}
