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
	"errors"
	"maps"
	"slices"

	"github.com/google/cel-go/common/types"

	execloopv1alpha1 "github.com/execloop/execloop/api/v1alpha1"
)

// openAPIObject is the OpenAPI type of objects.
const openAPIObject = "object"

// statusKinds are the kinds of CEL values that convert to a value of each
// OpenAPI type a status field may declare (a timestamp or a duration is
// written as a string, a whole number is a number too).
var statusKinds = map[string][]types.Kind{
	"string":      {types.StringKind, types.TimestampKind, types.DurationKind},
	"integer":     {types.IntKind, types.UintKind},
	"number":      {types.DoubleKind, types.IntKind, types.UintKind},
	"boolean":     {types.BoolKind},
	openAPIObject: {types.MapKind, types.StructKind},
	"array":       {types.ListKind},
}

// compileStatus checks the values of the instances' status fields as the
// string values of a manifest are checked, with the definition's variables:
// a value whose expression does not compile, names a task the plan does
// not have, or gives a type other than the field's (text around an
// expression gives a string; a value the checker types dyn, such as one
// read of a task's object, is known only when it is evaluated) is a
// reconcile.TerminalError naming the field and the expression. It does not
// keep what it compiles: the values are evaluated with the instances.
func (d *Definition) compileStatus(status map[string]execloopv1alpha1.StatusField) error {
	for _, name := range slices.Sorted(maps.Keys(status)) {
		f := status[name]
		at := "spec.api.status." + name + ".value"
		parts, err := splitExpressions(f.Value)
		if err != nil {
			return invalid("%s: %v", at, err)
		}
		want := statusKinds[f.Type]
		if len(parts) > 1 && f.Type != "string" {
			return invalid("%s: text around an expression gives a string, and the field is of type %s", at, f.Type)
		}
		for _, p := range parts {
			if p.expr == "" {
				continue
			}
			c, err := d.exprs.manifest.compile(p.expr)
			if err != nil {
				return invalid("%s: ${%s} does not compile: %v", at, p.expr, err)
			}
			for _, r := range c.refs {
				if !slices.ContainsFunc(d.plan.Tasks, func(t execloopv1alpha1.PlanTask) bool { return t.Name == r }) {
					return invalid("%s: ${%s} names task %s, which is not a task of the plan", at, p.expr, r)
				}
			}
			if k := c.out.Kind(); len(parts) == 1 && want != nil && k != types.DynKind && k != types.AnyKind && !slices.Contains(want, k) {
				return invalid("%s: ${%s} gives a %s, and the field is of type %s", at, p.expr, c.out, f.Type)
			}
		}
	}
	return nil
}

// StatusValues evaluates the instance's declared status fields
// (spec.api.status) with the objects run's last pass read, as the fields'
// types and values say. A field whose value reads an object or a value
// that is not there yet is left out, to be set by a later pass; so is one
// computed from the values of a Secret, which a status would show in
// clear: its name is in secret. An error names the field and the
// expression; the other fields are still evaluated.
func (d *Definition) StatusValues(ctx context.Context, run *Run) (values map[string]any, secret []string, _ error) {
	values = map[string]any{}
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(d.status)) {
		manifest := map[string]any{name: d.status[name].Value}
		tmpl, err := compileTemplate(d.exprs, "", name, "status", manifest)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if tmpl == nil { // a constant
			values[name] = d.status[name].Value
			continue
		}
		vars, secrets, ok := run.statusVariables(tmpl.refs)
		if !ok {
			continue
		}
		out, from, err := tmpl.resolve(ctx, manifest, vars, secrets)
		var missing *missingValue
		switch {
		case len(from.paths) > 0:
			secret = append(secret, name)
		case errors.As(err, &missing):
		case err != nil:
			errs = append(errs, run.redact(err))
		default:
			values[name] = out[name]
		}
	}
	return values, secret, errors.Join(errs...)
}

// statusVariables are the variables of a status field's value that reads
// the tasks named refs, and the values of Secrets among their objects;
// false until each of those objects is there.
func (p *Run) statusVariables(refs []string) (map[string]any, *secretValues, bool) {
	vars, missing := p.varsOf(refs)
	if missing != "" {
		return nil, nil, false
	}
	secrets := &secretValues{}
	for _, t := range p.tasks {
		if slices.Contains(refs, t.name) {
			secrets.addSecret(p.state[t.name].live)
			secrets.addAll(&t.fromSecrets.values)
		}
	}
	return vars, secrets, true
}
