package smsc

import (
	"bufio"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"smppbridge/smpp/pdu"
)

// session is one ESME connection. The read loop owns decoding and answers
// inline; a writer goroutine flushes everything queued since its last write
// in one syscall, which is what lets one bind carry tens of thousands of
// PDUs a second.
type session struct {
	srv    *Server
	conn   net.Conn
	id     int
	remote string
	tls    bool

	// Guarded by srv.mu.
	systemID   string
	bindType   pdu.CommandID // 0 until bound
	inflight   int           // ESME requests not yet answered
	pending    map[uint32]outRequest
	unbindSent time.Time
	lastEnq    time.Time
	closing    bool

	// Read loop only.
	pdusIn        int
	finishScratch []*partState // submitResult.finish of the submit being handled
	idScratch     []byte       // the message id of the submit_sm_resp being encoded
	keyScratch    []byte       // the key of a long message's part being looked up

	outMu      sync.Mutex
	out        []byte
	seq        uint32
	closeAfter bool // close once what is queued has been written
	spare      []byte
	signal     chan struct{}
	// While the read loop answers PDUs it has already read, wake-ups of
	// the writer wait (kickHeld) until it has answered them all: one
	// write then carries every response and the receipts that follow.
	holdKick atomic.Bool
	kickHeld atomic.Bool

	done      chan struct{}
	closeOnce sync.Once
}

// outRequest is a request the SMSC sent and awaits the answer to.
type outRequest struct {
	id     pdu.CommandID
	d      *delivery // nil for enquire_link and unbind
	sentAt time.Time
}

// canReceive reports whether deliver_sm may be sent on the bind.
func (ss *session) canReceive() bool {
	return ss.bindType == pdu.BindReceiver || ss.bindType == pdu.BindTransceiver
}

func (ss *session) canTransmit() bool {
	return ss.bindType == pdu.BindTransmitter || ss.bindType == pdu.BindTransceiver
}

func (s *Server) startSession(c net.Conn) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		c.Close()
		return
	}
	s.nextSession++
	ss := &session{
		srv: s, conn: c, id: s.nextSession, remote: c.RemoteAddr().String(),
		pending: map[uint32]outRequest{},
		signal:  make(chan struct{}, 1),
		done:    make(chan struct{}),
		lastEnq: time.Now(),
	}
	_, ss.tls = c.(tlsConn)
	s.sessions[ss] = struct{}{}
	s.mu.Unlock()
	s.wg.Add(3)
	go func() { defer s.wg.Done(); ss.readLoop() }()
	go func() { defer s.wg.Done(); ss.writeLoop() }()
	go func() { defer s.wg.Done(); ss.tickLoop() }()
}

type tlsConn interface {
	net.Conn
	Handshake() error
}

func (ss *session) readLoop() {
	defer ss.close()
	s := ss.srv
	r := bufio.NewReaderSize(ss.conn, 64*1024)
	defer ss.releaseKick()
	var buf []byte
	var p pdu.PDU
	for {
		if !frameBuffered(r) {
			ss.releaseKick() // about to wait for the peer: write what is queued
		}
		frame, err := pdu.ReadFrame(r, buf, s.cfg.MaxPDULength)
		ss.holdKick.Store(true)
		if err != nil {
			ss.releaseKick()
			var le *pdu.LengthError
			if errors.As(err, &le) {
				// The stream cannot be framed any more: say why, then hang up.
				s.log.Warn("bad command_length, closing", "session", ss.id, "length", le.Length)
				// Counted before writing, so Stats agree with what the ESME saw.
				s.mu.Lock()
				s.count(ss.systemID, func(c *Counters) { c.GenericNacks++ })
				s.mu.Unlock()
				ss.writeFlushClose(pdu.AppendHeaderOnly(nil, pdu.GenericNack, pdu.StatusInvCmdLen, le.Seq))
				// Let the writer flush the nack and close; returning now
				// would run close() first and the nack would be lost.
				<-ss.done
			} else if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				s.log.Debug("read failed", "session", ss.id, "err", err)
			}
			return
		}
		buf = frame
		ss.pdusIn++
		drop, st := ss.injectDrop()
		if drop {
			return
		}
		if err := pdu.Decode(frame, &p); err != nil {
			ss.badPDU(&p, err)
			continue
		}
		ss.handle(&p, st)
	}
}

// bindState is what handle needs to know of the bind.
type bindState struct{ bound, transmitter bool }

// injectDrop applies the drop_after_pdus and drop_rate faults. Under the
// same lock it reads the bind's state for handle: one lock per PDU less.
func (ss *session) injectDrop() (bool, bindState) {
	s := ss.srv
	s.mu.Lock()
	b := &s.beh
	drop := (b.DropAfterPDUs > 0 && ss.pdusIn > b.DropAfterPDUs) || (b.DropRate > 0 && s.randFloat() < b.DropRate)
	if drop {
		s.count(ss.systemID, func(c *Counters) { c.Drops++ })
	}
	st := bindState{bound: ss.bindType != 0, transmitter: ss.canTransmit()}
	s.mu.Unlock()
	if drop {
		s.log.Info("dropping connection (fault injection)", "session", ss.id, "system_id", ss.systemID, "pdus_in", ss.pdusIn)
	}
	return drop, st
}

// badPDU answers a frame that could not be decoded: generic_nack for an
// unknown command or a body that does not fit its length.
func (ss *session) badPDU(p *pdu.PDU, err error) {
	s := ss.srv
	s.pdusIn.Add(1)
	status := pdu.StatusInvCmdLen
	if errors.Is(err, pdu.ErrUnknownCommand) {
		status = pdu.StatusInvCmdID
	}
	s.log.Debug("undecodable PDU", "session", ss.id, "err", err)
	if p.ID.IsResponse() && p.ID.Known() {
		return // never answer a response; the matching request will time out
	}
	s.mu.Lock()
	s.count(ss.systemID, func(c *Counters) { c.GenericNacks++ })
	s.mu.Unlock()
	ss.writeHeader(pdu.GenericNack, status, p.Seq)
}

func (ss *session) handle(p *pdu.PDU, st bindState) {
	s := ss.srv
	s.pdusIn.Add(1)
	bound, transmitter := st.bound, st.transmitter
	switch p.ID {
	case pdu.BindTransmitter, pdu.BindReceiver, pdu.BindTransceiver:
		ss.handleBind(p)
		return
	case pdu.EnquireLink:
		// Counters move before the answer, so Stats agree with what the ESME saw.
		s.mu.Lock()
		s.count(ss.systemID, func(c *Counters) { c.EnquireLinksIn++ })
		s.mu.Unlock()
		ss.writeHeader(pdu.EnquireLinkResp, pdu.StatusOK, p.Seq)
		return
	case pdu.Unbind:
		s.mu.Lock()
		s.count(ss.systemID, func(c *Counters) { c.Unbinds++ })
		s.mu.Unlock()
		ss.writeFlushClose(pdu.AppendHeaderOnly(nil, pdu.UnbindResp, pdu.StatusOK, p.Seq))
		return
	case pdu.GenericNack:
		ss.handleResp(p)
		return
	}
	if p.ID.IsResponse() {
		ss.handleResp(p)
		return
	}
	if !bound {
		ss.writeHeader(p.ID.Resp(), pdu.StatusInvBndSts, p.Seq)
		return
	}
	switch p.ID {
	case pdu.SubmitSM, pdu.DataSM, pdu.SubmitMulti:
		if !transmitter {
			ss.writeHeader(p.ID.Resp(), pdu.StatusInvBndSts, p.Seq)
			return
		}
		ss.handleSubmit(p)
	case pdu.QuerySM:
		ss.handleQuery(p)
	case pdu.CancelSM:
		ss.handleCancel(p)
	case pdu.ReplaceSM:
		ss.handleReplace(p)
	default:
		// outbind, alert_notification, deliver_sm: not something an ESME sends an SMSC.
		s.mu.Lock()
		s.count(ss.systemID, func(c *Counters) { c.GenericNacks++ })
		s.mu.Unlock()
		ss.writeHeader(pdu.GenericNack, pdu.StatusInvCmdID, p.Seq)
	}
}

func (ss *session) handleBind(p *pdu.PDU) {
	s := ss.srv
	systemID, password := string(p.SystemID), p.Password
	status := pdu.StatusOK
	s.mu.Lock()
	acct, known := s.accounts[systemID]
	binds := 0
	for o := range s.sessions {
		if o.bindType != 0 && o.systemID == systemID {
			binds++
		}
	}
	switch {
	case ss.bindType != 0:
		status = pdu.StatusAlyBnd
	case s.beh.RefuseBinds || time.Now().Before(s.refuseUntil), s.beh.RefuseReceivers && p.ID == pdu.BindReceiver:
		status = pdu.Status(s.beh.BindRefuseStatus)
	case len(s.accounts) > 0 && !known:
		status = pdu.StatusInvSysID
	case len(s.accounts) > 0 && subtle.ConstantTimeCompare([]byte(acct.Password), password) != 1:
		status = pdu.StatusInvPaswd
	case acct.MaxBinds > 0 && binds >= acct.MaxBinds:
		status = pdu.StatusBindFail
	}
	if status == pdu.StatusOK {
		ss.systemID, ss.bindType = systemID, p.ID
		s.count(systemID, func(c *Counters) { c.Binds++; c.BindsActive++ })
	} else if status != pdu.StatusAlyBnd {
		s.count(systemID, func(c *Counters) { c.BindsRefused++ })
	}
	resp := pdu.PDU{Header: pdu.Header{ID: p.ID.Resp(), Status: status, Seq: p.Seq}, SystemID: []byte(s.cfg.SystemID)}
	if status == pdu.StatusOK {
		resp.TLVs = []pdu.TLV{{Tag: pdu.TagSCInterfaceVersion, Value: []byte{0x34}}}
	}
	ss.writePDU(&resp)
	if status == pdu.StatusOK {
		s.dispatchAllLocked() // its own queue and MO addressed to any account
	}
	s.mu.Unlock()
	if status == pdu.StatusOK {
		s.log.Info("bound", "session", ss.id, "system_id", systemID, "type", p.ID.String(), "remote", ss.remote)
	} else {
		s.log.Info("bind refused", "session", ss.id, "system_id", systemID, "status", status.String())
	}
}

// handleResp matches an answer to one of our requests by command class and
// sequence number, never by sequence alone.
func (ss *session) handleResp(p *pdu.PDU) {
	s := ss.srv
	s.mu.Lock()
	defer s.mu.Unlock()
	req, ok := ss.pending[p.Seq]
	if !ok || (p.ID != pdu.GenericNack && p.ID.Request() != req.id) {
		s.log.Debug("unexpected response", "session", ss.id, "command", p.ID.String(), "seq", p.Seq)
		return
	}
	delete(ss.pending, p.Seq)
	switch req.id {
	case pdu.Unbind:
		ss.closing = true
		go ss.close()
	case pdu.DeliverSM, pdu.DataSM:
		s.deliveryAnswered(ss, req.d, p.ID == pdu.GenericNack || p.Status != pdu.StatusOK)
	}
}

// tickLoop sends SMSC-originated enquire_links, resends deliveries whose
// answer is overdue and ends binds whose unbind went unanswered.
func (ss *session) tickLoop() {
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ss.done:
			return
		case now := <-t.C:
			ss.tick(now)
		}
	}
}

func (ss *session) tick(now time.Time) {
	s := ss.srv
	s.mu.Lock()
	defer s.mu.Unlock()
	if ss.bindType == 0 {
		return
	}
	if !ss.unbindSent.IsZero() && now.Sub(ss.unbindSent) > 5*time.Second {
		go ss.close()
		return
	}
	if iv := s.beh.EnquireLinkInterval.D(); iv > 0 && now.Sub(ss.lastEnq) >= iv {
		ss.lastEnq = now
		seq := ss.request(&pdu.PDU{Header: pdu.Header{ID: pdu.EnquireLink}})
		ss.pending[seq] = outRequest{id: pdu.EnquireLink, sentAt: now}
		s.count(ss.systemID, func(c *Counters) { c.EnquireLinksOut++ })
	}
	timeout := s.beh.DeliverTimeout.D()
	var back []*delivery
	for seq, req := range ss.pending {
		if now.Sub(req.sentAt) < timeout {
			continue
		}
		delete(ss.pending, seq)
		if req.d != nil {
			back = append(back, req.d)
		}
	}
	s.requeueLocked(back) // in order, and counted as queued again
}

// write queues encoded PDUs for the writer goroutine.
func (ss *session) write(b []byte) {
	ss.outMu.Lock()
	ss.out = append(ss.out, b...)
	ss.outMu.Unlock()
	ss.kick()
	ss.srv.pdusOut.Add(1)
}

// writeHeader queues a body-less PDU, encoded in place.
func (ss *session) writeHeader(id pdu.CommandID, status pdu.Status, seq uint32) {
	ss.outMu.Lock()
	ss.out = pdu.AppendHeaderOnly(ss.out, id, status, seq)
	ss.outMu.Unlock()
	ss.kick()
	ss.srv.pdusOut.Add(1)
}

// writePDU queues a response, encoded in place.
func (ss *session) writePDU(p *pdu.PDU) {
	ss.outMu.Lock()
	var err error
	ss.out, err = pdu.Append(ss.out, p)
	ss.outMu.Unlock()
	if err != nil {
		ss.srv.log.Error("cannot encode response", "command", p.ID.String(), "err", err)
		return
	}
	ss.kick()
	ss.srv.pdusOut.Add(1)
}

func (ss *session) writeFlushClose(b []byte) {
	ss.outMu.Lock()
	ss.out = append(ss.out, b...)
	ss.closeAfter = true
	ss.outMu.Unlock()
	ss.kick()
}

func (ss *session) kick() {
	if ss.holdKick.Load() {
		ss.kickHeld.Store(true)
		if ss.holdKick.Load() {
			return // the read loop kicks once it has answered what it read
		}
	}
	select {
	case ss.signal <- struct{}{}:
	default:
	}
}

// releaseKick lets kicks through again and passes on one that was held.
func (ss *session) releaseKick() {
	ss.holdKick.Store(false)
	if ss.kickHeld.Swap(false) {
		ss.kick()
	}
}

// frameBuffered reports whether a whole PDU is already buffered, so that
// reading it cannot block.
func frameBuffered(r *bufio.Reader) bool {
	n := r.Buffered()
	if n < pdu.HeaderLen {
		return false
	}
	hdr, _ := r.Peek(4)
	return binary.BigEndian.Uint32(hdr) <= uint32(n)
}

// request encodes an SMSC-originated request with the session's own
// sequence number (independent of the ESME's) and queues it. Callers hold
// srv.mu and register the returned sequence in ss.pending.
func (ss *session) request(p *pdu.PDU) uint32 {
	ss.outMu.Lock()
	ss.seq = pdu.NextSeq(ss.seq)
	p.Seq = ss.seq
	var err error
	ss.out, err = pdu.Append(ss.out, p)
	ss.outMu.Unlock()
	if err != nil {
		ss.srv.log.Error("cannot encode request", "command", p.ID.String(), "err", err)
	}
	ss.kick()
	ss.srv.pdusOut.Add(1)
	return p.Seq
}

func (ss *session) writeLoop() {
	defer ss.close()
	for {
		select {
		case <-ss.signal:
		case <-ss.done:
			return
		}
		ss.outMu.Lock()
		data := ss.out
		ss.out = ss.spare[:0]
		closeAfter := ss.closeAfter
		ss.outMu.Unlock()
		if len(data) > 0 {
			if _, err := ss.conn.Write(data); err != nil {
				return
			}
		}
		ss.spare = data
		if closeAfter {
			return
		}
	}
}

// close ends the session once: deliveries it still owed an answer for go
// back to the front of their account's queue, for another bind or a rebind.
func (ss *session) close() {
	ss.closeOnce.Do(func() {
		close(ss.done)
		ss.conn.Close()
		s := ss.srv
		s.mu.Lock()
		delete(s.sessions, ss)
		if ss.bindType != 0 {
			s.count(ss.systemID, func(c *Counters) { c.BindsActive-- })
			s.log.Info("unbound", "session", ss.id, "system_id", ss.systemID)
		}
		ss.bindType = 0
		ss.requeuePendingLocked()
		s.notifyLocked()
		s.mu.Unlock()
	})
}

func (ss *session) requeuePendingLocked() {
	s := ss.srv
	var back []*delivery
	for seq, req := range ss.pending {
		delete(ss.pending, seq)
		if req.d != nil {
			back = append(back, req.d)
		}
	}
	s.requeueLocked(back) // counted as queued again, or QueuedDeliver drifts
}

func (ss *session) forgetDeliveries() {
	for seq, req := range ss.pending {
		if req.d != nil {
			delete(ss.pending, seq)
		}
	}
}
