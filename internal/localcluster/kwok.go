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

package localcluster

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// FailAnnotation is the pod annotation that, set to "true" (on a Job's pod
// template), makes the pod fail once it runs, its containers exiting 1.
// Without it a Job's pods succeed.
const FailAnnotation = "local.execloop.dev/fail"

// kwok manages the nodes annotated so.
const (
	nodeAnnotation      = "kwok.x-k8s.io/node"
	nodeAnnotationValue = "fake"
)

// stages are kwok's stages: how fake nodes and their pods change.
//
//go:embed stages/*.yaml
var stages embed.FS

// writeStages writes the stages into one file of dir, and returns its path.
func writeStages(dir string) (string, error) {
	var all []byte
	err := fs.WalkDir(stages, "stages", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := stages.ReadFile(path)
		all = append(append(all, "---\n"...), b...)
		return err
	})
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, "kwok-stages.yaml")
	return path, os.WriteFile(path, all, 0o600)
}

// createNodes creates n fake nodes, kwok-node-0 onwards, for kwok to
// manage; they carry no taint, so every pod may run there.
func createNodes(ctx context.Context, cl client.Client, n int) ([]string, error) {
	var names []string
	for i := range n {
		name := fmt.Sprintf("kwok-node-%d", i)
		node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{
			Name:        name,
			Annotations: map[string]string{nodeAnnotation: nodeAnnotationValue},
			Labels: map[string]string{
				"kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64", "type": "kwok",
			},
		}}
		if err := cl.Create(ctx, node); err != nil {
			return nil, fmt.Errorf("creating node %s: %w", name, err)
		}
		names = append(names, name)
	}
	return names, nil
}

// nodesReady returns a check that every node named is Ready: kwok's work.
func nodesReady(cl client.Client, names []string) func(context.Context) error {
	return eachNode(cl, names, func(node *corev1.Node) error {
		for _, c := range node.Status.Conditions {
			if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
				return nil
			}
		}
		return fmt.Errorf("node %s is not Ready", node.Name)
	})
}

// nodesUntainted returns a check that no node named has a taint. The API
// server's TaintNodesByCondition admission gives a new node the taint
// node.kubernetes.io/not-ready, and the controller-manager's node lifecycle
// controller takes it away a few seconds after the node is Ready: until
// then no pod is scheduled there.
func nodesUntainted(cl client.Client, names []string) func(context.Context) error {
	return eachNode(cl, names, func(node *corev1.Node) error {
		if len(node.Spec.Taints) > 0 {
			return fmt.Errorf("node %s still has the taint %s", node.Name, node.Spec.Taints[0].ToString())
		}
		return nil
	})
}

// eachNode returns a check that reads every node named and passes it to
// check, stopping at the first error.
func eachNode(cl client.Client, names []string, check func(*corev1.Node) error) func(context.Context) error {
	return func(ctx context.Context) error {
		for _, name := range names {
			node := &corev1.Node{}
			if err := cl.Get(ctx, client.ObjectKey{Name: name}, node); err != nil {
				return err
			}
			if err := check(node); err != nil {
				return err
			}
		}
		return nil
	}
}
