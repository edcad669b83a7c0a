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

package planrun

import (
	"context"
	"fmt"
	"time"

	"github.com/execloop/execloop/execloop/executor"
)

// secretValues are the values the pass masks: those of every Secret it
// read or applies, and those its expressions computed from them. They are
// computed once, and again after secretsChanged; the caller must not add
// to them.
func (p *Run) secretValues() *secretValues {
	p.secretsMu.Lock()
	defer p.secretsMu.Unlock()
	if p.secrets == nil {
		s := &secretValues{}
		for _, t := range p.tasks {
			if st := p.state[t.name]; st != nil {
				s.addSecret(st.live)
				for _, it := range st.items {
					s.addSecret(it.st.live)
					s.addSecret(it.t.manifest)
				}
			}
			s.addSecret(t.manifest)
			s.addAll(&t.fromSecrets.values)
		}
		s.masker() // here, so that masking never writes to s
		p.secrets = s
	}
	return p.secrets
}

// secretsChanged says that what the pass's secretValues come from changed:
// a task's object (taskState.live), manifest or fromSecrets. They are
// computed again when next asked.
func (p *Run) secretsChanged() {
	p.secretsMu.Lock()
	defer p.secretsMu.Unlock()
	p.secrets = nil
}

// secretsRead are the values of Secrets that t's expressions may meet: those
// of the objects of the tasks they read that are Secrets, and those that
// these tasks' own expressions computed from Secrets in this pass.
func (p *Run) secretsRead(t *taskSpec) *secretValues {
	s := &secretValues{}
	for _, r := range t.refs {
		if st := p.state[r.name]; st != nil {
			s.addSecret(st.live)
			for _, it := range st.items {
				s.addSecret(it.st.live)
			}
		}
		s.addAll(&r.fromSecrets.values)
	}
	return s
}

// redact returns err with the pass's secretValues masked in its message.
// errors.Is and errors.As still reach what err wraps; only its text
// changes.
func (p *Run) redact(err error) error {
	if err == nil {
		return nil
	}
	msg := p.secretValues().mask(err.Error())
	if msg == err.Error() {
		return err
	}
	return &redactedError{msg: msg, err: err}
}

// redactedError is an error whose message has values of Secrets masked.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// redactedTask runs a task of a pass, and masks the pass's secretValues in
// the errors it returns; the tasks it returns are redactedTasks too.
type redactedTask struct {
	executor.ContextTask
	run *Run
}

var (
	_ executor.ContextTask = (*redactedTask)(nil)
	_ executor.TimeoutTask = (*redactedTask)(nil)
	// The tasks of a pass, which redacting wraps.
	_ = []executor.ContextTask{(*planTask)(nil), (*removal)(nil), (*releaseTask)(nil), (*unpatchTask)(nil)}
)

// redacting wraps the tasks of a pass of p, each a ContextTask, in
// redactedTasks.
func redacting(p *Run, tasks []executor.Task) []executor.Task {
	for i, t := range tasks {
		tasks[i] = &redactedTask{ContextTask: t.(executor.ContextTask), run: p}
	}
	return tasks
}

// Timeout is the task's own, if it has one; zero (no limit) otherwise.
func (r *redactedTask) Timeout() time.Duration {
	if t, ok := r.ContextTask.(executor.TimeoutTask); ok {
		return t.Timeout()
	}
	return 0
}

func (r *redactedTask) Pre() error { return r.PreContext(context.Background()) }
func (r *redactedTask) PerformAction() ([]executor.Task, error) {
	return r.PerformActionContext(context.Background())
}
func (r *redactedTask) Post() error { return r.PostContext(context.Background()) }

func (r *redactedTask) PreContext(ctx context.Context) error {
	defer r.maskPanic()
	return r.run.redact(r.ContextTask.PreContext(ctx))
}

func (r *redactedTask) PerformActionContext(ctx context.Context) ([]executor.Task, error) {
	defer r.maskPanic()
	children, err := r.ContextTask.PerformActionContext(ctx)
	return redacting(r.run, children), r.run.redact(err)
}

func (r *redactedTask) PostContext(ctx context.Context) error {
	defer r.maskPanic()
	return r.run.redact(r.ContextTask.PostContext(ctx))
}

// maskPanic, deferred by a phase, panics again with the pass's
// secretValues masked in what the phase panicked with, if they show in it:
// an error as a redactedError, anything else as its masked text. The
// executor turns the panic into the task's error (executor.PanicError), as
// it does any other.
func (r *redactedTask) maskPanic() {
	v := recover()
	if v == nil {
		return
	}
	text := fmt.Sprint(v)
	msg := r.run.secretValues().mask(text)
	switch err, ok := v.(error); {
	case msg == text:
		panic(v)
	case ok:
		panic(&redactedError{msg: msg, err: err})
	default:
		panic(msg)
	}
}
