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
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/execloop/execloop/execloop"
	"github.com/execloop/execloop/execloop/executor"
	"github.com/execloop/execloop/execloop/reconciler/status"
)

// entries makes n task statuses named prefix-0… in state, recorded at the
// given minute.
func entries(prefix string, n int, state status.TaskState, minute int) []status.TaskStatus {
	at := metav1.NewTime(time.Date(2026, 1, 1, 0, minute, 0, 0, time.UTC))
	out := make([]status.TaskStatus, n)
	for i := range out {
		out[i] = status.TaskStatus{Name: fmt.Sprintf("%s-%d", prefix, i), State: state, LastTransitionTime: &at}
	}
	return out
}

// succeededIn makes the results of a pass in which the named tasks
// succeeded.
func succeededIn(tasks []status.TaskStatus) []executor.TaskResult {
	out := make([]executor.TaskResult, len(tasks))
	for i, t := range tasks {
		out[i] = executor.TaskResult{Name: t.Name, Outcome: execloop.Succeeded}
	}
	return out
}

// names counts the entries of tasks by the prefix of their names.
func names(tasks []status.TaskStatus) map[string]int {
	out := map[string]int{}
	for _, t := range tasks {
		prefix, _, _ := strings.Cut(t.Name, "-")
		out[prefix]++
	}
	return out
}

func TestBoundTasks(t *testing.T) {
	limit := status.MaxTasks
	for _, tc := range []struct {
		name    string
		tasks   []status.TaskStatus
		results func(tasks []status.TaskStatus) []executor.TaskResult
		skipped map[string]string
		want    map[string]int
	}{{
		name:  "a list of MaxTasks entries stays as it is",
		tasks: slices.Concat(entries("o", limit-1, status.TaskSucceeded, 1), entries("n", 1, status.TaskSucceeded, 2)),
		want:  map[string]int{"o": limit - 1, "n": 1},
	}, {
		name:  "the finished tasks the pass did not record go first, the least recently recorded first",
		tasks: slices.Concat(entries("n", 10, status.TaskSucceeded, 3), entries("o", limit, status.TaskSucceeded, 1), entries("m", 10, status.TaskSkipped, 2)),
		want:  map[string]int{"n": 10, "o": limit - 20, "m": 10},
	}, {
		name: "tasks in progress, failed, pending or recorded by the pass stay while finished ones remain to drop",
		tasks: slices.Concat(
			entries("o", 20, status.TaskSucceeded, 9),
			entries("w", 300, status.TaskInProgress, 1),
			entries("f", 300, status.TaskFailed, 1),
			entries("p", 300, status.TaskPending, 1),
			entries("r", 120, status.TaskSucceeded, 1),
		),
		results: func(tasks []status.TaskStatus) []executor.TaskResult { return succeededIn(tasks[920:]) },
		want:    map[string]int{"o": 4, "w": 300, "f": 300, "p": 300, "r": 120},
	}, {
		name:    "a skipped task recorded by the pass counts as recorded",
		tasks:   slices.Concat(entries("o", limit, status.TaskSucceeded, 1), entries("s", 5, status.TaskSkipped, 0)),
		skipped: map[string]string{"s-0": "", "s-1": "", "s-2": "", "s-3": "", "s-4": ""},
		want:    map[string]int{"o": limit - 5, "s": 5},
	}, {
		name:  "pending and finished tasks go before tasks in progress or failed, the least recently recorded first",
		tasks: slices.Concat(entries("w", limit, status.TaskInProgress, 1), entries("p", 10, status.TaskPending, 2), entries("f", 10, status.TaskFailed, 3)),
		want:  map[string]int{"w": limit - 10, "f": 10},
	}, {
		name:  "when only tasks in progress or failed remain, the least recently recorded go",
		tasks: slices.Concat(entries("w", limit, status.TaskInProgress, 2), entries("f", 10, status.TaskFailed, 1)),
		want:  map[string]int{"w": limit},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			st := &status.Status{Tasks: tc.tasks}
			var results []executor.TaskResult
			if tc.results != nil {
				results = tc.results(tc.tasks)
			}
			boundTasks(st, results, tc.skipped)
			if got := names(st.Tasks); !maps.Equal(got, tc.want) {
				t.Errorf("kept %v, want %v", got, tc.want)
			}
			if len(st.Tasks) > status.MaxTasks {
				t.Errorf("kept %d entries, more than MaxTasks (%d)", len(st.Tasks), status.MaxTasks)
			}
			if !slices.IsSortedFunc(st.Tasks, func(a, b status.TaskStatus) int {
				return slices.IndexFunc(tc.tasks, func(t status.TaskStatus) bool { return t.Name == a.Name }) -
					slices.IndexFunc(tc.tasks, func(t status.TaskStatus) bool { return t.Name == b.Name })
			}) {
				t.Errorf("the entries kept changed their order")
			}
		})
	}
}
