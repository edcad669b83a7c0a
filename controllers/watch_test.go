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
	"fmt"
	"sync"
	"time"

	"github.com/go-logr/logr"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"

	execloopv1alpha1 "github.com/execloop/execloop/api/v1alpha1"
	"github.com/execloop/execloop/internal/planrun"
)

// configMaps is the RESTMapping of ConfigMaps, the resource these specs watch.
var configMaps = &meta.RESTMapping{Resource: schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}, Scope: meta.RESTScopeNamespace}

var _ = Describe("The watcher of what Plans applied", func() {
	It("hands the Plans that reconcile at once the one informer of a resource, and stops it after the last", func() {
		w := startWatcher()

		ns := newNamespace()
		id := identityOf(ns, "") // the operator's own

		// Eight Plans whose reconciles run at once ask for the informer while
		// the first one starts it; under -race, any read of it outside the
		// watcher's lock fails the suite.
		const plans = 8
		got := make([]cache.SharedIndexInformer, plans)
		var wg sync.WaitGroup
		for i := range plans {
			wg.Go(func() {
				defer GinkgoRecover()
				plan := types.NamespacedName{Namespace: ns, Name: fmt.Sprintf("p-%d", i)}
				Eventually(func() cache.SharedIndexInformer {
					got[i] = w.ensure(ctx, plan, id, configMaps, watchKeyOf(id, configMaps, ns))
					return got[i]
				}).ShouldNot(BeNil())
			})
		}
		wg.Wait()
		for i := range plans {
			Expect(got[i]).To(BeIdenticalTo(got[0]), "plan %d got an informer of its own", i)
		}
		Expect(w.running(ns)).To(Equal(1))

		for i := range plans {
			w.release(types.NamespacedName{Namespace: ns, Name: fmt.Sprintf("p-%d", i)})
			if i < plans-1 {
				Expect(w.running(ns)).To(Equal(1), "the informer stopped while %d plans still use it", plans-1-i)
			}
		}
		Expect(w.running(ns)).To(Equal(0))
	})

	It("asks again, after a while, whether an identity that was refused may watch", func() {
		w := startWatcher()
		w.mu.Lock()
		w.retryDenied = time.Hour
		w.mu.Unlock()

		ns := newNamespace()
		id := identityOf(ns, "watcher")
		plan := types.NamespacedName{Namespace: ns, Name: "p"}

		Expect(w.ensure(ctx, plan, id, configMaps, watchKeyOf(id, configMaps, ns))).To(BeNil(), "the ServiceAccount may not list ConfigMaps yet")
		grantConfigMaps(ns, "watcher", "list", "watch")
		Consistently(func() cache.SharedIndexInformer {
			return w.ensure(ctx, plan, id, configMaps, watchKeyOf(id, configMaps, ns))
		}, "1s").
			Should(BeNil(), "asked again before the interval was up")

		w.mu.Lock()
		w.retryDenied = 0
		w.mu.Unlock()
		Eventually(func() cache.SharedIndexInformer {
			return w.ensure(ctx, plan, id, configMaps, watchKeyOf(id, configMaps, ns))
		}).ShouldNot(BeNil(), "the granted watch did not start")
		Expect(w.running(ns)).To(Equal(1))
		w.release(plan)
		Expect(w.running(ns)).To(Equal(0))
	})

	It("forgets a refusal once no Plan needs the watch", func() {
		w := startWatcher()

		ns := newNamespace()
		id := identityOf(ns, "nobody")
		plan := types.NamespacedName{Namespace: ns, Name: "p"}

		Expect(w.ensure(ctx, plan, id, configMaps, watchKeyOf(id, configMaps, ns))).To(BeNil())
		w.mu.Lock()
		Expect(w.watches).To(HaveLen(1), "the refusal is remembered while the Plan needs the watch")
		w.mu.Unlock()
		w.release(plan)
		w.mu.Lock()
		defer w.mu.Unlock()
		Expect(w.watches).To(BeEmpty())
	})
})

// startWatcher starts a watcher of its own, stopped when the spec ends.
func startWatcher() *watcher {
	w := newWatcher(logr.Discard(), "")
	runCtx, stop := context.WithCancel(ctx)
	DeferCleanup(stop)
	go func() { _ = w.Start(runCtx) }()
	Eventually(func() bool { w.mu.Lock(); defer w.mu.Unlock(); return w.ctx != nil }).Should(BeTrue())
	return w
}

// identityOf is the identity a Plan in ns with spec.serviceAccountName
// name acts as: that ServiceAccount, impersonated as the operator
// impersonates it, or the operator itself when name is empty.
func identityOf(ns, name string) *planrun.Identity {
	GinkgoHelper()
	hc, err := rest.HTTPClientFor(cfg)
	Expect(err).NotTo(HaveOccurred())
	mapper, err := apiutil.NewDynamicRESTMapper(cfg, hc)
	Expect(err).NotTo(HaveOccurred())
	ids, err := planrun.NewIdentities(cfg, scheme, mapper)
	Expect(err).NotTo(HaveOccurred())
	id, err := ids.ForPlan(&execloopv1alpha1.Plan{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns},
		Spec:       execloopv1alpha1.PlanSpec{ServiceAccountName: name},
	}, "")
	Expect(err).NotTo(HaveOccurred())
	return id
}
