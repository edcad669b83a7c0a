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
	"strings"

	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	execloopv1alpha1 "github.com/execloop/execloop/api/v1alpha1"
	"github.com/execloop/execloop/internal/planrun"
)

// What a definition may change of what the API server already serves.

// AllowBreakingChangesAnnotation is the annotation that, set to "true" on a
// PlanDefinition, lets breaking changes of its instances' schema through to
// its CRD.
const AllowBreakingChangesAnnotation = "execloop.dev/allow-breaking-changes"

// Reasons of a PlanDefinition's conditions, and of its events, about what
// is already served.
const (
	// ReasonKindServed: another CRD, or the API server itself (a built-in
	// or aggregated API), already serves the definition's kind, or its
	// plural, in its group. Nothing is generated.
	ReasonKindServed = "KindServed"
	// ReasonBreakingChange: spec.api.spec changes the schema the CRD serves
	// in a way its stored instances may not survive (planrun.BreakingChanges),
	// and the definition is not annotated AllowBreakingChangesAnnotation:
	// "true". The CRD is left as it was.
	ReasonBreakingChange = "BreakingChange"
	// ReasonBreakingChangesApplied is the Warning event of breaking changes
	// the annotation let through.
	ReasonBreakingChangesApplied = "BreakingChangesApplied"
)

// maxEventNote is the longest note an events.k8s.io Event may hold.
const maxEventNote = 1024

// refusal says why the definition's CRD must not be applied over what the
// API server serves, as a reason and a message to stall with: another CRD
// or API serves its kind or plural (ReasonKindServed), or its instances'
// schema changes in a way they may not survive (ReasonBreakingChange). It
// returns no reason when the CRD may be applied. live is the definition's
// own CRD, nil when there is none yet. Breaking changes the annotation lets
// through are told in a Warning event, before the apply.
func (r *PlanDefinitionReconciler) refusal(ctx context.Context, def *execloopv1alpha1.PlanDefinition,
	live *apiextensionsv1.CustomResourceDefinition, spec *apiextensionsv1.JSONSchemaProps,
) (reason, message string, err error) {
	if message, err := r.servedElsewhere(ctx, def.Spec.API, live != nil); err != nil || message != "" {
		return ReasonKindServed, message, err
	}
	if live == nil {
		return "", "", nil
	}
	version, old := servedSpecSchema(live)
	if old == nil {
		return "", "", nil
	}
	changes := planrun.BreakingChanges("spec", old, spec)
	if len(changes) == 0 {
		return "", "", nil
	}
	message = fmt.Sprintf("spec.api.spec: breaking changes to the schema of CRD %s, which serves %s: %s",
		live.Name, r.countInstances(ctx, live, version), strings.Join(changes, "; "))
	if def.Annotations[AllowBreakingChangesAnnotation] != "true" {
		return ReasonBreakingChange, message + fmt.Sprintf(
			". The CRD is left as it was; the annotation %s: \"true\" on the definition lets them through",
			AllowBreakingChangesAnnotation), nil
	}
	note := message + fmt.Sprintf(". Applied: the definition is annotated %s: \"true\"", AllowBreakingChangesAnnotation)
	if len(note) > maxEventNote {
		note = strings.ToValidUTF8(note[:maxEventNote-3], "") + "..."
	}
	r.Recorder.Eventf(def, nil, corev1.EventTypeWarning, ReasonBreakingChangesApplied, "Apply", "%s", note)
	return "", "", nil
}

// servedSpecSchema is the storage version of the definition's CRD and the
// schema of its instances' spec; nil when the CRD has none.
func servedSpecSchema(crd *apiextensionsv1.CustomResourceDefinition) (string, *apiextensionsv1.JSONSchemaProps) {
	for _, v := range crd.Spec.Versions {
		if !v.Storage || v.Schema == nil || v.Schema.OpenAPIV3Schema == nil {
			continue
		}
		if spec, ok := v.Schema.OpenAPIV3Schema.Properties["spec"]; ok {
			return v.Name, &spec
		}
	}
	return "", nil
}

// countInstances says how many instances the CRD serves in all namespaces,
// for a message: it lists their metadata only, from the API server.
func (r *PlanDefinitionReconciler) countInstances(ctx context.Context, crd *apiextensionsv1.CustomResourceDefinition, version string) string {
	list := &metav1.PartialObjectMetadataList{}
	list.SetGroupVersionKind(schema.GroupVersionKind{Group: crd.Spec.Group, Version: version, Kind: crd.Spec.Names.ListKind})
	if err := r.APIReader.List(ctx, list); err != nil {
		return "instances that could not be counted (" + err.Error() + ")"
	}
	if len(list.Items) == 1 {
		return "1 instance"
	}
	return fmt.Sprintf("%d instances", len(list.Items))
}

// servedElsewhere names what already serves the kind of api, or its
// plural, in its group, other than the definition's own CRD (own: that
// CRD exists and is the definition's): "" when nothing does. It asks the
// API server's discovery, which lists what is served now, whatever serves
// it.
func (r *PlanDefinitionReconciler) servedElsewhere(ctx context.Context, api execloopv1alpha1.DefinitionAPI, own bool) (string, error) {
	groups, err := r.Discovery.ServerGroups()
	if err != nil {
		return "", err
	}
	for _, g := range groups.Groups {
		if g.Name != api.Group {
			continue
		}
		for _, v := range g.Versions {
			resources, err := r.Discovery.ServerResourcesForGroupVersion(v.GroupVersion)
			if apierrors.IsNotFound(err) {
				continue // gone since
			}
			if err != nil {
				return "", err
			}
			for _, res := range resources.APIResources {
				if strings.Contains(res.Name, "/") || (res.Kind != api.Kind && res.Name != api.Plural) || (res.Name == api.Plural && own) {
					continue
				}
				return r.describeServed(ctx, api, res, v.GroupVersion)
			}
		}
	}
	return "", nil
}

// describeServed is the message for res, served in groupVersion and not
// the definition's: by the CRD <plural>.<group>, or by the API server
// itself.
func (r *PlanDefinitionReconciler) describeServed(ctx context.Context, api execloopv1alpha1.DefinitionAPI, res metav1.APIResource, groupVersion string) (string, error) {
	name := res.Name + "." + api.Group
	crd := &metav1.PartialObjectMetadata{}
	crd.SetGroupVersionKind(apiextensionsv1.SchemeGroupVersion.WithKind("CustomResourceDefinition"))
	by := "CRD " + name
	err := r.APIReader.Get(ctx, client.ObjectKey{Name: name}, crd)
	if apierrors.IsNotFound(err) {
		by = "the API server itself (a built-in or aggregated API, not a CRD)"
	} else if err != nil {
		return "", err
	}
	return fmt.Sprintf("spec.api: %s already serves kind %s, resource %s, in %s: the kind %s and the plural %s must be new to group %s; nothing is generated",
		by, res.Kind, res.Name, groupVersion, api.Kind, api.Plural, api.Group), nil
}
