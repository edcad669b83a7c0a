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
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"

	"github.com/execloop/execloop/execloop"
	"github.com/execloop/execloop/execloop/executor"
)

// The engine's benchmarks come in pairs. The main case runs with
// DefaultOptions() minus the logger, so under the twenty-minute
// ExecutionTimeout: a context that can be done, as most users run (a
// controller bounds each pass the same way). The NoLimit case differs only
// in having no time limit, so phases run on the caller's goroutine. Read
// their ratio, measured in the same run; ns/task and allocs/task are per
// task executed.

// defaults are DefaultOptions() without the logger.
func defaults() execloop.Options { return execloop.DefaultOptions().WithLogger(nil) }

// noLimit are defaults without a time limit.
func noLimit() execloop.Options { return defaults().WithExecutionTimeout(0) }

// benchPass runs one RunOnce of plan per iteration and reports ns/task and
// allocs/task, where tasksPerPass tasks run in each pass. RunOnce does not
// apply ExecutionTimeout itself, so each pass runs under a context that
// ends after it, made afresh as Run makes one per run and the adapter one
// per pass; with no ExecutionTimeout, under context.Background().
func benchPass(b *testing.B, opts execloop.Options, plan executor.Plan, tasksPerPass int) {
	b.Helper()
	exec := executor.New(&opts)
	b.ReportAllocs()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	b.ResetTimer()
	for range b.N {
		ctx, cancel := context.Background(), context.CancelFunc(func() {})
		if d := opts.ExecutionTimeout; d > 0 {
			ctx, cancel = context.WithTimeout(ctx, d)
		}
		_, err := exec.RunOnce(ctx, plan)
		cancel()
		if err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	runtime.ReadMemStats(&after)
	reportPerTask(b, tasksPerPass, &before, &after)
}

// reportPerTask reports ns/task and allocs/task for b.N iterations of
// tasksPerOp tasks each.
func reportPerTask(b *testing.B, tasksPerOp int, before, after *runtime.MemStats) {
	n := float64(b.N * tasksPerOp)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/n, "ns/task")
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/n, "allocs/task")
}

// BenchmarkRunNoopTasks is one pass of 100 no-op tasks with the default
// options minus the logger: ns/op and allocs/op are per 100 tasks.
func BenchmarkRunNoopTasks(b *testing.B) {
	benchPass(b, defaults(), repeat(noops(100)), 100)
}

// BenchmarkRunNoopTasksNoLimit is BenchmarkRunNoopTasks without a time
// limit.
func BenchmarkRunNoopTasksNoLimit(b *testing.B) {
	benchPass(b, noLimit(), repeat(noops(100)), 100)
}

// BenchmarkClockRead is the baseline of the pass benchmarks: one reading of
// the monotonic clock, which RunOnce makes per task to time it. Its cost
// depends on the machine (a virtual one may take several times longer than
// bare metal), so read ns/task against it, measured in the same run.
func BenchmarkClockRead(b *testing.B) {
	start := time.Now()
	var d time.Duration
	for range b.N {
		d = time.Since(start)
	}
	b.StopTimer()
	if d <= 0 {
		b.Fatalf("the clock did not advance: %s", d)
	}
}

// BenchmarkRunNoopTasksLogrDiscard is BenchmarkRunNoopTasksNoLimit with the
// logr bridge on a discarding sink.
func BenchmarkRunNoopTasksLogrDiscard(b *testing.B) {
	benchPass(b, noLimit().WithLogger(execloop.NewLogrLogger(logr.Discard())), repeat(noops(100)), 100)
}

// fanOut is a plan of one parent that returns 100 no-op children.
func fanOut() executor.Plan {
	children := noops(100)
	return repeat{executor.NewTask("parent", executor.TaskFuncs{
		PerformAction: func(context.Context) ([]executor.Task, error) { return children, nil },
	})}
}

// BenchmarkChildrenFanOut is one pass of one parent that returns 100
// no-op children, with the default options minus the logger.
func BenchmarkChildrenFanOut(b *testing.B) {
	benchPass(b, defaults(), fanOut(), 101)
}

// BenchmarkChildrenFanOutNoLimit is BenchmarkChildrenFanOut without a time
// limit.
func BenchmarkChildrenFanOutNoLimit(b *testing.B) {
	benchPass(b, noLimit(), fanOut(), 101)
}

// tenPasses needs ten passes of ten no-op tasks before it is done.
type tenPasses struct {
	tasks []executor.Task
	left  int
}

func (p *tenPasses) Create() ([]executor.Task, error) {
	if p.left == 0 {
		return nil, nil
	}
	p.left--
	return p.tasks, nil
}

// benchTenPasses runs one Run per iteration of a plan that needs ten passes
// of ten no-op tasks, with no sleep between passes: ns/op is per run of 100
// tasks.
func benchTenPasses(b *testing.B, opts execloop.Options) {
	b.Helper()
	opts = opts.WithSleepBetweenRuns(0)
	exec := executor.New(&opts)
	plan := &tenPasses{tasks: noops(10)}
	b.ReportAllocs()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	b.ResetTimer()
	for range b.N {
		plan.left = 10
		if err := exec.Run(plan); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	runtime.ReadMemStats(&after)
	reportPerTask(b, 100, &before, &after)
}

// BenchmarkRunTenPasses is one Run of ten passes of ten no-op tasks with
// the default options minus the logger and the sleep between passes (so
// Run applies the twenty-minute ExecutionTimeout).
func BenchmarkRunTenPasses(b *testing.B) {
	benchTenPasses(b, defaults())
}

// BenchmarkRunTenPassesNoLimit is BenchmarkRunTenPasses without a time
// limit.
func BenchmarkRunTenPassesNoLimit(b *testing.B) {
	benchTenPasses(b, noLimit())
}

// BenchmarkDefaultToNoLimit runs each pair above in turn, one call of the
// main case, then one of its NoLimit twin, then one of the pair's extra
// (below), b.N times, so that all three see the same load on a shared
// machine. It reports the median ns/task of the main case and of the twin,
// their ratio (the figure each pair is for), and floor-ratio: the twin's
// median plus the extra's, over the twin's. A call is one RunOnce for the
// single-pass pairs and one Run for the ten passes.
//
// The extra is what the package's design adds to the twin's work under a
// time limit, each part alone: a context per call (the 20-minute one that
// the caller of RunOnce makes, as the main case's does, or the one Run
// makes for its ExecutionTimeout); a goroutine started per run, for the
// phases, while the caller waits for it and for the context in one select
// (the run must return once the context is done, whatever a phase does);
// one check of the context before each of a task's three phases (no phase
// starts once it is done); and for RunOnce a mutex taken per task to record
// its execution in the Result, which the caller returns when it gives up.
// floor-ratio says what the main case's ratio would be if the executor's
// own work cost nothing more under a time limit than without one.
func BenchmarkDefaultToNoLimit(b *testing.B) {
	pass := func(opts execloop.Options, plan executor.Plan) func(b *testing.B) {
		exec := executor.New(&opts)
		return func(b *testing.B) {
			ctx, cancel := context.Background(), context.CancelFunc(func() {})
			if d := opts.ExecutionTimeout; d > 0 {
				ctx, cancel = context.WithTimeout(ctx, d)
			}
			_, err := exec.RunOnce(ctx, plan)
			cancel()
			if err != nil {
				b.Fatal(err)
			}
		}
	}
	run := func(opts execloop.Options) func(b *testing.B) {
		opts = opts.WithSleepBetweenRuns(0)
		exec := executor.New(&opts)
		plan := &tenPasses{tasks: noops(10)}
		return func(b *testing.B) {
			plan.left = 10
			if err := exec.Run(plan); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("noop", func(b *testing.B) {
		inTurn(b, 100, pass(defaults(), repeat(noops(100))), pass(noLimit(), repeat(noops(100))), contextExtra(100, true))
	})
	b.Run("fan-out", func(b *testing.B) {
		inTurn(b, 101, pass(defaults(), fanOut()), pass(noLimit(), fanOut()), contextExtra(101, true))
	})
	b.Run("ten-passes", func(b *testing.B) {
		inTurn(b, 100, run(defaults()), run(noLimit()), contextExtra(100, false))
	})
}

// errSink keeps the extras' checks from being optimized away.
var errSink error

// contextExtra is the extra of a run of tasks tasks under a context made
// for it: the context, a goroutine waited for in a select on it, three
// context checks per task and, when recorded, a mutex taken per task.
func contextExtra(tasks int, recorded bool) func(b *testing.B) {
	ended := make(chan struct{}, 1)
	helper := func() { ended <- struct{}{} }
	timeout := defaults().ExecutionTimeout
	var mu sync.Mutex
	var n int
	return func(*testing.B) {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		go helper()
		select {
		case <-ended:
		case <-ctx.Done():
		}
		var err error
		for range tasks {
			if err = ctx.Err(); err != nil {
				break
			}
			if err = ctx.Err(); err != nil {
				break
			}
			if err = ctx.Err(); err != nil {
				break
			}
			if recorded {
				mu.Lock()
				n++
				mu.Unlock()
			}
		}
		errSink = err
		cancel()
	}
}

// inTurn calls main, then twin, then extra, b.N times, timing each call of
// tasks tasks, and reports the median ns/task of main and twin, main's ratio
// to twin, and floor-ratio, (twin + extra) / twin.
func inTurn(b *testing.B, tasks int, main, twin, extra func(b *testing.B)) {
	b.Helper()
	mains, twins, extras := make([]time.Duration, b.N), make([]time.Duration, b.N), make([]time.Duration, b.N)
	b.ResetTimer()
	for i := range b.N {
		t0 := time.Now()
		main(b)
		t1 := time.Now()
		twin(b)
		t2 := time.Now()
		extra(b)
		t3 := time.Now()
		mains[i], twins[i], extras[i] = t1.Sub(t0), t2.Sub(t1), t3.Sub(t2)
	}
	b.StopTimer()
	median := func(d []time.Duration) time.Duration { slices.Sort(d); return d[len(d)/2] }
	m, t, x := median(mains), median(twins), median(extras)
	b.ReportMetric(float64(m.Nanoseconds())/float64(tasks), "default-ns/task")
	b.ReportMetric(float64(t.Nanoseconds())/float64(tasks), "no-limit-ns/task")
	b.ReportMetric(float64(m)/float64(t), "ratio")
	b.ReportMetric(float64(t+x)/float64(t), "floor-ratio")
}
