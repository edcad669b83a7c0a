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

// Command manager runs the execloop operator as it ships in the container
// image: flags, then the logger, then a controller-runtime manager with the
// Plan controller, against the cluster of the in-cluster config or the
// kubeconfig (--kubeconfig, KUBECONFIG). It links no development tooling:
// the local control plane and the terminal view of `make run` live in the
// repository's root package.
package main

import (
	"flag"
	"fmt"
	"os"

	_ "k8s.io/client-go/plugin/pkg/client/auth"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/execloop/execloop/internal/manager"
)

func main() {
	var f manager.Flags
	f.Bind(flag.CommandLine)
	flag.Parse()
	if err := f.Validate(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	setupLog := manager.SetLogger(f, os.Stderr).WithName("setup")

	cfg, err := ctrl.GetConfig()
	if err != nil {
		setupLog.Error(err, "loading the kubeconfig (set --kubeconfig or KUBECONFIG)")
		os.Exit(1)
	}
	mgr, err := manager.New(cfg, f)
	if err == nil {
		err = manager.Run(ctrl.SetupSignalHandler(), mgr, setupLog)
	}
	if err != nil {
		setupLog.Error(err, "manager stopped with an error")
		os.Exit(1)
	}
}
