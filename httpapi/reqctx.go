package httpapi

import (
	"context"
	"sync"
	"time"
)

// requestContext is the context given to Core.Send: the request id, the
// request's deadline and the server's base context, without what
// context.WithTimeout costs per request (a timer armed and stopped, three
// allocations). A Send that does not wait on its context, the usual case
// as the store call is not cancellable, never pays for the timer: the
// first Done or Err builds the real deadline context, so cancellation
// behaves exactly as with context.WithDeadline.
type requestContext struct {
	base     context.Context
	rid      string
	deadline time.Time

	once   sync.Once
	ctx    context.Context
	cancel context.CancelFunc
}

func newRequestContext(base context.Context, rid string, deadline time.Time) *requestContext {
	c := &requestContext{}
	c.init(base, rid, deadline)
	return c
}

// init sets up a zero requestContext (one embedded in a larger allocation).
func (c *requestContext) init(base context.Context, rid string, deadline time.Time) {
	c.base, c.rid, c.deadline = base, rid, deadline
}

func (c *requestContext) real() context.Context {
	c.once.Do(func() { c.ctx, c.cancel = context.WithDeadline(c.base, c.deadline) })
	return c.ctx
}

func (c *requestContext) Deadline() (time.Time, bool) { return c.deadline, true }
func (c *requestContext) Done() <-chan struct{}       { return c.real().Done() }
func (c *requestContext) Err() error                  { return c.real().Err() }

func (c *requestContext) Value(key any) any {
	if _, ok := key.(requestIDKey); ok {
		return c.rid
	}
	return c.base.Value(key)
}

func (c *requestContext) String() string { return "httpapi.requestContext" }

// end cancels the context once the request is answered, as the cancel func
// of context.WithTimeout would: a goroutine that kept it sees it done.
func (c *requestContext) end() {
	c.once.Do(func() { c.ctx = canceledContext })
	if c.cancel != nil {
		c.cancel()
	}
}

// canceledContext is what a requestContext that was never waited on
// becomes when its request ends.
var canceledContext = func() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}()
