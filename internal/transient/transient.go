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

// Package transient tells a failed API request that another try may not
// meet (throttling, a server error, a timeout, a broken connection) from
// one that another try would meet again (a denial, an invalid object, a
// conflict, a missing object). It is the one classifier of both the Plan
// controller's request retries and the reconciler's status writes.
package transient

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// Status reports whether an HTTP status code asks to try again: 429 Too
// Many Requests, 500, 502, 503 and 504.
func Status(code int) bool {
	switch code {
	case http.StatusTooManyRequests, http.StatusInternalServerError, http.StatusBadGateway,
		http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// Error reports whether a failed request may succeed when made again: an
// API error with a status code Status accepts (or the reason of one:
// throttled, a server or gateway timeout, an unexpected server answer), no
// answer in time, or a connection that broke.
func Error(err error) bool {
	if err == nil {
		return false
	}
	var status apierrors.APIStatus
	if errors.As(err, &status) {
		return Status(int(status.Status().Code)) || apierrors.IsTooManyRequests(err) || apierrors.IsServerTimeout(err) ||
			apierrors.IsTimeout(err) || apierrors.IsUnexpectedServerError(err) || apierrors.IsInternalError(err) ||
			apierrors.IsServiceUnavailable(err)
	}
	if _, ok := errors.AsType[net.Error](err); ok {
		return true
	}
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) ||
		strings.Contains(err.Error(), "connection reset")
}
