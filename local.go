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

	"github.com/execloop/execloop/internal/localcluster"
)

// envtestVersion is the Kubernetes version of the cluster that
// `make cluster-binaries` builds from source into bin/k8s/.
const envtestVersion = "1.37.2"

// localKubeconfigPath is where --local writes the kubeconfig of its local
// cluster, relative to the working directory.
const localKubeconfigPath = "bin/local/kubeconfig"

// localAssetsDir is where `make cluster-binaries` puts the local cluster's
// binaries, beside envtest's.
func localAssetsDir() string {
	return filepath.Join("bin", "k8s", fmt.Sprintf("%s-%s-%s", envtestVersion, runtime.GOOS, runtime.GOARCH))
}

// localControlPlane is the local cluster of --local: etcd,
// kube-apiserver, kube-controller-manager, kube-scheduler and kwok's fake
// node (internal/localcluster).
type localControlPlane struct {
	cluster *localcluster.Cluster
	config  *rest.Config
	log     logr.Logger
}

// startLocal starts the local cluster with the CRDs of config/crd/bases and
// the admission policy of config/admission installed, and writes its
// kubeconfig. It builds the binaries with `make cluster-binaries` when
// they are missing. Cancelling ctx stops the start.
func startLocal(ctx context.Context, log logr.Logger) (*localControlPlane, error) {
	assets := os.Getenv("KUBEBUILDER_ASSETS")
	if assets == "" {
		assets = localAssetsDir()
	}
	for _, name := range localcluster.Binaries {
		if _, err := os.Stat(filepath.Join(assets, name)); err != nil {
			log.Info("the local cluster's binaries are missing; building them with `make cluster-binaries` (the first build takes minutes)", "dir", assets)
			cmd := exec.CommandContext(ctx, "make", "cluster-binaries")
			cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
			if err := cmd.Run(); err != nil {
				return nil, fmt.Errorf("building the local cluster with `make cluster-binaries`: %w", err)
			}
			break
		}
	}

	log.Info("starting the local cluster", "binaries", assets)
	start := time.Now()
	cluster, err := localcluster.Start(ctx, localcluster.Options{
		BinaryDir: assets,
		// Run from elsewhere than the repository, the CRDs are not found:
		// say so, rather than start an operator for a kind nobody installed.
		CRDDirectoryPaths: []string{filepath.Join("config", "crd", "bases")},
	})
	if err != nil {
		return nil, fmt.Errorf("starting the local cluster from %s: %w", assets, err)
	}
	log.Info("the local cluster is up", "took", time.Since(start).Round(time.Millisecond), "dir", cluster.Dir)
	cp := &localControlPlane{cluster: cluster, config: cluster.Config, log: log}

	if err := os.MkdirAll(filepath.Dir(localKubeconfigPath), 0o700); err != nil {
		cp.stop()
		return nil, fmt.Errorf("writing the local kubeconfig: %w", err)
	}
	if err := os.WriteFile(localKubeconfigPath, cluster.KubeConfig, 0o600); err != nil {
		cp.stop()
		return nil, fmt.Errorf("writing the local kubeconfig: %w", err)
	}
	// The install's admission policy, so that Plans get their cleanup
	// finalizer at creation here too (the manager adds it when they do not).
	c, err := client.New(cluster.Config, client.Options{})
	if err == nil {
		err = applyResources(ctx, c, filepath.Join("config", "admission"), "execloop-local", log)
	}
	if err != nil {
		cp.stop()
		return nil, fmt.Errorf("installing config/admission in the local cluster: %w", err)
	}
	fmt.Fprintf(os.Stderr, "Local cluster is up: kubectl --kubeconfig %s get plans\n", localKubeconfigPath)
	return cp, nil
}

// stop stops the local cluster and removes its kubeconfig, which would
// point at a server that no longer exists.
func (cp *localControlPlane) stop() {
	if err := cp.cluster.Stop(); err != nil {
		cp.log.Error(err, "stopping the local cluster")
	}
	_ = os.Remove(localKubeconfigPath)
}
