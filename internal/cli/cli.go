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

// Package cli is kubectl execloop, the kubectl plugin of execloop: diff
// previews what a Plan would do, get shows its tasks, and retry, suspend
// and resume act on it. cmd/kubectl-execloop is its main package.
package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"

	execloopv1alpha1 "github.com/execloop/execloop/api/v1alpha1"
)

// ExitError ends the plugin with Code: kubectl diff's convention, 1 for
// "there are changes", above 1 for an error.
type ExitError struct {
	Code int
	Err  error // nil: nothing more to say
}

func (e *ExitError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit status %d", e.Code)
	}
	return e.Err.Error()
}

func (e *ExitError) Unwrap() error { return e.Err }

// Code is the exit status of err: 0 for nil, an ExitError's code, else 2.
func Code(err error) int {
	var e *ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &e):
		return e.Code
	default:
		return 2
	}
}

// Run runs kubectl execloop with args, printing an error (there is none for
// "diff found changes"), and returns the exit status.
func Run(ctx context.Context, args []string, streams genericiooptions.IOStreams) int {
	cmd := NewCommand(streams)
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(ctx)
	var exit *ExitError
	if err != nil && (!errors.As(err, &exit) || exit.Err != nil) {
		fmt.Fprintln(streams.ErrOut, "error:", err)
	}
	return Code(err)
}

// options are what every command shares: the kubectl flags, and the
// streams.
type options struct {
	flags   *genericclioptions.ConfigFlags
	streams genericiooptions.IOStreams
}

// NewCommand is kubectl execloop with its commands.
func NewCommand(streams genericiooptions.IOStreams) *cobra.Command {
	o := &options{flags: genericclioptions.NewConfigFlags(true), streams: streams}
	root := &cobra.Command{
		Use:   "kubectl-execloop",
		Short: "Preview, inspect and steer execloop Plans",
		Long: strings.TrimSpace(`
kubectl execloop previews what a Plan would do before it does it, shows a
Plan's tasks as a tree with their state, and retries, suspends or resumes a
Plan, saying when the operator has acted.

It computes each task's object exactly as the operator does (the same
compiler: namespace defaulting, labels, expressions), and acts as the Plan's
identity where the operator would (its ServiceAccount, impersonated).`),
		Example: strings.Trim(`
  # What would this Plan change? (exit status 1 when something changes)
  kubectl execloop diff -f plan.yaml

  # Watch a Plan's tasks converge
  kubectl execloop get plan/web --watch

  # Retry a Stalled Plan now, with a fresh error budget
  kubectl execloop retry plan/web`, "\n"),
		SilenceUsage:  true,
		SilenceErrors: true,
		Annotations:   map[string]string{cobra.CommandDisplayNameAnnotation: "kubectl execloop"},
	}
	root.SetOut(streams.Out)
	root.SetErr(streams.ErrOut)
	o.flags.AddFlags(root.PersistentFlags())
	root.AddCommand(newDiffCommand(o), newGetCommand(o), newRetryCommand(o), newSuspendCommand(o, true), newSuspendCommand(o, false))
	return root
}

// Scheme holds the kinds the plugin reads: Kubernetes' own and Plans.
func Scheme() *runtime.Scheme {
	s := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(s))
	utilruntime.Must(execloopv1alpha1.AddToScheme(s))
	return s
}

// cluster is what a command needs of the cluster, as the user.
type cluster struct {
	config    *rest.Config
	client    client.WithWatch
	namespace string
	// mapper is kubectl's RESTMapper of the cluster (discovery, cached
	// as kubectl caches it, with short names), made once on first use.
	mapper func() (meta.RESTMapper, error)
}

func (o *options) cluster() (*cluster, error) {
	cfg, err := o.flags.ToRESTConfig()
	if err != nil {
		return nil, err
	}
	ns, _, err := o.flags.ToRawKubeConfigLoader().Namespace()
	if err != nil {
		return nil, err
	}
	c, err := client.NewWithWatch(cfg, client.Options{Scheme: Scheme()})
	if err != nil {
		return nil, err
	}
	return &cluster{config: cfg, client: c, namespace: ns, mapper: o.flags.ToRESTMapper}, nil
}

// planName reads "plan/NAME", "plans/NAME", "plan.execloop.dev/NAME" or
// "NAME".
func planName(arg string) (string, error) {
	kind, name, found := strings.Cut(arg, "/")
	if !found {
		return arg, nil
	}
	switch strings.ToLower(kind) {
	case "plan", "plans", "plan.execloop.dev", "plans.execloop.dev":
		return name, nil
	}
	return "", fmt.Errorf("%q is not a Plan: name one as plan/NAME or NAME", arg)
}

// getPlan reads the Plan named by arg in the command's namespace.
func (c *cluster) getPlan(ctx context.Context, arg string) (*execloopv1alpha1.Plan, error) {
	name, err := planName(arg)
	if err != nil {
		return nil, err
	}
	var p execloopv1alpha1.Plan
	if err := c.client.Get(ctx, client.ObjectKey{Namespace: c.namespace, Name: name}, &p); err != nil {
		return nil, err
	}
	return &p, nil
}

// newMapper is the REST mapper the operator uses, for the previews.
func newMapper(cfg *rest.Config) (meta.RESTMapper, error) {
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return nil, err
	}
	return apiutil.NewDynamicRESTMapper(cfg, hc)
}
