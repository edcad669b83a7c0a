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

package manifest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReadReturnsEveryObjectInOrderAndSkipsEmptyDocuments(t *testing.T) {
	stream := "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\n# only a comment\n---\n" +
		"apiVersion: v1\nkind: Secret\nmetadata: {name: b}\n"
	objs, err := Read(strings.NewReader(stream))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, u := range objs {
		got = append(got, u.GetKind()+"/"+u.GetName())
	}
	if strings.Join(got, " ") != "ConfigMap/a Secret/b" {
		t.Errorf("read %v, want [ConfigMap/a Secret/b]", got)
	}
}

func TestReadFileNamesTheFileInItsErrors(t *testing.T) {
	path := filepath.Join(t.TempDir(), "broken.yaml")
	if err := os.WriteFile(path, []byte("kind: [unclosed\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadFile(path); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("ReadFile(%s) = %v, want an error that names the file", path, err)
	}
	if _, err := ReadFile(filepath.Join(t.TempDir(), "missing.yaml")); err == nil {
		t.Error("ReadFile of a missing file returned no error")
	}
}
