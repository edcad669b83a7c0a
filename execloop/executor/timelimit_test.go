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
// no observer, keeps its time limit itself, making a context only for the
// plan or a task that receives one. These specs hold it to the contract a
// context.WithTimeout keeps, with and without a logger (which the caller
// tells of the task it interrupted).
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
			// the limit passes in its PerformAction, however busy the
			// machine.
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
			close(b.release)
			goleak.VerifyNone(t, leaks)
			if got, want := tr.String(), "blocker.Pre blocker.PerformAction"; got != want {
				t.Errorf("phases ran %q, want %q", got, want)
			}
			if !slices.Equal(log.out, logged) {
				t.Errorf("the logger was told more after the run returned:\n%s", strings.Join(log.out[len(logged):], "\n"))
			}
			if l.logged {
				want := []string{
					`WARNING task "blocker" interrupted in PerformAction: context deadline exceeded`,
					"ERROR run stopped: execution timeout of 300ms exceeded",
				}
				if len(log.out) < 2 || !slices.Equal(log.out[len(log.out)-2:], want) {
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

		t.Run(l.name+": the plan and its tasks receive a context with the run's deadline, done when it passes", func(t *testing.T) {
			// Far more than the executor needs to reach the task that
			// waits, so it is the one the limit interrupts.
			const limit = 500 * time.Millisecond
			type key struct{}
			ctx := context.WithValue(background, key{}, "run")
			// Without a logger the run returns as the limit passes, while
			// the task that waits may still run: what they saw comes back
			// through channels.
			seen := make(chan time.Time, 3)
			see := func(ctx context.Context) {
				d, ok := ctx.Deadline()
				if !ok || ctx.Value(key{}) != "run" {
					t.Errorf("a context without a deadline (%v) or the caller's values (%v)", ok, ctx.Value(key{}))
				}
				seen <- d
			}
			interrupted := make(chan error, 1)
			waits := executor.NewTask("waits", executor.TaskFuncs{
				PerformAction: func(ctx context.Context) ([]executor.Task, error) {
					see(ctx)
					<-ctx.Done()
					interrupted <- ctx.Err()
					return nil, ctx.Err()
				},
			})
			ownTimeout := executor.NewTask("own-timeout", executor.TaskFuncs{
				Timeout: time.Hour, // the run's limit bounds it
				Pre:     func(ctx context.Context) error { see(ctx); return nil },
			})
			plan := executor.PlanFunc(func(ctx context.Context) ([]executor.Task, error) {
				see(ctx)
				return []executor.Task{&fake{name: "plain", tr: &trace{}}, ownTimeout, waits}, nil
			})
			exec, _ := limitedRun(limit, 0, l.logged)
			before := time.Now()
			err := exec.RunWithContext(ctx, plan)
			after := time.Now()
			if err != context.DeadlineExceeded { //nolint:errorlint // the context's error itself
				t.Fatalf("RunWithContext = %#v, want context.DeadlineExceeded itself", err)
			}
			select {
			case err := <-interrupted:
				if !errors.Is(err, context.DeadlineExceeded) {
					t.Errorf("the waiting task's context ended with %v, want DeadlineExceeded", err)
				}
			case <-time.After(time.Minute):
				t.Fatal("the waiting task's context was not done")
			}
			close(seen)
			var deadlines []time.Time
			for d := range seen {
				deadlines = append(deadlines, d)
			}
			if len(deadlines) != 3 {
				t.Fatalf("%d contexts seen, want those of Create, own-timeout and waits", len(deadlines))
			}
			for i, d := range deadlines {
				if !d.Equal(deadlines[0]) || d.Before(before.Add(limit)) || d.After(after) {
					t.Errorf("deadline %d is %s after the run started, want the run's: %s after, as the others",
						i, d.Sub(before), limit)
				}
			}
		})

		t.Run(l.name+": once the run returned, the context its tasks received is done", func(t *testing.T) {
			// The context made for the tasks expires on a timer of its own:
			// a caller that returned at its alarm before that context was
			// done would let a phase checking only it (a task with a
			// timeout of its own runs on a goroutine that does) start after.
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
				if err == nil {
					t.Fatalf("run %d: Run returned while the context of its task was not done", i)
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
