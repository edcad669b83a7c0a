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
	"errors"
	"slices"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// The refusals below are built as the API server builds them (field
// errors of its validation), for the kinds whose fields users most often
// change by mistake.
func TestImmutableFields(t *testing.T) {
	invalid := func(kind string, errs ...*field.Error) error {
		return apierrors.NewInvalid(schema.GroupKind{Kind: kind}, "x", field.ErrorList(errs))
	}
	cases := map[string]struct {
		err  error
		want []string
	}{
		"a Job's pod template":   {invalid("Job", field.Invalid(field.NewPath("spec", "template"), "{...}", "field is immutable")), []string{"spec.template"}},
		"a Service's clusterIPs": {invalid("Service", field.Invalid(field.NewPath("spec", "clusterIPs").Index(0), "10.0.0.9", "may not change once set")), []string{"spec.clusterIPs[0]"}},
		"a StatefulSet's spec": {invalid("StatefulSet", field.Forbidden(field.NewPath("spec"),
			"updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden")), []string{"spec"}},
		"a PersistentVolumeClaim's spec": {invalid("PersistentVolumeClaim", field.Forbidden(field.NewPath("spec"), "spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims")), []string{"spec"}},
		"a CRD's validation rule":        {invalid("Gadget", field.Invalid(field.NewPath("spec", "size"), 3, "Value is immutable")), []string{"spec.size"}},
		"two fields, one of them twice": {invalid("Job", field.Invalid(field.NewPath("spec", "template"), "{...}", "field is immutable"),
			field.Invalid(field.NewPath("spec", "selector"), "{...}", "field is immutable"), field.Invalid(field.NewPath("spec", "template"), "{...}", "field is immutable")),
			[]string{"spec.template", "spec.selector"}},
		"an invalid value that may change": {invalid("ConfigMap", field.Invalid(field.NewPath("data"), "x", "a valid config key must consist of alphanumeric characters")), nil},
		"a denial":                         {apierrors.NewForbidden(schema.GroupResource{Resource: "jobs"}, "x", errors.New("no")), nil},
		"no error":                         {nil, nil},
	}
	for name, c := range cases {
		if got := immutableFields(c.err); !slices.Equal(got, c.want) {
			t.Errorf("%s: immutableFields = %v, want %v", name, got, c.want)
		}
	}
}
