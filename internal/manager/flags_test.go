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
