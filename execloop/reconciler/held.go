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

package reconciler

import (
	"context"
	"fmt"
	"time"

	"github.com/execloop/execloop/execloop/executor"
	"github.com/execloop/execloop/execloop/reconciler/status"
)

// errHeld is the error of a task that a pass leaves out while it backs off.
// It wraps executor.ErrInProgress, so it spends no error, and the task's
// status is left as its last attempt left it.
var errHeld = fmt.Errorf("backing off after a failure: %w", executor.ErrInProgress)

// holding wraps plan for one pass so that the tasks whose next attempt is
// after now do not run: neither when Create returns them nor when a parent
// returns them as children. It returns plan itself when no task backs off.
func holding(plan executor.Plan, st *status.Status, now time.Time) executor.Plan {
	var held map[string]bool
	for i := range st.Tasks {
		t := &st.Tasks[i]
		if t.State == status.TaskFailed && t.NextAttemptTime != nil && now.Before(t.NextAttemptTime.Time) {
			if held == nil {
				held = map[string]bool{}
			}
			held[t.Name] = true
		}
	}
	if held == nil {
		return plan
	}
	return &heldPlan{plan: plan, held: held}
}

// heldPlan is a plan whose tasks back off as its status says.
type heldPlan struct {
	plan executor.Plan
	held map[string]bool // names of the tasks that back off
}

var (
	_ executor.ContextPlan = (*heldPlan)(nil)
	_ executor.Finisher    = (*heldPlan)(nil)
	_ executor.ContextTask = heldTask{}
	_ executor.TimeoutTask = heldTask{}
)

func (p *heldPlan) Create() ([]executor.Task, error) { return p.CreateContext(context.Background()) }

func (p *heldPlan) CreateContext(ctx context.Context) ([]executor.Task, error) {
	tasks, err := executor.CreateTasks(ctx, p.plan)
	return p.wrap(tasks), err
}

// Finished asks the plan, when it is a Finisher. A pass in which a task was
// held never asks: it had a task in progress.
func (p *heldPlan) Finished() bool {
	f, ok := p.plan.(executor.Finisher)
	return ok && f.Finished()
}

func (p *heldPlan) wrap(tasks []executor.Task) []executor.Task {
	for i, t := range tasks {
		if t != nil {
			tasks[i] = heldTask{Task: t, plan: p}
		}
	}
	return tasks
}

// heldTask runs its task's phases unless the task backs off, and wraps the
// children it returns so that they back off too.
type heldTask struct {
	executor.Task
	plan *heldPlan
}

func (t heldTask) Pre() error { return t.PreContext(context.Background()) }

func (t heldTask) PerformAction() ([]executor.Task, error) {
	return t.PerformActionContext(context.Background())
}

func (t heldTask) Post() error { return t.PostContext(context.Background()) }

func (t heldTask) Timeout() time.Duration {
	if tt, ok := t.Task.(executor.TimeoutTask); ok {
		return tt.Timeout()
	}
	return 0
}

func (t heldTask) PreContext(ctx context.Context) error {
	if t.plan.held[t.Name()] {
		return errHeld
	}
	if ct, ok := t.Task.(executor.ContextTask); ok {
		return ct.PreContext(ctx)
	}
	return t.Task.Pre()
}

func (t heldTask) PerformActionContext(ctx context.Context) ([]executor.Task, error) {
	var children []executor.Task
	var err error
	if ct, ok := t.Task.(executor.ContextTask); ok {
		children, err = ct.PerformActionContext(ctx)
	} else {
		children, err = t.Task.PerformAction()
	}
	return t.plan.wrap(children), err
}

func (t heldTask) PostContext(ctx context.Context) error {
	if ct, ok := t.Task.(executor.ContextTask); ok {
		return ct.PostContext(ctx)
	}
	return t.Task.Post()
}
