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
	"testing"
	"time"

	"github.com/go-logr/logr"

	"github.com/execloop/execloop/execloop"
	"github.com/execloop/execloop/execloop/executor"
)

// benchPass runs one RunOnce per iteration and reports ns/task and
// allocs/task, where tasksPerPass tasks run in each pass.
func benchPass(b *testing.B, ctx context.Context, exec *executor.Executor, plan executor.Plan, tasksPerPass int) {
	b.Helper()
	b.ReportAllocs()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	b.ResetTimer()
	for range b.N {
		if _, err := exec.RunOnce(ctx, plan); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	runtime.ReadMemStats(&after)
	n := float64(b.N * tasksPerPass)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/n, "ns/task")
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/n, "allocs/task")
}

// BenchmarkRunNoopTasks is one pass of 100 no-op tasks with a nil logger:
// ns/op and allocs/op are per 100 tasks.
func BenchmarkRunNoopTasks(b *testing.B) {
	benchPass(b, context.Background(), executor.New(&execloop.Options{}), repeat(noops(100)), 100)
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

// BenchmarkRunNoopTasksLogrDiscard is the same pass with the logr bridge on
// a discarding sink.
func BenchmarkRunNoopTasksLogrDiscard(b *testing.B) {
	o := execloop.Options{Logger: execloop.NewLogrLogger(logr.Discard())}
	benchPass(b, context.Background(), executor.New(&o), repeat(noops(100)), 100)
}

// BenchmarkRunNoopTasksCancellable is the same pass with a context that can
// be cancelled, as in a controller: phases run on the helper goroutine.
func BenchmarkRunNoopTasksCancellable(b *testing.B) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	benchPass(b, ctx, executor.New(&execloop.Options{}), repeat(noops(100)), 100)
}

// BenchmarkChildrenFanOut is one pass of one parent that returns 100
// no-op children.
func BenchmarkChildrenFanOut(b *testing.B) {
	children := noops(100)
	parent := executor.NewTask("parent", executor.TaskFuncs{
		PerformAction: func(context.Context) ([]executor.Task, error) { return children, nil },
	})
	benchPass(b, context.Background(), executor.New(&execloop.Options{}), repeat{parent}, 101)
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

// BenchmarkRunTenPasses is one Run of a plan that needs ten passes of ten
// no-op tasks (no sleep between passes): ns/op is per run of 100 tasks.
func BenchmarkRunTenPasses(b *testing.B) {
	exec := executor.New(&execloop.Options{})
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
	n := float64(b.N * 100)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/n, "ns/task")
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/n, "allocs/task")
}
