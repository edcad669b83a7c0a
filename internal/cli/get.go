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

package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"golang.org/x/term"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	execloopv1alpha1 "github.com/execloop/execloop/api/v1alpha1"
	"github.com/execloop/execloop/internal/planview"
)

type getOptions struct {
	*options
	allNamespaces bool
	output        string
	watch         bool
	// redraw clears the screen before each drawing of --watch; set when
	// the output is a terminal.
	redraw bool
}

func newGetCommand(o *options) *cobra.Command {
	g := &getOptions{options: o}
	cmd := &cobra.Command{
		Use:   "get [plan/NAME | KIND/NAME]",
		Short: "Show a Plan's tasks as a tree, or list the Plans",
		Long: strings.TrimSpace(`
Show a Plan's tasks as a tree by dependency (a task sits under the last task
it runs after), one line each: its state, attempts, the age of its state,
the object it applied and its last message (cut short; -o wide shows it in
full). --watch draws it again each time the status changes, as the
operator's own view under make run does.

An instance of a PlanDefinition's kind (webapp/NAME, or KIND.GROUP/NAME
such as webapp.platform.example.com/NAME) is shown the same way: its tasks
are its definition's, its state is its status. Without read access to the
PlanDefinition, its tasks are listed one under the other.

Without a name, list the Plans of the namespace (-A: of all namespaces), one
line each.`),
		Example: strings.Trim(`
  # The tasks of Plan web, redrawn as they converge (Ctrl-C to stop)
  kubectl execloop get plan/web --watch

  # The tasks of the WebApp shop, an instance of a PlanDefinition's kind
  kubectl execloop get webapp/shop

  # Every Plan in the cluster, with whole messages
  kubectl execloop get -A -o wide`, "\n"),
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			switch g.output {
			case "", "wide":
			default:
				return &ExitError{Code: 2, Err: fmt.Errorf("--output must be wide or empty, got %q", g.output)}
			}
			if g.allNamespaces && len(args) > 0 {
				return &ExitError{Code: 2, Err: errors.New("--all-namespaces lists Plans; it takes no name")}
			}
			if g.watch && len(args) == 0 {
				return &ExitError{Code: 2, Err: errors.New("--watch follows one Plan: name it, as plan/NAME")}
			}
			if err := g.run(cmd.Context(), args); err != nil {
				return &ExitError{Code: 2, Err: err}
			}
			return nil
		},
	}
	cmd.Flags().BoolVarP(&g.allNamespaces, "all-namespaces", "A", false, "list the Plans of all namespaces")
	cmd.Flags().StringVarP(&g.output, "output", "o", "", "wide: messages in full")
	cmd.Flags().BoolVarP(&g.watch, "watch", "w", false, "draw again on every change, until interrupted")
	g.redraw = isTerminal(o.streams.Out)
	return cmd
}

func (g *getOptions) run(ctx context.Context, args []string) error {
	c, err := g.cluster()
	if err != nil {
		return err
	}
	view := planview.Options{Wide: g.output == "wide", Color: g.redraw}
	if len(args) == 0 {
		return g.list(ctx, c, view)
	}
	s, err := c.subjectOf(ctx, args[0])
	if err != nil {
		return err
	}
	p, err := s.get(ctx, c.client)
	if err != nil {
		return err
	}
	g.draw(p, view)
	if !g.watch {
		return nil
	}
	return g.follow(ctx, c, s, p, view)
}

// draw prints a Plan and its tasks; under --watch on a terminal, in place
// of the last drawing.
func (g *getOptions) draw(p *execloopv1alpha1.Plan, view planview.Options) {
	var b strings.Builder
	if g.watch && g.redraw {
		b.WriteString("\x1b[H\x1b[2J") // home, clear
	} else if g.watch {
		b.WriteString("\n")
	}
	b.WriteString(planview.Heading(p, view) + "\n")
	for _, line := range planview.Tasks(p, view) {
		b.WriteString(line + "\n")
	}
	_, _ = io.WriteString(g.streams.Out, b.String())
}

// follow draws the subject s, last read as p, again on every change of it,
// until ctx is done or it is deleted. A watch the API server ends (they
// time out) is opened again from the last version drawn, or from a fresh
// read when that version is too old.
func (g *getOptions) follow(ctx context.Context, c *cluster, s *subject, p *execloopv1alpha1.Plan, view planview.Options) error {
	for ctx.Err() == nil {
		w, err := c.client.Watch(ctx, s.list(), client.InNamespace(s.namespace),
			client.MatchingFields{"metadata.name": s.name},
			&client.ListOptions{Raw: &metav1.ListOptions{ResourceVersion: p.ResourceVersion}}) // from the drawing shown
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		next, gone, err := g.drawEvents(ctx, w, s, p, view)
		w.Stop()
		switch {
		case err != nil || gone:
			return err
		case next == nil: // too old a version to watch from: read it again
			if p, err = s.get(ctx, c.client); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return err
			}
			g.draw(p, view)
		default:
			p = next
		}
	}
	return nil
}

// drawEvents draws the subject s of each event of w until w ends. It
// returns the last Plan drawn (nil when the watch said its version is too
// old), and whether the subject was deleted.
func (g *getOptions) drawEvents(ctx context.Context, w watch.Interface, s *subject, p *execloopv1alpha1.Plan, view planview.Options) (*execloopv1alpha1.Plan, bool, error) {
	for {
		select {
		case <-ctx.Done():
			return p, false, nil
		case ev, ok := <-w.ResultChan():
			if !ok {
				return p, false, nil
			}
			switch ev.Type {
			case watch.Deleted:
				fmt.Fprintf(g.streams.Out, "%s was deleted\n", s)
				return p, true, nil
			case watch.Added, watch.Modified:
				np, err := s.asPlan(ev.Object)
				if err != nil {
					return p, false, err
				}
				p = np
				g.draw(p, view)
			case watch.Error:
				if apierrors.IsResourceExpired(apierrors.FromObject(ev.Object)) || apierrors.IsGone(apierrors.FromObject(ev.Object)) {
					return nil, false, nil
				}
				return p, false, fmt.Errorf("watching %s: %w", s, apierrors.FromObject(ev.Object))
			}
		}
	}
}

// list prints a line per Plan.
func (g *getOptions) list(ctx context.Context, c *cluster, view planview.Options) error {
	var plans execloopv1alpha1.PlanList
	var opts []client.ListOption
	if !g.allNamespaces {
		opts = append(opts, client.InNamespace(c.namespace))
	}
	if err := c.client.List(ctx, &plans, opts...); err != nil {
		return err
	}
	if len(plans.Items) == 0 {
		where := "namespace " + c.namespace
		if g.allNamespaces {
			where = "any namespace"
		}
		fmt.Fprintf(g.streams.ErrOut, "No Plans in %s.\n", where)
		return nil
	}
	tw := tabwriter.NewWriter(g.streams.Out, 0, 4, 2, ' ', 0)
	header := planview.SummaryHeader
	if !g.allNamespaces {
		header = header[1:]
	}
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for i := range plans.Items {
		row := planview.Summary(&plans.Items[i], view)
		if !g.allNamespaces {
			row = row[1:]
		}
		fmt.Fprintln(tw, strings.TrimRight(strings.Join(row, "\t"), "\t"))
	}
	return tw.Flush()
}

// isTerminal reports whether w is a terminal, where --watch redraws in
// place.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
