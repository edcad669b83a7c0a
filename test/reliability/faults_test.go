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

package reliability

import (
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	execloopv1alpha1 "github.com/execloop/execloop/api/v1alpha1"
)

// faults injects API faults into every request of a manager: a 409 on the
// first status write of every Plan, 5% of writes failing with a 500, 503
// or 429, 2% of writes timing out after the server applied them, and every
// watch cut after one to four seconds.
type faults struct {
	mu        sync.Mutex
	rng       *rand.Rand
	conflicts map[string]bool // status paths that had their 409
	counts    map[string]int
	requests  int
}

func newFaults() *faults {
	return &faults{rng: rand.New(rand.NewPCG(1, 2)), conflicts: map[string]bool{}, counts: map[string]int{}}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }

// injectedTimeout is what a client sees of a request that timed out.
type injectedTimeout struct{}

func (injectedTimeout) Error() string {
	return "injected: timeout awaiting the response (the server applied the request)"
}
func (injectedTimeout) Timeout() bool   { return true }
func (injectedTimeout) Temporary() bool { return true }

func (f *faults) wrap(next http.RoundTripper) http.RoundTripper {
	return roundTripFunc(func(req *http.Request) (*http.Response, error) {
		write := req.Method != http.MethodGet && req.Method != http.MethodHead
		watch := req.Method == http.MethodGet && req.URL.Query().Get("watch") == "true"
		f.mu.Lock()
		f.requests++
		var fault string
		switch {
		case watch:
			fault = "watch cut"
		case req.Method == http.MethodPatch && strings.Contains(req.URL.Path, "/plans/") && strings.HasSuffix(req.URL.Path, "/status") && !f.conflicts[req.URL.Path]:
			f.conflicts[req.URL.Path] = true
			fault = "409 on the first status write"
		case write:
			switch r := f.rng.Float64(); {
			case r < 0.05:
				fault = []string{"500", "503", "429"}[f.rng.IntN(3)]
			case r < 0.07:
				fault = "timeout after the server applied"
			}
		}
		after := time.Duration(1000+f.rng.IntN(3000)) * time.Millisecond
		if fault != "" {
			f.counts[fault]++
		}
		f.mu.Unlock()

		switch fault {
		case "watch cut":
			resp, err := next.RoundTrip(req)
			if err == nil {
				body := resp.Body
				time.AfterFunc(after, func() { _ = body.Close() })
			}
			return resp, err
		case "409 on the first status write":
			return errorAnswer(req, http.StatusConflict, "Conflict", "injected: the object has been modified"), nil
		case "500":
			return errorAnswer(req, http.StatusInternalServerError, "InternalError", "injected: internal error"), nil
		case "503":
			return errorAnswer(req, http.StatusServiceUnavailable, "ServiceUnavailable", "injected: unavailable"), nil
		case "429":
			return errorAnswer(req, http.StatusTooManyRequests, "TooManyRequests", "injected: too many requests"), nil
		case "timeout after the server applied":
			resp, err := next.RoundTrip(req)
			if err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
			}
			return nil, injectedTimeout{}
		}
		return next.RoundTrip(req)
	})
}

// errorAnswer is an API server's error answer.
func errorAnswer(req *http.Request, code int, reason, message string) *http.Response {
	body := fmt.Sprintf(`{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":%q,"reason":%q,"code":%d}`, message, reason, code)
	return &http.Response{
		StatusCode: code, Status: fmt.Sprintf("%d %s", code, http.StatusText(code)),
		Header:  http.Header{"Content-Type": []string{"application/json"}},
		Body:    io.NopCloser(strings.NewReader(body)),
		Request: req, ProtoMajor: 1, ProtoMinor: 1,
	}
}

// summary says which faults were injected, how many in all, and among how
// many requests. Read under the lock: a stopped manager's background work
// (an event broadcaster's flush, say) may still send a request.
func (f *faults) summary() (injected string, total, requests int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	keys := make([]string, 0, len(f.counts))
	for k, v := range f.counts {
		keys = append(keys, k)
		total += v
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s: %d", k, f.counts[k])
	}
	return strings.Join(parts, ", "), total, f.requests
}

// TestAPIFaults converges 200 plans through injected API faults: every
// plan converges, every object is created exactly once, and no injected
// fault that a retry survived shows in a plan's error count.
func TestAPIFaults(t *testing.T) {
	const plans = 200
	ns := newNamespace(t, "faults")
	f := newFaults()
	m := startManager(t, managerOptions{namespaces: []string{ns}, wrap: f.wrap})
	start := time.Now()
	var all []*execloopv1alpha1.Plan
	for i := range plans {
		all = append(all, chain(ns, fmt.Sprintf("p-%03d", i)))
	}
	createAll(t, all)
	allReady(t, ns, plans, 5*time.Minute)
	took := time.Since(start)
	m.stop()

	errorsCounted, stalled := 0, 0
	for _, p := range plansOf(t, ns) {
		errorsCounted += int(p.Status.Errors)
		if p.Status.IsStalled(p.Generation) {
			stalled++
		}
		for _, task := range p.Status.Tasks {
			if task.Attempts != 1 {
				t.Errorf("plan %s task %s ran %d attempts to success: an injected fault counted as a task failure", p.Name, task.Name, task.Attempts)
			}
		}
	}
	created := creations(auditedConfigMaps(t, ns))
	twice, missing := createdTwiceOrNever(created, all)
	deletes := 0
	for _, e := range auditedConfigMaps(t, ns) {
		if e.Verb == "delete" {
			deletes++
		}
	}
	injected, total, requests := f.summary()
	t.Logf("%d plans converged in %s through %d injected faults (%s) among %d requests", plans, took.Round(time.Millisecond), total, injected, requests)
	if errorsCounted != 0 || stalled != 0 || twice != 0 || missing != 0 || deletes != 0 {
		t.Errorf("errors counted %d, stalled %d, objects created twice %d, never created %d, deleted %d: all must be 0",
			errorsCounted, stalled, twice, missing, deletes)
	}
	section := "1. API faults"
	figures.add(section, "`go test ./test/reliability -run TestAPIFaults`: %d Plans of three chained ConfigMaps, through a transport that injects faults into every request of the manager (status writes, applies, reads, watches, events).", plans)
	figures.add(section, "")
	figures.add(section, "| figure | value |")
	figures.add(section, "|---|---|")
	figures.add(section, "| requests made by the manager | %d |", requests)
	figures.add(section, "| faults injected | %d (%s) |", total, injected)
	figures.add(section, "| plans Ready | %d of %d, in %s |", plans, plans, took.Round(time.Second))
	figures.add(section, "| objects created more than once (audit log: 201 answers per object) | **%d** |", twice)
	figures.add(section, "| objects never created | **%d** |", missing)
	figures.add(section, "| errors counted in the plans' status | **%d** |", errorsCounted)
	figures.add(section, "| plans Stalled | **%d** |", stalled)
	figures.add(section, "")
	figures.add(section, "Which API faults count against a plan's error budget (internal/planrun/retry.go): a task's reads, server-side applies and deletes are retried within the task, up to 5 times with a doubling backoff from 50 ms, after a 429, 500, 502, 503 or 504, a request that got no answer within 30 s, or a broken connection; only when every try failed does the task fail and spend an error. Any other failure (403, 422, a conflict a forced apply does not resolve) is the task's error at once. Status writes are not tasks: execloop/reconciler retries them after a conflict (on a fresh copy of the object) or a transient error, and they never count.")
}
