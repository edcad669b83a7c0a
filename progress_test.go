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

package main

import (
	"path/filepath"
	"strings"
	"testing"

	tea "github.com/charmbracelet/bubbletea"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	execloopv1alpha1 "github.com/execloop/execloop/api/v1alpha1"
	"github.com/execloop/execloop/execloop/reconciler/status"
	"github.com/execloop/execloop/internal/manager"
	"github.com/execloop/execloop/internal/manifest"
)

func TestProgressViewShowsEachPlanAndItsTasks(t *testing.T) {
	plan := &execloopv1alpha1.Plan{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web"}}
	plan.Status.Phase = execloopv1alpha1.PlanRunning
	plan.Status.Progress = "1/2"
	plan.Status.Tasks = []status.TaskStatus{
		{Name: "config", State: status.TaskSucceeded, Attempts: 1},
		{Name: "db", State: status.TaskInProgress, Message: "Post: waiting for Deployment shop/db"},
	}
	var m tea.Model = newProgressModel("Logs: somewhere")
	m, _ = m.Update(tea.WindowSizeMsg{Width: 200, Height: 40})
	m, _ = m.Update(planMsg{plan: plan})
	view := m.View()
	for _, want := range []string{"1 plans", "shop/web", "Running", "1/2", "✓ config", "Succeeded", "… db", "waiting for Deployment shop/db", "Logs: somewhere"} {
		if !strings.Contains(view, want) {
			t.Errorf("the view lacks %q:\n%s", want, view)
		}
	}

	m, _ = m.Update(planMsg{plan: plan, gone: true})
	if view := m.View(); strings.Contains(view, "shop/web") || !strings.Contains(view, "0 plans") {
		t.Errorf("a deleted plan is still shown:\n%s", view)
	}

	if _, cmd := m.Update(tea.KeyMsg{Type: tea.KeyCtrlC}); cmd == nil {
		t.Error("Ctrl-C does not quit")
	}
}

func TestProgressViewCutsLinesToTheTerminal(t *testing.T) {
	plan := &execloopv1alpha1.Plan{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "p"}}
	plan.Status.Tasks = []status.TaskStatus{{Name: "t", State: status.TaskFailed, Message: strings.Repeat("x", 500)}}
	var m tea.Model = newProgressModel("")
	m, _ = m.Update(tea.WindowSizeMsg{Width: 60, Height: 20})
	m, _ = m.Update(planMsg{plan: plan})
	for _, line := range strings.Split(m.View(), "\n") {
		if n := len([]rune(line)); n > 60 {
			t.Errorf("a line of %d runes in a terminal of 60: %q", n, line)
		}
	}
}

func TestSamplesAreReadFromTheKustomization(t *testing.T) {
	objs, err := manifest.ReadFile(filepath.Join("config", "samples", "execloop_v1alpha1_plan.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) != 1 || objs[0].GetKind() != "Plan" || objs[0].GetName() != "web" {
		t.Fatalf("read %d objects from the sample: %v", len(objs), objs)
	}
}

func TestTheProgressFlagIsChecked(t *testing.T) {
	ok := flags{Flags: manager.Flags{MaxConcurrentReconciles: 1}, progress: "auto"}
	if err := ok.validate(); err != nil {
		t.Errorf("valid flags: %v", err)
	}
	for want, f := range map[string]flags{
		`--progress must be auto, always or never, got "sometimes"`: {Flags: manager.Flags{MaxConcurrentReconciles: 1}, progress: "sometimes"},
		"--max-concurrent-reconciles must be at least 1, got 0":     {progress: "never"},
	} {
		if err := f.validate(); err == nil || err.Error() != want {
			t.Errorf("validate() = %v, want %q", err, want)
		}
	}
}
