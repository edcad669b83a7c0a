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

package controllers

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	execloopv1alpha1 "github.com/execloop/execloop/api/v1alpha1"
	"github.com/execloop/execloop/execloop"
	"github.com/execloop/execloop/test/support"
)

// One control plane and one manager with the Plan and PlanDefinition
// controllers for the whole package, started in BeforeSuite; each test works
// in a namespace of its own.
var (
	ctx       context.Context
	cancel    context.CancelFunc
	testEnv   *envtest.Environment
	cfg       *rest.Config
	k8sClient client.Client
	scheme    = runtime.NewScheme()
	mgrDone   chan struct{} // closed when the manager stops; nil until it starts
	// planReconciler is the suite's Plan controller.
	planReconciler *PlanReconciler
)

// definitionGroup is the one API group the suite's PlanDefinitions may
// serve.
const definitionGroup = "platform.example.com"

// withoutPolicy labels the namespaces where the finalizer policy does not
// apply, as in a cluster where it is not installed.
const withoutPolicy = "test.execloop.dev/without-finalizer-policy"

// The Plan controller's defaults in this suite: fast passes.
const (
	suiteSleep      = 200 * time.Millisecond
	suiteTolerate   = 3
	suiteMaxBackoff = 4 * time.Second
)

func TestControllers(t *testing.T) {
	RegisterFailHandler(Fail)
	SetDefaultEventuallyTimeout(20 * time.Second)
	SetDefaultEventuallyPollingInterval(100 * time.Millisecond)
	RunSpecs(t, "Controllers Suite")
}

var _ = BeforeSuite(func() {
	logf.SetLogger(zap.New(zap.WriteTo(GinkgoWriter), zap.UseDevMode(true)))
	ctx, cancel = context.WithCancel(context.TODO())
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(apiextensionsv1.AddToScheme(scheme))
	utilruntime.Must(execloopv1alpha1.AddToScheme(scheme))

	testEnv = &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join("..", "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
		// make test sets KUBEBUILDER_ASSETS; this is the same place, for `go test` run by hand.
		BinaryAssetsDirectory:    support.AssetsDir(".."),
		ControlPlaneStartTimeout: support.StartTimeout,
	}
	var err error
	cfg, err = testEnv.Start()
	Expect(err).NotTo(HaveOccurred())
	Expect(cfg).NotTo(BeNil())

	k8sClient, err = client.New(cfg, client.Options{Scheme: scheme})
	Expect(err).NotTo(HaveOccurred())

	// The install's MutatingAdmissionPolicy, as config/default ships it:
	// new Plans get the cleanup finalizer at admission. Its binding leaves
	// out namespaces labelled withoutPolicy, where the manager must add the
	// finalizer itself.
	Expect(support.InstallFinalizerPolicy(ctx, k8sClient, "..", map[string]any{"matchExpressions": []any{
		map[string]any{"key": withoutPolicy, "operator": "DoesNotExist"},
	}}, metav1.NamespaceDefault, 30*time.Second)).To(Succeed())

	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                 scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
	})
	Expect(err).NotTo(HaveOccurred())
	planReconciler = &PlanReconciler{
		// The Plans' own requests (as the operator or a ServiceAccount) go
		// through applyHooks, which specs use to act between a Plan's
		// read of an object and its apply.
		Config:                  applyHooks.wrap(cfg),
		Defaults:                execloop.Options{SleepBetweenRuns: suiteSleep, ErrorsToTolerate: suiteTolerate},
		MaxConcurrentReconciles: 4,
		// Failed tasks back off from suiteSleep up to this, so that what
		// appears seconds later is noticed within seconds.
		MaxBackoff: suiteMaxBackoff,
	}
	Expect(planReconciler.SetupWithManager(mgr)).To(Succeed())
	Expect((&PlanDefinitionReconciler{Plans: planReconciler, Groups: []string{definitionGroup}}).SetupWithManager(mgr)).To(Succeed())
	mgrDone = make(chan struct{})
	go func() {
		defer GinkgoRecover()
		defer close(mgrDone)
		Expect(mgr.Start(ctx)).To(Succeed())
	}()
})

// AfterSuite also runs when BeforeSuite failed half-way (the CRDs refused,
// say): it stops only what was started, so the control plane never outlives
// the suite.
var _ = AfterSuite(func() {
	if cancel != nil {
		cancel()
	}
	if mgrDone != nil {
		<-mgrDone
	}
	if testEnv != nil {
		Expect(testEnv.Stop()).To(Succeed())
	}
})
