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

package reliability

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	execloopv1alpha1 "github.com/execloop/execloop/api/v1alpha1"
	"github.com/execloop/execloop/internal/planrun"
)

// secretValue must never show in a log line, an event or a status.
const secretValue = "s3cr3t-sentinel-value-42"

// syncBuffer is a log sink tests can read.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// deployer makes a ServiceAccount that may work with ConfigMaps (and
// nothing else) in its own namespace.
func deployer(t *testing.T, ns, name string) {
	t.Helper()
	ctx := context.Background()
	objs := []client.Object{
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}},
		&rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Rules: []rbacv1.PolicyRule{{
			APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"get", "list", "watch", "create", "patch", "update", "delete"},
		}}},
		&rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
			RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: name},
			Subjects: []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: ns, Name: name}}},
	}
	for _, o := range objs {
		if err := k8sClient.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
}

// TestTenancy: a Plan cannot reach past its ServiceAccount's RBAC, however
// it names other namespaces, cluster-scoped kinds or other ServiceAccounts;
// --default-service-account forces impersonation; Secrets' data never shows
// in logs, events or status.
func TestTenancy(t *testing.T) {
	ctx := context.Background()
	a, b, c := newNamespace(t, "tenant-a"), newNamespace(t, "tenant-b"), newNamespace(t, "tenant-c")
	deployer(t, a, "deployer")
	deployer(t, b, "b-deployer")
	deployer(t, c, "deployer")
	victim := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: b, Name: "victim"}, Data: map[string]string{"keep": "me"}}
	if err := k8sClient.Create(ctx, victim); err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	log := zap.New(zap.WriteTo(logs), zap.UseDevMode(true))
	startManager(t, managerOptions{namespaces: []string{a}, tolerate: 1, log: log})
	startManager(t, managerOptions{namespaces: []string{c}, tolerate: 1, log: log, defaultServiceAccount: "deployer"})

	ref := func(kind, ns, name string) *execloopv1alpha1.ObjectReference {
		return &execloopv1alpha1.ObjectReference{APIVersion: "v1", Kind: kind, Namespace: ns, Name: name}
	}
	secret := map[string]any{"apiVersion": "v1", "kind": "Secret", "metadata": map[string]any{"name": "creds"}, "stringData": map[string]any{"password": secretValue}}
	badSecret := map[string]any{"apiVersion": "v1", "kind": "Secret", "metadata": map[string]any{"name": "bad"}, "stringData": map[string]any{"not a valid key!": secretValue}}
	type attempt struct {
		ns, sa, what string
		task         execloopv1alpha1.PlanTask
		denied       string // in the task's message
	}
	attempts := map[string]attempt{
		"write-b": {a, "deployer", "apply a ConfigMap into namespace B", execloopv1alpha1.PlanTask{Name: "t", Apply: rawObject(map[string]any{
			"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": "intruder", "namespace": b}})}, `in the namespace "` + b + `"`},
		"read-b":   {a, "deployer", "wait for (read) a ConfigMap of B", execloopv1alpha1.PlanTask{Name: "t", Wait: ref("ConfigMap", b, "victim")}, `cannot get resource "configmaps"`},
		"delete-b": {a, "deployer", "delete a ConfigMap of B", execloopv1alpha1.PlanTask{Name: "t", Delete: ref("ConfigMap", b, "victim")}, `cannot get resource "configmaps"`},
		"cluster": {a, "deployer", "apply a cluster-scoped ClusterRole", execloopv1alpha1.PlanTask{Name: "t", Apply: rawObject(map[string]any{
			"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": map[string]any{"name": "tenant-escalation-" + a}})}, `cannot get resource "clusterroles"`},
		"borrow-sa": {a, "b-deployer", "name B's ServiceAccount (b-deployer)", execloopv1alpha1.PlanTask{Name: "t", Apply: rawObject(map[string]any{
			"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": "borrowed", "namespace": b}})}, `system:serviceaccount:` + a + `:b-deployer`},
		"default-sa-secret": {c, "", "name no ServiceAccount under --default-service-account, and apply a Secret", execloopv1alpha1.PlanTask{Name: "t", Apply: rawObject(secret)}, `system:serviceaccount:` + c + `:deployer`},
	}
	for name, at := range attempts {
		p := &execloopv1alpha1.Plan{ObjectMeta: metav1.ObjectMeta{Namespace: at.ns, Name: name},
			Spec: execloopv1alpha1.PlanSpec{ServiceAccountName: at.sa, Tasks: []execloopv1alpha1.PlanTask{at.task}}}
		if err := k8sClient.Create(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	allowed := &execloopv1alpha1.Plan{ObjectMeta: metav1.ObjectMeta{Namespace: c, Name: "allowed"},
		Spec: execloopv1alpha1.PlanSpec{Tasks: []execloopv1alpha1.PlanTask{configMapTask("own", nil, map[string]any{"a": "b"})}}}
	if err := k8sClient.Create(ctx, allowed); err != nil {
		t.Fatal(err)
	}

	var rows []string
	for name, at := range attempts {
		var msg string
		waitFor(t, time.Minute, name+" Stalled", func() (bool, string) {
			p := &execloopv1alpha1.Plan{}
			if err := k8sClient.Get(ctx, client.ObjectKey{Namespace: at.ns, Name: name}, p); err != nil {
				return false, err.Error()
			}
			if ts := p.Status.Task("t"); ts != nil {
				msg = ts.Message
			}
			return p.Status.IsStalled(p.Generation), string(p.Status.Phase)
		})
		if !strings.Contains(msg, "forbidden") || !strings.Contains(msg, at.denied) {
			t.Errorf("%s: the task's message %q does not say what was denied (%q)", name, msg, at.denied)
		}
		rows = append(rows, fmt.Sprintf("| %s | denied: %s |", at.what, oneLine(msg, 200)))
	}
	waitFor(t, time.Minute, "the allowed plan Ready", func() (bool, string) {
		p := &execloopv1alpha1.Plan{}
		if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(allowed), p); err != nil {
			return false, err.Error()
		}
		return p.Status.IsReady(p.Generation), string(p.Status.Phase)
	})

	// Nothing reached B or the cluster.
	for _, name := range []string{"intruder", "borrowed"} {
		if err := k8sClient.Get(ctx, client.ObjectKey{Namespace: b, Name: name}, &corev1.ConfigMap{}); !apierrors.IsNotFound(err) {
			t.Errorf("ConfigMap %s/%s exists (%v)", b, name, err)
		}
	}
	if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(victim), &corev1.ConfigMap{}); err != nil {
		t.Errorf("B's ConfigMap is gone: %v", err)
	}
	if err := k8sClient.Get(ctx, client.ObjectKey{Name: "tenant-escalation-" + a}, &rbacv1.ClusterRole{}); !apierrors.IsNotFound(err) {
		t.Errorf("the ClusterRole exists (%v)", err)
	}

	// A Secret the API server refuses, applied with the operator's own
	// identity: its error must not carry the value either.
	own := &execloopv1alpha1.Plan{ObjectMeta: metav1.ObjectMeta{Namespace: a, Name: "bad-secret"},
		Spec: execloopv1alpha1.PlanSpec{Tasks: []execloopv1alpha1.PlanTask{{Name: "t", Apply: rawObject(badSecret)}}}}
	if err := k8sClient.Create(ctx, own); err != nil {
		t.Fatal(err)
	}
	// A Secret's value, read by a wait task and used as stored and as an
	// expression changed it, in Services the API server refuses, quoting
	// the value: the refusal must carry neither.
	sentinel := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: a, Name: "sentinel"}, Data: map[string][]byte{"password": []byte(secretValue)}}
	if err := k8sClient.Create(ctx, sentinel); err != nil {
		t.Fatal(err)
	}
	externalName := func(name, value string) execloopv1alpha1.PlanTask {
		return execloopv1alpha1.PlanTask{Name: name, Apply: rawObject(map[string]any{"apiVersion": "v1", "kind": "Service", "metadata": map[string]any{"name": name},
			"spec": map[string]any{"type": "ExternalName", "externalName": value}})}
	}
	refused := &execloopv1alpha1.Plan{ObjectMeta: metav1.ObjectMeta{Namespace: a, Name: "refused-secret-value"},
		Spec: execloopv1alpha1.PlanSpec{Tasks: []execloopv1alpha1.PlanTask{
			{Name: "creds", Wait: ref("Secret", "", sentinel.Name)},
			externalName("stored", "${tasks.creds.object.data.password}"),
			externalName("derived", "${string(base64.decode(tasks.creds.object.data.password)).upperAscii()}"),
		}}}
	if err := k8sClient.Create(ctx, refused); err != nil {
		t.Fatal(err)
	}
	for _, p := range []*execloopv1alpha1.Plan{own, refused} {
		waitFor(t, time.Minute, p.Name+" Stalled", func() (bool, string) {
			if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(p), p); err != nil {
				return false, err.Error()
			}
			return p.Status.IsStalled(p.Generation), string(p.Status.Phase)
		})
	}
	for _, task := range []string{"stored", "derived"} {
		if ts := refused.Status.Task(task); ts == nil || !strings.Contains(ts.Message, `spec.externalName: Invalid value: "***"`) {
			t.Errorf("task %s of the refused Plan: its message does not name the field and the masked value: %+v", task, ts)
		}
	}

	// A stall's event and the log line of its error are written after its
	// status: wait for them, or the search below may run before they exist
	// and find nothing in them.
	stalledPlans := []client.ObjectKey{client.ObjectKeyFromObject(own), client.ObjectKeyFromObject(refused)}
	for name, at := range attempts {
		stalledPlans = append(stalledPlans, client.ObjectKey{Namespace: at.ns, Name: name})
	}
	waitFor(t, time.Minute, "a PlanStalled event and a logged error for every stalled plan", func() (bool, string) {
		for _, key := range stalledPlans {
			var events eventsv1.EventList
			if err := k8sClient.List(ctx, &events, client.InNamespace(key.Namespace)); err != nil {
				return false, err.Error()
			}
			if !slices.ContainsFunc(events.Items, func(e eventsv1.Event) bool {
				return e.Reason == "PlanStalled" && e.Regarding.Name == key.Name
			}) {
				return false, "no PlanStalled event about " + key.String() + " yet"
			}
			logged := regexp.MustCompile(`ERROR\t(Reconciler error|Stalled)\t[^\n]*"name":"` + regexp.QuoteMeta(key.Name) + `","namespace":"` + regexp.QuoteMeta(key.Namespace) + `"`)
			if !logged.MatchString(logs.String()) {
				return false, "no logged error about " + key.String() + " in the logs yet"
			}
		}
		return true, ""
	})

	// The secret's value shows nowhere: logs, events, statuses, previews.
	leaks := 0
	needles := []string{secretValue, base64.StdEncoding.EncodeToString([]byte(secretValue)), strings.ToUpper(secretValue)}
	haystacks := map[string]string{"the manager's logs": logs.String()}
	for name, text := range secretPreviews(t, a, refused, sentinel.Name) {
		haystacks[name] = text
	}
	for _, ns := range []string{a, c} {
		var events eventsv1.EventList
		if err := k8sClient.List(ctx, &events, client.InNamespace(ns)); err != nil {
			t.Fatal(err)
		}
		var notes []string
		for _, e := range events.Items {
			notes = append(notes, e.Note)
		}
		haystacks["events in "+ns] = strings.Join(notes, "\n")
		for _, p := range plansOf(t, ns) {
			st, _ := json.Marshal(p.Status)
			haystacks["status of "+ns+"/"+p.Name] += string(st)
		}
	}
	for where, text := range haystacks {
		for _, n := range needles {
			if strings.Contains(text, n) {
				leaks++
				t.Errorf("the secret's value shows in %s", where)
			}
		}
	}
	if !strings.Contains(logs.String(), "forbidden") {
		t.Error("the captured logs hold no denial: the check above proves nothing")
	}

	section := "5. Tenancy"
	figures.add(section, "`go test ./test/reliability -run TestTenancy`: Plans in namespace A act as A's ServiceAccount `deployer` (ConfigMaps in A only); a second manager runs with `--default-service-account=deployer` for namespace C. Every attempt below was denied, the Plan stalled with the denial in its task's message, and nothing was created, read or deleted outside the ServiceAccount's RBAC:")
	figures.add(section, "")
	figures.add(section, "| the Plan tries to | outcome |")
	figures.add(section, "|---|---|")
	for _, r := range rows {
		figures.add(section, "%s", r)
	}
	figures.add(section, "")
	figures.add(section, "A Plan in C that names no ServiceAccount converged as C's `deployer` (it may work with ConfigMaps), and was denied a Secret the operator itself could have written: `--default-service-account` forces impersonation.")
	figures.add(section, "")
	figures.add(section, "Secrets: the value of a Secret that plans tried to apply (denied, and refused by the API server as invalid), and of one a plan read and used, as stored and as an expression changed it, in Services the API server refused quoting it, was searched for, as is, base64-encoded and changed, in %d places (the managers' debug logs, the events and the status of every Plan, the previews of the refused Plan and of a ConfigMap holding a DSN computed from the value): found **%d** times.", len(haystacks), leaks)
}

// secretPreviews previews, as kubectl execloop diff does, the refused Plan
// and a Plan (a dry run, not created) whose ConfigMap holds a DSN computed
// from the value of the Secret named secret, over a ConfigMap that holds
// one already; it returns each preview as text, by where it comes from.
func secretPreviews(t *testing.T, ns string, refused *execloopv1alpha1.Plan, secret string) map[string]string {
	t.Helper()
	ctx := context.Background()
	dsn := func(user, password string) string { return "postgres://" + user + ":" + password + "@db:5432/app" }
	live := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "dsn"}, Data: map[string]string{"dsn": dsn("app", secretValue)}}
	if err := k8sClient.Create(ctx, live); err != nil {
		t.Fatal(err)
	}
	derived := &execloopv1alpha1.Plan{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "derived-preview"},
		Spec: execloopv1alpha1.PlanSpec{Tasks: []execloopv1alpha1.PlanTask{
			{Name: "creds", Wait: &execloopv1alpha1.ObjectReference{APIVersion: "v1", Kind: "Secret", Name: secret}},
			configMapTask("dsn", nil, map[string]any{"dsn": dsn("admin", "${string(base64.decode(tasks.creds.object.data.password))}")}),
		}}}
	if err := k8sClient.Create(ctx, derived, client.DryRunAll); err != nil { // as the plugin does with a file
		t.Fatal(err)
	}
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	mapper, err := apiutil.NewDynamicRESTMapper(cfg, hc)
	if err != nil {
		t.Fatal(err)
	}
	pv := &planrun.Previewer{Config: cfg, Scheme: scheme, Mapper: mapper}
	texts := map[string]string{}
	for _, c := range []struct {
		plan *execloopv1alpha1.Plan
		task string
		want planrun.Action
	}{{refused, "derived", planrun.ActionFailed}, {derived, "dsn", planrun.ActionUpdate}} {
		previews, err := pv.Preview(ctx, c.plan)
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		for _, pr := range previews {
			fmt.Fprintf(&b, "%s %s %s: %s\n", pr.Action, pr.Task, pr.Object, pr.Reason)
			for _, obj := range []*unstructured.Unstructured{pr.Live, pr.Planned} {
				if obj != nil {
					j, _ := json.Marshal(obj.Object)
					fmt.Fprintf(&b, "%s\n", j)
				}
			}
			if pr.Task == c.task && pr.Action != c.want {
				t.Errorf("the preview of Plan %s: task %s would %s, not %s: the search proves nothing\n%s", c.plan.Name, pr.Task, pr.Action, c.want, b.String())
			}
		}
		texts["the preview of Plan "+ns+"/"+c.plan.Name] = b.String()
	}
	return texts
}
