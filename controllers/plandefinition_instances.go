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
	"context"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	execloopv1alpha1 "github.com/execloop/execloop/api/v1alpha1"
	"github.com/execloop/execloop/execloop/reconciler/status"
	"github.com/execloop/execloop/internal/planrun"
)

// progressInterval is how often a definition's count of instances and of
// Ready ones is brought up to date: at most one write of its status each.
const progressInterval = 2 * time.Second

// Start keeps the context the controllers of instances run under: the
// manager's.
func (r *PlanDefinitionReconciler) Start(ctx context.Context) error {
	r.ctx = ctx
	close(r.started)
	<-ctx.Done()
	return nil
}

// NeedLeaderElection is true: only the leader reconciles instances.
func (r *PlanDefinitionReconciler) NeedLeaderElection() bool { return true }

// serve makes sure the controller of def's instances runs with compiled,
// def's plan: it starts it, or gives it the plan of a new generation.
func (r *PlanDefinitionReconciler) serve(ctx context.Context, def *execloopv1alpha1.PlanDefinition, compiled *planrun.Definition) error {
	select {
	case <-r.started:
	case <-ctx.Done():
		return ctx.Err()
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if ic := r.served[def.Name]; ic != nil {
		ic.update(def.Generation, compiled)
		return nil
	}
	ic, err := startInstances(r.ctx, r.mgr, r.Plans, def, compiled)
	if err != nil {
		return err
	}
	r.served[def.Name] = ic
	go ic.reportProgress(r.Client, def.Name)
	return nil
}

// unserve stops the controller of the definition's instances, if it runs.
func (r *PlanDefinitionReconciler) unserve(ctx context.Context, name string) {
	r.mu.Lock()
	ic := r.served[name]
	delete(r.served, name)
	r.mu.Unlock()
	if ic != nil {
		ic.stop(ctx)
	}
}

// reportProgress writes, every progressInterval until the controller
// stops, how many instances exist and how many are Ready with the
// definition's current plan into the status of the definition named name,
// when that changed.
func (ic *instanceController) reportProgress(c client.Client, name string) {
	ctx := ic.ctx
	tick := time.NewTicker(progressInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		items, err := ic.items(ctx)
		if err != nil {
			continue // the informer is not synced yet
		}
		total, ready := int32(len(items)), int32(0)
		for i := range items {
			if ic.readyWithCurrentPlan(&items[i]) {
				ready++
			}
		}
		def := &execloopv1alpha1.PlanDefinition{}
		if err := c.Get(ctx, client.ObjectKey{Name: name}, def); err != nil {
			continue
		}
		if def.Status.Instances == total && def.Status.ReadyInstances == ready {
			continue
		}
		base := def.DeepCopy()
		def.Status.Instances, def.Status.ReadyInstances = total, ready
		if err := c.Status().Patch(ctx, def, client.MergeFrom(base)); err != nil {
			logf.FromContext(ctx).Error(err, "Writing the count of instances", "definition", name)
		}
	}
}

// readyWithCurrentPlan reports whether u is Ready for its generation, as
// its last pass with the definition's current plan found it.
func (ic *instanceController) readyWithCurrentPlan(u *unstructured.Unstructured) bool {
	gen, _, _ := unstructured.NestedInt64(u.Object, "status", definitionGeneration)
	if gen != ic.generation.Load() {
		return false
	}
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	for _, c := range conds {
		c, _ := c.(map[string]any)
		if c["type"] != status.ConditionReady {
			continue
		}
		observed, _ := c["observedGeneration"].(int64)
		return c["status"] == "True" && observed == u.GetGeneration()
	}
	return false
}
