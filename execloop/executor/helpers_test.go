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
	"sync"
	"testing"

	"go.uber.org/goleak"

	"github.com/execloop/execloop/execloop/executor"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// trace records the phases that ran, as "name.Phase", safe for concurrent use.
type trace struct {
	mu    sync.Mutex
	steps []string
}

func (tr *trace) add(s string) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tr.steps = append(tr.steps, s)
}

func (tr *trace) String() string {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return strings.Join(tr.steps, " ")
}

// fake is a seed-style task: each phase records itself in the trace and
// returns the error set for it; PerformAction returns children.
type fake struct {
	name           string
	pre, act, post error
	panicIn        string // "Pre", "PerformAction" or "Post"
	children       []executor.Task
	tr             *trace
}

func (f *fake) Name() string { return f.name }

func (f *fake) step(phase string) {
	f.tr.add(f.name + "." + phase)
	if f.panicIn == phase {
		panic(fmt.Sprintf("%s blew up", f.name))
	}
}

func (f *fake) Pre() error { f.step("Pre"); return f.pre }

func (f *fake) PerformAction() ([]executor.Task, error) {
	f.step("PerformAction")
	if f.act != nil {
		return nil, f.act
	}
	return f.children, nil
}

func (f *fake) Post() error { f.step("Post"); return f.post }

// passes is a plan that returns one list of tasks per call of Create, then
// nothing; it counts the calls.
type passes struct {
	lists   [][]executor.Task
	creates int
}

func (p *passes) Create() ([]executor.Task, error) {
	p.creates++
	if p.creates > len(p.lists) {
		return nil, nil
	}
	return p.lists[p.creates-1], nil
}

// repeat is a plan that returns the same tasks on every call, for ever.
type repeat []executor.Task

func (r repeat) Create() ([]executor.Task, error) { return r, nil }

// blockingTask blocks in PerformAction until release is closed, ignoring any
// context, and reports when it started.
type blockingTask struct {
	started chan struct{}
	release chan struct{}
	tr      *trace
}

func (b *blockingTask) Name() string { return "blocker" }
func (b *blockingTask) Pre() error   { b.tr.add("blocker.Pre"); return nil }
func (b *blockingTask) PerformAction() ([]executor.Task, error) {
	b.tr.add("blocker.PerformAction")
	close(b.started)
	<-b.release
	return nil, nil
}
func (b *blockingTask) Post() error { b.tr.add("blocker.Post"); return nil }

// background is a context for tests that want one.
var background = context.Background()

// noop is a task that does nothing, for benchmarks and allocation counts.
type noop struct{ name string }

func (n *noop) Name() string                            { return n.name }
func (n *noop) Pre() error                              { return nil }
func (n *noop) PerformAction() ([]executor.Task, error) { return nil, nil }
func (n *noop) Post() error                             { return nil }

// noops returns n no-op tasks with distinct names.
func noops(n int) []executor.Task {
	tasks := make([]executor.Task, n)
	for i := range tasks {
		tasks[i] = &noop{name: fmt.Sprintf("noop-%d", i)}
	}
	return tasks
}
