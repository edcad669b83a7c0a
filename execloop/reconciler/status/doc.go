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

// Package status holds the status that execloop/reconciler records about an
// object and that custom resources embed: observedGeneration, the
// kstatus-compatible Ready, Reconciling and Stalled conditions, the error
// count, one TaskStatus per task and the pass times; and the annotations
// the reconciler reads (paused, reconcile requested). It depends on
// apimachinery only, so that API packages can embed it and stay light to
// import.
package status
