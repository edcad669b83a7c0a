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
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func TestPreviewMasksSecretValuesTellingChangedOnes(t *testing.T) {
	secret := func(data map[string]any) *unstructured.Unstructured {
		return &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Secret", "data": data}}
	}
	live := secret(map[string]any{"same": "c2FtZQ==", "rotated": "b2xk", "dropped": "eA=="})
	planned := secret(map[string]any{"same": "c2FtZQ==", "rotated": "bmV3", "added": "eQ=="})
	maskFields(live, planned, secretPaths(live, planned))
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
	maskFields(applied, nil, secretPaths(applied, nil))
	if got := applied.GetAnnotations(); got[lastApplied] != "" || got["kept"] != "yes" {
		t.Errorf("annotations of a Secret in a preview: %v; want kubectl's last applied object gone, the others kept", got)
	}

	created := secret(map[string]any{"password": "aHVudGVyMg=="})
	maskFields(nil, created, secretPaths(nil, created))
	if got, _, _ := unstructured.NestedString(created.Object, "data", "password"); got != masked {
		t.Errorf("a new Secret's value shows: %q", got)
	}
	cm := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "data": map[string]any{"a": "b"}}}
	cmPlanned := cm.DeepCopy()
	maskFields(cm, cmPlanned, secretPaths(cm, cmPlanned))
	if got, _, _ := unstructured.NestedString(cm.Object, "data", "a"); got != "b" {
		t.Errorf("a ConfigMap's value is masked: %q", got)
	}
}

func TestPreviewMasksFieldsComputedFromSecretsOnBothSides(t *testing.T) {
	configMap := func(dsn string, env []any) *unstructured.Unstructured {
		u := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "ConfigMap",
			"data": map[string]any{"dsn": dsn, "color": "blue"}, "env": env}}
		u.SetAnnotations(map[string]string{lastApplied: `{"data":{"dsn":"` + dsn + `"}}`})
		return u
	}
	paths := [][]any{{"data", "dsn"}, {"env", 1, "value"}, {"env", 5, "value"}}
	tests := []struct {
		name                        string
		live, planned               *unstructured.Unstructured
		wantLive, wantPlanned       string // data.dsn
		wantLiveEnv, wantPlannedEnv any    // env[1].value
	}{
		{
			name:     "a changed value shows as changed, masked on both sides",
			live:     configMap("postgres://app:old-pass@db/app", []any{map[string]any{"value": "x"}, map[string]any{"value": "old"}}),
			planned:  configMap("postgres://app:new-pass@db/app", []any{map[string]any{"value": "x"}, map[string]any{"value": "new"}}),
			wantLive: "*** (before)", wantPlanned: "*** (after)",
			wantLiveEnv: "*** (before)", wantPlannedEnv: "*** (after)",
		},
		{
			name:     "an unchanged value is masked alike on both sides",
			live:     configMap("postgres://app:pass@db/app", []any{map[string]any{"value": "same"}}),
			planned:  configMap("postgres://app:pass@db/app", []any{map[string]any{"value": "x"}, map[string]any{"value": "same"}}),
			wantLive: masked, wantPlanned: masked,
			wantLiveEnv: nil, wantPlannedEnv: masked,
		},
		{
			name:     "a new object is masked",
			planned:  configMap("postgres://app:pass@db/app", nil),
			wantLive: "", wantPlanned: masked,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			maskFields(tt.live, tt.planned, paths)
			for _, side := range []struct {
				obj       *unstructured.Unstructured
				dsn       string
				env       any
				whichSide string
			}{{tt.live, tt.wantLive, tt.wantLiveEnv, "live"}, {tt.planned, tt.wantPlanned, tt.wantPlannedEnv, "planned"}} {
				if side.obj == nil {
					continue
				}
				if got, _, _ := unstructured.NestedString(side.obj.Object, "data", "dsn"); got != side.dsn {
					t.Errorf("%s data.dsn = %q, want %q", side.whichSide, got, side.dsn)
				}
				if got, _ := valueAt(side.obj.Object, []any{"env", 1, "value"}); got != side.env {
					t.Errorf("%s env[1].value = %v, want %v", side.whichSide, got, side.env)
				}
				if got, _, _ := unstructured.NestedString(side.obj.Object, "data", "color"); got != "blue" {
					t.Errorf("%s data.color = %q: a field not computed from a Secret is masked", side.whichSide, got)
				}
				if _, ok := side.obj.GetAnnotations()[lastApplied]; ok {
					t.Errorf("%s keeps kubectl's last applied object, which holds the value", side.whichSide)
				}
			}
		})
	}
}
