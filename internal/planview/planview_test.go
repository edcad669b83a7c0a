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

package planview_test

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	execloopv1alpha1 "github.com/execloop/execloop/api/v1alpha1"
	"github.com/execloop/execloop/execloop/reconciler/status"
	"github.com/execloop/execloop/internal/planview"
)

func TestHeading(t *testing.T) {
	notReady := []metav1.Condition{{Type: "Ready", Status: metav1.ConditionFalse, Reason: "Progressing", Message: "task deploy: waiting"}}
	for _, tc := range []struct {
		name string
		plan execloopv1alpha1.Plan
		want string
	}{{
		name: "a Plan read with a typed client is named by namespace/name",
		plan: execloopv1alpha1.Plan{
			ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web"},
			Status:     execloopv1alpha1.PlanStatus{Phase: execloopv1alpha1.PlanSucceeded, Progress: "4/4"},
		},
		want: "shop/web  Succeeded  4/4",
	}, {
		name: "a Plan with its apiVersion and kind set is still named without its kind",
		plan: execloopv1alpha1.Plan{
			TypeMeta:   metav1.TypeMeta{APIVersion: execloopv1alpha1.GroupVersion.String(), Kind: "Plan"},
			ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web"},
			Status:     execloopv1alpha1.PlanStatus{Progress: "0/4"},
		},
		want: "shop/web  Pending  0/4",
	}, {
		name: "an instance of a definition's kind is named with its kind, and says why it is not Ready",
		plan: execloopv1alpha1.Plan{
			TypeMeta:   metav1.TypeMeta{APIVersion: "platform.example.com/v1alpha1", Kind: "WebApp"},
			ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web"},
			Status:     execloopv1alpha1.PlanStatus{Status: status.Status{Conditions: notReady}, Phase: execloopv1alpha1.PlanRunning, Progress: "1/3"},
		},
		want: "WebApp shop/web  Running  1/3  task deploy: waiting",
	}, {
		name: "a cluster-scoped instance is named by its name alone",
		plan: execloopv1alpha1.Plan{
			TypeMeta:   metav1.TypeMeta{APIVersion: "platform.example.com/v1alpha1", Kind: "Tenant"},
			ObjectMeta: metav1.ObjectMeta{Name: "acme"},
			Status:     execloopv1alpha1.PlanStatus{Phase: execloopv1alpha1.PlanSucceeded, Progress: "2/2"},
		},
		want: "Tenant acme  Succeeded  2/2",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			if got := planview.Heading(&tc.plan, planview.Options{}); got != tc.want {
				t.Errorf("Heading() = %q, want %q", got, tc.want)
			}
		})
	}
}
