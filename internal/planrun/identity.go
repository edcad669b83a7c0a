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

package planrun

import (
	"fmt"
	"sync"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	execloopv1alpha1 "github.com/execloop/execloop/api/v1alpha1"
)

// Identity is who a Plan's reads and writes are made as: a ServiceAccount
// (impersonated) or the operator itself.
type Identity struct {
	// name is the impersonated user name, system:serviceaccount:<ns>:<name>;
	// empty for the operator itself.
	name     string
	client   client.Client
	dynamic  dynamic.Interface
	metadata metadata.Interface // for the existence caches of the operator's Watches
}

// Name is the impersonated user name, empty for the operator itself.
func (id *Identity) Name() string { return id.name }

// Dynamic is the identity's dynamic client.
func (id *Identity) Dynamic() dynamic.Interface { return id.dynamic }

// Metadata is the identity's metadata client.
func (id *Identity) Metadata() metadata.Interface { return id.metadata }

// Describe names the identity in messages.
func (id *Identity) Describe() string {
	if id.name == "" {
		return "the operator's own identity"
	}
	return id.name
}

// Identities hands out an identity per ServiceAccount, made once and reused:
// the clients share the operator's connection pool.
type Identities struct {
	base   *rest.Config
	scheme *runtime.Scheme
	mapper meta.RESTMapper

	mu   sync.Mutex
	byID map[string]*Identity
}

// NewIdentities makes the identities of Plans from the operator's config:
// each impersonates its ServiceAccount from base.
func NewIdentities(base *rest.Config, scheme *runtime.Scheme, mapper meta.RESTMapper) (*Identities, error) {
	ids := &Identities{base: base, scheme: scheme, mapper: mapper, byID: map[string]*Identity{}}
	if _, err := ids.get(""); err != nil {
		return nil, err
	}
	return ids, nil
}

// ForPlan returns the identity a Plan acts as: its spec.serviceAccountName,
// else the default ServiceAccount, both in the Plan's namespace; else the
// operator itself.
func (ids *Identities) ForPlan(p *execloopv1alpha1.Plan, defaultServiceAccount string) (*Identity, error) {
	sa := p.Spec.ServiceAccountName
	if sa == "" {
		sa = defaultServiceAccount
	}
	if sa == "" {
		return ids.get("")
	}
	return ids.get(fmt.Sprintf("system:serviceaccount:%s:%s", p.Namespace, sa))
}

// Mapper is the REST mapper of the identities' clients.
func (ids *Identities) Mapper() meta.RESTMapper { return ids.mapper }

func (ids *Identities) get(name string) (*Identity, error) {
	ids.mu.Lock()
	defer ids.mu.Unlock()
	if id := ids.byID[name]; id != nil {
		return id, nil
	}
	cfg := rest.CopyConfig(ids.base)
	if name != "" {
		cfg.Impersonate = rest.ImpersonationConfig{UserName: name}
	}
	cfg.Wrap(retryTransient) // see retry.go: which API faults a task survives
	c, err := client.New(cfg, client.Options{Scheme: ids.scheme, Mapper: ids.mapper})
	if err != nil {
		return nil, fmt.Errorf("making a client for %s: %w", name, err)
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("making a dynamic client for %s: %w", name, err)
	}
	meta, err := metadata.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("making a metadata client for %s: %w", name, err)
	}
	id := &Identity{name: name, client: c, dynamic: dyn, metadata: meta}
	ids.byID[name] = id
	return id, nil
}
