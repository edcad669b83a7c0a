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

// tellSucceeded tells the observer and the debug log that x succeeded in d.
func (r *run) tellSucceeded(x *execution, d time.Duration) {
	if r.obs != nil {
		r.obs.TaskFinished(x.ctx, execloop.TaskEvent{Task: x.name, Phase: execloop.PhasePost, Outcome: execloop.Succeeded, Duration: d})
	}
	if r.debug {
		r.taskLog(x.name).Debugf("task %q succeeded in %s", x.name, d)
	}
}

// tellPassFinished tells the observer that the pass ended with err.
func (r *run) tellPassFinished(err error) {
	r.obs.PassFinished(r.p.ctx, execloop.PassEvent{
		Done:       r.p.done,
		Succeeded:  r.p.counts[execloop.Succeeded],
		InProgress: r.p.counts[execloop.InProgress],
		Failed:     r.p.counts[execloop.Failed],
		Errors:     r.errors,
		Duration:   time.Since(r.p.start),
		Err:        err,
	})
}

// logCreated logs, at debug level, how many tasks Create returned.
func (r *run) logCreated(n int) {
	if n == 0 {
		r.log.Debugf("plan Create returned no tasks: the final state is reached")
		return
	}
	r.log.Debugf("plan Create returned %d tasks", n)
}

// createFailed logs a Create error, and the stack of a panic at debug
// level, and returns the pass's error.
func (r *run) createFailed(err error, stack []byte) error {
	if r.log != nil {
		r.logCreateFailed(err, stack)
	}
	return fmt.Errorf("execloop: plan Create failed: %w", err)
}

func (r *run) logCreateFailed(err error, stack []byte) {
	if r.shared {
		if !r.hold() {
			return
		}
		defer r.mu.Unlock()
	}
	r.log.Errorf("plan Create failed: %v", err)
	if r.debug && stack != nil {
		r.log.Debugf("plan Create panicked: %v\n%s", err, stack)
	}
}

// logOutcome logs a task execution that did not succeed, at the level of
// its outcome: debug when in progress, a warning when tolerated or
// interrupted (stop is the pass's context's error then), an error when it
// ends the run (runErr).
func (r *run) logOutcome(name string, phase execloop.Phase, outcome execloop.Outcome, err, runErr, stop error) {
	l := r.taskLog(name)
	switch {
	case outcome == execloop.InProgress:
		if r.debug {
			l.Debugf("task %q in progress in %s: %v", name, phase, err)
		}
		return
	case stop != nil:
		l.Warningf("task %q interrupted in %s: %v", name, phase, r.cause(stop))
	case runErr != nil:
		l.Errorf("task %q failed in %s, ending the run: %v", name, phase, err)
	default:
		l.Warningf("task %q failed in %s (%d of %d tolerated errors spent): %v", name, phase, r.errors, r.tolerate, err)
	}
	var pe *PanicError
	if r.debug && errors.As(err, &pe) {
		l.Debugf("task %q panicked in %s: %v\n%s", name, phase, pe.Value, pe.Stack)
	}
}

// cause is why the pass's context is done, its error being stop.
func (r *run) cause(stop error) error {
	if c := context.Cause(r.p.ctx); c != nil {
		return c
	}
	return stop
}

// taskLog returns the logger with the task's name as a key, when it can
// carry one.
func (r *run) taskLog(name string) execloop.Logger {
	if vl, ok := r.log.(execloop.ValuesLogger); ok {
		return vl.WithValues("task", name)
	}
	return r.log
}
