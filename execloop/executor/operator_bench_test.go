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
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/go-logr/logr"

	"github.com/execloop/execloop/execloop"
	"github.com/execloop/execloop/execloop/executor"
)

// BenchmarkOperatorPass is the pass the operator runs, as the adapter runs
// it (execloop/reconciler): RunOnce under a cancellable context (the
// reconcile's), a logger set (here discarding, as at the default
// verbosity), and tasks with a timeout of their own, as every task of a
// Plan has; three and ten tasks a pass. The tasks do nothing: a real one
// costs milliseconds (an API request), so this measures only what the
// executor adds. ns/task and allocs/task are per task executed;
// median-ns/task is the median call's, which a busy machine disturbs less.
func BenchmarkOperatorPass(b *testing.B) {
	for _, n := range []int{3, 10} {
		b.Run(fmt.Sprintf("tasks=%d", n), func(b *testing.B) {
			tasks := make([]executor.Task, n)
			for i := range tasks {
				tasks[i] = executor.NewTask(fmt.Sprintf("task-%d", i), executor.TaskFuncs{
					Timeout: time.Minute,
					Pre:     func(context.Context) error { return nil },
					PerformAction: func(context.Context) ([]executor.Task, error) {
						return nil, nil
					},
					Post: func(context.Context) error { return nil },
				})
			}
			opts := execloop.DefaultOptions().WithLogger(execloop.NewLogrLogger(logr.Discard()))
			exec := executor.New(&opts)
			plan := repeat(tasks)
			calls := make([]time.Duration, b.N)
			b.ReportAllocs()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			b.ResetTimer()
			for i := range b.N {
				start := time.Now()
				ctx, cancel := context.WithCancel(context.Background())
				_, err := exec.RunOnce(ctx, plan)
				cancel()
				if err != nil {
					b.Fatal(err)
				}
				calls[i] = time.Since(start)
			}
			b.StopTimer()
			runtime.ReadMemStats(&after)
			reportPerTask(b, n, &before, &after)
			slices.Sort(calls)
			b.ReportMetric(float64(calls[len(calls)/2].Nanoseconds())/float64(n), "median-ns/task")
		})
	}
}
