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
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"maps"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	execloopv1alpha1 "github.com/execloop/execloop/api/v1alpha1"
)

// hashJSON is a short digest of v's JSON form.
func hashJSON(v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:12]), nil
}

// projection returns the values of live at the paths that manifest sets:
// what the plan's apply decides. Values someone else changes there are
// drift; fields the manifest does not set (defaults, status, other
// managers' fields) are left out. Lists are compared element by element up
// to the manifest's length.
func projection(manifest, live any) any {
	switch m := manifest.(type) {
	case map[string]any:
		l, ok := live.(map[string]any)
		if !ok {
			return live
		}
		out := make(map[string]any, len(m))
		for k, v := range m {
			lv, present := l[k]
			if !present {
				out[k] = absent{}
				continue
			}
			out[k] = projection(v, lv)
		}
		return out
	case []any:
		l, ok := live.([]any)
		if !ok {
			return live
		}
		out := make([]any, len(m))
		for i := range m {
			if i >= len(l) {
				out[i] = absent{}
				continue
			}
			out[i] = projection(m[i], l[i])
		}
		return out
	default:
		return live
	}
}

// absent marks a path the manifest sets and the live object lacks.
type absent struct{}

// MarshalJSON implements json.Marshaler.
func (absent) MarshalJSON() ([]byte, error) { return []byte(`"\u0000absent"`), nil }

// liveHash digests the projection of live onto manifest: what a pass
// compares with the inventory's hash to notice drift.
//
// A Secret is compared by the values its manifest gives it, whether in data
// or in stringData (which the API server folds into data, so it is never
// read back): the projection holds, per key, whether the live value is the
// one applied, and never a value, so the inventory's hash says nothing of
// the Secret's content.
func liveHash(manifest, live *unstructured.Unstructured) (string, error) {
	if live == nil {
		return "", errors.New("no live object")
	}
	m, l := manifest.Object, live.Object
	if manifest.GroupVersionKind().GroupKind() == (schema.GroupKind{Kind: "Secret"}) {
		m, l = secretView(m, l)
	}
	return hashJSON(projection(m, l))
}

// asApplied reports whether live holds, at every path manifest sets, the
// manifest's value: that liveHash(manifest, live) would be the manifest's
// own hash, told without encoding and digesting the projection, and more
// strictly (a path live lacks never matches). A Secret, whose hash is of a
// view of its data, is never as applied here: its drift is told by hash.
func asApplied(manifest, live *unstructured.Unstructured) bool {
	if live == nil || manifest.GroupVersionKind().GroupKind() == (schema.GroupKind{Kind: "Secret"}) {
		return false
	}
	return sameAt(manifest.Object, live.Object)
}

// sameAt reports whether live's value equals the manifest's value m at every
// path m sets, as projection compares them: maps by the manifest's keys,
// lists element by element up to the manifest's length, anything else by
// its JSON form.
func sameAt(m, live any) bool {
	switch m := m.(type) {
	case map[string]any:
		l, ok := live.(map[string]any)
		if !ok {
			return false
		}
		for k, v := range m {
			lv, present := l[k]
			if !present || !sameAt(v, lv) {
				return false
			}
		}
		return true
	case []any:
		l, ok := live.([]any)
		if !ok || len(l) < len(m) {
			return false
		}
		for i := range m {
			if !sameAt(m[i], l[i]) {
				return false
			}
		}
		return true
	case string:
		s, ok := live.(string)
		return ok && s == m
	case bool:
		b, ok := live.(bool)
		return ok && b == m
	case nil:
		return live == nil
	default: // numbers: an int64 and a float64 of one value encode alike
		a, errA := json.Marshal(m)
		b, errB := json.Marshal(live)
		return errA == nil && errB == nil && bytes.Equal(a, b)
	}
}

// secretView returns a Secret's manifest and live object with data (and the
// manifest's stringData) replaced by, per key the manifest sets, true in
// the manifest and, in the live object, whether its value is the manifest's.
func secretView(manifest, live map[string]any) (map[string]any, map[string]any) {
	want := map[string]string{}
	if data, ok := manifest["data"].(map[string]any); ok {
		for k, v := range data {
			s, _ := v.(string)
			want[k] = s
		}
	}
	if data, ok := manifest["stringData"].(map[string]any); ok {
		for k, v := range data { // stringData wins, as on the API server
			s, _ := v.(string)
			want[k] = base64.StdEncoding.EncodeToString([]byte(s))
		}
	}
	m, l := maps.Clone(manifest), maps.Clone(live)
	delete(m, "stringData")
	delete(m, "data")
	delete(l, "data")
	if len(want) == 0 {
		return m, l
	}
	has, _ := live["data"].(map[string]any)
	mData, lData := make(map[string]any, len(want)), make(map[string]any, len(want))
	for k, v := range want {
		mData[k] = true
		if lv, ok := has[k]; ok {
			lData[k] = lv == v
		}
	}
	m["data"], l["data"] = mData, lData
	return m, l
}

// drifted reports whether someone else changed the values of live that t's
// manifest sets since the plan applied it, as its inventory entry (of the
// same manifest) recorded them: as applied when liveHash is empty, else
// by that hash.
func drifted(t *taskSpec, inv *execloopv1alpha1.AppliedObject, live *unstructured.Unstructured) bool {
	if inv.LiveHash == "" {
		return !asApplied(t.manifest, live)
	}
	h, err := liveHash(t.manifest, live)
	return err != nil || h != inv.LiveHash
}
