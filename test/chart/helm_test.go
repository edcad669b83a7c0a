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

package chart

import (
	"bytes"
	"fmt"
	"path/filepath"
	"sort"

	"helm.sh/helm/v4/pkg/action"
	chart "helm.sh/helm/v4/pkg/chart/v2"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	release "helm.sh/helm/v4/pkg/release/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/execloop/execloop/internal/manifest"
)

// The release the tests install: with this name and namespace the chart's
// objects have the names config/default gives them (namePrefix execloop-,
// namespace execloop-system).
const (
	releaseName      = "execloop"
	releaseNamespace = "execloop-system"
)

var (
	root      = filepath.Join("..", "..")
	chartPath = filepath.Join(root, "charts", "execloop")
)

// tb is what the helpers need of a test: testing's T and Ginkgo's GinkgoT().
type tb interface {
	Helper()
	Fatal(args ...any)
	Fatalf(format string, args ...any)
}

// loadChart loads charts/execloop from the working tree.
func loadChart(t tb) *chart.Chart {
	t.Helper()
	c, err := loader.Load(chartPath)
	if err != nil {
		t.Fatalf("loading %s: %v", chartPath, err)
	}
	return c
}

// render is `helm template execloop charts/execloop -n execloop-system
// --include-crds` with vals over the chart's values.
func render(t tb, vals map[string]any) []*unstructured.Unstructured {
	t.Helper()
	return renderAs(t, releaseName, releaseNamespace, vals)
}

// renderAs renders the chart for release name in namespace.
func renderAs(t tb, name, namespace string, vals map[string]any) []*unstructured.Unstructured {
	t.Helper()
	install := action.NewInstall(action.NewConfiguration())
	install.DryRunStrategy = action.DryRunClient
	install.Replace = true
	install.ReleaseName = name
	install.Namespace = namespace
	install.IncludeCRDs = true
	r, err := install.Run(loadChart(t), vals)
	if err != nil {
		t.Fatalf("helm template with %v: %v", vals, err)
	}
	rel, ok := r.(*release.Release)
	if !ok {
		t.Fatalf("helm template returned a %T", r)
	}
	objs, err := manifest.Read(bytes.NewBufferString(rel.Manifest))
	if err != nil {
		t.Fatalf("reading what helm template rendered: %v\n%s", err, rel.Manifest)
	}
	return objs
}

// kustomizeBuild is `kustomize build config/default`, what `make
// build-installer` writes to dist/install.yaml.
func kustomizeBuild(t tb) []*unstructured.Unstructured {
	t.Helper()
	return kustomizeBuildIn(t, filesys.MakeFsOnDisk(), filepath.Join(root, "config", "default"))
}

// kustomizeBuildIn is `kustomize build dir` on the file system fs.
func kustomizeBuildIn(t tb, fs filesys.FileSystem, dir string) []*unstructured.Unstructured {
	t.Helper()
	resMap, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(fs, dir)
	if err != nil {
		t.Fatalf("kustomize build %s: %v", dir, err)
	}
	out, err := resMap.AsYaml()
	if err != nil {
		t.Fatal(err)
	}
	objs, err := manifest.Read(bytes.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

// key names an object: kind, namespace and name.
func key(u *unstructured.Unstructured) string {
	return fmt.Sprintf("%s %s/%s", u.GetKind(), u.GetNamespace(), u.GetName())
}

// byKey indexes objects by key.
func byKey(objs []*unstructured.Unstructured) map[string]*unstructured.Unstructured {
	m := make(map[string]*unstructured.Unstructured, len(objs))
	for _, u := range objs {
		m[key(u)] = u
	}
	return m
}

// keys returns the sorted keys of objs.
func keys(objs []*unstructured.Unstructured) []string {
	var ks []string
	for _, u := range objs {
		ks = append(ks, key(u))
	}
	sort.Strings(ks)
	return ks
}
