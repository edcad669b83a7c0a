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
	"cmp"
	"errors"
	"slices"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/execloop/execloop/execloop"
	"github.com/execloop/execloop/execloop/executor"
	"github.com/execloop/execloop/execloop/reconciler/status"
)

// recordTasks records the task executions of a pass in st, for the
// object's generation gen. With names (the plan's TaskLister), st.Tasks is
// kept to exactly those tasks, in order. It returns the statuses of the
// tasks that failed in the pass.
//
// A failed task's next attempt is due after backoff(failures in a row); a
// task held back by its backoff keeps its status.
func recordTasks(st *status.Status, names []string, results []executor.TaskResult, gen int64, now metav1.Time, backoff func(failures int32) time.Duration) []status.TaskStatus {
	if names != nil {
		tasks := make([]status.TaskStatus, 0, len(names))
		for _, n := range names {
			if t := st.Task(n); t != nil {
				tasks = append(tasks, *t)
			} else {
				tasks = append(tasks, status.TaskStatus{Name: n, State: status.TaskPending, LastTransitionTime: &now, ObservedGeneration: gen})
			}
		}
		st.Tasks = tasks
	}
	var failed []status.TaskStatus
	for _, res := range results {
		if errors.Is(res.Err, errHeld) {
			continue
		}
		t := st.Task(res.Name)
		if t == nil {
			st.Tasks = append(st.Tasks, status.TaskStatus{Name: res.Name, State: status.TaskPending})
			t = &st.Tasks[len(st.Tasks)-1]
		}
		state := status.TaskSucceeded
		switch res.Outcome {
		case execloop.InProgress:
			state = status.TaskInProgress
		case execloop.Failed:
			state = status.TaskFailed
		}
		if t.State != status.TaskInProgress {
			t.StartedTime = &now // a new attempt; a wait goes on with the same one
		}
		if state != status.TaskInProgress {
			t.Attempts++
		}
		if t.State != state {
			t.State = state
			t.LastTransitionTime = &now
		}
		t.Message = ""
		if res.Err != nil {
			msg := res.Err.Error()
			if state == status.TaskInProgress { // the state says so already
				msg = strings.TrimSuffix(msg, ": "+executor.ErrInProgress.Error())
			}
			t.Message = truncate(res.Phase.String() + ": " + msg)
		}
		t.NextAttemptTime = nil
		t.ObservedGeneration = gen
		switch state {
		case status.TaskSucceeded:
			t.FinishedTime = &now
			t.Failures = 0
		case status.TaskFailed:
			t.Failures++
			t.NextAttemptTime = &metav1.MicroTime{Time: now.Add(backoff(t.Failures))}
			failed = append(failed, *t)
		}
	}
	return failed
}

// recordSkipped records the tasks a plan left out, with why, for the
// object's generation gen.
func recordSkipped(st *status.Status, skipped map[string]string, gen int64, now metav1.Time) {
	for name, why := range skipped {
		t := st.Task(name)
		if t == nil {
			st.Tasks = append(st.Tasks, status.TaskStatus{Name: name})
			t = &st.Tasks[len(st.Tasks)-1]
		}
		if t.State != status.TaskSkipped {
			t.State = status.TaskSkipped
			t.LastTransitionTime = &now
		}
		t.Message = truncate(why)
		t.Failures, t.NextAttemptTime = 0, nil
		t.ObservedGeneration = gen
	}
}

// boundTasks keeps st.Tasks to status.MaxTasks entries, dropping the ones
// least worth keeping as status.MaxTasks describes: the finished tasks that
// the pass (its results and the skipped tasks) did not record, then Pending
// and finished ones, then the rest; the least recently recorded first within
// each. The entries kept stay in their order.
func boundTasks(st *status.Status, results []executor.TaskResult, skipped map[string]string) {
	drop := len(st.Tasks) - status.MaxTasks
	if drop <= 0 {
		return
	}
	recorded := make(map[string]bool, len(results)+len(skipped))
	for _, r := range results {
		recorded[r.Name] = true // a task held back is Failed: it stays as long as can be anyway
	}
	for name := range skipped {
		recorded[name] = true
	}
	rank := func(t *status.TaskStatus) int {
		finished := t.State == status.TaskSucceeded || t.State == status.TaskSkipped
		switch {
		case finished && !recorded[t.Name]:
			return 0
		case finished || t.State == status.TaskPending:
			return 1
		default:
			return 2
		}
	}
	order := make([]int, len(st.Tasks))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		ta, tb := &st.Tasks[a], &st.Tasks[b]
		if c := cmp.Compare(rank(ta), rank(tb)); c != 0 {
			return c
		}
		return recordedAt(ta).Compare(recordedAt(tb))
	})
	gone := make([]bool, len(st.Tasks))
	for _, i := range order[:drop] {
		gone[i] = true
	}
	kept := make([]status.TaskStatus, 0, status.MaxTasks)
	for i := range st.Tasks {
		if !gone[i] {
			kept = append(kept, st.Tasks[i])
		}
	}
	st.Tasks = kept
}

// recordedAt is when a pass last recorded something of a task: the latest
// of its transition, start and finish times; the zero time when its status
// holds none.
func recordedAt(t *status.TaskStatus) time.Time {
	var at time.Time
	for _, ts := range []*metav1.Time{t.LastTransitionTime, t.StartedTime, t.FinishedTime} {
		if ts != nil && ts.After(at) {
			at = ts.Time
		}
	}
	return at
}
