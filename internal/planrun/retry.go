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

package planrun

import (
	"context"
	"io"
	"net/http"
	"strings"
	"time"

	apitransient "github.com/execloop/execloop/internal/transient"
)

// Which API faults count against a Plan's error budget.
//
// A task's requests (reads, server-side applies, deletes) that fail in a way
// that says "try again" are retried within the task, and count against the
// budget only when every retry failed too:
//
//   - 429 Too Many Requests, 500, 502, 503 and 504 responses;
//   - a request that got no answer in requestTimeout, or whose connection
//     broke (the server may have done the work: the requests retried are
//     those that are safe to repeat, and a repeated apply or delete is the
//     same apply or delete).
//
// Every other failure is the task's error at once and spends one error of
// the budget: a denied request (403, the ServiceAccount lacks RBAC), an
// invalid object (422), a conflict no force resolves, a deadline of the
// task's own. The Plan's status writes are retried by execloop/reconciler
// (conflicts and transient errors) and never count: they are not tasks.
const (
	retryAttempts  = 5
	retryBackoff   = 50 * time.Millisecond
	requestTimeout = 30 * time.Second
)

// retryTransient wraps a transport so that requests that are safe to repeat
// are retried after a transient failure, and so that no request but a watch
// waits for an answer longer than requestTimeout.
func retryTransient(next http.RoundTripper) http.RoundTripper {
	return &retryTransport{next: next}
}

type retryTransport struct{ next http.RoundTripper }

func (t *retryTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if isWatch(req) {
		return t.next.RoundTrip(req)
	}
	repeatable := isRepeatable(req)
	for attempt := 1; ; attempt++ {
		ctx, cancel := context.WithTimeout(req.Context(), requestTimeout)
		try := req.Clone(ctx)
		if attempt > 1 && req.GetBody != nil {
			body, err := req.GetBody()
			if err != nil {
				cancel()
				return nil, err
			}
			try.Body = body
		}
		resp, err := t.next.RoundTrip(try)
		if !repeatable || attempt == retryAttempts || req.Context().Err() != nil || !transient(resp, err) {
			if resp != nil {
				resp.Body = &cancelOnClose{ReadCloser: resp.Body, cancel: cancel}
			} else {
				cancel()
			}
			return resp, err
		}
		if resp != nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
		}
		cancel()
		select {
		case <-time.After(retryBackoff << (attempt - 1)):
		case <-req.Context().Done():
			return nil, req.Context().Err()
		}
	}
}

// cancelOnClose ends a request's context once its answer has been read.
type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (c *cancelOnClose) Close() error {
	err := c.ReadCloser.Close()
	c.cancel()
	return err
}

func isWatch(req *http.Request) bool {
	return req.Method == http.MethodGet && req.URL.Query().Get("watch") == "true"
}

// isRepeatable reports whether doing the request twice is the same as doing
// it once: reads, deletes, and server-side applies. Creates and other
// patches are not repeated.
func isRepeatable(req *http.Request) bool {
	switch req.Method {
	case http.MethodGet, http.MethodHead, http.MethodDelete:
		return true
	case http.MethodPatch:
		return strings.HasPrefix(req.Header.Get("Content-Type"), "application/apply-patch")
	}
	return false
}

// transient reports a failure that another try may not meet.
func transient(resp *http.Response, err error) bool {
	if err != nil {
		return apitransient.Error(err)
	}
	return apitransient.Status(resp.StatusCode)
}
