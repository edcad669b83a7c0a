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
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// These tests start fake binaries (shell scripts): what happens when the
// real ones run is the end-to-end suite's to show (test/e2e).

// fakeBinaries writes every binary of Binaries into a new folder, etcd as
// the script given and the others as scripts that sleep, and returns it.
func fakeBinaries(t *testing.T, etcd string) string {
	dir := t.TempDir()
	for _, name := range Binaries {
		script := "exec sleep 300"
		if name == "etcd" {
			script = etcd
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\n"+script+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestStartFailures(t *testing.T) {
	for _, tc := range []struct {
		name    string
		dir     func(t *testing.T) string
		timeout time.Duration
		// want must all be in the error.
		want []string
		// log, when set, must be in the log the error names.
		log string
	}{{
		name: "a missing binary is named, with the make target that builds it",
		dir:  func(t *testing.T) string { return t.TempDir() },
		want: []string{"etcd is missing", "make cluster-binaries"},
	}, {
		name: "a process that exits is named, with its exit status and its log",
		dir: func(t *testing.T) string {
			return fakeBinaries(t, `echo "etcd: unknown flag" >&2; exit 3`)
		},
		want: []string{"etcd exited (exit status 3)", "its log: "},
		log:  "etcd: unknown flag",
	}, {
		name: "a process that is not ready in time is named, with its log",
		dir: func(t *testing.T) string {
			return fakeBinaries(t, `echo "etcd: waiting for peers"; exec sleep 300`)
		},
		timeout: time.Second,
		want:    []string{"etcd was not ready in time", "context deadline exceeded", "its log: "},
		log:     "etcd: waiting for peers",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Start(context.Background(), Options{BinaryDir: tc.dir(t), StartTimeout: tc.timeout})
			if err == nil {
				t.Fatal("Start succeeded")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("the error %q does not say %q", err, w)
				}
			}
			if tc.log == "" {
				return
			}
			path := regexp.MustCompile(`its log: (\S+)`).FindStringSubmatch(err.Error())
			if path == nil {
				t.Fatalf("the error %q names no log", err)
			}
			b, readErr := os.ReadFile(path[1])
			if readErr != nil {
				t.Fatalf("the log the error names cannot be read: %v", readErr)
			}
			if !strings.Contains(string(b), tc.log) {
				t.Errorf("the log %s holds %q, not %q", path[1], b, tc.log)
			}
			_ = os.RemoveAll(filepath.Dir(path[1]))
		})
	}
}

// A failed start stops every process it started, with the processes they
// started in turn: the whole process group.
func TestFailedStartLeavesNothingRunning(t *testing.T) {
	dir := fakeBinaries(t, `sleep 300 & echo "child $!"; wait`)
	_, err := Start(context.Background(), Options{BinaryDir: dir, StartTimeout: time.Second})
	if err == nil {
		t.Fatal("Start succeeded")
	}
	path := regexp.MustCompile(`its log: (\S+)`).FindStringSubmatch(err.Error())
	if path == nil {
		t.Fatalf("the error %q names no log", err)
	}
	defer func() { _ = os.RemoveAll(filepath.Dir(path[1])) }()
	b, err := os.ReadFile(path[1])
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`child (\d+)`).FindSubmatch(b)
	if m == nil {
		t.Fatalf("the fake etcd did not say its child's pid: %q", b)
	}
	child, _ := strconv.Atoi(string(m[1]))
	// Killed, the child is reaped by whoever inherited it: give that a moment.
	deadline := time.Now().Add(10 * time.Second)
	for syscall.Kill(child, 0) == nil {
		if time.Now().After(deadline) {
			t.Fatalf("etcd's child %d still runs after the failed start", child)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := syscall.Kill(child, 0); !errors.Is(err, syscall.ESRCH) {
		t.Fatalf("checking etcd's child %d: %v", child, err)
	}
}
