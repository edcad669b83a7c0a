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
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/execloop/execloop/execloop"
	"github.com/execloop/execloop/execloop/executor"
)

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
