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
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	dto "github.com/prometheus/client_model/go"
	"go.uber.org/goleak"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/execloop/execloop/execloop/reconciler"
	"github.com/execloop/execloop/test/support"
)

var (
	suiteCtx    context.Context
	suiteCancel context.CancelFunc
	testEnv     *envtest.Environment
	cfg         *rest.Config
	k8sClient   client.Client
	scheme      = runtime.NewScheme()
)

func TestReconciler(t *testing.T) {
	RegisterFailHandler(Fail)
	// Gomega's default of one second is a wall-clock bound a busy machine
	// breaks: a poll waits as long as a slow control plane may need.
	SetDefaultEventuallyTimeout(20 * time.Second)
	SetDefaultEventuallyPollingInterval(50 * time.Millisecond)
	RunSpecs(t, "Reconciler Suite")
}

// goroutinesBefore are the goroutines that ran before the suite started
// anything: after it, no other may be left.
var goroutinesBefore goleak.Option

var _ = BeforeSuite(func() {
	goroutinesBefore = goleak.IgnoreCurrent()
	logf.SetLogger(zap.New(zap.WriteTo(GinkgoWriter), zap.UseDevMode(true)))
	suiteCtx, suiteCancel = context.WithCancel(context.Background())
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	addWidgets(scheme)

	testEnv = &envtest.Environment{
		CRDs: []*apiextensionsv1.CustomResourceDefinition{widgetCRD()},
		// make test sets KUBEBUILDER_ASSETS; this is the same place, for `go test` run by hand.
		BinaryAssetsDirectory:    support.AssetsDir(filepath.Join("..", "..")),
		ControlPlaneStartTimeout: support.StartTimeout,
	}
	var err error
	cfg, err = testEnv.Start()
	Expect(err).NotTo(HaveOccurred())
	k8sClient, err = client.New(cfg, client.Options{Scheme: scheme})
	Expect(err).NotTo(HaveOccurred())
})

var _ = AfterSuite(func() {
	suiteCancel()
	Expect(testEnv.Stop()).To(Succeed())
	Expect(goleak.Find(goroutinesBefore)).To(Succeed(), "goroutines left once every manager and the control plane stopped")
})

// newNamespace creates a namespace of the test's own: each test's manager
// watches only its namespace, so tests cannot see each other's widgets.
func newNamespace() string {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "reconciler-"}}
	Expect(k8sClient.Create(suiteCtx, ns)).To(Succeed())
	return ns.Name
}

var controllers atomic.Int32

// uniqueName is a controller name not used before in this process, so that
// metrics of one test do not mix with another's.
func uniqueName() string {
	return fmt.Sprintf("widget-%d", controllers.Add(1))
}

// startManager runs a manager for namespace ns with the reconciler that
// setup returns, and returns a function that stops it and waits for it.
func startManager(ns string, setup func(mgr ctrl.Manager) *reconciler.Reconciler[*Widget]) (stop func()) {
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                 scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Cache:                  cache.Options{DefaultNamespaces: map[string]cache.Config{ns: {}}},
		Controller:             config.Controller{SkipNameValidation: ptrTrue()},
	})
	Expect(err).NotTo(HaveOccurred())
	Expect(setup(mgr).SetupWithManager(mgr)).To(Succeed())
	ctx, cancel := context.WithCancel(suiteCtx)
	done := make(chan struct{})
	go func() {
		defer GinkgoRecover()
		defer close(done)
		Expect(mgr.Start(ctx)).To(Succeed())
	}()
	return func() {
		cancel()
		<-done
	}
}

// statusWrites counts the status patches made through a client.
type statusWrites struct {
	client.Client
	n atomic.Int32
}

func (c *statusWrites) Status() client.SubResourceWriter {
	return &countingWriter{SubResourceWriter: c.Client.Status(), n: &c.n}
}

type countingWriter struct {
	client.SubResourceWriter
	n *atomic.Int32
}

func (w *countingWriter) Patch(ctx context.Context, obj client.Object, patch client.Patch, opts ...client.SubResourcePatchOption) error {
	w.n.Add(1)
	return w.SubResourceWriter.Patch(ctx, obj, patch, opts...)
}

// conflictOnce answers the first status patch of each object with a
// conflict, as if someone had written the object just before.
type conflictOnce struct {
	client.Client
	mu       sync.Mutex
	seen     map[types.UID]bool
	injected atomic.Int32
}

func (c *conflictOnce) Status() client.SubResourceWriter {
	return &conflictingWriter{SubResourceWriter: c.Client.Status(), c: c}
}

type conflictingWriter struct {
	client.SubResourceWriter
	c *conflictOnce
}

func (w *conflictingWriter) Patch(ctx context.Context, obj client.Object, patch client.Patch, opts ...client.SubResourcePatchOption) error {
	w.c.mu.Lock()
	if w.c.seen == nil {
		w.c.seen = map[types.UID]bool{}
	}
	first := !w.c.seen[obj.GetUID()]
	w.c.seen[obj.GetUID()] = true
	w.c.mu.Unlock()
	if first {
		w.c.injected.Add(1)
		return apierrors.NewConflict(schema.GroupResource{Group: widgetGV.Group, Resource: "widgets"}, obj.GetName(), errors.New("injected"))
	}
	return w.SubResourceWriter.Patch(ctx, obj, patch, opts...)
}

// widget fetches a widget.
func widget(g Gomega, ns, name string) *Widget {
	w := &Widget{}
	g.Expect(k8sClient.Get(suiteCtx, client.ObjectKey{Namespace: ns, Name: name}, w)).To(Succeed())
	return w
}

// condition returns a widget's condition of type t as "Status/Reason", or "".
func condition(w *Widget, t string) string {
	c := w.Status.Condition(t)
	if c == nil {
		return ""
	}
	return string(c.Status) + "/" + c.Reason
}

// eventsAbout lists the events.k8s.io events about a widget, as "Type/Reason: note".
func eventsAbout(g Gomega, ns, name string) []string {
	var list eventsv1.EventList
	g.Expect(k8sClient.List(suiteCtx, &list, client.InNamespace(ns))).To(Succeed())
	var out []string
	for _, e := range list.Items {
		if e.Regarding.Name == name {
			out = append(out, e.Type+"/"+e.Reason+": "+e.Note)
		}
	}
	return out
}

// metricValue returns the value of a counter or gauge sample of the
// controller-runtime registry whose labels include labels.
func metricValue(name string, labels map[string]string) float64 {
	families, err := metrics.Registry.Gather()
	Expect(err).NotTo(HaveOccurred())
	total := 0.0
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			if hasLabels(m, labels) {
				switch {
				case m.GetCounter() != nil:
					total += m.GetCounter().GetValue()
				case m.GetGauge() != nil:
					total += m.GetGauge().GetValue()
				case m.GetHistogram() != nil:
					total += float64(m.GetHistogram().GetSampleCount())
				}
			}
		}
	}
	return total
}

// metricLabels lists the label names of the metrics whose names start
// with prefix.
func metricLabels(prefix string) []string {
	families, err := metrics.Registry.Gather()
	Expect(err).NotTo(HaveOccurred())
	var names []string
	for _, f := range families {
		if !strings.HasPrefix(f.GetName(), prefix) {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if !slices.Contains(names, l.GetName()) {
					names = append(names, l.GetName())
				}
			}
		}
	}
	return names
}

func hasLabels(m *dto.Metric, want map[string]string) bool {
	found := 0
	for _, l := range m.GetLabel() {
		if v, ok := want[l.GetName()]; ok && v == l.GetValue() {
			found++
		}
	}
	return found == len(want)
}

// finalizerRace adds another controller's finalizer to the object, straight
// on the API server, just before the first patch of its metadata goes out:
// the patch then meets an object newer than the one it was computed from.
type finalizerRace struct {
	client.Client
	other string
	raced atomic.Bool
}

func (c *finalizerRace) Patch(ctx context.Context, obj client.Object, patch client.Patch, opts ...client.PatchOption) error {
	// This runs in the reconciler's goroutine, not the spec's: a failure is
	// the patch's error (the other finalizer then never shows), not an Expect.
	if c.raced.CompareAndSwap(false, true) {
		fresh := &Widget{}
		if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(obj), fresh); err != nil {
			return err
		}
		controllerutil.AddFinalizer(fresh, c.other)
		if err := k8sClient.Update(ctx, fresh); err != nil {
			return err
		}
	}
	return c.Client.Patch(ctx, obj, patch, opts...)
}
