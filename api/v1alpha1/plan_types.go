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
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"

	"github.com/execloop/execloop/execloop/reconciler/status"
)

// DeletionPolicy says what happens to the objects a Plan applied when the
// Plan is deleted.
// +kubebuilder:validation:Enum=Delete;Orphan
type DeletionPolicy string

const (
	// DeletionPolicyDelete deletes the objects the plan applied, in reverse
	// dependency order, waiting for each to be gone.
	DeletionPolicyDelete DeletionPolicy = "Delete"
	// DeletionPolicyOrphan leaves the objects in place, without the plan's
	// labels, annotations and owner reference.
	DeletionPolicyOrphan DeletionPolicy = "Orphan"
)

// ImmutableFieldsPolicy says what an apply task does when the API server
// refuses its change because a field the change touches is immutable (a
// Job's pod template, a Service's clusterIP, most of a StatefulSet's spec).
// +kubebuilder:validation:Enum=Fail;Recreate
type ImmutableFieldsPolicy string

const (
	// ImmutableFieldsFail fails the task with a message naming the fields.
	ImmutableFieldsFail ImmutableFieldsPolicy = "Fail"
	// ImmutableFieldsRecreate deletes the object, waits until it is gone,
	// and applies it again.
	ImmutableFieldsRecreate ImmutableFieldsPolicy = "Recreate"
)

// ApplyPolicy says when an apply task writes its object.
// +kubebuilder:validation:Enum=Always;IfNotPresent
type ApplyPolicy string

const (
	// ApplyAlways applies the object whenever it differs from the manifest:
	// missing, changed by the task, or changed by someone else (drift).
	ApplyAlways ApplyPolicy = "Always"
	// ApplyIfNotPresent creates the object when it is missing and never
	// writes it afterwards, for objects another controller takes over.
	ApplyIfNotPresent ApplyPolicy = "IfNotPresent"
)

// AdoptionPolicy says what a Plan does with an object its apply finds
// already there, made by someone else (by hand, Helm, another controller).
// +kubebuilder:validation:Enum=Release;Delete;Refuse
type AdoptionPolicy string

const (
	// AdoptionRelease applies the object and, when its task is removed or
	// the plan deleted, releases it (removes the plan's label, annotation
	// and owner reference) instead of deleting it.
	AdoptionRelease AdoptionPolicy = "Release"
	// AdoptionDelete applies the object and deletes it like one the plan
	// created.
	AdoptionDelete AdoptionPolicy = "Delete"
	// AdoptionRefuse fails the task, naming the object and who manages it,
	// and applies nothing.
	AdoptionRefuse AdoptionPolicy = "Refuse"
)

// PlanPhase is a one-word summary of a Plan's status, for printer columns.
// +kubebuilder:validation:Enum=Pending;Running;Succeeded;Failed;Suspended
type PlanPhase string

// Plan phases.
const (
	// PlanPending: no task has run yet.
	PlanPending PlanPhase = "Pending"
	// PlanRunning: passes are running.
	PlanRunning PlanPhase = "Running"
	// PlanSucceeded: every object is applied, ready, deleted or waited for.
	PlanSucceeded PlanPhase = "Succeeded"
	// PlanFailed: the plan is stalled; see the Stalled condition.
	PlanFailed PlanPhase = "Failed"
	// PlanSuspended: spec.suspend or the paused annotation stops passes.
	PlanSuspended PlanPhase = "Suspended"
)

// PlanSpec declares the tasks of a plan and how to run them.
type PlanSpec struct {
	// serviceAccountName names a ServiceAccount in the Plan's namespace as
	// which the operator reads and writes the plan's objects
	// (impersonation): the plan can do exactly what that ServiceAccount
	// may. Empty means the operator's default (its --default-service-account
	// flag), or the operator's own identity when that is empty too.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	ServiceAccountName string `json:"serviceAccountName,omitempty"`

	// sleepBetweenRuns is the pause between two passes of the plan, such as
	// 2s or 1m, and the first delay of a failed task's backoff (which
	// doubles with each failure in a row, up to the operator's
	// --max-backoff). At least 100ms. Defaults to the operator's
	// --sleep-between-runs flag.
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('100ms')",message="sleepBetweenRuns must be at least 100ms"
	SleepBetweenRuns *metav1.Duration `json:"sleepBetweenRuns,omitempty"`

	// errorsToTolerate is how many task errors the plan survives; the one
	// after that stalls it (Stalled=True, phase Failed) until
	// stalledRetryInterval has passed, when it is tried again with a fresh
	// budget. Defaults to the operator's --errors-to-tolerate flag.
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=10000
	ErrorsToTolerate *int32 `json:"errorsToTolerate,omitempty"`

	// executionTimeout bounds the time the plan may take to converge,
	// counted from its first pass; exceeding it stalls the plan until
	// stalledRetryInterval has passed, like an exhausted budget. Such as
	// 20m. Defaults to the operator's --execution-timeout flag.
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`
	ExecutionTimeout *metav1.Duration `json:"executionTimeout,omitempty"`

	// stalledRetryInterval is how long a plan stalled by its errors or its
	// executionTimeout waits before it is tried again with a fresh error
	// budget and a fresh executionTimeout; it stays Stalled until a retry
	// makes progress with no task failing. 0s means never. An invalid plan
	// or a fatal error is not retried: it waits for a change of the spec or
	// the execloop.dev/reconcile-requested-at annotation. Defaults to the
	// operator's --stalled-retry-interval flag (5m).
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`
	StalledRetryInterval *metav1.Duration `json:"stalledRetryInterval,omitempty"`

	// suspend true stops the plan's passes; the plan's phase is Suspended.
	// +optional
	Suspend bool `json:"suspend,omitempty"`

	// adoptionPolicy is the tasks' default for objects their apply finds
	// already there, made by someone else: Release (the default) applies
	// them and, when the task is removed or the plan deleted, releases them
	// instead of deleting them; Delete deletes them like objects the plan
	// created; Refuse fails the task and applies nothing. An object another
	// Plan applied is always refused.
	// +optional
	AdoptionPolicy AdoptionPolicy `json:"adoptionPolicy,omitempty"`

	// deletionPolicy says what happens to the objects the plan applied when
	// the plan is deleted: Delete (in reverse dependency order, waiting for
	// each to be gone) or Orphan (left in place).
	// +optional
	// +kubebuilder:default=Delete
	DeletionPolicy DeletionPolicy `json:"deletionPolicy,omitempty"`

	// The rule on tasks checks each after against the tasks' names, and its
	// message names the first task whose after names no task of the plan,
	// and that name. Both list the names once, as [self.map(o, o.name)],
	// bound to names by a comprehension over that one-element list (the
	// CRD's CEL has no cel.bind): listing them for each name checked costs
	// 7.9M where the API server allows 10M to create the CRD, and more than
	// its 1M per call on a Plan of 256 tasks each after 8, which it then
	// refuses. Bound, the rule costs 0.54M and the message 0.94M. The
	// message maps each task to the messages for its missing names and
	// takes the first of them flattened: a filter on the tasks first would
	// lose the bounds of their fields, and cost more than 100 times 10M.

	// tasks are the steps of the plan. A task runs once every task it names
	// in after has succeeded.
	// +required
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=256
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:XValidation:rule="[self.map(o, o.name)].all(names, self.all(t, !has(t.after) || t.after.all(a, a in names)))",messageExpression="[self.map(o, o.name)].map(names, self.map(t, has(t.after) ? t.after.filter(a, !(a in names)).map(a, 'task ' + t.name + ': after names ' + a + ', which is not a task of this plan') : []).flatten())[0][0]",message="every name in a task's after must be the name of a task of this plan"
	Tasks []PlanTask `json:"tasks"`
}

// PlanTask is one step of a plan: exactly one of apply, delete, wait and
// patch.
// +kubebuilder:validation:XValidation:rule="[has(self.apply), has(self.delete), has(self.wait), has(self.patch)].filter(x, x).size() == 1",messageExpression="'task ' + self.name + ': exactly one of apply, delete, wait and patch must be set'"
// +kubebuilder:validation:XValidation:rule="!has(self.after) || !(self.name in self.after)",messageExpression="'task ' + self.name + ': after must not name the task itself'"
// +kubebuilder:validation:XValidation:rule="!has(self.apply) || (has(self.apply.metadata) && has(self.apply.metadata.name) && size(self.apply.metadata.name) > 0)",messageExpression="'task ' + self.name + ': apply.metadata.name is required'"
// +kubebuilder:validation:XValidation:rule="!has(self.patch) || (has(self.patch.metadata) && has(self.patch.metadata.name) && size(self.patch.metadata.name) > 0)",messageExpression="'task ' + self.name + ': patch.metadata.name is required'"
// +kubebuilder:validation:XValidation:rule="!has(self.readyWhen) || !has(self.delete)",messageExpression="'task ' + self.name + ': readyWhen goes with apply, wait or patch, not with delete'"
// +kubebuilder:validation:XValidation:rule="!has(self.failedWhen) || !has(self.delete)",messageExpression="'task ' + self.name + ': failedWhen goes with apply, wait or patch, not with delete'"
// +kubebuilder:validation:XValidation:rule="!has(self.adoptionPolicy) || has(self.apply)",messageExpression="'task ' + self.name + ': adoptionPolicy goes with apply'"
// +kubebuilder:validation:XValidation:rule="!has(self.applyPolicy) || self.applyPolicy == 'Always' || has(self.apply)",messageExpression="'task ' + self.name + ': applyPolicy: IfNotPresent goes with apply'"
// +kubebuilder:validation:XValidation:rule="!has(self.immutableFields) || self.immutableFields == 'Fail' || has(self.apply)",messageExpression="'task ' + self.name + ': immutableFields: Recreate goes with apply'"
// +kubebuilder:validation:XValidation:rule="!has(self.forEach) || has(self.apply)",messageExpression="'task ' + self.name + ': forEach goes with apply only (patch, delete and wait name one object each)'"
type PlanTask struct {
	// name names the task in after, in status and in events: a DNS-1123
	// label, unique in the plan.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	Name string `json:"name"`

	// after names the tasks that must have succeeded before this one runs,
	// at most 8 (admission checks every name against the plan's tasks, and
	// that check must stay within the API server's CEL cost budget).
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=8
	// +kubebuilder:validation:items:MaxLength=63
	After []string `json:"after,omitempty"`

	// apply is a whole object to apply with server-side apply (field
	// manager execloop, forcing conflicts: the plan is the source of truth
	// for the fields it sets). Without metadata.namespace, a namespaced
	// object lands in the Plan's namespace. A string value may hold CEL
	// between ${ and }, over plan (the Plan's metadata) and tasks (each
	// task's live object: tasks["db"].object.status.endpoint): one
	// expression alone keeps its type, expressions in a longer string are
	// interpolated, $${ is a literal ${. A task whose expressions read
	// another task runs after it, and waits, spending no error, until the
	// values it reads are there. apiVersion, kind, metadata.name and
	// metadata.namespace hold no expressions, except metadata.name with
	// forEach.
	// +optional
	// +kubebuilder:pruning:PreserveUnknownFields
	// +kubebuilder:validation:EmbeddedResource
	Apply *runtime.RawExtension `json:"apply,omitempty"`

	// forEach makes the task apply one object per item of a list: a map
	// of exactly one variable name to one ${...} CEL expression that gives
	// a list, over the same variables as the manifest's (plan, tasks). The
	// variable is bound to each item in the expressions of the manifest
	// (metadata.name too, which then tells the items' objects apart),
	// readyWhen and failedWhen; includeWhen, which leaves out the whole
	// task, does not see it. Each item's object is known by its group,
	// kind, namespace and name, never by its position: reordering the list
	// writes nothing, removing an item prunes its object alone. Two items
	// rendering the same object, or more than 1000 items, fail the task
	// with nothing of it applied. The task is ready once every item's
	// object is; tasks after it wait for all of them, and read them as
	// tasks["name"].objects, a list. Each object takes an entry of
	// status.objects, at most 512 in all. Only with apply.
	// +optional
	// +kubebuilder:validation:MinProperties=1
	// +kubebuilder:validation:MaxProperties=1
	// +kubebuilder:validation:XValidation:rule="self.all(k, k.matches('^[a-zA-Z_][a-zA-Z0-9_]*$') && size(k) <= 63 && !(k in ['plan', 'tasks', 'instance', 'self', 'object']))",message="forEach's variable must be a CEL identifier of at most 63 characters other than plan, tasks, instance, self and object"
	// +kubebuilder:validation:XValidation:rule="self.all(k, size(self[k]) <= 1024 && self[k].startsWith('${') && self[k].endsWith('}'))",message="forEach's value must be one ${...} expression of at most 1024 characters that gives a list"
	ForEach map[string]string `json:"forEach,omitempty"`

	// delete names an object that must not exist; the task deletes it and
	// waits until it is gone.
	// +optional
	Delete *ObjectReference `json:"delete,omitempty"`

	// wait names an object that must exist (and be ready, with readyWhen)
	// before the tasks after this one run.
	// +optional
	Wait *ObjectReference `json:"wait,omitempty"`

	// patch is part of an object the plan does not own: fields to set on
	// it, such as a label on a Namespace someone else created or an
	// annotation on a Service a Helm release made. It is applied with
	// server-side apply under a field manager of this plan alone
	// (execloop-patch/<plan uid>), forcing conflicts: two plans patching
	// different fields of one object keep each other's, and a field another
	// manager also sets is taken over. A list the API marks atomic is
	// replaced whole. It never creates the object (while the object is
	// missing, the task waits, spending no error) and never deletes it; it
	// adds no label, annotation or owner reference of the plan. A patched
	// field someone else changes is set again. When the task is removed or
	// the plan deleted, whatever its deletionPolicy, the plan gives the
	// fields up: a field only the patch set is removed, one another manager
	// set to the same value keeps it. Expressions work as in apply;
	// apiVersion, kind and metadata.name are required. No other task of the
	// plan may apply, delete or patch the same object, and a task cannot go
	// from apply to patch of one object, or back, while the inventory lists
	// it.
	// +optional
	// +kubebuilder:pruning:PreserveUnknownFields
	// +kubebuilder:validation:EmbeddedResource
	Patch *runtime.RawExtension `json:"patch,omitempty"`

	// readyWhen is a CEL expression over the live object (variable object)
	// that is true once the object is ready, such as
	// "object.status.readyReplicas == object.spec.replicas". Empty means
	// kstatus: ready when the object's status is Current.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	ReadyWhen string `json:"readyWhen,omitempty"`

	// adoptionPolicy overrides spec.adoptionPolicy for this task: what its
	// apply does with an object already there, made by someone else
	// (Release, Delete or Refuse). Only for apply.
	// +optional
	AdoptionPolicy AdoptionPolicy `json:"adoptionPolicy,omitempty"`

	// applyPolicy says when the task writes its object: Always (the
	// default) applies it whenever it is missing, the task changed or
	// someone else changed it; IfNotPresent creates it when it is missing
	// and never writes it afterwards (like Flux's ssa: IfNotPresent), for
	// an object another controller takes over, such as a generated Secret
	// or a spec an autoscaler owns. An object the task did not create is
	// not the plan's: pruning and the plan's deletion leave it alone. Only
	// for apply.
	// +optional
	ApplyPolicy ApplyPolicy `json:"applyPolicy,omitempty"`

	// immutableFields says what an apply does when the API server refuses
	// it because it changes an immutable field: Fail (the default) fails
	// the task, naming the fields; Recreate deletes the object (dependents
	// in the background), waits until it is gone, and applies it again.
	// Waiting for the deletion spends no error and counts against the
	// task's timeout. Only for apply.
	// +optional
	ImmutableFields ImmutableFieldsPolicy `json:"immutableFields,omitempty"`

	// includeWhen is a CEL condition over the same variables as the
	// expressions of a manifest (plan, tasks): false leaves the task out.
	// It is then Skipped, counts as done for the tasks after it, and what
	// it applied earlier is pruned. The task runs after the tasks the
	// condition reads, and waits until the values it reads are there.
	// Empty means always.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	IncludeWhen string `json:"includeWhen,omitempty"`

	// failedWhen is a CEL expression over the live object (variable object)
	// that is true once the object has failed for good, such as
	// "has(object.status.failed) && object.status.failed > 0" for a Job:
	// the task then fails at once, naming the expression, instead of
	// waiting for readyWhen until its timeout. An expression that cannot be
	// evaluated yet (a field not written) is not a failure. Only for apply
	// and wait.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	FailedWhen string `json:"failedWhen,omitempty"`

	// timeout bounds how long the task may wait for its object to become
	// ready (or gone), such as 5m; exceeding it is an error of the task.
	// Empty means no limit of its own.
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`
	Timeout *metav1.Duration `json:"timeout,omitempty"`
}

// ObjectReference names an object for delete and wait tasks.
type ObjectReference struct {
	// apiVersion of the object, such as v1 or apps/v1.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	APIVersion string `json:"apiVersion"`

	// kind of the object, such as ConfigMap.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	Kind string `json:"kind"`

	// name of the object. It may be one CEL expression between ${ and },
	// over the same variables as an apply manifest's (plan, tasks): the
	// task then runs after the tasks it reads, and waits until the name
	// can be known.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`

	// namespace of the object; empty means the Plan's namespace for a
	// namespaced kind.
	// +optional
	// +kubebuilder:validation:MaxLength=63
	Namespace string `json:"namespace,omitempty"`
}

// AppliedObject is an object a task applied: the plan's inventory, one
// entry per object (by group, kind, namespace and name), used to notice
// drift and to prune what a removed or re-pointed task left behind.
type AppliedObject struct {
	// task is the name of the task that last applied the object.
	// +required
	Task string `json:"task"`

	// apiVersion of the object.
	// +required
	APIVersion string `json:"apiVersion"`

	// kind of the object.
	// +required
	Kind string `json:"kind"`

	// namespace of the object; empty for a cluster-scoped object.
	// +optional
	Namespace string `json:"namespace,omitempty"`

	// name of the object.
	// +required
	Name string `json:"name"`

	// uid of the object when it was last applied.
	// +optional
	UID types.UID `json:"uid,omitempty"`

	// manifestHash identifies the manifest as last applied: a new one means
	// the task's spec changed.
	// +optional
	ManifestHash string `json:"manifestHash,omitempty"`

	// liveHash identifies the values of the fields the manifest sets, as the
	// API server returned them after the apply: a change means someone else
	// changed them (drift). Empty when the values are those of the manifest,
	// as they usually are: then manifestHash identifies them.
	// +optional
	LiveHash string `json:"liveHash,omitempty"`

	// adopted is true when the object was there before the plan applied it:
	// made by someone else, and adopted.
	// +optional
	Adopted bool `json:"adopted,omitempty"`

	// release is true when removing the object from the plan (its task
	// removed, the plan deleted) releases it instead of deleting it: an
	// adopted object under adoptionPolicy Release.
	// +optional
	Release bool `json:"release,omitempty"`

	// patched is true when a patch task set fields on the object, which is
	// not the plan's: removing it from the plan gives those fields up
	// instead of deleting or releasing the object.
	// +optional
	Patched bool `json:"patched,omitempty"`
}

// PlanStatus is where a Plan stands.
type PlanStatus struct {
	status.Status `json:",inline"`

	// phase sums the status up in a word: Pending, Running, Succeeded,
	// Failed or Suspended.
	// +optional
	Phase PlanPhase `json:"phase,omitempty"`

	// progress is the number of tasks that succeeded over the number of
	// tasks, such as 2/5.
	// +optional
	Progress string `json:"progress,omitempty"`

	// Only the controller writes objects, and always the whole list: atomic,
	// like the tasks of the embedded status, and for the same reason.

	// objects are the objects the plan's tasks applied, one entry per
	// object: up to one per task, and those of removed or re-pointed tasks
	// until they are pruned. When 512 entries are held, a task that would
	// apply an object with no entry waits until prunes make room.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=512
	Objects []AppliedObject `json:"objects,omitempty"`

	// forEach counts the objects of each task with forEach, one entry per
	// task however many items it has, as of the last pass that read them.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=256
	ForEach []ForEachStatus `json:"forEach,omitempty"`
}

// ForEachStatus counts the objects of a task with forEach.
type ForEachStatus struct {
	// task is the task's name.
	// +required
	// +kubebuilder:validation:MaxLength=63
	Task string `json:"task"`

	// desired is the number of items, each an object.
	// +optional
	Desired int32 `json:"desired"`

	// applied is the number of those objects that are there as their
	// manifests say.
	// +optional
	Applied int32 `json:"applied"`

	// ready is the number of those objects that are ready.
	// +optional
	Ready int32 `json:"ready"`

	// failed is the number of items that failed: an error, or failedWhen.
	// +optional
	Failed int32 `json:"failed"`

	// failing names the first few items that failed or are not ready yet,
	// with why: at most 3.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=3
	// +kubebuilder:validation:items:MaxLength=512
	Failing []string `json:"failing,omitempty"`
}

// Plan declares Kubernetes objects to converge, in order, with waits: the
// operator applies, deletes and waits for them with execloop, one pass per
// reconcile, and reports per-task progress in status.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:categories=execloop
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Tasks",type=string,JSONPath=`.status.progress`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:printcolumn:name="Message",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].message`
type Plan struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec declares the tasks.
	// +required
	Spec PlanSpec `json:"spec"`

	// status is where the plan stands.
	// +optional
	Status PlanStatus `json:"status,omitempty"`
}

// ExecloopStatus implements reconciler.Object.
func (p *Plan) ExecloopStatus() *status.Status { return &p.Status.Status }

// Summarize derives status.phase and status.progress from the rest of the
// status; the reconciler calls it before it writes the status (it
// implements execloop/reconciler.Summarizer).
func (p *Plan) Summarize() {
	st := &p.Status
	succeeded, started := 0, false
	for _, t := range p.Spec.Tasks {
		ts := st.Task(t.Name)
		if ts == nil {
			continue
		}
		if ts.State == status.TaskSucceeded || ts.State == status.TaskSkipped {
			succeeded++ // done
		}
		if ts.State != status.TaskPending {
			started = true
		}
	}
	st.Progress = fmt.Sprintf("%d/%d", succeeded, len(p.Spec.Tasks))

	reconciling := st.Condition(status.ConditionReconciling)
	switch {
	case reconciling != nil && reconciling.Status == metav1.ConditionFalse &&
		(reconciling.Reason == status.ReasonPaused || reconciling.Reason == status.ReasonSuspended):
		st.Phase = PlanSuspended
	case st.IsStalled(p.Generation):
		st.Phase = PlanFailed
	case st.IsReady(p.Generation):
		st.Phase = PlanSucceeded
	case !started:
		st.Phase = PlanPending
	default:
		st.Phase = PlanRunning
	}
}

// +kubebuilder:object:root=true

// PlanList is a list of Plans.
type PlanList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Plan `json:"items"`
}
