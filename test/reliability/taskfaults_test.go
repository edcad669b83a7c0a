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
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	ctrl "sigs.k8s.io/controller-runtime"
	crcache "sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	execloopv1alpha1 "github.com/execloop/execloop/api/v1alpha1"
	"github.com/execloop/execloop/execloop"
	"github.com/execloop/execloop/execloop/executor"
	"github.com/execloop/execloop/execloop/reconciler"
	"github.com/execloop/execloop/execloop/reconciler/status"
)

// misbehaving runs each Plan's tasks as Go code chosen by the task's name:
// "panic" panics, "hang" ignores its context past its timeout, "fatal"
// returns a fatal error, anything else succeeds.
func misbehaving(release <-chan struct{}) func(context.Context, *execloopv1alpha1.Plan) (executor.Plan, error) {
	return func(_ context.Context, p *execloopv1alpha1.Plan) (executor.Plan, error) {
		st := p.Status.Status.DeepCopy()
		var tasks []executor.Task
		for _, t := range p.Spec.Tasks {
			if st.Succeeded(t.Name) {
				continue
			}
			funcs := executor.TaskFuncs{}
			switch t.Name {
			case "panic":
				funcs.PerformAction = func(context.Context) ([]executor.Task, error) { panic("boom") }
			case "hang":
				funcs.Timeout = 500 * time.Millisecond
				funcs.PerformAction = func(context.Context) ([]executor.Task, error) {
					<-release // ignores its context
					return nil, nil
				}
			case "fatal":
				funcs.PerformAction = func(context.Context) ([]executor.Task, error) {
					return nil, executor.Fatal(errors.New("the disk is gone"))
				}
			}
			tasks = append(tasks, executor.NewTask(t.Name, funcs))
		}
		return executor.PlanFunc(func(context.Context) ([]executor.Task, error) { return tasks, nil }), nil
	}
}

// TestTaskFaults runs plans whose tasks panic, hang past their timeout or
// fail fatally next to healthy plans: the operator stays up, the healthy
// plans converge, and each faulty plan's status says what happened.
func TestTaskFaults(t *testing.T) {
	ns := newNamespace(t, "taskfaults")
	release := make(chan struct{})
	defer close(release)
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme: scheme, Logger: logr.Discard(),
		Metrics: metricsserver.Options{BindAddress: "0"}, HealthProbeBindAddress: "0",
		Cache:      crcache.Options{DefaultNamespaces: map[string]crcache.Config{ns: {}}},
		Controller: config.Controller{SkipNameValidation: ptr(true)},
	})
	if err != nil {
		t.Fatal(err)
	}
	r := &reconciler.Reconciler[*execloopv1alpha1.Plan]{
		Name: "task-faults", Plan: misbehaving(release),
		Options: execloop.Options{SleepBetweenRuns: 100 * time.Millisecond, ErrorsToTolerate: 2},
	}
	if err := r.SetupWithManager(mgr); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("the manager failed: %v", err)
		}
	}()

	plan := func(name string, tasks ...string) *execloopv1alpha1.Plan {
		p := &execloopv1alpha1.Plan{}
		p.Namespace, p.Name = ns, name
		for _, task := range tasks {
			p.Spec.Tasks = append(p.Spec.Tasks, configMapTask(task, nil, nil))
		}
		return p
	}
	faulty := map[string]string{ // plan → what its status must say
		"panics": "PerformAction panicked: boom",
		"hangs":  "exceeded the task's timeout of 500ms",
		"fatal":  "the disk is gone",
	}
	plans := []*execloopv1alpha1.Plan{
		plan("panics", "first", "panic"), plan("hangs", "hang"), plan("fatal", "first", "fatal", "never"),
	}
	const healthy = 10
	for i := range healthy {
		plans = append(plans, plan(fmt.Sprintf("healthy-%02d", i), "one", "two"))
	}
	createAll(t, plans)

	waitFor(t, 2*time.Minute, "every plan Ready or Stalled", func() (bool, string) {
		ready, stalled := 0, 0
		for _, p := range plansOf(t, ns) {
			switch {
			case p.Status.IsReady(p.Generation):
				ready++
			case p.Status.IsStalled(p.Generation):
				stalled++
			}
		}
		return ready == healthy && stalled == len(faulty), fmt.Sprintf("%d Ready, %d Stalled", ready, stalled)
	})
	select {
	case err := <-done:
		t.Fatalf("the manager stopped: %v", err)
	default:
	}
	// The operator is still at work: a plan created now converges.
	createAll(t, []*execloopv1alpha1.Plan{plan("after", "one")})
	waitFor(t, time.Minute, "the plan created after the faults Ready", func() (bool, string) {
		for _, p := range plansOf(t, ns) {
			if p.Name == "after" {
				return p.Status.IsReady(p.Generation), string(p.Status.Phase)
			}
		}
		return false, "not found"
	})

	section := "3. Task faults"
	figures.add(section, "`go test ./test/reliability -run TestTaskFaults`: a controller built on execloop/reconciler whose tasks are Go code, with %d healthy plans next to three faulty ones (2 errors tolerated).", healthy)
	figures.add(section, "")
	figures.add(section, "| plan | what its task does | Stalled reason | message in status |")
	figures.add(section, "|---|---|---|---|")
	for _, p := range plansOf(t, ns) {
		want, isFaulty := faulty[p.Name]
		if !isFaulty {
			if !p.Status.IsReady(p.Generation) {
				t.Errorf("healthy plan %s is not Ready", p.Name)
			}
			continue
		}
		c := p.Status.Condition(status.ConditionStalled)
		if c == nil || !strings.Contains(c.Message, want) {
			t.Errorf("plan %s: Stalled = %+v, want a message containing %q", p.Name, c, want)
			continue
		}
		figures.add(section, "| %s | %s | %s | %s |", p.Name, map[string]string{"panics": "panics", "hangs": "ignores its context past its 500 ms timeout", "fatal": "returns executor.Fatal"}[p.Name], c.Reason, c.Message)
	}
	figures.add(section, "")
	figures.add(section, "The manager stayed up throughout; all %d healthy plans, and one created after the faults, converged.", healthy)
}
