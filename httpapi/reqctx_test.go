package httpapi

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

type otherKey struct{}

func waitDone(t *testing.T, ctx context.Context) {
	t.Helper()
	select {
	case <-ctx.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("context not done")
	}
}

// TestRequestContext: the lazy request context behaves as
// context.WithTimeout(context.WithValue(base, …)) plus its cancel at the end
// of the request.
func TestRequestContext(t *testing.T) {
	t.Run("values and deadline", func(t *testing.T) {
		base := context.WithValue(context.Background(), otherKey{}, "v")
		dl := time.Now().Add(time.Hour)
		c := newRequestContext(base, "rid-1", dl)
		defer c.end()
		if RequestID(c) != "rid-1" || c.Value(otherKey{}) != "v" {
			t.Errorf("values: %q %v", RequestID(c), c.Value(otherKey{}))
		}
		if d, ok := c.Deadline(); !ok || !d.Equal(dl) {
			t.Errorf("deadline %v %v", d, ok)
		}
		if c.Err() != nil {
			t.Errorf("err %v before the deadline", c.Err())
		}
	})
	t.Run("deadline passes", func(t *testing.T) {
		c := newRequestContext(context.Background(), "r", time.Now().Add(5*time.Millisecond))
		defer c.end()
		waitDone(t, c)
		if !errors.Is(c.Err(), context.DeadlineExceeded) {
			t.Errorf("err %v", c.Err())
		}
	})
	t.Run("deadline already passed, never waited on", func(t *testing.T) {
		c := newRequestContext(context.Background(), "r", time.Now().Add(-time.Second))
		defer c.end()
		if !errors.Is(c.Err(), context.DeadlineExceeded) {
			t.Errorf("err %v", c.Err())
		}
	})
	t.Run("base cancelled", func(t *testing.T) {
		base, cancel := context.WithCancel(context.Background())
		c := newRequestContext(base, "r", time.Now().Add(time.Hour))
		defer c.end()
		done := c.Done()
		cancel()
		<-done
		if !errors.Is(c.Err(), context.Canceled) {
			t.Errorf("err %v", c.Err())
		}
		// Cancelled before anyone looked: done as well.
		c2 := newRequestContext(base, "r", time.Now().Add(time.Hour))
		defer c2.end()
		waitDone(t, c2)
	})
	t.Run("end cancels", func(t *testing.T) {
		for _, waitedOn := range []bool{false, true} {
			c := newRequestContext(context.Background(), "r", time.Now().Add(time.Hour))
			var child context.Context
			if waitedOn {
				var stop context.CancelFunc
				child, stop = context.WithCancel(c) // asks c.Done
				defer stop()
			}
			c.end()
			waitDone(t, c)
			if !errors.Is(c.Err(), context.Canceled) {
				t.Errorf("waited on %v: err %v", waitedOn, c.Err())
			}
			if child != nil {
				waitDone(t, child)
			}
		}
	})
	t.Run("concurrent", func(t *testing.T) {
		c := newRequestContext(context.Background(), "r", time.Now().Add(time.Hour))
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() { <-c.Done() })
		}
		c.end()
		wg.Wait()
	})
}
