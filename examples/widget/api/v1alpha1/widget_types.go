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

// Package v1alpha1 is the API of the example Widget operator: a Widget
// lists parts, which its controller writes into a ConfigMap, and may name
// a Secret it waits for before it writes its summary.
// +kubebuilder:object:generate=true
// +groupName=widgets.example.execloop.dev
package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/execloop/execloop/execloop/reconciler/status"
)

// GroupVersion is the group and version of Widgets.
var GroupVersion = schema.GroupVersion{Group: "widgets.example.execloop.dev", Version: "v1alpha1"}

var (
	// SchemeBuilder registers the Widget types.
	SchemeBuilder = runtime.NewSchemeBuilder(func(s *runtime.Scheme) error {
		s.AddKnownTypes(GroupVersion, &Widget{}, &WidgetList{})
		metav1.AddToGroupVersion(s, GroupVersion)
		return nil
	})
	// AddToScheme adds the Widget types to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)

// WidgetSpec is what a Widget asks for.
type WidgetSpec struct {
	// parts are written, one per line, into the ConfigMap <name>-parts.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=64
	Parts []string `json:"parts"`

	// secretName, when set, names a Secret in the Widget's namespace that
	// the Widget waits for; its summary, the ConfigMap <name>-summary,
	// lists the Secret's keys (never its values).
	// +optional
	SecretName string `json:"secretName,omitempty"`
}

// WidgetStatus embeds execloop's status: conditions, the error count, and
// the state of each step.
type WidgetStatus struct {
	status.Status `json:",inline"`
}

// Widget is the example operator's resource.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
type Widget struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   WidgetSpec   `json:"spec"`
	Status WidgetStatus `json:"status,omitempty"`
}

// ExecloopStatus implements reconciler.Object.
func (w *Widget) ExecloopStatus() *status.Status { return &w.Status.Status }

// WidgetList is a list of Widgets.
// +kubebuilder:object:root=true
type WidgetList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Widget `json:"items"`
}
