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
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func TestPreviewMasksSecretValuesTellingChangedOnes(t *testing.T) {
	secret := func(data map[string]any) *unstructured.Unstructured {
		return &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Secret", "data": data}}
	}
	live := secret(map[string]any{"same": "c2FtZQ==", "rotated": "b2xk", "dropped": "eA=="})
	planned := secret(map[string]any{"same": "c2FtZQ==", "rotated": "bmV3", "added": "eQ=="})
	maskSecret(live, planned)
	want := map[string]map[string]any{
		"live":    {"same": masked, "rotated": "*** (before)", "dropped": masked},
		"planned": {"same": masked, "rotated": "*** (after)", "added": masked},
	}
	for name, obj := range map[string]*unstructured.Unstructured{"live": live, "planned": planned} {
		got, _, _ := unstructured.NestedMap(obj.Object, "data")
		if len(got) != len(want[name]) {
			t.Errorf("%s: %v, want %v", name, got, want[name])
		}
		for k, v := range want[name] {
			if got[k] != v {
				t.Errorf("%s: data.%s = %v, want %v", name, k, got[k], v)
			}
		}
	}

	applied := secret(map[string]any{"password": "aHVudGVyMg=="})
	applied.SetAnnotations(map[string]string{lastApplied: `{"data":{"password":"aHVudGVyMg=="}}`, "kept": "yes"})
	maskSecret(applied, nil)
	if got := applied.GetAnnotations(); got[lastApplied] != "" || got["kept"] != "yes" {
		t.Errorf("annotations of a Secret in a preview: %v; want kubectl's last applied object gone, the others kept", got)
	}

	created := secret(map[string]any{"password": "aHVudGVyMg=="})
	maskSecret(nil, created)
	if got, _, _ := unstructured.NestedString(created.Object, "data", "password"); got != masked {
		t.Errorf("a new Secret's value shows: %q", got)
	}
	cm := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "data": map[string]any{"a": "b"}}}
	maskSecret(cm, cm.DeepCopy())
	if got, _, _ := unstructured.NestedString(cm.Object, "data", "a"); got != "b" {
		t.Errorf("a ConfigMap's value is masked: %q", got)
	}
}
