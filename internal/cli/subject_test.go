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

package cli

import (
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"

	execloopv1alpha1 "github.com/execloop/execloop/api/v1alpha1"
)

func TestMappingFor(t *testing.T) {
	webApp := schema.GroupVersionKind{Group: "platform.example.com", Version: "v1alpha1", Kind: "WebApp"}
	tenant := schema.GroupVersionKind{Group: "platform.example.com", Version: "v1alpha1", Kind: "Tenant"}
	// A kind whose singular is not its name in lower case.
	proxy := schema.GroupVersionKind{Group: "platform.example.com", Version: "v1alpha1", Kind: "Proxy"}
	plan := execloopv1alpha1.GroupVersion.WithKind("Plan")
	// As discovery's: with the versions it prefers, for a kind named
	// without one.
	mapper := meta.NewDefaultRESTMapper([]schema.GroupVersion{webApp.GroupVersion(), plan.GroupVersion()})
	mapper.Add(webApp, meta.RESTScopeNamespace)
	mapper.Add(tenant, meta.RESTScopeRoot)
	mapper.Add(plan, meta.RESTScopeNamespace)
	mapper.AddSpecific(proxy, proxy.GroupVersion().WithResource("proxies"), proxy.GroupVersion().WithResource("edge"), meta.RESTScopeNamespace)

	for _, tc := range []struct {
		arg   string
		want  schema.GroupVersionKind
		scope meta.RESTScopeName
	}{
		{arg: "webapp", want: webApp, scope: meta.RESTScopeNameNamespace},
		{arg: "webapps", want: webApp, scope: meta.RESTScopeNameNamespace},
		{arg: "webapps.platform.example.com", want: webApp, scope: meta.RESTScopeNameNamespace},
		{arg: "WebApp.platform.example.com", want: webApp, scope: meta.RESTScopeNameNamespace},
		{arg: "WebApp", want: webApp, scope: meta.RESTScopeNameNamespace},
		{arg: "tenants", want: tenant, scope: meta.RESTScopeNameRoot},
		{arg: "Proxy.platform.example.com", want: proxy, scope: meta.RESTScopeNameNamespace},
		{arg: "edge", want: proxy, scope: meta.RESTScopeNameNamespace},
		{arg: "plans.execloop.dev", want: plan, scope: meta.RESTScopeNameNamespace},
	} {
		t.Run(tc.arg+" names "+tc.want.Kind, func(t *testing.T) {
			m, err := mappingFor(mapper, tc.arg)
			if err != nil {
				t.Fatalf("mappingFor(%q): %v", tc.arg, err)
			}
			if m.GroupVersionKind != tc.want || m.Scope.Name() != tc.scope {
				t.Errorf("mappingFor(%q) = %v, %s; want %v, %s", tc.arg, m.GroupVersionKind, m.Scope.Name(), tc.want, tc.scope)
			}
		})
	}
	for _, arg := range []string{"widgets", "webapps.other.example.com", "Proxy.other.example.com"} {
		t.Run(arg+" names no kind", func(t *testing.T) {
			if m, err := mappingFor(mapper, arg); err == nil {
				t.Errorf("mappingFor(%q) = %v, want an error", arg, m.GroupVersionKind)
			}
		})
	}
}
