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

package reliability

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/workqueue"
	ctrl "sigs.k8s.io/controller-runtime"
	crcache "sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	execloopv1alpha1 "github.com/execloop/execloop/api/v1alpha1"
	"github.com/execloop/execloop/controllers"
	"github.com/execloop/execloop/execloop"
)

// configMapTask applies a ConfigMap named name with data.
func configMapTask(name string, after []string, data map[string]any) execloopv1alpha1.PlanTask {
	return execloopv1alpha1.PlanTask{Name: name, After: after, Apply: rawObject(map[string]any{
		"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": name}, "data": data,
	})}
}

func rawObject(obj map[string]any) *runtime.RawExtension {
	b, err := json.Marshal(obj)
	if err != nil {
		panic(err)
	}
	return &runtime.RawExtension{Raw: b}
}

// chain is a plan of three ConfigMaps named <plan>-a, -b, -c, each after
// the one before.
func chain(ns, name string) *execloopv1alpha1.Plan {
	p := &execloopv1alpha1.Plan{}
	p.Namespace, p.Name = ns, name
	prev := []string(nil)
	for _, step := range []string{"a", "b", "c"} {
		t := configMapTask(step, prev, map[string]any{"step": step})
		t.Apply = rawObject(map[string]any{
			"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": name + "-" + step}, "data": map[string]any{"step": step},
		})
		p.Spec.Tasks = append(p.Spec.Tasks, t)
		prev = []string{step}
	}
	return p
}

// manager is the Plan controller running in this process.
type manager struct {
	stop func()
}

// managerOptions says how to run the in-process manager.
type managerOptions struct {
	namespaces            []string
	wrap                  func(http.RoundTripper) http.RoundTripper // around the manager's transport
	defaultServiceAccount string
	tolerate              int
	sleep                 time.Duration // between passes; 100ms when zero
	maxBackoff            time.Duration // of failed tasks; the operator's default when zero
	retryStalled          time.Duration // of stalled Plans; the operator's default when zero
	log                   logr.Logger
}

// startManager runs the Plan controller in this process, watching only the
// given namespaces.
func startManager(t testing.TB, o managerOptions) *manager {
	t.Helper()
	c := rest.CopyConfig(cfg)
	c.QPS, c.Burst = 200, 400
	if o.wrap != nil {
		c.Wrap(o.wrap)
	}
	namespaces := map[string]crcache.Config{}
	for _, ns := range o.namespaces {
		namespaces[ns] = crcache.Config{}
	}
	log := o.log
	if log.GetSink() == nil {
		log = logr.Discard()
	}
	mgr, err := ctrl.NewManager(c, ctrl.Options{
		Scheme:                 scheme,
		Logger:                 log,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Cache:                  crcache.Options{DefaultNamespaces: namespaces, DefaultTransform: crcache.TransformStripManagedFields()},
		Controller:             config.Controller{SkipNameValidation: ptr(true)},
	})
	if err != nil {
		t.Fatal(err)
	}
	tolerate := o.tolerate
	if tolerate == 0 {
		tolerate = 5
	}
	sleep := o.sleep
	if sleep == 0 {
		sleep = 100 * time.Millisecond
	}
	if err := (&controllers.PlanReconciler{
		Defaults:                execloop.Options{SleepBetweenRuns: sleep, ErrorsToTolerate: tolerate},
		DefaultServiceAccount:   o.defaultServiceAccount,
		MaxConcurrentReconciles: 4,
		MaxBackoff:              o.maxBackoff,
		StalledRetryInterval:    o.retryStalled,
	}).SetupWithManager(mgr); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(ctrl.LoggerInto(context.Background(), log))
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	var once sync.Once
	m := &manager{stop: func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("manager: %v", err)
			}
		})
	}}
	t.Cleanup(m.stop)
	return m
}

func ptr[T any](v T) *T { return &v }

// plansOf lists the plans of a namespace.
func plansOf(t testing.TB, ns string) []execloopv1alpha1.Plan {
	t.Helper()
	var list execloopv1alpha1.PlanList
	if err := k8sClient.List(context.Background(), &list, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	return list.Items
}

// waitFor polls cond every 200ms until it holds or limit passes.
func waitFor(t testing.TB, limit time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		ok, state := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s, still not %s: %s", limit, what, state)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// allReady waits until the n plans of ns are Ready.
func allReady(t testing.TB, ns string, n int, limit time.Duration) {
	t.Helper()
	waitFor(t, limit, fmt.Sprintf("%d plans Ready", n), func() (bool, string) {
		ready, stalled := 0, 0
		for _, p := range plansOf(t, ns) {
			if p.Status.IsReady(p.Generation) {
				ready++
			}
			if p.Status.IsStalled(p.Generation) {
				stalled++
			}
		}
		return ready == n, fmt.Sprintf("%d Ready, %d Stalled", ready, stalled)
	})
}

// createAll creates plans from 8 goroutines.
func createAll(t testing.TB, plans []*execloopv1alpha1.Plan) {
	t.Helper()
	errs := make([]error, len(plans))
	workqueue.ParallelizeUntil(context.Background(), 8, len(plans), func(i int) {
		errs[i] = k8sClient.Create(context.Background(), plans[i])
	})
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
}

// createdTwiceOrNever counts, of the ConfigMaps a, b and c of each plan, those
// the audit log saw created more than once and those it never saw created.
func createdTwiceOrNever(created map[string]int, plans []*execloopv1alpha1.Plan) (twice, missing int) {
	for _, p := range plans {
		for _, step := range []string{"a", "b", "c"} {
			switch n := created[p.Name+"-"+step]; {
			case n == 0:
				missing++
			case n > 1:
				twice++
			}
		}
	}
	return twice, missing
}
