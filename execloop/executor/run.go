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
	"runtime"
	"sync"
	"time"

	"github.com/execloop/execloop/execloop"
)

// run is one call of RunWithContext or RunOnce: its settings, its error
// count, and the pass under way.
//
// When the run's context can never be done, its passes run on the caller's
// goroutine. Otherwise they run on one helper goroutine, while the caller
// waits for the helper or for the context, whichever comes first
// (onHelper). The helper checks the context before each phase, so no phase
// starts once it is done. When the context is done first, the caller gives
// up on the run and returns at once: the helper starts nothing else, and
// ends once the phase it may be running returns.
//
// What the caller reads when it gives up (RunOnce's Result so far; for the
// observer and the logger, the task under way) the helper changes only
// under mu, and the caller reads it under mu: the run is shared. The
// helper takes mu around each step of its own (starting a task, entering a
// phase, counting an outcome), never around the plan's or a task's code,
// and stops at the first step it finds left set.
//
// A run is allocated per call, so its fields are ordered to leave no
// padding: the flags of each group come last.
type run struct {
	plan     Plan
	ctx      context.Context // the caller's, bounded by ExecutionTimeout for RunWithContext
	sleep    time.Duration   // between passes
	tolerate int
	log      execloop.Logger
	obs      execloop.Observer
	once     bool // RunOnce: exactly one pass, whose Result is returned
	debug    bool // log is set and writes debug messages
	timed    bool // task durations are wanted: by RunOnce's Result, the observer or the debug log

	errors int     // spent so far in the run, carried-in ones included
	p      pass    // the pass under way, or the last one, which the run's Result is of
	runner *runner // runs the tasks that run apart, once one did

	// On the helper goroutine (see onHelper).
	mu     sync.Mutex    // guards what the caller reads, when shared, and the task on the runner
	done   chan struct{} // closed once ended is set
	err    error         // the helper's outcome
	fault  any           // a panic outside the phases on the helper, which the caller repeats
	shared bool          // the caller reads the run when it gives up: RunOnce's Result, or what tells needs
	tells  bool          // the caller tells the observer or the logger of the task under way
	left   bool          // the caller gave up on the run
	ended  bool          // the helper ended the run: its Result and err are its outcome
	exited bool          // runtime.Goexit outside the phases on the helper, which the caller repeats
}

// start runs plan under ctx: passes until the plan needs no more tasks, or
// with once exactly one, starting with spent errors of the budget spent.
func (e *Executor) start(ctx context.Context, plan Plan, once bool, spent int) (Result, error) {
	r := &run{
		plan:     plan,
		ctx:      ctx,
		once:     once,
		sleep:    e.opts.SleepBetweenRuns,
		tolerate: e.opts.ErrorsToTolerate,
		log:      e.opts.Logger,
		obs:      e.obs,
		errors:   spent,
	}
	if r.log != nil {
		de, ok := r.log.(execloop.DebugEnabler)
		r.debug = !ok || de.DebugEnabled()
	}
	r.timed = once || r.obs != nil || r.debug
	if ctx.Done() == nil {
		err := r.passes()
		return r.result(), err
	}
	return r.onHelper()
}

// passes runs passes until the run ends: after one pass with once,
// otherwise once a pass is done or fails, or the context is done while
// sleeping between passes. It returns the run's error, and leaves the last
// pass in r.p, for r.result.
func (r *run) passes() error {
	defer r.stopRunner()
	for {
		err := r.runPass()
		if r.once || err != nil || r.p.done {
			return err
		}
		if r.sleep > 0 {
			if err := r.pause(); err != nil {
				return err
			}
		}
	}
}

// pause sleeps between two passes, or until the run's context is done.
func (r *run) pause() error {
	t := time.NewTimer(r.sleep)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-r.ctx.Done():
		return r.ctx.Err()
	}
}

// onHelper runs the passes on a helper goroutine and waits for it or for
// the run's context, whichever comes first.
func (r *run) onHelper() (Result, error) {
	r.shared = r.once || r.obs != nil || r.log != nil
	r.tells = r.obs != nil || r.log != nil
	r.done = make(chan struct{})
	go r.help()
	select {
	case <-r.done:
		return r.outcome()
	case <-r.ctx.Done():
	}
	if res, gaveUp, err := r.giveUp(); gaveUp {
		return res, err
	}
	return r.outcome() // the helper ended as the context was done: its outcome stands
}

// outcome returns what the helper handed over, repeating on the caller's
// goroutine a panic or runtime.Goexit that ended the helper outside the
// phases, as if they had happened there.
func (r *run) outcome() (Result, error) {
	if r.exited {
		runtime.Goexit()
	}
	if r.fault != nil {
		panic(r.fault)
	}
	return r.result(), r.err
}

// help runs the passes on the helper goroutine and hands over the outcome.
func (r *run) help() {
	returned := false
	defer func() {
		if !returned {
			r.helperEnded(recover())
		}
	}()
	err := r.passes()
	returned = true
	r.handOver(err, nil, false)
}

// helperEnded handles what ended the helper goroutine other than a return,
// v being what it panicked with (nil for runtime.Goexit). runtime.Goexit in
// a task's phase fails the run, with an error that says so; in Create it
// ends the run with a Create error. A panic or runtime.Goexit elsewhere (an
// observer, a logger, a task's Name) is repeated on the caller's goroutine.
// Panics in phases and in Create are recovered where they happen.
func (r *run) helperEnded(v any) {
	r.mu.Lock()
	left, x := r.left, r.p.cur
	r.mu.Unlock()
	if left {
		return
	}
	switch {
	case v == nil && x != nil && !x.apart && x.exited:
		err := r.finish(x, x.phase, goexitError(x.phase))
		r.handOver(r.end(err), nil, false)
	case v == nil && r.p.creating:
		err := r.end(r.createFailed(errGoexitInCreate, nil))
		r.handOver(err, nil, false)
	default:
		r.handOver(nil, v, v == nil)
	}
}

// handOver ends the run on the helper with err, or with a panic (fault) or
// runtime.Goexit (exited) for the caller to repeat, unless the caller gave
// up on the run.
func (r *run) handOver(err error, fault any, exited bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.left {
		return
	}
	r.err, r.fault, r.exited, r.ended = err, fault, exited, true
	close(r.done)
}

// giveUp ends the run on the caller's goroutine once the context is done
// while the helper is still at work, and reports whether it did: false
// means that the helper ended the run first. When the run is shared, the
// task under way, if any, is interrupted (the observer and the logger hear
// in which phase; the Result does not list it: it did not end), and the
// pass under way ends with the context's error.
func (r *run) giveUp() (res Result, gaveUp bool, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ended {
		return Result{}, false, nil
	}
	r.left = true
	stop := r.ctx.Err()
	if !r.shared || !r.p.open {
		return Result{}, true, stop // nothing to tell, or between passes
	}
	if r.tells && r.p.cur != nil { // without tells, only the helper touches cur
		_ = r.account(r.p.cur, r.p.cur.phase, r.tick(), stop, stop)
	}
	r.closePass(stop)
	return r.result(), true, stop
}

// hold takes mu, for the helper, and reports whether the caller is still
// there. When it is not, mu is released, and the helper stops.
func (r *run) hold() bool {
	r.mu.Lock()
	if r.left {
		r.mu.Unlock()
		return false
	}
	return true
}
