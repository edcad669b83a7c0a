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

package executor

import (
	"context"
	"time"
)

// Task is an isolated unit of work. The executor runs Pre, then
// PerformAction, then Post; an error in a phase skips the phases after it. The
// tasks PerformAction returns are the task's children: they run, depth first
// and in order, right after Post succeeded.
//
// A phase's error is one of:
//   - nil: go on with the next phase;
//   - an error wrapping ErrInProgress: not yet, no error spent;
//   - an error marked with Fatal: the run ends at once;
//   - any other error: one error of the budget is spent.
//
// A panic in a phase is recovered and becomes a *PanicError of the task.
type Task interface {
	// Pre checks preconditions.
	Pre() error
	// PerformAction does the work and returns the tasks that run after this
	// one's Post succeeded.
	PerformAction() ([]Task, error)
	// Post checks the result.
	Post() error
	// Name names the task in logs, events and results. It should be unique
	// within a plan.
	Name() string
}

// ContextTask is a Task whose phases want the run's context: the executor
// calls the Context methods instead of Pre, PerformAction and Post. The
// context is done when the run is cancelled, when its ExecutionTimeout passes
// and when the task's own timeout passes (see TimeoutTask). NewTask builds
// one from functions.
type ContextTask interface {
	Task
	PreContext(ctx context.Context) error
	PerformActionContext(ctx context.Context) ([]Task, error)
	PostContext(ctx context.Context) error
}

// TimeoutTask is a Task with a time limit of its own. The limit covers the
// task's three phases (not its children): when it passes, the task's context
// is done and, if the running phase has not returned by then, the executor
// stops waiting for it. Either way the task fails with an error wrapping
// context.DeadlineExceeded, which counts against the error budget. Zero or a
// negative duration means no limit.
type TimeoutTask interface {
	Task
	Timeout() time.Duration
}

// Plan says which tasks are still needed to reach the final state. Create is
// called before every pass; no tasks means the final state is reached. A
// Create error ends the run.
type Plan interface {
	Create() ([]Task, error)
}

// Finisher is a Plan that can tell, at the end of a pass in which every
// task succeeded, that the final state is reached: that its next Create
// would return no tasks. The pass then counts as done (Result.Done, the end
// of a Run) and the confirming pass is saved. Finished is called only after
// such a pass; a Plan that is not sure returns false.
type Finisher interface {
	Plan
	Finished() bool
}

// ContextPlan is a Plan whose Create wants the run's context: the executor
// calls CreateContext instead of Create. PlanFunc is one.
type ContextPlan interface {
	Plan
	CreateContext(ctx context.Context) ([]Task, error)
}

// PlanFunc is a ContextPlan made of a function.
type PlanFunc func(ctx context.Context) ([]Task, error)

var _ ContextPlan = PlanFunc(nil)

// Create calls f with context.Background().
func (f PlanFunc) Create() ([]Task, error) { return f(context.Background()) }

// CreateContext calls f.
func (f PlanFunc) CreateContext(ctx context.Context) ([]Task, error) { return f(ctx) }

// TaskFuncs are the phases of a task built with NewTask. A nil phase does
// nothing and succeeds.
type TaskFuncs struct {
	Pre           func(ctx context.Context) error
	PerformAction func(ctx context.Context) ([]Task, error)
	Post          func(ctx context.Context) error
	// Timeout bounds the task's phases; zero means no limit of its own.
	Timeout time.Duration
}

// NewTask returns a task named name whose phases are the functions of f and
// receive the run's context. It implements ContextTask and TimeoutTask.
func NewTask(name string, f TaskFuncs) Task {
	return &funcTask{name: name, f: f}
}

type funcTask struct {
	name string
	f    TaskFuncs
}

var (
	_ ContextTask = (*funcTask)(nil)
	_ TimeoutTask = (*funcTask)(nil)
)

func (t *funcTask) Name() string           { return t.name }
func (t *funcTask) Timeout() time.Duration { return t.f.Timeout }
func (t *funcTask) Pre() error             { return t.PreContext(context.Background()) }
func (t *funcTask) PerformAction() ([]Task, error) {
	return t.PerformActionContext(context.Background())
}
func (t *funcTask) Post() error { return t.PostContext(context.Background()) }

func (t *funcTask) PreContext(ctx context.Context) error {
	if t.f.Pre == nil {
		return nil
	}
	return t.f.Pre(ctx)
}

func (t *funcTask) PerformActionContext(ctx context.Context) ([]Task, error) {
	if t.f.PerformAction == nil {
		return nil, nil
	}
	return t.f.PerformAction(ctx)
}

func (t *funcTask) PostContext(ctx context.Context) error {
	if t.f.Post == nil {
		return nil
	}
	return t.f.Post(ctx)
}

// CreateTasks asks plan for the tasks still needed: it calls CreateContext
// with ctx when plan is a ContextPlan, and Create otherwise.
func CreateTasks(ctx context.Context, plan Plan) ([]Task, error) {
	if cp, ok := plan.(ContextPlan); ok {
		return cp.CreateContext(ctx)
	}
	return plan.Create()
}
