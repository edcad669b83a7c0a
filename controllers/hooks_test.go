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

package controllers

import (
	"net/http"
	"strings"
	"sync"
	"time"

	"k8s.io/client-go/rest"
)

// applyHooks runs, before the suite's Plan controller sends an apply (a
// PATCH), what a spec registered for the request's namespace: a delay, so
// that Plans racing for one object all read it before any applies it, or
// a write made by someone else in between.
var applyHooks = &hooks{byNamespace: map[string]func(path string){}}

type hooks struct {
	mu          sync.Mutex
	byNamespace map[string]func(path string)
}

// on runs hook before every apply of the Plans into namespace ns, with
// the request's path, until the spec ends.
func (h *hooks) on(ns string, hook func(path string)) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.byNamespace[ns] = hook
}

// off removes the hook of ns.
func (h *hooks) off(ns string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.byNamespace, ns)
}

// delay makes every apply into ns wait d first.
func (h *hooks) delay(ns string, d time.Duration) {
	h.on(ns, func(string) { time.Sleep(d) })
}

// wrap returns a copy of c whose requests run the hooks.
func (h *hooks) wrap(c *rest.Config) *rest.Config {
	c = rest.CopyConfig(c)
	c.Wrap(func(next http.RoundTripper) http.RoundTripper {
		return roundTripper(func(req *http.Request) (*http.Response, error) {
			if req.Method == http.MethodPatch {
				if hook := h.hookFor(req.URL.Path); hook != nil {
					hook(req.URL.Path)
				}
			}
			return next.RoundTrip(req)
		})
	})
	return c
}

func (h *hooks) hookFor(path string) func(string) {
	_, rest, ok := strings.Cut(path, "/namespaces/")
	if !ok {
		return nil
	}
	ns, _, _ := strings.Cut(rest, "/")
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.byNamespace[ns]
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }
