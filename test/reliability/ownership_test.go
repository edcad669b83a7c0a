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

package reliability

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	execloopv1alpha1 "github.com/execloop/execloop/api/v1alpha1"
	"github.com/execloop/execloop/controllers"
)

// TestOwnership: 100 Plans, half of which apply ConfigMaps that were there
// before them (adopted), a third of which then re-point a task to another
// object, and then all of them are deleted. Counted from the API server's
// audit log and a list at the end: objects deleted that the plans did not
// create, and objects they created that are left.
func TestOwnership(t *testing.T) {
	const plans = 100
	ctx := context.Background()
	ns := newNamespace(t, "own")
	startManager(t, managerOptions{namespaces: []string{ns}})

	found := map[string]bool{}   // made before the Plans, by someone else
	created := map[string]bool{} // the Plans' to create
	var all []*execloopv1alpha1.Plan
	for i := range plans {
		p := &execloopv1alpha1.Plan{}
		p.Namespace, p.Name = ns, fmt.Sprintf("own-%03d", i)
		p.Spec.Tasks = []execloopv1alpha1.PlanTask{configMapTask("made", nil, map[string]any{"by": "plan"})}
		p.Spec.Tasks[0].Apply = rawObject(map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": p.Name + "-made"}, "data": map[string]any{"by": "plan"}})
		created[p.Name+"-made"] = true
		if i%2 == 0 {
			name := p.Name + "-found"
			if err := k8sClient.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Data: map[string]string{"by": "hand"}}); err != nil {
				t.Fatal(err)
			}
			found[name] = true
			task := configMapTask("found", nil, nil)
			task.Apply = rawObject(map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": name}, "data": map[string]any{"by": "plan"}})
			p.Spec.Tasks = append(p.Spec.Tasks, task)
		}
		all = append(all, p)
	}
	start := time.Now()
	createAll(t, all)
	allReady(t, ns, plans, 3*time.Minute)
	converged := time.Since(start)

	adopted := 0
	for _, p := range plansOf(t, ns) {
		for _, o := range p.Status.Objects {
			if o.Adopted != found[o.Name] {
				t.Errorf("Plan %s: %s recorded adopted=%v, but it was made by hand: %v", p.Name, o.Name, o.Adopted, found[o.Name])
			}
			if o.Adopted {
				adopted++
			}
		}
	}

	// A third re-point a task: "made" to a new object; of the Plans that
	// adopted, "found" to a new object too, which prunes (releases) the
	// adopted one.
	repointed := 0
	for i, p := range all {
		if i%3 != 0 {
			continue
		}
		if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
			var latest execloopv1alpha1.Plan
			if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(p), &latest); err != nil {
				return err
			}
			for j, task := range latest.Spec.Tasks {
				name := p.Name + "-" + task.Name + "-2"
				latest.Spec.Tasks[j].Apply = rawObject(map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": name}, "data": map[string]any{"by": "plan"}})
				created[name] = true
			}
			return k8sClient.Update(ctx, &latest)
		}); err != nil {
			t.Fatal(err)
		}
		repointed++
	}
	allReady(t, ns, plans, 3*time.Minute)

	for _, p := range all {
		if err := k8sClient.Delete(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 3*time.Minute, "every Plan gone", func() (bool, string) {
		left := len(plansOf(t, ns))
		return left == 0, fmt.Sprintf("%d Plans left", left)
	})
	total := time.Since(start)

	// Deleted that the Plans did not create, from the audit log; left that
	// they created, and the state of what was there before, from a list.
	deletedFound, deletedCreated := 0, 0
	for _, e := range auditedConfigMaps(t, ns) {
		if e.Verb != "delete" || e.ResponseStatus.Code >= 300 {
			continue
		}
		switch {
		case found[e.ObjectRef.Name]:
			deletedFound++
			t.Errorf("ConfigMap %s, made by hand, was deleted", e.ObjectRef.Name)
		case created[e.ObjectRef.Name]:
			deletedCreated++
		}
	}
	var list corev1.ConfigMapList
	if err := k8sClient.List(ctx, &list, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	leftCreated, foundLeft, stillLabelled := 0, 0, 0
	for _, c := range list.Items {
		switch {
		case created[c.Name]:
			leftCreated++
			t.Errorf("ConfigMap %s, created by a Plan, is left behind", c.Name)
		case found[c.Name]:
			foundLeft++
			if _, ok := c.Labels[controllers.PlanUIDLabel]; ok || slices.ContainsFunc(c.OwnerReferences, func(r metav1.OwnerReference) bool { return r.Kind == "Plan" }) {
				stillLabelled++
				t.Errorf("ConfigMap %s was not released: %v %v", c.Name, c.Labels, c.OwnerReferences)
			}
		}
	}
	if deletedCreated != len(created) {
		t.Errorf("%d of the %d ConfigMaps the Plans created were deleted", deletedCreated, len(created))
	}
	if foundLeft != len(found) {
		t.Errorf("%d of the %d ConfigMaps made by hand are left", foundLeft, len(found))
	}
	for name := range found {
		var c corev1.ConfigMap
		if err := k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &c); apierrors.IsNotFound(err) {
			t.Errorf("ConfigMap %s, made by hand, is gone", name)
		}
	}

	const section = "8. Ownership"
	figures.add(section, "`go test ./test/reliability -run TestOwnership`: %d Plans apply a ConfigMap each that they create; %d of them also apply one that was made by hand before them (adopted, under the default `adoptionPolicy: Release`). Once all are Ready, %d Plans re-point every task to a new ConfigMap (the old ones are pruned: deleted if created, released if adopted), and once Ready again all Plans are deleted. Deletions from the API server's audit log; what is left from a list at the end.", plans, len(found), repointed)
	figures.add(section, "")
	figures.add(section, "| figure | value |")
	figures.add(section, "|---|---|")
	figures.add(section, "| objects recorded as adopted (made by hand) | %d of %d |", adopted, len(found))
	figures.add(section, "| objects the Plans created (including after re-pointing) | %d |", len(created))
	figures.add(section, "| of those, deleted by pruning or the Plans' deletion | %d |", deletedCreated)
	figures.add(section, "| objects deleted that the Plans did not create | **%d** |", deletedFound)
	figures.add(section, "| objects left behind that the Plans created | **%d** |", leftCreated)
	figures.add(section, "| objects made by hand left, released (no label, annotation or owner reference of a Plan) | %d of %d (still labelled: %d) |", foundLeft-stillLabelled, len(found), stillLabelled)
	figures.add(section, "| all Ready; created to all deleted | %s; %s |", converged.Round(100*time.Millisecond), total.Round(100*time.Millisecond))
}
