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
	"errors"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

func TestClaim(t *testing.T) {
	live := &unstructured.Unstructured{}
	live.SetUID("live-uid")
	live.SetResourceVersion("42")
	for _, tc := range []struct {
		name     string
		live     *unstructured.Unstructured
		adopting bool
		uid, rv  string
	}{
		{name: "an object found absent is claimed at a resourceVersion no object has", rv: absentResourceVersion},
		{name: "an object adopted is claimed at the resourceVersion it was read at", live: live, adopting: true, rv: "42"},
		{name: "an object the plan holds is claimed by its UID", live: live, uid: "live-uid"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			applied := &unstructured.Unstructured{Object: map[string]any{"metadata": map[string]any{"name": "x"}}}
			claim(applied, tc.live, tc.adopting)
			if string(applied.GetUID()) != tc.uid || applied.GetResourceVersion() != tc.rv {
				t.Errorf("claimed uid %q, resourceVersion %q; want %q, %q", applied.GetUID(), applied.GetResourceVersion(), tc.uid, tc.rv)
			}
		})
	}
}

func TestClaimLost(t *testing.T) {
	gk := schema.GroupKind{Kind: "ConfigMap"}
	for _, tc := range []struct {
		name string
		err  error
		lost bool
	}{
		{name: "a UID that differs, refused as immutable, is a lost claim",
			err: apierrors.NewInvalid(gk, "x", field.ErrorList{field.Invalid(field.NewPath("metadata", "uid"), "plan-uid", "field is immutable")}), lost: true},
		{name: "a resourceVersion that differs, a conflict, is a lost claim",
			err: apierrors.NewConflict(schema.GroupResource{Resource: "configmaps"}, "x", errors.New("the object has been modified")), lost: true},
		{name: "another immutable field is not",
			err: apierrors.NewInvalid(gk, "x", field.ErrorList{field.Invalid(field.NewPath("spec", "selector"), "", "field is immutable")})},
		{name: "a refusal for another reason is not", err: apierrors.NewForbidden(schema.GroupResource{Resource: "configmaps"}, "x", errors.New("no"))},
		{name: "success is not"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := claimLost(tc.err); got != tc.lost {
				t.Errorf("claimLost(%v) = %v, want %v", tc.err, got, tc.lost)
			}
		})
	}
}
