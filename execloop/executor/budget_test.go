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
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/execloop/execloop/execloop/executor"
)

func TestErrorBudget(t *testing.T) {
	fatal := executor.Fatal(errBoom)
	cases := []struct {
		name      string
		tolerate  int
		carried   int
		tasks     func(tr *trace) []executor.Task
		wantTrace string
		wantFatal bool
		wantSpent int
	}{{
		name:     "errors up to ErrorsToTolerate are tolerated and reported, not returned",
		tolerate: 2,
		tasks: func(tr *trace) []executor.Task {
			return []executor.Task{&fake{name: "a", pre: errBoom, tr: tr}, &fake{name: "b", post: errBoom, tr: tr}, &fake{name: "c", tr: tr}}
		},
		wantTrace: "a.Pre b.Pre b.PerformAction b.Post c.Pre c.PerformAction c.Post",
		wantSpent: 2,
	}, {
		name:     "the error that exceeds ErrorsToTolerate ends the pass with a FatalError",
		tolerate: 1,
		tasks: func(tr *trace) []executor.Task {
			return []executor.Task{&fake{name: "a", pre: errBoom, tr: tr}, &fake{name: "b", pre: errBoom, tr: tr}, &fake{name: "c", tr: tr}}
		},
		wantTrace: "a.Pre b.Pre",
		wantFatal: true,
		wantSpent: 2,
	}, {
		name:     "with ErrorsToTolerate 0 the first error is fatal",
		tolerate: 0,
		tasks: func(tr *trace) []executor.Task {
			return []executor.Task{&fake{name: "a", act: errBoom, tr: tr}, &fake{name: "b", tr: tr}}
		},
		wantTrace: "a.Pre a.PerformAction",
		wantFatal: true,
		wantSpent: 1,
	}, {
		name:     "errors carried in with ErrorsSpent count against the budget",
		tolerate: 2,
		carried:  2,
		tasks: func(tr *trace) []executor.Task {
			return []executor.Task{&fake{name: "a", post: errBoom, tr: tr}, &fake{name: "b", tr: tr}}
		},
		wantTrace: "a.Pre a.PerformAction a.Post",
		wantFatal: true,
		wantSpent: 3,
	}, {
		name:     "in-progress errors never spend the budget",
		tolerate: 0,
		tasks: func(tr *trace) []executor.Task {
			wait := fmt.Errorf("not yet: %w", executor.ErrInProgress)
			return []executor.Task{&fake{name: "a", pre: wait, tr: tr}, &fake{name: "b", act: wait, tr: tr}, &fake{name: "c", post: wait, tr: tr}}
		},
		wantTrace: "a.Pre b.Pre b.PerformAction c.Pre c.PerformAction c.Post",
	}, {
		name:     "a fatal error ends the pass at once, whatever is left of the budget",
		tolerate: 10,
		tasks: func(tr *trace) []executor.Task {
			return []executor.Task{&fake{name: "a", act: fatal, tr: tr}, &fake{name: "b", tr: tr}}
		},
		wantTrace: "a.Pre a.PerformAction",
		wantFatal: true,
	}, {
		name:     "a fatal error wins over an in-progress error it wraps",
		tolerate: 10,
		tasks: func(tr *trace) []executor.Task {
			return []executor.Task{&fake{name: "a", pre: executor.Fatal(executor.ErrInProgress), tr: tr}, &fake{name: "b", tr: tr}}
		},
		wantTrace: "a.Pre",
		wantFatal: true,
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tr := &trace{}
			res, err := tolerant(tc.tolerate).RunOnce(background, &passes{lists: [][]executor.Task{tc.tasks(tr)}}, executor.ErrorsSpent(tc.carried))
			if got := tr.String(); got != tc.wantTrace {
				t.Errorf("phases ran:\n got %s\nwant %s", got, tc.wantTrace)
			}
			var fe *executor.FatalError
			if got := errors.As(err, &fe); got != tc.wantFatal {
				t.Fatalf("RunOnce error = %v; FatalError: %v, want %v", err, got, tc.wantFatal)
			}
			if tc.wantFatal && !errors.Is(err, errBoom) && !errors.Is(err, executor.ErrInProgress) {
				t.Errorf("the FatalError %q does not wrap the task's error", err)
			}
			if tc.wantFatal && !strings.Contains(err.Error(), `task "a"`) && !strings.Contains(err.Error(), `task "b"`) {
				t.Errorf("the FatalError %q does not name the task", err)
			}
			if res.Errors != tc.wantSpent {
				t.Errorf("Errors = %d, want %d", res.Errors, tc.wantSpent)
			}
		})
	}
}

func TestRunSpendsTheBudgetAcrossPassesAndStartsEachRunAfresh(t *testing.T) {
	tr := &trace{}
	plan := repeat{&fake{name: "flaky", pre: errBoom, tr: tr}}
	exec := tolerant(2)
	for run := 1; run <= 2; run++ {
		tr.steps = nil
		err := exec.Run(plan)
		var fe *executor.FatalError
		if !errors.As(err, &fe) || !errors.Is(err, errBoom) {
			t.Fatalf("run %d: Run = %v, want a FatalError wrapping the task's error", run, err)
		}
		if got, want := tr.String(), "flaky.Pre flaky.Pre flaky.Pre"; got != want {
			t.Errorf("run %d: phases ran %q, want %q (two tolerated errors, the third is fatal)", run, got, want)
		}
	}
}
