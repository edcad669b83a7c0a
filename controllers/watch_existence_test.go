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

import "testing"

// The existence watch must hold every object, the plans' own included: a
// watch of only the unlabelled ones, beside the watch of the labelled ones,
// loses sight of an object whose label comes or goes for as long as one
// watch lags the other, and a plan would then take someone else's object
// for absent and apply it as its own.
func TestExistenceWatchSelectsEveryObject(t *testing.T) {
	sel := watchKey{all: true, namespace: "ns"}.selection()
	if sel.LabelSelector != "" || sel.FieldSelector != "" {
		t.Errorf("the existence watch selects %q, %q; it must select every object", sel.LabelSelector, sel.FieldSelector)
	}
}
