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

// Command execloop is the local runner of `make run`: the operator of
// cmd/manager, with the same flags, plus what only development needs. With
// --local it first starts a local cluster (internal/localcluster) and runs
// against it; in a terminal it shows the Plans' tasks updating in place
// instead of logs; --apply-samples applies config/samples. The manager that
// ships is cmd/manager, which links none of this.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/go-logr/logr"
	"golang.org/x/term"
	_ "k8s.io/client-go/plugin/pkg/client/auth"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	ctrlmanager "sigs.k8s.io/controller-runtime/pkg/manager"

	"github.com/execloop/execloop/internal/manager"
)

// flags holds the local runner's command line: the manager's, and its own.
type flags struct {
	manager.Flags
	local        bool
	applySamples bool
	progress     string
	logFile      string
}

func main() {
	var f flags
	f.Bind(flag.CommandLine)
	flag.BoolVar(&f.local, "local", false,
		"Start a local cluster (etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok from "+localAssetsDir()+"), install the CRDs and config/admission, "+
			"write its kubeconfig to "+localKubeconfigPath+" and run against it. What 'make run' uses when no kubeconfig is found.")
	flag.BoolVar(&f.applySamples, "apply-samples", false, "Apply config/samples once the manager runs: Plans, and a PlanDefinition and an instance of its kind, which is applied once its CRD is served.")
	flag.StringVar(&f.progress, "progress", "auto",
		"Show the Plans' tasks updating in place in the terminal instead of logs: auto (when standard output is a terminal), always or never.")
	flag.StringVar(&f.logFile, "log-file", "",
		"Write logs to this file instead of standard error. Defaults to "+localLogPath+" while the progress view is shown.")
	flag.Parse()

	if err := f.validate(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	showProgress := f.progress == "always" || (f.progress == "auto" && term.IsTerminal(int(os.Stdout.Fd())))
	logs, closeLogs, err := f.logOutput(showProgress)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer closeLogs()
	setupLog := manager.SetLogger(f.Flags, logs).WithName("setup") // client-go's own messages, too, stay out of the progress view

	if err := run(f, showProgress, setupLog); err != nil {
		setupLog.Error(err, "manager stopped with an error")
		if showProgress {
			fmt.Fprintln(os.Stderr, "manager stopped with an error:", err)
		}
		closeLogs()
		os.Exit(1)
	}
}

// validate checks the flags, naming the one that is wrong.
func (f *flags) validate() error {
	if f.progress != "auto" && f.progress != "always" && f.progress != "never" {
		return fmt.Errorf("--progress must be auto, always or never, got %q", f.progress)
	}
	return f.Validate()
}

// localLogPath is where logs go while the progress view holds the terminal.
const localLogPath = "bin/local/manager.log"

// logOutput returns where the logs go: --log-file, the default log file
// while the progress view is shown, standard error otherwise.
func (f *flags) logOutput(showProgress bool) (io.Writer, func(), error) {
	path := f.logFile
	if path == "" && showProgress {
		path = localLogPath
	}
	if path == "" {
		return os.Stderr, func() {}, nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, nil, fmt.Errorf("--log-file %s: %w", path, err)
	}
	file, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, nil, fmt.Errorf("--log-file %s: %w", path, err)
	}
	f.logFile = path
	return file, func() { _ = file.Close() }, nil
}

// run starts the manager and blocks until it stops; a local cluster
// started for it is stopped before run returns.
func run(f flags, showProgress bool, setupLog logr.Logger) error {
	ctx, stop := context.WithCancel(ctrl.SetupSignalHandler())
	defer stop()

	var cfg *rest.Config
	if f.local {
		cp, err := startLocal(ctx, setupLog)
		if err != nil {
			return err
		}
		defer cp.stop()
		cfg = cp.config
		if f.LeaderElectionNamespace == "" {
			f.LeaderElectionNamespace = "default"
		}
	} else {
		var err error
		if cfg, err = ctrl.GetConfig(); err != nil {
			return fmt.Errorf("loading the kubeconfig (set --kubeconfig or KUBECONFIG, or use --local): %w", err)
		}
	}

	mgr, err := manager.New(cfg, f.Flags)
	if err != nil {
		return err
	}
	if showProgress {
		if err := mgr.Add(&progressView{
			cache: mgr.GetCache(), in: os.Stdin, out: os.Stdout, stop: stop,
			footer: "Logs: " + f.logFile,
		}); err != nil {
			return err
		}
	}
	if f.applySamples {
		if err := mgr.Add(ctrlmanager.RunnableFunc(func(ctx context.Context) error {
			return applySamples(ctx, mgr.GetClient(), filepath.Join("config", "samples"), setupLog)
		})); err != nil {
			return err
		}
	}

	return manager.Run(ctx, mgr, setupLog)
}
