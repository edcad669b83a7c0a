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

package main

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
)

// fakeAPI records the kinds applied, and refuses to apply kinds it does not
// serve yet, or at all.
type fakeAPI struct {
	applied   []string
	attempts  map[string]int
	notServed map[string]int   // kind: how many applies fail with no match for it (-1: every one)
	refused   map[string]error // kind: the error every apply of it meets
}

func (f *fakeAPI) apply(_ context.Context, _ client.WithWatch, obj runtime.ApplyConfiguration, _ ...client.ApplyOption) error {
	kind := obj.(interface{ GetKind() string }).GetKind()
	f.attempts[kind]++
	if err := f.refused[kind]; err != nil {
		return err
	}
	if n := f.notServed[kind]; n < 0 || f.attempts[kind] <= n {
		return &meta.NoKindMatchError{GroupKind: schema.GroupKind{Group: "platform.example.com", Kind: kind}}
	}
	f.applied = append(f.applied, kind)
	return nil
}

func TestApplySamples(t *testing.T) {
	servedPollInterval = 10 * time.Millisecond
	small := t.TempDir()
	for name, text := range map[string]string{
		"kustomization.yaml": "resources: [config.yaml, app.yaml]\n",
		"config.yaml":        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: default}\n",
		"app.yaml":           "apiVersion: platform.example.com/v1alpha1\nkind: WebApp\nmetadata: {name: a, namespace: default}\n",
	} {
		if err := os.WriteFile(filepath.Join(small, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}

	for _, tc := range []struct {
		name      string
		dir       string
		api       fakeAPI
		timeout   time.Duration
		wantErr   string
		check     func(t *testing.T, api *fakeAPI)
		wantTries map[string]int
	}{{
		name: "config/samples is applied in order, the WebApp once the API server serves its kind",
		dir:  filepath.Join("config", "samples"), api: fakeAPI{notServed: map[string]int{"WebApp": 3}},
		check: func(t *testing.T, api *fakeAPI) {
			def, app := slices.Index(api.applied, "PlanDefinition"), slices.Index(api.applied, "WebApp")
			if def < 0 || app < def {
				t.Errorf("applied %v: want the PlanDefinition, then its WebApp", api.applied)
			}
		},
		wantTries: map[string]int{"WebApp": 4, "PlanDefinition": 1},
	}, {
		name: "another error fails at once, naming the object and its file",
		dir:  small, api: fakeAPI{refused: map[string]error{"ConfigMap": apierrors.NewForbidden(schema.GroupResource{Resource: "configmaps"}, "c", nil)}},
		wantErr:   "applying ConfigMap c from " + filepath.Join(small, "config.yaml"),
		wantTries: map[string]int{"ConfigMap": 1, "WebApp": 0},
	}, {
		name: "a kind never served is waited for until the manager stops, which is no error",
		dir:  small, api: fakeAPI{notServed: map[string]int{"WebApp": -1}}, timeout: 200 * time.Millisecond,
		check: func(t *testing.T, api *fakeAPI) {
			if !slices.Equal(api.applied, []string{"ConfigMap"}) {
				t.Errorf("applied %v, want the ConfigMap alone", api.applied)
			}
			if api.attempts["WebApp"] < 2 {
				t.Errorf("the WebApp was tried %d times: want it tried again while waiting", api.attempts["WebApp"])
			}
		},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			api := &tc.api
			api.attempts = map[string]int{}
			c := fake.NewClientBuilder().WithInterceptorFuncs(interceptor.Funcs{Apply: api.apply}).Build()
			ctx := t.Context()
			if tc.timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tc.timeout)
				defer cancel()
			}
			err := applyResources(ctx, c, tc.dir, "test", logr.Discard())
			if tc.wantErr == "" && err != nil {
				t.Fatalf("applyResources: %v", err)
			}
			if tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("applyResources returned %v, want an error with %q", err, tc.wantErr)
			}
			for kind, n := range tc.wantTries {
				if api.attempts[kind] != n {
					t.Errorf("%s applied %d times, want %d", kind, api.attempts[kind], n)
				}
			}
			if tc.check != nil {
				tc.check(t, api)
			}
		})
	}
}
