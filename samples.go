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
	"path/filepath"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/execloop/execloop/internal/manifest"
)

// applySamples applies, with server-side apply, every object of the files
// that dir's kustomization.yaml lists as resources.
func applySamples(ctx context.Context, c client.Client, dir string, log logr.Logger) error {
	if err := applyResources(ctx, c, dir, "execloop-samples", log); err != nil {
		return fmt.Errorf("--apply-samples: %w", err)
	}
	return nil
}

// applyResources applies, with server-side apply as field manager owner,
// every object of the files that dir's kustomization.yaml lists as
// resources, as they are written (kustomize's transformations are not run),
// in order. An object whose kind the API server does not serve yet (an
// instance of a kind whose CRD a PlanDefinition listed before it is about
// to generate) is applied once the kind is served: applyResources waits,
// saying so in the log, and returns nil if ctx ends first.
func applyResources(ctx context.Context, c client.Client, dir, owner string, log logr.Logger) error {
	b, err := os.ReadFile(filepath.Join(dir, "kustomization.yaml"))
	if err != nil {
		return err
	}
	var k struct {
		Resources []string `json:"resources"`
	}
	if err := sigsyaml.Unmarshal(b, &k); err != nil {
		return fmt.Errorf("%s/kustomization.yaml: %w", dir, err)
	}
	for _, res := range k.Resources {
		objs, err := manifest.ReadFile(filepath.Join(dir, res))
		if err != nil {
			return err
		}
		for _, u := range objs {
			err := applyWhenServed(ctx, c, u, owner, log)
			if ctx.Err() != nil {
				return nil // stopped while waiting: nothing failed
			}
			if err != nil {
				return fmt.Errorf("applying %s %s from %s: %w", u.GetKind(), u.GetName(), filepath.Join(dir, res), err)
			}
			log.Info("applied", "kind", u.GetKind(), "namespace", u.GetNamespace(), "name", u.GetName(), "from", dir)
		}
	}
	return nil
}

// servedPollInterval is how often applyWhenServed tries again while the
// API server does not serve an object's kind.
var servedPollInterval = time.Second

// applyWhenServed applies u, trying again every servedPollInterval while
// the API server does not serve its kind, until ctx ends.
func applyWhenServed(ctx context.Context, c client.Client, u *unstructured.Unstructured, owner string, log logr.Logger) error {
	waiting := false
	return wait.PollUntilContextCancel(ctx, servedPollInterval, true, func(ctx context.Context) (bool, error) {
		err := c.Apply(ctx, client.ApplyConfigurationFromUnstructured(u), client.FieldOwner(owner), client.ForceOwnership)
		if !meta.IsNoMatchError(err) {
			return err == nil, err
		}
		if !waiting {
			waiting = true
			log.Info("waiting until the API server serves the kind, to apply the object (a PlanDefinition generates its CRD once --definition-groups allows its group)",
				"apiVersion", u.GetAPIVersion(), "kind", u.GetKind(), "namespace", u.GetNamespace(), "name", u.GetName())
		}
		return false, nil
	})
}
