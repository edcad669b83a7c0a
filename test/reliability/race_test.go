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
	"maps"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	execloopv1alpha1 "github.com/execloop/execloop/api/v1alpha1"
	"github.com/execloop/execloop/controllers"
	"github.com/execloop/execloop/execloop/reconciler/status"
)

// TestRacingPlans: 50 pairs of Plans created together, each pair applying
// one ConfigMap with values of its own, while every apply of the manager
// waits 100–400 ms before it reaches the API server: both Plans of a pair
// read the object absent before either one's apply lands. Each pair must
// end with exactly one Plan Ready, the object holding that Plan's values
// and nothing of the other's, and the other Plan's task failed, naming
// the winner.
func TestRacingPlans(t *testing.T) {
	const pairs = 50
	ctx := context.Background()
	ns := newNamespace(t, "race")
	var mu sync.Mutex
	rng := rand.New(rand.NewPCG(3, 4))
	applies, refused := 0, 0
	startManager(t, managerOptions{namespaces: []string{ns}, wrap: func(next http.RoundTripper) http.RoundTripper {
		return roundTripFunc(func(req *http.Request) (*http.Response, error) {
			if req.Method != http.MethodPatch || !strings.Contains(req.URL.Path, "/configmaps/") {
				return next.RoundTrip(req)
			}
			mu.Lock()
			applies++
			d := time.Duration(100+rng.IntN(300)) * time.Millisecond
			mu.Unlock()
			time.Sleep(d)
			resp, err := next.RoundTrip(req)
			if err == nil && resp.StatusCode == http.StatusConflict {
				mu.Lock()
				refused++
				mu.Unlock()
			}
			return resp, err
		})
	}})

	var all []*execloopv1alpha1.Plan
	for i := range pairs {
		for _, side := range []string{"a", "b"} {
			p := &execloopv1alpha1.Plan{}
			p.Namespace, p.Name = ns, fmt.Sprintf("pair-%02d-%s", i, side)
			task := configMapTask("shared", nil, nil)
			task.Apply = rawObject(map[string]any{"apiVersion": "v1", "kind": "ConfigMap",
				"metadata": map[string]any{"name": fmt.Sprintf("shared-%02d", i)}, "data": map[string]any{"by-" + side: side}})
			p.Spec.Tasks = []execloopv1alpha1.PlanTask{task}
			all = append(all, p)
		}
	}
	start := time.Now()
	createAll(t, all)

	// outcome judges every pair: settled once one Plan is Ready and the
	// other's task failed.
	type outcome struct {
		oneReady, bothReady, settled, retried, valuesOfWinner, loserNamesWinner, loserLeftovers, loserRecorded int
	}
	judge := func() outcome {
		var o outcome
		byName := map[string]execloopv1alpha1.Plan{}
		for _, p := range plansOf(t, ns) {
			byName[p.Name] = p
		}
		var list corev1.ConfigMapList
		if err := k8sClient.List(ctx, &list, client.InNamespace(ns)); err != nil {
			t.Fatal(err)
		}
		byMap := map[string]corev1.ConfigMap{}
		for _, c := range list.Items {
			byMap[c.Name] = c
		}
		for i := range pairs {
			a, b := byName[fmt.Sprintf("pair-%02d-a", i)], byName[fmt.Sprintf("pair-%02d-b", i)]
			aReady, bReady := a.Status.IsReady(a.Generation), b.Status.IsReady(b.Generation)
			switch {
			case aReady && bReady:
				o.bothReady++
				continue
			case !aReady && !bReady:
				continue
			}
			o.oneReady++
			winner, loser, side := a, b, "a"
			if bReady {
				winner, loser, side = b, a, "b"
			}
			lost := loser.Status.Task("shared")
			if lost == nil || lost.State != status.TaskFailed {
				continue
			}
			o.settled++
			if lost.Attempts >= 2 {
				o.retried++
			}
			if strings.Contains(lost.Message, "is managed by another Plan ("+ns+"/"+winner.Name+")") {
				o.loserNamesWinner++
			}
			if len(loser.Status.Objects) > 0 {
				o.loserRecorded++
			}
			cm := byMap[fmt.Sprintf("shared-%02d", i)]
			if cm.Labels[controllers.PlanUIDLabel] == string(winner.UID) && maps.Equal(cm.Data, map[string]string{"by-" + side: side}) {
				o.valuesOfWinner++
			}
			if _, ok := cm.Data["by-"+loser.Name[len(loser.Name)-1:]]; ok || cm.Annotations[controllers.PlanAnnotation] != ns+"/"+winner.Name ||
				len(cm.OwnerReferences) != 1 || cm.OwnerReferences[0].UID != winner.UID {
				o.loserLeftovers++
			}
		}
		return o
	}
	var o outcome
	waitFor(t, 4*time.Minute, "every pair settled", func() (bool, string) {
		o = judge()
		return o.settled == pairs, fmt.Sprintf("%+v", o)
	})
	settled := time.Since(start)
	// Nothing changes after that: once every loser has tried again, a
	// later pass of either Plan has kept it so.
	waitFor(t, 4*time.Minute, "every loser tried again", func() (bool, string) {
		o = judge()
		return o.retried == pairs, fmt.Sprintf("%+v", o)
	})
	if o.oneReady != pairs || o.bothReady != 0 || o.valuesOfWinner != pairs || o.loserNamesWinner != pairs || o.loserLeftovers != 0 || o.loserRecorded != 0 {
		t.Errorf("of %d pairs: %+v", pairs, o)
	}
	mu.Lock()
	slowed, lost := applies, refused
	mu.Unlock()

	const section = "9. Two Plans for one object"
	figures.add(section, "`go test ./test/reliability -run TestRacingPlans`: %d pairs of Plans created together; the two Plans of a pair apply the same ConfigMap with values of their own. Every apply of the manager waits 100–400 ms before it reaches the API server, so both Plans of a pair read the object absent before either one's apply lands.", pairs)
	figures.add(section, "")
	figures.add(section, "| figure | value |")
	figures.add(section, "|---|---|")
	figures.add(section, "| pairs with exactly one Plan Ready | %d of %d |", o.oneReady, pairs)
	figures.add(section, "| pairs with both Plans Ready | **%d** |", o.bothReady)
	figures.add(section, "| objects holding the winner's label and values, and only those | %d of %d |", o.valuesOfWinner, pairs)
	figures.add(section, "| losers whose task failed naming the winner | %d of %d |", o.loserNamesWinner, pairs)
	figures.add(section, "| objects with anything of the loser's (a data key, its annotation or owner reference) | **%d** |", o.loserLeftovers)
	figures.add(section, "| losers that recorded the object as applied | **%d** |", o.loserRecorded)
	figures.add(section, "| applies (all slowed); of those, refused for their precondition, writing nothing | %d; %d |", slowed, lost)
	figures.add(section, "| every pair settled in | %s |", settled.Round(100*time.Millisecond))
	figures.add(section, "")
	figures.add(section, "Why it holds (internal/planrun/claim.go): an apply of an object the Plan found absent carries a resourceVersion no stored object has, so it can only create; an adoption carries the resourceVersion it was read at. The loser's apply is refused, writes nothing, and the object read again names the winner.")
}
