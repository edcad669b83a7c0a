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
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	execloopv1alpha1 "github.com/execloop/execloop/api/v1alpha1"
	"github.com/execloop/execloop/execloop/reconciler/status"
)

// managerUser is the user the manager binary runs as in this suite, so that
// the audit log tells its requests from the harness's.
const managerUser = "execloop-manager"

// readyAfter is how long after it appears the simulator marks a "-b"
// ConfigMap ready: the crashes land while plans wait on it.
const readyAfter = 500 * time.Millisecond

// markReadyLater annotates the "-b" ConfigMaps of ns readyAfter after they
// appear, until stop is closed.
func markReadyLater(ns string, stop <-chan struct{}) {
	for {
		select {
		case <-stop:
			return
		case <-time.After(100 * time.Millisecond):
		}
		var cms corev1.ConfigMapList
		if k8sClient.List(context.Background(), &cms, client.InNamespace(ns)) != nil {
			continue
		}
		for i := range cms.Items {
			cm := &cms.Items[i]
			if cm.Name[len(cm.Name)-2:] != "-b" || cm.Annotations["ready"] != "" || time.Since(cm.CreationTimestamp.Time) < readyAfter {
				continue
			}
			patch := client.MergeFrom(cm.DeepCopy())
			cm.Annotations = map[string]string{"ready": "true"}
			_ = k8sClient.Patch(context.Background(), cm, patch)
		}
	}
}

// crashPlan is a chain whose middle ConfigMap must be marked ready.
func crashPlan(ns, name string) *execloopv1alpha1.Plan {
	p := chain(ns, name)
	p.Spec.Tasks[1].ReadyWhen = "has(object.metadata.annotations) && 'ready' in object.metadata.annotations"
	return p
}

// TestCrashConsistency kills the manager with SIGKILL at 20 random points
// while 50 plans converge, restarting it each time: everything converges,
// no object is created twice, no task whose success was recorded runs
// again, no plan stalls.
func TestCrashConsistency(t *testing.T) {
	const plans, kills = 50, 20
	bin, err := buildManager()
	if err != nil {
		t.Fatal(err)
	}
	user, err := testEnv.AddUser(envtest.User{Name: managerUser, Groups: []string{"system:masters"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	kc, err := user.KubeConfig()
	if err != nil {
		t.Fatal(err)
	}
	kubeconfig := filepath.Join(workDir, "manager.kubeconfig")
	if err := os.WriteFile(kubeconfig, kc, 0o600); err != nil {
		t.Fatal(err)
	}
	ns := newNamespace(t, "crash")
	stopSim := make(chan struct{})
	defer close(stopSim)
	go markReadyLater(ns, stopSim)

	logFile := filepath.Join(workDir, "crash-manager.log")
	// workersStarted counts the starts of the controller's workers in the
	// log, which every run of the manager appends to.
	workersStarted := func() int {
		b, _ := os.ReadFile(logFile)
		return strings.Count(string(b), "Starting workers")
	}
	// run starts the manager and returns once its workers run, so that the
	// time to the next kill counts from when the manager can act: on a busy
	// machine its start alone can outlast that time, and every kill would
	// land before the manager did anything.
	run := func() *exec.Cmd {
		started := workersStarted()
		cmd := exec.Command(bin, "--kubeconfig", kubeconfig, "--health-probe-bind-address=0",
			"--sleep-between-runs=100ms", "--zap-log-level=info")
		cmd.Dir = root
		// The shipped manager logs to standard error; every run appends.
		out, err := os.OpenFile(logFile, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stdout, cmd.Stderr = out, out
		err = cmd.Start()
		_ = out.Close() // the manager holds its own descriptor
		if err != nil {
			t.Fatal(err)
		}
		waitFor(t, time.Minute, "the manager's workers started", func() (bool, string) {
			return workersStarted() > started, "no new \"Starting workers\" in " + logFile
		})
		return cmd
	}

	var all []*execloopv1alpha1.Plan
	for i := range plans {
		all = append(all, crashPlan(ns, fmt.Sprintf("p-%02d", i)))
	}
	rng := rand.New(rand.NewPCG(3, 4))
	type restart struct {
		at       time.Time
		finished map[string]bool // objects whose task's success the status recorded when the manager died
	}
	var restarts []restart
	cmd := run()
	createAll(t, all)
	for range kills {
		time.Sleep(time.Duration(200+rng.IntN(1300)) * time.Millisecond)
		_ = cmd.Process.Signal(syscall.SIGKILL)
		_ = cmd.Wait()
		finished := map[string]bool{}
		for _, p := range plansOf(t, ns) {
			for _, task := range p.Status.Tasks {
				if task.State == status.TaskSucceeded {
					finished[p.Name+"-"+task.Name] = true
				}
			}
		}
		restarts = append(restarts, restart{at: time.Now(), finished: finished})
		cmd = run()
	}
	allReady(t, ns, plans, 3*time.Minute)
	_ = cmd.Process.Signal(syscall.SIGTERM)
	_ = cmd.Wait()

	stalled := 0
	for _, p := range plansOf(t, ns) {
		if p.Status.IsStalled(p.Generation) {
			stalled++
		}
	}
	events := auditedConfigMaps(t, ns)
	created := map[string]int{}
	applies, reexecuted := 0, 0
	for _, e := range events {
		if e.User.Username != managerUser {
			continue
		}
		if e.ResponseStatus.Code == 201 {
			created[e.ObjectRef.Name]++
		}
		if e.Verb != "patch" {
			continue
		}
		applies++
		for _, r := range restarts {
			if e.RequestReceivedTimestamp.After(r.at) && r.finished[e.ObjectRef.Name] {
				reexecuted++
				t.Errorf("%s was applied at %s, after a restart at %s, though its task's success was recorded before",
					e.ObjectRef.Name, e.RequestReceivedTimestamp.Format(time.RFC3339Nano), r.at.Format(time.RFC3339Nano))
				break
			}
		}
	}
	// A creating apply the kill cut before its answer is in the audit log
	// with the 504 the API server gave the vanished client, not a 201: the
	// objects the log saw no 201 for are counted absent only if they are.
	twice, unanswered := createdTwiceOrNever(created, all)
	var cms corev1.ConfigMapList
	if err := k8sClient.List(context.Background(), &cms, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	present := map[string]bool{}
	for _, cm := range cms.Items {
		present[cm.Name] = true
	}
	missing := 0
	for _, p := range all {
		for _, step := range []string{"a", "b", "c"} {
			if !present[p.Name+"-"+step] {
				missing++
			}
		}
	}
	t.Logf("%d SIGKILLs, %d plans: %d applies of %d objects, created twice %d, never %d (creations cut by a kill: %d), finished tasks run again %d, stalled %d",
		kills, plans, applies, 3*plans, twice, missing, unanswered-missing, reexecuted, stalled)
	if twice != 0 || missing != 0 || stalled != 0 {
		t.Errorf("objects created twice %d, never created %d, plans stalled %d: all must be 0", twice, missing, stalled)
	}
	section := "2. Crash consistency"
	figures.add(section, "`go test ./test/reliability -run TestCrashConsistency`: the manager binary, as its own user, SIGKILLed %d times at random points (0.2–1.5 s after its workers started) while %d Plans converge (three chained ConfigMaps; the middle one is ready %s after it appears), and restarted each time. Counted from the API server's audit log; missing objects from a list at the end.", kills, plans, readyAfter)
	figures.add(section, "")
	figures.add(section, "| figure | value |")
	figures.add(section, "|---|---|")
	figures.add(section, "| SIGKILLs (and restarts) | %d |", kills)
	figures.add(section, "| plans Ready at the end | %d of %d |", plans, plans)
	figures.add(section, "| server-side applies by the manager, for %d objects | %d |", 3*plans, applies)
	figures.add(section, "| objects created more than once | **%d** |", twice)
	figures.add(section, "| objects missing at the end | **%d** |", missing)
	figures.add(section, "| objects created by an apply the kill cut before its answer (audit log: no 201; present at the end) | %d |", unanswered-missing)
	figures.add(section, "| finished tasks run again (an apply after a restart of an object whose task's success the status had recorded before the kill) | **%d** |", reexecuted)
	figures.add(section, "| plans left Stalled by a crash | **%d** |", stalled)
	figures.add(section, "")
	figures.add(section, "A task whose object was applied but whose success the manager had not yet written when it died runs again after the restart: server-side apply makes that second apply a no-op. That is the %d − %d applies above the one per object.", applies, 3*plans)
}
