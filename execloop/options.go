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
	"strconv"
	"time"
)

// Defaults used by DefaultOptions.
const (
	// DefaultSleepBetweenRuns is the pause between two passes of a run.
	DefaultSleepBetweenRuns = time.Second
	// DefaultErrorsToTolerate is how many task errors a run survives.
	DefaultErrorsToTolerate = 5
	// DefaultExecutionTimeout bounds a whole run.
	DefaultExecutionTimeout = 20 * time.Minute
)

// Options configures an Executor. The zero value is usable: no pause between
// passes, the first task error is fatal, no time limit and no logging. Its
// four fields are the original execloop's, in the same order, so unkeyed
// literals written for it compile; the Observer, which the original lacks,
// is an option of executor.New.
type Options struct {
	// Logger receives what the executor does. Nil means silent.
	Logger Logger

	// SleepBetweenRuns is the pause between two passes of a run; in the
	// Kubernetes adapter it is the requeue interval while tasks remain.
	// Zero means no pause. It must not be negative.
	SleepBetweenRuns time.Duration

	// ErrorsToTolerate is how many task errors a run survives: the error that
	// makes the count exceed it ends the run with a *FatalError. Errors that
	// wrap ErrInProgress never count. Zero makes the first error fatal. It
	// must not be negative.
	ErrorsToTolerate int

	// ExecutionTimeout bounds a whole run (Run and RunWithContext): when it
	// passes, the run ends with context.DeadlineExceeded itself, and the
	// Logger is told that the execution timeout was exceeded.
	// Zero means no limit. It must not be negative. RunOnce does not apply
	// it: a single pass is bounded by the context it is given.
	ExecutionTimeout time.Duration
}

// DefaultOptions returns the options of the original execloop: one second
// between passes, five errors tolerated, a twenty-minute time limit and a
// Logger that writes every level to standard output in the original's line
// format (NewStdLogger).
func DefaultOptions() Options {
	return Options{
		Logger:           NewStdLogger(nil),
		SleepBetweenRuns: DefaultSleepBetweenRuns,
		ErrorsToTolerate: DefaultErrorsToTolerate,
		ExecutionTimeout: DefaultExecutionTimeout,
	}
}

// WithLogger returns a copy of o that logs to l; nil silences it.
func (o Options) WithLogger(l Logger) Options {
	o.Logger = l
	return o
}

// WithSleepBetweenRuns returns a copy of o that pauses d between passes.
func (o Options) WithSleepBetweenRuns(d time.Duration) Options {
	o.SleepBetweenRuns = d
	return o
}

// WithErrorsToTolerate returns a copy of o that tolerates n task errors.
func (o Options) WithErrorsToTolerate(n int) Options {
	o.ErrorsToTolerate = n
	return o
}

// WithExecutionTimeout returns a copy of o whose runs end after d.
func (o Options) WithExecutionTimeout(d time.Duration) Options {
	o.ExecutionTimeout = d
	return o
}

// Debugf writes a debug message to o.Logger; it does nothing when o.Logger
// is nil. Debugf, Infof, Warningf and Errorf let code hand its own messages
// to the run's Logger without checking for nil first, and make Options a
// Logger itself.
func (o Options) Debugf(format string, args ...any) {
	if o.Logger != nil {
		o.Logger.Debugf(format, args...)
	}
}

// Infof writes an informational message to o.Logger; it does nothing when
// o.Logger is nil.
func (o Options) Infof(format string, args ...any) {
	if o.Logger != nil {
		o.Logger.Infof(format, args...)
	}
}

// Warningf writes a warning to o.Logger; it does nothing when o.Logger is
// nil.
func (o Options) Warningf(format string, args ...any) {
	if o.Logger != nil {
		o.Logger.Warningf(format, args...)
	}
}

// Errorf writes an error message to o.Logger; it does nothing when o.Logger
// is nil.
func (o Options) Errorf(format string, args ...any) {
	if o.Logger != nil {
		o.Logger.Errorf(format, args...)
	}
}

var _ Logger = Options{}

// Validate reports the first field of o that holds a value the executor
// cannot use, naming the field and the value.
func (o Options) Validate() error {
	switch {
	case o.SleepBetweenRuns < 0:
		return &OptionError{Field: "SleepBetweenRuns", Value: o.SleepBetweenRuns.String(), Reason: "must not be negative"}
	case o.ErrorsToTolerate < 0:
		return &OptionError{Field: "ErrorsToTolerate", Value: strconv.Itoa(o.ErrorsToTolerate), Reason: "must not be negative"}
	case o.ExecutionTimeout < 0:
		return &OptionError{Field: "ExecutionTimeout", Value: o.ExecutionTimeout.String(), Reason: "must not be negative"}
	}
	return nil
}

// OptionError is returned for an Options field that holds an unusable value.
type OptionError struct {
	// Field is the name of the Options field.
	Field string
	// Value is the offending value as text.
	Value string
	// Reason says what the field must hold.
	Reason string
}

// Error implements error.
func (e *OptionError) Error() string {
	return "execloop: Options." + e.Field + " " + e.Reason + ", got " + e.Value
}
