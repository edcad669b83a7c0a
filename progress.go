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
	"context"
	"fmt"
	"io"
	"sort"
	"strings"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	execloopv1alpha1 "github.com/execloop/execloop/api/v1alpha1"
	"github.com/execloop/execloop/internal/planview"
)

// progressView shows every Plan and its tasks in the terminal, updated in
// place as their status changes, instead of scrolling logs. Quitting it
// (Ctrl-C or q) stops the manager.
type progressView struct {
	cache  cache.Cache
	in     io.Reader
	out    io.Writer
	footer string // where the logs go
	stop   context.CancelFunc
}

var _ manager.Runnable = (*progressView)(nil)

// Start runs the view until ctx is done or the user quits.
func (v *progressView) Start(ctx context.Context) error {
	informer, err := v.cache.GetInformer(ctx, &execloopv1alpha1.Plan{})
	if err != nil {
		return fmt.Errorf("watching Plans for the progress view: %w", err)
	}
	program := tea.NewProgram(newProgressModel(v.footer), tea.WithContext(ctx), tea.WithInput(v.in), tea.WithOutput(v.out))
	if _, err := informer.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { sendPlan(program, obj, false) },
		UpdateFunc: func(_, obj any) { sendPlan(program, obj, false) },
		DeleteFunc: func(obj any) { sendPlan(program, obj, true) },
	}); err != nil {
		return err
	}
	_, err = program.Run()
	v.stop() // the user quit, or the manager is stopping anyway
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// NeedLeaderElection is false: every replica shows what it sees.
func (v *progressView) NeedLeaderElection() bool { return false }

func sendPlan(program *tea.Program, obj any, gone bool) {
	if t, ok := obj.(toolscache.DeletedFinalStateUnknown); ok {
		obj, gone = t.Obj, true
	}
	if p, ok := obj.(*execloopv1alpha1.Plan); ok {
		program.Send(planMsg{plan: p.DeepCopy(), gone: gone})
	}
}

// planMsg tells the model that a Plan changed or went.
type planMsg struct {
	plan *execloopv1alpha1.Plan
	gone bool
}

// progressModel is the Bubble Tea model of the view: the Plans by
// namespace/name.
type progressModel struct {
	plans  map[string]*execloopv1alpha1.Plan
	footer string
	width  int
}

func newProgressModel(footer string) progressModel {
	return progressModel{plans: map[string]*execloopv1alpha1.Plan{}, footer: footer, width: 120}
}

// Init implements tea.Model.
func (m progressModel) Init() tea.Cmd { return nil }

// Update implements tea.Model.
func (m progressModel) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case planMsg:
		key := msg.plan.Namespace + "/" + msg.plan.Name
		if msg.gone {
			delete(m.plans, key)
		} else {
			m.plans[key] = msg.plan
		}
	case tea.WindowSizeMsg:
		m.width = msg.Width
	case tea.KeyMsg:
		switch msg.String() {
		case "ctrl+c", "q":
			return m, tea.Quit
		}
	}
	return m, nil
}

var (
	titleStyle = lipgloss.NewStyle().Bold(true)
	dimStyle   = lipgloss.NewStyle().Faint(true)
)

// View implements tea.Model: a block per Plan, a line per task, drawn by
// planview as kubectl execloop get draws them.
func (m progressModel) View() string {
	var b strings.Builder
	b.WriteString(titleStyle.Render(fmt.Sprintf("execloop: %d plans", len(m.plans))))
	b.WriteString(dimStyle.Render("   (q or Ctrl-C stops the operator)") + "\n\n")
	keys := make([]string, 0, len(m.plans))
	for k := range m.plans {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	o := planview.Options{Color: true, Width: m.width, Indent: "    "}
	for _, k := range keys {
		p := m.plans[k]
		b.WriteString(planview.Heading(p, o) + "\n")
		for _, line := range planview.Tasks(p, o) {
			b.WriteString(line + "\n")
		}
		b.WriteString("\n")
	}
	if m.footer != "" {
		b.WriteString(dimStyle.Render(m.footer) + "\n")
	}
	return b.String()
}
