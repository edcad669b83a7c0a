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

package reconcilertest

import (
	"context"
	"fmt"
	"reflect"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clocktesting "k8s.io/utils/clock/testing"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/execloop/execloop/execloop/reconciler"
)

// Driver drives one object through a Reconciler's passes synchronously,
// without a manager, for unit tests that step pass by pass: Step runs one
// Reconcile as the controller would, and Next first moves the fake clock
// on by the delay the last one asked for (SleepBetweenRuns, a task's
// backoff, a stall's retry), so that nothing waits in real time.
//
// The Reconciler's Clock is the Driver's Clock. Its tasks run for real,
// against Client: a fake client (NewFakeClient) for a unit test, or an
// envtest's.
type Driver[T reconciler.Object] struct {
	// Reconciler is the one driven.
	Reconciler *reconciler.Reconciler[T]
	// Client is the Reconciler's, which Get reads the object with.
	Client client.Client
	// Clock is the Reconciler's. Step it yourself to let time pass
	// beyond what the last Reconcile asked for.
	Clock *clocktesting.FakeClock
	// Key names the object driven.
	Key types.NamespacedName
	// Last is the result of the last Reconcile.
	Last ctrl.Result
	// Passes counts the Reconciles so far.
	Passes int
}

// NewDriver makes a Driver of obj's reconciles by r, which must not have
// reconciled yet: it gets the Driver's fake clock (starting at the real
// time), and c as its client when it has none.
func NewDriver[T reconciler.Object](r *reconciler.Reconciler[T], c client.Client, obj T) *Driver[T] {
	clk := clocktesting.NewFakeClock(time.Now())
	r.Clock = clk
	if r.Client == nil {
		r.Client = c
	}
	return &Driver[T]{Reconciler: r, Client: r.Client, Clock: clk, Key: client.ObjectKeyFromObject(obj)}
}

// Step runs one Reconcile of the object now, and returns the object as it
// is afterwards.
func (d *Driver[T]) Step(ctx context.Context) (T, error) {
	res, err := d.Reconciler.Reconcile(ctx, ctrl.Request{NamespacedName: d.Key})
	d.Passes++
	d.Last = res
	if err != nil {
		var zero T
		return zero, err
	}
	return d.Get(ctx)
}

// Next moves the clock on by the delay the last Reconcile asked for, if
// any, then runs one Reconcile, as the controller would at that time.
func (d *Driver[T]) Next(ctx context.Context) (T, error) {
	if d.Last.RequeueAfter > 0 {
		d.Clock.Step(d.Last.RequeueAfter)
	}
	return d.Step(ctx)
}

// Settle runs Next until the object is Ready or Stalled for its
// generation, or the Reconciler asks for no further pass, or maxPasses
// have run, and returns the object. (A Ready object is requeued for its
// resync, a Stalled one for its retry: they count as settled.) Running out
// of passes is an error naming what the object looks like.
func (d *Driver[T]) Settle(ctx context.Context, maxPasses int) (T, error) {
	for range maxPasses {
		obj, err := d.Next(ctx)
		if err != nil {
			return obj, err
		}
		st := obj.ExecloopStatus()
		if d.Last.IsZero() || st.IsReady(obj.GetGeneration()) || st.IsStalled(obj.GetGeneration()) {
			return obj, nil
		}
	}
	obj, err := d.Get(ctx)
	if err != nil {
		return obj, err
	}
	return obj, fmt.Errorf("after %d passes the Reconciler still asks for another, in %s\n%s", maxPasses, d.Last.RequeueAfter, summary(obj))
}

// Get reads the object.
func (d *Driver[T]) Get(ctx context.Context) (T, error) {
	obj := newObject[T]()
	if err := d.Client.Get(ctx, d.Key, obj); err != nil {
		var zero T
		return zero, err
	}
	return obj, nil
}

// NewFakeClient is a controller-runtime fake client holding objs, with a
// status subresource for each one's type, as the Reconciler needs.
func NewFakeClient(scheme *runtime.Scheme, objs ...client.Object) client.WithWatch {
	return fake.NewClientBuilder().WithScheme(scheme).WithObjects(objs...).WithStatusSubresource(objs...).Build()
}

// newObject makes an empty T (a pointer to a struct).
func newObject[T reconciler.Object]() T {
	var zero T
	return reflect.New(reflect.TypeOf(zero).Elem()).Interface().(T)
}
