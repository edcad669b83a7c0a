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

// Package planview renders a Plan's status as text: a heading, and its
// tasks as a tree by dependency, one line each. The manager's progress view
// (make run) and kubectl execloop get both draw with it.
package planview

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/charmbracelet/lipgloss"
	"k8s.io/apimachinery/pkg/util/duration"

	execloopv1alpha1 "github.com/execloop/execloop/api/v1alpha1"
	"github.com/execloop/execloop/execloop/reconciler/status"
	"github.com/execloop/execloop/internal/planrun"
)

// Options say how to draw.
type Options struct {
	// Color paints the phase and faint messages, for a terminal.
	Color bool
	// Wide shows messages in full; otherwise they are cut to MessageWidth.
	Wide bool
	// Width, when positive, cuts every line to that many cells, for a
	// terminal that would wrap them.
	Width int
	// Now is the time ages are counted to; time.Now when nil.
	Now func() time.Time
	// Indent goes before each task's line.
	Indent string
}

// MessageWidth is how much of a task's message a line shows without Wide.
const MessageWidth = 60

var (
	boldStyle   = lipgloss.NewStyle().Bold(true)
	faintStyle  = lipgloss.NewStyle().Faint(true)
	phaseStyles = map[execloopv1alpha1.PlanPhase]lipgloss.Style{
		execloopv1alpha1.PlanSucceeded: lipgloss.NewStyle().Foreground(lipgloss.Color("2")),
		execloopv1alpha1.PlanFailed:    lipgloss.NewStyle().Foreground(lipgloss.Color("1")),
		execloopv1alpha1.PlanRunning:   lipgloss.NewStyle().Foreground(lipgloss.Color("3")),
		execloopv1alpha1.PlanSuspended: lipgloss.NewStyle().Foreground(lipgloss.Color("4")),
	}
	stateMarks = map[status.TaskState]string{
		status.TaskPending:    "·",
		status.TaskInProgress: "…",
		status.TaskSucceeded:  "✓",
		status.TaskFailed:     "✗",
		status.TaskSkipped:    "-",
	}
)

// Phase is the Plan's phase, Pending before its first status.
func Phase(p *execloopv1alpha1.Plan) execloopv1alpha1.PlanPhase {
	if p.Status.Phase == "" {
		return execloopv1alpha1.PlanPending
	}
	return p.Status.Phase
}

// Heading is the Plan's first line: namespace/name, phase, progress, and
// while it is not Ready, why. An instance of a definition's kind seen as a
// Plan (planrun.AsPlan) is named with its kind: "WebApp ns/name"; a
// cluster-scoped one by its name alone.
func Heading(p *execloopv1alpha1.Plan, o Options) string {
	phase := string(Phase(p))
	name := p.Name
	if p.Namespace != "" {
		name = p.Namespace + "/" + name
	}
	if planrun.InstanceKind(p) != "" {
		name = p.Kind + " " + name
	}
	if o.Color {
		name = boldStyle.Render(name)
		if s, ok := phaseStyles[Phase(p)]; ok {
			phase = s.Render(phase)
		}
	}
	line := fmt.Sprintf("%s  %s  %s", name, phase, p.Status.Progress)
	if c := p.Status.Condition(status.ConditionReady); c != nil && c.Status != "True" && c.Message != "" {
		line += "  " + o.faint(o.message(c.Message))
	}
	return o.fit(line)
}

// Tasks are the lines of the Plan's tasks, as a tree by dependency: a task
// sits under the last task of its after list (in spec order), and names
// the others it runs after; tasks that run after none are roots. Each line
// has the task's state, attempts, age (since its state last changed), the
// object it applied and its message.
func Tasks(p *execloopv1alpha1.Plan, o Options) []string {
	byName := map[string]*status.TaskStatus{}
	for i := range p.Status.Tasks {
		byName[p.Status.Tasks[i].Name] = &p.Status.Tasks[i]
	}
	children := map[string][]int{}
	var roots []int
	parentOf := make([]string, len(p.Spec.Tasks))
	for i, t := range p.Spec.Tasks {
		if n := len(t.After); n > 0 {
			parentOf[i] = t.After[n-1]
			children[parentOf[i]] = append(children[parentOf[i]], i)
		} else {
			roots = append(roots, i)
		}
	}
	var lines []string
	seen := make([]bool, len(p.Spec.Tasks))
	var walk func(i int, prefix, branch string)
	walk = func(i int, prefix, branch string) {
		if seen[i] { // a cycle, which admission refuses: draw each task once
			return
		}
		seen[i] = true
		t := p.Spec.Tasks[i]
		lines = append(lines, o.fit(o.Indent+prefix+branch+o.taskLine(p, t, byName[t.Name])))
		next := prefix
		switch branch {
		case "├─ ":
			next += "│  "
		case "└─ ":
			next += "   "
		}
		kids := children[t.Name]
		for k, c := range kids {
			b := "├─ "
			if k == len(kids)-1 {
				b = "└─ "
			}
			walk(c, next, b)
		}
	}
	for _, r := range roots {
		walk(r, "", "")
	}
	for i := range p.Spec.Tasks { // under a task that does not exist, or in a cycle
		walk(i, "", "")
	}
	for i := range p.Status.Tasks { // a task the spec no longer has, until the status forgets it
		st := &p.Status.Tasks[i]
		if !slices.ContainsFunc(p.Spec.Tasks, func(t execloopv1alpha1.PlanTask) bool { return t.Name == st.Name }) {
			lines = append(lines, o.fit(o.Indent+o.taskLine(p, execloopv1alpha1.PlanTask{Name: st.Name}, st)))
		}
	}
	return lines
}

// taskLine is one task's line, without the tree's prefix.
func (o Options) taskLine(p *execloopv1alpha1.Plan, t execloopv1alpha1.PlanTask, st *status.TaskStatus) string {
	state, attempts, age, msg := status.TaskPending, int32(0), "", ""
	if st != nil {
		state, attempts, msg = st.State, st.Attempts, st.Message
		if st.LastTransitionTime != nil {
			age = o.age(st.LastTransitionTime.Time)
		}
	}
	mark := stateMarks[state]
	if mark == "" {
		mark = "?"
	}
	line := fmt.Sprintf("%s %-20s %-10s attempts %-2d %-4s", mark, t.Name, state, attempts, age)
	if obj := objectOf(p, t.Name); obj != "" {
		line += "  " + obj
	}
	if n := len(t.After); n > 1 {
		line += "  " + o.faint("(after "+strings.Join(t.After, ", ")+")")
	}
	if msg != "" {
		line += "  " + o.faint(o.message(msg))
	}
	return strings.TrimRight(line, " ")
}

// objectOf names the object the inventory says the task applied.
func objectOf(p *execloopv1alpha1.Plan, task string) string {
	i := slices.IndexFunc(p.Status.Objects, func(o execloopv1alpha1.AppliedObject) bool { return o.Task == task })
	if i < 0 {
		return ""
	}
	obj := p.Status.Objects[i]
	if obj.Namespace == "" {
		return obj.Kind + " " + obj.Name
	}
	return obj.Kind + " " + obj.Namespace + "/" + obj.Name
}

// Summary is the Plan's line in a list of Plans: namespace, name, phase,
// progress, age and, while it is not Ready, why.
func Summary(p *execloopv1alpha1.Plan, o Options) []string {
	msg := ""
	if c := p.Status.Condition(status.ConditionReady); c != nil && c.Status != "True" {
		msg = o.message(c.Message)
	}
	return []string{p.Namespace, p.Name, string(Phase(p)), p.Status.Progress, o.age(p.CreationTimestamp.Time), msg}
}

// SummaryHeader names Summary's columns.
var SummaryHeader = []string{"NAMESPACE", "NAME", "PHASE", "PROGRESS", "AGE", "MESSAGE"}

func (o Options) age(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	now := time.Now
	if o.Now != nil {
		now = o.Now
	}
	return duration.HumanDuration(now().Sub(t))
}

func (o Options) message(m string) string {
	m = strings.Join(strings.Fields(m), " ") // one line
	if o.Wide || len([]rune(m)) <= MessageWidth {
		return m
	}
	return string([]rune(m)[:MessageWidth-1]) + "…"
}

func (o Options) faint(s string) string {
	if o.Color {
		return faintStyle.Render(s)
	}
	return s
}

// fit cuts a line to o.Width cells.
func (o Options) fit(line string) string {
	if o.Width <= 0 || lipgloss.Width(line) <= o.Width {
		return line
	}
	return lipgloss.NewStyle().MaxWidth(o.Width-1).Render(line) + "…"
}
