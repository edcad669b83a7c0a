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
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	execloopv1alpha1 "github.com/execloop/execloop/api/v1alpha1"
	"github.com/execloop/execloop/execloop/reconciler/status"
	"github.com/execloop/execloop/internal/manager"
	"github.com/execloop/execloop/test/support"
)

// deniedRequests records every request the API server refused with 403
// Forbidden, with the verb and resource the refusal names.
type deniedRequests struct {
	mu     sync.Mutex
	denied []string
}

// cannot is how the API server's 403 message names the verb and resource,
// found in a protobuf body.
var cannot = regexp.MustCompile(`User "[^"]*" cannot [^\x00-\x1f]*`)

// refusal returns the message of a 403 response's body: a Status, in JSON
// or protobuf.
func refusal(body []byte) string {
	var status metav1.Status
	if err := json.Unmarshal(body, &status); err == nil && status.Message != "" {
		return status.Message
	}
	return string(cannot.Find(body))
}

// wrap is a rest.Config's WrapTransport.
func (d *deniedRequests) wrap(rt http.RoundTripper) http.RoundTripper {
	return roundTripperFunc(func(req *http.Request) (*http.Response, error) {
		resp, err := rt.RoundTrip(req)
		if err != nil || resp.StatusCode != http.StatusForbidden {
			return resp, err
		}
		body, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		resp.Body = io.NopCloser(bytes.NewReader(body))
		what := fmt.Sprintf("%s %s", req.Method, req.URL.RequestURI())
		if as := req.Header.Get("Impersonate-User"); as != "" {
			what += " as " + as
		}
		d.mu.Lock()
		defer d.mu.Unlock()
		d.denied = append(d.denied, fmt.Sprintf("%s: %s", what, refusal(body)))
		return resp, nil
	})
}

func (d *deniedRequests) list() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.denied...)
}

// report says which requests were refused, for a wait that timed out.
func (d *deniedRequests) report() string {
	if denied := d.list(); len(denied) > 0 {
		return "the API server refused the manager:\n  " + strings.Join(denied, "\n  ")
	}
	return "the API server refused the manager nothing"
}

type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }

// serviceAccountConfig returns a rest.Config that authenticates as the
// ServiceAccount ns/name with a token from the TokenRequest API.
func serviceAccountConfig(ns, name string) *rest.Config {
	token, err := support.ServiceAccountToken(ctx, k8sClient, ns, name)
	Expect(err).NotTo(HaveOccurred())
	return &rest.Config{Host: cfg.Host, TLSClientConfig: rest.TLSClientConfig{CAData: cfg.CAData}, BearerToken: token}
}

// runManagerAsServiceAccount runs the manager, with the flags of the
// installed Deployment, as the ServiceAccount the Deployment names, lets it
// converge and delete the sample Plan (which acts as the manager) and a
// tenant's Plan (which acts as the tenant's ServiceAccount), and fails on
// every request the API server refused it.
func runManagerAsServiceAccount(objects []*unstructured.Unstructured) {
	var d *appsv1.Deployment
	for _, u := range objects {
		if u.GetKind() == "Deployment" {
			d = &appsv1.Deployment{}
			Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(u), d)).To(Succeed())
		}
	}
	Expect(d).NotTo(BeNil())
	pod := d.Spec.Template.Spec

	By("authenticating as the ServiceAccount " + pod.ServiceAccountName + " with a token from the TokenRequest API")
	saConfig := serviceAccountConfig(d.Namespace, pod.ServiceAccountName)
	denied := &deniedRequests{}
	saConfig.WrapTransport = denied.wrap
	review := &authenticationv1.SelfSubjectReview{}
	saClient, err := client.New(saConfig, client.Options{Scheme: manager.Scheme})
	Expect(err).NotTo(HaveOccurred())
	Expect(saClient.Create(ctx, review)).To(Succeed())
	Expect(review.Status.UserInfo.Username).To(Equal("system:serviceaccount:" + d.Namespace + ":" + pod.ServiceAccountName))

	By("running the manager with the Deployment's flags")
	f := parseArgs(GinkgoT(), pod.Containers[0].Args)
	Expect(f.LeaderElect).To(BeTrue())
	f.ProbeAddr, f.MetricsAddr = "0", "0"   // no ports: other suites run beside this one
	f.LeaderElectionNamespace = d.Namespace // in a pod, the namespace it runs in
	f.SleepBetweenRuns = 200 * time.Millisecond
	mgr, err := manager.New(saConfig, f)
	Expect(err).NotTo(HaveOccurred())
	managerCtx, stop := context.WithCancel(ctx)
	stopped := make(chan error, 1)
	go func() { stopped <- manager.Run(managerCtx, mgr, ctrl.Log.WithName("setup")) }()
	DeferCleanup(func() {
		stop()
		Eventually(stopped, time.Minute).Should(Receive(BeNil()))
	})

	By("converging the sample Plan, which acts as the manager itself")
	sampleNS := newNamespace()
	Expect(support.AwaitFinalizerPolicy(ctx, k8sClient, sampleNS, time.Minute)).To(Succeed(), "the chart's admission policy gives Plans their finalizer")
	sample := readSample()
	sample.Namespace = sampleNS
	sample.Spec.SleepBetweenRuns = &metav1.Duration{Duration: 200 * time.Millisecond}
	Expect(k8sClient.Create(ctx, sample)).To(Succeed())
	Eventually(taskState(sample, "app")).Should(Equal(status.TaskInProgress), denied.report)
	Eventually(support.MakeDeploymentAvailable).WithArguments(ctx, k8sClient, sampleNS, "web").Should(Succeed())
	Eventually(phase(sample)).Should(Equal(execloopv1alpha1.PlanSucceeded), denied.report)

	By("converging a tenant's Plan, which acts as the tenant's ServiceAccount and applies a kind the manager may not")
	tenantNS := newNamespace()
	Expect(support.AwaitFinalizerPolicy(ctx, k8sClient, tenantNS, time.Minute)).To(Succeed())
	tenant := tenantPlan(tenantNS)
	Expect(k8sClient.Create(ctx, tenant)).To(Succeed())
	Eventually(phase(tenant)).Should(Equal(execloopv1alpha1.PlanSucceeded), denied.report)
	Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: tenantNS, Name: "tenant-secret"}, &corev1.Secret{})).To(Succeed())

	By("deleting both: their cleanup runs with the same RBAC")
	for _, p := range []*execloopv1alpha1.Plan{sample, tenant} {
		Expect(k8sClient.Delete(ctx, p)).To(Succeed())
	}
	for _, p := range []*execloopv1alpha1.Plan{sample, tenant} {
		Eventually(func() bool {
			return apierrors.IsNotFound(k8sClient.Get(ctx, client.ObjectKeyFromObject(p), &execloopv1alpha1.Plan{}))
		}).Should(BeTrue(), func() string { return fmt.Sprintf("Plan %s/%s is deleted; %s", p.Namespace, p.Name, denied.report()) })
	}
	for _, obj := range []client.Object{
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: sampleNS, Name: "web-config"}},
		&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: sampleNS, Name: "web"}},
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: sampleNS, Name: "web"}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: tenantNS, Name: "tenant-secret"}},
	} {
		Expect(apierrors.IsNotFound(k8sClient.Get(ctx, client.ObjectKeyFromObject(obj), obj))).To(BeTrue(), "%T %s was deleted", obj, obj.GetName())
	}

	Expect(denied.list()).To(BeEmpty(), "the API server refused the manager, running with the chart's RBAC, these requests")
}

// readSample reads the Plan of config/samples.
func readSample() *execloopv1alpha1.Plan {
	b, err := os.ReadFile(filepath.Join(root, "config", "samples", "execloop_v1alpha1_plan.yaml"))
	Expect(err).NotTo(HaveOccurred())
	p := &execloopv1alpha1.Plan{}
	Expect(yaml.UnmarshalStrict(b, p)).To(Succeed())
	return p
}

// tenantPlan makes, in namespace ns, a ServiceAccount that may manage
// Secrets there and nothing else, and returns a Plan that applies a Secret
// as it: the manager's own roles grant no Secrets, so only impersonation
// can converge it.
func tenantPlan(ns string) *execloopv1alpha1.Plan {
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "deployer"}}
	role := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "deployer"}, Rules: []rbacv1.PolicyRule{{
		APIGroups: []string{""}, Resources: []string{"secrets"},
		Verbs: []string{"get", "list", "watch", "create", "update", "patch", "delete"},
	}}}
	binding := &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "deployer"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "deployer"},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: ns, Name: "deployer"}},
	}
	for _, obj := range []client.Object{sa, role, binding} {
		Expect(k8sClient.Create(ctx, obj)).To(Succeed())
	}
	return &execloopv1alpha1.Plan{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "tenant"},
		Spec: execloopv1alpha1.PlanSpec{
			ServiceAccountName: "deployer",
			SleepBetweenRuns:   &metav1.Duration{Duration: 200 * time.Millisecond},
			Tasks: []execloopv1alpha1.PlanTask{{Name: "secret", Apply: &runtime.RawExtension{
				Raw: []byte(`{"apiVersion":"v1","kind":"Secret","metadata":{"name":"tenant-secret"},"stringData":{"token":"s3cr3t"}}`),
			}}},
		},
	}
}

func newNamespace() string {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "chart-"}}
	Expect(k8sClient.Create(ctx, ns)).To(Succeed())
	return ns.Name
}

func phase(p *execloopv1alpha1.Plan) func(Gomega) execloopv1alpha1.PlanPhase {
	return func(g Gomega) execloopv1alpha1.PlanPhase {
		live := &execloopv1alpha1.Plan{}
		g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(p), live)).To(Succeed())
		return live.Status.Phase
	}
}

func taskState(p *execloopv1alpha1.Plan, task string) func(Gomega) status.TaskState {
	return func(g Gomega) status.TaskState {
		live := &execloopv1alpha1.Plan{}
		g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(p), live)).To(Succeed())
		if t := live.Status.Task(task); t != nil {
			return t.State
		}
		return ""
	}
}
