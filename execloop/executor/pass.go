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
	"runtime"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/execloop/execloop/execloop"
)

// pass is the state of one run (a RunWithContext or a RunOnce call) and of
// the pass under way.
//
// When the run's context can never be done, everything runs on the caller's
// goroutine. Otherwise the passes run on one helper goroutine, phases
// inline, while the caller waits for the helper or for the context (wait).
// When the context is done first, the caller returns at once, and the
// helper, left alone, ends once its phase returns, starting no other. With
// an observer or a logger, which the caller tells of the task it
// interrupted, the caller returns at once only if the helper is inside
// something that may not return (a phase, Create, a task on its own
// runner), and otherwise waits for the executor's own work in between,
// which stops before the next phase: the two hand the pass over through
// state, one compare-and-swap per step (shared). Without them, RunOnce's
// caller returns the Result that the helper published after each task
// (pub), and Run's caller reads nothing of the pass.
type pass struct {
	// The run's settings.
	plan     Plan
	runCtx   context.Context // bounded by ExecutionTimeout for RunWithContext, unless alarmed
	stop     <-chan struct{} // runCtx.Done(): nil when the passes run on the caller's goroutine or alarmed
	once     bool            // RunOnce: exactly one pass, recorded
	sleep    time.Duration   // between passes
	log      execloop.Logger
	debug    bool // log is not nil and writes debug messages
	obs      execloop.Observer
	tolerate int
	timed    bool // task durations are wanted
	exact    bool // read the clock at the start of each task too

	// A run that keeps its own time limit (alarmed: see start) has no
	// context of its own until code of the plan's or of a task's wants
	// one (made, see context): the caller waits for its alarm, and once it
	// rings, moves alarmState to rung, which the helper reads before each
	// phase.
	alarmed    bool
	deadline   time.Time       // when the time limit ends
	alarm      *time.Timer     // the caller's, kept with the pass in helperPasses
	alarmState atomic.Uint32   // ctxOnly, quiet or rung
	made       context.Context // runCtx bounded by the deadline, once wanted
	cancelMade context.CancelFunc

	// The helper goroutine and the hand-over, when stop is not nil.
	shared    bool          // the caller tells the observer or the logger which phase it interrupted
	pub       *publication  // RunOnce without shared: the Result for a caller that leaves; else nil
	state     atomic.Uint32 // where the helper is: busy, inCreate, inPre…, onRunner, or left
	at        uint32        // the helper's own view of state
	ended     chan struct{} // buffered: the helper sends once it has set err (and res), or fault
	helpFresh func()        // p.help(false, nil), made once per pass in helperPasses
	holds     atomic.Int32  // how many of the caller and the helper still use the pass (see release)
	res       Result
	err       error
	fault     any         // a panic outside the phases, for the caller to repeat
	exited    bool        // runtime.Goexit outside the phases, for the caller to repeat
	creating  bool        // the helper is in Create, for a runtime.Goexit there
	spent     int         // errors carried in
	published publication // what pub points to, in a pass on the heap

	// The pass under way.
	ctx    context.Context // the pass's: runCtx, or what the observer made of it
	stops  bool            // ctx can be done: ctx.Done() is not nil
	first  bool            // check ctx before each task (see runTask)
	errors int             // spent so far, carried-in ones included
	done   bool
	tasks  []TaskResult
	counts [3]int   // executions by execloop.Outcome
	roots  []Task   // what is left of Create's tasks
	todo   [][]Task // what is left of the children lists under way, innermost last
	cur    running
	runner *runner // runs the phases of tasks with a Done channel of their own
	timer  *time.Timer

	// The clock: durations are differences of readings since start.
	stale bool          // something slow (a log line) ran since the last reading
	start time.Time     // when the pass started
	clock time.Duration // the last reading
}

// Where the helper is, in pass.state. Only the helper moves it, except that
// the caller moves it from a state other than busy to left when it gives up.
const (
	// busy: the executor's own work (with the observer's and the logger's),
	// which stops before the next phase; a caller that gives up waits for it.
	busy uint32 = iota
	// inCreate: the plan's Create.
	inCreate
	// inPre, inPerformAction, inPost: a task's phases, in the order of
	// execloop.Phase.
	inPre
	inPerformAction
	inPost
	// onRunner: waiting for a task's phases on the pass's runner.
	onRunner
	// left: the caller gave up on the pass; the helper touches nothing the
	// caller reads.
	left
)

// What ctxErr reads of an alarmed run, in pass.alarmState.
const (
	// ctxOnly: the pass's context says whether the run must stop; so it
	// is in a run that is not alarmed, and in one that made a context.
	ctxOnly uint32 = iota
	// quiet: an alarmed run that made no context, whose alarm has not rung.
	quiet
	// rung: the alarm of an alarmed run rang.
	rung
)

// errLeft ends the helper's work once the caller has left the pass. It never
// reaches a caller.
var errLeft = errors.New("execloop: the caller left the pass")

// running is the task whose phases run on the pass's goroutine (the caller's
// or the helper), for what recovers from a panic or runtime.Goexit in one of
// them, and for the caller when it leaves the pass.
type running struct {
	name   string
	ctx    context.Context
	phase  execloop.Phase
	in     bool    // a phase of the task is running on the pass's goroutine
	runner *runner // the task runs on this runner (state onRunner)
}

// start runs plan under ctx: passes until the plan needs no more tasks, or
// with once exactly one, recorded, starting with errorsSpent errors spent.
// A limit above zero, for a ctx that is never done and a run without an
// observer, is the run's time limit, which the pass keeps itself (alarmed):
// a context.WithTimeout per run costs more than a pass of ten no-op tasks,
// and no-op tasks have no use for it.
func (e *Executor) start(ctx context.Context, plan Plan, once bool, errorsSpent int, limit time.Duration) (Result, error) {
	if ctx.Done() == nil && limit <= 0 {
		var p pass
		p.init(ctx, e, plan, once, errorsSpent)
		err := p.passes(false, nil)
		p.quit()
		return p.res, err
	}
	p := helperPass()
	p.init(ctx, e, plan, once, errorsSpent)
	p.holds.Store(2)
	p.stop = ctx.Done()
	if limit > 0 {
		p.alarmed, p.deadline = true, time.Now().Add(limit)
		p.alarmState.Store(quiet)
		if p.alarm == nil {
			p.alarm = time.NewTimer(limit)
		} else {
			p.alarm.Reset(limit)
		}
	}
	p.shared = p.log != nil || p.obs != nil
	if once && !p.shared {
		p.pub = &p.published
	}
	go p.helpFresh()
	return p.wait()
}

func (p *pass) init(ctx context.Context, e *Executor, plan Plan, once bool, errorsSpent int) {
	p.plan, p.runCtx, p.once, p.errors, p.spent = plan, ctx, once, errorsSpent, errorsSpent
	p.sleep = e.opts.SleepBetweenRuns
	p.log, p.obs, p.tolerate = e.opts.Logger, e.obs, e.opts.ErrorsToTolerate
	if p.log != nil {
		de, ok := p.log.(execloop.DebugEnabler)
		p.debug = !ok || de.DebugEnabled()
	}
	p.timed = once || p.obs != nil || p.debug
	p.exact = p.obs != nil
}

// wait waits, on the caller's goroutine, for the helper to end the run or
// for the run's context to be done, and returns what the run returns.
func (p *pass) wait() (Result, error) {
	if p.alarmed {
		select {
		case <-p.ended:
			if !p.alarm.Stop() {
				select { // a fired value that GODEBUG=asynctimerchan=1 keeps
				case <-p.alarm.C:
				default:
				}
			}
			return p.outcome()
		case <-p.alarm.C:
			// Once the pass made a context, the tasks' checks (a runner's
			// among them) read it and the contexts made from it, and it
			// expires on a timer of its own: the run ends once they are
			// done too. Its cancel function, called once it is done,
			// returns when the cancellation under way has reached them.
			if !p.alarmState.CompareAndSwap(quiet, rung) {
				<-p.made.Done()
				p.cancelMade()
				p.alarmState.Store(rung)
			}
		}
	} else {
		select {
		case <-p.ended:
			return p.outcome()
		case <-p.stop:
		}
	}
	select {
	case <-p.ended: // it ended as the context was done: keep its outcome
		return p.outcome()
	default:
	}
	if !p.shared {
		res, err := p.pub.result(p.spent), p.stopErr() // no hand-over
		p.release()
		return res, err
	}
	for {
		s := p.state.Load()
		if s == busy {
			<-p.ended // the helper stops before its next phase
			return p.outcome()
		}
		if p.state.CompareAndSwap(s, left) {
			res, err := p.leave(s)
			p.release()
			return res, err
		}
	}
}

// helperPasses are passes for the helper, which the caller and the helper
// share: a pass and its channel cost more to allocate and to collect than
// the executor's own work in a pass of ten no-op tasks. So does the closure
// of a go statement with arguments, which helpFresh, a function value made
// with the pass, saves.
var helperPasses sync.Pool

// helperPass returns a pass from helperPasses, or a new one.
func helperPass() *pass {
	if p, ok := helperPasses.Get().(*pass); ok {
		return p
	}
	p := &pass{ended: make(chan struct{}, 1)}
	p.helpFresh = func() { p.help(false, nil) }
	return p
}

// keptDepth is the deepest children stack a pass in helperPasses keeps.
const keptDepth = 64

// release ends the caller's or the helper's use of a pass on the helper:
// the last of them to be done with it clears it and puts it back in
// helperPasses. Neither touches the pass after its release.
func (p *pass) release() {
	if p.holds.Add(-1) > 0 {
		return
	}
	ended, helpFresh, alarm := p.ended, p.helpFresh, p.alarm
	select {
	case <-ended: // sent for a caller that had left
	default:
	}
	// The children stack is kept, emptied, unless a deep pass grew it: a
	// pass with children would otherwise allocate it again.
	var todo [][]Task
	if cap(p.todo) <= keptDepth {
		todo = p.todo[:cap(p.todo)]
		clear(todo)
		todo = todo[:0]
	}
	*p = pass{ended: ended, helpFresh: helpFresh, alarm: alarm, todo: todo}
	helperPasses.Put(p)
}

// outcome returns what the helper handed in, repeating on the caller's
// goroutine a panic or runtime.Goexit that ended the helper outside the
// phases, as if they had happened there.
func (p *pass) outcome() (Result, error) {
	res, err, fault, exited := p.res, p.err, p.fault, p.exited
	p.release()
	if exited {
		runtime.Goexit()
	}
	if fault != nil {
		panic(fault)
	}
	return res, err
}

// leave ends the pass on the caller's goroutine, which took it over from
// the helper while the helper was at (not busy): the task under way, if
// any, is interrupted (the observer and the logger hear in which phase; the
// Result does not list it), and the pass ends with the context's error.
func (p *pass) leave(at uint32) (Result, error) {
	err := p.stopErr()
	switch {
	case at >= inPre && at <= inPost:
		_ = p.finish(p.cur.ctx, p.cur.name, execloop.Phase(at-inPre), p.tick(), err)
	case at == onRunner:
		_ = p.finish(p.cur.ctx, p.cur.name, execloop.Phase(p.cur.runner.phase.Load()), p.tick(), err)
	}
	err = p.end(err)
	return p.res, err
}

// moveTo moves the hand-over state to s, on the helper. It returns false
// when the caller has left the pass.
func (p *pass) moveTo(s uint32) bool {
	if !p.shared {
		return true
	}
	if !p.state.CompareAndSwap(p.at, s) {
		return false
	}
	p.at = s
	return true
}

// help runs the run's passes on the helper goroutine and hands in the
// outcome. With resume it goes on with the pass under way, whose task
// ended the previous helper with runtime.Goexit; pending is the error that
// ended the pass then, if it did.
//
// A goroutine starts on a small stack, and growing it copies every frame
// on it: so the frames from here down to a task's phases, the executor's
// hot path, are kept small enough for the passes of no-op tasks to run in
// the first stack. Cold paths (the observer, the logger, errors) are
// functions of their own.
func (p *pass) help(resume bool, pending error) {
	returned := false
	defer func() {
		if !returned {
			p.fell(recover())
		}
	}()
	err := p.passes(resume, pending)
	returned = true
	p.quit()
	if err != errLeft { //nolint:errorlint // never wrapped
		p.err = err
		p.ended <- struct{}{}
	}
	p.release()
}

// fell handles what ended the helper goroutine other than a return.
// runtime.Goexit in a phase fails the task, and the run goes on on a new
// helper; runtime.Goexit in Create ends the run with a Create error; a panic
// or runtime.Goexit elsewhere (an observer, a logger, a task's Name) is
// repeated on the caller's goroutine. Panics in phases and in Create are
// recovered where they happen.
func (p *pass) fell(v any) {
	switch {
	case v == nil && p.cur.in:
		p.cur.in = false
		if !p.moveTo(busy) {
			p.quit()
			p.release()
			return
		}
		err := p.finish(p.cur.ctx, p.cur.name, p.cur.phase, p.tick(), fmt.Errorf("%s called runtime.Goexit", p.cur.phase))
		go p.help(true, err)
	case v == nil && p.creating:
		p.creating = false
		if !p.moveTo(busy) {
			p.quit()
			p.release()
			return
		}
		p.err = p.end(p.createFailed(errors.New("Create called runtime.Goexit")))
		p.quit()
		p.ended <- struct{}{}
		p.release()
	default:
		p.fault, p.exited = v, v == nil
		p.quit()
		p.ended <- struct{}{}
		p.release()
	}
}

// quit releases what the goroutine that ran the passes holds: the runner,
// which ends once its phase returns, the timer, and the context it made.
func (p *pass) quit() {
	if p.runner != nil {
		close(p.runner.calls)
		p.runner = nil
	}
	if p.timer != nil {
		p.timer.Stop()
	}
	if p.cancelMade != nil {
		p.cancelMade()
	}
}

// stopErr is the error of a run whose caller stopped waiting, on the
// caller's goroutine: the run's context's, or context.DeadlineExceeded
// when the run's own alarm rang.
func (p *pass) stopErr() error {
	if p.alarmed {
		return context.DeadlineExceeded
	}
	return p.runCtx.Err()
}

// ctxErr is the error of the pass's context, on the goroutine that runs the
// passes: nil until it is done. In an alarmed run it is
// context.DeadlineExceeded from the moment the caller's alarm rang, whether
// or not the pass made a context (runCtx is never done).
func (p *pass) ctxErr() error {
	switch p.alarmState.Load() {
	case quiet:
		return nil
	case rung:
		return context.DeadlineExceeded
	}
	return p.ctx.Err()
}

// cause is why the pass's context is done, once it is.
func (p *pass) cause() error {
	if p.alarmState.Load() == rung {
		return context.DeadlineExceeded
	}
	return context.Cause(p.ctx)
}

// contextForTask returns the context for the phases of the task under way,
// ctx unless the pass is yet to make one (see context).
func (p *pass) contextForTask(ctx context.Context) context.Context {
	if p.alarmed && p.made == nil {
		p.cur.ctx = p.context()
		return p.cur.ctx
	}
	return ctx
}

// context returns the pass's context for code of the plan's or of a
// task's that receives it. An alarmed run makes it the first time: runCtx
// bounded by the run's deadline, for this pass and the next.
func (p *pass) context() context.Context {
	if p.alarmed && p.made == nil {
		p.made, p.cancelMade = context.WithDeadline(p.runCtx, p.deadline)
		p.ctx = p.made
		p.alarmState.CompareAndSwap(quiet, ctxOnly) // unless it rang
	}
	return p.ctx
}

// passes runs passes until the run ends: after one pass with once,
// otherwise when a pass is done or fails, or the context is done while
// sleeping between passes. It returns the run's error and leaves its
// Result in p.res. With resume it first goes on with the pass under way
// (see help).
func (p *pass) passes(resume bool, pending error) error {
	for {
		var err error
		if resume {
			resume = false
			err = pending
			if err == nil {
				err = p.rest()
			}
		} else {
			p.begin()
			if err = p.run(); err == nil && len(p.roots) > 0 {
				err = p.rest()
			}
		}
		if err = p.end(err); p.once || err != nil || p.done {
			return err
		}
		if p.sleep > 0 {
			if err := p.pause(); err != nil {
				p.res = Result{}
				return err
			}
		}
	}
}

// pause sleeps between two passes, or until the run's context is done. An
// alarmed run sleeps until its deadline at most (the alarm is the
// caller's).
func (p *pass) pause() error {
	d, expires := p.sleep, false
	if p.alarmed {
		if left := time.Until(p.deadline); left <= d {
			d, expires = left, true
		}
	}
	if p.timer == nil {
		p.timer = time.NewTimer(d)
	} else {
		p.timer.Reset(d)
	}
	select {
	case <-p.timer.C:
		if expires {
			return context.DeadlineExceeded
		}
		return nil
	case <-p.stop:
		return p.runCtx.Err()
	}
}

// begin starts a pass.
func (p *pass) begin() {
	p.ctx = p.runCtx
	if p.made != nil {
		p.ctx = p.made
	}
	p.done, p.tasks, p.counts, p.roots, p.todo = false, nil, [3]int{}, nil, p.todo[:0]
	p.cur, p.stale, p.clock = running{}, false, 0
	if p.timed || p.obs != nil {
		p.start = time.Now()
	}
	if p.obs != nil {
		p.ctx = p.obs.PassStarted(p.ctx)
	}
	p.stops = p.alarmed || p.ctx.Done() != nil
	// Before the observer hears of a task that will not start; and off the
	// caller's goroutine without a hand-over, before any of the task's own
	// methods runs, since the caller may have returned.
	p.first = p.stops && (p.obs != nil || !p.shared)
}

// end ends a pass that ended with err: it tells the observer, sets the
// pass's Result, and returns err. A pass the caller left is not ended
// twice.
func (p *pass) end(err error) error {
	if errors.Is(err, errLeft) {
		return err
	}
	if p.obs != nil {
		p.obs.PassFinished(p.ctx, execloop.PassEvent{
			Done:       p.done,
			Succeeded:  p.counts[execloop.Succeeded],
			InProgress: p.counts[execloop.InProgress],
			Failed:     p.counts[execloop.Failed],
			Errors:     p.errors,
			Duration:   time.Since(p.start),
			Err:        err,
		})
	}
	p.res = Result{Done: p.done, Tasks: p.tasks, Errors: p.errors}
	return err
}

// run starts the pass: it calls Create and leaves the tasks it returned in
// p.roots, for rest. (Returning keeps its frame off the stack while they
// run.)
func (p *pass) run() error {
	if p.plan == nil {
		return errors.New("execloop: the plan is nil")
	}
	if !p.moveTo(inCreate) {
		return errLeft
	}
	if err := p.ctxErr(); err != nil {
		if !p.moveTo(busy) {
			return errLeft
		}
		return err
	}
	tasks, err := p.callCreate()
	switch {
	case errors.Is(err, errLeft):
		return err
	case err != nil:
		return p.createFailed(err)
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
	if p.once {
		p.tasks = make([]TaskResult, 0, len(tasks))
		p.pub.moved(p.tasks)
	}
	if p.timed {
		p.clock = time.Since(p.start) // Create is no task's time
	}
	p.roots = tasks
	return nil
}

// createFailed logs a Create error and returns the pass's error.
func (p *pass) createFailed(err error) error {
	if p.log != nil {
		p.log.Errorf("plan Create failed: %v", err)
	}
	return fmt.Errorf("execloop: plan Create failed: %w", err)
}

// callCreate calls the plan's Create, turning a panic into an error, and
// moves the hand-over state back to busy; it returns errLeft when the
// caller left the pass meanwhile.
func (p *pass) callCreate() (tasks []Task, err error) {
	returned := false
	p.creating = true
	defer func() {
		v := recover()
		if !returned && v == nil {
			return // runtime.Goexit: see fell
		}
		p.creating = false
		if !p.moveTo(busy) {
			tasks, err = nil, errLeft
			return
		}
		if v != nil {
			if p.debug {
				p.log.Debugf("plan Create panicked: %v\n%s", v, debug.Stack())
			}
			tasks, err = nil, fmt.Errorf("panic: %v", v)
		}
	}()
	if cp, ok := p.plan.(ContextPlan); ok {
		tasks, err = cp.CreateContext(p.context())
	} else {
		tasks, err = p.plan.Create()
	}
	returned = true
	return tasks, err
}

// rest runs what is left of the pass's tasks, each one's children right
// after it, then asks a Finisher plan whether the pass was the last.
func (p *pass) rest() error {
	more := true
	var err error
	for more && err == nil {
		more, err = p.runSeries()
	}
	if p.runner != nil {
		close(p.runner.calls)
		p.runner = nil
	}
	if err != nil {
		return err
	}
	if p.counts[execloop.InProgress] == 0 && p.counts[execloop.Failed] == 0 {
		if f, ok := p.plan.(Finisher); ok && f.Finished() {
			p.done = true
			if p.debug {
				p.log.Debugf("the plan reached its final state in this pass")
			}
		}
	}
	return nil
}

// nextTask returns the next task to run, depth first: the next child of
// the innermost children list under way, or the next of Create's tasks.
func (p *pass) nextTask() (Task, bool) {
	for n := len(p.todo); n > 0; n = len(p.todo) {
		if top := p.todo[n-1]; len(top) > 0 {
			p.todo[n-1] = top[1:]
			return top[0], true
		}
		p.todo[n-1] = nil
		p.todo = p.todo[:n-1]
	}
	if len(p.roots) > 0 {
		t := p.roots[0]
		p.roots = p.roots[1:]
		return t, true
	}
	return nil, false
}

// runSeries runs tasks until none is left (more is false), the pass must end
// (err is not nil) or a task panics in a phase on the pass's goroutine; that
// task fails with a *PanicError, and more is true. One deferred recover
// serves the whole series, because a defer per task costs as much as the
// rest of a no-op task. A panic outside the phases (in an observer or a
// logger) is not recovered, and runtime.Goexit is left to fell.
func (p *pass) runSeries() (more bool, err error) {
	defer func() {
		if !p.cur.in {
			return
		}
		v := recover()
		if v == nil {
			return // runtime.Goexit
		}
		p.cur.in = false
		if !p.moveTo(busy) {
			more, err = false, errLeft
			return
		}
		perr := &PanicError{Phase: p.cur.phase, Value: v, Stack: debug.Stack()}
		err = p.finish(p.cur.ctx, p.cur.name, p.cur.phase, p.tick(), perr)
		more = err == nil
	}()
	for {
		t, ok := p.nextTask()
		if !ok {
			return false, nil
		}
		children, err := p.runTask(t)
		if err != nil {
			return false, err
		}
		switch {
		case len(children) == 0:
		case len(p.todo) >= MaxDepth: // t is at depth len(p.todo)
			if err := p.tooDeep(children); err != nil {
				return false, err
			}
		default:
			p.todo = append(p.todo, children)
			p.reserve(len(children))
		}
	}
}

// tooDeep fails, without running them, children that would nest deeper
// than MaxDepth. It returns an error when the pass must end.
func (p *pass) tooDeep(children []Task) error {
	for _, c := range children {
		name := "<nil>"
		if c != nil {
			name = c.Name()
		}
		err := fmt.Errorf("%w: task %q would run at depth %d, beyond the limit of %d (does a task return itself or a parent as a child?)",
			ErrTooDeep, name, len(p.todo)+1, MaxDepth)
		if err := p.refuse(name, err); err != nil {
			return err
		}
	}
	return nil
}

// refuse fails a task that does not run, in Pre, with err. The observer
// hears of it as of any task, so that what it started for the task (a
// span, say) ends with it. It returns an error when the pass must end.
func (p *pass) refuse(name string, err error) error {
	ctx := p.ctx
	if p.obs != nil {
		ctx = p.obs.TaskStarted(ctx, name)
	}
	return p.finish(ctx, name, execloop.PhasePre, 0, err)
}

// runTask runs one task's phases and accounts for the outcome. It returns
// the task's children when it succeeded, and an error when the pass must
// end. A task that would start once the pass's context is done does not
// run, and is not reported unless the observer heard of it already.
func (p *pass) runTask(t Task) ([]Task, error) {
	if p.first {
		if err := p.ctxErr(); err != nil {
			return nil, err
		}
	}
	if t == nil {
		return nil, p.refuse("<nil>", errors.New("the plan returned a nil task"))
	}
	name := t.Name()
	ctx, timeout, cancel := p.taskContext(t, name)
	if p.exact || p.stale {
		p.clock = time.Since(p.start)
		p.stale = false
	}
	p.cur.name, p.cur.ctx, p.cur.phase = name, ctx, execloop.PhasePre
	var children []Task
	var err error
	if cancel != nil || (p.obs != nil && ctx.Done() != p.stop) {
		children, err = p.runOnRunner(ctx, t)
	} else {
		p.cur.in = true
		children, err = p.phases(ctx, t)
		p.cur.in = false
		if p.shared && (err == errLeft || !p.moveTo(busy)) { //nolint:errorlint // never wrapped
			return nil, errLeft
		}
	}
	if cancel != nil {
		cancel()
	}
	if err != nil {
		return nil, p.failed(ctx, name, timeout, err)
	}
	p.succeeded(ctx, name, p.tick())
	return children, nil
}

// failed accounts for a task execution that ended with err, under ctx, the
// task's, bounded by its own timeout, if any. It returns an error when the
// pass must end.
func (p *pass) failed(ctx context.Context, name string, timeout time.Duration, err error) error {
	switch {
	case errors.Is(err, errLeft):
		return err
	case !errors.Is(err, errNotStarted):
	case p.obs == nil:
		return p.ctxErr()
	default:
		err = p.ctxErr() // the observer heard of it: it was interrupted before Pre
	}
	d := p.tick()
	if timeout > 0 && p.ctxErr() == nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		if !errors.Is(err, context.DeadlineExceeded) {
			err = fmt.Errorf("%w: %w", context.DeadlineExceeded, err)
		}
		err = fmt.Errorf("exceeded the task's timeout of %s in %s: %w", timeout, p.cur.phase, err)
	}
	return p.finish(ctx, name, p.cur.phase, d, err)
}

// taskContext returns the context of the task t, named name: the pass's,
// bounded by the task's own timeout, if any, and made by the observer. The
// cancel function is not nil when the task has a timeout.
func (p *pass) taskContext(t Task, name string) (ctx context.Context, timeout time.Duration, cancel context.CancelFunc) {
	ctx = p.ctx
	if tt, ok := t.(TimeoutTask); ok {
		timeout = tt.Timeout()
	}
	if timeout > 0 {
		ctx, cancel = context.WithTimeout(p.context(), timeout)
	}
	if p.obs != nil {
		ctx = p.obs.TaskStarted(ctx, name)
	}
	return ctx, timeout, cancel
}

// record adds r to the pass's Result and publishes it, with the errors
// spent, when the caller may leave the pass: one atomic store per task.
func (p *pass) record(r TaskResult) {
	moves := len(p.tasks) == cap(p.tasks)
	p.tasks = append(p.tasks, r)
	if p.pub != nil {
		if moves {
			p.pub.moved(p.tasks)
		}
		p.pub.publish(len(p.tasks), p.errors-p.spent)
	}
}

// reserve makes room in the Result for n more executions, a task's
// children, so that its array grows once per list of children rather than
// as they are recorded, deeper in the stack.
func (p *pass) reserve(n int) {
	if !p.once || cap(p.tasks)-len(p.tasks) >= n {
		return
	}
	p.tasks = slices.Grow(p.tasks, n)
	p.pub.moved(p.tasks)
}

// publication is what the helper publishes of RunOnce's Result, for a
// caller that leaves the pass without a hand-over. The helper only appends
// to the executions it published, and publishes the array they are in each
// time it moves, so the caller can copy them while the helper goes on.
type publication struct {
	// counts is the number of executions recorded << 32 | the errors spent
	// in the pass. A pass with 2³² executions would hold hundreds of
	// gigabytes of Result.
	counts atomic.Uint64
	array  atomic.Pointer[[]TaskResult] // what the executions are in
	first  []TaskResult                 // the first array, which array points to until it moves
}

// moved publishes the array that tasks, the recorded executions, is in.
// The first is published through pub.first, which is never written again,
// so that a pass whose array does not move allocates nothing for it. It
// does nothing on a nil publication.
func (pub *publication) moved(tasks []TaskResult) {
	if pub == nil {
		return
	}
	if pub.first == nil {
		pub.first = tasks[:cap(tasks)]
		pub.array.Store(&pub.first)
		return
	}
	a := new([]TaskResult)
	*a = tasks[:cap(tasks)]
	pub.array.Store(a)
}

// publish publishes that n executions are recorded, and errors spent in
// the pass. It does nothing on a nil publication.
func (pub *publication) publish(n, errors int) {
	if pub == nil {
		return
	}
	pub.counts.Store(uint64(n)<<32 | uint64(uint32(errors)))
}

// result returns the Result of the pass as last published, spent being the
// errors carried in: a copy of the executions, which the helper may go on
// appending to. A nil publication returns the zero Result.
func (pub *publication) result(spent int) Result {
	if pub == nil {
		return Result{}
	}
	c := pub.counts.Load()
	res := Result{Errors: spent + int(uint32(c))}
	if n := int(c >> 32); n > 0 {
		res.Tasks = slices.Clone((*pub.array.Load())[:n])
	}
	return res
}

// succeeded accounts for a task execution that succeeded in d.
func (p *pass) succeeded(ctx context.Context, name string, d time.Duration) {
	p.counts[execloop.Succeeded]++
	if p.once {
		p.record(TaskResult{Name: name, Outcome: execloop.Succeeded, Phase: p.cur.phase, Duration: d})
	}
	if p.obs != nil || p.debug {
		p.tellSucceeded(ctx, name, d)
	}
}

// tellSucceeded tells the observer and the debug log that a task succeeded.
func (p *pass) tellSucceeded(ctx context.Context, name string, d time.Duration) {
	if p.obs != nil {
		p.obs.TaskFinished(ctx, execloop.TaskEvent{Task: name, Phase: p.cur.phase, Outcome: execloop.Succeeded, Duration: d})
	}
	if p.debug {
		p.taskLog(name).Debugf("task %q succeeded in %s", name, d)
		p.stale = true
	}
}

// errNotStarted is what a task that did not start, because the pass's
// context was done, ends with before runTask sees it.
var errNotStarted = errors.New("execloop: the task did not start")

// phases runs Pre, PerformAction and Post on the pass's goroutine (the
// caller's or the helper), stopping at the first error, and sets
// p.cur.phase to each phase as it starts. No phase starts once the pass's
// context is done: runTask checked before Pre, except with a hand-over,
// where the state must say Pre first; phases checks before the others.
// With a hand-over, the state says which phase runs: a compare-and-swap
// per phase costs a fifth of a no-op task, so it is made only when the
// caller would tell someone. It returns errLeft when the caller left the
// pass. A panic is left to runSeries.
func (p *pass) phases(ctx context.Context, t Task) (children []Task, err error) {
	ct, _ := t.(ContextTask)
	if ct != nil {
		ctx = p.contextForTask(ctx)
	}
	if p.shared {
		if !p.moveTo(inPre) {
			return nil, errLeft
		}
		if p.ctxErr() != nil {
			return nil, errNotStarted
		}
	}
	if ct != nil {
		err = ct.PreContext(ctx)
	} else {
		err = t.Pre()
	}
	if err != nil {
		return nil, err
	}

	p.cur.phase = execloop.PhasePerformAction
	if p.shared && !p.moveTo(inPerformAction) {
		return nil, errLeft
	}
	if p.stops {
		if err = p.ctxErr(); err != nil {
			return nil, err
		}
	}
	if ct != nil {
		children, err = ct.PerformActionContext(ctx)
	} else {
		children, err = t.PerformAction()
	}
	if err != nil {
		return nil, err
	}

	p.cur.phase = execloop.PhasePost
	if p.shared && !p.moveTo(inPost) {
		return nil, errLeft
	}
	if p.stops {
		if err = p.ctxErr(); err != nil {
			return nil, err
		}
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

// runPhases runs Pre, PerformAction and Post on a runner, stopping at the
// first error, and sets *phase to each phase as it starts. g says before
// each phase whether it may start. A panic is left to the caller, which
// learns from *phase where it happened.
func runPhases(ctx context.Context, t Task, phase *execloop.Phase, g *gate) (children []Task, err error) {
	ct, _ := t.(ContextTask)

	if err = g.enter(phase, execloop.PhasePre); err != nil {
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

	if err = g.enter(phase, execloop.PhasePerformAction); err != nil {
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

	if err = g.enter(phase, execloop.PhasePost); err != nil {
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

// gate is asked before each phase on a runner: no phase starts once ctx is
// done, and current says which phase runs.
type gate struct {
	ctx     context.Context
	current *atomic.Uint32
}

// enter sets *phase to next and returns ctx's error when it is done.
func (g *gate) enter(phase *execloop.Phase, next execloop.Phase) error {
	*phase = next
	if err := g.ctx.Err(); err != nil {
		return err
	}
	g.current.Store(uint32(next))
	return nil
}

// finish accounts for a task execution that ended with err. It returns an
// error when the pass must end. A task the pass's context interrupted is
// counted, told to the observer and logged, but not recorded: it did not
// end, whichever goroutine noticed first.
func (p *pass) finish(ctx context.Context, name string, phase execloop.Phase, d time.Duration, err error) error {
	outcome := execloop.Failed
	var runErr error
	var fatal *FatalError
	switch {
	case p.ctxErr() != nil:
		runErr = p.ctxErr()
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
	if p.once && p.ctxErr() == nil {
		p.record(TaskResult{Name: name, Outcome: outcome, Phase: phase, Err: err, Duration: d})
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

func (p *pass) logOutcome(name string, phase execloop.Phase, outcome execloop.Outcome, err, runErr error) {
	l := p.taskLog(name)
	switch {
	case outcome == execloop.InProgress:
		if p.debug {
			l.Debugf("task %q in progress in %s: %v", name, phase, err)
		}
		return
	case runErr != nil && p.ctxErr() != nil:
		l.Warningf("task %q interrupted in %s: %v", name, phase, p.cause())
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

// runOnRunner runs the task's phases on the pass's runner goroutine and
// waits for them or for ctx, whichever comes first, so that a task's own
// timeout abandons that task and the pass goes on. A task left behind
// finishes its running phase on the runner, starts no other, and the runner
// then ends.
func (p *pass) runOnRunner(ctx context.Context, t Task) ([]Task, error) {
	if p.stops && p.ctxErr() != nil {
		return nil, errNotStarted
	}
	if p.runner == nil {
		p.runner = startRunner()
	}
	r := p.runner
	r.phase.Store(uint32(execloop.PhasePre))
	p.cur.runner = r
	if !p.moveTo(onRunner) {
		return nil, errLeft
	}
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
		if !p.moveTo(busy) {
			return nil, errLeft
		}
		p.cur.phase = execloop.Phase(r.phase.Load())
		return nil, ctx.Err()
	}
}

// answer returns the runner's result. A runner whose task called
// runtime.Goexit has ended: the next task gets a new one.
func (p *pass) answer(res runnerResult) ([]Task, error) {
	if res.exited {
		p.runner = nil
	}
	if !p.moveTo(busy) {
		return nil, errLeft
	}
	p.cur.phase = res.phase
	return res.children, res.err
}

// runner is a goroutine that runs the phases of a pass's tasks, one task
// at a time, for tasks with a Done channel of their own.
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

// runGuarded runs t's phases on the runner and hands in the result. No phase
// starts once ctx is done. A panic becomes a *PanicError, and
// runtime.Goexit (t.FailNow in a test, say), which ends the runner, an
// error of the task: the pass, on another goroutine, would otherwise wait
// for a result that never comes.
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
	g := gate{ctx: ctx, current: current}
	res.children, res.err = runPhases(ctx, t, &res.phase, &g)
	returned = true
	results <- res
}
