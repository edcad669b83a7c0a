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

package reconcilertest_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/execloop/execloop/execloop/reconciler/reconcilertest"
	"github.com/execloop/execloop/execloop/reconciler/status"
)

// thing is the smallest reconciler.Object.
type thing struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Status            status.Status `json:"status,omitempty"`
}

func (t *thing) ExecloopStatus() *status.Status { return &t.Status }

func (t *thing) DeepCopyObject() runtime.Object {
	c := *t
	t.ObjectMeta.DeepCopyInto(&c.ObjectMeta)
	t.Status.DeepCopyInto(&c.Status)
	return &c
}

func readyThing() *thing {
	t := &thing{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "x", Generation: 2}}
	t.Status.ObservedGeneration = 2
	t.Status.Conditions = []metav1.Condition{
		{Type: status.ConditionReady, Status: metav1.ConditionTrue, Reason: status.ReasonSucceeded, ObservedGeneration: 2},
		{Type: status.ConditionStalled, Status: metav1.ConditionFalse, Reason: status.ReasonSucceeded, ObservedGeneration: 2},
	}
	t.Status.Tasks = []status.TaskStatus{{Name: "a", State: status.TaskSucceeded, Attempts: 1}, {Name: "b", State: status.TaskFailed, Attempts: 3, Message: "no room"}}
	return t
}

func TestMatchersMatchTheStatusAndSayWhatTheyFound(t *testing.T) {
	g := gomega.NewWithT(t)
	obj := readyThing()
	g.Expect(obj).To(reconcilertest.BeReady())
	g.Expect(obj).To(reconcilertest.HaveCaughtUp())
	g.Expect(obj).NotTo(reconcilertest.BeStalled())
	g.Expect(obj).NotTo(reconcilertest.BeReconciling())
	g.Expect(obj).To(reconcilertest.HaveCondition(status.ConditionReady, metav1.ConditionTrue, status.ReasonSucceeded))
	g.Expect(obj).To(reconcilertest.HaveTask("a", reconcilertest.TaskState(status.TaskSucceeded), reconcilertest.TaskAttempts(1)))
	g.Expect(obj).To(reconcilertest.HaveTask("b", reconcilertest.TaskState(status.TaskFailed), reconcilertest.TaskMessage("no room")))
	g.Expect(obj).NotTo(reconcilertest.HaveTask("b", reconcilertest.TaskAttempts(1)))
	g.Expect(obj).NotTo(reconcilertest.HaveTask("c"))

	obj.Generation = 3 // a new spec: Ready was for the old one
	g.Expect(obj).NotTo(reconcilertest.BeReady())
	g.Expect(obj).NotTo(reconcilertest.HaveCaughtUp())

	msg := reconcilertest.BeStalled(status.ReasonBudgetExhausted).FailureMessage(obj)
	for _, want := range []string{
		"Expected *reconcilertest_test.thing ns/x (generation 3) to be Stalled for its generation with reason BudgetExhausted",
		"Ready=True Succeeded (generation 2)", "b Failed, attempts 3: no room",
	} {
		g.Expect(msg).To(gomega.ContainSubstring(want))
	}
	g.Expect(reconcilertest.HaveTask("b", reconcilertest.TaskAttempts(1)).FailureMessage(obj)).
		To(gomega.ContainSubstring(`to have a task "b" that is 1 attempts`))
	_, err := reconcilertest.BeReady().Match("not an object")
	g.Expect(err).To(gomega.MatchError(gomega.ContainSubstring("expected a reconciler.Object, got string")))
	var none *thing // what a Step that failed returns
	_, err = reconcilertest.BeReady().Match(none)
	g.Expect(err).To(gomega.MatchError(gomega.ContainSubstring("got a nil *reconcilertest_test.thing")))
	g.Expect(reconcilertest.BeReady().FailureMessage(none)).To(gomega.ContainSubstring("to be Ready"))
}

// recorder is a TB that records a failure instead of ending the test.
type recorder struct {
	testing.TB
	failed   string
	cleanups []func()
}

func (r *recorder) Fatalf(format string, args ...any) { r.failed = fmt.Sprintf(format, args...) }
func (r *recorder) Cleanup(f func())                  { r.cleanups = append(r.cleanups, f) }

// children are the names of this process's child processes.
func children(t *testing.T) []string {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Skip("no /proc here:", err)
	}
	var out []string
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...
		s := string(b)
		end := strings.LastIndexByte(s, ')')
		fields := strings.Fields(s[end+1:])
		if len(fields) > 1 && fields[1] == strconv.Itoa(os.Getpid()) && fields[0] != "Z" {
			out = append(out, s[strings.IndexByte(s, '(')+1:end])
		}
	}
	return out
}

func TestStartStopsWhatItStartedWhenStartUpFailsHalfWay(t *testing.T) {
	if _, err := reconcilertest.Assets(); err != nil {
		t.Skip("no envtest binaries:", err)
	}
	g := gomega.NewWithT(t)
	tb := &recorder{TB: t}
	// The control plane starts; then the CRDs cannot be read.
	env := reconcilertest.Start(tb, reconcilertest.EnvOptions{Scheme: runtime.NewScheme(), CRDDirectoryPaths: []string{filepath.Join(t.TempDir(), "missing")}})
	g.Expect(env).To(gomega.BeNil())
	g.Expect(tb.failed).To(gomega.ContainSubstring("reconcilertest: starting the control plane"))
	g.Expect(tb.cleanups).To(gomega.BeEmpty(), "nothing is left to stop")
	g.Expect(children(t)).NotTo(gomega.ContainElements("kube-apiserver", "etcd"), "kube-apiserver and etcd were stopped")

	tb = &recorder{TB: t}
	reconcilertest.Start(tb, reconcilertest.EnvOptions{})
	g.Expect(tb.failed).To(gomega.ContainSubstring("EnvOptions.Scheme is required"))
}
