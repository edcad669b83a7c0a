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
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/execloop/execloop/execloop"
	"github.com/execloop/execloop/execloop/executor"
)

// graph builds a random task tree from fuzz input: each task takes two
// bytes, one for how it behaves and one for how many children it has.
type graph struct {
	data    []byte
	tr      *trace
	n       int
	parents map[string]string // child → parent
}

func (g *graph) next() byte {
	if len(g.data) == 0 {
		return 0
	}
	b := g.data[0]
	g.data = g.data[1:]
	return b
}

func (g *graph) tasks(count, depth int, parent string) []executor.Task {
	var out []executor.Task
	for range count {
		if g.n >= 64 || len(g.data) == 0 {
			break
		}
		g.n++
		behaviour, kids := g.next(), g.next()
		f := &fake{name: fmt.Sprintf("t%d", g.n), tr: g.tr}
		if parent != "" {
			g.parents[f.name] = parent
		}
		var err error
		switch (behaviour >> 2) & 3 {
		case 0:
			err = errBoom
		case 1:
			err = fmt.Errorf("wait: %w", executor.ErrInProgress)
		case 2:
			err = executor.Fatal(errBoom)
		}
		phase := []string{"", "Pre", "PerformAction", "Post"}[behaviour&3]
		if (behaviour>>2)&3 == 3 {
			f.panicIn = phase
		} else {
			switch phase {
			case "Pre":
				f.pre = err
			case "PerformAction":
				f.act = err
			case "Post":
				f.post = err
			}
		}
		if depth < 4 {
			f.children = g.tasks(int(kids%4), depth+1, f.name)
		}
		out = append(out, f)
	}
	return out
}

// FuzzRunOnce feeds random task trees (random failures, in-progress results,
// fatal errors, panics and children) to RunOnce and checks the invariants of
// a pass.
func FuzzRunOnce(f *testing.F) {
	f.Add([]byte{2, 0, 1, 0, 2, 2, 3, 0, 0, 0, 4})
	f.Add([]byte{0, 0, 3, 1, 1, 0, 0, 9, 0})
	f.Add([]byte{5, 8, 2, 13, 1, 6, 0, 3, 3, 0, 2})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		tolerate := int(data[0] % 5)
		g := &graph{data: data[1:], tr: &trace{}, parents: map[string]string{}}
		roots := g.tasks(16, 0, "")
		res, err := tolerant(tolerate).RunOnce(background, &passes{lists: [][]executor.Task{roots}})

		steps := g.tr.steps
		pos := map[string]int{} // "name.Phase" → index in steps
		for i, s := range steps {
			pos[s] = i
		}
		// Every execution is a prefix of Pre, PerformAction, Post that ends
		// at its failing phase: Post never runs after a failed Pre or
		// PerformAction.
		for _, r := range res.Tasks {
			last := r.Phase.String()
			for _, ph := range []string{"Pre", "PerformAction", "Post"} {
				_, ran := pos[r.Name+"."+ph]
				if !ran {
					t.Fatalf("%s %s in %s, but %s did not run: %v", r.Name, r.Outcome, last, ph, steps)
				}
				if ph == last {
					break
				}
			}
			if r.Outcome != execloop.Succeeded && last != "Post" {
				if _, ran := pos[r.Name+".Post"]; ran {
					t.Fatalf("%s failed in %s and its Post ran anyway: %v", r.Name, last, steps)
				}
			}
		}
		// Children never run before their parent's Post succeeded.
		outcome := map[string]execloop.Outcome{}
		for _, r := range res.Tasks {
			outcome[r.Name] = r.Outcome
		}
		for child, parent := range g.parents {
			at, ran := pos[child+".Pre"]
			if !ran {
				continue
			}
			if outcome[parent] != execloop.Succeeded || at < pos[parent+".Post"] {
				t.Fatalf("%s ran but its parent %s is %s (Post at %d, child at %d): %v",
					child, parent, outcome[parent], pos[parent+".Post"], at, steps)
			}
		}
		// The budget is never exceeded silently.
		failed := 0
		for _, r := range res.Tasks {
			if r.Outcome == execloop.Failed {
				failed++
			}
		}
		var fe *executor.FatalError
		isFatal := errors.As(err, &fe)
		if err != nil && !isFatal {
			t.Fatalf("RunOnce returned a non-fatal error %v", err)
		}
		if res.Errors > tolerate && !isFatal {
			t.Fatalf("%d errors spent with %d tolerated, and no FatalError", res.Errors, tolerate)
		}
		if !isFatal && res.Errors != failed {
			t.Fatalf("Errors = %d, but %d executions failed", res.Errors, failed)
		}
		// A FatalError ends the pass: the task it names is the last to run.
		if isFatal {
			lastTask := res.Tasks[len(res.Tasks)-1].Name
			if !strings.Contains(err.Error(), fmt.Sprintf("task %q", lastTask)) {
				t.Fatalf("FatalError %q does not name the last task %s", err, lastTask)
			}
			if i := slices.IndexFunc(steps, func(s string) bool { return strings.HasPrefix(s, lastTask+".") }); i < 0 {
				t.Fatalf("the last task %s left no trace", lastTask)
			}
			if !strings.HasPrefix(steps[len(steps)-1], lastTask+".") {
				t.Fatalf("something ran after the fatal task %s: %v", lastTask, steps)
			}
		}
		if got := strings.Count(strings.Join(steps, " "), ".Pre"); got != len(res.Tasks) {
			t.Fatalf("%d Pre phases ran but %d executions are reported", got, len(res.Tasks))
		}
		// On the helper goroutine (a context that can be done), the same
		// tree runs the same phases and ends the same way.
		ctx, cancel := context.WithCancel(background)
		defer cancel()
		h := &graph{data: data[1:], tr: &trace{}, parents: map[string]string{}}
		hres, herr := tolerant(tolerate).RunOnce(ctx, &passes{lists: [][]executor.Task{h.tasks(16, 0, "")}})
		if got, want := h.tr.String(), g.tr.String(); got != want {
			t.Fatalf("on the helper, phases ran\n%s\nwant\n%s", got, want)
		}
		if got, want := summary(hres, herr), summary(res, err); got != want {
			t.Fatalf("on the helper, the pass ended\n%s\nwant\n%s", got, want)
		}
		// So does a Run that keeps its own time limit, whose second pass
		// finds nothing left to do.
		o := execloop.Options{ErrorsToTolerate: tolerate, ExecutionTimeout: time.Hour}
		l := &graph{data: data[1:], tr: &trace{}, parents: map[string]string{}}
		lerr := executor.New(&o).Run(&passes{lists: [][]executor.Task{l.tasks(16, 0, "")}})
		if got, want := l.tr.String(), g.tr.String(); got != want {
			t.Fatalf("under Run's own time limit, phases ran\n%s\nwant\n%s", got, want)
		}
		if got, want := fmt.Sprint(lerr), fmt.Sprint(err); got != want {
			t.Fatalf("under Run's own time limit, the run ended with %s, want %s", got, want)
		}
	})
}

// summary is what a pass did, without the durations and the panics' stacks.
func summary(res executor.Result, err error) string {
	var b strings.Builder
	fmt.Fprintf(&b, "done=%v errors=%d err=%v\n", res.Done, res.Errors, err)
	for _, r := range res.Tasks {
		fmt.Fprintf(&b, "%s %s in %s: %v\n", r.Name, r.Outcome, r.Phase, r.Err)
	}
	return b.String()
}
