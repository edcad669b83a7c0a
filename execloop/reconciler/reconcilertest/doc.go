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

// Package reconcilertest is the test kit for controllers built on
// execloop/reconciler: Gomega matchers over their objects' status, a
// control plane with your CRDs and a running manager for envtest suites,
// and a Driver that steps one object through its reconciles in a unit
// test, with a fake clock.
//
// # Binaries
//
// envtest needs kube-apiserver, etcd and kubectl. Where no prebuilt ones
// can be downloaded, build them from source, once, into bin/k8s of your
// module (five to ten minutes on two cores):
//
//	go run github.com/execloop/execloop/hack/envtest@latest -dir bin/k8s
//
// Start and Assets find them there (in bin/k8s/<version>-<os>-<arch> of
// the working directory or a folder above it), or wherever
// KUBEBUILDER_ASSETS says.
//
// # An envtest suite
//
// Start one control plane per test package, in BeforeSuite, with your
// CRDs and controllers; it stops when the suite ends, also when it fails
// half-way through starting:
//
//	var env *reconcilertest.Env
//
//	var _ = BeforeSuite(func() {
//		scheme := runtime.NewScheme()
//		Expect(v1alpha1.AddToScheme(scheme)).To(Succeed())
//		env = reconcilertest.Start(GinkgoT(), reconcilertest.EnvOptions{
//			Scheme:            scheme,
//			CRDDirectoryPaths: []string{filepath.Join("config", "crd")},
//			Setup:             func(mgr ctrl.Manager) error { return widget.New().SetupWithManager(mgr) },
//		})
//	})
//
// Then the matchers say what a spec expects of an object, and say what
// they found when it fails (its conditions and its tasks):
//
//	It("becomes Ready once every part exists", func() {
//		Expect(env.Client.Create(ctx, widget)).To(Succeed())
//		Eventually(get(widget)).Should(reconcilertest.BeReady())
//		Expect(get(widget)()).To(reconcilertest.HaveTask("parts",
//			reconcilertest.TaskState(status.TaskSucceeded), reconcilertest.TaskAttempts(1)))
//	})
//
// BeReady, BeStalled (with a reason), BeReconciling, HaveCondition,
// HaveCaughtUp (observedGeneration) and HaveTask (with TaskState,
// TaskAttempts, TaskMessage) match any reconciler.Object.
//
// # A unit test, pass by pass
//
// A Driver runs the Reconciler's Reconcile itself, synchronously, against
// a fake client (or an envtest one), with a fake clock: each Next moves
// the clock on by the delay the last pass asked for (SleepBetweenRuns, a
// failed task's backoff, a stall's retry), so a test asserts the status
// after every pass and never sleeps:
//
//	c := reconcilertest.NewFakeClient(scheme, w)
//	d := reconcilertest.NewDriver(widget.New(), c, w)
//	w, err := d.Next(ctx)        // the first pass
//	Expect(err).NotTo(HaveOccurred())
//	Expect(w).To(reconcilertest.HaveTask("secret", reconcilertest.TaskState(status.TaskInProgress)))
//	w, err = d.Settle(ctx, 10)   // until it asks for no pass
//	Expect(w).To(reconcilertest.BeReady())
package reconcilertest
