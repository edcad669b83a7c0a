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

package execloop_test

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/execloop/execloop/execloop"
)

// The default Logger writes the original execloop's lines: the prefix
// "execloop-", the date and time, the level tag and the message. The
// example replaces the date and time, which change, with a placeholder.
func ExampleNewStdLogger() {
	var out strings.Builder
	l := execloop.NewStdLogger(&out)
	l.Debugf("plan Create returned %d tasks", 2)
	l.Infof("connected to %s", "db")
	l.Warningf("task %q failed in %s (1 of 5 tolerated errors spent): timeout", "fetch", "Pre")
	l.Errorf("task %q failed in %s, ending the run: no space left", "store", "Post")

	when := regexp.MustCompile(`(?m)^execloop-\d{4}/\d\d/\d\d \d\d:\d\d:\d\d `)
	fmt.Print(when.ReplaceAllString(out.String(), "execloop-YYYY/MM/DD hh:mm:ss "))
	// Output:
	// execloop-YYYY/MM/DD hh:mm:ss DEBUG: plan Create returned 2 tasks
	// execloop-YYYY/MM/DD hh:mm:ss INFO: connected to db
	// execloop-YYYY/MM/DD hh:mm:ss WARN: task "fetch" failed in Pre (1 of 5 tolerated errors spent): timeout
	// execloop-YYYY/MM/DD hh:mm:ss ERROR: task "store" failed in Post, ending the run: no space left
}
