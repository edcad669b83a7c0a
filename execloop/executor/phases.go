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
	"time"

	"github.com/execloop/execloop/execloop"
)

// execution is one run of a task through its phases.
type execution struct {
	task    Task
	name    string
	passCtx context.Context // the pass's context
	ctx     context.Context // the task's: passCtx, bounded by the task's timeout, made by the observer
	timeout time.Duration   // the task's own, if any
	cancel  context.CancelFunc
	apart   bool           // the phases run on the run's runner (see phasesApart)
	phase   execloop.Phase // the phase running, or the last that ran
	exited  bool           // a phase called runtime.Goexit
}

// errLeft ends the helper's work once the caller gave up on the run. It
// never reaches a caller.
var errLeft = errors.New("execloop: the caller gave up on the run")

// phases runs x's Pre, PerformAction and Post, stopping at the first
// error; a phase that panics fails with a *PanicError. No phase starts once
// the pass's or the task's context is done, or the caller gave up on the
// run (see enter). A phase that calls runtime.Goexit ends the goroutine:
// phases marks x as exited, for what runs it to say so.
func (r *run) phases(x *execution) (children []Task, err error) {
	returned := false
	defer func() {
		if returned {
			return
		}
		if v := recover(); v != nil {
			children, err = nil, &PanicError{Phase: x.phase, Value: v, Stack: debug.Stack()}
			return
		}
		x.exited = true
	}()
	ct, _ := x.task.(ContextTask)
	if err = r.enter(x, execloop.PhasePre); err == nil {
		if ct != nil {
			err = ct.PreContext(x.ctx)
		} else {
			err = x.task.Pre()
		}
	}
	if err == nil {
		err = r.enter(x, execloop.PhasePerformAction)
	}
	if err == nil {
		if ct != nil {
			children, err = ct.PerformActionContext(x.ctx)
		} else {
			children, err = x.task.PerformAction()
		}
	}
	if err == nil {
		err = r.enter(x, execloop.PhasePost)
	}
	if err == nil {
		if ct != nil {
			err = ct.PostContext(x.ctx)
		} else {
			err = x.task.Post()
		}
	}
	returned = true
	if err != nil {
		return nil, err
	}
	return children, nil
}

// enter is asked before each phase of x, next: it notes the phase, and
// returns the error that keeps it from starting, if any: the pass's or the
// task's context is done, or the caller gave up on the run (errLeft).
func (r *run) enter(x *execution, next execloop.Phase) error {
	if r.tells || x.apart {
		return r.enterLocked(x, next)
	}
	x.phase = next
	return x.passCtx.Err()
}

// enterLocked is enter under mu, for when another goroutine may read x
// meanwhile: the caller, when it tells of the task under way, or the pass
// waiting for a task that runs apart.
func (r *run) enterLocked(x *execution, next execloop.Phase) error {
	if !r.hold() {
		return errLeft
	}
	defer r.mu.Unlock()
	x.phase = next
	if err := x.passCtx.Err(); err != nil {
		return err
	}
	return x.ctx.Err()
}

// runner is a goroutine of the run's that runs, one at a time, the phases
// of the tasks that run apart (see phasesApart). A task left behind keeps
// its runner: the runner finishes the phase under way, starts no other,
// and ends; the next task that runs apart gets a new runner.
type runner struct {
	x       execution        // the task it runs
	calls   chan struct{}    // a task is in x; closed when the run needs the runner no more
	results chan apartResult // buffered: a runner left behind never waits to hand in its result
}

// apartResult is how a task that ran apart ended.
type apartResult struct {
	children []Task
	phase    execloop.Phase
	err      error
}

// startRunner starts a runner for the run's tasks that run apart.
func (r *run) startRunner() *runner {
	rn := &runner{calls: make(chan struct{}), results: make(chan apartResult, 1)}
	go func() {
		defer func() {
			if rn.x.exited { // the runner ends, and says why
				rn.results <- apartResult{phase: rn.x.phase, err: goexitError(rn.x.phase)}
			}
		}()
		for range rn.calls {
			children, err := r.phases(&rn.x)
			rn.results <- apartResult{children: children, phase: rn.x.phase, err: err}
		}
	}()
	return rn
}

// stopRunner lets the run's runner, if any, end once it is idle.
func (r *run) stopRunner() {
	if r.runner != nil {
		close(r.runner.calls)
		r.runner = nil
	}
}

// phasesApart runs the phases of x, the runner's task, on the runner, and
// waits for them or for the task's context, whichever comes first: so a
// task's own timeout, or the end of the run, abandons a phase that ignores
// its context, and the pass goes on. It returns the phase the task ended
// in.
func (r *run) phasesApart(x *execution) ([]Task, execloop.Phase, error) {
	rn := r.runner
	rn.calls <- struct{}{}
	select {
	case res := <-rn.results:
		return r.ranApart(res)
	case <-x.ctx.Done():
	}
	select {
	case res := <-rn.results: // it ended as the context was done: keep its result
		return r.ranApart(res)
	default:
	}
	r.mu.Lock()
	phase := x.phase
	r.mu.Unlock()
	r.stopRunner() // left behind with its task
	return nil, phase, x.ctx.Err()
}

// ranApart returns how the runner's task ended. A runner whose task called
// runtime.Goexit has ended.
func (r *run) ranApart(res apartResult) ([]Task, execloop.Phase, error) {
	if r.runner.x.exited {
		r.runner = nil
	}
	return res.children, res.phase, res.err
}

// goexitError is the error of a task whose phase called runtime.Goexit
// (t.FailNow in a test, say) on a goroutine of the executor's: it ends the
// run, which could not go on as the task's code meant.
func goexitError(phase execloop.Phase) error {
	return Fatal(fmt.Errorf("%s called runtime.Goexit", phase))
}
