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
	"cmp"
	"encoding/base64"
	"encoding/json"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Values read from Secrets never leave a pass in clear.
//
// A pass reads Secrets (a wait task's object, an apply task's) and its
// expressions compute values from them. Everything the pass writes out goes
// through one redaction step, the secretValues of the pass
// (Run.secretValues):
//
//   - the errors of its tasks (redactedTask), which are all that the
//     status (status.tasks[].message, the conditions), the events and the
//     log lines of a pass say about a task;
//   - its previews (Run.redactPreviews): the reasons, and the live and
//     planned objects kubectl execloop diff shows.
//
// It replaces with "***" every value of the pass's secretValues: each value
// of the data and stringData of every Secret the pass read or applies,
// decoded and as stored (base64); and the result of every expression
// whose evaluation met such a value (fromSecrets), or, when it failed,
// every string it computed on the way (secretValues.addComputed). A
// readyWhen over a Secret that fails withholds its message (readiness). In a preview, a field an
// expression computed from a Secret, and a Secret's values, are masked as a
// whole, on the live side too: "*** (before)" and "*** (after)" when they
// differ, so a changed value shows as changed.
//
// Each value is masked also in the forms messages quote it in (%q, JSON,
// without surrounding white space: see secretValues.add).
//
// Values shorter than minSecretLen (4) bytes are not masked, nor their
// base64: replacing every "1" or "on" in a message would make it
// unreadable and hide almost nothing.
// The mask replaces a value wherever it occurs in a text, so a Secret value
// that is also an ordinary word ("default", say) is masked where the word
// shows.

// minSecretLen is the length, in bytes, from which a value read from a
// Secret is masked. Shorter values stay as they are.
const minSecretLen = 4

// secretValues are the values to mask: those of Secrets, and those computed
// from them. The zero value holds none and is ready to use.
type secretValues struct {
	set map[string]struct{}
	// replacer masks the values of set (see mask); nil until mask needs
	// it, and again when a value is added.
	replacer *strings.Replacer
}

// add adds v, unless it is shorter than minSecretLen, and the forms in
// which messages quote it: as Go's %q and strconv do, and as JSON does
// (the API server shows a bad string as %q, a bad map or list as JSON,
// which writes "&", "<" and ">" as \u0026, \u003c and \u003e), each
// without its quotes; and without its leading and trailing white space (a
// value from `echo pw | base64` ends in a newline). A form shorter than
// minSecretLen is left out.
func (s *secretValues) add(v string) {
	if len(v) < minSecretLen {
		return
	}
	s.put(v)
	s.put(unquoted(strconv.Quote(v)))
	if j, err := json.Marshal(v); err == nil {
		s.put(unquoted(string(j)))
	}
	s.put(strings.TrimSpace(v))
}

// put adds v as it is, unless it is shorter than minSecretLen.
func (s *secretValues) put(v string) {
	if len(v) < minSecretLen {
		return
	}
	if _, ok := s.set[v]; ok {
		return
	}
	if s.set == nil {
		s.set = map[string]struct{}{}
	}
	s.set[v] = struct{}{}
	s.replacer = nil
}

// unquoted is q, a quoted string, without its quotes.
func unquoted(q string) string { return q[1 : len(q)-1] }

// addSecret adds the values of obj when it is a Secret: each value of its
// data and stringData, decoded and as stored (base64). A value shorter than
// minSecretLen is left out in both forms.
func (s *secretValues) addSecret(obj *unstructured.Unstructured) {
	if !isSecret(obj) {
		return
	}
	addBoth := func(value string) {
		if len(value) >= minSecretLen {
			s.add(value)
			s.add(base64.StdEncoding.EncodeToString([]byte(value)))
		}
	}
	data, _, _ := unstructured.NestedMap(obj.Object, "data")
	for _, v := range data {
		if str, ok := v.(string); ok {
			if b, err := base64.StdEncoding.DecodeString(str); err == nil {
				addBoth(string(b))
			} else {
				s.add(str)
			}
		}
	}
	stringData, _, _ := unstructured.NestedMap(obj.Object, "stringData")
	for _, v := range stringData {
		if str, ok := v.(string); ok {
			addBoth(str)
		}
	}
}

// addAll adds the values of o (with their forms, which o holds).
func (s *secretValues) addAll(o *secretValues) {
	for v := range o.set {
		s.put(v)
	}
}

// addLeaves adds the strings of a JSON value: a string, or those in a map
// or a list.
func (s *secretValues) addLeaves(v any) {
	switch x := v.(type) {
	case string:
		s.add(x)
	case map[string]any:
		for _, e := range x {
			s.addLeaves(e)
		}
	case []any:
		for _, e := range x {
			s.addLeaves(e)
		}
	}
}

// holds reports whether text holds one of the values.
func (s *secretValues) holds(text string) bool {
	for v := range s.set {
		if strings.Contains(text, v) {
			return true
		}
	}
	return false
}

// holdsLeaf reports whether a string of a JSON value holds one of the
// values.
func (s *secretValues) holdsLeaf(v any) bool {
	if s == nil {
		return false
	}
	switch x := v.(type) {
	case string:
		return s.holds(x)
	case map[string]any:
		for _, e := range x {
			if s.holdsLeaf(e) {
				return true
			}
		}
	case []any:
		return slices.ContainsFunc(x, s.holdsLeaf)
	}
	return false
}

// met reports whether an evaluation met one of the values: a string or
// bytes value it computed on the way (CEL's tracked state, with
// cel.OptTrackState) or its result holds one. To use a Secret's value, an
// expression selects it (tasks.creds.object.data.password), and that step's
// value is tracked; whatever it computes from there is derived from it.
func (s *secretValues) met(details *cel.EvalDetails, out ref.Val) bool {
	if s == nil || len(s.set) == 0 {
		return false
	}
	if slices.ContainsFunc(computed(details), s.holds) {
		return true
	}
	text, ok := scalarText(out)
	return ok && s.holds(text)
}

// addComputed adds every string and bytes value an evaluation computed on
// the way: what an evaluation that failed derived from a Secret may show
// in its error, though it has no result to record.
func (s *secretValues) addComputed(details *cel.EvalDetails) {
	for _, v := range computed(details) {
		s.add(v)
	}
}

// computed are the string and bytes values an evaluation computed on the
// way (CEL's tracked state; none when it is not tracked).
func computed(details *cel.EvalDetails) []string {
	if details == nil || details.State() == nil {
		return nil
	}
	state := details.State()
	var out []string
	for _, id := range state.IDs() {
		if v, ok := state.Value(id); ok {
			if text, ok := scalarText(v); ok {
				out = append(out, text)
			}
		}
	}
	return out
}

// scalarText is the text of a string or bytes value.
func scalarText(v ref.Val) (string, bool) {
	switch x := v.(type) {
	case types.String:
		return string(x), true
	case types.Bytes:
		return string(x), true
	}
	return "", false
}

// mask returns text with every value replaced by masked; a longer value
// goes first where two overlap.
func (s *secretValues) mask(text string) string {
	if len(s.set) == 0 || !s.holds(text) {
		return text
	}
	return s.masker().Replace(text)
}

// masker is the Replacer of mask, made once for the values s holds.
func (s *secretValues) masker() *strings.Replacer {
	if s.replacer == nil {
		values := slices.SortedFunc(maps.Keys(s.set), func(a, b string) int {
			return cmp.Or(cmp.Compare(len(b), len(a)), strings.Compare(a, b))
		})
		pairs := make([]string, 0, 2*len(values))
		for _, v := range values {
			pairs = append(pairs, v, masked)
		}
		s.replacer = strings.NewReplacer(pairs...)
	}
	return s.replacer
}

// maskStrings masks the values in every string of a JSON value, in place.
func (s *secretValues) maskStrings(v any) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if str, ok := e.(string); ok {
				x[k] = s.mask(str)
			} else {
				s.maskStrings(e)
			}
		}
	case []any:
		for i, e := range x {
			if str, ok := e.(string); ok {
				x[i] = s.mask(str)
			} else {
				s.maskStrings(e)
			}
		}
	}
}

// isSecret reports whether obj is a core Secret.
func isSecret(obj *unstructured.Unstructured) bool {
	return obj != nil && obj.GetKind() == "Secret" && obj.GroupVersionKind().Group == ""
}

// fromSecrets is what, in this pass, a task's expressions computed from
// values of Secrets.
type fromSecrets struct {
	// paths are the fields of the manifest whose values were computed
	// from a Secret, as exprField.path.
	paths [][]any
	// values are the results of the expressions that computed them.
	values secretValues
}

// add adds what another task (a forEach item) computed from Secrets.
func (f *fromSecrets) add(o *fromSecrets) {
	for _, path := range o.paths {
		if !slices.ContainsFunc(f.paths, func(p []any) bool { return slices.Equal(p, path) }) {
			f.paths = append(f.paths, path)
		}
	}
	f.values.addAll(&o.values)
}

// record records that the field at path holds v, computed from a
// Secret: a string, or a JSON value whose strings are added.
func (f *fromSecrets) record(path []any, v any) {
	if n := len(f.paths); n == 0 || !slices.Equal(f.paths[n-1], path) {
		f.paths = append(f.paths, path)
	}
	f.values.addLeaves(v)
}
