package httpapi

import (
	"crypto/tls"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// connGuard enforces the read, idle and write timeouts of every connection
// with one sweep a tick instead of fasthttp's three deadline moves per
// request (each re-arms a runtime timer: ~1.5 µs of CPU per request, about
// as much as decoding it). A connection only records which phase it is in
// and since when, by the guard's coarse clock; the sweep sets a deadline in
// the past on a connection that overstays its phase, which fails its
// pending read or write with a timeout error just as an expired deadline
// set in advance would (fasthttp then answers 408 to a request that is
// read too slowly, and closes a connection idle too long).
//
// A timeout fires between its length and its length plus two ticks; the
// tick is a tenth of the shortest timeout, between 10 ms and 1 s.
type connGuard struct {
	timeouts [phaseCount]time.Duration // by phase; 0: none
	tick     time.Duration
	now      atomic.Int64 // coarse clock, ns since start; moved on each tick

	start time.Time
	mu    sync.Mutex
	conns map[*connState]struct{}

	stop, done chan struct{}
	closeOnce  sync.Once
}

// Phases of a connection.
const (
	phaseRequest = iota // reading a request: from its first byte (or the accept) until the handler runs
	phaseHandler        // handler running, or between the writes of a streamed response: no timeout
	phaseWrite          // in a write
	phaseIdle           // waiting for the next request on a keep-alive connection
	phaseCount
)

// The state word: the phase in the low bits, an expiry mark, and the
// coarse time the phase began in the bits above.
const (
	phaseBits   = 2
	phaseMask   = 1<<phaseBits - 1
	expiredMark = 1 << phaseBits
	sinceShift  = phaseBits + 1
)

func newConnGuard(read, write, idle time.Duration) *connGuard {
	g := &connGuard{start: time.Now(), conns: map[*connState]struct{}{}}
	g.timeouts[phaseRequest], g.timeouts[phaseWrite], g.timeouts[phaseIdle] = read, write, idle
	shortest := time.Duration(0)
	for _, d := range g.timeouts {
		if d > 0 && (shortest == 0 || d < shortest) {
			shortest = d
		}
	}
	g.tick = min(max(shortest/10, 10*time.Millisecond), time.Second)
	return g
}

// run sweeps until close, and after it for as long as connections
// remain open (a Shutdown that gave up waiting leaves some: their writes
// stay bounded).
func (g *connGuard) run() {
	g.stop, g.done = make(chan struct{}), make(chan struct{})
	stop := g.stop
	go func() {
		defer close(g.done)
		t := time.NewTicker(g.tick)
		defer t.Stop()
		stopping := false
		for {
			select {
			case <-stop:
				stopping, stop = true, nil // a nil channel: never again
			case <-t.C:
				g.sweep()
			}
			if stopping && g.open() == 0 {
				return
			}
		}
	}()
}

// close ends the sweep once no connection is open any more; it waits for
// that only when none is open now.
func (g *connGuard) close() {
	if g.stop == nil {
		return // never ran
	}
	g.closeOnce.Do(func() { close(g.stop) })
	if g.open() == 0 {
		<-g.done
	}
}

func (g *connGuard) open() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.conns)
}

func (g *connGuard) sweep() {
	now := int64(time.Since(g.start))
	g.now.Store(now)
	g.mu.Lock()
	defer g.mu.Unlock()
	for cs := range g.conns {
		st := cs.state.Load()
		if st&expiredMark != 0 {
			continue
		}
		limit := g.timeouts[st&phaseMask]
		// since is up to a tick behind the phase's real start: one tick of slack.
		if limit <= 0 || time.Duration(now-st>>sinceShift) <= limit+g.tick {
			continue
		}
		cs.expire(st)
	}
}

// connState is a connection's phase, shared by its wrappers.
type connState struct {
	g     *connGuard
	conn  net.Conn
	state atomic.Int64
	// mu orders an expiry's deadline against the clearing of it by the
	// connection's next phase, which may begin while the sweep decides.
	mu sync.Mutex
}

// enter moves the connection to phase p.
func (cs *connState) enter(p int64) { cs.set(p | cs.g.now.Load()<<sinceShift) }

func (cs *connState) set(st int64) {
	old := cs.state.Swap(st)
	if old&expiredMark != 0 {
		// The sweep failed (or is failing) the previous phase's I/O; this
		// phase starts without a deadline in the past.
		cs.mu.Lock()
		cs.conn.SetDeadline(time.Time{})
		cs.mu.Unlock()
	}
}

// expire fails the I/O of the phase st, unless the connection has left it.
func (cs *connState) expire(st int64) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if !cs.state.CompareAndSwap(st, st|expiredMark) {
		return
	}
	past := time.Unix(1, 0)
	switch st & phaseMask {
	case phaseWrite:
		cs.conn.SetWriteDeadline(past)
	default:
		// A TLS handshake's writes happen in the request phase too.
		cs.conn.SetDeadline(past)
	}
}

// guardListener wraps each accepted connection in the guard.
type guardListener struct {
	net.Listener
	g *connGuard
}

func (l *guardListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	cs := &connState{g: l.g, conn: c}
	cs.state.Store(phaseRequest | l.g.now.Load()<<sinceShift)
	l.g.mu.Lock()
	l.g.conns[cs] = struct{}{}
	l.g.mu.Unlock()
	gc := &guardedConn{Conn: c, cs: cs}
	if tc, ok := c.(*tls.Conn); ok {
		// fasthttp tells TLS connections by these methods.
		return &guardedTLSConn{guardedConn: gc, tls: tc}, nil
	}
	return gc, nil
}

// guardedConn reports its reads and writes to the guard.
type guardedConn struct {
	net.Conn
	cs     *connState
	closed atomic.Bool
}

func (c *guardedConn) Read(p []byte) (int, error) {
	idle := false
	switch c.cs.state.Load() & phaseMask {
	case phaseHandler, phaseWrite:
		// The response is out: this read waits for the next request.
		c.cs.enter(phaseIdle)
		idle = true
	case phaseIdle:
		idle = true
	}
	n, err := c.Conn.Read(p)
	if n > 0 && idle {
		c.cs.enter(phaseRequest) // a request's first bytes: ReadTimeout runs from here
	}
	return n, err
}

func (c *guardedConn) Write(p []byte) (int, error) {
	before := c.cs.state.Load()
	c.cs.enter(phaseWrite)
	n, err := c.Conn.Write(p)
	if before&phaseMask == phaseRequest {
		// A "100 Continue" before the body is read: the request's
		// ReadTimeout goes on from where it was.
		c.cs.set(before &^ expiredMark)
	} else {
		c.cs.enter(phaseHandler)
	}
	return n, err
}

func (c *guardedConn) Close() error {
	if c.closed.CompareAndSwap(false, true) {
		g := c.cs.g
		g.mu.Lock()
		delete(g.conns, c.cs)
		g.mu.Unlock()
	}
	return c.Conn.Close()
}

func (c *guardedConn) guard() *connState { return c.cs }

type guardedTLSConn struct {
	*guardedConn
	tls *tls.Conn
}

func (c *guardedTLSConn) Handshake() error                     { return c.tls.Handshake() }
func (c *guardedTLSConn) ConnectionState() tls.ConnectionState { return c.tls.ConnectionState() }

// handlerStarted marks the connection of a request whose handler runs:
// the time the handler takes is not the client's reading time.
func handlerStarted(c net.Conn) {
	if g, ok := c.(interface{ guard() *connState }); ok {
		g.guard().enter(phaseHandler)
	}
}
