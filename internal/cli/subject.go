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

package cli

import (
	"context"
	"fmt"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	execloopv1alpha1 "github.com/execloop/execloop/api/v1alpha1"
	"github.com/execloop/execloop/internal/planrun"
)

// subject is what get draws: a Plan, or an instance of a PlanDefinition's
// kind seen as a Plan (planrun.AsPlan) whose tasks are its definition's.
type subject struct {
	namespace, name string
	// kind is the instance's kind; the zero value for a Plan.
	kind schema.GroupVersionKind
	// tasks is the definition's plan, for an instance: what draws its
	// tasks as a tree. Empty when the user may not read the definition:
	// the tasks of the instance's status are then drawn one under the
	// other.
	tasks execloopv1alpha1.PlanSpec
}

// subjectOf resolves arg: NAME or plan/NAME is a Plan, as everywhere in
// the plugin; RESOURCE/NAME or KIND.GROUP/NAME (webapp/x, webapps/x,
// webapps.platform.example.com/x, WebApp.platform.example.com/x, a short
// name) is resolved with the cluster's discovery, as kubectl does, and
// must be a Plan or the kind of a PlanDefinition.
func (c *cluster) subjectOf(ctx context.Context, arg string) (*subject, error) {
	if name, err := planName(arg); err == nil {
		return &subject{namespace: c.namespace, name: name}, nil
	}
	resource, name, _ := strings.Cut(arg, "/")
	mapper, err := c.mapper()
	if err != nil {
		return nil, err
	}
	m, err := mappingFor(mapper, resource)
	if err != nil {
		return nil, err
	}
	s := &subject{namespace: c.namespace, name: name}
	if m.Scope.Name() == meta.RESTScopeNameRoot {
		s.namespace = ""
	}
	if m.GroupVersionKind.GroupKind() == execloopv1alpha1.GroupVersion.WithKind("Plan").GroupKind() {
		return s, nil
	}
	s.kind = m.GroupVersionKind
	// A definition is named after the CRD it generates: <plural>.<group>.
	var def execloopv1alpha1.PlanDefinition
	switch err := c.client.Get(ctx, client.ObjectKey{Name: m.Resource.GroupResource().String()}, &def); {
	case apierrors.IsForbidden(err):
		return s, nil
	case apierrors.IsNotFound(err):
		return nil, fmt.Errorf("%s is not a Plan nor the kind of a PlanDefinition", m.GroupVersionKind.GroupKind())
	case err != nil:
		return nil, err
	case def.Spec.API.Group != s.kind.Group || def.Spec.API.Kind != s.kind.Kind:
		return nil, fmt.Errorf("%s is not the kind of PlanDefinition %s, which defines %s.%s",
			s.kind.GroupKind(), def.Name, def.Spec.API.Kind, def.Spec.API.Group)
	}
	s.tasks = def.Spec.Plan
	return s, nil
}

// mappingFor resolves a resource ("webapps", "webapp", a short name,
// "webapps.platform.example.com") or a kind ("WebApp.platform.example.com")
// to the mapping of its kind, in the version the server prefers.
func mappingFor(mapper meta.RESTMapper, resourceOrKind string) (*meta.RESTMapping, error) {
	_, resource := schema.ParseResourceArg(resourceOrKind)
	gvk, err := mapper.KindFor(resource.WithVersion(""))
	if err != nil {
		// A kind whose singular is not its name in lower case.
		if m, kindErr := mapper.RESTMapping(schema.ParseGroupKind(resourceOrKind)); kindErr == nil {
			return m, nil
		}
		return nil, fmt.Errorf("%q is not a kind the server has: %w", resourceOrKind, err)
	}
	return mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
}

// String names the subject in messages: "plan ns/x", "WebApp ns/x".
func (s *subject) String() string {
	kind := "plan"
	if !s.kind.Empty() {
		kind = s.kind.Kind
	}
	if s.namespace == "" {
		return kind + " " + s.name
	}
	return kind + " " + s.namespace + "/" + s.name
}

// get reads the subject as a Plan.
func (s *subject) get(ctx context.Context, c client.Reader) (*execloopv1alpha1.Plan, error) {
	key := client.ObjectKey{Namespace: s.namespace, Name: s.name}
	if s.kind.Empty() {
		var p execloopv1alpha1.Plan
		if err := c.Get(ctx, key, &p); err != nil {
			return nil, err
		}
		return &p, nil
	}
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(s.kind)
	if err := c.Get(ctx, key, u); err != nil {
		return nil, err
	}
	return planrun.AsPlan(u, &s.tasks)
}

// list is an empty list of the subject's kind, to watch.
func (s *subject) list() client.ObjectList {
	if s.kind.Empty() {
		return &execloopv1alpha1.PlanList{}
	}
	l := &unstructured.UnstructuredList{}
	l.SetGroupVersionKind(s.kind.GroupVersion().WithKind(s.kind.Kind + "List"))
	return l
}

// asPlan is obj, an object of the subject's kind from a watch, as a Plan.
func (s *subject) asPlan(obj runtime.Object) (*execloopv1alpha1.Plan, error) {
	switch o := obj.(type) {
	case *execloopv1alpha1.Plan:
		return o, nil
	case *unstructured.Unstructured:
		return planrun.AsPlan(o, &s.tasks)
	}
	return nil, fmt.Errorf("watching %s: got a %T", s, obj)
}
