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
	"strings"
	"text/tabwriter"

	"github.com/pmezard/go-difflib/difflib"
	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	execloopv1alpha1 "github.com/execloop/execloop/api/v1alpha1"
	"github.com/execloop/execloop/internal/manifest"
	"github.com/execloop/execloop/internal/planrun"
)

// fieldManager is the plugin's own, for the dry run of a Plan from a file;
// the tasks' objects are dry-run as the operator's (execloop).
const fieldManager = "kubectl-execloop"

type diffOptions struct {
	*options
	file                  string
	defaultServiceAccount string
}

func newDiffCommand(o *options) *cobra.Command {
	d := &diffOptions{options: o}
	cmd := &cobra.Command{
		Use:   "diff (-f FILE | plan/NAME)",
		Short: "Preview what a Plan would change, without changing anything",
		Long: strings.TrimSpace(`
Preview what the operator would do with a Plan now: for each task, the object
it would apply (computed by the operator's own compiler, expressions
resolved), applied as a server-side dry run (dryRun=All, field manager
execloop, forcing conflicts) as the Plan's identity, so that a task its
ServiceAccount may not do shows up as denied here rather than later.

Each task is marked create, update, unchanged, delete, prune (an object the
Plan applied that no task applies any more), skipped (includeWhen is false),
blocked (it waits for a task, a kind or a value not there yet), denied (with
the verb and the resource) or failed; a unified diff follows for each
change. What came from a Secret is masked: a Secret's values, and in any
object a field an expression computed from one (on both sides of the
diff), and such values wherever else they show.

A Plan from a file is first applied as a dry run as you, so the API server
checks and defaults it; one already in the cluster keeps its status, so
prunes show.

Exit status, as kubectl diff's: 0 when nothing would change, 1 when
something would, 2 on an error or when a task would be denied or fail.

Impersonating the ServiceAccount needs the impersonate verb on
serviceaccounts. A Plan with no ServiceAccount (and no
--default-service-account) acts as the operator itself; the preview then acts
as you.`),
		Example: strings.Trim(`
  # Preview a Plan from a file (new, or a change to one in the cluster)
  kubectl execloop diff -f plan.yaml

  # Preview a Plan in the cluster as it stands (what its next pass does)
  kubectl execloop diff plan/web -n shop

  # As the operator runs with --default-service-account=deployer
  kubectl execloop diff -f plan.yaml --default-service-account deployer`, "\n"),
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			switch {
			case d.file == "" && len(args) == 0, d.file != "" && len(args) > 0:
				return &ExitError{Code: 2, Err: errors.New("name one Plan: -f FILE, or plan/NAME")}
			}
			return d.run(cmd.Context(), args)
		},
	}
	cmd.Flags().StringVarP(&d.file, "filename", "f", "", "a file of Plans (YAML or JSON, several documents allowed), or - for standard input")
	cmd.Flags().StringVar(&d.defaultServiceAccount, "default-service-account", "",
		"the operator's --default-service-account: who a Plan without spec.serviceAccountName acts as")
	return cmd
}

func (d *diffOptions) run(ctx context.Context, args []string) error {
	c, err := d.cluster()
	if err != nil {
		return &ExitError{Code: 2, Err: err}
	}
	var plans []*execloopv1alpha1.Plan
	if d.file != "" {
		plans, err = d.plansFromFile(ctx, c)
	} else {
		var p *execloopv1alpha1.Plan
		p, err = c.getPlan(ctx, args[0])
		plans = append(plans, p)
	}
	if err != nil {
		return &ExitError{Code: 2, Err: err}
	}
	mapper, err := newMapper(c.config)
	if err != nil {
		return &ExitError{Code: 2, Err: err}
	}
	pv := &planrun.Previewer{Config: c.config, Scheme: Scheme(), Mapper: mapper, DefaultServiceAccount: d.defaultServiceAccount}
	code := 0
	for _, p := range plans {
		previews, err := pv.Preview(ctx, p)
		if err != nil {
			return &ExitError{Code: 2, Err: fmt.Errorf("plan %s/%s: %w", p.Namespace, p.Name, err)}
		}
		code = max(code, writeDiff(d.streams.Out, p, pv.Identity(p), previews))
	}
	if code == 0 {
		return nil
	}
	return &ExitError{Code: code}
}

// plansFromFile reads the Plans of d.file, each dry-run applied as the user
// so that the API server defaults and checks it; one already there comes
// back with its UID and status.
func (d *diffOptions) plansFromFile(ctx context.Context, c *cluster) ([]*execloopv1alpha1.Plan, error) {
	var objs []*unstructured.Unstructured
	var err error
	if d.file == "-" {
		objs, err = manifest.Read(d.streams.In)
	} else {
		objs, err = manifest.ReadFile(d.file)
	}
	if err != nil {
		return nil, err
	}
	var plans []*execloopv1alpha1.Plan
	for _, u := range objs {
		if u.GroupVersionKind() != execloopv1alpha1.GroupVersion.WithKind("Plan") {
			continue
		}
		if u.GetNamespace() == "" {
			u.SetNamespace(c.namespace)
		}
		p, err := d.dryRunPlan(ctx, c, u)
		if err != nil {
			return nil, err
		}
		plans = append(plans, p)
	}
	if len(plans) == 0 {
		return nil, fmt.Errorf("%s holds no Plan (apiVersion %s, kind Plan)", d.file, execloopv1alpha1.GroupVersion)
	}
	return plans, nil
}

// dryRunPlan writes u as a dry run, as the user: created when there is no
// such Plan, else replacing the spec of the one there (as applying the
// file as the whole Plan does), which keeps its UID and status. When the
// user may not, it takes the Plan as written, with the UID and status of
// the one in the cluster, if any.
func (d *diffOptions) dryRunPlan(ctx context.Context, c *cluster, u *unstructured.Unstructured) (*execloopv1alpha1.Plan, error) {
	var live execloopv1alpha1.Plan
	err := c.client.Get(ctx, client.ObjectKey{Namespace: u.GetNamespace(), Name: u.GetName()}, &live)
	exists := err == nil
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsForbidden(err) {
		return nil, fmt.Errorf("reading Plan %s/%s: %w", u.GetNamespace(), u.GetName(), err)
	}
	written := u.DeepCopy()
	if exists {
		written.SetResourceVersion(live.ResourceVersion)
		err = c.client.Update(ctx, written, client.DryRunAll, client.FieldOwner(fieldManager))
	} else {
		err = c.client.Create(ctx, written, client.DryRunAll, client.FieldOwner(fieldManager))
	}
	switch {
	case err == nil:
		u = written
	case apierrors.IsForbidden(err):
		fmt.Fprintf(d.streams.ErrOut, "note: you may not write Plan %s/%s, so the API server did not check it: %v\n", u.GetNamespace(), u.GetName(), err)
	default:
		return nil, fmt.Errorf("the API server refuses Plan %s/%s: %w", u.GetNamespace(), u.GetName(), err)
	}
	var p execloopv1alpha1.Plan
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &p); err != nil {
		return nil, fmt.Errorf("reading Plan %s/%s: %w", u.GetNamespace(), u.GetName(), err)
	}
	if exists && p.UID == "" {
		p.UID, p.Generation, p.Status = live.UID, live.Generation+1, live.Status
	}
	return &p, nil
}

// writeDiff prints a Plan's preview: a line per task, then a unified diff
// per change. It returns the exit status it calls for.
func writeDiff(out io.Writer, p *execloopv1alpha1.Plan, identity string, previews []planrun.TaskPreview) int {
	fmt.Fprintf(out, "Plan %s/%s, as %s:\n", p.Namespace, p.Name, identity)
	var table strings.Builder
	tw := tabwriter.NewWriter(&table, 0, 4, 2, ' ', 0)
	code := 0
	for _, pr := range previews {
		object := pr.Object
		if object == "" {
			object = "-"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", pr.Action, pr.Task, object, oneLine(pr.Reason))
		switch {
		case pr.Action == planrun.ActionDenied || pr.Action == planrun.ActionFailed:
			code = 2
		case pr.Action.Changes():
			code = max(code, 1)
		}
	}
	_ = tw.Flush()
	for _, line := range strings.SplitAfter(table.String(), "\n") {
		fmt.Fprint(out, strings.TrimRight(line, " \n")+strings.Repeat("\n", strings.Count(line, "\n")))
	}
	for _, pr := range previews {
		if !pr.Action.Changes() {
			continue
		}
		fmt.Fprintln(out)
		writeUnified(out, pr)
	}
	return code
}

// writeUnified prints the unified diff of one object, live to planned, as
// YAML.
func writeUnified(out io.Writer, pr planrun.TaskPreview) {
	obj := pr.Planned
	if obj == nil {
		obj = pr.Live
	}
	name := diffName(obj)
	diff := difflib.UnifiedDiff{
		A: lines(toYAML(pr.Live)), B: lines(toYAML(pr.Planned)),
		FromFile: "live/" + name, ToFile: "planned/" + name, Context: 3,
	}
	text, err := difflib.GetUnifiedDiffString(diff)
	if err != nil {
		fmt.Fprintf(out, "(no diff of %s: %v)\n", name, err)
		return
	}
	fmt.Fprint(out, text)
}

// diffName names an object's diff as kubectl diff names its files:
// group.version.Kind.namespace.name.
func diffName(obj *unstructured.Unstructured) string {
	gvk := obj.GroupVersionKind()
	parts := []string{}
	if gvk.Group != "" {
		parts = append(parts, gvk.Group)
	}
	parts = append(parts, gvk.Version, gvk.Kind)
	if obj.GetNamespace() != "" {
		parts = append(parts, obj.GetNamespace())
	}
	return strings.Join(append(parts, obj.GetName()), ".")
}

func toYAML(obj *unstructured.Unstructured) string {
	if obj == nil {
		return ""
	}
	b, err := yaml.Marshal(obj.Object)
	if err != nil {
		return fmt.Sprintf("# %v\n", err)
	}
	return string(b)
}

// lines splits a YAML text for difflib; none for an absent object.
func lines(s string) []string {
	if s == "" {
		return nil
	}
	return difflib.SplitLines(strings.TrimSuffix(s, "\n"))
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
