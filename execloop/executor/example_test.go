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

	"github.com/execloop/execloop/execloop"
	"github.com/execloop/execloop/execloop/executor"
)

// printTask is a seed-style task that prints its phases.
type printTask struct {
	name     string
	children []executor.Task
}

func (t printTask) Name() string { return t.name }
func (t printTask) Pre() error   { fmt.Println(t.name, "Pre"); return nil }
func (t printTask) PerformAction() ([]executor.Task, error) {
	fmt.Println(t.name, "PerformAction")
	return t.children, nil
}
func (t printTask) Post() error { fmt.Println(t.name, "Post"); return nil }

// counterPlan needs a task until the counter reaches its goal.
type counterPlan struct {
	count, goal int
}

func (p *counterPlan) Create() ([]executor.Task, error) {
	if p.count >= p.goal {
		return nil, nil
	}
	return []executor.Task{executor.NewTask("increment", executor.TaskFuncs{
		PerformAction: func(context.Context) ([]executor.Task, error) {
			p.count++
			fmt.Println("count is", p.count)
			return nil, nil
		},
	})}, nil
}

// Run asks the plan for tasks and runs them, pass after pass, until the plan
// needs none.
func ExampleExecutor_Run() {
	opts := execloop.DefaultOptions().WithSleepBetweenRuns(0).WithLogger(nil)
	plan := &counterPlan{goal: 3}
	if err := executor.New(&opts).Run(plan); err != nil {
		fmt.Println("run failed:", err)
	}
	fmt.Println("final count", plan.count)
	// Output:
	// count is 1
	// count is 2
	// count is 3
	// final count 3
}

// RunOnce runs exactly one pass and reports what each task did; the error
// count is carried from pass to pass by the caller, as a controller keeps it
// in an object's status.
func ExampleExecutor_RunOnce() {
	ready := false
	plan := executor.PlanFunc(func(context.Context) ([]executor.Task, error) {
		return []executor.Task{
			executor.NewTask("database", executor.TaskFuncs{
				Post: func(context.Context) error {
					if !ready {
						ready = true
						return fmt.Errorf("replicas not ready: %w", executor.ErrInProgress)
					}
					return nil
				},
			}),
			executor.NewTask("flaky", executor.TaskFuncs{
				Pre: func(context.Context) error { return errors.New("connection refused") },
			}),
		}, nil
	})

	exec := executor.New(&execloop.Options{ErrorsToTolerate: 1})
	errorsSpent := 0
	for pass := 1; pass <= 2; pass++ {
		res, err := exec.RunOnce(context.Background(), plan, executor.ErrorsSpent(errorsSpent))
		for _, t := range res.Tasks {
			fmt.Printf("pass %d: %s %s (%v)\n", pass, t.Name, t.Outcome, t.Err)
		}
		if err != nil {
			fmt.Println("pass", pass, "ended the run:", err)
			return
		}
		errorsSpent = res.Errors
	}
	// Output:
	// pass 1: database InProgress (replicas not ready: in progress)
	// pass 1: flaky Failed (connection refused)
	// pass 2: database Succeeded (<nil>)
	// pass 2: flaky Failed (connection refused)
	// pass 2 ended the run: execloop: task "flaky" failed in Pre and exhausted the error budget (errors: 2, tolerated: 1): connection refused
}

// The tasks PerformAction returns are children: they run depth first, right
// after their parent's Post succeeded.
func Example_children() {
	deploy := printTask{name: "deploy", children: []executor.Task{
		printTask{name: "  migrate"},
		printTask{name: "  smoke-test"},
	}}
	plan := &passes{lists: [][]executor.Task{{printTask{name: "build"}, deploy, printTask{name: "announce"}}}}
	if err := executor.New(&execloop.Options{}).Run(plan); err != nil {
		fmt.Println(err)
	}
	// Output:
	// build Pre
	// build PerformAction
	// build Post
	// deploy Pre
	// deploy PerformAction
	// deploy Post
	//   migrate Pre
	//   migrate PerformAction
	//   migrate Post
	//   smoke-test Pre
	//   smoke-test PerformAction
	//   smoke-test Post
	// announce Pre
	// announce PerformAction
	// announce Post
}
