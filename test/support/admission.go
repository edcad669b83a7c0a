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

package support

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	execloopv1alpha1 "github.com/execloop/execloop/api/v1alpha1"
	"github.com/execloop/execloop/execloop/reconciler"
	"github.com/execloop/execloop/internal/manifest"
)

// finalizerPolicyFile is where the install keeps the MutatingAdmissionPolicy
// that gives new Plans their cleanup finalizer, and its binding, relative to
// the repository's top folder.
var finalizerPolicyFile = filepath.Join("config", "admission", "finalizer_policy.yaml")

// InstallFinalizerPolicy creates the policy and its binding as the install
// ships them, given the path of the repository's top folder, with the
// binding limited to the namespaces namespaceSelector (a LabelSelector, as
// the binding's spec.matchResources takes it) selects. It returns once a
// Plan created in probeNamespace, which the selector must select, gets the
// finalizer (AwaitFinalizerPolicy), or after timeout.
func InstallFinalizerPolicy(ctx context.Context, c client.Client, root string, namespaceSelector map[string]any, probeNamespace string, timeout time.Duration) error {
	path := filepath.Join(root, finalizerPolicyFile)
	objs, err := manifest.ReadFile(path)
	if err != nil {
		return err
	}
	var policy, binding *unstructured.Unstructured
	for _, u := range objs {
		switch u.GetKind() {
		case "MutatingAdmissionPolicy":
			policy = u
		case "MutatingAdmissionPolicyBinding":
			binding = u
		}
	}
	if policy == nil || binding == nil {
		return fmt.Errorf("%s holds no MutatingAdmissionPolicy and binding", path)
	}
	if err := unstructured.SetNestedField(binding.Object, map[string]any{"namespaceSelector": namespaceSelector}, "spec", "matchResources"); err != nil {
		return err
	}
	for _, obj := range []*unstructured.Unstructured{policy, binding} {
		if err := c.Create(ctx, obj); err != nil {
			return fmt.Errorf("creating the %s of %s: %w", obj.GetKind(), path, err)
		}
	}
	return AwaitFinalizerPolicy(ctx, c, probeNamespace, timeout)
}

// AwaitFinalizerPolicy waits until the API server gives a Plan created in
// namespace ns the cleanup finalizer: a policy takes effect a moment after
// it is created. It asks with dry-run creates, which leave nothing behind.
func AwaitFinalizerPolicy(ctx context.Context, c client.Client, ns string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		p := &execloopv1alpha1.Plan{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, GenerateName: "probe-"},
			Spec: execloopv1alpha1.PlanSpec{Tasks: []execloopv1alpha1.PlanTask{{
				Name:  "probe",
				Apply: &runtime.RawExtension{Raw: []byte(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"probe"}}`)},
			}}},
		}
		// Right after the control plane starts, the CRD itself may not be
		// served yet: an error is worth another try until the deadline.
		err := c.Create(ctx, p, client.DryRunAll)
		if err == nil && slices.Contains(p.Finalizers, reconciler.DefaultFinalizer) {
			return nil
		}
		if time.Now().After(deadline) {
			if err != nil {
				return fmt.Errorf("dry-run create of a Plan in %s: %w", ns, err)
			}
			return fmt.Errorf("a Plan created in %s still had no %s finalizer after %s: is the MutatingAdmissionPolicy of %s installed and bound?",
				ns, reconciler.DefaultFinalizer, timeout, finalizerPolicyFile)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}
