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
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// envtestVersion is the Kubernetes version of the control plane that
// `make envtest` builds from source into bin/k8s/.
const envtestVersion = "1.37.2"

// localKubeconfigPath is where --local writes the kubeconfig of its embedded
// control plane, relative to the working directory.
const localKubeconfigPath = "bin/local/kubeconfig"

// localAssetsDir is where `make envtest` puts kube-apiserver, etcd and kubectl.
func localAssetsDir() string {
	return filepath.Join("bin", "k8s", fmt.Sprintf("%s-%s-%s", envtestVersion, runtime.GOOS, runtime.GOARCH))
}

// localControlPlane is an embedded kube-apiserver and etcd for --local.
type localControlPlane struct {
	env    *envtest.Environment
	config *rest.Config
	log    logr.Logger
}

// startLocal starts the embedded control plane with the CRDs of
// config/crd/bases and the admission policy of config/admission installed,
// and writes its kubeconfig. It builds the binaries with `make envtest`
// when they are missing.
func startLocal(log logr.Logger) (*localControlPlane, error) {
	assets := os.Getenv("KUBEBUILDER_ASSETS")
	if assets == "" {
		assets = localAssetsDir()
	}
	if _, err := os.Stat(filepath.Join(assets, "kube-apiserver")); err != nil {
		log.Info("the local control plane's binaries are missing; building them with `make envtest` (the first build takes minutes)", "dir", assets)
		cmd := exec.Command("make", "envtest")
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		if err := cmd.Run(); err != nil {
			return nil, fmt.Errorf("building the local control plane with `make envtest`: %w", err)
		}
	}

	env := &envtest.Environment{
		BinaryAssetsDirectory: assets,
		// envtest's 20 s is too short for a first start on a busy machine:
		// `make run` must work while other builds run too.
		ControlPlaneStartTimeout: 2 * time.Minute,
		CRDDirectoryPaths:        []string{filepath.Join("config", "crd", "bases")},
		// Run from elsewhere than the repository, the CRDs are not found:
		// say so, rather than start an operator for a kind nobody installed.
		ErrorIfCRDPathMissing: true,
	}
	log.Info("starting the local control plane", "binaries", assets)
	cfg, err := env.Start()
	if err != nil {
		// envtest leaves the processes it started running when a later step
		// (the CRDs) fails: stop them, or they outlive the manager.
		_ = env.Stop()
		return nil, fmt.Errorf("starting the local control plane from %s with the CRDs of %s: %w", assets, env.CRDDirectoryPaths[0], err)
	}
	cp := &localControlPlane{env: env, config: cfg, log: log}

	if err := os.MkdirAll(filepath.Dir(localKubeconfigPath), 0o700); err != nil {
		cp.stop()
		return nil, fmt.Errorf("writing the local kubeconfig: %w", err)
	}
	if err := os.WriteFile(localKubeconfigPath, env.KubeConfig, 0o600); err != nil {
		cp.stop()
		return nil, fmt.Errorf("writing the local kubeconfig: %w", err)
	}
	// The install's admission policy, so that Plans get their cleanup
	// finalizer at creation here too (the manager adds it when they do not).
	c, err := client.New(cfg, client.Options{})
	if err == nil {
		err = applyResources(context.Background(), c, filepath.Join("config", "admission"), "execloop-local", log)
	}
	if err != nil {
		cp.stop()
		return nil, fmt.Errorf("installing config/admission in the local control plane: %w", err)
	}
	fmt.Fprintf(os.Stderr, "Local control plane is up: kubectl --kubeconfig %s get plans\n", localKubeconfigPath)
	return cp, nil
}

// stop stops the embedded control plane and removes its kubeconfig, which
// would point at a server that no longer exists.
func (cp *localControlPlane) stop() {
	if err := cp.env.Stop(); err != nil {
		cp.log.Error(err, "stopping the local control plane")
	}
	_ = os.Remove(localKubeconfigPath)
}
