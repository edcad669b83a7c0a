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

// Package support holds what the test suites share: where the control
// plane's binaries are, a stand-in for the controllers envtest does not
// run, the install's finalizer policy, and the line that says on what
// machine figures were measured.
package support

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// EnvtestVersion is the Kubernetes version `make envtest` builds.
const EnvtestVersion = "1.37.2"

// StartTimeout bounds how long a suite's envtest waits for kube-apiserver
// and etcd to start. envtest's own default, 20 s, is too short on a busy
// two-core machine: a kube-apiserver starting while builds run there was
// seen to miss it five times in a row. A slow start is no failure.
const StartTimeout = 2 * time.Minute

// AssetsDir is where `make envtest` puts kube-apiserver, etcd and kubectl,
// given the path of the repository's top folder. make test also says so in
// KUBEBUILDER_ASSETS, which wins; this is for `go test` run by hand.
func AssetsDir(root string) string {
	return filepath.Join(root, "bin", "k8s", fmt.Sprintf("%s-%s-%s", EnvtestVersion, runtime.GOOS, runtime.GOARCH))
}

// MakeDeploymentAvailable writes the status the deployment controller would
// write once every replica is up: envtest runs no controllers.
func MakeDeploymentAvailable(ctx context.Context, c client.Client, namespace, name string) error {
	d := &appsv1.Deployment{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, d); err != nil {
		return err
	}
	n := ptr.Deref(d.Spec.Replicas, 1)
	d.Status = appsv1.DeploymentStatus{
		ObservedGeneration: d.Generation, Replicas: n, UpdatedReplicas: n, ReadyReplicas: n, AvailableReplicas: n,
		Conditions: []appsv1.DeploymentCondition{
			{Type: appsv1.DeploymentAvailable, Status: corev1.ConditionTrue, Reason: "MinimumReplicasAvailable"},
			{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionTrue, Reason: "NewReplicaSetAvailable"},
		},
	}
	return c.Status().Update(ctx, d)
}

// Machine says on what machine figures were measured: CPU, cores, memory,
// Go version.
func Machine() string {
	cpu := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(line, "model name") {
				cpu = strings.TrimSpace(strings.SplitN(line, ":", 2)[1])
				break
			}
		}
	}
	mem := "unknown memory"
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		if f := strings.Fields(strings.SplitN(string(b), "\n", 2)[0]); len(f) >= 2 {
			mem = f[1] + " kB memory"
		}
	}
	return fmt.Sprintf("%s, %d CPUs, %s, %s, %s/%s", cpu, runtime.NumCPU(), mem, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}
