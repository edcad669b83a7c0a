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

// Package manager is the wiring that every way of running the operator
// shares: the manager's flags and their checks, the logger, and a
// controller-runtime manager with the Plan controller, probes, metrics and
// leader election. cmd/manager (the binary that ships) and the local runner
// of `make run` (the repository's root package) both build on it, so that
// they take the same flags and run the same controllers.
package manager
