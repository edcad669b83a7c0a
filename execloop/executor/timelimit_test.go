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
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/execloop/execloop/execloop"
	"github.com/execloop/execloop/execloop/executor"
)

// A run under a context that is never done, with an ExecutionTimeout and
// no observer, has the time limit as its only end: these specs hold it to
// the contract, with and without a logger (which the caller tells of the
// task it interrupted).
var limited = []struct {
	name   string
	logged bool
}{
	{name: "without a logger"},
	{name: "with a logger", logged: true},
}

// limitedRun returns an executor with ExecutionTimeout limit, and the
// logger it logs to, when logged.
func limitedRun(limit, sleep time.Duration, logged bool) (*executor.Executor, *lines) {
	o := execloop.Options{ErrorsToTolerate: 5, ExecutionTimeout: limit, SleepBetweenRuns: sleep}
	log := &lines{}
	if logged {
		o.Logger = log
	}
	return executor.New(&o), log
}

func TestARunKeepsItsOwnTimeLimit(t *testing.T) {
	for _, l := range limited {
		t.Run(l.name+": the run returns DeadlineExceeded itself while a phase that ignores its context runs, and no phase starts after", func(t *testing.T) {
			leaks := goleak.IgnoreCurrent()
			tr := &trace{}
			b := &blockingTask{started: make(chan struct{}), release: make(chan struct{}), tr: tr}
			// Far more than the executor needs to start the blocker, so
			// the limit passes in its PerformAction; on a machine so busy
			// that it passed before, nothing may have run at all.
			const limit = 300 * time.Millisecond
			exec, log := limitedRun(limit, 0, l.logged)
			done := make(chan error, 1)
			go func() { done <- exec.Run(repeat{b, &fake{name: "after", tr: tr}}) }()
			var err error
			select {
			case err = <-done:
			case <-time.After(time.Minute):
				t.Fatal("the run waited for a phase that ignores its context")
			}
			if err != context.DeadlineExceeded { //nolint:errorlint // the context's error itself
				t.Fatalf("Run = %#v, want context.DeadlineExceeded itself", err)
			}
			logged := slices.Clone(log.out)
			started := false
			select {
			case <-b.started:
				started = true
			default:
			}
			close(b.release)
			goleak.VerifyNone(t, leaks)
			want := ""
			if started {
				want = "blocker.Pre blocker.PerformAction"
			}
			if got := tr.String(); got != want {
				t.Errorf("phases ran %q, want %q", got, want)
			}
			if !slices.Equal(log.out, logged) {
				t.Errorf("the logger was told more after the run returned:\n%s", strings.Join(log.out[len(logged):], "\n"))
			}
			if l.logged {
				want := []string{"ERROR run stopped: execution timeout of 300ms exceeded"}
				if started {
					want = append([]string{`WARNING task "blocker" interrupted in PerformAction: context deadline exceeded`}, want...)
				}
				if len(log.out) < len(want) || !slices.Equal(log.out[len(log.out)-len(want):], want) {
					t.Errorf("logged:\n%s\nwant it to end with:\n%s", strings.Join(log.out, "\n"), strings.Join(want, "\n"))
				}
			}

			// The executor's next runs start afresh: none inherits the
			// limit that passed.
			for i := range 20 {
				if err := exec.Run(&passes{lists: [][]executor.Task{noops(3)}}); err != nil {
					t.Fatalf("run %d after the limit passed: %v", i, err)
				}
			}
		})

		t.Run(l.name+": the sleep between passes ends with the limit, and the run's goroutines with it", func(t *testing.T) {
			leaks := goleak.IgnoreCurrent()
			wait := &fake{name: "waits", pre: fmt.Errorf("not yet: %w", executor.ErrInProgress), tr: &trace{}}
			exec, _ := limitedRun(50*time.Millisecond, time.Hour, l.logged)
			done := make(chan error, 1)
			go func() { done <- exec.Run(repeat{wait}) }()
			select {
			case err := <-done:
				if err != context.DeadlineExceeded { //nolint:errorlint // the context's error itself
					t.Fatalf("Run = %#v, want context.DeadlineExceeded itself", err)
				}
			case <-time.After(time.Minute):
				t.Fatal("the run slept past its time limit")
			}
			goleak.VerifyNone(t, leaks)
		})

		t.Run(l.name+": the plan and its tasks receive a context with the run's deadline", func(t *testing.T) {
			const limit = time.Minute
			type key struct{}
			ctx := context.WithValue(background, key{}, "run")
			var deadlines []time.Time
			see := func(ctx context.Context) {
				d, ok := ctx.Deadline()
				if !ok || ctx.Value(key{}) != "run" {
					t.Errorf("a context without a deadline (%v) or the caller's values (%v)", ok, ctx.Value(key{}))
				}
				deadlines = append(deadlines, d)
			}
			sees := executor.NewTask("sees", executor.TaskFuncs{
				PerformAction: func(ctx context.Context) ([]executor.Task, error) { see(ctx); return nil, nil },
			})
			ownTimeout := executor.NewTask("own-timeout", executor.TaskFuncs{
				Timeout: time.Hour, // the run's limit bounds it
				Pre:     func(ctx context.Context) error { see(ctx); return nil },
			})
			check := func(what string, plan executor.Plan, want int) {
				t.Helper()
				deadlines = nil
				exec, _ := limitedRun(limit, 0, l.logged)
				before := time.Now()
				if err := exec.RunWithContext(ctx, plan); err != nil {
					t.Fatalf("%s: RunWithContext: %v", what, err)
				}
				after := time.Now()
				if len(deadlines) != want {
					t.Fatalf("%s: %d contexts seen, want %d", what, len(deadlines), want)
				}
				for i, d := range deadlines {
					if !d.Equal(deadlines[0]) || d.Before(before.Add(limit)) || d.After(after.Add(limit)) {
						t.Errorf("%s: deadline %d is %s after the run started, want the run's: %s after, as the others",
							what, i, d.Sub(before), limit)
					}
				}
			}
			// A plan without CreateContext: the tasks that want a context
			// get the run's.
			check("tasks", &passes{lists: [][]executor.Task{{&fake{name: "plain", tr: &trace{}}, sees, ownTimeout}}}, 2)
			check("tasks, one with a timeout of its own first", &passes{lists: [][]executor.Task{{ownTimeout, sees}}}, 2)
			creates := 0
			check("Create and tasks", executor.PlanFunc(func(ctx context.Context) ([]executor.Task, error) {
				if creates++; creates > 1 {
					return nil, nil
				}
				see(ctx)
				return []executor.Task{sees, ownTimeout}, nil
			}), 3)
		})

		t.Run(l.name+": once the run returned, the context its tasks received is done", func(t *testing.T) {
			// The cancellation of the run's context reaches the contexts
			// made from it (a task's own timeout) only after the run's is
			// done: a run that returned before would let a phase checking
			// only its task's context start after the run returned.
			leaks := goleak.IgnoreCurrent()
			for i := range 100 {
				got := make(chan context.Context, 1)
				release := make(chan struct{})
				holds := executor.NewTask("holds", executor.TaskFuncs{
					Timeout: time.Hour,
					PerformAction: func(ctx context.Context) ([]executor.Task, error) {
						got <- ctx
						<-release // ignores its context
						return nil, nil
					},
				})
				exec, _ := limitedRun(time.Millisecond, 0, l.logged)
				if err := exec.Run(repeat{holds}); err != context.DeadlineExceeded { //nolint:errorlint // as above
					t.Fatalf("run %d: Run = %#v, want context.DeadlineExceeded itself", i, err)
				}
				var ctx context.Context
				select {
				case ctx = <-got:
				default:
					close(release)
					continue // the limit passed before the task started
				}
				err := ctx.Err()
				close(release)
				if !errors.Is(err, context.DeadlineExceeded) {
					t.Fatalf("run %d: Run returned while the context of its task was not done (%v)", i, err)
				}
			}
			goleak.VerifyNone(t, leaks)
		})

		t.Run(l.name+": a limit that passes at any moment ends the run cleanly", func(t *testing.T) {
			// Limits that pass anywhere in a pass of quick tasks: in a
			// phase, in the executor's work between phases, in Create.
			// Under -race this checks that the caller and the helper never
			// touch the pass at once.
			leaks := goleak.IgnoreCurrent()
			tasks := noops(200)
			for i := range 200 {
				exec, _ := limitedRun(time.Duration(1+rand.IntN(200))*time.Microsecond, 0, l.logged)
				if err := exec.Run(&passes{lists: [][]executor.Task{tasks}}); err != nil && err != context.DeadlineExceeded { //nolint:errorlint // as above
					t.Fatalf("run %d: error = %v", i, err)
				}
			}
			goleak.VerifyNone(t, leaks)
		})
	}
}
