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
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/utils/ptr"
)

// BreakingChanges compares two schemas of a PlanDefinition's instances'
// spec, the one its CRD serves (from) and the one it now declares (to), and
// returns the changes that can make an instance the API server accepted
// under from invalid under to, or lose what it stored: one sentence each,
// starting with the field's path under path (such as "spec"), in the order
// of the schema (properties by name). None is nil.
//
// Breaking: a field removed; a type changed; a new required field, or
// required added on a field; an enum added, or a value removed from one;
// a bound narrowed (minimum or maximum, their exclusive flags, minLength,
// maxLength, minItems, maxItems, minProperties, maxProperties, multipleOf,
// uniqueItems); a pattern or format added or changed; nullable,
// x-kubernetes-int-or-string, additionalProperties or
// x-kubernetes-preserve-unknown-fields removed; a validation rule
// (x-kubernetes-validations), a list type or its keys, or an allOf, anyOf,
// oneOf or not added or changed. Everything else is compatible: a new optional
// field, a relaxed or removed bound, a new enum value, a removed pattern or
// format, a changed description or default. Properties, items and
// additionalProperties are compared field by field, at any depth.
func BreakingChanges(path string, from, to *apiextensionsv1.JSONSchemaProps) []string {
	var d schemaDiff
	d.compare(path, from, to)
	return d.changes
}

// schemaDiff collects the breaking changes of a comparison.
type schemaDiff struct{ changes []string }

func (d *schemaDiff) add(path, format string, args ...any) {
	d.changes = append(d.changes, path+": "+fmt.Sprintf(format, args...))
}

// compare compares the schemas of one field: its type, then what it
// allows, then its fields.
func (d *schemaDiff) compare(path string, o, n *apiextensionsv1.JSONSchemaProps) {
	if o.Type != n.Type {
		d.add(path, "type changed from %s to %s", typeName(o.Type), typeName(n.Type))
		return
	}
	d.compareValues(path, o, n)
	d.compareFields(path, o, n)
}

// compareValues compares what a field's value may be.
func (d *schemaDiff) compareValues(path string, o, n *apiextensionsv1.JSONSchemaProps) {
	if o.XIntOrString && !n.XIntOrString {
		d.add(path, "x-kubernetes-int-or-string removed")
	}
	if o.Nullable && !n.Nullable {
		d.add(path, "nullable removed")
	}
	d.compareStrings(path, "format", o.Format, n.Format)
	d.compareStrings(path, "pattern", o.Pattern, n.Pattern)
	d.compareEnum(path, o.Enum, n.Enum)
	d.compareBound(path, "minimum", "raised", o.Minimum, o.ExclusiveMinimum, n.Minimum, n.ExclusiveMinimum, func(a, b float64) bool { return a > b })
	d.compareBound(path, "maximum", "lowered", o.Maximum, o.ExclusiveMaximum, n.Maximum, n.ExclusiveMaximum, func(a, b float64) bool { return a < b })
	if n.MultipleOf != nil && (o.MultipleOf == nil || *o.MultipleOf != *n.MultipleOf) {
		d.add(path, "multipleOf %s", changedFrom(o.MultipleOf, *n.MultipleOf))
	}
	d.compareCount(path, "minLength", "raised", o.MinLength, n.MinLength, 1)
	d.compareCount(path, "maxLength", "lowered", o.MaxLength, n.MaxLength, -1)
	d.compareCount(path, "minItems", "raised", o.MinItems, n.MinItems, 1)
	d.compareCount(path, "maxItems", "lowered", o.MaxItems, n.MaxItems, -1)
	d.compareCount(path, "minProperties", "raised", o.MinProperties, n.MinProperties, 1)
	d.compareCount(path, "maxProperties", "lowered", o.MaxProperties, n.MaxProperties, -1)
	if n.UniqueItems && !o.UniqueItems {
		d.add(path, "uniqueItems added")
	}
	d.compareStrings(path, "x-kubernetes-list-type", ptr.Deref(o.XListType, ""), ptr.Deref(n.XListType, ""))
	if !slices.Equal(o.XListMapKeys, n.XListMapKeys) && len(n.XListMapKeys) > 0 {
		d.add(path, "x-kubernetes-list-map-keys changed from %v to %v", o.XListMapKeys, n.XListMapKeys)
	}
	for _, rule := range n.XValidations {
		if !slices.ContainsFunc(o.XValidations, func(r apiextensionsv1.ValidationRule) bool { return r.Rule == rule.Rule }) {
			d.add(path, "validation rule %q added", rule.Rule)
		}
	}
	if j := junctors(n); j != "" && j != junctors(o) {
		d.add(path, "allOf, anyOf, oneOf or not added or changed")
	}
	if ptr.Deref(o.XPreserveUnknownFields, false) && !ptr.Deref(n.XPreserveUnknownFields, false) {
		d.add(path, "x-kubernetes-preserve-unknown-fields removed: the fields it kept are dropped")
	}
}

// compareFields compares an object's fields and an array's items.
func (d *schemaDiff) compareFields(path string, o, n *apiextensionsv1.JSONSchemaProps) {
	for _, name := range n.Required {
		if slices.Contains(o.Required, name) {
			continue
		}
		if _, ok := o.Properties[name]; ok {
			d.add(path+"."+name, "now required")
		} else {
			d.add(path+"."+name, "new required field")
		}
	}
	for _, name := range slices.Sorted(maps.Keys(o.Properties)) {
		op := o.Properties[name]
		np, ok := n.Properties[name]
		if !ok {
			d.add(path+"."+name, "removed")
			continue
		}
		d.compare(path+"."+name, &op, &np)
	}
	if o.Items != nil && o.Items.Schema != nil && n.Items != nil && n.Items.Schema != nil {
		d.compare(path+"[*]", o.Items.Schema, n.Items.Schema)
	}
	d.compareAdditional(path, o.AdditionalProperties, n.AdditionalProperties)
}

// compareAdditional compares additionalProperties: what the old schema let
// an object hold beyond its properties must still be allowed.
func (d *schemaDiff) compareAdditional(path string, o, n *apiextensionsv1.JSONSchemaPropsOrBool) {
	if o == nil || (!o.Allows && o.Schema == nil) {
		return
	}
	if n == nil || (!n.Allows && n.Schema == nil) {
		d.add(path, "additionalProperties removed")
		return
	}
	if o.Schema != nil && n.Schema != nil {
		d.compare(path+"[*]", o.Schema, n.Schema)
	}
}

// compareStrings reports a constraint (format, pattern, list type) that is
// set and differs from what it was.
func (d *schemaDiff) compareStrings(path, what, o, n string) {
	switch {
	case n == "" || n == o:
	case o == "":
		d.add(path, "%s %q added", what, n)
	default:
		d.add(path, "%s changed from %q to %q", what, o, n)
	}
}

// compareEnum reports an enum added where there was none, and each value
// removed from one.
func (d *schemaDiff) compareEnum(path string, o, n []apiextensionsv1.JSON) {
	if len(n) == 0 {
		return
	}
	if len(o) == 0 {
		d.add(path, "enum added: %s", strings.Join(enumValues(n), ", "))
		return
	}
	kept := enumValues(n)
	var removed []string
	for _, v := range enumValues(o) {
		if !slices.Contains(kept, v) {
			removed = append(removed, v)
		}
	}
	if len(removed) > 0 {
		d.add(path, "enum value %s removed", strings.Join(removed, ", "))
	}
}

// compareBound reports a minimum or maximum added, moved by narrower, or
// made exclusive at the same value.
func (d *schemaDiff) compareBound(path, what, moved string, o *float64, oExcl bool, n *float64, nExcl bool, narrower func(n, o float64) bool) {
	switch {
	case n == nil:
	case o == nil:
		d.add(path, "%s %s added", what, formatFloat(*n))
	case narrower(*n, *o):
		d.add(path, "%s %s from %s to %s", what, moved, formatFloat(*o), formatFloat(*n))
	case *n == *o && nExcl && !oExcl:
		d.add(path, "%s %s made exclusive", what, formatFloat(*n))
	}
}

// compareCount reports a length or count bound added, or moved in the
// direction sign (1: up, -1: down).
func (d *schemaDiff) compareCount(path, what, moved string, o, n *int64, sign int64) {
	switch {
	case n == nil:
	case o == nil:
		d.add(path, "%s %d added", what, *n)
	case (*n-*o)*sign > 0:
		d.add(path, "%s %s from %d to %d", what, moved, *o, *n)
	}
}

// changedFrom says "added" or "changed from" for a number set to n.
func changedFrom(o *float64, n float64) string {
	if o == nil {
		return formatFloat(n) + " added"
	}
	return "changed from " + formatFloat(*o) + " to " + formatFloat(n)
}

// junctors is the JSON of a schema's allOf, anyOf, oneOf and not, "" when
// it has none.
func junctors(s *apiextensionsv1.JSONSchemaProps) string {
	if len(s.AllOf) == 0 && len(s.AnyOf) == 0 && len(s.OneOf) == 0 && s.Not == nil {
		return ""
	}
	b, _ := json.Marshal([]any{s.AllOf, s.AnyOf, s.OneOf, s.Not})
	return string(b)
}

// enumValues is an enum's values as compact JSON, so that the same value
// written two ways compares equal.
func enumValues(values []apiextensionsv1.JSON) []string {
	out := make([]string, 0, len(values))
	for _, v := range values {
		var x any
		if err := json.Unmarshal(v.Raw, &x); err != nil {
			out = append(out, string(v.Raw))
			continue
		}
		b, _ := json.Marshal(x)
		out = append(out, string(b))
	}
	return out
}

func typeName(t string) string {
	if t == "" {
		return "none"
	}
	return t
}

func formatFloat(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }
