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
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/execloop/execloop/execloop"
)

// observer returns the Observer of one pass: tracing when the Reconciler has
// a tracer, then next (the Reconciler's Observer); nil when there is
// neither.
func (r *Reconciler[T]) observer(obj T, next execloop.Observer) execloop.Observer {
	if r.tracer == nil {
		return next
	}
	if next == nil {
		next = execloop.NopObserver{}
	}
	return &tracingObserver{
		tracer: r.tracer,
		next:   next,
		attrs: []attribute.KeyValue{
			attribute.String("execloop.controller", r.Name),
			attribute.String("k8s.namespace.name", obj.GetNamespace()),
			attribute.String("execloop.object", obj.GetName()),
		},
	}
}

// tracingObserver makes a span of a pass and a child span of each task.
type tracingObserver struct {
	tracer trace.Tracer
	next   execloop.Observer
	attrs  []attribute.KeyValue
}

var _ execloop.Observer = (*tracingObserver)(nil)

func (o *tracingObserver) PassStarted(ctx context.Context) context.Context {
	ctx, _ = o.tracer.Start(ctx, "execloop.pass", trace.WithAttributes(o.attrs...))
	return o.next.PassStarted(ctx)
}

func (o *tracingObserver) TaskStarted(ctx context.Context, task string) context.Context {
	ctx, _ = o.tracer.Start(ctx, "execloop.task "+task, trace.WithAttributes(attribute.String("execloop.task", task)))
	return o.next.TaskStarted(ctx, task)
}

func (o *tracingObserver) TaskFinished(ctx context.Context, e execloop.TaskEvent) {
	o.next.TaskFinished(ctx, e)
	span := trace.SpanFromContext(ctx)
	span.SetAttributes(attribute.String("execloop.outcome", e.Outcome.String()), attribute.String("execloop.phase", e.Phase.String()))
	if e.Outcome == execloop.Failed {
		span.RecordError(e.Err)
		span.SetStatus(codes.Error, e.Err.Error())
	}
	span.End()
}

func (o *tracingObserver) PassFinished(ctx context.Context, e execloop.PassEvent) {
	o.next.PassFinished(ctx, e)
	span := trace.SpanFromContext(ctx)
	span.SetAttributes(
		attribute.Bool("execloop.done", e.Done),
		attribute.Int("execloop.succeeded", e.Succeeded),
		attribute.Int("execloop.in_progress", e.InProgress),
		attribute.Int("execloop.failed", e.Failed),
		attribute.Int("execloop.errors", e.Errors),
	)
	if e.Err != nil {
		span.RecordError(e.Err)
		span.SetStatus(codes.Error, e.Err.Error())
	}
	span.End()
}
