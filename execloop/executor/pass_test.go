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
	"testing"

	"github.com/execloop/execloop/execloop"
	"github.com/execloop/execloop/execloop/executor"
)

func TestPassRunsTasksInOrderAndSkipsWhatFollowsAnError(t *testing.T) {
	cases := []struct {
		name  string
		tasks func(tr *trace) []executor.Task
		want  string
	}{{
		name: "tasks run in order, each through Pre, PerformAction and Post",
		tasks: func(tr *trace) []executor.Task {
			return []executor.Task{&fake{name: "a", tr: tr}, &fake{name: "b", tr: tr}}
		},
		want: "a.Pre a.PerformAction a.Post b.Pre b.PerformAction b.Post",
	}, {
		name: "an error in Pre skips PerformAction and Post, and the pass goes on with the next task",
		tasks: func(tr *trace) []executor.Task {
			return []executor.Task{&fake{name: "a", pre: errBoom, tr: tr}, &fake{name: "b", tr: tr}}
		},
		want: "a.Pre b.Pre b.PerformAction b.Post",
	}, {
		name: "an error in PerformAction skips Post and the children",
		tasks: func(tr *trace) []executor.Task {
			child := &fake{name: "a1", tr: tr}
			return []executor.Task{&fake{name: "a", act: errBoom, children: []executor.Task{child}, tr: tr}, &fake{name: "b", tr: tr}}
		},
		want: "a.Pre a.PerformAction b.Pre b.PerformAction b.Post",
	}, {
		name: "an error in Post skips the children",
		tasks: func(tr *trace) []executor.Task {
			child := &fake{name: "a1", tr: tr}
			return []executor.Task{&fake{name: "a", post: errBoom, children: []executor.Task{child}, tr: tr}, &fake{name: "b", tr: tr}}
		},
		want: "a.Pre a.PerformAction a.Post b.Pre b.PerformAction b.Post",
	}, {
		name: "children run depth first, in order, right after their parent's Post and before its next sibling",
		tasks: func(tr *trace) []executor.Task {
			a11 := &fake{name: "a11", tr: tr}
			a1 := &fake{name: "a1", children: []executor.Task{a11}, tr: tr}
			a2 := &fake{name: "a2", tr: tr}
			return []executor.Task{&fake{name: "a", children: []executor.Task{a1, a2}, tr: tr}, &fake{name: "b", tr: tr}}
		},
		want: "a.Pre a.PerformAction a.Post a1.Pre a1.PerformAction a1.Post a11.Pre a11.PerformAction a11.Post " +
			"a2.Pre a2.PerformAction a2.Post b.Pre b.PerformAction b.Post",
	}, {
		name: "children follow the same rules: a failing child skips its own children only",
		tasks: func(tr *trace) []executor.Task {
			a11 := &fake{name: "a11", tr: tr}
			a1 := &fake{name: "a1", pre: errBoom, children: []executor.Task{a11}, tr: tr}
			a2 := &fake{name: "a2", tr: tr}
			return []executor.Task{&fake{name: "a", children: []executor.Task{a1, a2}, tr: tr}}
		},
		want: "a.Pre a.PerformAction a.Post a1.Pre a2.Pre a2.PerformAction a2.Post",
	}, {
		name: "an in-progress error skips the rest of the task like any error",
		tasks: func(tr *trace) []executor.Task {
			child := &fake{name: "a1", tr: tr}
			wait := fmt.Errorf("not ready: %w", executor.ErrInProgress)
			return []executor.Task{&fake{name: "a", post: wait, children: []executor.Task{child}, tr: tr}, &fake{name: "b", tr: tr}}
		},
		want: "a.Pre a.PerformAction a.Post b.Pre b.PerformAction b.Post",
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tr := &trace{}
			_, err := tolerant(10).RunOnce(background, &passes{lists: [][]executor.Task{tc.tasks(tr)}})
			if err != nil {
				t.Fatalf("RunOnce: %v", err)
			}
			if got := tr.String(); got != tc.want {
				t.Errorf("phases ran:\n got %s\nwant %s", got, tc.want)
			}
		})
	}
}

func TestRunOnceReportsEachTask(t *testing.T) {
	tr := &trace{}
	wait := fmt.Errorf("waiting for the database: %w", executor.ErrInProgress)
	shared := &fake{name: "shared", tr: tr}
	plan := &passes{lists: [][]executor.Task{{
		&fake{name: "ok", children: []executor.Task{shared}, tr: tr},
		&fake{name: "waits", post: wait, tr: tr},
		&fake{name: "fails", act: errBoom, tr: tr},
		&fake{name: "again", children: []executor.Task{shared}, tr: tr},
	}}}

	res, err := tolerant(1).RunOnce(background, plan, executor.ErrorsSpent(0))
	if err != nil {
		t.Fatalf("RunOnce: %v", err)
	}
	if res.Done {
		t.Error("Done is true for a pass that ran tasks")
	}
	if res.Errors != 1 {
		t.Errorf("Errors = %d, want 1 (in-progress errors are not spent)", res.Errors)
	}
	type row struct {
		name    string
		outcome execloop.Outcome
		phase   execloop.Phase
		err     error
	}
	want := []row{
		{"ok", execloop.Succeeded, execloop.PhasePost, nil},
		{"shared", execloop.Succeeded, execloop.PhasePost, nil},
		{"waits", execloop.InProgress, execloop.PhasePost, executor.ErrInProgress},
		{"fails", execloop.Failed, execloop.PhasePerformAction, errBoom},
		{"again", execloop.Succeeded, execloop.PhasePost, nil},
		{"shared", execloop.Succeeded, execloop.PhasePost, nil},
	}
	if len(res.Tasks) != len(want) {
		t.Fatalf("got %d task results, want %d: %+v", len(res.Tasks), len(want), res.Tasks)
	}
	for i, w := range want {
		g := res.Tasks[i]
		if g.Name != w.name || g.Outcome != w.outcome || g.Phase != w.phase || !errors.Is(g.Err, w.err) || (w.err == nil) != (g.Err == nil) {
			t.Errorf("task %d = {%s %s %s %v}, want {%s %s %s %v}", i, g.Name, g.Outcome, g.Phase, g.Err, w.name, w.outcome, w.phase, w.err)
		}
		if g.Duration < 0 {
			t.Errorf("task %s has a negative duration %s", g.Name, g.Duration)
		}
	}
	for name, n := range map[string]int{"shared": 2, "ok": 1, "missing": 0} {
		if got := res.Attempts(name); got != n {
			t.Errorf("Attempts(%q) = %d, want %d", name, got, n)
		}
	}

	res, err = tolerant(1).RunOnce(background, plan)
	if err != nil || !res.Done || len(res.Tasks) != 0 {
		t.Errorf("second pass = %+v, %v; want Done with no tasks", res, err)
	}
}

func TestRunStopsWhenCreateReturnsNothing(t *testing.T) {
	tr := &trace{}
	plan := &passes{lists: [][]executor.Task{
		{&fake{name: "a", tr: tr}},
		{&fake{name: "b", tr: tr}},
	}}
	if err := tolerant(0).Run(plan); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if plan.creates != 3 {
		t.Errorf("Create was called %d times, want 3 (two passes, then the empty answer)", plan.creates)
	}
	if got, want := tr.String(), "a.Pre a.PerformAction a.Post b.Pre b.PerformAction b.Post"; got != want {
		t.Errorf("phases ran %q, want %q", got, want)
	}
}

type failingPlan struct{ err error }

func (p failingPlan) Create() ([]executor.Task, error) { return nil, p.err }

type panickingPlan struct{}

func (panickingPlan) Create() ([]executor.Task, error) { panic("no plan today") }

func TestCreateErrorsEndTheRun(t *testing.T) {
	cases := []struct {
		name string
		plan executor.Plan
		want string
	}{
		{"a Create error is returned, wrapped", failingPlan{errBoom}, "plan Create failed: boom"},
		{"a panic in Create is an error, not a crash", panickingPlan{}, "plan Create failed: panic: no plan today"},
		{"a nil plan is an error", nil, "the plan is nil"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tolerant(5).Run(tc.plan)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Run = %v, want an error containing %q", err, tc.want)
			}
			if p, ok := tc.plan.(failingPlan); ok && !errors.Is(err, p.err) {
				t.Errorf("errors.Is(%v, the Create error) is false", err)
			}
		})
	}
}

// finishing is a plan that knows when it is finished: it needs each of its
// steps once, and says so after the pass that ran the last one.
type finishing struct {
	steps    []executor.Task
	creates  int
	finished bool
}

func (p *finishing) Create() ([]executor.Task, error) {
	p.creates++
	if p.finished {
		return nil, nil
	}
	return p.steps, nil
}

func (p *finishing) Finished() bool {
	p.finished = true
	return true
}

func TestAFinisherSavesTheConfirmingPass(t *testing.T) {
	t.Run("a pass in which every task succeeded is the last when the plan says so", func(t *testing.T) {
		tr := &trace{}
		plan := &finishing{steps: []executor.Task{&fake{name: "a", tr: tr}, &fake{name: "b", tr: tr}}}
		res, err := tolerant(0).RunOnce(background, plan)
		if err != nil || !res.Done || len(res.Tasks) != 2 {
			t.Fatalf("RunOnce = %+v, %v; want Done after running both tasks", res, err)
		}
		plan.finished, plan.creates = false, 0
		if err := tolerant(0).Run(plan); err != nil || plan.creates != 1 {
			t.Errorf("Run = %v after %d Creates, want nil after 1", err, plan.creates)
		}
	})
	t.Run("a pass with a task in progress or failed does not ask", func(t *testing.T) {
		for _, f := range []*fake{
			{name: "waits", pre: fmt.Errorf("later: %w", executor.ErrInProgress), tr: &trace{}},
			{name: "fails", pre: errBoom, tr: &trace{}},
		} {
			plan := &finishing{steps: []executor.Task{f}}
			res, err := tolerant(1).RunOnce(background, plan)
			if err != nil || res.Done || plan.finished {
				t.Errorf("%s: RunOnce = %+v, %v, Finished asked: %v; want not Done and not asked", f.name, res, err, plan.finished)
			}
		}
	})
}

// cyclic returns its parent as its child: a and b, each the other's child.
type cyclic struct {
	name string
	next *cyclic
}

func (c *cyclic) Name() string { return c.name }

func (c *cyclic) Pre() error { return nil }

func (c *cyclic) PerformAction() ([]executor.Task, error) { return []executor.Task{c.next}, nil }

func (c *cyclic) Post() error { return nil }

func TestChildrenNestAtMostMaxDepth(t *testing.T) {
	a := &cyclic{name: "a"}
	a.next = &cyclic{name: "b", next: a}
	ctx, cancel := context.WithCancel(background)
	defer cancel()
	for name, ctx := range map[string]context.Context{"on the caller's goroutine": background, "on the helper": ctx} {
		t.Run(name, func(t *testing.T) {
			tr := &trace{}
			plan := &passes{lists: [][]executor.Task{{a, &fake{name: "after", tr: tr}}}}
			res, err := tolerant(1).RunOnce(ctx, plan)
			if err != nil {
				t.Fatalf("RunOnce: %v", err)
			}
			if got, want := len(res.Tasks), executor.MaxDepth+3; got != want {
				t.Fatalf("%d task results, want %d: MaxDepth+1 runs of the cycle, the child beyond it, and the next task", got, want)
			}
			deep := res.Tasks[executor.MaxDepth+1]
			if deep.Outcome != execloop.Failed || deep.Phase != execloop.PhasePre || !errors.Is(deep.Err, executor.ErrTooDeep) {
				t.Errorf("the task beyond MaxDepth = {%s %s %s %v}, want Failed in Pre with ErrTooDeep", deep.Name, deep.Outcome, deep.Phase, deep.Err)
			}
			if want := fmt.Sprintf("task %q would run at depth %d, beyond the limit of %d", deep.Name, executor.MaxDepth+1, executor.MaxDepth); deep.Err == nil || !strings.Contains(deep.Err.Error(), want) {
				t.Errorf("its error %v does not say %q", deep.Err, want)
			}
			if res.Errors != 1 || tr.String() != "after.Pre after.PerformAction after.Post" {
				t.Errorf("errors %d, trace %q: want one error spent and the pass gone on", res.Errors, tr)
			}
		})
	}

	_, err := tolerant(0).RunOnce(background, &passes{lists: [][]executor.Task{{a}}})
	var fatal *executor.FatalError
	if !errors.As(err, &fatal) || !errors.Is(err, executor.ErrTooDeep) {
		t.Errorf("with no error tolerated, RunOnce = %v, want a FatalError wrapping ErrTooDeep", err)
	}
}
