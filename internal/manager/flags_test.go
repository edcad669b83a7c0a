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

package manager

import (
	"flag"
	"slices"
	"testing"
	"time"
)

func TestFlagsAreChecked(t *testing.T) {
	ok := Flags{MaxConcurrentReconciles: 1}
	if err := ok.Validate(); err != nil {
		t.Errorf("valid flags: %v", err)
	}
	for want, f := range map[string]Flags{
		"--max-concurrent-reconciles must be at least 1, got 0":  {},
		"--resync-interval must not be negative, got -1s":        {MaxConcurrentReconciles: 1, ResyncInterval: -time.Second},
		"--sleep-between-runs must not be negative, got -1s":     {MaxConcurrentReconciles: 1, SleepBetweenRuns: -time.Second},
		"--errors-to-tolerate must not be negative, got -2":      {MaxConcurrentReconciles: 1, ErrorsToTolerate: -2},
		"--execution-timeout must not be negative, got -1m0s":    {MaxConcurrentReconciles: 1, ExecutionTimeout: -time.Minute},
		"--max-backoff must not be negative, got -1s":            {MaxConcurrentReconciles: 1, MaxBackoff: -time.Second},
		"--stalled-retry-interval must not be negative, got -1s": {MaxConcurrentReconciles: 1, StalledRetryInterval: -time.Second},
	} {
		if err := f.Validate(); err == nil || err.Error() != want {
			t.Errorf("Validate() = %v, want %q", err, want)
		}
	}
}

func TestDefinitionGroupsAreAListSeparatedByCommas(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"unset, no group is allowed", nil, nil},
		{"empty, no group is allowed", []string{"--definition-groups="}, nil},
		{"one group", []string{"--definition-groups=platform.example.com"}, []string{"platform.example.com"}},
		{"groups with spaces and empty items", []string{"--definition-groups= a.example.com,,b.example.com "}, []string{"a.example.com", "b.example.com"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var f Flags
			fs := flag.NewFlagSet("manager", flag.ContinueOnError)
			f.Bind(fs)
			if err := fs.Parse(tc.args); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(f.DefinitionGroups, tc.want) {
				t.Errorf("DefinitionGroups = %q, want %q", f.DefinitionGroups, tc.want)
			}
		})
	}
}
