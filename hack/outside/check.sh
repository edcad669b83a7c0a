#!/usr/bin/env bash
# Copyright 2026 The execloop Authors. Licensed under the Apache License 2.0.
#
# What an operator author does, checked: in an empty folder outside this
# repository, a new module requires execloop (through a replace to this
# checkout), builds the envtest binaries with the documented command, and
# runs a test written with the kit (execloop/reconciler/reconcilertest)
# against the example Widget operator. make test-outside runs it; so does CI.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
# go run github.com/execloop/execloop/hack/envtest@<version>, which this
# check reaches through a replace, refuses a module whose go.mod replaces
# or excludes anything.
if grep -qE '^[[:space:]]*(replace|exclude)\b' "$root/go.mod"; then
	echo "go.mod has a replace or exclude directive: go run github.com/execloop/execloop/hack/envtest@<version> would refuse the module" >&2
	exit 1
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"

cat > go.mod <<EOF
module example.com/outside

go 1.26.0

require github.com/execloop/execloop v0.0.0

replace github.com/execloop/execloop => $root
EOF
mkdir crd
cp "$root"/examples/widget/config/crd/*.yaml crd/
cat > widget_test.go <<'EOF'
package outside_test

import (
	"context"
	"testing"
	"time"

	"github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/execloop/execloop/examples/widget"
	"github.com/execloop/execloop/examples/widget/api/v1alpha1"
	"github.com/execloop/execloop/execloop/reconciler/reconcilertest"
)

func TestAWidgetBecomesReady(t *testing.T) {
	scheme := runtime.NewScheme()
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	env := reconcilertest.Start(t, reconcilertest.EnvOptions{
		Scheme:            scheme,
		CRDDirectoryPaths: []string{"crd"},
		Setup: func(mgr ctrl.Manager) error {
			r := widget.New()
			r.Options.SleepBetweenRuns = 100 * time.Millisecond
			return r.SetupWithManager(mgr)
		},
	})
	ctx := context.Background()
	w := &v1alpha1.Widget{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "outside"}, Spec: v1alpha1.WidgetSpec{Parts: []string{"bolt"}}}
	if err := env.Client.Create(ctx, w); err != nil {
		t.Fatal(err)
	}
	g := gomega.NewWithT(t)
	g.Eventually(func(g gomega.Gomega) *v1alpha1.Widget {
		got := &v1alpha1.Widget{}
		g.Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(w), got)).To(gomega.Succeed())
		return got
	}).WithTimeout(30 * time.Second).Should(gomega.And(reconcilertest.BeReady(), reconcilertest.HaveTask(widget.StepParts, reconcilertest.TaskAttempts(1))))
}
EOF

go mod tidy
echo "+ go run github.com/execloop/execloop/hack/envtest -dir bin/k8s"
go run github.com/execloop/execloop/hack/envtest -dir bin/k8s
go test -count=1 ./...
