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
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	execloopv1alpha1 "github.com/execloop/execloop/api/v1alpha1"
	"github.com/execloop/execloop/execloop/reconciler/status"
)

// controlOptions are those of retry, suspend and resume.
type controlOptions struct {
	*options
	wait    bool
	timeout time.Duration
	now     func() time.Time
}

func (c *controlOptions) addFlags(cmd *cobra.Command) {
	cmd.Flags().BoolVar(&c.wait, "wait", true, "wait until the operator has acted")
	cmd.Flags().DurationVar(&c.timeout, "timeout", time.Minute, "how long --wait waits")
}

func newRetryCommand(o *options) *cobra.Command {
	c := &controlOptions{options: o, now: time.Now}
	cmd := &cobra.Command{
		Use:   "retry plan/NAME",
		Short: "Run a Plan's next pass now, with a fresh error budget",
		Long: strings.TrimSpace(`
Ask the operator for a pass of the Plan now, with a fresh error budget:
whether it is Stalled (it spent its budget, or a task failed in a way that
does not fix itself), backing off, or waiting for its next pass. It sets the
annotation ` + status.RequestedAtAnnotation + ` to the time, and waits
until the Plan's status.lastHandledReconcileAt shows that value: the operator
has started that pass. A suspended or paused Plan is refused: it would stay
so, and run no pass.`),
		Example: strings.Trim(`
  # A Stalled Plan: the RoleBinding it lacked exists now
  kubectl execloop retry plan/web -n shop`, "\n"),
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return wrapExit(c.retry(cmd.Context(), args[0]))
		},
	}
	c.addFlags(cmd)
	return cmd
}

func newSuspendCommand(o *options, suspend bool) *cobra.Command {
	c := &controlOptions{options: o, now: time.Now}
	cmd := &cobra.Command{
		Use:   "suspend plan/NAME",
		Short: "Stop a Plan's passes (spec.suspend: true)",
		Long: strings.TrimSpace(`
Set the Plan's spec.suspend, and wait until the operator says so (phase
Suspended). A suspended Plan runs no pass: nothing is applied, pruned or
corrected until it is resumed; deleting it still runs its cleanup.`),
		Example: "  kubectl execloop suspend plan/web -n shop",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return wrapExit(c.setSuspend(cmd.Context(), args[0], true))
		},
	}
	if !suspend {
		cmd.Use = "resume plan/NAME"
		cmd.Short = "Let a suspended Plan run again (spec.suspend: false)"
		cmd.Long = strings.TrimSpace(`
Clear the Plan's spec.suspend, and wait until the operator has taken the
change (status.observedGeneration caught up, phase no longer Suspended).`)
		cmd.Example = "  kubectl execloop resume plan/web -n shop"
		cmd.RunE = func(cmd *cobra.Command, args []string) error {
			return wrapExit(c.setSuspend(cmd.Context(), args[0], false))
		}
	}
	c.addFlags(cmd)
	return cmd
}

// resting says why a Plan runs no pass (suspended, paused), or "".
func resting(p *execloopv1alpha1.Plan) string {
	switch {
	case p.Spec.Suspend:
		return "suspended (spec.suspend)"
	case p.GetAnnotations()[status.PausedAnnotation] == "true":
		return "paused (the annotation " + status.PausedAnnotation + "=true)"
	}
	return ""
}

func wrapExit(err error) error {
	if err == nil {
		return nil
	}
	return &ExitError{Code: 2, Err: err}
}

// retry sets the request annotation and waits for the status to show it
// handled.
func (c *controlOptions) retry(ctx context.Context, arg string) error {
	cl, err := c.cluster()
	if err != nil {
		return err
	}
	p, err := cl.getPlan(ctx, arg)
	if err != nil {
		return err
	}
	if why := resting(p); why != "" {
		return fmt.Errorf("plan %s/%s is %s, and stays so through a retry: resume it first (kubectl execloop resume plan/%s)", p.Namespace, p.Name, why, p.Name)
	}
	requested := c.now().UTC().Format(time.RFC3339Nano)
	patch := fmt.Sprintf(`{"metadata":{"annotations":{%q:%q}}}`, status.RequestedAtAnnotation, requested)
	if err := cl.client.Patch(ctx, p, client.RawPatch("application/merge-patch+json", []byte(patch))); err != nil {
		return fmt.Errorf("asking for a pass of plan %s/%s: %w", p.Namespace, p.Name, err)
	}
	fmt.Fprintf(c.streams.Out, "plan %s/%s: retry requested at %s\n", p.Namespace, p.Name, requested)
	if !c.wait {
		return nil
	}
	got, err := c.await(ctx, cl, p, "the operator to start the pass", func(p *execloopv1alpha1.Plan) bool {
		return p.Status.LastHandledReconcileAt == requested
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(c.streams.Out, "plan %s/%s: the operator started the pass; phase %s\n", got.Namespace, got.Name, got.Status.Phase)
	return nil
}

// setSuspend sets spec.suspend and waits for the operator to take it.
func (c *controlOptions) setSuspend(ctx context.Context, arg string, suspend bool) error {
	cl, err := c.cluster()
	if err != nil {
		return err
	}
	p, err := cl.getPlan(ctx, arg)
	if err != nil {
		return err
	}
	patch := fmt.Sprintf(`{"spec":{"suspend":%t}}`, suspend)
	if err := cl.client.Patch(ctx, p, client.RawPatch("application/merge-patch+json", []byte(patch))); err != nil {
		return fmt.Errorf("setting spec.suspend of plan %s/%s: %w", p.Namespace, p.Name, err)
	}
	verb := map[bool]string{true: "suspended", false: "resumed"}[suspend]
	fmt.Fprintf(c.streams.Out, "plan %s/%s: spec.suspend set to %t\n", p.Namespace, p.Name, suspend)
	if !c.wait {
		return nil
	}
	if paused := p.GetAnnotations()[status.PausedAnnotation] == "true"; paused && !suspend {
		fmt.Fprintf(c.streams.ErrOut, "note: plan %s/%s is also paused by the annotation %s=true, which resume leaves alone; it runs no pass until that goes\n",
			p.Namespace, p.Name, status.PausedAnnotation)
		return nil
	}
	generation := p.Generation
	got, err := c.await(ctx, cl, p, "the operator to take the change", func(p *execloopv1alpha1.Plan) bool {
		isSuspended := p.Status.Phase == execloopv1alpha1.PlanSuspended
		return p.Status.ObservedGeneration >= generation && isSuspended == suspend
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(c.streams.Out, "plan %s/%s: %s; phase %s\n", got.Namespace, got.Name, verb, got.Status.Phase)
	return nil
}

// await polls the Plan until done says so, or c.timeout passes.
func (c *controlOptions) await(ctx context.Context, cl *cluster, p *execloopv1alpha1.Plan, what string, done func(*execloopv1alpha1.Plan) bool) (*execloopv1alpha1.Plan, error) {
	var got execloopv1alpha1.Plan
	err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, c.timeout, true, func(ctx context.Context) (bool, error) {
		if err := cl.client.Get(ctx, client.ObjectKeyFromObject(p), &got); err != nil {
			return false, err
		}
		return done(&got), nil
	})
	if err != nil {
		return nil, fmt.Errorf("plan %s/%s: waited %s for %s: %w (is the operator running?)", p.Namespace, p.Name, c.timeout, what, err)
	}
	return &got, nil
}
