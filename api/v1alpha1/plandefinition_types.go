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

package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// DefinitionDeletionPolicy says what happens when a PlanDefinition is
// deleted while instances of its kind exist.
// +kubebuilder:validation:Enum=Block;Delete;Orphan
type DefinitionDeletionPolicy string

const (
	// DefinitionBlock keeps the definition, and its CRD, while instances
	// exist, and says how many.
	DefinitionBlock DefinitionDeletionPolicy = "Block"
	// DefinitionDelete deletes the instances, waits for their cleanup,
	// then deletes the CRD.
	DefinitionDelete DefinitionDeletionPolicy = "Delete"
	// DefinitionOrphan leaves the CRD, the instances and their objects, and
	// stops reconciling them.
	DefinitionOrphan DefinitionDeletionPolicy = "Orphan"
)

// APIScope says whether the instances of a definition's kind live in a
// namespace.
// +kubebuilder:validation:Enum=Namespaced;Cluster
type APIScope string

// API scopes, as a CRD's spec.scope.
const (
	ScopeNamespaced APIScope = "Namespaced"
	ScopeCluster    APIScope = "Cluster"
)

// DefinitionAPI is the kind a PlanDefinition serves: the CRD it generates.
type DefinitionAPI struct {
	// group is the API group of the kind, such as platform.example.com: a
	// DNS subdomain with at least one dot, and one of the groups the
	// operator's --definition-groups flag allows. Immutable.
	// +required
	// +kubebuilder:validation:MinLength=3
	// +kubebuilder:validation:MaxLength=200
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)+$`
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="spec.api.group is immutable: another group makes another CRD, so write another PlanDefinition"
	Group string `json:"group"`

	// kind is the kind of the instances, in CamelCase, such as WebApp.
	// Immutable.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[A-Z][A-Za-z0-9]*$`
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="spec.api.kind is immutable: another kind makes another CRD, so write another PlanDefinition"
	Kind string `json:"kind"`

	// plural is the resource name of the instances, in lower case, such as
	// webapps; the definition's name is <plural>.<group>. Immutable.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=53
	// +kubebuilder:validation:Pattern=`^[a-z]([-a-z0-9]*[a-z0-9])?$`
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="spec.api.plural is immutable: another plural makes another CRD, so write another PlanDefinition"
	Plural string `json:"plural"`

	// version is the one version the CRD serves and stores, such as
	// v1alpha1. Immutable.
	// +required
	// +kubebuilder:validation:MaxLength=20
	// +kubebuilder:validation:Pattern=`^v[1-9][0-9]*((alpha|beta)[1-9][0-9]*)?$`
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="spec.api.version is immutable: another version makes another CRD, so write another PlanDefinition"
	Version string `json:"version"`

	// scope is Namespaced (the default) or Cluster. Immutable.
	// +optional
	// +kubebuilder:default=Namespaced
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="spec.api.scope is immutable: another scope makes another CRD, so write another PlanDefinition"
	Scope APIScope `json:"scope,omitempty"`

	// spec is the OpenAPI v3 schema of the instances' spec, as in a CRD: it
	// must be structural (every field has a type). Its defaults and
	// validation are enforced by the API server on every instance. The
	// tasks' expressions read it as instance.spec, type-checked against this
	// schema before any instance exists. For example:
	// {type: object, required: [image], properties: {image: {type: string},
	// replicas: {type: integer, default: 2, minimum: 1}}}. A change that
	// existing instances may not survive (a field removed or retyped, a new
	// required field, a narrowed enum or bound, a changed pattern) is not
	// applied unless the definition is annotated
	// execloop.dev/allow-breaking-changes: "true".
	// +required
	// +kubebuilder:pruning:PreserveUnknownFields
	// +kubebuilder:validation:Type=object
	Spec runtime.RawExtension `json:"spec"`

	// status declares the fields set in each instance's status once its
	// tasks are done, by name: a type and a CEL value each, such as
	// url: {type: string, value: '${"http://" + tasks.svc.object.spec.clusterIP}'}.
	// +optional
	// +kubebuilder:validation:MaxProperties=64
	Status map[string]StatusField `json:"status,omitempty"`
}

// StatusField is a field of the instances' status: its type and the value
// to set.
type StatusField struct {
	// type is the field's OpenAPI type.
	// +required
	// +kubebuilder:validation:Enum=string;integer;number;boolean;object;array
	Type string `json:"type"`

	// value is the field's value: a string with CEL between ${ and }, over
	// instance, plan and tasks, as in an apply manifest. It is checked when
	// the definition is compiled: one that names a task or a field that
	// does not exist stalls the definition, naming the field and the
	// expression.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=1024
	Value string `json:"value"`
}

// PlanDefinitionSpec declares a kind and the tasks each of its instances
// runs.
type PlanDefinitionSpec struct {
	// api is the kind the definition serves: its group, kind, plural,
	// version and scope, the schema of its instances' spec and the fields
	// of their status. The operator generates from it the CRD
	// <plural>.<group> (the definition's name), with a status subresource
	// and Ready and Phase columns, once the group is one of its
	// --definition-groups; it never takes over a CRD of that name it did
	// not generate.
	// +required
	API DefinitionAPI `json:"api"`

	// deletionPolicy says what deleting the definition does while instances
	// exist: Block (the default) waits, saying how many; Delete deletes
	// them, waits for their cleanup, then deletes the CRD; Orphan leaves the
	// CRD, the instances and their objects, and stops reconciling them.
	// +optional
	// +kubebuilder:default=Block
	DeletionPolicy DefinitionDeletionPolicy `json:"deletionPolicy,omitempty"`

	// plan is what each instance runs: a Plan's spec, whose expressions see
	// instance (the instance's metadata and spec) beside plan and tasks.
	// +required
	Plan PlanSpec `json:"plan"`
}

// PlanDefinitionStatus is where a PlanDefinition stands.
type PlanDefinitionStatus struct {
	// observedGeneration is the metadata.generation the status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// conditions are Ready (the CRD is generated and Established),
	// Reconciling and Stalled (the definition cannot work as written: its
	// message names the reason), as kstatus reads them.
	// +optional
	// +listType=map
	// +listMapKey=type
	// +patchStrategy=merge
	// +patchMergeKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty" patchStrategy:"merge" patchMergeKey:"type"`

	// instances is how many instances of the kind exist.
	// +optional
	Instances int32 `json:"instances,omitempty"`

	// readyInstances is how many of them are Ready with the definition's
	// current plan: after a change of spec.plan it counts the instances
	// passed again since, as they are (at a bounded rate).
	// +optional
	ReadyInstances int32 `json:"readyInstances,omitempty"`
}

// PlanDefinition turns a schema and a template of tasks into a kind of your
// own: the operator generates the CRD <plural>.<group> and reconciles every
// instance of it as a Plan with the definition's tasks.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,categories=execloop
// +kubebuilder:printcolumn:name="Kind",type=string,JSONPath=`.spec.api.kind`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Instances",type=integer,JSONPath=`.status.instances`
// +kubebuilder:printcolumn:name="Instances-Ready",type=integer,JSONPath=`.status.readyInstances`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:printcolumn:name="Message",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].message`
// +kubebuilder:validation:XValidation:rule="self.metadata.name == self.spec.api.plural + '.' + self.spec.api.group",messageExpression="'metadata.name must be ' + self.spec.api.plural + '.' + self.spec.api.group + ' (<plural>.<group>)'"
type PlanDefinition struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec declares the kind and its tasks.
	// +required
	Spec PlanDefinitionSpec `json:"spec"`

	// status is where the definition stands.
	// +optional
	Status PlanDefinitionStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// PlanDefinitionList is a list of PlanDefinitions.
type PlanDefinitionList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []PlanDefinition `json:"items"`
}
