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

// Package localcluster starts a whole Kubernetes cluster on this machine,
// for make run and the end-to-end suite: etcd, kube-apiserver (with
// service-account signing keys), kube-controller-manager (the garbage
// collector, the namespace, deployment, replicaset and job controllers and
// the rest of its defaults), kube-scheduler, and kwok with fake nodes whose
// pods become Running and Ready at once and whose Job pods succeed (or
// fail, annotated with FailAnnotation).
//
// The binaries are those `make cluster-binaries` builds from source into
// bin/k8s/<version>-<os>-<arch>. Everything listens on 127.0.0.1 and lives
// in a temporary folder (certificates, kubeconfigs, data, each process's
// log), which Stop removes. Every process runs in a process group of its
// own, so that a Ctrl-C in the terminal reaches only the caller, which
// stops them in order; on Linux each is also killed when the process that
// started it dies, so that none outlives a caller killed with SIGKILL.
//
// No container runs: kwok only plays the kubelet's part in the API (no
// image pulls, probes, logs, exec, Service traffic or storage), and every
// component runs with admin credentials. It is for development and tests.
package localcluster
