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
	"testing"
	"time"
)

// This test sits inside the package because go vet rightly flags unkeyed
// literals of an imported struct; the literal is the point here.
func TestOptionsHasTheOriginalsFourFieldsInItsOrder(t *testing.T) {
	logger := NewStdLogger(nil)
	opts := Options{logger, time.Second, 5, time.Minute} // as code written for the original spells it
	if opts.Logger != logger || opts.SleepBetweenRuns != time.Second || opts.ErrorsToTolerate != 5 || opts.ExecutionTimeout != time.Minute {
		t.Errorf("the unkeyed literal gave %+v", opts)
	}
}
