//go:build unix

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
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// Binaries are the files Options.BinaryDir must hold, in the order they
// start.
var Binaries = []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok"}

// Options configure a cluster.
type Options struct {
	// BinaryDir is the folder that holds the Binaries, as make
	// cluster-binaries builds them. Required.
	BinaryDir string

	// CRDDirectoryPaths are files or folders of CustomResourceDefinitions
	// installed, and established, before Start returns. Each must exist.
	CRDDirectoryPaths []string

	// Nodes is how many fake nodes kwok runs. Defaults to 1.
	Nodes int

	// StartTimeout bounds Start. Defaults to 2 minutes: on a busy two-core
	// machine kube-apiserver alone can take most of a minute.
	StartTimeout time.Duration
}

// Cluster is a running local cluster.
type Cluster struct {
	// Config is the admin's (group system:masters) client configuration.
	Config *rest.Config

	// KubeConfig is Config as a kubeconfig file's content.
	KubeConfig []byte

	// Dir is the cluster's temporary folder: certificates, kubeconfig,
	// etcd's data, kwok's stages, and each process's log, <binary>.log.
	// Stop removes it.
	Dir string

	processes []*process // in the order they started
}

// Start starts a cluster and returns once kube-apiserver serves, the CRDs
// are established, every node is Ready with no taint left and the
// controller-manager runs its controllers. When a process exits or is not
// ready in time, the error names it and its log, whatever started is
// stopped again, and Dir stays for the logs. Cancelling ctx stops the start the same way.
func Start(ctx context.Context, opts Options) (*Cluster, error) {
	if opts.BinaryDir == "" {
		return nil, errors.New("localcluster: Options.BinaryDir is required")
	}
	for _, name := range Binaries {
		if _, err := os.Stat(filepath.Join(opts.BinaryDir, name)); err != nil {
			return nil, fmt.Errorf("localcluster: %s is missing from %s (make cluster-binaries builds it): %w", name, opts.BinaryDir, err)
		}
	}
	if opts.Nodes == 0 {
		opts.Nodes = 1
	}
	if opts.StartTimeout == 0 {
		opts.StartTimeout = 2 * time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, opts.StartTimeout)
	defer cancel()

	dir, err := os.MkdirTemp("", "execloop-cluster-")
	if err != nil {
		return nil, fmt.Errorf("localcluster: %w", err)
	}
	c := &Cluster{Dir: dir}
	if err := c.start(ctx, opts); err != nil {
		// The folder stays, for the logs the error names.
		return nil, errors.Join(fmt.Errorf("localcluster: %w", err), c.stopProcesses())
	}
	return c, nil
}

// start starts the processes in turn, waiting for each one the next needs.
func (c *Cluster) start(ctx context.Context, opts Options) error {
	crt, err := newCerts()
	if err != nil {
		return fmt.Errorf("making certificates: %w", err)
	}
	files, err := crt.write(c.Dir)
	if err != nil {
		return err
	}
	ports, err := freePorts(3)
	if err != nil {
		return err
	}
	etcdURL := "http://127.0.0.1:" + strconv.Itoa(ports[0])
	peerURL := "http://127.0.0.1:" + strconv.Itoa(ports[1])
	apiURL := "https://127.0.0.1:" + strconv.Itoa(ports[2])

	etcd, err := c.run(opts.BinaryDir, "etcd",
		"--data-dir="+filepath.Join(c.Dir, "etcd"),
		"--listen-client-urls="+etcdURL, "--advertise-client-urls="+etcdURL,
		"--listen-peer-urls="+peerURL, "--initial-advertise-peer-urls="+peerURL,
		"--initial-cluster=default="+peerURL,
		"--unsafe-no-fsync", "--log-level=warn")
	if err != nil {
		return err
	}
	if err := c.waitFor(ctx, etcd, httpOK(http.DefaultClient, etcdURL+"/health")); err != nil {
		return err
	}

	apiserver, err := c.run(opts.BinaryDir, "kube-apiserver",
		"--etcd-servers="+etcdURL,
		"--bind-address=127.0.0.1", "--secure-port="+strconv.Itoa(ports[2]),
		// The API server refuses a loopback address for the kubernetes
		// Service's endpoints: that Service gets none, nothing here needs it.
		"--advertise-address=127.0.0.1", "--endpoint-reconciler-type=none",
		"--cert-dir="+c.Dir, "--tls-cert-file="+files["apiserver.crt"], "--tls-private-key-file="+files["apiserver.key"],
		"--client-ca-file="+files["ca.crt"],
		"--service-account-issuer="+apiURL,
		"--service-account-key-file="+files["service-account.key"],
		"--service-account-signing-key-file="+files["service-account.key"],
		"--service-cluster-ip-range=10.0.0.0/24",
		"--authorization-mode=RBAC",
		// As envtest: pods need no ServiceAccount to exist first, so a
		// Deployment in a new namespace rolls out at once.
		"--disable-admission-plugins=ServiceAccount",
		"--allow-privileged=true")
	if err != nil {
		return err
	}
	if err := c.configure(apiURL, crt); err != nil {
		return err
	}
	admin, err := rest.HTTPClientFor(c.Config)
	if err != nil {
		return err
	}
	if err := c.waitFor(ctx, apiserver, httpOK(admin, apiURL+"/readyz")); err != nil {
		return err
	}
	kubeconfig := filepath.Join(c.Dir, "admin.kubeconfig")
	if err := os.WriteFile(kubeconfig, c.KubeConfig, 0o600); err != nil {
		return err
	}

	controllerManager, err := c.run(opts.BinaryDir, "kube-controller-manager",
		"--kubeconfig="+kubeconfig, "--secure-port=0", "--leader-elect=false",
		// No extension-apiserver-authentication ConfigMap to read: with no
		// port, nothing to authenticate.
		"--authentication-skip-lookup",
		// The CA alone: given the serving certificate's chain, the trust
		// bundle publisher fails on its leaf.
		"--root-ca-file="+files["ca.crt"],
		"--service-account-private-key-file="+files["service-account.key"])
	if err != nil {
		return err
	}
	if _, err := c.run(opts.BinaryDir, "kube-scheduler",
		"--kubeconfig="+kubeconfig, "--secure-port=0", "--leader-elect=false", "--authentication-skip-lookup"); err != nil {
		return err
	}
	stages, err := writeStages(c.Dir)
	if err != nil {
		return err
	}
	kwok, err := c.run(opts.BinaryDir, "kwok",
		"--kubeconfig="+kubeconfig, "--config="+stages,
		"--manage-nodes-with-annotation-selector="+nodeAnnotation+"="+nodeAnnotationValue,
		// The kubelet's default. Without a lease that kwok renews, the
		// controller-manager finds the node unhealthy after 40 s and marks
		// its pods not ready; the standalone binary renews none unless told.
		"--node-lease-duration-seconds=40")
	if err != nil {
		return err
	}

	return c.settle(ctx, opts, kwok, controllerManager)
}

// settle installs the CRDs of opts, creates the nodes and waits until they
// are Ready (kwok's work) and untainted and the controllers have started
// (the controller-manager's).
func (c *Cluster) settle(ctx context.Context, opts Options, kwok, controllerManager *process) error {
	if len(opts.CRDDirectoryPaths) > 0 {
		deadline, _ := ctx.Deadline()
		if _, err := envtest.InstallCRDs(c.Config, envtest.CRDInstallOptions{
			Paths: opts.CRDDirectoryPaths, ErrorIfPathMissing: true, MaxTime: time.Until(deadline),
		}); err != nil {
			return fmt.Errorf("installing the CRDs of %v: %w", opts.CRDDirectoryPaths, err)
		}
	}
	cl, err := client.New(c.Config, client.Options{})
	if err != nil {
		return err
	}
	nodes, err := createNodes(ctx, cl, opts.Nodes)
	if err != nil {
		return err
	}
	if err := c.waitFor(ctx, kwok, nodesReady(cl, nodes)); err != nil {
		return err
	}
	if err := c.waitFor(ctx, controllerManager, nodesUntainted(cl, nodes)); err != nil {
		return err
	}
	// The ServiceAccount controller makes "default" in every namespace:
	// once it is there, the controllers have started.
	return c.waitFor(ctx, controllerManager, func(ctx context.Context) error {
		return cl.Get(ctx, client.ObjectKey{Namespace: "default", Name: "default"}, &corev1.ServiceAccount{})
	})
}

// run starts one binary of dir, recorded so that Stop stops it.
func (c *Cluster) run(dir, name string, args ...string) (*process, error) {
	p, err := startProcess(dir, c.Dir, name, args...)
	if err != nil {
		return nil, err
	}
	c.processes = append(c.processes, p)
	return p, nil
}

// configure sets Config and KubeConfig: the admin at url.
func (c *Cluster) configure(url string, crt *certs) error {
	c.Config = &rest.Config{Host: url, TLSClientConfig: rest.TLSClientConfig{CAData: crt.ca, CertData: crt.admin, KeyData: crt.adminKey}}
	kc := clientcmdapi.NewConfig()
	kc.Clusters["local"] = &clientcmdapi.Cluster{Server: url, CertificateAuthorityData: crt.ca}
	kc.AuthInfos["admin"] = &clientcmdapi.AuthInfo{ClientCertificateData: crt.admin, ClientKeyData: crt.adminKey}
	kc.Contexts["local"] = &clientcmdapi.Context{Cluster: "local", AuthInfo: "admin"}
	kc.CurrentContext = "local"
	var err error
	c.KubeConfig, err = clientcmd.Write(*kc)
	return err
}

// waitFor polls ready until it returns nil. It fails, naming p and its
// log, when p exits or ctx ends first; it fails too when any process
// started before has exited.
func (c *Cluster) waitFor(ctx context.Context, p *process, ready func(context.Context) error) error {
	for {
		for _, q := range c.processes {
			if err := q.exited(); err != nil {
				return err
			}
		}
		err := ready(ctx)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s was not ready in time (%w): %w; its log: %s", p.name, err, ctx.Err(), p.log)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Stop stops the processes in the reverse order of their start, each with
// SIGTERM and, after 10 seconds, SIGKILL, and removes Dir.
func (c *Cluster) Stop() error {
	return errors.Join(c.stopProcesses(), os.RemoveAll(c.Dir))
}

// stopProcesses stops the processes in the reverse order of their start.
func (c *Cluster) stopProcesses() error {
	var errs []error
	for i := len(c.processes) - 1; i >= 0; i-- {
		errs = append(errs, c.processes[i].stop())
	}
	c.processes = nil
	return errors.Join(errs...)
}

// httpOK returns a check that GET url answers 200.
func httpOK(client *http.Client, url string) func(context.Context) error {
	return func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("GET %s: %s", url, resp.Status)
		}
		return nil
	}
}

// freePorts returns n ports free on 127.0.0.1 a moment ago.
func freePorts(n int) ([]int, error) {
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		defer func() { _ = l.Close() }()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}
