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

package reconciler

import (
	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/execloop/execloop/execloop/executor"
)

// Metric labels.
const (
	labelController = "controller"
	labelOutcome    = "outcome"
)

// The Reconciler's metrics, registered in controller-runtime's registry and
// served on the manager's metrics endpoint. Labels are bounded: controller
// names, outcomes and states, never object or task names (a Plan's users
// choose those without bound; a task's timing is in its status and its
// trace span).
var (
	taskDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "execloop_task_duration_seconds",
		Help:    "How long task executions took, by controller and outcome (Succeeded, InProgress, Failed).",
		Buckets: prometheus.ExponentialBuckets(0.001, 4, 9), // 1ms to about 65s
	}, []string{labelController, labelOutcome})

	taskExecutions = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "execloop_task_executions_total",
		Help: "Task executions, by controller and outcome (Succeeded, InProgress, Failed).",
	}, []string{labelController, labelOutcome})

	passes = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "execloop_passes_total",
		Help: "Plan passes, by controller and result: done (the plan needs no more tasks), progressing, error.",
	}, []string{labelController, "result"})

	objectsGauge = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "execloop_objects",
		Help: "Objects by controller and state: Ready, Progressing, Stalled, Paused, Deleting.",
	}, []string{labelController, "state"})
)

func init() {
	metrics.Registry.MustRegister(taskDuration, taskExecutions, passes, objectsGauge)
}

// Object states, as the execloop_objects gauge counts them.
const (
	stateReady       = "Ready"
	stateProgressing = "Progressing"
	stateStalled     = "Stalled"
	statePaused      = "Paused"
	stateDeleting    = "Deleting"
)

// observe counts the pass and its tasks in the metrics.
func (s *session[T]) observe(res executor.Result, err error) {
	for _, t := range res.Tasks {
		outcome := t.Outcome.String()
		taskDuration.WithLabelValues(s.r.Name, outcome).Observe(t.Duration.Seconds())
		taskExecutions.WithLabelValues(s.r.Name, outcome).Inc()
	}
	result := "progressing"
	switch {
	case err != nil:
		result = "error"
	case res.Done:
		result = "done"
	}
	passes.WithLabelValues(s.r.Name, result).Inc()
}
