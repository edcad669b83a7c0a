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
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/execloop/execloop/execloop"
	"github.com/execloop/execloop/execloop/executor"
	"github.com/execloop/execloop/execloop/reconciler"
	"github.com/execloop/execloop/execloop/reconciler/status"
)

// inProgressFor makes a task wait (ErrInProgress) for its first n runs.
func inProgressFor(n int, why string) func(int) error {
	return func(run int) error {
		if run <= n {
			return fmt.Errorf("%s: %w", why, executor.ErrInProgress)
		}
		return nil
	}
}

// createWidget creates a widget with the given steps in ns.
func createWidget(ns, name string, steps ...string) {
	w := &Widget{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: WidgetSpec{Steps: steps}}
	Expect(k8sClient.Create(suiteCtx, w)).To(Succeed())
}

func options(sleep time.Duration, tolerate int) execloop.Options {
	return execloop.Options{SleepBetweenRuns: sleep, ErrorsToTolerate: tolerate}
}

var _ = Describe("A Reconciler", func() {
	var (
		ns string
		s  *script
	)
	BeforeEach(func() {
		ns = newNamespace()
		s = newScript()
	})

	It("runs one pass per reconcile until the plan needs no more tasks, recording each task", func() {
		s.set("b", inProgressFor(2, "warming up"))
		stop := startManager(ns, func(ctrl.Manager) *reconciler.Reconciler[*Widget] {
			return &reconciler.Reconciler[*Widget]{Name: uniqueName(), Plan: s.planFor, Options: options(100*time.Millisecond, 3)}
		})
		DeferCleanup(stop)
		createWidget(ns, "converge", "a", "b", "c")

		Eventually(func(g Gomega) {
			w := widget(g, ns, "converge")
			g.Expect(condition(w, status.ConditionReady)).To(Equal("True/Succeeded"))
			g.Expect(w.Status.ObservedGeneration).To(Equal(w.Generation))
			g.Expect(w.Status.Condition(status.ConditionReconciling)).To(BeNil())
			g.Expect(w.Status.Condition(status.ConditionStalled)).To(BeNil())
			g.Expect(w.Status.Errors).To(BeZero())
			g.Expect(w.Status.Tasks).To(HaveLen(3))
			for i, name := range []string{"a", "b", "c"} {
				t := w.Status.Tasks[i]
				g.Expect(t.Name).To(Equal(name))
				g.Expect(t.State).To(Equal(status.TaskSucceeded))
				g.Expect(t.Attempts).To(Equal(int32(1)), "task %s: waits are the same attempt", name)
				g.Expect(t.FinishedTime).NotTo(BeNil())
			}
		}).Should(Succeed())
		Expect(s.count("a")).To(Equal(1))
		Expect(s.count("b")).To(Equal(3))
		Expect(s.count("c")).To(Equal(1))
		Expect(len(s.passTimes())).To(BeNumerically(">=", 4), "three passes with tasks, one that finds none")
		Eventually(func(g Gomega) []string { return eventsAbout(g, ns, "converge") }).
			Should(ContainElement("Normal/PlanCompleted: All 3 tasks succeeded"))
	})

	It("writes the status at most N+2 times for N tasks that succeed at once, and never for a converged object", func() {
		writes := &statusWrites{}
		stop := startManager(ns, func(mgr ctrl.Manager) *reconciler.Reconciler[*Widget] {
			writes.Client = mgr.GetClient()
			return &reconciler.Reconciler[*Widget]{
				Name: uniqueName(), Plan: s.planFor, Client: writes,
				Options: options(100*time.Millisecond, 0), ResyncInterval: 200 * time.Millisecond,
			}
		})
		DeferCleanup(stop)
		createWidget(ns, "frugal", "a", "b", "c", "d", "e")

		Eventually(func(g Gomega) {
			g.Expect(condition(widget(g, ns, "frugal"), status.ConditionReady)).To(Equal("True/Succeeded"))
		}).Should(Succeed())
		converged := writes.n.Load()
		Expect(converged).To(BeNumerically("<=", 5+2))
		passes := len(s.passTimes())

		// However slow the machine, three resync passes run before the count
		// is read again.
		Eventually(func() int { return len(s.passTimes()) }).Should(BeNumerically(">=", passes+3), "resync passes ran")
		Expect(writes.n.Load()).To(Equal(converged), "the resync passes wrote nothing")
	})

	It("writes the status after a conflict, on a fresh copy of the object", func() {
		conflicts := &conflictOnce{}
		stop := startManager(ns, func(mgr ctrl.Manager) *reconciler.Reconciler[*Widget] {
			conflicts.Client = mgr.GetClient()
			return &reconciler.Reconciler[*Widget]{Name: uniqueName(), Plan: s.planFor, Client: conflicts, Options: options(100*time.Millisecond, 0)}
		})
		DeferCleanup(stop)
		createWidget(ns, "contended", "a")
		Eventually(func(g Gomega) {
			w := widget(g, ns, "contended")
			g.Expect(condition(w, status.ConditionReady)).To(Equal("True/Succeeded"))
			g.Expect(w.Status.Task("a")).To(HaveField("State", status.TaskSucceeded))
		}).Should(Succeed())
		Expect(conflicts.injected.Load()).To(BeNumerically(">=", 1))
		Expect(s.count("a")).To(Equal(1))
	})

	It("never starts a pass sooner than SleepBetweenRuns after the previous one, whatever triggers reconciles", func() {
		const sleep = 300 * time.Millisecond
		// The task waits for six passes, and until the spec has poked the
		// object more than twice per pass so far: the pokes fall while
		// passes run, however fast or slow the machine is.
		var poked atomic.Int32
		s.set("slow", func(run int) error {
			if run <= 6 || int(poked.Load()) <= 2*len(s.passTimes()) {
				return fmt.Errorf("not yet: %w", executor.ErrInProgress)
			}
			return nil
		})
		stop := startManager(ns, func(ctrl.Manager) *reconciler.Reconciler[*Widget] {
			return &reconciler.Reconciler[*Widget]{Name: uniqueName(), Plan: s.planFor, Options: options(sleep, 0)}
		})
		DeferCleanup(stop)
		createWidget(ns, "paced", "slow")

		// Poke the object every 50ms: each annotation change is a reconcile.
		Eventually(func(g Gomega) {
			latest := widget(g, ns, "paced")
			patch := client.MergeFrom(latest.DeepCopyObject().(*Widget))
			latest.Annotations = map[string]string{"poke": fmt.Sprint(poked.Load())}
			g.Expect(k8sClient.Patch(suiteCtx, latest, patch)).To(Succeed())
			poked.Add(1)
			g.Expect(condition(latest, status.ConditionReady)).To(Equal("True/Succeeded"))
		}).WithPolling(50 * time.Millisecond).Should(Succeed())

		times := s.passTimes()
		Expect(len(times)).To(BeNumerically(">=", 7), "six waits, then success")
		Expect(int(poked.Load())).To(BeNumerically(">", len(times)), "more reconciles were triggered than passes ran")
		for i := 1; i < len(times); i++ {
			// The time is taken in the plan factory, a moment after the reconcile began.
			Expect(times[i].Sub(times[i-1])).To(BeNumerically(">=", sleep-5*time.Millisecond), "pass %d came %s after pass %d", i+1, times[i].Sub(times[i-1]), i)
		}
	})

	It("shows a waiting task as InProgress with what it waits for, without counting attempts", func() {
		release := make(chan struct{})
		s.set("db", func(int) error {
			select {
			case <-release:
				return nil
			default:
				return fmt.Errorf("1 of 3 replicas ready: %w", executor.ErrInProgress)
			}
		})
		stop := startManager(ns, func(ctrl.Manager) *reconciler.Reconciler[*Widget] {
			return &reconciler.Reconciler[*Widget]{Name: uniqueName(), Plan: s.planFor, Options: options(100*time.Millisecond, 0)}
		})
		DeferCleanup(stop)
		createWidget(ns, "waiting", "db", "app")

		Eventually(func(g Gomega) {
			w := widget(g, ns, "waiting")
			db := w.Status.Task("db")
			g.Expect(db).NotTo(BeNil())
			g.Expect(db.State).To(Equal(status.TaskInProgress))
			g.Expect(db.Message).To(Equal("PerformAction: 1 of 3 replicas ready"))
			g.Expect(db.Attempts).To(BeZero())
			g.Expect(condition(w, status.ConditionReconciling)).To(Equal("True/Progressing"))
			g.Expect(condition(w, status.ConditionReady)).To(Equal("False/Progressing"))
			g.Expect(w.Status.Condition(status.ConditionReady).Message).To(ContainSubstring("db is InProgress"))
			g.Expect(w.Status.NextPassTime).NotTo(BeNil())
		}).Should(Succeed())
		Eventually(s.count).WithArguments("db").Should(BeNumerically(">=", 3))

		close(release)
		Eventually(func(g Gomega) {
			w := widget(g, ns, "waiting")
			g.Expect(condition(w, status.ConditionReady)).To(Equal("True/Succeeded"))
			g.Expect(w.Status.Task("db")).To(HaveField("Attempts", int32(1)))
			g.Expect(w.Status.Task("db")).To(HaveField("Message", BeEmpty()))
		}).Should(Succeed())
	})

	It("stalls when the error budget is exhausted, stays quiet, and starts afresh when the spec changes", func() {
		s.set("flaky", func(int) error { return errors.New("connection refused") })
		stop := startManager(ns, func(ctrl.Manager) *reconciler.Reconciler[*Widget] {
			return &reconciler.Reconciler[*Widget]{Name: uniqueName(), Plan: s.planFor, Options: options(100*time.Millisecond, 2)}
		})
		DeferCleanup(stop)
		createWidget(ns, "budget", "ok", "flaky")

		Eventually(func(g Gomega) {
			w := widget(g, ns, "budget")
			g.Expect(condition(w, status.ConditionStalled)).To(Equal("True/BudgetExhausted"))
			g.Expect(condition(w, status.ConditionReady)).To(Equal("False/BudgetExhausted"))
			g.Expect(w.Status.Condition(status.ConditionStalled).Message).To(ContainSubstring("connection refused"))
			g.Expect(w.Status.Condition(status.ConditionReconciling)).To(BeNil())
			g.Expect(w.Status.Errors).To(Equal(int32(3)))
			g.Expect(w.Status.Task("flaky")).To(HaveField("State", status.TaskFailed))
			g.Expect(w.Status.Task("flaky")).To(HaveField("Attempts", int32(3)))
			g.Expect(w.Status.Task("ok")).To(HaveField("State", status.TaskSucceeded))
		}).Should(Succeed())
		Expect(s.count("flaky")).To(Equal(3))

		passes := len(s.passTimes())
		Consistently(func() int { return len(s.passTimes()) }, time.Second).Should(Equal(passes), "a stalled object is quiet")
		Eventually(func(g Gomega) []string { return eventsAbout(g, ns, "budget") }).Should(And(
			ContainElement(HavePrefix("Warning/PlanStalled: execloop: task \"flaky\" failed in PerformAction and exhausted the error budget")),
			ContainElement("Warning/TaskFailed: Task flaky failed (attempt 1): PerformAction: connection refused"),
		))
		Expect(eventsAbout(Default, ns, "budget")).To(HaveEach(Not(HavePrefix("Warning/TaskFailed: Task flaky failed (attempt 2)"))),
			"an identical failure makes no new event")

		s.set("flaky", nil)
		Eventually(func(g Gomega) {
			w := widget(g, ns, "budget")
			w.Spec.Note = "fixed the network"
			g.Expect(k8sClient.Update(suiteCtx, w)).To(Succeed())
		}).Should(Succeed())
		Eventually(func(g Gomega) {
			w := widget(g, ns, "budget")
			g.Expect(condition(w, status.ConditionReady)).To(Equal("True/Succeeded"))
			g.Expect(w.Status.Condition(status.ConditionStalled)).To(BeNil())
			g.Expect(w.Status.Errors).To(BeZero())
			g.Expect(w.Status.ObservedGeneration).To(Equal(w.Generation))
		}).Should(Succeed())
		Expect(s.count("ok")).To(Equal(1), "the finished task did not run again")
	})

	It("stalls at once on a fatal error and on a plan that cannot be built", func() {
		s.set("doomed", func(int) error { return executor.Fatal(errors.New("the disk is gone")) })
		stop := startManager(ns, func(ctrl.Manager) *reconciler.Reconciler[*Widget] {
			return &reconciler.Reconciler[*Widget]{
				Name: uniqueName(), Options: options(100*time.Millisecond, 10),
				Plan: func(ctx context.Context, w *Widget) (executor.Plan, error) {
					if len(w.Spec.Steps) == 0 {
						return nil, reconcile.TerminalError(errors.New("spec.steps: at least one step is required"))
					}
					return s.planFor(ctx, w)
				},
			}
		})
		DeferCleanup(stop)
		createWidget(ns, "fatal", "doomed", "never")
		createWidget(ns, "invalid")

		Eventually(func(g Gomega) {
			w := widget(g, ns, "fatal")
			g.Expect(condition(w, status.ConditionStalled)).To(Equal("True/FatalError"))
			g.Expect(w.Status.Condition(status.ConditionStalled).Message).To(ContainSubstring("the disk is gone"))
			g.Expect(w.Status.Task("never")).To(HaveField("State", status.TaskPending))
		}).Should(Succeed())
		Expect(s.count("doomed")).To(Equal(1))
		Expect(s.count("never")).To(BeZero())
		Eventually(func(g Gomega) {
			w := widget(g, ns, "invalid")
			g.Expect(condition(w, status.ConditionStalled)).To(Equal("True/InvalidPlan"))
			g.Expect(w.Status.Condition(status.ConditionStalled).Message).To(Equal("spec.steps: at least one step is required"))
		}).Should(Succeed())
	})

	It("does nothing while paused, and goes on when the annotation is removed", func() {
		stop := startManager(ns, func(ctrl.Manager) *reconciler.Reconciler[*Widget] {
			return &reconciler.Reconciler[*Widget]{Name: uniqueName(), Plan: s.planFor, Options: options(100*time.Millisecond, 0)}
		})
		DeferCleanup(stop)
		w := &Widget{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "paused", Annotations: map[string]string{reconciler.PausedAnnotation: "true"}},
			Spec:       WidgetSpec{Steps: []string{"a"}},
		}
		Expect(k8sClient.Create(suiteCtx, w)).To(Succeed())

		Eventually(func(g Gomega) string {
			return condition(widget(g, ns, "paused"), status.ConditionReconciling)
		}).Should(Equal("False/Paused"))
		Consistently(s.count).WithArguments("a").WithTimeout(time.Second).Should(BeZero())
		Expect(s.passTimes()).To(BeEmpty())

		Eventually(func(g Gomega) {
			latest := widget(g, ns, "paused")
			delete(latest.Annotations, reconciler.PausedAnnotation)
			g.Expect(k8sClient.Update(suiteCtx, latest)).To(Succeed())
		}).Should(Succeed())
		Eventually(func(g Gomega) string {
			return condition(widget(g, ns, "paused"), status.ConditionReady)
		}).Should(Equal("True/Succeeded"))
		Expect(s.count("a")).To(Equal(1))
	})

	It("runs the cleanup plan when the object is deleted, one pass per reconcile, then removes its finalizer", func() {
		stop := startManager(ns, func(ctrl.Manager) *reconciler.Reconciler[*Widget] {
			return &reconciler.Reconciler[*Widget]{
				Name: uniqueName(), Plan: s.planFor, Cleanup: s.cleanupFor, Options: options(100*time.Millisecond, 0),
			}
		})
		DeferCleanup(stop)
		createWidget(ns, "doomed", "a", "b", "c")

		Eventually(func(g Gomega) {
			w := widget(g, ns, "doomed")
			g.Expect(condition(w, status.ConditionReady)).To(Equal("True/Succeeded"))
			g.Expect(controllerutil.ContainsFinalizer(w, reconciler.DefaultFinalizer)).To(BeTrue())
		}).Should(Succeed())
		Expect(s.cleanupOrder()).To(BeEmpty())

		Expect(k8sClient.Delete(suiteCtx, &Widget{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "doomed"}})).To(Succeed())
		Eventually(func() bool {
			err := k8sClient.Get(suiteCtx, client.ObjectKey{Namespace: ns, Name: "doomed"}, &Widget{})
			return apierrors.IsNotFound(err)
		}).Should(BeTrue())
		Expect(s.cleanupOrder()).To(Equal([]string{"undo-c", "undo-b", "undo-a"}))
		passes := s.passTimes()
		Expect(len(passes)).To(BeNumerically(">=", 2))
	})

	It("keeps the finalizers others add while it adds its own", func() {
		race := &finalizerRace{other: "example.com/other"}
		stop := startManager(ns, func(mgr ctrl.Manager) *reconciler.Reconciler[*Widget] {
			race.Client = mgr.GetClient()
			return &reconciler.Reconciler[*Widget]{
				Name: uniqueName(), Plan: s.planFor, Cleanup: s.cleanupFor, Client: race, Options: options(100*time.Millisecond, 0),
			}
		})
		DeferCleanup(stop)
		createWidget(ns, "shared", "a")

		Eventually(func(g Gomega) {
			w := widget(g, ns, "shared")
			g.Expect(condition(w, status.ConditionReady)).To(Equal("True/Succeeded"))
			g.Expect(w.Finalizers).To(ConsistOf(reconciler.DefaultFinalizer, "example.com/other"))
		}).Should(Succeed())
		Expect(race.raced.Load()).To(BeTrue(), "the other finalizer was added between the reconciler's read and its patch")
	})

	It("resumes after a restart without running finished tasks again", func() {
		release := make(chan struct{})
		s.set("b", func(int) error {
			select {
			case <-release:
				return nil
			default:
				return fmt.Errorf("waiting: %w", executor.ErrInProgress)
			}
		})
		newReconciler := func(ctrl.Manager) *reconciler.Reconciler[*Widget] {
			return &reconciler.Reconciler[*Widget]{Name: uniqueName(), Plan: s.planFor, Options: options(100*time.Millisecond, 0)}
		}
		stop := startManager(ns, newReconciler)
		createWidget(ns, "restart", "a", "b", "c")
		Eventually(func(g Gomega) {
			w := widget(g, ns, "restart")
			g.Expect(w.Status.Task("a")).To(HaveField("State", status.TaskSucceeded))
			g.Expect(w.Status.Task("b")).To(HaveField("State", status.TaskInProgress))
		}).Should(Succeed())
		stop()
		ranBefore := s.count("a")
		Expect(ranBefore).To(Equal(1))

		close(release)
		DeferCleanup(startManager(ns, newReconciler))
		Eventually(func(g Gomega) string {
			return condition(widget(g, ns, "restart"), status.ConditionReady)
		}).Should(Equal("True/Succeeded"))
		Expect(s.count("a")).To(Equal(1), "the new manager did not run the finished task again")
		Expect(s.count("c")).To(Equal(1))
	})

	It("counts passes and tasks in metrics, traces each pass with a span per task and tells its Observer", func() {
		spans := tracetest.NewSpanRecorder()
		name := uniqueName()
		told := &taskCounter{}
		stop := startManager(ns, func(ctrl.Manager) *reconciler.Reconciler[*Widget] {
			return &reconciler.Reconciler[*Widget]{
				Name: name, Plan: s.planFor, Options: options(100*time.Millisecond, 0),
				TracerProvider: sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans)),
				Observer:       told,
			}
		})
		DeferCleanup(stop)
		createWidget(ns, "observed", "a", "b")
		Eventually(func(g Gomega) string {
			return condition(widget(g, ns, "observed"), status.ConditionReady)
		}).Should(Equal("True/Succeeded"))

		Eventually(func() float64 {
			return metricValue("execloop_objects", map[string]string{"controller": name, "state": "Ready"})
		}).Should(Equal(1.0))
		Expect(metricValue("execloop_task_executions_total", map[string]string{"controller": name, "outcome": "Succeeded"})).To(Equal(2.0))
		Expect(metricValue("execloop_task_duration_seconds", map[string]string{"controller": name, "outcome": "Succeeded"})).To(Equal(2.0))
		Expect(metricLabels("execloop_")).NotTo(ContainElement("task"), "task names are chosen by users, without bound")
		Expect(metricValue("execloop_passes_total", map[string]string{"controller": name, "result": "progressing"})).To(Equal(1.0))
		Expect(metricValue("execloop_passes_total", map[string]string{"controller": name, "result": "done"})).To(BeNumerically(">=", 1))

		ended := spans.Ended()
		var pass sdktrace.ReadOnlySpan
		for _, sp := range ended {
			if sp.Name() == "execloop.pass" && sp.ChildSpanCount() == 2 {
				pass = sp
			}
		}
		Expect(pass).NotTo(BeNil(), "a pass span with two task spans")
		var children []string
		for _, sp := range ended {
			if sp.Parent().SpanID() == pass.SpanContext().SpanID() {
				children = append(children, sp.Name())
			}
		}
		Expect(children).To(ConsistOf("execloop.task a", "execloop.task b"))
		Expect(told.finished("a")).To(Equal(1), "the Reconciler's Observer was told about task a")
		Expect(told.finished("b")).To(Equal(1), "the Reconciler's Observer was told about task b")
	})
})

// taskCounter is an Observer that counts the finished executions of each
// task, safe for the concurrent reconciles of a manager.
type taskCounter struct {
	execloop.NopObserver
	mu sync.Mutex
	n  map[string]int
}

func (c *taskCounter) TaskFinished(_ context.Context, e execloop.TaskEvent) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[string]int{}
	}
	c.n[e.Task]++
}

func (c *taskCounter) finished(task string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[task]
}
