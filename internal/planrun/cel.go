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
	"fmt"
	"sync"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/ext"
)

// celCostLimit bounds the work one evaluation of an expression of a Plan
// (readyWhen, failedWhen, includeWhen, a manifest's) may do, so that a
// costly expression cannot stall the operator.
const celCostLimit = 1_000_000

// celCacheSize bounds the compiled expressions a cache keeps.
const celCacheSize = 1024

// The compiled expressions of Plans, by their text, so that every pass of
// every Plan with the same expression shares one program.
var (
	// readyWhenPrograms: readyWhen and failedWhen, over the live object.
	readyWhenPrograms = newProgramCache(objectEnv, true)
	// manifestPrograms: the ${...} of manifests and target names, whose
	// evaluations are tracked: what a value was computed from tells
	// whether it came from a Secret (redact.go).
	manifestPrograms = newProgramCache(manifestEnv, false, cel.EvalOptions(cel.OptTrackState))
	// conditionPrograms: includeWhen, over the variables of manifests,
	// tracked too: an includeWhen that fails on a value derived from a
	// Secret may show it in its error (redact.go).
	conditionPrograms = newProgramCache(manifestEnv, true, cel.EvalOptions(cel.OptTrackState))
)

// expressions are the program caches a compile takes the programs of
// manifests and includeWhen from: the Plans' (planExpressions), or a
// definition's, whose environment also has its instance variable
// (definition.go).
type expressions struct {
	manifest, condition *programCache
	// instanceNames: an apply or patch manifest's metadata.name and
	// metadata.namespace may hold expressions that read no task (a
	// definition's: they are evaluated for each instance before its
	// tasks are compiled).
	instanceNames bool
}

// planExpressions are the Plans' expressions.
var planExpressions = expressions{manifest: manifestPrograms, condition: conditionPrograms}

// objectEnv has the variable object, the live object of a task.
var objectEnv = sync.OnceValues(func() (*cel.Env, error) {
	return cel.NewEnv(cel.Variable("object", cel.DynType), ext.Strings(), ext.Lists(), ext.Sets())
})

// manifestEnv has the variables of the expressions of manifests: plan and
// tasks.
var manifestEnv = sync.OnceValues(func() (*cel.Env, error) {
	return cel.NewEnv(
		cel.Variable("plan", cel.MapType(cel.StringType, cel.DynType)),
		cel.Variable("tasks", cel.MapType(cel.StringType, cel.DynType)),
		ext.Strings(), ext.Lists(), ext.Sets(), ext.Encoders(),
	)
})

// programCache compiles the expressions of one environment, once each.
type programCache struct {
	env      func() (*cel.Env, error)
	boolean  bool                // the expressions must give a bool
	options  []cel.ProgramOption // besides the cost limit
	mu       sync.Mutex
	compiled map[string]compiledExpr
}

// compiledExpr is a compiled expression, the tasks it reads (see
// taskRefs) and its type.
type compiledExpr struct {
	prog cel.Program
	refs []string
	out  *cel.Type // the type of its value, as the checker knows it
}

func newProgramCache(env func() (*cel.Env, error), boolean bool, options ...cel.ProgramOption) *programCache {
	return &programCache{env: env, boolean: boolean, options: options, compiled: map[string]compiledExpr{}}
}

// compile returns the program of an expression and the tasks it reads, or
// an error that says why it does not compile.
func (c *programCache) compile(expr string) (compiledExpr, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if ce, ok := c.compiled[expr]; ok {
		return ce, nil
	}
	env, err := c.env()
	if err != nil {
		return compiledExpr{}, err
	}
	ast, iss := env.Compile(expr)
	if iss.Err() != nil {
		return compiledExpr{}, iss.Err()
	}
	if t := ast.OutputType(); c.boolean && t != cel.BoolType && t != cel.DynType {
		return compiledExpr{}, fmt.Errorf("the expression is of type %s, not bool", t)
	}
	refs, err := taskRefs(ast)
	if err != nil {
		return compiledExpr{}, err
	}
	prog, err := env.Program(ast, append([]cel.ProgramOption{cel.CostLimit(celCostLimit), cel.InterruptCheckFrequency(100)}, c.options...)...)
	if err != nil {
		return compiledExpr{}, err
	}
	if len(c.compiled) >= celCacheSize {
		for k := range c.compiled { // drop one at random
			delete(c.compiled, k)
			break
		}
	}
	ce := compiledExpr{prog: prog, refs: refs, out: ast.OutputType()}
	c.compiled[expr] = ce
	return ce, nil
}
