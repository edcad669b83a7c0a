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
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// The groups PlanDefinitions may use are one list in each install (the
// chart's definitionGroups, config/definition-groups), and from it come
// both the manager's --definition-groups flag and the only rule that
// reaches the instance kinds: no list, no flag and no such rule; a list,
// the flag with exactly those groups and a rule on exactly those groups,
// bound to the manager.
func TestDefinitionGroupsSetTheFlagAndTheInstanceRule(t *testing.T) {
	two := []string{"platform.example.com", "apps.example.org"}
	for _, tc := range []struct {
		name    string
		install func(t tb) []*unstructured.Unstructured
		want    []string
	}{
		{"the chart with its default values", func(t tb) []*unstructured.Unstructured { return render(t, nil) }, nil},
		{"the chart with definitionGroups: []", func(t tb) []*unstructured.Unstructured {
			return render(t, map[string]any{"definitionGroups": []any{}})
		}, nil},
		{"the chart with two groups", func(t tb) []*unstructured.Unstructured {
			return render(t, map[string]any{"definitionGroups": []any{two[0], two[1]}})
		}, two},
		{"config/default", kustomizeBuild, nil},
		{"config/default with config/definition-groups", kustomizeBuildWithDefinitionGroups, []string{"platform.example.com"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			objs := tc.install(t)
			d := deployment(t, objs)
			args := d.Spec.Template.Spec.Containers[0].Args
			if got := parseArgs(t, args).DefinitionGroups; !slices.Equal(got, tc.want) {
				t.Errorf("the manager parses --definition-groups %q from %v, want %q", got, args, tc.want)
			}
			if len(tc.want) == 0 && slices.ContainsFunc(args, func(a string) bool { return strings.HasPrefix(a, "--definition-groups") }) {
				t.Errorf("no groups, yet the manager is given the flag: %v", args)
			}

			rules := instanceRules(t, objs)
			if len(tc.want) == 0 {
				if len(rules) > 0 {
					t.Errorf("no groups, yet roles reach instance kinds: %v", rules)
				}
				return
			}
			if len(rules) != 1 || !slices.Equal(rules[0].rule.APIGroups, tc.want) {
				t.Fatalf("want one rule on the instance kinds of exactly %q, got %v", tc.want, rules)
			}
			if r := rules[0].rule; !slices.Equal(r.Resources, []string{"*"}) || !slices.Equal(r.Verbs, []string{"get", "list", "watch", "update", "patch", "delete"}) {
				t.Errorf("%s grants %v on %v, want get, list, watch, update, patch on every resource of the groups", rules[0].role, r.Verbs, r.Resources)
			}
			if !bound(objs, rules[0].role, d.Namespace, d.Spec.Template.Spec.ServiceAccountName) {
				t.Errorf("%s is not bound to the manager's ServiceAccount %s/%s", rules[0].role, d.Namespace, d.Spec.Template.Spec.ServiceAccountName)
			}
		})
	}
}

// roleRule is a rule and the role that holds it.
type roleRule struct {
	role string
	rule rbacv1.PolicyRule
}

// instanceRules returns the rules of the roles among objs that may reach an
// instance kind: those with a wildcard resource or group, the only way a
// role written at install time can name a kind a PlanDefinition defines
// later. The manager's other roles name their resources.
func instanceRules(t *testing.T, objs []*unstructured.Unstructured) []roleRule {
	t.Helper()
	var out []roleRule
	for _, u := range objs {
		if u.GetKind() != "ClusterRole" && u.GetKind() != "Role" {
			continue
		}
		role := &rbacv1.ClusterRole{}
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, role); err != nil {
			t.Fatalf("%s: %v", key(u), err)
		}
		for _, r := range role.Rules {
			if slices.Contains(r.Resources, rbacv1.ResourceAll) || slices.Contains(r.APIGroups, rbacv1.APIGroupAll) {
				out = append(out, roleRule{role: key(u), rule: r})
			}
		}
	}
	return out
}

// bound says whether a ClusterRoleBinding among objs binds the ClusterRole
// role (a key) to the ServiceAccount namespace/name.
func bound(objs []*unstructured.Unstructured, role, namespace, name string) bool {
	for _, u := range objs {
		if u.GetKind() != "ClusterRoleBinding" {
			continue
		}
		b := &rbacv1.ClusterRoleBinding{}
		if runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, b) != nil || "ClusterRole /"+b.RoleRef.Name != role {
			continue
		}
		if slices.Contains(b.Subjects, rbacv1.Subject{Kind: rbacv1.ServiceAccountKind, Namespace: namespace, Name: name}) {
			return true
		}
	}
	return false
}

// kustomizeBuildWithDefinitionGroups is `kustomize build config/default`
// with config/definition-groups turned on as config/default/kustomization.yaml
// says: its commented `components:` lines uncommented. It builds a copy of
// config/ in memory.
func kustomizeBuildWithDefinitionGroups(t tb) []*unstructured.Unstructured {
	t.Helper()
	mem := filesys.MakeFsInMemory()
	config := filepath.Join(root, "config")
	err := filepath.WalkDir(config, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(config, path)
		if err != nil {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return mem.WriteFile(filepath.Join("/config", rel), b)
	})
	if err != nil {
		t.Fatalf("copying config/: %v", err)
	}
	const kustomization = "/config/default/kustomization.yaml"
	const off, on = "#components:\n#- ../definition-groups\n", "components:\n- ../definition-groups\n"
	b, err := mem.ReadFile(kustomization)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), off) {
		t.Fatalf("config/default/kustomization.yaml no longer holds the lines that turn config/definition-groups on:\n%s", off)
	}
	if err := mem.WriteFile(kustomization, []byte(strings.Replace(string(b), off, on, 1))); err != nil {
		t.Fatal(err)
	}
	return kustomizeBuildIn(t, mem, "/config/default")
}
