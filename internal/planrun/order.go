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
	"slices"

	"k8s.io/apimachinery/pkg/runtime/schema"

	execloopv1alpha1 "github.com/execloop/execloop/api/v1alpha1"
)

// deletableNow returns, of objs (entries of p's inventory, in the order
// they were first applied), the ones to delete now: those that no other of
// objs must go before (see deletedBefore), latest applied first. The others
// wait until those are gone; an object held by a finalizer or a denial
// holds back only what must go after it. Should the rules contradict each
// other (a cycle of after, which compile refuses but a Plan being deleted
// may hold), the latest applied goes, so that deletion goes on.
func deletableNow(p *execloopv1alpha1.Plan, objs []execloopv1alpha1.AppliedObject) []execloopv1alpha1.AppliedObject {
	runsAfter := transitiveAfter(p.Spec.Tasks)
	var now []execloopv1alpha1.AppliedObject
	for i := len(objs) - 1; i >= 0; i-- {
		b := objs[i]
		if !slices.ContainsFunc(objs, func(a execloopv1alpha1.AppliedObject) bool {
			return entryKey(a) != entryKey(b) && deletedBefore(a, b, runsAfter)
		}) {
			now = append(now, b)
		}
	}
	if len(now) == 0 && len(objs) > 0 {
		now = objs[len(objs)-1:]
	}
	return now
}

// deletedBefore reports whether a must be gone before b is deleted.
// Namespaces and CustomResourceDefinitions go after everything else, as
// they are applied first (which also puts a custom resource before its
// CRD and a namespaced object before its Namespace); among themselves, and
// among the rest, the tasks' after decides.
func deletedBefore(a, b execloopv1alpha1.AppliedObject, runsAfter map[string]map[string]bool) bool {
	if structural(b) && !structural(a) {
		return true
	}
	return structural(a) == structural(b) && a.Task != b.Task && runsAfter[a.Task][b.Task]
}

// structural reports a Namespace or a CustomResourceDefinition: what other
// objects live in or are made of.
func structural(obj execloopv1alpha1.AppliedObject) bool {
	switch group := groupOf(obj); {
	case obj.Kind == "Namespace" && group == "":
		return true
	case obj.Kind == "CustomResourceDefinition" && group == "apiextensions.k8s.io":
		return true
	}
	return false
}

func groupOf(obj execloopv1alpha1.AppliedObject) string {
	gv, _ := schema.ParseGroupVersion(obj.APIVersion)
	return gv.Group
}

// transitiveAfter maps each task to every task it runs after, directly or
// through other tasks' after. Names that are not tasks are ignored, and a
// cycle (which admission lets through and compile refuses) ends the walk.
func transitiveAfter(tasks []execloopv1alpha1.PlanTask) map[string]map[string]bool {
	direct := make(map[string][]string, len(tasks))
	for _, t := range tasks {
		direct[t.Name] = t.After
	}
	out := make(map[string]map[string]bool, len(tasks))
	for _, t := range tasks {
		seen := map[string]bool{}
		stack := slices.Clone(t.After)
		for len(stack) > 0 {
			d := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if seen[d] || d == t.Name {
				continue
			}
			seen[d] = true
			stack = append(stack, direct[d]...)
		}
		out[t.Name] = seen
	}
	return out
}
