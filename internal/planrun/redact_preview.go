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
	"maps"
	"slices"

	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// redactPreviews masks, in the previews of p, what came from Secrets: in
// the live and planned objects, a Secret's values and the fields the
// task's expressions computed from Secrets, each as a whole (maskFields);
// then, in every string of the objects and in the names and reasons, the
// pass's secretValues and the values of the Secrets the previews show.
func (p *Run) redactPreviews(previews []TaskPreview) {
	s := &secretValues{}
	s.addAll(p.secretValues())
	for _, pr := range previews {
		s.addSecret(pr.Live)
		s.addSecret(pr.Planned)
	}
	for i := range previews {
		pr := &previews[i]
		paths := secretPaths(pr.Live, pr.Planned)
		if t := p.task(pr.Task); t != nil && t.kind.writesManifest() && pr.Action != ActionPrune {
			paths = append(paths, t.fromSecrets.paths...)
		}
		maskFields(pr.Live, pr.Planned, paths)
		for _, u := range []*unstructured.Unstructured{pr.Live, pr.Planned} {
			if u != nil {
				s.maskStrings(u.Object)
			}
		}
		pr.Object, pr.Reason = s.mask(pr.Object), s.mask(pr.Reason)
	}
}

// task returns p's task of that name; nil when there is none.
func (p *Run) task(name string) *taskSpec {
	for _, t := range p.tasks {
		if t.name == name {
			return t
		}
	}
	return nil
}

// masked stands for a value read from a Secret.
const masked = "***"

// lastApplied is the annotation in which kubectl apply keeps the object it
// applied.
const lastApplied = "kubectl.kubernetes.io/last-applied-configuration"

// secretPaths are the paths of the values of a Secret's data and
// stringData, in live or planned (either may be nil, or not a Secret).
func secretPaths(live, planned *unstructured.Unstructured) [][]any {
	var paths [][]any
	for _, field := range []string{"data", "stringData"} {
		keys := map[string]struct{}{}
		for _, u := range []*unstructured.Unstructured{live, planned} {
			if isSecret(u) {
				m, _, _ := unstructured.NestedMap(u.Object, field)
				for k := range m {
					keys[k] = struct{}{}
				}
			}
		}
		for _, k := range slices.Sorted(maps.Keys(keys)) {
			paths = append(paths, []any{field, k})
		}
	}
	return paths
}

// maskFields replaces the values at paths in live and planned (either may
// be nil) with "***", telling a changed value by "*** (before)" and
// "*** (after)", as kubectl diff does for a Secret: a preview shows which
// fields change, never what they hold. A Secret, and an object with a
// masked field, loses kubectl's last-applied-configuration annotation,
// which holds the values again.
func maskFields(live, planned *unstructured.Unstructured, paths [][]any) {
	objects := []*unstructured.Unstructured{live, planned}
	for _, u := range objects {
		if u != nil && (len(paths) > 0 || isSecret(u)) {
			unstructured.RemoveNestedField(u.Object, "metadata", "annotations", lastApplied)
			if len(u.GetAnnotations()) == 0 {
				unstructured.RemoveNestedField(u.Object, "metadata", "annotations")
			}
		}
	}
	for _, path := range paths {
		var values [2]any
		var found [2]bool
		for i, u := range objects {
			if u != nil {
				values[i], found[i] = valueAt(u.Object, path)
			}
		}
		marks := [2]string{masked, masked}
		if found[0] && found[1] && !apiequality.Semantic.DeepEqual(values[0], values[1]) {
			marks = [2]string{masked + " (before)", masked + " (after)"}
		}
		for i, u := range objects {
			if found[i] {
				setPath(u.Object, path, marks[i])
			}
		}
	}
}

// valueAt returns the value at path in m, and whether there is one.
func valueAt(m map[string]any, path []any) (any, bool) {
	var cur any = m
	for _, step := range path {
		switch k := step.(type) {
		case string:
			mm, ok := cur.(map[string]any)
			if !ok {
				return nil, false
			}
			if cur, ok = mm[k]; !ok {
				return nil, false
			}
		case int:
			l, ok := cur.([]any)
			if !ok || k >= len(l) {
				return nil, false
			}
			cur = l[k]
		}
	}
	return cur, true
}
