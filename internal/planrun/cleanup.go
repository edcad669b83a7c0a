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
	"context"
	"fmt"
	"slices"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	execloopv1alpha1 "github.com/execloop/execloop/api/v1alpha1"
	"github.com/execloop/execloop/execloop/executor"
)

// Cleanup is the plan that runs when a Plan is deleted: it deletes the
// objects of the inventory in the reverse of the order they were first
// applied (a task is applied after the tasks it runs after, so this is a
// reverse dependency order), waiting for each to be gone before the next;
// or, with deletionPolicy Orphan, lets each go. It is done when the
// inventory is empty. It never gives up: a removal that fails is tried
// again with backoff, and the Plan's conditions say what it waits for.
//
// When the Plan's namespace is being deleted, the namespace takes the
// objects in it along, and the cleanup deletes only the others (cluster-
// scoped objects, objects in other namespaces). One it may not delete (the
// ServiceAccount it acts as, or its RoleBinding, went with the namespace)
// is named by LeftBehind, in an event and the log, and let go: the
// namespace's deletion must not wait for ever on its Plan.
type Cleanup struct {
	plan   *execloopv1alpha1.Plan
	id     *Identity
	mapper meta.RESTMapper

	NamespaceGoing bool                                                                     // the Plan's namespace is being deleted
	LeftBehind     func(ctx context.Context, obj execloopv1alpha1.AppliedObject, err error) // names an object the cleanup could not delete
}

var (
	_ executor.ContextPlan = (*Cleanup)(nil)
	_ executor.Finisher    = (*Cleanup)(nil)
)

// NewCleanup returns the cleanup of p, as id.
func NewCleanup(p *execloopv1alpha1.Plan, id *Identity, mapper meta.RESTMapper) *Cleanup {
	return &Cleanup{plan: p, id: id, mapper: mapper}
}

// inNamespaceGoing reports whether obj goes with the Plan's namespace.
func (c *Cleanup) inNamespaceGoing(obj execloopv1alpha1.AppliedObject) bool {
	return c.NamespaceGoing && obj.Namespace == c.plan.Namespace
}

// Create calls CreateContext with context.Background().
func (c *Cleanup) Create() ([]executor.Task, error) { return c.CreateContext(context.Background()) }

// CreateContext returns a release task per object to let go, and a
// deletion per object that may go now (deletableNow); the others go in
// later passes, once what must go before them is gone.
func (c *Cleanup) CreateContext(context.Context) ([]executor.Task, error) {
	objs := slices.Clone(c.plan.Status.Objects)
	if c.NamespaceGoing {
		objs = slices.DeleteFunc(objs, c.inNamespaceGoing)
		c.plan.Status.Objects = slices.DeleteFunc(c.plan.Status.Objects, c.inNamespaceGoing)
	}
	if len(objs) == 0 {
		return nil, nil
	}
	// Released: every object under deletionPolicy Orphan, and the objects
	// the plan adopted under adoptionPolicy Release.
	orphan := c.plan.Spec.DeletionPolicy == execloopv1alpha1.DeletionPolicyOrphan
	var tasks []executor.Task
	objs = slices.DeleteFunc(objs, func(obj execloopv1alpha1.AppliedObject) bool {
		e := entryTask{name: c.taskName("release:", obj), plan: c.plan, id: c.id, mapper: c.mapper, obj: obj}
		if c.NamespaceGoing {
			e.giveUp = c.LeftBehind
		}
		if k := entryKind(obj).removal(e); k != nil {
			tasks = append(tasks, k)
			return true
		}
		if orphan || obj.Release {
			tasks = append(tasks, &releaseTask{e})
			return true
		}
		return false
	})
	for _, obj := range deletableNow(c.plan, objs) {
		k := &removal{name: c.taskName("delete:", obj), plan: c.plan, id: c.id, mapper: c.mapper, obj: obj}
		if c.NamespaceGoing {
			k.giveUp = c.LeftBehind
		}
		tasks = append(tasks, k)
	}
	return tasks, nil
}

// taskName is removalName for the cleanup, except that a task that had its
// long name in an earlier pass keeps it once the other entries of its task
// are gone: the cleanup lists no task names, so a status entry it stopped
// reporting would stay, in progress, until the Plan is gone.
func (c *Cleanup) taskName(prefix string, obj execloopv1alpha1.AppliedObject) string {
	if long := longRemovalName(prefix, obj); c.plan.Status.Task(long) != nil {
		return long
	}
	return removalName(prefix, obj, c.plan.Status.Objects)
}

// Finished reports whether the inventory is empty after a pass in which
// every deletion finished.
func (c *Cleanup) Finished() bool { return len(c.plan.Status.Objects) == 0 }

// removal deletes an object of a Plan's inventory (when it is still the
// Plan's) and waits until it is gone, then drops it from the inventory.
type removal struct {
	name    string // see removalName
	plan    *execloopv1alpha1.Plan
	id      *Identity
	mapper  meta.RESTMapper
	obj     execloopv1alpha1.AppliedObject
	deleted bool
	// giveUp, when set, is called instead of failing when the Plan's
	// identity may not delete the object (403, 401): the object is let go.
	giveUp func(ctx context.Context, obj execloopv1alpha1.AppliedObject, err error)
}

var _ executor.ContextTask = (*removal)(nil)

func (k *removal) Name() string { return k.name }
func (k *removal) Pre() error   { return nil }
func (k *removal) PerformAction() ([]executor.Task, error) {
	return k.PerformActionContext(context.Background())
}
func (k *removal) Post() error                      { return k.PostContext(context.Background()) }
func (k *removal) PreContext(context.Context) error { return nil }

func (k *removal) PerformActionContext(ctx context.Context) ([]executor.Task, error) {
	deleted, err := deleteInventoryObject(ctx, k.id, k.mapper, k.plan, k.obj)
	switch {
	case err != nil && k.giveUp != nil && (apierrors.IsForbidden(err) || apierrors.IsUnauthorized(err)):
		k.giveUp(ctx, k.obj, err)
	case err != nil:
		return nil, err
	}
	k.deleted = deleted
	return nil, nil
}

func (k *removal) PostContext(ctx context.Context) error {
	if k.deleted {
		live, err := inventoryObject(ctx, k.id, k.obj)
		if err != nil {
			return err
		}
		if live != nil {
			held := ""
			if f := live.GetFinalizers(); len(f) > 0 {
				held = " (held by the finalizers " + strings.Join(f, ", ") + ")"
			}
			return fmt.Errorf("waiting for %s %s to be deleted%s: %w", k.obj.Kind, ObjectName(k.obj), held, executor.ErrInProgress)
		}
	}
	forget(k.plan, k.obj) // gone, already gone, not the Plan's, or let go
	return nil
}

// entryTask is what the tasks that act on one inventory entry once (a
// release, an unpatch) share: the entry, and no check before or after.
type entryTask struct {
	name   string // see removalName
	plan   *execloopv1alpha1.Plan
	id     *Identity
	mapper meta.RESTMapper
	obj    execloopv1alpha1.AppliedObject
	// giveUp, when set, is called instead of failing when the Plan's
	// identity may not touch the object (403, 401): the entry is dropped.
	giveUp func(ctx context.Context, obj execloopv1alpha1.AppliedObject, err error)
}

// failed returns err, or, when giveUp lets the object go for it, drops the
// entry and returns nil.
func (k *entryTask) failed(ctx context.Context, err error) error {
	if k.giveUp == nil || !apierrors.IsForbidden(err) && !apierrors.IsUnauthorized(err) {
		return err
	}
	k.giveUp(ctx, k.obj, err)
	forget(k.plan, k.obj)
	return nil
}

func (k *entryTask) Name() string                      { return k.name }
func (k *entryTask) Pre() error                        { return nil }
func (k *entryTask) Post() error                       { return nil }
func (k *entryTask) PreContext(context.Context) error  { return nil }
func (k *entryTask) PostContext(context.Context) error { return nil }

// releaseTask lets an object go: it removes the Plan's label, annotation
// and owner reference, so that neither the Plan nor the garbage collector
// touches it again, and drops it from the inventory.
type releaseTask struct {
	entryTask
}

func (k *releaseTask) PerformAction() ([]executor.Task, error) {
	return k.PerformActionContext(context.Background())
}

func (k *releaseTask) PerformActionContext(ctx context.Context) ([]executor.Task, error) {
	u, err := getInventoryObject(ctx, k.id, k.mapper, k.obj)
	if err != nil {
		return nil, k.failed(ctx, err)
	}
	if u != nil && u.GetLabels()[PlanUIDLabel] == string(k.plan.UID) {
		base := u.DeepCopy()
		labels, annotations := u.GetLabels(), u.GetAnnotations()
		delete(labels, PlanUIDLabel)
		delete(annotations, PlanAnnotation)
		delete(annotations, InstanceKindAnnotation)
		u.SetLabels(labels)
		u.SetAnnotations(annotations)
		u.SetOwnerReferences(slices.DeleteFunc(u.GetOwnerReferences(), func(r metav1.OwnerReference) bool { return r.UID == k.plan.UID }))
		if err := k.id.client.Patch(ctx, u, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{})); err != nil && !apierrors.IsNotFound(err) {
			return nil, k.failed(ctx, fmt.Errorf("releasing %s %s as %s: %w", k.obj.Kind, ObjectName(k.obj), k.id.Describe(), err))
		}
	}
	forget(k.plan, k.obj)
	return nil, nil
}

// getInventoryObject reads an inventory object as id; nil when it is gone
// or its kind is no longer served.
func getInventoryObject(ctx context.Context, id *Identity, mapper meta.RESTMapper, obj execloopv1alpha1.AppliedObject) (*unstructured.Unstructured, error) {
	gv, err := schema.ParseGroupVersion(obj.APIVersion)
	if err != nil {
		return nil, nil //nolint:nilerr // an entry that names no valid version names nothing to delete
	}
	gvk := gv.WithKind(obj.Kind)
	if _, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version); meta.IsNoMatchError(err) {
		return nil, nil
	}
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(gvk)
	switch err := id.client.Get(ctx, types.NamespacedName{Namespace: obj.Namespace, Name: obj.Name}, u); {
	case apierrors.IsNotFound(err):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("reading %s %s as %s: %w", obj.Kind, ObjectName(obj), id.Describe(), err)
	}
	return u, nil
}

// deleteInventoryObject deletes an inventory object when it still exists,
// still carries the Plan's label and is the one the plan applied (its UID). It reports whether the object is
// being deleted, so that the caller waits for it to be gone.
func deleteInventoryObject(ctx context.Context, id *Identity, mapper meta.RESTMapper, p *execloopv1alpha1.Plan, obj execloopv1alpha1.AppliedObject) (bool, error) {
	u, err := getInventoryObject(ctx, id, mapper, obj)
	if err != nil || u == nil || u.GetLabels()[PlanUIDLabel] != string(p.UID) {
		return false, err
	}
	if obj.UID != "" && u.GetUID() != obj.UID {
		return false, nil // made again by someone else, labels and all (a restore, a copy): not the one the plan applied
	}
	if u.GetDeletionTimestamp() == nil {
		uid := u.GetUID()
		err := id.client.Delete(ctx, u, client.PropagationPolicy(metav1.DeletePropagationBackground), client.Preconditions{UID: &uid})
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		if err != nil {
			return false, fmt.Errorf("deleting %s %s as %s: %w", obj.Kind, ObjectName(obj), id.Describe(), err)
		}
	}
	return true, nil
}

// inventoryObject reads an inventory object as id; nil once it is gone.
func inventoryObject(ctx context.Context, id *Identity, obj execloopv1alpha1.AppliedObject) (*unstructured.Unstructured, error) {
	u := &unstructured.Unstructured{}
	gv, _ := schema.ParseGroupVersion(obj.APIVersion)
	u.SetGroupVersionKind(gv.WithKind(obj.Kind))
	switch err := id.client.Get(ctx, types.NamespacedName{Namespace: obj.Namespace, Name: obj.Name}, u); {
	case apierrors.IsNotFound(err):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("reading %s %s as %s: %w", obj.Kind, ObjectName(obj), id.Describe(), err)
	}
	return u, nil
}
