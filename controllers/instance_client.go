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
	"encoding/json"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	execloopv1alpha1 "github.com/execloop/execloop/api/v1alpha1"
)

// An instance of a definition is driven by the same reconciler as a Plan
// (reconciler.Reconciler[*Plan]): these clients show it each instance as a
// Plan (planrun.Definition.AsPlan) and write what it changes of that Plan,
// its finalizer and its status, into the instance as the same JSON merge
// patch. The field names of a Plan's metadata and status are the
// instance's. Any other object passes through to the manager's client.

// instanceReader reads an instance as a Plan from reader (the manager's
// cache, or the API server).
type instanceReader struct {
	client.Reader
	ic *instanceController
}

// Get reads the instance at key into obj when obj is a Plan.
func (r instanceReader) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	p, ok := obj.(*execloopv1alpha1.Plan)
	if !ok {
		return r.Reader.Get(ctx, key, obj, opts...)
	}
	u := r.ic.newInstance()
	if err := r.Reader.Get(ctx, key, u, opts...); err != nil {
		return err
	}
	return r.ic.asPlan(u, p)
}

// instanceClient is the manager's client, but for instances seen as Plans,
// which it reads from the cache and patches as instances.
type instanceClient struct {
	client.Client
	cache instanceReader
}

// Get reads an instance from the cache as a Plan.
func (c instanceClient) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	return c.cache.Get(ctx, key, obj, opts...)
}

// Patch writes a patch of an instance seen as a Plan (its finalizers) into
// the instance.
func (c instanceClient) Patch(ctx context.Context, obj client.Object, patch client.Patch, opts ...client.PatchOption) error {
	p, ok := obj.(*execloopv1alpha1.Plan)
	if !ok {
		return c.Client.Patch(ctx, obj, patch, opts...)
	}
	data, err := patch.Data(obj)
	if err != nil {
		return err
	}
	if data, err = instancePatch(data, nil); err != nil {
		return err
	}
	u := c.cache.ic.instanceOf(p)
	if err := c.Client.Patch(ctx, u, client.RawPatch(patch.Type(), data), opts...); err != nil {
		return err
	}
	return c.cache.ic.asPlan(u, p)
}

// Status writes the status of instances seen as Plans into the instances.
func (c instanceClient) Status() client.SubResourceWriter {
	return instanceStatusWriter{SubResourceWriter: c.Client.Status(), c: c}
}

// instanceStatusWriter writes a Plan's status patch into its instance's
// status, with the instance's declared status fields as the last pass
// evaluated them.
type instanceStatusWriter struct {
	client.SubResourceWriter
	c instanceClient
}

// Patch writes the status patch of an instance seen as a Plan into the
// instance, adding the declared fields whose values changed.
func (w instanceStatusWriter) Patch(ctx context.Context, obj client.Object, patch client.Patch, opts ...client.SubResourcePatchOption) error {
	p, ok := obj.(*execloopv1alpha1.Plan)
	if !ok {
		return w.SubResourceWriter.Patch(ctx, obj, patch, opts...)
	}
	data, err := patch.Data(obj)
	if err != nil {
		return err
	}
	ic := w.c.cache.ic
	if data, err = instancePatch(data, ic.changedFields(ctx, client.ObjectKeyFromObject(p))); err != nil {
		return err
	}
	u := ic.instanceOf(p)
	if err := w.SubResourceWriter.Patch(ctx, u, client.RawPatch(patch.Type(), data), opts...); err != nil {
		return err
	}
	ic.wrote(u)
	return ic.asPlan(u, p)
}

// instancePatch is the merge patch data of an instance seen as a Plan as
// the instance takes it: without the Plan's spec, which is the
// definition's (a pass resolves the names of its manifests in place), and
// with the status fields set.
func instancePatch(data []byte, fields map[string]any) ([]byte, error) {
	patch := map[string]any{}
	if err := json.Unmarshal(data, &patch); err != nil {
		return nil, err
	}
	delete(patch, "spec")
	if len(fields) == 0 {
		return json.Marshal(patch)
	}
	st, _ := patch["status"].(map[string]any)
	if st == nil {
		st = map[string]any{}
		patch["status"] = st
	}
	for k, v := range fields {
		st[k] = v
	}
	return json.Marshal(patch)
}

// instanceOf is an empty instance of the controller's kind named as p.
func (ic *instanceController) instanceOf(p *execloopv1alpha1.Plan) *unstructured.Unstructured {
	u := ic.newInstance()
	u.SetNamespace(p.Namespace)
	u.SetName(p.Name)
	return u
}
