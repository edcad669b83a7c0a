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
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/execloop/execloop/internal/transient"
)

// A status write is tried this many times, after a conflict (on a fresh
// copy of the object) or a transient error (after a backoff that doubles);
// adding the finalizer as many times, after a conflict.
const (
	writeAttempts      = 5
	statusWriteBackoff = 50 * time.Millisecond
)

// statusWriteTimeout bounds a status write. Status writes outlive the
// reconcile's context, so that what a pass did is recorded even when the
// manager is stopping: otherwise a restarted operator would run finished
// tasks again.
const statusWriteTimeout = 10 * time.Second

// write patches the object's status when it differs from what was read,
// leaving out the pass times: a pass that changed nothing else costs no
// write. The patch carries the resourceVersion; on a conflict the status is
// put on a fresh copy of the object and written again.
func (s *session[T]) write(ctx context.Context) error {
	if sum, ok := any(s.obj).(Summarizer); ok {
		sum.Summarize()
	}
	st, was := s.obj.ExecloopStatus(), s.base.ExecloopStatus()
	last := &metav1.Time{Time: s.now}
	next := st.NextPassTime
	st.LastPassTime, st.NextPassTime = was.LastPassTime, was.NextPassTime
	if equality.Semantic.DeepEqual(s.base, s.obj) {
		st.NextPassTime = next
		return nil
	}
	st.LastPassTime, st.NextPassTime = last, next

	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), statusWriteTimeout)
	defer cancel()
	for attempt := 1; ; attempt++ {
		err := s.r.Client.Status().Patch(ctx, s.obj, client.MergeFromWithOptions(s.base, client.MergeFromWithOptimisticLock{}))
		switch {
		case err == nil:
			s.m.rv = s.obj.GetResourceVersion()
			s.base = s.obj.DeepCopyObject().(T)
			return nil
		case attempt == writeAttempts:
			return fmt.Errorf("writing the status: %w", err)
		case apierrors.IsConflict(err):
			if err := s.refresh(ctx); err != nil {
				return err
			}
		case transient.Error(err):
			select {
			case <-time.After(statusWriteBackoff << (attempt - 1)):
			case <-ctx.Done():
				return fmt.Errorf("writing the status: %w", err)
			}
		default:
			return fmt.Errorf("writing the status: %w", err)
		}
	}
}

// refresh reads the object again after a conflict and puts the status of
// this reconcile on it, so that the next write carries the new
// resourceVersion and clobbers nothing but the status.
func (s *session[T]) refresh(ctx context.Context) error {
	fresh := s.r.newObject()
	if err := s.r.APIReader.Get(ctx, s.key, fresh); err != nil {
		return fmt.Errorf("reading the object again after a conflict: %w", err)
	}
	base := fresh.DeepCopyObject().(T) // the object as the server has it: what the patch is made against
	if err := copyStatus(fresh, s.obj); err != nil {
		return err
	}
	s.base, s.obj = base, fresh
	return nil
}

// copyStatus puts src's whole status (the embedded Status and the fields
// around it) onto dst.
func copyStatus[T Object](dst, src T) error {
	from, err := runtime.DefaultUnstructuredConverter.ToUnstructured(src)
	if err != nil {
		return err
	}
	to, err := runtime.DefaultUnstructuredConverter.ToUnstructured(dst)
	if err != nil {
		return err
	}
	if status, ok := from["status"]; ok {
		to["status"] = status
	} else {
		delete(to, "status")
	}
	return runtime.DefaultUnstructuredConverter.FromUnstructured(to, dst)
}
