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

package reconciler

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
)

// addFinalizer adds the Reconciler's finalizer, so that the cleanup plan
// runs before the object goes. A merge patch replaces the whole list of
// finalizers, so it is made under the object's resourceVersion: when someone
// wrote the object since it was read (another controller adding its own
// finalizer, say), the patch is made again against the object as the API
// server has it, rather than drop what they wrote. gone reports an object
// deleted meanwhile: nothing was applied for it, so there is nothing to
// clean up and the reconcile ends.
func (s *session[T]) addFinalizer(ctx context.Context) (gone bool, err error) {
	for attempt := 1; ; attempt++ {
		patch := client.MergeFromWithOptions(s.base, client.MergeFromWithOptimisticLock{})
		controllerutil.AddFinalizer(s.obj, s.r.Finalizer)
		err := s.r.Client.Patch(ctx, s.obj, patch)
		if err == nil {
			s.m.rv = s.obj.GetResourceVersion()
			s.base = s.obj.DeepCopyObject().(T)
			return false, nil
		}
		if !apierrors.IsConflict(err) || attempt == writeAttempts {
			return false, fmt.Errorf("adding the finalizer %s: %w", s.r.Finalizer, err)
		}
		fresh := s.r.newObject()
		if err := s.r.APIReader.Get(ctx, s.key, fresh); err != nil {
			if apierrors.IsNotFound(err) {
				return true, nil
			}
			return false, fmt.Errorf("reading the object again to add the finalizer %s: %w", s.r.Finalizer, err)
		}
		s.base, s.obj = fresh.DeepCopyObject().(T), fresh
		switch {
		case !fresh.GetDeletionTimestamp().IsZero():
			return true, nil
		case controllerutil.ContainsFinalizer(fresh, s.r.Finalizer):
			s.m.rv = fresh.GetResourceVersion()
			return false, nil
		}
	}
}

// removeFinalizer lets the object go once its cleanup plan is done.
func (s *session[T]) removeFinalizer(ctx context.Context) error {
	patch := client.MergeFromWithOptions(s.base, client.MergeFromWithOptimisticLock{})
	controllerutil.RemoveFinalizer(s.obj, s.r.Finalizer)
	if err := s.r.Client.Patch(ctx, s.obj, patch); err != nil {
		return fmt.Errorf("removing the finalizer %s: %w", s.r.Finalizer, err)
	}
	s.r.forget(s.key)
	s.event(corev1.EventTypeNormal, eventCleanupCompleted, "The cleanup plan needs no more tasks")
	return nil
}
