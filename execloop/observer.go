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

package execloop

import (
	"context"
	"strconv"
	"time"
)

// Phase is one of the three phases of a task.
type Phase uint8

// The phases of a task, in the order they run.
const (
	PhasePre Phase = iota
	PhasePerformAction
	PhasePost
)

// String returns the phase's method name: "Pre", "PerformAction" or "Post".
func (p Phase) String() string {
	switch p {
	case PhasePre:
		return "Pre"
	case PhasePerformAction:
		return "PerformAction"
	case PhasePost:
		return "Post"
	}
	return "Phase(" + strconv.Itoa(int(p)) + ")"
}

// Outcome is how one execution of a task ended.
type Outcome uint8

// The outcomes of a task execution.
const (
	// Succeeded: Pre, PerformAction and Post returned nil. Its children run next.
	Succeeded Outcome = iota
	// InProgress: a phase returned an error wrapping ErrInProgress ("not yet").
	// The remaining phases and the children are skipped; no error is spent.
	InProgress
	// Failed: a phase returned another error, panicked or exceeded the task's
	// timeout. The remaining phases and the children are skipped; one error
	// of the budget is spent, or the run ends when the error is fatal.
	Failed
)

// String returns "Succeeded", "InProgress" or "Failed".
func (o Outcome) String() string {
	switch o {
	case Succeeded:
		return "Succeeded"
	case InProgress:
		return "InProgress"
	case Failed:
		return "Failed"
	}
	return "Outcome(" + strconv.Itoa(int(o)) + ")"
}

// Observer is told about passes and tasks as they run, so that metrics,
// events and tracing can be driven without the executor knowing of them. Its
// methods are called one at a time per run, in order: on the goroutine that
// runs the pass (a helper goroutine when the run's context can be done), and
// on the caller's when it gives up on a pass whose phase does not return; an
// Observer shared by concurrent runs must be safe for concurrent use. Embed
// NopObserver to implement only some of the methods.
type Observer interface {
	// PassStarted is called before a pass calls the plan's Create. The
	// context it returns is the one the pass and its tasks use.
	PassStarted(ctx context.Context) context.Context
	// TaskStarted is called before a task's first phase. The context it
	// returns is the one the task's phases and TaskFinished receive.
	TaskStarted(ctx context.Context, task string) context.Context
	// TaskFinished is called once a task's execution has ended, or the
	// run's context interrupted it (Outcome Failed, Err the context's
	// error).
	TaskFinished(ctx context.Context, event TaskEvent)
	// PassFinished is called once a pass has ended, whatever the outcome.
	PassFinished(ctx context.Context, event PassEvent)
}

// TaskEvent describes one finished execution of a task.
type TaskEvent struct {
	// Task is the task's name.
	Task string
	// Phase is the last phase that ran: PhasePost when the task succeeded,
	// otherwise the phase that failed or was in progress.
	Phase Phase
	// Outcome is how the execution ended.
	Outcome Outcome
	// Duration is the time the phases took.
	Duration time.Duration
	// Err is the error that ended the execution; nil when it succeeded.
	Err error
}

// PassEvent describes one finished pass.
type PassEvent struct {
	// Done is true when the plan's Create returned no tasks: the final state
	// is reached.
	Done bool
	// Succeeded, InProgress and Failed count the task executions of the pass
	// by outcome; children are counted too.
	Succeeded, InProgress, Failed int
	// Errors is the number of errors spent so far in the run, including any
	// carried in from earlier passes.
	Errors int
	// Duration is the time the pass took, Create included.
	Duration time.Duration
	// Err is the error that ended the pass early (a Create error, a fatal
	// error, an exhausted budget, a done context); nil otherwise.
	Err error
}

// NopObserver is an Observer that does nothing. Embed it in an Observer of
// your own to implement only the methods you need.
type NopObserver struct{}

var _ Observer = NopObserver{}

// PassStarted returns ctx.
func (NopObserver) PassStarted(ctx context.Context) context.Context { return ctx }

// TaskStarted returns ctx.
func (NopObserver) TaskStarted(ctx context.Context, _ string) context.Context { return ctx }

// TaskFinished does nothing.
func (NopObserver) TaskFinished(context.Context, TaskEvent) {}

// PassFinished does nothing.
func (NopObserver) PassFinished(context.Context, PassEvent) {}
