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
	// items gives the program cache of the manifests of a task whose own
	// variable is item (forEach): forItem.
	items func(item string) *programCache
}

// forItem is the program cache of the manifests of a task whose own
// variable is item (forEach), beside the variables every task sees; the
// manifests' cache for an empty item.
func (e expressions) forItem(item string) *programCache {
	if item == "" {
		return e.manifest
	}
	return e.items(item)
}

// planExpressions are the Plans' expressions.
var planExpressions = expressions{manifest: manifestPrograms, condition: conditionPrograms, items: func(item string) *programCache {
	manifest, _ := programsFor(item)
	return manifest
}}

// objectEnv has the variable object, the live object of a task.
var objectEnv = sync.OnceValues(func() (*cel.Env, error) { return newObjectEnv("") })

// manifestEnv has the variables of the expressions of manifests: plan and
// tasks.
var manifestEnv = sync.OnceValues(func() (*cel.Env, error) { return newManifestEnv("") })

// newObjectEnv is objectEnv with the variable item too, when it is not
// empty.
func newObjectEnv(item string) (*cel.Env, error) {
	return cel.NewEnv(append(itemVariable(item), cel.Variable("object", cel.DynType), ext.Strings(), ext.Lists(), ext.Sets())...)
}

// newManifestEnv is manifestEnv with the variable item too, when it is not
// empty.
func newManifestEnv(item string) (*cel.Env, error) {
	return cel.NewEnv(append(itemVariable(item),
		cel.Variable("plan", cel.MapType(cel.StringType, cel.DynType)),
		cel.Variable("tasks", cel.MapType(cel.StringType, cel.DynType)),
		ext.Strings(), ext.Lists(), ext.Sets(), ext.Encoders(),
	)...)
}

// itemVariable declares a task's own variable, a forEach item's (of any
// type), beside those every task sees; none when item is empty.
func itemVariable(item string) []cel.EnvOption {
	if item == "" {
		return nil
	}
	return []cel.EnvOption{cel.Variable(item, cel.DynType)}
}

// itemCaches are the program caches of tasks that bind a variable of their
// own (forEach), one pair per variable name; a name that is the same in
// many Plans shares its programs.
var itemCaches = struct {
	sync.Mutex
	manifest, object map[string]*programCache
}{manifest: map[string]*programCache{}, object: map[string]*programCache{}}

// programsFor returns the caches of the expressions of a task whose own
// variable is item: of its manifest and of its readyWhen and failedWhen.
// An empty item is a task with none: manifestPrograms and
// readyWhenPrograms.
func programsFor(item string) (manifest, object *programCache) {
	if item == "" {
		return manifestPrograms, readyWhenPrograms
	}
	itemCaches.Lock()
	defer itemCaches.Unlock()
	if itemCaches.manifest[item] == nil {
		if len(itemCaches.manifest) >= celCacheSize {
			for k := range itemCaches.manifest { // drop one at random
				delete(itemCaches.manifest, k)
				delete(itemCaches.object, k)
				break
			}
		}
		itemCaches.manifest[item] = newProgramCache(sync.OnceValues(func() (*cel.Env, error) { return newManifestEnv(item) }),
			false, cel.EvalOptions(cel.OptTrackState))
		itemCaches.object[item] = newProgramCache(sync.OnceValues(func() (*cel.Env, error) { return newObjectEnv(item) }), true)
	}
	return itemCaches.manifest[item], itemCaches.object[item]
}

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
