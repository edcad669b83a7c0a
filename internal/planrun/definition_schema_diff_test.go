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
	"reflect"
	"testing"
)

// TestBreakingChanges: a change that can make a stored instance invalid,
// or lose what it stored, is named with its field's path; a change every
// stored instance survives is not.
func TestBreakingChanges(t *testing.T) {
	for _, tc := range []struct {
		name, old, new string
		want           []string
	}{
		// Breaking.
		{"a field removed",
			`{"type": "object", "properties": {"image": {"type": "string"}, "replicas": {"type": "integer"}}}`,
			`{"type": "object", "properties": {"image": {"type": "string"}}}`,
			[]string{"spec.replicas: removed"}},
		{"a field retyped",
			`{"type": "object", "properties": {"replicas": {"type": "integer"}}}`,
			`{"type": "object", "properties": {"replicas": {"type": "string"}}}`,
			[]string{"spec.replicas: type changed from integer to string"}},
		{"a new required field",
			`{"type": "object", "properties": {"image": {"type": "string"}}}`,
			`{"type": "object", "required": ["team"], "properties": {"image": {"type": "string"}, "team": {"type": "string"}}}`,
			[]string{"spec.team: new required field"}},
		{"required added on an existing field",
			`{"type": "object", "required": ["image"], "properties": {"image": {"type": "string"}, "replicas": {"type": "integer"}}}`,
			`{"type": "object", "required": ["image", "replicas"], "properties": {"image": {"type": "string"}, "replicas": {"type": "integer"}}}`,
			[]string{"spec.replicas: now required"}},
		{"an enum value removed",
			`{"type": "object", "properties": {"tier": {"type": "string", "enum": ["small", "medium", "large"]}}}`,
			`{"type": "object", "properties": {"tier": {"type": "string", "enum": ["small"]}}}`,
			[]string{`spec.tier: enum value "medium", "large" removed`}},
		{"an enum added where there was none",
			`{"type": "object", "properties": {"tier": {"type": "string"}}}`,
			`{"type": "object", "properties": {"tier": {"type": "string", "enum": ["small", "large"]}}}`,
			[]string{`spec.tier: enum added: "small", "large"`}},
		{"a minimum raised, and one added",
			`{"type": "object", "properties": {"replicas": {"type": "integer", "minimum": 1}, "ratio": {"type": "number"}}}`,
			`{"type": "object", "properties": {"replicas": {"type": "integer", "minimum": 2}, "ratio": {"type": "number", "minimum": 0.5}}}`,
			[]string{"spec.ratio: minimum 0.5 added", "spec.replicas: minimum raised from 1 to 2"}},
		{"a maximum lowered",
			`{"type": "object", "properties": {"replicas": {"type": "integer", "maximum": 20}}}`,
			`{"type": "object", "properties": {"replicas": {"type": "integer", "maximum": 10}}}`,
			[]string{"spec.replicas: maximum lowered from 20 to 10"}},
		{"bounds made exclusive at the same value",
			`{"type": "object", "properties": {"replicas": {"type": "integer", "minimum": 1, "maximum": 20}}}`,
			`{"type": "object", "properties": {"replicas": {"type": "integer", "minimum": 1, "exclusiveMinimum": true, "maximum": 20, "exclusiveMaximum": true}}}`,
			[]string{"spec.replicas: minimum 1 made exclusive", "spec.replicas: maximum 20 made exclusive"}},
		{"lengths and counts narrowed",
			`{"type": "object", "properties": {
				"name": {"type": "string", "minLength": 1, "maxLength": 63},
				"ports": {"type": "array", "items": {"type": "integer"}, "minItems": 1, "maxItems": 10},
				"env": {"type": "object", "additionalProperties": {"type": "string"}, "maxProperties": 8}}}`,
			`{"type": "object", "properties": {
				"name": {"type": "string", "minLength": 3, "maxLength": 20},
				"ports": {"type": "array", "items": {"type": "integer"}, "minItems": 2, "maxItems": 5, "uniqueItems": true},
				"env": {"type": "object", "additionalProperties": {"type": "string"}, "minProperties": 1, "maxProperties": 4}}}`,
			[]string{
				"spec.env: minProperties 1 added", "spec.env: maxProperties lowered from 8 to 4",
				"spec.name: minLength raised from 1 to 3", "spec.name: maxLength lowered from 63 to 20",
				"spec.ports: minItems raised from 1 to 2", "spec.ports: maxItems lowered from 10 to 5", "spec.ports: uniqueItems added",
			}},
		{"a pattern changed, and one added",
			`{"type": "object", "properties": {"image": {"type": "string", "pattern": "^[a-z]+$"}, "tag": {"type": "string"}}}`,
			`{"type": "object", "properties": {"image": {"type": "string", "pattern": "^[a-z]+:[0-9]+$"}, "tag": {"type": "string", "pattern": "^v"}}}`,
			[]string{`spec.image: pattern changed from "^[a-z]+$" to "^[a-z]+:[0-9]+$"`, `spec.tag: pattern "^v" added`}},
		{"a format changed",
			`{"type": "object", "properties": {"url": {"type": "string", "format": "uri"}}}`,
			`{"type": "object", "properties": {"url": {"type": "string", "format": "hostname"}}}`,
			[]string{`spec.url: format changed from "uri" to "hostname"`}},
		{"a multipleOf changed",
			`{"type": "object", "properties": {"size": {"type": "integer", "multipleOf": 2}}}`,
			`{"type": "object", "properties": {"size": {"type": "integer", "multipleOf": 4}}}`,
			[]string{"spec.size: multipleOf changed from 2 to 4"}},
		{"nullable removed",
			`{"type": "object", "properties": {"note": {"type": "string", "nullable": true}}}`,
			`{"type": "object", "properties": {"note": {"type": "string"}}}`,
			[]string{"spec.note: nullable removed"}},
		{"x-kubernetes-int-or-string removed",
			`{"type": "object", "properties": {"port": {"x-kubernetes-int-or-string": true}}}`,
			`{"type": "object", "properties": {"port": {}}}`,
			[]string{"spec.port: x-kubernetes-int-or-string removed"}},
		{"additionalProperties removed",
			`{"type": "object", "properties": {"env": {"type": "object", "additionalProperties": {"type": "string"}}}}`,
			`{"type": "object", "properties": {"env": {"type": "object"}}}`,
			[]string{"spec.env: additionalProperties removed"}},
		{"x-kubernetes-preserve-unknown-fields removed",
			`{"type": "object", "properties": {"extra": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}`,
			`{"type": "object", "properties": {"extra": {"type": "object"}}}`,
			[]string{"spec.extra: x-kubernetes-preserve-unknown-fields removed: the fields it kept are dropped"}},
		{"a validation rule added",
			`{"type": "object", "properties": {"replicas": {"type": "integer"}}}`,
			`{"type": "object", "properties": {"replicas": {"type": "integer", "x-kubernetes-validations": [{"rule": "self % 2 == 0"}]}}}`,
			[]string{`spec.replicas: validation rule "self % 2 == 0" added`}},
		{"a list made a set",
			`{"type": "object", "properties": {"ports": {"type": "array", "items": {"type": "integer"}}}}`,
			`{"type": "object", "properties": {"ports": {"type": "array", "items": {"type": "integer"}, "x-kubernetes-list-type": "set"}}}`,
			[]string{`spec.ports: x-kubernetes-list-type "set" added`}},
		{"a oneOf added",
			`{"type": "object", "properties": {"a": {"type": "string"}, "b": {"type": "string"}}}`,
			`{"type": "object", "oneOf": [{"required": ["a"]}, {"required": ["b"]}], "properties": {"a": {"type": "string"}, "b": {"type": "string"}}}`,
			[]string{"spec: allOf, anyOf, oneOf or not added or changed"}},
		{"changes at depth: in an object, in a list's items, in a map's values",
			`{"type": "object", "properties": {
				"db": {"type": "object", "properties": {"size": {"type": "string"}, "tier": {"type": "string"}}},
				"ports": {"type": "array", "items": {"type": "object", "properties": {"port": {"type": "integer"}}}},
				"env": {"type": "object", "additionalProperties": {"type": "string"}}}}`,
			`{"type": "object", "properties": {
				"db": {"type": "object", "properties": {"size": {"type": "string"}}},
				"ports": {"type": "array", "items": {"type": "object", "properties": {"port": {"type": "integer", "maximum": 65535}}}},
				"env": {"type": "object", "additionalProperties": {"type": "integer"}}}}`,
			[]string{
				"spec.db.tier: removed",
				"spec.env[*]: type changed from string to integer",
				"spec.ports[*].port: maximum 65535 added",
			}},

		// Compatible.
		{"the same schema",
			webAppSchema, webAppSchema, nil},
		{"a new optional field",
			`{"type": "object", "properties": {"image": {"type": "string"}}}`,
			`{"type": "object", "properties": {"image": {"type": "string"}, "team": {"type": "string"}}}`,
			nil},
		{"bounds relaxed or removed",
			`{"type": "object", "properties": {
				"replicas": {"type": "integer", "minimum": 1, "maximum": 20, "exclusiveMaximum": true},
				"name": {"type": "string", "minLength": 1, "maxLength": 20, "pattern": "^[a-z]+$", "format": "hostname"},
				"ports": {"type": "array", "items": {"type": "integer"}, "maxItems": 5, "uniqueItems": true}}}`,
			`{"type": "object", "properties": {
				"replicas": {"type": "integer", "minimum": 0, "maximum": 50},
				"name": {"type": "string", "maxLength": 63},
				"ports": {"type": "array", "items": {"type": "integer"}}}}`,
			nil},
		{"a new enum value",
			`{"type": "object", "properties": {"tier": {"type": "string", "enum": ["small", "large"]}}}`,
			`{"type": "object", "properties": {"tier": {"type": "string", "enum": ["small", "medium", "large"]}}}`,
			nil},
		{"a description or a default changed, required removed, nullable added",
			`{"type": "object", "required": ["image"], "properties": {"image": {"type": "string"}, "replicas": {"type": "integer", "default": 2, "description": "how many"}}}`,
			`{"type": "object", "properties": {"image": {"type": "string", "nullable": true}, "replicas": {"type": "integer", "default": 3, "description": "how many pods"}}}`,
			nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := BreakingChanges("spec", schemaOf(t, tc.old), schemaOf(t, tc.new))
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("want\n  %q\ngot\n  %q", tc.want, got)
			}
		})
	}
}
