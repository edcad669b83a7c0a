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

package bench

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/rest"
)

var (
	profileDir = flag.String("profile", "", "TestProfile: write CPU profiles of the API server and of this process to this directory")
	profileOf  = flag.String("profile-of", "execloop", "TestProfile: the controllers to profile, in turn: plain, equal-work, execloop, served-plans or instances, separated by commas")
	profileN   = flag.Int("profile-plans", 1000, "TestProfile: the number of plans")
	steadyOnly = flag.Bool("profile-steady", false, "TestProfile: profile execloop's resync passes over the converged plans instead of their convergence")
)

// TestProfile converges -profile-plans plans with each controller of
// -profile-of (names separated by commas, run in turn, each after a
// warm-up of its own) while taking CPU profiles of the API server (its
// /debug/pprof, in chunks of two seconds) and of this process, to tell
// where a plan's CPU goes:
//
//	go test ./test/bench -run TestProfile -profile /tmp/prof -profile-of equal-work,execloop
//	go tool pprof -top /tmp/prof/apiserver-execloop-*.pprof
func TestProfile(t *testing.T) {
	if *profileDir == "" {
		t.Skip("run with -profile DIR")
	}
	if err := os.MkdirAll(*profileDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if *steadyOnly {
		profileSteady(t)
		return
	}
	for _, name := range strings.Split(*profileOf, ",") {
		profileConvergence(t, strings.TrimSpace(name))
	}
}

// profileConvergence profiles the convergence of -profile-plans plans by
// the controller named.
func profileConvergence(t *testing.T, name string) {
	kind, ok := map[string]string{
		"execloop": execloopKind, "plain": handwrittenKind, "equal-work": equalWorkKind,
		"served-plans": servedPlansKind, "instances": instancesKind,
	}[name]
	if !ok {
		t.Fatalf("-profile-of: no controller %q (plain, equal-work, execloop, served-plans or instances)", name)
	}
	converge(t, scenario{controller: kind, plans: 50, workers: 4}) // the warm-up
	self, err := os.Create(filepath.Join(*profileDir, "self-"+name+".pprof"))
	if err != nil {
		t.Fatal(err)
	}
	defer self.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	apiserver := make(chan error, 1)
	go func() { apiserver <- apiServerProfile(ctx, filepath.Join(*profileDir, "apiserver-"+name)) }()
	if err := pprof.StartCPUProfile(self); err != nil {
		t.Fatal(err)
	}
	o := converge(t, scenario{controller: kind, plans: *profileN, workers: 4, keep: true})
	pprof.StopCPUProfile()
	cancel()
	if err := <-apiserver; err != nil {
		t.Error(err)
	}
	if kind == instancesKind {
		cleanInstances(t, o.namespace)
	}
	clean(t, o.namespace) // once the profiles end
	t.Logf("profiled %s", o.scenario)
}

// profileSteady converges -profile-plans plans with execloop, then profiles
// this process over the steady state's resync passes.
func profileSteady(t *testing.T) {
	o := converge(t, scenario{controller: execloopKind, plans: *profileN, workers: 4, keep: true})
	defer clean(t, o.namespace)
	self, err := os.Create(filepath.Join(*profileDir, "self-steady.pprof"))
	if err != nil {
		t.Fatal(err)
	}
	defer self.Close()
	if err := pprof.StartCPUProfile(self); err != nil {
		t.Fatal(err)
	}
	st := steadyState(t, o.namespace, *profileN)
	pprof.StopCPUProfile()
	t.Logf("steady state of %d plans: %.0f passes, %s of CPU per pass, requests %s", *profileN, st.passes, st.perPassCPU.Round(time.Microsecond), formatVerbs(st.verbs))
}

// apiServerProfile takes CPU profiles of the API server of two seconds each,
// one after the other until ctx is done, and writes them to prefix-N.pprof;
// `go tool pprof` merges the files it is given.
func apiServerProfile(ctx context.Context, prefix string) error {
	httpClient, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return err
	}
	for i := 0; ctx.Err() == nil; i++ {
		// Not cancelled with ctx: a cancelled profile request returns nothing.
		req, err := http.NewRequestWithContext(context.WithoutCancel(ctx), http.MethodGet, strings.TrimSuffix(cfg.Host, "/")+"/debug/pprof/profile?seconds=2", nil)
		if err != nil {
			return err
		}
		resp, err := httpClient.Do(req)
		if err != nil {
			return err
		}
		b, err := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if err != nil {
			return err
		}
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("API server profile: %s: %s", resp.Status, b)
		}
		if err := os.WriteFile(fmt.Sprintf("%s-%03d.pprof", prefix, i), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}
