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
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	execloopv1alpha1 "github.com/execloop/execloop/api/v1alpha1"
)

// lateThings is the CustomResourceDefinition that TestLateDependencies
// installs after the Plans that use its kind.
func lateThings() *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
		"metadata": map[string]any{"name": "latethings.late.example.com"},
		"spec": map[string]any{
			"group": "late.example.com", "scope": "Namespaced",
			"names": map[string]any{"kind": "LateThing", "listKind": "LateThingList", "plural": "latethings", "singular": "latething"},
			"versions": []any{map[string]any{
				"name": "v1", "served": true, "storage": true,
				"schema": map[string]any{"openAPIV3Schema": map[string]any{"type": "object", "x-kubernetes-preserve-unknown-fields": true}},
			}},
		},
	}}
}

// TestLateDependencies: 50 Plans are created before what they need — the
// RoleBinding of their ServiceAccount, their target Namespace, the CRD of
// their kind — which appears 10 to 30 s later, in random order. Every Plan
// converges with nobody touching it, and none is left Stalled.
func TestLateDependencies(t *testing.T) {
	const (
		plans          = 50
		sleep          = time.Second // the operator's default --sleep-between-runs
		maxBackoff     = 8 * time.Second
		retryStalled   = 20 * time.Second
		earliest, last = 10 * time.Second, 30 * time.Second
	)
	ctx := context.Background()
	ns := newNamespace(t, "late")
	startManager(t, managerOptions{namespaces: []string{ns}, sleep: sleep, maxBackoff: maxBackoff, retryStalled: retryStalled})

	// Each Plan lacks one thing; appear makes it exist.
	var appear []func() error
	var all []*execloopv1alpha1.Plan
	kinds := map[string]string{}
	for i := range plans {
		p := &execloopv1alpha1.Plan{}
		p.Namespace, p.Name = ns, fmt.Sprintf("late-%02d", i)
		task := execloopv1alpha1.PlanTask{Name: "thing"}
		switch i % 3 {
		case 0: // a ServiceAccount whose RoleBinding comes later
			sa := p.Name
			for _, o := range []client.Object{
				&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: sa}},
				&rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: sa}, Rules: []rbacv1.PolicyRule{{
					APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"get", "list", "watch", "create", "patch", "delete"},
				}}},
			} {
				if err := k8sClient.Create(ctx, o); err != nil {
					t.Fatal(err)
				}
			}
			p.Spec.ServiceAccountName = sa
			task.Apply = rawObject(map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": p.Name}})
			kinds[p.Name] = "RoleBinding"
			appear = append(appear, func() error {
				return k8sClient.Create(ctx, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: sa},
					RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: sa},
					Subjects: []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: ns, Name: sa}}})
			})
		case 1: // a target Namespace that comes later
			target := p.Name + "-" + ns
			task.Apply = rawObject(map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": p.Name, "namespace": target}})
			kinds[p.Name] = "Namespace"
			appear = append(appear, func() error {
				return k8sClient.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: target}})
			})
		default: // a kind whose CRD comes later (one CRD for all of them)
			task.Apply = rawObject(map[string]any{"apiVersion": "late.example.com/v1", "kind": "LateThing", "metadata": map[string]any{"name": p.Name}})
			kinds[p.Name] = "CRD"
		}
		p.Spec.Tasks = []execloopv1alpha1.PlanTask{task}
		all = append(all, p)
	}
	appear = append(appear, func() error { return k8sClient.Create(ctx, lateThings()) })
	t.Cleanup(func() { _ = k8sClient.Delete(ctx, lateThings()) })

	start := time.Now()
	createAll(t, all)

	// What they lack appears between 10 and 30 s from now, in random order.
	var wg sync.WaitGroup
	errs := make(chan error, len(appear))
	for _, f := range appear {
		at := earliest + rand.N(last-earliest)
		wg.Go(func() {
			time.Sleep(time.Until(start.Add(at)))
			if err := f(); err != nil {
				errs <- err
			}
		})
	}

	// Poll until every Plan is Ready, noting when each became so and which
	// were ever seen Stalled.
	readyAt := map[string]time.Duration{}
	stalledSeen := map[string]bool{}
	waitFor(t, 3*time.Minute, "every Plan Ready", func() (bool, string) {
		stalled := 0
		for _, p := range plansOf(t, ns) {
			if p.Status.IsStalled(p.Generation) {
				stalledSeen[p.Name] = true
				stalled++
			}
			if _, ok := readyAt[p.Name]; !ok && p.Status.IsReady(p.Generation) {
				readyAt[p.Name] = time.Since(start)
			}
		}
		return len(readyAt) == plans, fmt.Sprintf("%d of %d Ready, %d Stalled now", len(readyAt), plans, stalled)
	})
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}

	// The figures, from the Plans' status once they are all Ready.
	attempts, leftStalled := 0, 0
	byKind := map[string][]time.Duration{}
	for _, p := range plansOf(t, ns) {
		if p.Status.IsStalled(p.Generation) {
			leftStalled++
		}
		if ts := p.Status.Task("thing"); ts != nil {
			attempts += int(ts.Attempts)
		}
		byKind[kinds[p.Name]] = append(byKind[kinds[p.Name]], readyAt[p.Name])
	}
	if leftStalled != 0 {
		t.Fatalf("%d Plans left Stalled", leftStalled)
	}
	var worst time.Duration
	for _, d := range readyAt {
		worst = max(worst, d)
	}
	const section = "7. Dependencies that appear later"
	figures.add(section, "`go test ./test/reliability -run TestLateDependencies`: %d Plans created before what they need (%d lack their ServiceAccount's RoleBinding, %d their target Namespace, %d the CRD of their kind), which appears %s to %s later in random order. The manager runs with `sleepBetweenRuns` %s, 5 errors tolerated, a backoff capped at %s and a stalled-retry interval of %s; no client-side rate limit beyond the harness's (QPS 200).",
		plans, len(byKind["RoleBinding"]), len(byKind["Namespace"]), len(byKind["CRD"]), earliest, last, sleep, maxBackoff, retryStalled)
	figures.add(section, "")
	figures.add(section, "| figure | value |")
	figures.add(section, "|---|---|")
	figures.add(section, "| Plans Ready with no intervention | **%d of %d** |", len(readyAt), plans)
	figures.add(section, "| Plans left Stalled | **%d** |", leftStalled)
	figures.add(section, "| Plans seen Stalled on the way (budget spent, then retried with a fresh one) | %d |", len(stalledSeen))
	figures.add(section, "| attempts of the 50 tasks (1 each would mean no failure) | %d (%d failed attempts, each one error spent) |", attempts, attempts-plans)
	figures.add(section, "| the last Plan Ready, after creation | %s |", worst.Round(100*time.Millisecond))
	for _, k := range []string{"RoleBinding", "Namespace", "CRD"} {
		d := byKind[k]
		slices.Sort(d)
		figures.add(section, "| Ready after creation, lacking a %s: median / max | %s / %s |", k, d[len(d)/2].Round(100*time.Millisecond), d[len(d)-1].Round(100*time.Millisecond))
	}
}
