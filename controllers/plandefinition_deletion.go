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
	"fmt"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	execloopv1alpha1 "github.com/execloop/execloop/api/v1alpha1"
	"github.com/execloop/execloop/execloop/reconciler"
)

// DefinitionFinalizer holds a PlanDefinition until its deletionPolicy is
// carried out.
const DefinitionFinalizer = "execloop.dev/definition"

// ReasonInstancesExist is the reason of Ready False while the definition is being deleted with deletionPolicy
// Block, or while its instances are being deleted under Delete.
const ReasonInstancesExist = "InstancesExist"

// deletionRecheck is how often a definition being deleted counts its
// instances again.
const deletionRecheck = 2 * time.Second

// addFinalizer puts DefinitionFinalizer on def, before anything is
// generated for it.
func (r *PlanDefinitionReconciler) addFinalizer(ctx context.Context, def *execloopv1alpha1.PlanDefinition) error {
	if controllerutil.ContainsFinalizer(def, DefinitionFinalizer) {
		return nil
	}
	base := def.DeepCopy()
	controllerutil.AddFinalizer(def, DefinitionFinalizer)
	return r.Client.Patch(ctx, def, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{}))
}

// finalize carries out the deletionPolicy of def, which is being deleted,
// then lets it go. The CRD and the instances are touched only when the CRD
// is the definition's (DefinitionLabel):
//   - Block: while instances exist, the definition waits, Ready False with
//     reason InstancesExist saying how many; then the CRD is deleted.
//   - Delete: the instances are deleted, and their cleanup runs as under
//     any Plan's deletion; once none is left, the CRD is deleted.
//   - Orphan: the controller of the instances stops, and the finalizer it
//     put on each instance is removed, so that none waits for a cleanup
//     nobody runs; the CRD, the instances and their objects stay.
//
// Under Block and Delete the instances are reconciled until they are gone,
// so that each one's cleanup runs.
func (r *PlanDefinitionReconciler) finalize(ctx context.Context, def *execloopv1alpha1.PlanDefinition) (ctrl.Result, error) {
	if !controllerutil.ContainsFinalizer(def, DefinitionFinalizer) {
		return ctrl.Result{}, nil
	}
	ours, err := r.ownsCRD(ctx, def)
	if err != nil {
		return ctrl.Result{}, err
	}
	if !ours {
		r.unserve(ctx, def.Name)
		return ctrl.Result{}, r.removeFinalizer(ctx, def)
	}
	instances, err := r.instances(ctx, def)
	if err != nil {
		return ctrl.Result{}, err
	}
	kind := def.Spec.API.Kind
	switch def.Spec.DeletionPolicy {
	case execloopv1alpha1.DefinitionOrphan:
		r.unserve(ctx, def.Name)
		for i := range instances {
			if err := r.release(ctx, &instances[i]); err != nil {
				return ctrl.Result{}, err
			}
		}
		return ctrl.Result{}, r.removeFinalizer(ctx, def)
	case execloopv1alpha1.DefinitionDelete:
		for i := range instances {
			if instances[i].DeletionTimestamp.IsZero() {
				if err := r.Client.Delete(ctx, &instances[i]); client.IgnoreNotFound(err) != nil {
					return ctrl.Result{}, fmt.Errorf("deleting %s %s: %w", kind, client.ObjectKeyFromObject(&instances[i]), err)
				}
			}
		}
		if len(instances) > 0 {
			return ctrl.Result{RequeueAfter: deletionRecheck}, r.setConditions(ctx, def, metav1.ConditionFalse, ReasonInstancesExist,
				fmt.Sprintf("deletionPolicy Delete: deleting %d instances of %s, waiting for their cleanup", len(instances), kind))
		}
	default:
		if len(instances) > 0 {
			return ctrl.Result{RequeueAfter: deletionRecheck}, r.setConditions(ctx, def, metav1.ConditionFalse, ReasonInstancesExist,
				fmt.Sprintf("deletionPolicy Block: %d instances of %s exist; the definition and its CRD go once they are deleted (or set deletionPolicy to Delete or Orphan)", len(instances), kind))
		}
	}
	r.unserve(ctx, def.Name)
	crd := &apiextensionsv1.CustomResourceDefinition{ObjectMeta: metav1.ObjectMeta{Name: def.Name}}
	if err := r.Client.Delete(ctx, crd); client.IgnoreNotFound(err) != nil {
		return ctrl.Result{}, fmt.Errorf("deleting CRD %s: %w", def.Name, err)
	}
	return ctrl.Result{}, r.removeFinalizer(ctx, def)
}

// ownsCRD reports whether the CRD of def's name exists and is def's.
func (r *PlanDefinitionReconciler) ownsCRD(ctx context.Context, def *execloopv1alpha1.PlanDefinition) (bool, error) {
	live := &metav1.PartialObjectMetadata{}
	live.SetGroupVersionKind(apiextensionsv1.SchemeGroupVersion.WithKind("CustomResourceDefinition"))
	err := r.APIReader.Get(ctx, client.ObjectKey{Name: def.Name}, live)
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	return err == nil && live.GetLabels()[DefinitionLabel] == def.Name, err
}

// instances lists the metadata of def's instances, in all namespaces,
// from the API server.
func (r *PlanDefinitionReconciler) instances(ctx context.Context, def *execloopv1alpha1.PlanDefinition) ([]metav1.PartialObjectMetadata, error) {
	api := def.Spec.API
	l := &metav1.PartialObjectMetadataList{}
	gvk := schema.GroupVersionKind{Group: api.Group, Version: api.Version, Kind: api.Kind}
	l.SetGroupVersionKind(gvk.GroupVersion().WithKind(api.Kind + "List"))
	if err := r.APIReader.List(ctx, l); err != nil {
		if apierrors.IsNotFound(err) || meta.IsNoMatchError(err) {
			return nil, nil // the CRD is not served (any more)
		}
		return nil, fmt.Errorf("listing the instances of %s: %w", api.Kind, err)
	}
	for i := range l.Items {
		l.Items[i].SetGroupVersionKind(gvk)
	}
	return l.Items, nil
}

// release removes the finalizer the instances' controller put on an
// instance.
func (r *PlanDefinitionReconciler) release(ctx context.Context, obj *metav1.PartialObjectMetadata) error {
	if !controllerutil.ContainsFinalizer(obj, reconciler.DefaultFinalizer) {
		return nil
	}
	base := obj.DeepCopy()
	controllerutil.RemoveFinalizer(obj, reconciler.DefaultFinalizer)
	if err := r.Client.Patch(ctx, obj, client.MergeFrom(base)); client.IgnoreNotFound(err) != nil {
		return fmt.Errorf("removing the finalizer of %s %s: %w", obj.Kind, client.ObjectKeyFromObject(obj), err)
	}
	return nil
}

// removeFinalizer lets the definition go.
func (r *PlanDefinitionReconciler) removeFinalizer(ctx context.Context, def *execloopv1alpha1.PlanDefinition) error {
	base := def.DeepCopy()
	controllerutil.RemoveFinalizer(def, DefinitionFinalizer)
	return client.IgnoreNotFound(r.Client.Patch(ctx, def, client.MergeFrom(base)))
}
