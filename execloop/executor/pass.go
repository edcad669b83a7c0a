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
	"sync/atomic"
	"time"

	"github.com/execloop/execloop/execloop"
)

// pass is the state of one Create/execute pass.
type pass struct {
	ctx      context.Context
	stops    bool // ctx can be done: ctx.Done() is not nil
	log      execloop.Logger
	debug    bool // log is not nil and writes debug messages
	obs      execloop.Observer
	tolerate int
	errors   int // spent so far, carried-in ones included
	record   bool
	done     bool
	tasks    []TaskResult
	counts   [3]int  // executions by execloop.Outcome
	runner   *runner // runs phases when ctx can be done

	// The clock: durations are differences of readings since start.
	timed bool          // task durations are wanted
	exact bool          // read the clock at the start of each task too
	stale bool          // something slow (a log line) ran since the last reading
	start time.Time     // when the pass started
	clock time.Duration // the last reading
}

// pass runs one pass of plan. With record it fills the Result's Tasks.
func (e *Executor) pass(ctx context.Context, plan Plan, errorsSpent int, record bool) (Result, error) {
	p := pass{
		log:      e.opts.Logger,
		obs:      e.obs,
		tolerate: e.opts.ErrorsToTolerate,
		errors:   errorsSpent,
		record:   record,
	}
	if p.log != nil {
		de, ok := p.log.(execloop.DebugEnabler)
		p.debug = !ok || de.DebugEnabled()
	}
	p.timed = record || p.obs != nil || p.debug
	p.exact = p.obs != nil
	if p.timed || p.obs != nil {
		p.start = time.Now()
	}
	if p.obs != nil {
		ctx = p.obs.PassStarted(ctx)
	}
	p.ctx = ctx
	p.stops = ctx.Done() != nil

	err := p.run(plan)
	if p.runner != nil {
		close(p.runner.calls)
	}
	if p.obs != nil {
		p.obs.PassFinished(ctx, execloop.PassEvent{
			Done:       p.done,
			Succeeded:  p.counts[execloop.Succeeded],
			InProgress: p.counts[execloop.InProgress],
			Failed:     p.counts[execloop.Failed],
			Errors:     p.errors,
			Duration:   time.Since(p.start),
			Err:        err,
		})
	}
	return Result{Done: p.done, Tasks: p.tasks, Errors: p.errors}, err
}

func (p *pass) run(plan Plan) error {
	if plan == nil {
		return errors.New("execloop: the plan is nil")
	}
	if err := p.ctx.Err(); err != nil {
		return err
	}
	tasks, err := p.create(plan)
	if err != nil {
		if p.log != nil {
			p.log.Errorf("plan Create failed: %v", err)
		}
		return fmt.Errorf("execloop: plan Create failed: %w", err)
	}
	if len(tasks) == 0 {
		p.done = true
		if p.debug {
			p.log.Debugf("plan Create returned no tasks: the final state is reached")
		}
		return nil
	}
	if p.debug {
		p.log.Debugf("plan Create returned %d tasks", len(tasks))
	}
	if p.record {
		p.tasks = make([]TaskResult, 0, len(tasks))
	}
	if p.timed {
		p.clock = time.Since(p.start) // Create is no task's time
	}
	if err := p.runTasks(tasks); err != nil {
		return err
	}
	if p.counts[execloop.InProgress] == 0 && p.counts[execloop.Failed] == 0 {
		if f, ok := plan.(Finisher); ok && f.Finished() {
			p.done = true
			if p.debug {
				p.log.Debugf("the plan reached its final state in this pass")
			}
		}
	}
	return nil
}

// create calls the plan's Create, turning a panic into an error.
func (p *pass) create(plan Plan) (tasks []Task, err error) {
	defer func() {
		if v := recover(); v != nil {
			if p.debug {
				p.log.Debugf("plan Create panicked: %v\n%s", v, debug.Stack())
			}
			tasks, err = nil, fmt.Errorf("panic: %v", v)
		}
	}()
	if cp, ok := plan.(ContextPlan); ok {
		return cp.CreateContext(p.ctx)
	}
	return plan.Create()
}

// runTasks runs tasks in order, each one's children right after it. It
// returns an error only when the pass must end.
func (p *pass) runTasks(tasks []Task) error {
	for len(tasks) > 0 {
		n, err := p.runSeries(tasks)
		if err != nil {
			return err
		}
		tasks = tasks[n:]
	}
	return nil
}

// running is the task whose phases run on the pass's goroutine, as
// runSeries needs it to recover from a panic in one of them.
type running struct {
	name  string
	ctx   context.Context
	phase execloop.Phase
	in    bool // a phase of the task is running
}

// runSeries runs tasks in order, each one's children right after it, until
// one of them panics in a phase; that task fails with a *PanicError. It
// returns how many of tasks ran, and an error when the pass must end. One
// deferred recover serves the whole series, because a defer per task costs
// as much as the rest of a no-op task. A panic outside the phases (in an
// observer or a logger) is not recovered.
func (p *pass) runSeries(tasks []Task) (n int, err error) {
	var cur running
	defer func() {
		if !cur.in {
			return
		}
		v := recover()
		if v == nil {
			return // runtime.Goexit
		}
		cur.in = false
		perr := &PanicError{Phase: cur.phase, Value: v, Stack: debug.Stack()}
		n, err = n+1, p.finish(cur.ctx, cur.name, cur.phase, p.tick(), perr)
	}()
	for ; n < len(tasks); n++ {
		if p.stops {
			if err := p.ctx.Err(); err != nil {
				return n, err
			}
		}
		children, err := p.runTask(tasks[n], &cur)
		if err != nil {
			return n + 1, err
		}
		if len(children) > 0 {
			if err := p.runTasks(children); err != nil {
				return n + 1, err
			}
		}
	}
	return n, nil
}

// runTask runs one task's phases and accounts for the outcome. It returns
// the task's children when it succeeded, and an error when the pass must
// end. Phases that run on the pass's goroutine are announced in cur.
func (p *pass) runTask(t Task, cur *running) ([]Task, error) {
	if t == nil {
		return nil, p.finish(p.ctx, "<nil>", execloop.PhasePre, 0, errors.New("the plan returned a nil task"))
	}
	name := t.Name()
	ctx, stops := p.ctx, p.stops
	var timeout time.Duration
	if tt, ok := t.(TimeoutTask); ok {
		timeout = tt.Timeout()
	}
	var cancel context.CancelFunc
	if timeout > 0 {
		ctx, cancel = context.WithTimeout(ctx, timeout)
		stops = true
	}
	if p.obs != nil {
		ctx = p.obs.TaskStarted(ctx, name)
		stops = ctx.Done() != nil
	}
	if p.exact || p.stale {
		p.clock = time.Since(p.start)
		p.stale = false
	}
	var phase execloop.Phase
	var children []Task
	var err error
	if !stops {
		cur.name, cur.ctx, cur.in = name, ctx, true
		children, err = runPhases(ctx, t, &cur.phase, nil)
		phase, cur.in = cur.phase, false
	} else {
		phase, children, err = p.runOnRunner(ctx, t)
	}
	d := p.tick()
	if cancel != nil {
		cancel()
	}
	if err == nil {
		p.counts[execloop.Succeeded]++
		if p.record {
			p.tasks = append(p.tasks, TaskResult{Name: name, Outcome: execloop.Succeeded, Phase: phase, Duration: d})
		}
		if p.obs != nil {
			p.obs.TaskFinished(ctx, execloop.TaskEvent{Task: name, Phase: phase, Outcome: execloop.Succeeded, Duration: d})
		}
		if p.debug {
			p.taskLog(name).Debugf("task %q succeeded in %s", name, d)
			p.stale = true
		}
		return children, nil
	}
	if timeout > 0 && p.ctx.Err() == nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		if !errors.Is(err, context.DeadlineExceeded) {
			err = fmt.Errorf("%w: %w", context.DeadlineExceeded, err)
		}
		err = fmt.Errorf("exceeded the task's timeout of %s in %s: %w", timeout, phase, err)
	}
	return nil, p.finish(ctx, name, phase, d, err)
}

// tick reads the pass's clock and returns the time since the last reading.
// The clock is read when a task ends, and again when the next one starts
// only if something slow ran in between (an observer, a log line): reading
// it costs as much as the rest of a no-op task. So a task's duration may hold
// the executor's bookkeeping since the previous task ended, never more.
func (p *pass) tick() time.Duration {
	if !p.timed {
		return 0
	}
	now := time.Since(p.start)
	d := now - p.clock
	p.clock = now
	return d
}

// finish accounts for a task execution that ended with err. It returns an
// error when the pass must end.
func (p *pass) finish(ctx context.Context, name string, phase execloop.Phase, d time.Duration, err error) error {
	outcome := execloop.Failed
	var runErr error
	var fatal *FatalError
	switch {
	case p.ctx.Err() != nil:
		runErr = p.ctx.Err()
	case errors.As(err, &fatal):
		runErr = &FatalError{Message: fmt.Sprintf("execloop: task %q failed in %s", name, phase), Err: err}
	case errors.Is(err, ErrInProgress):
		outcome = execloop.InProgress
	default:
		p.errors++
		if p.errors > p.tolerate {
			runErr = &FatalError{
				Message: fmt.Sprintf("execloop: task %q failed in %s and exhausted the error budget (errors: %d, tolerated: %d)",
					name, phase, p.errors, p.tolerate),
				Err: err,
			}
		}
	}
	p.counts[outcome]++
	if p.record {
		p.tasks = append(p.tasks, TaskResult{Name: name, Outcome: outcome, Phase: phase, Err: err, Duration: d})
	}
	if p.obs != nil {
		p.obs.TaskFinished(ctx, execloop.TaskEvent{Task: name, Phase: phase, Outcome: outcome, Duration: d, Err: err})
	}
	if p.log != nil {
		p.logOutcome(name, phase, outcome, err, runErr)
		p.stale = true
	}
	return runErr
}

func (p *pass) logOutcome(name string, phase execloop.Phase, outcome execloop.Outcome, err, runErr error) {
	l := p.taskLog(name)
	switch {
	case outcome == execloop.InProgress:
		if p.debug {
			l.Debugf("task %q in progress in %s: %v", name, phase, err)
		}
		return
	case runErr != nil && p.ctx.Err() != nil:
		l.Warningf("task %q interrupted in %s: %v", name, phase, context.Cause(p.ctx))
	case runErr != nil:
		l.Errorf("task %q failed in %s, ending the run: %v", name, phase, err)
	default:
		l.Warningf("task %q failed in %s (%d of %d tolerated errors spent): %v", name, phase, p.errors, p.tolerate, err)
	}
	var pe *PanicError
	if p.debug && errors.As(err, &pe) {
		l.Debugf("task %q panicked in %s: %v\n%s", name, phase, pe.Value, pe.Stack)
	}
}

// taskLog returns the logger with the task's name as a key, when it can
// carry one.
func (p *pass) taskLog(name string) execloop.Logger {
	if vl, ok := p.log.(execloop.ValuesLogger); ok {
		return vl.WithValues("task", name)
	}
	return p.log
}

// runPhases runs Pre, PerformAction and Post, stopping at the first error,
// and sets *phase to each phase as it starts. A panic is left to the caller,
// which learns from *phase where it happened. On the runner (current is not
// nil), no phase starts once ctx is done, and current is set to each phase
// too; elsewhere ctx can never be done.
func runPhases(ctx context.Context, t Task, phase *execloop.Phase, current *atomic.Uint32) (children []Task, err error) {
	ct, _ := t.(ContextTask)

	if err = starting(ctx, phase, current, execloop.PhasePre); err != nil {
		return nil, err
	}
	if ct != nil {
		err = ct.PreContext(ctx)
	} else {
		err = t.Pre()
	}
	if err != nil {
		return nil, err
	}

	if err = starting(ctx, phase, current, execloop.PhasePerformAction); err != nil {
		return nil, err
	}
	if ct != nil {
		children, err = ct.PerformActionContext(ctx)
	} else {
		children, err = t.PerformAction()
	}
	if err != nil {
		return nil, err
	}

	if err = starting(ctx, phase, current, execloop.PhasePost); err != nil {
		return nil, err
	}
	if ct != nil {
		err = ct.PostContext(ctx)
	} else {
		err = t.Post()
	}
	if err != nil {
		return nil, err
	}
	return children, nil
}

// starting is called before each phase: it sets *phase to next and, on the
// runner, returns ctx's error when ctx is done and sets current too. It is
// small enough to inline.
func starting(ctx context.Context, phase *execloop.Phase, current *atomic.Uint32, next execloop.Phase) error {
	*phase = next
	if current == nil {
		return nil
	}
	return startingOnRunner(ctx, current, next)
}

// startingOnRunner is kept out of line so that starting inlines.
//
//go:noinline
func startingOnRunner(ctx context.Context, current *atomic.Uint32, next execloop.Phase) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	current.Store(uint32(next))
	return nil
}

// runOnRunner runs the task's phases on the pass's runner goroutine and
// waits for them or for ctx, whichever comes first, so that a phase that
// ignores its context cannot hold the run past its deadline. A task left
// behind finishes its running phase on the runner, starts no other, and the
// runner then ends.
func (p *pass) runOnRunner(ctx context.Context, t Task) (execloop.Phase, []Task, error) {
	if p.runner == nil {
		p.runner = startRunner()
	}
	r := p.runner
	r.calls <- runnerCall{ctx: ctx, task: t}
	select {
	case res := <-r.results:
		return p.answer(res)
	case <-ctx.Done():
		select {
		case res := <-r.results: // it finished as ctx was done: keep its answer
			return p.answer(res)
		default:
		}
		close(r.calls)
		p.runner = nil
		return execloop.Phase(r.phase.Load()), nil, ctx.Err()
	}
}

// answer returns the runner's result. A runner whose task called
// runtime.Goexit has ended: the next task gets a new one.
func (p *pass) answer(res runnerResult) (execloop.Phase, []Task, error) {
	if res.exited {
		p.runner = nil
	}
	return res.phase, res.children, res.err
}

// runner is a goroutine that runs the phases of a pass's tasks, one task
// at a time, when the pass's context can be done.
type runner struct {
	calls   chan runnerCall
	results chan runnerResult // buffered, so a task left behind can always hand in its result and end
	phase   atomic.Uint32     // the phase running now, as an execloop.Phase
}

type runnerCall struct {
	ctx  context.Context
	task Task
}

type runnerResult struct {
	phase    execloop.Phase
	children []Task
	err      error
	exited   bool // the phase called runtime.Goexit, which ended the runner
}

func startRunner() *runner {
	r := &runner{calls: make(chan runnerCall), results: make(chan runnerResult, 1)}
	go func() {
		for c := range r.calls {
			runGuarded(c.ctx, c.task, &r.phase, r.results)
		}
	}()
	return r
}

// runGuarded runs t's phases on the runner and hands in the result. A panic
// becomes a *PanicError, and runtime.Goexit (t.FailNow in a test, say),
// which ends the runner, an error of the task: the pass, on another
// goroutine, would otherwise wait for a result that never comes.
func runGuarded(ctx context.Context, t Task, current *atomic.Uint32, results chan<- runnerResult) {
	var res runnerResult
	returned := false
	defer func() {
		if returned {
			return
		}
		if v := recover(); v != nil {
			res.children, res.err = nil, &PanicError{Phase: res.phase, Value: v, Stack: debug.Stack()}
		} else {
			res.children, res.err, res.exited = nil, fmt.Errorf("%s called runtime.Goexit", res.phase), true
		}
		results <- res
	}()
	res.children, res.err = runPhases(ctx, t, &res.phase, current)
	returned = true
	results <- res
}
