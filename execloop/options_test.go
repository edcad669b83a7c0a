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
	"testing"

	"github.com/execloop/execloop/execloop"
)

// lines is a Logger that writes down each message with its level.
type lines struct{ out []string }

func (l *lines) Debugf(f string, a ...any)   { l.out = append(l.out, "DEBUG "+fmt.Sprintf(f, a...)) }
func (l *lines) Infof(f string, a ...any)    { l.out = append(l.out, "INFO "+fmt.Sprintf(f, a...)) }
func (l *lines) Warningf(f string, a ...any) { l.out = append(l.out, "WARNING "+fmt.Sprintf(f, a...)) }
func (l *lines) Errorf(f string, a ...any)   { l.out = append(l.out, "ERROR "+fmt.Sprintf(f, a...)) }

func TestOptionsLogThroughTheirLogger(t *testing.T) {
	t.Run("each level goes to the Logger, on a value and on a pointer", func(t *testing.T) {
		l := &lines{}
		opts := execloop.Options{Logger: l}
		opts.Debugf("d %d", 1)
		opts.Infof("i %d", 2)
		ptr := &opts
		ptr.Warningf("w %d", 3)
		ptr.Errorf("e %d", 4)
		if got, want := strings.Join(l.out, "\n"), "DEBUG d 1\nINFO i 2\nWARNING w 3\nERROR e 4"; got != want {
			t.Errorf("logged:\n%s\nwant:\n%s", got, want)
		}
	})
	t.Run("a nil Logger makes them do nothing", func(*testing.T) {
		var opts execloop.Options
		opts.Debugf("d")
		opts.Infof("i")
		opts.Warningf("w")
		opts.Errorf("e")
	})
	t.Run("Options is a Logger", func(t *testing.T) {
		l := &lines{}
		var logger execloop.Logger = execloop.Options{Logger: l}
		logger.Infof("through %s", "Options")
		if len(l.out) != 1 || l.out[0] != "INFO through Options" {
			t.Errorf("logged %q", l.out)
		}
	})
}

func TestStdLoggerWritesTheOriginalsLineFormat(t *testing.T) {
	var b strings.Builder
	l := execloop.NewStdLogger(&b)
	l.Debugf("d %d", 1)
	l.Infof("i %d", 2)
	l.Warningf("w %d", 3)
	l.Errorf("e %d", 4)
	line := regexp.MustCompile(`^execloop-\d{4}/\d\d/\d\d \d\d:\d\d:\d\d (.*)$`)
	var got []string
	for _, s := range strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n") {
		m := line.FindStringSubmatch(s)
		if m == nil {
			t.Fatalf("line %q does not start with execloop- and the date and time", s)
		}
		got = append(got, m[1])
	}
	if want := []string{"DEBUG: d 1", "INFO: i 2", "WARN: w 3", "ERROR: e 4"}; strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("after the date and time:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
