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
	"time"

	"github.com/execloop/execloop/execloop"
)

// finish counts the outcome of x's execution, which ended in phase with
// err, and tells the observer and the logger. It returns an error when the
// pass must end. A task that ended once the pass's context was done was
// interrupted: it is counted and told, but not recorded in the Result.
func (r *run) finish(x *execution, phase execloop.Phase, err error) error {
	if err == errLeft { //nolint:errorlint // never wrapped
		return errLeft
	}
	if r.shared {
		if !r.hold() {
			return errLeft
		}
		defer r.mu.Unlock()
	}
	d := r.tick()
	if err == nil {
		r.succeeded(x, d)
		return nil
	}
	stop := x.passCtx.Err()
	if x.timeout > 0 && stop == nil && errors.Is(x.ctx.Err(), context.DeadlineExceeded) {
		if !errors.Is(err, context.DeadlineExceeded) {
			err = fmt.Errorf("%w: %w", context.DeadlineExceeded, err)
		}
		err = fmt.Errorf("exceeded the task's timeout of %s in %s: %w", x.timeout, phase, err)
	}
	return r.account(x, phase, d, err, stop)
}

// succeeded counts an execution of x that succeeded in d.
func (r *run) succeeded(x *execution, d time.Duration) {
	r.p.counts[execloop.Succeeded]++
	if r.once {
		r.p.tasks = append(r.p.tasks, TaskResult{Name: x.name, Outcome: execloop.Succeeded, Phase: execloop.PhasePost, Duration: d})
	}
	if r.obs != nil || r.debug {
		r.tellSucceeded(x, d)
	}
	r.p.cur = nil
}

// account counts an execution of x that ended in phase after d with err,
// and tells the observer and the logger. stop is the error of the pass's
// context when it was done: the task was interrupted, and the pass ends
// with stop. Otherwise it returns an error when the pass must end: a fatal
// error, or the error that exceeds the budget.
func (r *run) account(x *execution, phase execloop.Phase, d time.Duration, err, stop error) error {
	outcome := execloop.Failed
	runErr := stop
	var fatal *FatalError
	switch {
	case stop != nil:
	case errors.As(err, &fatal):
		runErr = &FatalError{Message: fmt.Sprintf("execloop: task %q failed in %s", x.name, phase), Err: err}
	case errors.Is(err, ErrInProgress):
		outcome = execloop.InProgress
	default:
		r.errors++
		if r.errors > r.tolerate {
			runErr = &FatalError{
				Message: fmt.Sprintf("execloop: task %q failed in %s and exhausted the error budget (errors: %d, tolerated: %d)",
					x.name, phase, r.errors, r.tolerate),
				Err: err,
			}
		}
	}
	r.p.counts[outcome]++
	if r.once && stop == nil {
		r.p.tasks = append(r.p.tasks, TaskResult{Name: x.name, Outcome: outcome, Phase: phase, Err: err, Duration: d})
	}
	if r.obs != nil {
		r.obs.TaskFinished(x.ctx, execloop.TaskEvent{Task: x.name, Phase: phase, Outcome: outcome, Duration: d, Err: err})
	}
	if r.log != nil {
		r.logOutcome(x.name, phase, outcome, err, runErr, stop)
	}
	r.p.cur = nil
	return runErr
}

// tick reads the pass's clock and returns the time since the last reading.
// The clock is read when a task ends, and when the next one starts only
// with an observer or a logger, which may take time in between: reading it
// costs as much as the rest of a no-op task. So a task's duration may hold
// the executor's own work since the previous task ended, never more.
func (r *run) tick() time.Duration {
	if !r.timed {
		return 0
	}
	return r.readClock()
}

// readClock is tick when task durations are wanted.
func (r *run) readClock() time.Duration {
	now := time.Since(r.p.start)
	d := now - r.p.clock
	r.p.clock = now
	return d
}
