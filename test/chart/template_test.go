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
	"flag"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"helm.sh/helm/v4/pkg/action"
	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/execloop/execloop/internal/manager"
)

// nonDefaultValues sets every value the chart offers to something else
// than its default.
var nonDefaultValues = map[string]any{
	"image":            map[string]any{"repository": "registry.example/execloop", "tag": "v1.2.3", "pullPolicy": "Always"},
	"imagePullSecrets": []any{map[string]any{"name": "pull"}},
	"replicas":         3,
	"resources":        map[string]any{"requests": map[string]any{"cpu": "100m", "memory": "128Mi"}},
	"manager": map[string]any{
		"leaderElection": false, "sleepBetweenRuns": "2s", "errorsToTolerate": 0,
		"defaultServiceAccount": "deployer", "maxConcurrentReconciles": 8, "extraArgs": []any{"--resync-interval=5m"},
	},
	"definitionGroups": []any{"platform.example.com", "apps.example.org"},
	"applierRole":      map[string]any{"enabled": false},
	"admissionPolicy":  map[string]any{"enabled": false},
	"metrics":          map[string]any{"networkPolicy": map[string]any{"enabled": false}, "serviceMonitor": map[string]any{"enabled": true}},
	"nodeSelector":     map[string]any{"kubernetes.io/os": "linux"},
	"tolerations":      []any{map[string]any{"key": "dedicated", "operator": "Exists", "effect": "NoSchedule"}},
	"affinity": map[string]any{"nodeAffinity": map[string]any{"requiredDuringSchedulingIgnoredDuringExecution": map[string]any{
		"nodeSelectorTerms": []any{map[string]any{"matchExpressions": []any{map[string]any{"key": "zone", "operator": "In", "values": []any{"a"}}}}},
	}}},
	"podAnnotations": map[string]any{"example.com/team": "platform"},
}

func TestChartLints(t *testing.T) {
	for name, vals := range map[string]map[string]any{"default values": nil, "non-default values": nonDefaultValues} {
		t.Run(name, func(t *testing.T) {
			lint := action.NewLint()
			lint.Strict = true
			lint.Namespace = releaseNamespace
			result := lint.Run([]string{chartPath}, vals)
			for _, msg := range result.Messages {
				t.Log(msg)
			}
			if len(result.Errors) > 0 {
				t.Errorf("helm lint --strict: %v", result.Errors)
			}
		})
	}
}

// The chart and config/ are one install: with its default values the chart
// renders the objects of `kustomize build config/default` (but the
// Namespace, which the release's namespace is), field for field, and with
// the definition groups of config/definition-groups what config/default
// makes with that component turned on. The chart may add labels (Helm's
// own, and app.kubernetes.io/instance to selectors).
func TestChartRendersTheObjectsOfConfigDefault(t *testing.T) {
	for _, tc := range []struct {
		name   string
		config func(t tb) []*unstructured.Unstructured
		values map[string]any
	}{
		{"default values", kustomizeBuild, nil},
		{"config/definition-groups", kustomizeBuildWithDefinitionGroups, map[string]any{"definitionGroups": []any{"platform.example.com"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := slices.DeleteFunc(tc.config(t), func(u *unstructured.Unstructured) bool { return u.GetKind() == "Namespace" })
			got := render(t, tc.values)
			if wk, gk := keys(want), keys(got); !slices.Equal(wk, gk) {
				t.Fatalf("the chart renders other objects than config/default:\n  only in config/default: %v\n  only in the chart: %v",
					without(wk, gk), without(gk, wk))
			}
			rendered := byKey(got)
			for _, w := range want {
				for _, d := range diff(w.GetKind(), "", w.Object, rendered[key(w)].Object) {
					t.Errorf("%s: %s", key(w), d)
				}
			}
		})
	}
}

func TestChartRendersItsValues(t *testing.T) {
	objs := render(t, nonDefaultValues)
	for _, k := range []string{
		"ClusterRole /execloop-applier-role", "ClusterRoleBinding /execloop-applier-rolebinding",
		"MutatingAdmissionPolicy /execloop-plan-cleanup-finalizer", "MutatingAdmissionPolicyBinding /execloop-plan-cleanup-finalizer",
		"NetworkPolicy execloop-system/execloop-allow-metrics-traffic",
	} {
		if _, ok := byKey(objs)[k]; ok {
			t.Errorf("%s is rendered although its value turns it off", k)
		}
	}
	monitor := byKey(objs)["ServiceMonitor execloop-system/execloop-controller-manager-metrics-monitor"]
	if monitor == nil {
		t.Fatal("no ServiceMonitor with metrics.serviceMonitor.enabled")
	}

	d := deployment(t, objs)
	pod := d.Spec.Template
	c := pod.Spec.Containers[0]
	checks := map[string][2]any{
		"image":               {c.Image, "registry.example/execloop:v1.2.3"},
		"imagePullPolicy":     {string(c.ImagePullPolicy), "Always"},
		"imagePullSecrets":    {pod.Spec.ImagePullSecrets[0].Name, "pull"},
		"replicas":            {*d.Spec.Replicas, int32(3)},
		"resources":           {c.Resources.Requests.Cpu().String() + " " + c.Resources.Requests.Memory().String(), "100m 128Mi"},
		"nodeSelector":        {pod.Spec.NodeSelector["kubernetes.io/os"], "linux"},
		"tolerations":         {pod.Spec.Tolerations[0].Key, "dedicated"},
		"affinity":            {pod.Spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms[0].MatchExpressions[0].Key, "zone"},
		"podAnnotations":      {pod.Annotations["example.com/team"], "platform"},
		"the default one too": {pod.Annotations["kubectl.kubernetes.io/default-container"], "manager"},
	}
	for name, c := range checks {
		if c[0] != c[1] {
			t.Errorf("%s: rendered %v, want %v", name, c[0], c[1])
		}
	}
	if sel := monitor.Object["spec"].(map[string]any)["selector"].(map[string]any)["matchLabels"].(map[string]any); !selects(sel, pod.Labels) {
		t.Errorf("the ServiceMonitor selects %v, not the manager's pods %v", sel, pod.Labels)
	}
	if !reflect.DeepEqual(c.SecurityContext, deployment(t, render(t, nil)).Spec.Template.Spec.Containers[0].SecurityContext) {
		t.Errorf("values changed the container's hardening: %+v", c.SecurityContext)
	}

	f := parseArgs(t, c.Args)
	flags := map[string][2]any{
		"--leader-elect":              {f.LeaderElect, false},
		"--sleep-between-runs":        {f.SleepBetweenRuns, 2 * time.Second},
		"--errors-to-tolerate":        {f.ErrorsToTolerate, 0},
		"--default-service-account":   {f.DefaultServiceAccount, "deployer"},
		"--max-concurrent-reconciles": {f.MaxConcurrentReconciles, 8},
		"--resync-interval":           {f.ResyncInterval, 5 * time.Minute},
		"--definition-groups":         {strings.Join(f.DefinitionGroups, ","), "platform.example.com,apps.example.org"},
	}
	for name, v := range flags {
		if v[0] != v[1] {
			t.Errorf("%s: the manager parses %v from %v, want %v", name, v[0], c.Args, v[1])
		}
	}
}

// Whatever the release is called and wherever it goes, every binding binds
// a role the chart renders to the ServiceAccount the manager runs as.
func TestChartBindsItsRolesToTheManager(t *testing.T) {
	for _, release := range []struct{ name, namespace string }{{releaseName, releaseNamespace}, {"ops", "platform"}} {
		t.Run(release.name, func(t *testing.T) {
			objs := renderAs(t, release.name, release.namespace, nil)
			rendered := byKey(objs)
			sa := deployment(t, objs).Spec.Template.Spec.ServiceAccountName
			if rendered["ServiceAccount "+release.namespace+"/"+sa] == nil {
				t.Fatalf("the Deployment runs as ServiceAccount %s, which the chart does not render", sa)
			}
			bindings := 0
			for _, u := range objs {
				if u.GetKind() != "ClusterRoleBinding" && u.GetKind() != "RoleBinding" {
					continue
				}
				bindings++
				ref := u.Object["roleRef"].(map[string]any)
				role := fmt.Sprintf("ClusterRole /%s", ref["name"])
				if ref["kind"] == "Role" {
					role = fmt.Sprintf("Role %s/%s", u.GetNamespace(), ref["name"])
				}
				if rendered[role] == nil {
					t.Errorf("%s binds %s, which the chart does not render", key(u), role)
				}
				subjects := u.Object["subjects"].([]any)
				s := subjects[0].(map[string]any)
				if len(subjects) != 1 || s["kind"] != "ServiceAccount" || s["name"] != sa || s["namespace"] != release.namespace {
					t.Errorf("%s binds %v, want the ServiceAccount %s/%s", key(u), subjects, release.namespace, sa)
				}
			}
			if bindings != 4 {
				t.Errorf("%d bindings, want 4 (manager, leader election, applier, metrics auth)", bindings)
			}
		})
	}
}

// deployment returns the manager's Deployment among objs.
func deployment(t tb, objs []*unstructured.Unstructured) *appsv1.Deployment {
	t.Helper()
	for _, u := range objs {
		if u.GetKind() == "Deployment" {
			d := &appsv1.Deployment{}
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, d); err != nil {
				t.Fatal(err)
			}
			return d
		}
	}
	t.Fatal("no Deployment rendered")
	return nil
}

// parseArgs parses the manager's command line as cmd/manager does.
func parseArgs(t tb, args []string) manager.Flags {
	t.Helper()
	var f manager.Flags
	fs := flag.NewFlagSet("manager", flag.ContinueOnError)
	f.Bind(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatalf("the manager refuses the chart's arguments %v: %v", args, err)
	}
	if err := f.Validate(); err != nil {
		t.Fatalf("the manager refuses the chart's arguments %v: %v", args, err)
	}
	return f
}

// selects says whether a selector's labels are all among labels.
func selects(selector map[string]any, labels map[string]string) bool {
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return len(selector) > 0
}

// without returns the elements of a that are not in b.
func without(a, b []string) []string {
	var out []string
	for _, s := range a {
		if !slices.Contains(b, s) {
			out = append(out, s)
		}
	}
	return out
}

// diff compares what config/default makes (want) with what the chart
// renders (got) at path, and says where they differ. Empty lists and maps
// count as absent. Maps of labels are compared as sets that the chart may
// add to (Helm's labels, app.kubernetes.io/instance), and
// app.kubernetes.io/managed-by is the tool's own; the CRD's labels are not
// compared: crds/ is a copy of config/crd, which kustomize labels.
func diff(kind, path string, want, got any) []string {
	if kind == "CustomResourceDefinition" && path == ".metadata.labels" {
		return nil
	}
	if isLabels(kind, path) {
		var out []string
		for k, v := range asMap(want) {
			if k != "app.kubernetes.io/managed-by" && asMap(got)[k] != v {
				out = append(out, fmt.Sprintf("%s: label %s is %v, want %v", path, k, asMap(got)[k], v))
			}
		}
		return out
	}
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			break
		}
		var out []string
		seen := map[string]bool{}
		for k, wv := range w {
			seen[k] = true
			if !empty(wv) || !empty(g[k]) {
				out = append(out, diff(kind, path+"."+k, wv, g[k])...)
			}
		}
		for k, gv := range g {
			if !seen[k] && !empty(gv) {
				out = append(out, fmt.Sprintf("%s.%s: the chart sets %v, config/default nothing", path, k, gv))
			}
		}
		return out
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			break
		}
		var out []string
		for i := range w {
			out = append(out, diff(kind, fmt.Sprintf("%s[%d]", path, i), w[i], g[i])...)
		}
		return out
	default:
		if reflect.DeepEqual(want, got) {
			return nil
		}
	}
	return []string{fmt.Sprintf("%s: the chart renders %v, config/default %v", path, got, want)}
}

// isLabels says whether path holds a map of labels.
func isLabels(kind, path string) bool {
	return strings.HasSuffix(path, "metadata.labels") || strings.HasSuffix(path, ".matchLabels") ||
		(kind == "Service" && path == ".spec.selector")
}

func asMap(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

func empty(v any) bool {
	switch v := v.(type) {
	case nil:
		return true
	case map[string]any:
		return len(v) == 0
	case []any:
		return len(v) == 0
	}
	return false
}
