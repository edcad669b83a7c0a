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

package transient

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func TestError(t *testing.T) {
	cm := schema.GroupResource{Resource: "configmaps"}
	cases := map[string]struct {
		err  error
		want bool
	}{
		"nil":                         {nil, false},
		"429":                         {apierrors.NewTooManyRequests("slow down", 1), true},
		"500":                         {apierrors.NewInternalError(errors.New("boom")), true},
		"503":                         {apierrors.NewServiceUnavailable("starting"), true},
		"server timeout":              {apierrors.NewServerTimeout(cm, "get", 1), true},
		"504 timeout":                 {apierrors.NewTimeoutError("slow", 1), true},
		"502, wrapped":                {fmt.Errorf("task x: %w", apierrors.NewGenericServerResponse(502, "get", cm, "web", "", 0, false)), true},
		"a connection reset":          {&url.Error{Op: "Get", URL: "https://api", Err: errors.New("read: connection reset by peer")}, true},
		"no answer in time":           {&net.OpError{Op: "dial", Err: context.DeadlineExceeded}, true},
		"a cut answer":                {io.ErrUnexpectedEOF, true},
		"403":                         {apierrors.NewForbidden(cm, "web", errors.New("no RBAC")), false},
		"404":                         {apierrors.NewNotFound(cm, "web"), false},
		"409":                         {apierrors.NewConflict(cm, "web", errors.New("changed")), false},
		"422":                         {apierrors.NewInvalid(schema.GroupKind{Kind: "ConfigMap"}, "web", nil), false},
		"an error of the task itself": {errors.New("readyWhen returned a string"), false},
	}
	for name, c := range cases {
		if got := Error(c.err); got != c.want {
			t.Errorf("%s: Error(%v) = %v, want %v", name, c.err, got, c.want)
		}
	}
}

func TestStatus(t *testing.T) {
	for code, want := range map[int]bool{200: false, 403: false, 404: false, 409: false, 422: false, 429: true, 500: true, 502: true, 503: true, 504: true} {
		if got := Status(code); got != want {
			t.Errorf("Status(%d) = %v, want %v", code, got, want)
		}
	}
}
