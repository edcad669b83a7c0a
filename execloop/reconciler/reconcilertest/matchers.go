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

package reconcilertest

import (
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/onsi/gomega/types"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/execloop/execloop/execloop/reconciler"
	"github.com/execloop/execloop/execloop/reconciler/status"
)

// BeReady succeeds for an object whose Ready condition is True for its
// current generation: its plan is done.
func BeReady() types.GomegaMatcher {
	return &objectMatcher{what: "be Ready for its generation", match: func(obj reconciler.Object) (bool, error) {
		return obj.ExecloopStatus().IsReady(obj.GetGeneration()), nil
	}}
}

// BeStalled succeeds for an object whose Stalled condition is True for its
// current generation, with one of reasons when any are given (such as
// status.ReasonBudgetExhausted or status.ReasonInvalidPlan).
func BeStalled(reasons ...string) types.GomegaMatcher {
	return &objectMatcher{what: "be Stalled for its generation" + reasonsText(reasons), match: func(obj reconciler.Object) (bool, error) {
		st := obj.ExecloopStatus()
		if !st.IsStalled(obj.GetGeneration()) {
			return false, nil
		}
		return len(reasons) == 0 || slices.Contains(reasons, st.Condition(status.ConditionStalled).Reason), nil
	}}
}

// BeReconciling succeeds for an object whose Reconciling condition is
// True: its plan has tasks left.
func BeReconciling() types.GomegaMatcher {
	return HaveCondition(status.ConditionReconciling, metav1.ConditionTrue)
}

// HaveCondition succeeds for an object with a condition of type condType
// and status st, with one of reasons when any are given.
func HaveCondition(condType string, st metav1.ConditionStatus, reasons ...string) types.GomegaMatcher {
	return &objectMatcher{what: fmt.Sprintf("have condition %s=%s%s", condType, st, reasonsText(reasons)), match: func(obj reconciler.Object) (bool, error) {
		c := obj.ExecloopStatus().Condition(condType)
		return c != nil && c.Status == st && (len(reasons) == 0 || slices.Contains(reasons, c.Reason)), nil
	}}
}

// HaveCaughtUp succeeds for an object whose status.observedGeneration is
// its generation: the Reconciler has seen its latest spec.
func HaveCaughtUp() types.GomegaMatcher {
	return &objectMatcher{what: "have status.observedGeneration equal to its generation", match: func(obj reconciler.Object) (bool, error) {
		return obj.ExecloopStatus().ObservedGeneration == obj.GetGeneration(), nil
	}}
}

// HaveTask succeeds for an object whose status has a task named name that
// every one of matchers matches: TaskState, TaskAttempts, TaskMessage, or
// any matcher of a status.TaskStatus (gstruct's, say).
func HaveTask(name string, matchers ...types.GomegaMatcher) types.GomegaMatcher {
	what := fmt.Sprintf("have a task %q", name)
	if len(matchers) > 0 {
		var parts []string
		for _, m := range matchers {
			parts = append(parts, describe(m))
		}
		what += " that is " + strings.Join(parts, ", ")
	}
	return &objectMatcher{what: what, match: func(obj reconciler.Object) (bool, error) {
		t := obj.ExecloopStatus().Task(name)
		if t == nil {
			return false, nil
		}
		for _, m := range matchers {
			if ok, err := m.Match(*t); !ok || err != nil {
				return false, err
			}
		}
		return true, nil
	}}
}

// TaskState matches a status.TaskStatus in state.
func TaskState(state status.TaskState) types.GomegaMatcher {
	return &taskMatcher{what: string(state), match: func(t status.TaskStatus) bool { return t.State == state }}
}

// TaskAttempts matches a status.TaskStatus with n attempts.
func TaskAttempts(n int32) types.GomegaMatcher {
	return &taskMatcher{what: fmt.Sprintf("%d attempts", n), match: func(t status.TaskStatus) bool { return t.Attempts == n }}
}

// TaskMessage matches a status.TaskStatus whose message (its last error,
// or what it waits for) contains substr.
func TaskMessage(substr string) types.GomegaMatcher {
	return &taskMatcher{what: fmt.Sprintf("a message containing %q", substr), match: func(t status.TaskStatus) bool {
		return strings.Contains(t.Message, substr)
	}}
}

// objectMatcher matches a reconciler.Object, and says what it found.
type objectMatcher struct {
	what  string
	match func(reconciler.Object) (bool, error)
}

func (m *objectMatcher) Match(actual any) (bool, error) {
	obj, ok := actual.(reconciler.Object)
	switch {
	case !ok:
		return false, fmt.Errorf("expected a reconciler.Object, got %T", actual)
	case isNil(obj):
		return false, fmt.Errorf("expected a reconciler.Object, got a nil %T (did the step that returned it fail?)", actual)
	}
	return m.match(obj)
}

func (m *objectMatcher) FailureMessage(actual any) string {
	return fmt.Sprintf("Expected %s to %s\n%s", name(actual), m.what, summary(actual))
}

func (m *objectMatcher) NegatedFailureMessage(actual any) string {
	return fmt.Sprintf("Expected %s not to %s\n%s", name(actual), m.what, summary(actual))
}

// taskMatcher matches a status.TaskStatus.
type taskMatcher struct {
	what  string
	match func(status.TaskStatus) bool
}

func (m *taskMatcher) Match(actual any) (bool, error) {
	switch t := actual.(type) {
	case status.TaskStatus:
		return m.match(t), nil
	case *status.TaskStatus:
		return t != nil && m.match(*t), nil
	}
	return false, fmt.Errorf("expected a status.TaskStatus, got %T", actual)
}

func (m *taskMatcher) FailureMessage(actual any) string {
	return fmt.Sprintf("Expected task %+v to be %s", actual, m.what)
}

func (m *taskMatcher) NegatedFailureMessage(actual any) string {
	return fmt.Sprintf("Expected task %+v not to be %s", actual, m.what)
}

// describe says what a matcher of a task matches.
func describe(m types.GomegaMatcher) string {
	if t, ok := m.(*taskMatcher); ok {
		return t.what
	}
	return fmt.Sprintf("matched by %T", m)
}

func name(actual any) string {
	if obj, ok := actual.(reconciler.Object); ok && !isNil(obj) {
		return fmt.Sprintf("%T %s/%s (generation %d)", obj, obj.GetNamespace(), obj.GetName(), obj.GetGeneration())
	}
	return fmt.Sprintf("%T", actual)
}

// summary is an object's conditions and tasks, for failure messages.
func summary(actual any) string {
	obj, ok := actual.(reconciler.Object)
	if !ok || isNil(obj) {
		return ""
	}
	st := obj.ExecloopStatus()
	var b strings.Builder
	fmt.Fprintf(&b, "observedGeneration %d; conditions:", st.ObservedGeneration)
	if len(st.Conditions) == 0 {
		b.WriteString(" none")
	}
	for _, c := range st.Conditions {
		fmt.Fprintf(&b, "\n    %s=%s %s (generation %d): %s", c.Type, c.Status, c.Reason, c.ObservedGeneration, c.Message)
	}
	b.WriteString("\ntasks:")
	if len(st.Tasks) == 0 {
		b.WriteString(" none")
	}
	for _, t := range st.Tasks {
		fmt.Fprintf(&b, "\n    %s %s, attempts %d: %s", t.Name, t.State, t.Attempts, t.Message)
	}
	return b.String()
}

func reasonsText(reasons []string) string {
	if len(reasons) == 0 {
		return ""
	}
	return " with reason " + strings.Join(reasons, " or ")
}

// isNil reports a typed nil pointer in an interface.
func isNil(obj reconciler.Object) bool {
	v := reflect.ValueOf(obj)
	return !v.IsValid() || v.Kind() == reflect.Pointer && v.IsNil()
}
