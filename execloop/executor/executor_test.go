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

package executor_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/execloop/execloop/execloop"
	"github.com/execloop/execloop/execloop/executor"
)

var errBoom = errors.New("boom")

func tolerant(n int) *executor.Executor {
	o := execloop.Options{ErrorsToTolerate: n}
	return executor.New(&o)
}

func TestOptions(t *testing.T) {
	d := execloop.DefaultOptions()
	if d.SleepBetweenRuns != time.Second || d.ErrorsToTolerate != 5 || d.ExecutionTimeout != 20*time.Minute || d.Logger == nil {
		t.Errorf("DefaultOptions() = %+v, want 1s, 5, 20m and a logger", d)
	}
	o := d.WithSleepBetweenRuns(time.Minute).WithErrorsToTolerate(1).WithExecutionTimeout(time.Hour).WithLogger(nil)
	if o.SleepBetweenRuns != time.Minute || o.ErrorsToTolerate != 1 || o.ExecutionTimeout != time.Hour || o.Logger != nil {
		t.Errorf("With* gave %+v", o)
	}
	if d.SleepBetweenRuns != time.Second || d.Logger == nil {
		t.Errorf("With* changed the receiver: %+v", d)
	}
	if got := executor.New(nil).Options(); got.ErrorsToTolerate != 5 || got.SleepBetweenRuns != time.Second {
		t.Errorf("New(nil) options = %+v, want the defaults", got)
	}

	invalid := []struct {
		opts execloop.Options
		want string
	}{
		{execloop.Options{ErrorsToTolerate: -1}, "execloop: Options.ErrorsToTolerate must not be negative, got -1"},
		{execloop.Options{SleepBetweenRuns: -time.Second}, "execloop: Options.SleepBetweenRuns must not be negative, got -1s"},
		{execloop.Options{ExecutionTimeout: -time.Minute}, "execloop: Options.ExecutionTimeout must not be negative, got -1m0s"},
	}
	for _, tc := range invalid {
		exec := executor.New(&tc.opts)
		err := exec.Run(repeat{})
		var oe *execloop.OptionError
		if !errors.As(err, &oe) || err.Error() != tc.want {
			t.Errorf("Run with %+v = %v, want %q", tc.opts, err, tc.want)
		}
		if _, err := exec.RunOnce(background, repeat{}); err == nil {
			t.Errorf("RunOnce with %+v ran", tc.opts)
		}
	}

	var zero executor.Executor
	tr := &trace{}
	if err := zero.Run(&passes{lists: [][]executor.Task{{&fake{name: "a", tr: tr}}}}); err != nil || tr.String() != "a.Pre a.PerformAction a.Post" {
		t.Errorf("the zero Executor: %v, %s", err, tr)
	}
}

func TestPhaseAndOutcomeNames(t *testing.T) {
	got := fmt.Sprint(execloop.PhasePre, execloop.PhasePerformAction, execloop.PhasePost, execloop.Phase(7),
		execloop.Succeeded, execloop.InProgress, execloop.Failed, execloop.Outcome(9))
	if want := "Pre PerformAction Post Phase(7) Succeeded InProgress Failed Outcome(9)"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if got := executor.Fatal(nil); got != nil {
		t.Errorf("Fatal(nil) = %v, want nil", got)
	}
}

func TestFatalErrorText(t *testing.T) {
	cases := []struct {
		name string
		err  error
		want string
	}{
		{"a bare FatalError prints as the original's does", &executor.FatalError{}, "FatalError: "},
		{"an error marked with Fatal prints its cause", executor.Fatal(errBoom), "fatal: boom"},
		{"a message without a cause prints alone", &executor.FatalError{Message: "stop"}, "stop"},
		{"a message and a cause are joined", &executor.FatalError{Message: "stop", Err: errBoom}, "stop: boom"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.err.Error(); got != tc.want {
				t.Errorf("Error() = %q, want %q", got, tc.want)
			}
		})
	}
}
