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
	"strings"
	"testing"

	execloopv1alpha1 "github.com/execloop/execloop/api/v1alpha1"
)

func TestRemovalNamesAreUniqueAndFitTheStatus(t *testing.T) {
	obj := func(task, kind, ns, name string) execloopv1alpha1.AppliedObject {
		return execloopv1alpha1.AppliedObject{Task: task, APIVersion: "v1", Kind: kind, Namespace: ns, Name: name}
	}
	old, older, other := obj("config", "ConfigMap", "team-a", "old"), obj("config", "ConfigMap", "team-a", "older"), obj("ns", "Namespace", "", "team-a")

	if got := removalName("prune:", other, []execloopv1alpha1.AppliedObject{old, other}); got != "prune:ns" {
		t.Errorf("the only entry of its task: %q, want prune:ns", got)
	}
	// A task that named another object twice while the first prune waits
	// left two entries: each gets a name, and so a status, of its own.
	all := []execloopv1alpha1.AppliedObject{old, older, other}
	for o, want := range map[*execloopv1alpha1.AppliedObject]string{
		&old:   "prune:config/ConfigMap/team-a/old",
		&older: "prune:config/ConfigMap/team-a/older",
		&other: "prune:ns",
	} {
		if got := removalName("prune:", *o, all); got != want {
			t.Errorf("removalName(%s) = %q, want %q", o.Name, got, want)
		}
	}

	long := func(name string) execloopv1alpha1.AppliedObject {
		return obj(strings.Repeat("t", 63), "ConfigMap", strings.Repeat("n", 63), name)
	}
	a, b := long(strings.Repeat("a", 253)), long(strings.Repeat("a", 252)+"b")
	na, nb := removalName("delete:", a, []execloopv1alpha1.AppliedObject{a, b}), removalName("delete:", b, []execloopv1alpha1.AppliedObject{a, b})
	if len(na) > 253 || len(nb) > 253 || na == nb {
		t.Errorf("names of %d and %d characters, equal: %v; want distinct names of at most 253", len(na), len(nb), na == nb)
	}
	if !strings.HasPrefix(na, "delete:"+strings.Repeat("t", 63)+"/ConfigMap/") {
		t.Errorf("a cut name keeps its start: %q", na)
	}
}
