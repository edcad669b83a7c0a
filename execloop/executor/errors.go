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
	"errors"
	"fmt"

	"github.com/execloop/execloop/execloop"
)

// ErrInProgress means "not yet": a task phase that returns an error wrapping
// it (fmt.Errorf("waiting for %s: %w", name, ErrInProgress)) is waiting for
// something. The task's remaining phases and children are skipped for this
// pass, the task runs again in a later pass if the plan still asks for it,
// and no error of the budget is spent.
var ErrInProgress = errors.New("in progress")

// MaxDepth is how deep children may nest: Create's tasks are at depth 0,
// their children at 1, and so on. A task deeper than MaxDepth does not run;
// it fails in Pre with an error wrapping ErrTooDeep, spending one error, and
// the pass goes on. Without a bound, a task that returns its own parent (or
// itself) as a child would make the pass run for ever.
const MaxDepth = 1000

// ErrTooDeep is wrapped by the error of a child task deeper than MaxDepth.
var ErrTooDeep = errors.New("children nest too deep")

// FatalError ends a run at once. The executor returns one when a task's error
// is marked fatal with Fatal, and when an error exhausts the error budget.
// errors.Is and errors.As reach the cause through Unwrap.
type FatalError struct {
	// Message says why the run ended; empty for an error marked with Fatal
	// whose cause says it all.
	Message string
	// Err is the cause.
	Err error
}

// Fatal marks err as fatal: a task phase that returns it ends the run at
// once, whatever is left of the error budget. Fatal(nil) returns nil.
func Fatal(err error) error {
	if err == nil {
		return nil
	}
	return &FatalError{Err: err}
}

// Error implements error: Message and the cause's text, joined by ": ";
// "fatal: " and the cause's text when Message is empty; and "FatalError: ",
// as in the original execloop, when both are empty.
func (e *FatalError) Error() string {
	switch {
	case e.Message == "" && e.Err == nil:
		return "FatalError: "
	case e.Message == "":
		return fmt.Sprintf("fatal: %v", e.Err)
	case e.Err == nil:
		return e.Message
	}
	return e.Message + ": " + e.Err.Error()
}

// Unwrap returns the cause.
func (e *FatalError) Unwrap() error { return e.Err }

// PanicError is the error of a task phase that panicked. The panic is
// recovered and counted against the error budget like any other error.
type PanicError struct {
	// Phase is the phase that panicked.
	Phase execloop.Phase
	// Value is what was passed to panic.
	Value any
	// Stack is the goroutine's stack at the panic, for the debug log.
	Stack []byte
}

// Error implements error. It does not include the stack.
func (e *PanicError) Error() string {
	return fmt.Sprintf("%s panicked: %v", e.Phase, e.Value)
}
