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
	"encoding/base64"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func secret(fields map[string]any) *unstructured.Unstructured {
	obj := map[string]any{"apiVersion": "v1", "kind": "Secret", "metadata": map[string]any{"name": "creds"}, "type": "Opaque"}
	for k, v := range fields {
		obj[k] = v
	}
	return &unstructured.Unstructured{Object: obj}
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// A Secret applied with stringData is compared by the data it should hold;
// its hash depends on whether the values match, never on the values.
func TestLiveHashOfASecret(t *testing.T) {
	hash := func(manifest, live *unstructured.Unstructured) string {
		t.Helper()
		h, err := liveHash(manifest, live)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	manifest := secret(map[string]any{"stringData": map[string]any{"password": "hunter2"}, "data": map[string]any{"user": b64("admin")}})
	applied := secret(map[string]any{"data": map[string]any{"password": b64("hunter2"), "user": b64("admin"), "theirs": b64("x")}})
	changed := secret(map[string]any{"data": map[string]any{"password": b64("changed"), "user": b64("admin"), "theirs": b64("x")}})
	removed := secret(map[string]any{"data": map[string]any{"user": b64("admin")}})
	theirsChanged := secret(map[string]any{"data": map[string]any{"password": b64("hunter2"), "user": b64("admin"), "theirs": b64("y")}})

	as := hash(manifest, applied)
	if hash(manifest, changed) == as {
		t.Error("a changed value of stringData's key gives the same hash: the drift goes unseen")
	}
	if hash(manifest, removed) == as {
		t.Error("a removed key of stringData gives the same hash: the drift goes unseen")
	}
	if hash(manifest, theirsChanged) != as {
		t.Error("a key the manifest does not set changed the hash: someone else's data is not drift")
	}

	other := secret(map[string]any{"stringData": map[string]any{"password": "another one"}, "data": map[string]any{"user": b64("root")}})
	otherApplied := secret(map[string]any{"data": map[string]any{"password": b64("another one"), "user": b64("root"), "theirs": b64("x")}})
	if hash(other, otherApplied) != as {
		t.Error("two Secrets with other values, each as applied, hash differently: the hash depends on the values")
	}
}

// asApplied tells the usual case, live values as the manifest set them,
// without a digest, and agrees with liveHash on it: as applied exactly when
// the projection hashes as the manifest does.
func TestAsApplied(t *testing.T) {
	obj := func(fields map[string]any) *unstructured.Unstructured {
		o := map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": "cm", "labels": map[string]any{"a": "1"}}}
		for k, v := range fields {
			o[k] = v
		}
		return &unstructured.Unstructured{Object: o}
	}
	manifest := obj(map[string]any{"data": map[string]any{"k": "v"}, "list": []any{"x", map[string]any{"n": int64(2)}}, "flag": true, "none": nil})
	cases := []struct {
		name string
		live *unstructured.Unstructured
		want bool
	}{
		{"as applied", obj(map[string]any{"data": map[string]any{"k": "v"}, "list": []any{"x", map[string]any{"n": int64(2)}}, "flag": true, "none": nil}), true},
		{"with fields of others and defaults", obj(map[string]any{"data": map[string]any{"k": "v", "theirs": "t"}, "list": []any{"x", map[string]any{"n": int64(2), "d": "x"}, "more"}, "flag": true, "none": nil, "status": map[string]any{}}), true},
		{"a number as a float", obj(map[string]any{"data": map[string]any{"k": "v"}, "list": []any{"x", map[string]any{"n": float64(2)}}, "flag": true, "none": nil}), true},
		{"a value changed", obj(map[string]any{"data": map[string]any{"k": "w"}, "list": []any{"x", map[string]any{"n": int64(2)}}, "flag": true, "none": nil}), false},
		{"a number changed", obj(map[string]any{"data": map[string]any{"k": "v"}, "list": []any{"x", map[string]any{"n": int64(3)}}, "flag": true, "none": nil}), false},
		{"a bool changed", obj(map[string]any{"data": map[string]any{"k": "v"}, "list": []any{"x", map[string]any{"n": int64(2)}}, "flag": false, "none": nil}), false},
		{"a key removed", obj(map[string]any{"data": map[string]any{}, "list": []any{"x", map[string]any{"n": int64(2)}}, "flag": true, "none": nil}), false},
		{"a list shortened", obj(map[string]any{"data": map[string]any{"k": "v"}, "list": []any{"x"}, "flag": true, "none": nil}), false},
		{"a map made a string", obj(map[string]any{"data": "k=v", "list": []any{"x", map[string]any{"n": int64(2)}}, "flag": true, "none": nil}), false},
		{"a null set", obj(map[string]any{"data": map[string]any{"k": "v"}, "list": []any{"x", map[string]any{"n": int64(2)}}, "flag": true, "none": "set"}), false},
	}
	want, err := hashJSON(manifest.Object)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		if got := asApplied(manifest, c.live); got != c.want {
			t.Errorf("%s: asApplied = %v, want %v", c.name, got, c.want)
		}
		h, err := liveHash(manifest, c.live)
		if err != nil {
			t.Fatal(err)
		}
		if (h == want) != c.want {
			t.Errorf("%s: liveHash says as applied %v, asApplied %v: the inventory would read one way and be written the other", c.name, h == want, c.want)
		}
	}
	if asApplied(manifest, nil) {
		t.Error("no live object is as applied")
	}
	s := secret(map[string]any{"data": map[string]any{"user": b64("admin")}})
	if asApplied(s, s) {
		t.Error("a Secret is as applied without its hash: its drift must be told by liveHash's view of its data")
	}
}
