package smpp

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"smppbridge/smpp/pdu"
)

// BindType is how a session binds.
type BindType uint8

// Bind types.
const (
	Transceiver BindType = iota
	Transmitter
	Receiver
)

func (b BindType) command() pdu.CommandID {
	switch b {
	case Transmitter:
		return pdu.BindTransmitter
	case Receiver:
		return pdu.BindReceiver
	default:
		return pdu.BindTransceiver
	}
}

func (b BindType) String() string { return b.command().String() }

// SessionConfig configures one bind. Zero values take the defaults noted.
type SessionConfig struct {
	SystemID   string
	Password   string
	SystemType string
	BindType   BindType
	AddrTON    byte
	AddrNPI    byte

	Window              int           // requests outstanding at most; default 10
	ResponseTimeout     time.Duration // per request; default 10s
	EnquireLinkInterval time.Duration // keep-alive when idle; default 30s
	DeadLinkTimeout     time.Duration // unanswered enquire_link ends the bind; default ResponseTimeout
	BindTimeout         time.Duration // default 10s
	MaxPDULength        uint32        // default pdu.DefaultMaxLength

	// WindowStuckAfter ends the bind when every window slot is held by a
	// timed-out request and the newest of them was sent this long ago;
	// default 5 × ResponseTimeout (late responses still free slots before).
	WindowStuckAfter time.Duration

	// Handler receives deliver_sm and data_sm from the SMSC. It is called
	// from one goroutine per session, in arrival order, and must not block
	// for long: it answers by calling Inbound.Respond, from any goroutine,
	// once it has durably taken the PDU. Without a Handler inbound PDUs are
	// answered ESME_RX_T_APPN so the SMSC keeps them.
	Handler func(*Inbound)
	// InboundQueue bounds PDUs waiting for the Handler; beyond it they are
	// answered ESME_RMSGQFUL at once instead of stalling the read loop.
	// Default 1024.
	InboundQueue int

	Logger *slog.Logger // nil: discard
}

func (c *SessionConfig) setDefaults() {
	if c.Window <= 0 {
		c.Window = 10
	}
	if c.ResponseTimeout <= 0 {
		c.ResponseTimeout = 10 * time.Second
	}
	if c.EnquireLinkInterval <= 0 {
		c.EnquireLinkInterval = 30 * time.Second
	}
	if c.DeadLinkTimeout <= 0 {
		c.DeadLinkTimeout = c.ResponseTimeout
	}
	if c.WindowStuckAfter <= 0 {
		c.WindowStuckAfter = 5 * c.ResponseTimeout
	}
	if c.BindTimeout <= 0 {
		c.BindTimeout = 10 * time.Second
	}
	if c.MaxPDULength == 0 {
		c.MaxPDULength = pdu.DefaultMaxLength
	}
	if c.InboundQueue <= 0 {
		c.InboundQueue = 1024
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// Result is how a request ended. Err is nil when a response arrived; its
// Status may still be an error status.
type Result struct {
	Status    pdu.Status
	MessageID string
	Latency   time.Duration
	Err       error
}

// Session is one bound SMPP connection. Requests wait for a free window
// slot; responses are matched by command and sequence number.
type Session struct {
	cfg  SessionConfig
	conn net.Conn
	log  *slog.Logger

	slots chan struct{} // one token per outstanding windowed request

	mu       sync.Mutex
	seq      uint32
	pending  map[uint32]call // by value: no allocation per request
	closing  bool
	err      error
	drained  chan struct{} // closed when closing and nothing is pending
	enqAt    time.Time     // when the pending enquire_link was sent; zero if none
	unbindAt time.Time
	unbound  error // set once an unbind was answered either way: why the bind ends

	outMu  sync.Mutex
	out    []byte
	spare  []byte
	flushC chan struct{}
	closeW bool // close the connection once out is written
	// flushes counts the times the writer took out: a request queued
	// while it is unchanged goes out in the same write as the one before.
	flushes atomic.Uint64

	inbound  chan *Inbound
	done     chan struct{}
	endOnce  sync.Once
	lastRead atomic.Int64 // unix nanoseconds
	wg       sync.WaitGroup

	stats sessionCounters
}

type call struct {
	id       pdu.CommandID
	sentAt   time.Time
	windowed bool
	timedOut bool
	done     resultHandler
}

// resultHandler receives a request's outcome. The pool's parts implement
// it themselves, so a send needs no closure allocated per request.
type resultHandler interface{ handleResult(Result) }

// lateHandler is a resultHandler that also takes the response to a
// request it was told had timed out (ErrResponseTimeout). Only the late
// path asks for it: a timely response costs nothing more.
type lateHandler interface{ handleLate(Result) }

// resultFunc adapts a func(Result); a func value fits an interface
// without allocating.
type resultFunc func(Result)

func (f resultFunc) handleResult(r Result) { f(r) }

// Bind dials nothing: it binds over an established connection (plain or
// TLS) and starts the session's goroutines.
func Bind(ctx context.Context, conn net.Conn, cfg SessionConfig) (*Session, error) {
	cfg.setDefaults()
	s := &Session{
		cfg:     cfg,
		conn:    conn,
		log:     cfg.Logger,
		slots:   make(chan struct{}, cfg.Window),
		pending: map[uint32]call{},
		flushC:  make(chan struct{}, 1),
		inbound: make(chan *Inbound, cfg.InboundQueue),
		done:    make(chan struct{}),
	}
	r := bufio.NewReaderSize(conn, 64*1024)
	if err := s.bind(ctx, r); err != nil {
		conn.Close()
		return nil, err
	}
	s.lastRead.Store(time.Now().UnixNano())
	s.wg.Add(4)
	go func() { defer s.wg.Done(); s.readLoop(r) }()
	go func() { defer s.wg.Done(); s.writeLoop() }()
	go func() { defer s.wg.Done(); s.tickLoop() }()
	go func() { defer s.wg.Done(); s.inboundLoop() }()
	return s, nil
}

func (s *Session) bind(ctx context.Context, r *bufio.Reader) error {
	deadline := time.Now().Add(s.cfg.BindTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	s.conn.SetDeadline(deadline)
	defer s.conn.SetDeadline(time.Time{})
	stop := context.AfterFunc(ctx, func() { s.conn.SetDeadline(time.Now()) })
	defer stop()

	s.seq = 1
	req := pdu.PDU{
		Header:   pdu.Header{ID: s.cfg.BindType.command(), Seq: s.seq},
		SystemID: []byte(s.cfg.SystemID), Password: []byte(s.cfg.Password), SystemType: []byte(s.cfg.SystemType),
		InterfaceVersion: 0x34, AddressRange: pdu.Address{TON: s.cfg.AddrTON, NPI: s.cfg.AddrNPI},
	}
	b, err := pdu.Append(nil, &req)
	if err != nil {
		return fmt.Errorf("smpp: bind: %w", err)
	}
	if _, err := s.conn.Write(b); err != nil {
		return fmt.Errorf("smpp: bind: %w", err)
	}
	var buf []byte
	for {
		frame, err := pdu.ReadFrame(r, buf, s.cfg.MaxPDULength)
		if err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("smpp: bind: %w", context.Cause(ctx))
			}
			return fmt.Errorf("smpp: bind: %w", err)
		}
		buf = frame
		var p pdu.PDU
		if err := pdu.Decode(frame, &p); err != nil {
			return fmt.Errorf("smpp: bind response: %w", err)
		}
		switch {
		case p.ID == req.ID.Resp() && p.Seq == req.Seq:
			if p.Status != pdu.StatusOK {
				return &BindError{Status: p.Status}
			}
			return nil
		case p.ID == pdu.GenericNack:
			return &BindError{Status: p.Status}
		case p.ID == pdu.EnquireLink: // some SMSCs probe before answering the bind
			if _, err := s.conn.Write(pdu.AppendHeaderOnly(nil, pdu.EnquireLinkResp, pdu.StatusOK, p.Seq)); err != nil {
				return fmt.Errorf("smpp: bind: %w", err)
			}
		default:
			return fmt.Errorf("smpp: bind: unexpected %s before the bind response", p.ID)
		}
	}
}

// Done is closed when the session has ended; Err then says why.
func (s *Session) Done() <-chan struct{} { return s.done }

// Err is why the session ended, or nil while it runs.
func (s *Session) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// Send starts a request: it waits for a window slot (bounded by ctx), sends
// p with the session's next sequence number and returns. done is called
// exactly once with the outcome, from the session's read loop or its timer,
// so it must not block. If Send returns an error, done is never called and
// the request was not sent.
func (s *Session) Send(ctx context.Context, p *pdu.PDU, done func(Result)) error {
	select {
	case s.slots <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("%w: %w", ErrNotSent, context.Cause(ctx))
	case <-s.done:
		return ErrClosed
	}
	return s.start(p, true, resultFunc(done))
}

// TrySend is Send without waiting: it returns false when the window is full.
func (s *Session) TrySend(p *pdu.PDU, done func(Result)) (bool, error) {
	select {
	case s.slots <- struct{}{}:
	default:
		return false, nil
	}
	return true, s.start(p, true, resultFunc(done))
}

// trySend is TrySend for a handler that is not a func.
func (s *Session) trySend(p *pdu.PDU, h resultHandler) (bool, error) {
	select {
	case s.slots <- struct{}{}:
	default:
		return false, nil
	}
	return true, s.start(p, true, h)
}

// Submit sends p and waits for its outcome.
func (s *Session) Submit(ctx context.Context, p *pdu.PDU) Result {
	ch := make(chan Result, 1)
	if err := s.Send(ctx, p, func(r Result) { ch <- r }); err != nil {
		return Result{Err: err}
	}
	return <-ch
}

func (s *Session) start(p *pdu.PDU, windowed bool, done resultHandler) error {
	s.mu.Lock()
	if s.closing || s.err != nil {
		s.mu.Unlock()
		if windowed {
			<-s.slots
		}
		return ErrClosed
	}
	seq := s.nextSeqLocked()
	p.Seq = seq
	// Encode before registering the request, still holding mu: a PDU that
	// cannot be encoded is never pending (so end cannot report it, nor free
	// its slot a second time), and the response cannot be matched before
	// the request is registered.
	s.outMu.Lock()
	var err error
	s.out, err = pdu.Append(s.out, p)
	s.outMu.Unlock()
	if err != nil {
		s.mu.Unlock()
		if windowed {
			<-s.slots
		}
		return fmt.Errorf("%w: %w", ErrNotSent, err)
	}
	s.pending[seq] = call{id: p.ID, sentAt: time.Now(), windowed: windowed, done: done}
	s.mu.Unlock()
	s.kick()
	s.stats.pdusOut.Add(1)
	return nil
}

// nextSeqLocked returns the next sequence number, 1…0x7FFFFFFF and around,
// skipping any still pending after a wrap.
func (s *Session) nextSeqLocked() uint32 {
	for {
		s.seq = pdu.NextSeq(s.seq)
		if _, busy := s.pending[s.seq]; !busy {
			return s.seq
		}
	}
}

func (s *Session) kick() {
	select {
	case s.flushC <- struct{}{}:
	default:
	}
}

func (s *Session) writeHeader(id pdu.CommandID, status pdu.Status, seq uint32) {
	s.outMu.Lock()
	s.out = pdu.AppendHeaderOnly(s.out, id, status, seq)
	s.outMu.Unlock()
	s.kick()
	s.stats.pdusOut.Add(1)
}

func (s *Session) writeLoop() {
	for {
		select {
		case <-s.flushC:
		case <-s.done:
			return
		}
		// Let the other senders of this moment append first: one write for
		// many PDUs costs far less than a syscall each.
		runtime.Gosched()
		s.outMu.Lock()
		data := s.out
		s.out = s.spare[:0]
		closeAfter := s.closeW
		s.flushes.Add(1)
		s.outMu.Unlock()
		if len(data) > 0 {
			if _, err := s.conn.Write(data); err != nil {
				s.fail(fmt.Errorf("smpp: write: %w", err))
				return
			}
		}
		s.spare = data
		if closeAfter {
			s.end(ErrUnboundByPeer)
			return
		}
	}
}

func (s *Session) readLoop(r *bufio.Reader) {
	var buf []byte
	var p pdu.PDU
	for {
		frame, err := pdu.ReadFrame(r, buf, s.cfg.MaxPDULength)
		if err != nil {
			var le *pdu.LengthError
			if errors.As(err, &le) {
				s.writeHeader(pdu.GenericNack, pdu.StatusInvCmdLen, le.Seq)
			}
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			s.fail(fmt.Errorf("smpp: read: %w", err))
			return
		}
		buf = frame
		s.lastRead.Store(time.Now().UnixNano())
		s.stats.pdusIn.Add(1)
		if id := pdu.CommandID(binary.BigEndian.Uint32(frame[4:8])); (id == pdu.DeliverSM || id == pdu.DataSM) && s.receive(frame) {
			continue // decoded once, into memory the Inbound owns
		}
		if err := pdu.Decode(frame, &p); err != nil {
			s.stats.undecodable.Add(1)
			s.log.Warn("undecodable PDU from SMSC", "command", p.ID.String(), "seq", p.Seq, "err", err)
			if !p.ID.IsResponse() {
				status := pdu.StatusInvCmdLen
				if errors.Is(err, pdu.ErrUnknownCommand) {
					status = pdu.StatusInvCmdID
				}
				s.writeHeader(pdu.GenericNack, status, p.Seq)
			} else if p.ID.Known() {
				// A response we cannot parse still answers its request.
				s.complete(&p)
			}
			continue
		}
		switch p.ID {
		case pdu.EnquireLink:
			s.writeHeader(pdu.EnquireLinkResp, pdu.StatusOK, p.Seq)
		case pdu.Unbind:
			s.mu.Lock()
			s.closing = true
			s.unbound = ErrUnboundByPeer
			s.mu.Unlock()
			s.outMu.Lock()
			s.out = pdu.AppendHeaderOnly(s.out, pdu.UnbindResp, pdu.StatusOK, p.Seq)
			s.closeW = true
			s.outMu.Unlock()
			s.kick()
		case pdu.DeliverSM, pdu.DataSM:
			// receive could not decode it but Decode could: cannot happen.
			s.writeHeader(p.ID.Resp(), pdu.StatusSysErr, p.Seq)
		case pdu.AlertNotification:
			// No response is defined for it.
		default:
			if p.ID.IsResponse() {
				s.complete(&p)
			} else {
				s.writeHeader(pdu.GenericNack, pdu.StatusInvCmdID, p.Seq)
			}
		}
	}
}

// complete matches a response to its request by sequence number and command.
func (s *Session) complete(p *pdu.PDU) {
	s.mu.Lock()
	c, ok := s.pending[p.Seq]
	if !ok || (p.ID != pdu.GenericNack && p.ID.Request() != c.id) {
		s.mu.Unlock()
		s.stats.unexpected.Add(1)
		s.log.Debug("response matches no request", "command", p.ID.String(), "seq", p.Seq)
		return
	}
	delete(s.pending, p.Seq)
	switch c.id {
	case pdu.EnquireLink:
		s.enqAt = time.Time{}
	case pdu.Unbind:
		s.unbound = ErrClosed
	}
	s.signalDrainedLocked()
	s.mu.Unlock()
	if c.windowed {
		<-s.slots
	}
	latency := time.Since(c.sentAt)
	status := p.Status
	if p.ID == pdu.GenericNack && status == pdu.StatusOK {
		// A generic_nack refuses the request whatever its status says;
		// with 0 it must not pass for an accepted submit.
		status = pdu.StatusUnknownErr
	}
	if c.timedOut {
		s.stats.late.Add(1)
		// Already reported as ErrResponseTimeout; a handler that can still
		// use the answer (the SMSC took the message after all) gets it.
		if lh, ok := c.done.(lateHandler); ok {
			lh.handleLate(Result{Status: status, MessageID: string(p.MessageID), Latency: latency})
		}
		return
	}
	if c.id == pdu.SubmitSM || c.id == pdu.DataSM || c.id == pdu.SubmitMulti {
		s.stats.observe(status, latency)
	}
	c.done.handleResult(Result{Status: status, MessageID: string(p.MessageID), Latency: latency})
}

func (s *Session) signalDrainedLocked() {
	if s.closing && s.drained != nil && s.windowedPendingLocked() == 0 {
		close(s.drained)
		s.drained = nil
	}
}

func (s *Session) windowedPendingLocked() int {
	n := 0
	for _, c := range s.pending {
		if c.windowed {
			n++
		}
	}
	return n
}

// tickLoop expires requests, keeps the link alive and detects a dead one.
func (s *Session) tickLoop() {
	period := min(s.cfg.ResponseTimeout, s.cfg.EnquireLinkInterval, s.cfg.DeadLinkTimeout) / 4
	period = max(period, 10*time.Millisecond)
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-s.done:
			return
		case now := <-t.C:
			s.tick(now)
		}
	}
}

func (s *Session) tick(now time.Time) {
	var expired []call
	heldByTimedOut := 0
	var newestHeld time.Time
	s.mu.Lock()
	for seq, c := range s.pending {
		if !c.timedOut && c.id != pdu.EnquireLink && c.id != pdu.Unbind && now.Sub(c.sentAt) >= s.cfg.ResponseTimeout {
			// It keeps its window slot until a response or the end of the bind:
			// the SMSC may still be working on it.
			c.timedOut = true
			s.pending[seq] = c
			expired = append(expired, c)
		}
		if c.timedOut && c.windowed {
			heldByTimedOut++
			if c.sentAt.After(newestHeld) {
				newestHeld = c.sentAt
			}
		}
	}
	// An SMSC that drops some submits without a word would otherwise fill
	// the window with them one by one, and the bind would send nothing
	// more while its enquire_links are still answered. A new bind starts
	// with an empty window.
	stuck := heldByTimedOut >= s.cfg.Window && now.Sub(newestHeld) >= s.cfg.WindowStuckAfter
	dead := !s.enqAt.IsZero() && now.Sub(s.enqAt) >= s.cfg.DeadLinkTimeout
	idle := now.Sub(time.Unix(0, s.lastRead.Load())) >= s.cfg.EnquireLinkInterval
	sendEnq := !dead && idle && s.enqAt.IsZero() && !s.closing
	if sendEnq {
		s.enqAt = now
	}
	s.mu.Unlock()
	for _, c := range expired {
		s.stats.timeouts.Add(1)
		c.done.handleResult(Result{Err: ErrResponseTimeout, Latency: now.Sub(c.sentAt)})
	}
	if dead {
		s.log.Warn("enquire_link unanswered, dropping the bind", "system_id", s.cfg.SystemID)
		s.end(ErrDeadLink)
		return
	}
	if stuck {
		s.log.Warn("every window slot held by an unanswered request, dropping the bind", "system_id", s.cfg.SystemID, "window", s.cfg.Window)
		s.end(ErrWindowStuck)
		return
	}
	if sendEnq {
		err := s.start(&pdu.PDU{Header: pdu.Header{ID: pdu.EnquireLink}}, false, resultFunc(func(Result) {}))
		if err != nil {
			s.mu.Lock()
			s.enqAt = time.Time{}
			s.mu.Unlock()
		}
	}
}

// fail ends the session after an I/O error, unless an unbind was already
// answered either way: the peer hanging up after it is how a bind ends.
func (s *Session) fail(err error) {
	s.mu.Lock()
	if s.unbound != nil {
		err = s.unbound
	}
	s.mu.Unlock()
	s.end(err)
}

// end closes the session once; requests still pending end as outcome
// unknown, since the SMSC may have taken them.
func (s *Session) end(why error) {
	s.endOnce.Do(func() {
		s.mu.Lock()
		s.err = why
		s.closing = true
		pending := s.pending
		s.pending = map[uint32]call{}
		if s.drained != nil {
			close(s.drained)
			s.drained = nil
		}
		s.mu.Unlock()
		close(s.done)
		s.conn.Close()
		for _, c := range pending {
			if c.windowed {
				<-s.slots // the bind is gone: nothing is outstanding on it any more
			}
			if !c.timedOut && c.id != pdu.EnquireLink && c.id != pdu.Unbind {
				c.done.handleResult(Result{Err: ErrBindLost, Latency: time.Since(c.sentAt)})
			}
		}
	})
}

// Close ends the session gracefully: no new requests, wait (bounded by ctx)
// for outstanding ones, unbind, close. Requests still outstanding when ctx
// ends are reported as outcome unknown.
func (s *Session) Close(ctx context.Context) error {
	s.mu.Lock()
	if s.err != nil {
		s.mu.Unlock()
		s.wg.Wait()
		return nil
	}
	s.closing = true
	var drained chan struct{}
	if s.windowedPendingLocked() > 0 {
		drained = make(chan struct{})
		s.drained = drained
	}
	s.mu.Unlock()
	if drained != nil {
		select {
		case <-drained:
		case <-ctx.Done():
		case <-s.done:
		}
	}
	unbound := make(chan struct{})
	s.mu.Lock()
	if s.err == nil {
		seq := s.nextSeqLocked()
		s.pending[seq] = call{id: pdu.Unbind, sentAt: time.Now(), done: resultFunc(func(Result) { close(unbound) })}
		s.mu.Unlock()
		s.writeHeader(pdu.Unbind, pdu.StatusOK, seq)
		t := time.NewTimer(s.cfg.ResponseTimeout)
		select {
		case <-unbound:
		case <-ctx.Done():
		case <-s.done:
		case <-t.C:
		}
		t.Stop()
	} else {
		s.mu.Unlock()
	}
	s.end(ErrClosed)
	s.wg.Wait()
	return nil
}
