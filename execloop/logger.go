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
	"fmt"
	"io"
	"log"
	"os"

	"github.com/go-logr/logr"
)

// Logger is the printf-style logger of the original execloop. The executor
// names the task in every message it writes; task failures are written with
// Warningf (tolerated) or Errorf (fatal, or the error budget is exhausted),
// what goes well with Debugf.
type Logger interface {
	Debugf(format string, args ...any)
	Infof(format string, args ...any)
	Warningf(format string, args ...any)
	Errorf(format string, args ...any)
}

// DebugEnabler is implemented by Loggers that can tell cheaply whether debug
// messages would be written. The executor asks once per run and, when they
// would not, skips building them, so a quiet logger costs nothing per task.
// A Logger without it is assumed to write debug messages.
type DebugEnabler interface {
	DebugEnabled() bool
}

// ValuesLogger is implemented by structured Loggers that can carry key/value
// pairs. The executor uses it to add the task's name under the key "task" to
// each message about a task.
type ValuesLogger interface {
	WithValues(keysAndValues ...any) Logger
}

// NewStdLogger returns the Logger of DefaultOptions, which writes lines in
// the original execloop's format to w (standard output when w is nil): the
// prefix "execloop-", the local date and time as the standard library's log
// package writes them with log.LstdFlags ("2006/01/02 15:04:05"), a space,
// the level tag "DEBUG:", "INFO:", "WARN:" or "ERROR:", a space and the
// message, then a newline:
//
//	execloop-2026/01/02 15:04:05 INFO: plan Create returned 3 tasks
//
// Every level is written, debug included. Lines are written whole, so one
// Logger may serve concurrent runs.
func NewStdLogger(w io.Writer) Logger {
	if w == nil {
		w = os.Stdout
	}
	return stdLogger{log.New(w, "execloop-", log.LstdFlags)}
}

type stdLogger struct{ l *log.Logger }

var _ Logger = stdLogger{}

func (s stdLogger) Debugf(format string, args ...any) {
	s.l.Print("DEBUG: ", fmt.Sprintf(format, args...))
}
func (s stdLogger) Infof(format string, args ...any) {
	s.l.Print("INFO: ", fmt.Sprintf(format, args...))
}
func (s stdLogger) Warningf(format string, args ...any) {
	s.l.Print("WARN: ", fmt.Sprintf(format, args...))
}
func (s stdLogger) Errorf(format string, args ...any) {
	s.l.Print("ERROR: ", fmt.Sprintf(format, args...))
}

// NewLogrLogger bridges a logr.Logger (controller-runtime's log.FromContext,
// zapr, funcr, ...) to Logger. The levels map as follows:
//
//   - Debugf   → l.V(1).Info(msg)
//   - Infof    → l.Info(msg)
//   - Warningf → l.Info(msg, "severity", "warning"), at V(0) so warnings show
//     at the default verbosity
//   - Errorf   → l.Error(nil, msg)
//
// Messages are formatted only when l would write them. The result implements
// DebugEnabler and ValuesLogger.
func NewLogrLogger(l logr.Logger) Logger {
	return logrLogger{l}
}

type logrLogger struct{ l logr.Logger }

var (
	_ Logger       = logrLogger{}
	_ DebugEnabler = logrLogger{}
	_ ValuesLogger = logrLogger{}
)

func (b logrLogger) Debugf(format string, args ...any) {
	if v := b.l.V(1); v.Enabled() {
		v.Info(fmt.Sprintf(format, args...))
	}
}

func (b logrLogger) Infof(format string, args ...any) {
	if b.l.Enabled() {
		b.l.Info(fmt.Sprintf(format, args...))
	}
}

func (b logrLogger) Warningf(format string, args ...any) {
	if b.l.Enabled() {
		b.l.Info(fmt.Sprintf(format, args...), "severity", "warning")
	}
}

func (b logrLogger) Errorf(format string, args ...any) {
	if b.l.GetSink() != nil {
		b.l.Error(nil, fmt.Sprintf(format, args...))
	}
}

func (b logrLogger) DebugEnabled() bool { return b.l.V(1).Enabled() }

func (b logrLogger) WithValues(keysAndValues ...any) Logger {
	return logrLogger{b.l.WithValues(keysAndValues...)}
}
