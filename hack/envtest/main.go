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

// Command envtest builds kube-apiserver, etcd and kubectl from source, for
// envtest, where no prebuilt binaries can be downloaded (setup-envtest
// needs a download site; the Go module proxy is enough here):
//
//	go run github.com/execloop/execloop/hack/envtest@latest -dir bin/k8s
//
// writes them to bin/k8s/<version>-<os>-<arch>, where
// reconcilertest.Assets (and this project's make envtest) look for them.
// With -cluster it also builds what a whole local cluster needs beside
// them: kube-controller-manager, kube-scheduler and kwok (simulated nodes).
// A binary already there is kept; each is written under a temporary name
// first, so an interrupted build leaves no broken binary behind. The first
// build takes five to ten minutes on two cores, and -cluster about seven
// more; later ones reuse Go's build cache.
//
// The Kubernetes binaries come from the Go module in module/ (its go.mod
// is go.mod.in, so that it stays out of this module): Kubernetes' own
// packages need replace directives, which a module run with go run
// pkg@version may not have. kwok comes from the module in kwok/, since it
// needs other versions of the k8s.io modules. Each is written to a
// temporary folder and built there.
package main

import (
	"context"
	"embed"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"
)

// Version is the Kubernetes version of the binaries.
const Version = "1.37.2"

//go:embed module/go.mod.in module/go.sum module/etcd/main.go.in kwok/go.mod.in kwok/go.sum
var modules embed.FS

// versionFlags give the Kubernetes binaries (those of module/) their version: built from a
// module, they would report "v0.0.0-master+$Format:%H$", which kubectl
// version cannot parse.
var versionFlags = "-X k8s.io/component-base/version.gitVersion=v" + Version +
	" -X k8s.io/component-base/version.gitMajor=" + strings.Split(Version, ".")[0] +
	" -X k8s.io/component-base/version.gitMinor=" + strings.Split(Version, ".")[1] +
	" -X k8s.io/component-base/version.gitTreeState=clean"

// binary is one binary to build: its name, the build module (a folder of
// modules) and the package in it, and whether only -cluster builds it.
type binary struct {
	name, module, pkg string
	cluster           bool
}

// The build modules: Kubernetes' (with etcd), and kwok's.
const (
	kubernetesModule = "module"
	kwokModule       = "kwok"
)

// binaries are what envtest runs, then what a local cluster adds to it.
var binaries = []binary{
	{"etcd", kubernetesModule, "./etcd", false},
	{"kube-apiserver", kubernetesModule, "k8s.io/kubernetes/cmd/kube-apiserver", false},
	{"kubectl", kubernetesModule, "k8s.io/kubernetes/cmd/kubectl", false},
	{"kube-controller-manager", kubernetesModule, "k8s.io/kubernetes/cmd/kube-controller-manager", true},
	{"kube-scheduler", kubernetesModule, "k8s.io/kubernetes/cmd/kube-scheduler", true},
	{"kwok", kwokModule, "sigs.k8s.io/kwok/cmd/kwok", true},
}

func main() {
	dir := flag.String("dir", filepath.Join("bin", "k8s"), "where to put the binaries: they go to DIR/"+Version+"-GOOS-GOARCH")
	force := flag.Bool("force", false, "build again the binaries that are there")
	cluster := flag.Bool("cluster", false, "build kube-controller-manager, kube-scheduler and kwok too, for a whole local cluster")
	flag.Parse()
	// Interrupted, the build stops and its temporary files go.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	out, err := build(ctx, *dir, *force, *cluster)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "envtest:", err)
		os.Exit(1)
	}
	fmt.Println(out) // the folder, for KUBEBUILDER_ASSETS=$(go run ...)
}

// build builds the missing binaries (with cluster, those of a local
// cluster too) into dir's folder of this version and platform, and returns
// that folder.
func build(ctx context.Context, dir string, force, cluster bool) (string, error) {
	out, err := filepath.Abs(filepath.Join(dir, fmt.Sprintf("%s-%s-%s", Version, runtime.GOOS, runtime.GOARCH)))
	if err != nil {
		return "", err
	}
	var missing []binary
	for _, b := range binaries {
		if b.cluster && !cluster {
			continue
		}
		if _, err := os.Stat(filepath.Join(out, b.name)); force || err != nil {
			missing = append(missing, b)
		}
	}
	if len(missing) == 0 {
		return out, nil
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return "", err
	}
	src, err := os.MkdirTemp("", "execloop-envtest-")
	if err != nil {
		return "", err
	}
	defer func() { _ = os.RemoveAll(src) }()
	if err := writeModules(src); err != nil {
		return "", err
	}
	for _, b := range missing {
		target := filepath.Join(out, b.name)
		fmt.Fprintf(os.Stderr, "building %s from source into %s (the first build takes minutes)\n", b.name, out)
		start := time.Now()
		ldflags := "-s"
		if b.module == kubernetesModule {
			ldflags += " " + versionFlags
		}
		cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags="+ldflags, "-o", target+".tmp", b.pkg)
		cmd.Dir = filepath.Join(src, b.module)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOWORK=off", "GOFLAGS="+strings.TrimSpace(os.Getenv("GOFLAGS")+" -mod=mod"))
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			_ = os.Remove(target + ".tmp")
			return "", fmt.Errorf("building %s: %w", b.name, err)
		}
		if err := os.Rename(target+".tmp", target); err != nil {
			return "", err
		}
		fmt.Fprintf(os.Stderr, "built %s in %s\n", b.name, time.Since(start).Round(time.Second))
	}
	return out, nil
}

// writeModules writes the build modules into dir, each in a folder of its
// own and its files under their real names.
func writeModules(dir string) error {
	return fs.WalkDir(modules, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := modules.ReadFile(path)
		if err != nil {
			return err
		}
		target := filepath.Join(dir, strings.TrimSuffix(path, ".in"))
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o644)
	})
}
