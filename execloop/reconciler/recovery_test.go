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

package reconciler_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/execloop/execloop/execloop/executor"
	"github.com/execloop/execloop/execloop/reconciler"
	"github.com/execloop/execloop/execloop/reconciler/status"
)

// attempt is one run of a task, with the next attempt time the status held
// when its pass started.
type attempt struct {
	at      time.Time
	allowed time.Time // zero when the status held none
}

// attempts records the runs of one task of a test's widgets.
type attempts struct {
	mu      sync.Mutex
	allowed time.Time // as of the pass running now
	runs    []attempt
}

// planFor notes the task's next attempt time as the pass starts.
func (a *attempts) planFor(s *script, task string) func(context.Context, *Widget) (executor.Plan, error) {
	return func(ctx context.Context, w *Widget) (executor.Plan, error) {
		a.mu.Lock()
		a.allowed = time.Time{}
		if t := w.Status.Task(task); t != nil && t.NextAttemptTime != nil {
			a.allowed = t.NextAttemptTime.Time
		}
		a.mu.Unlock()
		return s.planFor(ctx, w)
	}
}

func (a *attempts) ran() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.runs = append(a.runs, attempt{at: time.Now(), allowed: a.allowed})
}

func (a *attempts) list() []attempt {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]attempt(nil), a.runs...)
}

// annotate sets an annotation of a widget.
func annotate(ns, name, key, value string) {
	GinkgoHelper()
	Eventually(func(g Gomega) {
		w := widget(g, ns, name)
		patch := client.MergeFrom(w.DeepCopyObject().(*Widget))
		w.Annotations = map[string]string{key: value}
		g.Expect(k8sClient.Patch(suiteCtx, w, patch)).To(Succeed())
	}).Should(Succeed())
}

var _ = Describe("A Reconciler recovering by itself", func() {
	var (
		ns string
		s  *script
	)
	BeforeEach(func() {
		ns = newNamespace()
		s = newScript()
	})

	It("tries a failed task again after a backoff that doubles, kept in status, while the other tasks go on", func() {
		const sleep = 200 * time.Millisecond
		flaky := &attempts{}
		s.set("flaky", func(run int) error {
			flaky.ran()
			if run <= 3 {
				return errors.New("the webhook answered 503")
			}
			return nil
		})
		s.set("slow", inProgressFor(12, "warming up"))
		stop := startManager(ns, func(ctrl.Manager) *reconciler.Reconciler[*Widget] {
			return &reconciler.Reconciler[*Widget]{Name: uniqueName(), Plan: flaky.planFor(s, "flaky"), Options: options(sleep, 10)}
		})
		DeferCleanup(stop)
		createWidget(ns, "backoff", "flaky", "slow")

		Eventually(func(g Gomega) {
			t := widget(g, ns, "backoff").Status.Task("flaky")
			g.Expect(t).NotTo(BeNil())
			g.Expect(t.State).To(Equal(status.TaskFailed))
			g.Expect(t.Failures).To(Equal(int32(1)))
			g.Expect(t.NextAttemptTime).NotTo(BeNil())
		}).Should(Succeed())
		Eventually(func(g Gomega) {
			w := widget(g, ns, "backoff")
			g.Expect(condition(w, status.ConditionReady)).To(Equal("True/Succeeded"))
			g.Expect(w.Status.Task("flaky")).To(HaveField("Failures", BeZero()))
			g.Expect(w.Status.Task("flaky")).To(HaveField("NextAttemptTime", BeNil()))
			g.Expect(w.Status.Errors).To(BeZero(), "a converged object starts afresh")
		}).Should(Succeed())

		runs := flaky.list()
		Expect(runs).To(HaveLen(4), "three failures, then success")
		Expect(runs[0].allowed.IsZero()).To(BeTrue())
		for i := 1; i < len(runs); i++ {
			Expect(runs[i].allowed.IsZero()).To(BeFalse(), "attempt %d ran with no backoff recorded", i+1)
			Expect(runs[i].at).NotTo(BeTemporally("<", runs[i].allowed), "attempt %d ran before its next attempt time", i+1)
		}
		for i := 2; i < len(runs); i++ {
			// Each attempt time is its pass's time plus the delay, and that
			// pass came no sooner than the attempt time before it.
			want := sleep << (i - 1)
			Expect(runs[i].allowed.Sub(runs[i-1].allowed)).To(BeNumerically(">=", want), "the delay after failure %d", i)
		}
		Expect(s.count("slow")).To(BeNumerically(">=", 12), "the task that does not depend on it went on meanwhile")
	})

	It("retries an object stalled by its budget with a fresh one after RetryStalled, and stays Stalled until a retry succeeds", func() {
		var failing atomic.Bool
		failing.Store(true)
		var duringRetry atomic.Value // the Stalled condition as the retry's second attempt starts
		s.set("flaky", func(run int) error {
			if run == 4 {
				var w Widget
				if err := k8sClient.Get(suiteCtx, client.ObjectKey{Namespace: ns, Name: "retried"}, &w); err == nil {
					duringRetry.Store(condition(&w, status.ConditionStalled))
				}
			}
			if failing.Load() {
				return errors.New("forbidden while the RoleBinding propagates")
			}
			return nil
		})
		s.set("doomed", func(int) error { return executor.Fatal(errors.New("the disk is gone")) })
		stop := startManager(ns, func(ctrl.Manager) *reconciler.Reconciler[*Widget] {
			return &reconciler.Reconciler[*Widget]{
				Name: uniqueName(), Plan: s.planFor, Options: options(100*time.Millisecond, 1), RetryStalled: 2 * time.Second,
			}
		})
		DeferCleanup(stop)
		createWidget(ns, "fatal", "doomed")
		Eventually(func(g Gomega) string { return condition(widget(g, ns, "fatal"), status.ConditionStalled) }).Should(Equal("True/FatalError"))
		createWidget(ns, "retried", "flaky")

		var retryAt time.Time
		Eventually(func(g Gomega) {
			w := widget(g, ns, "retried")
			g.Expect(condition(w, status.ConditionStalled)).To(Equal("True/BudgetExhausted"))
			g.Expect(w.Status.NextPassTime).NotTo(BeNil(), "the retry's time is in status")
			retryAt = w.Status.NextPassTime.Time
		}).Should(Succeed())
		Expect(s.count("flaky")).To(Equal(2))
		// The status keeps whole seconds, so the retry comes no sooner than
		// the time it shows: until then the object is quiet.
		if quiet := time.Until(retryAt); quiet > 0 {
			Consistently(s.count).WithArguments("flaky").WithTimeout(quiet).Should(Equal(2), "retried before RetryStalled")
		}

		Eventually(s.count).WithArguments("flaky").Should(BeNumerically(">=", 4), "a retry with a fresh budget of one error ran twice")
		// The count goes up as the fourth run starts, before its read is
		// stored: wait for the read.
		Eventually(duringRetry.Load).Should(Equal("True/BudgetExhausted"), "Stalled while the retry's tasks fail, not only once it stalls again")
		Expect(condition(widget(Default, ns, "retried"), status.ConditionStalled)).To(Equal("True/BudgetExhausted"), "a retry that fails stays Stalled")

		failing.Store(false)
		Eventually(func(g Gomega) {
			w := widget(g, ns, "retried")
			g.Expect(condition(w, status.ConditionReady)).To(Equal("True/Succeeded"))
			g.Expect(w.Status.Condition(status.ConditionStalled)).To(BeNil())
		}).Should(Succeed())
		Expect(s.count("doomed")).To(Equal(1), "a fatal error is not retried")
	})

	It("starts a pass at once with a fresh budget when the requested-at annotation gets a new value, and records the value", func() {
		// Two failures spend the budget of one error; after the annotation
		// a third is tolerated again, and the fourth run succeeds.
		s.set("flaky", func(run int) error {
			if run <= 3 {
				return errors.New("no route to host")
			}
			return nil
		})
		stop := startManager(ns, func(ctrl.Manager) *reconciler.Reconciler[*Widget] {
			return &reconciler.Reconciler[*Widget]{
				Name: uniqueName(), Plan: s.planFor, Options: options(100*time.Millisecond, 1), RetryStalled: -1,
			}
		})
		DeferCleanup(stop)
		createWidget(ns, "requested", "flaky")
		Eventually(func(g Gomega) string { return condition(widget(g, ns, "requested"), status.ConditionStalled) }).
			Should(Equal("True/BudgetExhausted"))
		Expect(s.count("flaky")).To(Equal(2))

		annotate(ns, "requested", reconciler.RequestedAtAnnotation, "2026-12-01T12:00:00Z")
		Eventually(func(g Gomega) {
			w := widget(g, ns, "requested")
			g.Expect(condition(w, status.ConditionReady)).To(Equal("True/Succeeded"))
			g.Expect(w.Status.LastHandledReconcileAt).To(Equal("2026-12-01T12:00:00Z"))
		}).Should(Succeed())
		Expect(s.count("flaky")).To(Equal(4))
	})

	It("never gives up a cleanup: a failing cleanup task is retried with backoff, whatever the budget, and says why it waits", func() {
		var undo atomic.Int32
		cleanup := executor.PlanFunc(func(context.Context) ([]executor.Task, error) {
			if undo.Load() > 3 {
				return nil, nil // undone
			}
			return []executor.Task{executor.NewTask("undo", executor.TaskFuncs{
				PerformAction: func(context.Context) ([]executor.Task, error) {
					if undo.Add(1) <= 3 {
						return nil, errors.New(`configmaps "x" is forbidden`)
					}
					return nil, nil
				},
			})}, nil
		})
		stop := startManager(ns, func(ctrl.Manager) *reconciler.Reconciler[*Widget] {
			return &reconciler.Reconciler[*Widget]{
				Name: uniqueName(), Plan: s.planFor, Options: options(100*time.Millisecond, 0),
				Cleanup: func(context.Context, *Widget) (executor.Plan, error) { return cleanup, nil },
			}
		})
		DeferCleanup(stop)
		createWidget(ns, "tidy", "a")
		Eventually(func(g Gomega) string { return condition(widget(g, ns, "tidy"), status.ConditionReady) }).Should(Equal("True/Succeeded"))

		Expect(k8sClient.Delete(suiteCtx, &Widget{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "tidy"}})).To(Succeed())
		Eventually(func(g Gomega) {
			w := widget(g, ns, "tidy")
			g.Expect(condition(w, status.ConditionReady)).To(Equal("False/Deleting"))
			g.Expect(w.Status.Condition(status.ConditionReady).Message).To(ContainSubstring(`undo is Failed (PerformAction: configmaps "x" is forbidden, next attempt at`))
		}).Should(Succeed())
		Eventually(func() bool {
			return apierrors.IsNotFound(k8sClient.Get(suiteCtx, client.ObjectKey{Namespace: ns, Name: "tidy"}, &Widget{}))
		}).Should(BeTrue())
		Expect(undo.Load()).To(Equal(int32(4)))
	})
})
