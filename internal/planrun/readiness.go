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

package planrun

import (
	"context"
	"fmt"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
)

// withheld stands for the message of an evaluation that read a Secret's
// values, which this package cannot tell apart from what it derived from
// them.
const withheld = "evaluation failed; its message is withheld because it read a value from a Secret"

// failure is the error of a task whose live object failed by its
// failedWhen, or nil. An evaluation error (a field the object does not have
// yet, say) is no failure; a failedWhen that returns something else than a
// bool is an error of the task.
func failure(ctx context.Context, live *unstructured.Unstructured, failedWhen cel.Program, expr string, bound map[string]any) error {
	if failedWhen == nil || live == nil {
		return nil
	}
	out, _, err := failedWhen.ContextEval(ctx, objectVariables(live, bound))
	if err != nil {
		return nil //nolint:nilerr // not evaluable yet is not failed
	}
	b, ok := out.(types.Bool)
	switch {
	case !ok:
		return fmt.Errorf("failedWhen returned a %s, not a bool", out.Type())
	case bool(b):
		return fmt.Errorf("failed: failedWhen %q is true", expr)
	}
	return nil
}

// objectVariables are the variables of readyWhen and failedWhen: object,
// the live object, and those bound to the task alone (a forEach item).
func objectVariables(live *unstructured.Unstructured, bound map[string]any) map[string]any {
	vars := map[string]any{"object": live.Object}
	for k, v := range bound {
		vars[k] = v
	}
	return vars
}

// readiness says whether a live object is ready: readyWhen when the task has
// one, kstatus Current otherwise. When it is not, the reason says why. An
// evaluation error (a field the object does not have yet, say) means not
// ready; its message is the reason, except over a Secret, where it may show
// what readyWhen derived from the Secret's values (withheld). A readyWhen
// that returns something else than a bool is an error of the plan: no wait
// mends it.
func readiness(ctx context.Context, live *unstructured.Unstructured, readyWhen cel.Program, bound map[string]any) (ready bool, reason string, err error) {
	if readyWhen != nil {
		out, _, err := readyWhen.ContextEval(ctx, objectVariables(live, bound))
		switch {
		case err != nil && isSecret(live):
			return false, "readyWhen: " + withheld, nil
		case err != nil:
			return false, "readyWhen: " + err.Error(), nil
		}
		b, ok := out.(types.Bool)
		if !ok {
			return false, "", fmt.Errorf("readyWhen returned a %s, not a bool", out.Type())
		}
		if !b {
			return false, "readyWhen is false", nil
		}
		return true, "", nil
	}
	res, err := status.Compute(live)
	if err != nil {
		return false, "kstatus: " + err.Error(), nil
	}
	if res.Status == status.CurrentStatus {
		return true, "", nil
	}
	if res.Message != "" {
		return false, fmt.Sprintf("kstatus %s: %s", res.Status, res.Message), nil
	}
	return false, "kstatus " + res.Status.String(), nil
}
