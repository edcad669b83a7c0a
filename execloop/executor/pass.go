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
	"errors"
	"fmt"
	"runtime/debug"
	"slices"
	"time"

	"github.com/execloop/execloop/execloop"
)

// pass is the state of the pass under way.
type pass struct {
	ctx      context.Context // the pass's: the run's, or what the observer made of it
	open     bool            // begun and not yet ended
	creating bool            // in the plan's Create
	done     bool            // the final state is reached
	counts   [3]int          // executions by execloop.Outcome
	tasks    []TaskResult    // what RunOnce returns
	cur      *execution      // the task under way, if any
	inline   execution       // the task under way when it runs where the pass does

	// The clock: durations are differences of readings since start.
	start time.Time
	clock time.Duration // the last reading
}

// runPass runs one pass: Create, then its tasks in order, each one's
// children, depth first, right after it. It returns the error that ends
// the run, if any.
func (r *run) runPass() error {
	if !r.begin() {
		return errLeft
	}
	return r.end(r.createAndRun())
}

// begin starts a pass. It returns false when the caller gave up on the run.
func (r *run) begin() bool {
	if r.shared {
		if !r.hold() {
			return false
		}
		defer r.mu.Unlock()
	}
	r.p.ctx, r.p.open, r.p.done, r.p.counts, r.p.tasks, r.p.cur = r.ctx, true, false, [3]int{}, nil, nil
	if r.timed {
		r.p.start = time.Now()
	}
	if r.obs != nil {
		r.p.ctx = r.obs.PassStarted(r.ctx)
	}
	return true
}

// createAndRun asks the plan for the pass's tasks and runs them, then asks
// a Finisher plan whether the pass was the last.
func (r *run) createAndRun() error {
	if r.plan == nil {
		return errors.New("execloop: the plan is nil")
	}
	if err := r.p.ctx.Err(); err != nil {
		return err
	}
	r.p.creating = true
	tasks, stack, err := r.create()
	r.p.creating = false
	if err != nil {
		return r.createFailed(err, stack)
	}
	if !r.created(tasks) {
		return errLeft
	}
	if len(tasks) == 0 {
		return nil
	}
	if err := r.runTasks(tasks, 0); err != nil {
		return err
	}
	if r.p.counts[execloop.InProgress] == 0 && r.p.counts[execloop.Failed] == 0 {
		if f, ok := r.plan.(Finisher); ok && f.Finished() && !r.finished() {
			return errLeft
		}
	}
	return nil
}

// create calls the plan's Create, turning a panic into an error; stack is
// where it panicked, for the debug log.
func (r *run) create() (tasks []Task, stack []byte, err error) {
	defer func() {
		if v := recover(); v != nil {
			tasks, stack, err = nil, debug.Stack(), fmt.Errorf("panic: %v", v)
		}
	}()
	tasks, err = CreateTasks(r.p.ctx, r.plan)
	return tasks, nil, err
}

// errGoexitInCreate is the Create error of a Create that called
// runtime.Goexit on the helper goroutine.
var errGoexitInCreate = errors.New("Create called runtime.Goexit")

// created takes note of what Create returned. It returns false when the
// caller gave up on the run.
func (r *run) created(tasks []Task) bool {
	if r.shared {
		if !r.hold() {
			return false
		}
		defer r.mu.Unlock()
	}
	if len(tasks) == 0 {
		r.p.done = true
	}
	if r.debug {
		r.logCreated(len(tasks))
	}
	if r.once {
		r.p.tasks = make([]TaskResult, 0, len(tasks))
	}
	if r.timed {
		r.p.clock = time.Since(r.p.start) // Create is no task's time
	}
	return true
}

// finished takes note that the plan, a Finisher, said the pass was the
// last. It returns false when the caller gave up on the run.
func (r *run) finished() bool {
	if r.shared {
		if !r.hold() {
			return false
		}
		defer r.mu.Unlock()
	}
	r.p.done = true
	if r.debug {
		r.log.Debugf("the plan reached its final state in this pass")
	}
	return true
}

// end ends a pass that ended with err: it tells the observer, sets the
// pass's Result, and returns err. A pass the caller gave up on is not
// ended again.
func (r *run) end(err error) error {
	if err == errLeft { //nolint:errorlint // never wrapped
		return errLeft
	}
	if r.shared {
		if !r.hold() {
			return errLeft
		}
		defer r.mu.Unlock()
	}
	r.closePass(err)
	return err
}

// closePass tells the observer that the pass ended with err, and closes
// it.
func (r *run) closePass(err error) {
	if r.obs != nil {
		r.tellPassFinished(err)
	}
	r.p.open = false
}

// result is the Result of the last pass: RunOnce's, once it ended.
func (r *run) result() Result {
	return Result{Done: r.p.done, Tasks: r.p.tasks, Errors: r.errors}
}

// runTasks runs tasks, at depth depth, each one's children right after it.
// It returns the error that ends the pass, if any.
func (r *run) runTasks(tasks []Task, depth int) error {
	for _, t := range tasks {
		children, err := r.runTask(t)
		switch {
		case err != nil:
			return err
		case len(children) == 0:
		case depth >= MaxDepth:
			if err := r.tooDeep(children, depth+1); err != nil {
				return err
			}
		default:
			if r.once && !r.reserve(len(children)) {
				return errLeft
			}
			if err := r.runTasks(children, depth+1); err != nil {
				return err
			}
		}
	}
	return nil
}

// runTask runs one task's phases and counts the outcome. It returns the
// task's children when it succeeded, and an error when the pass must end.
func (r *run) runTask(t Task) ([]Task, error) {
	if t == nil {
		return nil, r.refuse("<nil>", errors.New("the plan returned a nil task"))
	}
	x, err := r.startTask(t)
	if err != nil {
		return nil, err
	}
	var children []Task
	var phase execloop.Phase
	if x.apart {
		children, phase, err = r.phasesApart(x)
	} else {
		children, err = r.phases(x)
		phase = x.phase
	}
	if x.cancel != nil {
		x.cancel()
	}
	return children, r.finish(x, phase, err)
}

// reserve makes room in the Result for n more executions, a task's
// children, so that it grows once per list of children rather than as they
// are recorded. It returns false when the caller gave up on the run.
func (r *run) reserve(n int) bool {
	if r.shared {
		if !r.hold() {
			return false
		}
		defer r.mu.Unlock()
	}
	r.p.tasks = slices.Grow(r.p.tasks, n)
	return true
}

// startTask makes the execution of t: its context, bounded by its own
// timeout, if any, and made by the observer. It returns errLeft when the
// caller gave up on the run.
func (r *run) startTask(t Task) (*execution, error) {
	name := t.Name()
	var timeout time.Duration
	if tt, ok := t.(TimeoutTask); ok {
		timeout = tt.Timeout()
	}
	ctx, cancel := r.p.ctx, context.CancelFunc(nil)
	if timeout > 0 {
		ctx, cancel = context.WithTimeout(ctx, timeout)
	}
	if r.tells {
		if !r.hold() {
			if cancel != nil {
				cancel()
			}
			return nil, errLeft
		}
		defer r.mu.Unlock()
	}
	if r.obs != nil {
		ctx = r.obs.TaskStarted(ctx, name)
	}
	// A context with a Done channel of its own may end while a phase
	// ignores it: the task runs apart, so that the pass can go on.
	apart := cancel != nil || (r.obs != nil && ctx.Done() != r.p.ctx.Done())
	x := &r.p.inline
	if apart {
		if r.runner == nil {
			r.runner = r.startRunner()
		}
		x = &r.runner.x
	}
	x.task, x.name, x.passCtx, x.ctx = t, name, r.p.ctx, ctx
	x.timeout, x.cancel, x.apart, x.phase, x.exited = timeout, cancel, apart, execloop.PhasePre, false
	if r.timed && (r.obs != nil || r.log != nil) {
		r.p.clock = time.Since(r.p.start) // the observer or a log line may have taken time since the last reading
	}
	r.p.cur = x
	return x, nil
}

// tooDeep fails, without running them, children that would run at depth,
// beyond MaxDepth. It returns an error when the pass must end.
func (r *run) tooDeep(children []Task, depth int) error {
	for _, c := range children {
		name := "<nil>"
		if c != nil {
			name = c.Name()
		}
		err := fmt.Errorf("%w: task %q would run at depth %d, beyond the limit of %d (does a task return itself or a parent as a child?)",
			ErrTooDeep, name, depth, MaxDepth)
		if err := r.refuse(name, err); err != nil {
			return err
		}
	}
	return nil
}

// refuse fails a task that does not run, in Pre, with err. The observer
// hears of it as of any task, so that what it started for the task (a
// span, say) ends with it. It returns an error when the pass must end.
func (r *run) refuse(name string, err error) error {
	if r.shared {
		if !r.hold() {
			return errLeft
		}
		defer r.mu.Unlock()
	}
	x := &execution{name: name, ctx: r.p.ctx}
	if r.obs != nil {
		x.ctx = r.obs.TaskStarted(x.ctx, name)
	}
	return r.account(x, execloop.PhasePre, 0, err, nil)
}
