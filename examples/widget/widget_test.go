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

package widget_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/execloop/execloop/examples/widget"
	"github.com/execloop/execloop/examples/widget/api/v1alpha1"
	"github.com/execloop/execloop/execloop/reconciler"
	"github.com/execloop/execloop/execloop/reconciler/reconcilertest"
	"github.com/execloop/execloop/execloop/reconciler/status"
)

var (
	ctx    = context.Background()
	scheme = runtime.NewScheme()
	env    *reconcilertest.Env
)

func TestWidget(t *testing.T) {
	RegisterFailHandler(Fail)
	SetDefaultEventuallyTimeout(20 * time.Second)
	SetDefaultEventuallyPollingInterval(50 * time.Millisecond)
	RunSpecs(t, "The Widget operator")
}

// controller is the Widget controller as the suite runs it: a pass every
// 100ms.
func controller() *reconciler.Reconciler[*v1alpha1.Widget] {
	r := widget.New()
	r.Options.SleepBetweenRuns = 100 * time.Millisecond
	return r
}

var _ = BeforeSuite(func() {
	Expect(clientgoscheme.AddToScheme(scheme)).To(Succeed())
	Expect(v1alpha1.AddToScheme(scheme)).To(Succeed())
	env = reconcilertest.Start(GinkgoT(), reconcilertest.EnvOptions{
		Scheme:            scheme,
		CRDDirectoryPaths: []string{filepath.Join("config", "crd")},
		Setup:             func(mgr ctrl.Manager) error { return controller().SetupWithManager(mgr) },
	})
})

func newWidget(spec v1alpha1.WidgetSpec) *v1alpha1.Widget {
	return &v1alpha1.Widget{ObjectMeta: metav1.ObjectMeta{Namespace: "default", GenerateName: "w-"}, Spec: spec}
}

// fresh reads the Widget again, for Eventually.
func fresh(w *v1alpha1.Widget) func(Gomega) *v1alpha1.Widget {
	return func(g Gomega) *v1alpha1.Widget {
		got := &v1alpha1.Widget{}
		g.Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(w), got)).To(Succeed())
		return got
	}
}

func configMapData(g Gomega, w *v1alpha1.Widget, suffix string) map[string]string {
	var cm corev1.ConfigMap
	g.Expect(env.Client.Get(ctx, client.ObjectKey{Namespace: w.Namespace, Name: w.Name + suffix}, &cm)).To(Succeed())
	return cm.Data
}

var _ = Describe("A Widget", func() {
	It("writes its parts and its summary, each step once, and is Ready", func() {
		w := newWidget(v1alpha1.WidgetSpec{Parts: []string{"bolt", "nut"}})
		Expect(env.Client.Create(ctx, w)).To(Succeed())
		Eventually(fresh(w)).Should(And(reconcilertest.BeReady(), reconcilertest.HaveCaughtUp()))
		got := fresh(w)(Default)
		for _, step := range []string{widget.StepParts, widget.StepSummary} {
			Expect(got).To(reconcilertest.HaveTask(step, reconcilertest.TaskState(status.TaskSucceeded), reconcilertest.TaskAttempts(1)))
		}
		Expect(configMapData(Default, w, "-parts")).To(Equal(map[string]string{"parts": "bolt\nnut"}))
		Expect(configMapData(Default, w, "-summary")).To(Equal(map[string]string{"parts": "2"}))
	})

	It("waits for the Secret it names, spending no error, and lists its keys, not its values, once it is there", func() {
		w := newWidget(v1alpha1.WidgetSpec{Parts: []string{"bolt"}, SecretName: "w-creds"})
		Expect(env.Client.Create(ctx, w)).To(Succeed())
		Eventually(fresh(w)).Should(And(reconcilertest.BeReconciling(),
			reconcilertest.HaveTask(widget.StepSecret, reconcilertest.TaskState(status.TaskInProgress), reconcilertest.TaskMessage("waiting for Secret default/w-creds")),
			reconcilertest.HaveTask(widget.StepSummary, reconcilertest.TaskState(status.TaskPending))))
		Expect(fresh(w)(Default).Status.Errors).To(BeZero(), "waiting is no error")

		Expect(env.Client.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "w-creds"},
			Data: map[string][]byte{"user": []byte("u"), "password": []byte("s3cret")}})).To(Succeed())
		Eventually(fresh(w)).Should(reconcilertest.BeReady())
		Expect(configMapData(Default, w, "-summary")).To(Equal(map[string]string{"parts": "1", "secretKeys": "password,user"}))
	})

	It("writes its parts again when its spec changes", func() {
		w := newWidget(v1alpha1.WidgetSpec{Parts: []string{"bolt"}})
		Expect(env.Client.Create(ctx, w)).To(Succeed())
		Eventually(fresh(w)).Should(reconcilertest.BeReady())
		Eventually(func(g Gomega) {
			got := fresh(w)(g)
			got.Spec.Parts = []string{"bolt", "washer"}
			g.Expect(env.Client.Update(ctx, got)).To(Succeed())
		}).Should(Succeed())
		Eventually(func(g Gomega) map[string]string { return configMapData(g, w, "-parts") }).
			Should(Equal(map[string]string{"parts": "bolt\nwasher"}))
		Eventually(fresh(w)).Should(And(reconcilertest.BeReady(), reconcilertest.HaveCaughtUp()))
	})
})

var _ = Describe("A Widget, pass by pass (no manager, a fake client and clock)", func() {
	It("waits for its Secret across passes without an error, and finishes in the pass after it appears", func() {
		w := &v1alpha1.Widget{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "stepped", Generation: 1},
			Spec: v1alpha1.WidgetSpec{Parts: []string{"bolt"}, SecretName: "stepped-creds"}}
		c := reconcilertest.NewFakeClient(scheme, w)
		d := reconcilertest.NewDriver(widget.New(), c, w)

		got, err := d.Next(ctx)
		Expect(err).NotTo(HaveOccurred())
		Expect(got).To(And(
			reconcilertest.HaveTask(widget.StepParts, reconcilertest.TaskState(status.TaskSucceeded)),
			reconcilertest.HaveTask(widget.StepSecret, reconcilertest.TaskState(status.TaskInProgress)),
			reconcilertest.BeReconciling()))
		Expect(d.Last.RequeueAfter).To(Equal(d.Reconciler.Options.SleepBetweenRuns), "the next pass after SleepBetweenRuns")

		before := d.Clock.Now()
		for range 3 { // an hour of the fake clock, no time of the test's
			got, err = d.Next(ctx)
			Expect(err).NotTo(HaveOccurred())
			Expect(got).To(reconcilertest.HaveTask(widget.StepSecret, reconcilertest.TaskState(status.TaskInProgress)))
		}
		Expect(d.Clock.Since(before)).To(Equal(3 * d.Reconciler.Options.SleepBetweenRuns))
		Expect(got.Status.Errors).To(BeZero())

		Expect(c.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "stepped-creds"},
			Data: map[string][]byte{"token": []byte("t")}})).To(Succeed())
		got, err = d.Settle(ctx, 5)
		Expect(err).NotTo(HaveOccurred())
		Expect(got).To(And(reconcilertest.BeReady(), reconcilertest.HaveCaughtUp(),
			reconcilertest.HaveTask(widget.StepSummary, reconcilertest.TaskState(status.TaskSucceeded), reconcilertest.TaskAttempts(1))))
	})

	It("stalls with ExecutionTimeout once the fake clock passes it, while the Secret never comes", func() {
		w := &v1alpha1.Widget{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "late", Generation: 1},
			Spec: v1alpha1.WidgetSpec{Parts: []string{"bolt"}, SecretName: "never"}}
		r := widget.New()
		r.Options.SleepBetweenRuns, r.Options.ExecutionTimeout = 2*time.Minute, 10*time.Minute
		d := reconcilertest.NewDriver(r, reconcilertest.NewFakeClient(scheme, w), w)
		start := d.Clock.Now()
		got, err := d.Next(ctx)
		Expect(err).NotTo(HaveOccurred())
		for stalled := false; !stalled && d.Passes < 10; stalled, _ = reconcilertest.BeStalled().Match(got) {
			Expect(got).To(reconcilertest.HaveTask(widget.StepSecret, reconcilertest.TaskState(status.TaskInProgress)))
			got, err = d.Next(ctx)
			Expect(err).NotTo(HaveOccurred())
		}
		Expect(got).To(reconcilertest.BeStalled(status.ReasonExecutionTimeout))
		Expect(d.Clock.Since(start)).To(Equal(10*time.Minute), "a pass every 2 minutes of the fake clock, the sixth at the timeout")
		Expect(d.Last.RequeueAfter).To(Equal(d.Reconciler.RetryStalled), "then a retry with a fresh timeout, after RetryStalled")
	})
})
