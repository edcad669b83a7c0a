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

	"github.com/go-logr/logr"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/tools/cache"
)

var _ = Describe("The watcher of what Plans applied", func() {
	It("hands the Plans that reconcile at once the one informer of a resource, and stops it after the last", func() {
		w := newWatcher(logr.Discard())
		runCtx, stop := context.WithCancel(ctx)
		defer stop()
		go func() { _ = w.Start(runCtx) }()
		Eventually(func() bool { w.mu.Lock(); defer w.mu.Unlock(); return w.ctx != nil }).Should(BeTrue())

		id := &identity{dynamic: dynamic.NewForConfigOrDie(cfg)}
		mapping := &meta.RESTMapping{Resource: schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}, Scope: meta.RESTScopeNamespace}
		ns := newNamespace()

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
					got[i] = w.ensure(ctx, plan, id, mapping, ns)
					return got[i]
				}).ShouldNot(BeNil())
			})
		}
		wg.Wait()
		for i := range plans {
			Expect(got[i]).To(BeIdenticalTo(got[0]), "plan %d got an informer of its own", i)
		}
		Expect(w.running()).To(Equal(1))

		for i := range plans {
			w.release(types.NamespacedName{Namespace: ns, Name: fmt.Sprintf("p-%d", i)})
			if i < plans-1 {
				Expect(w.running()).To(Equal(1), "the informer stopped while %d plans still use it", plans-1-i)
			}
		}
		Expect(w.running()).To(Equal(0))
	})
})
