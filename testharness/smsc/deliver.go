package smsc

import (
	"slices"
	"time"

	"smppbridge/smpp/pdu"
)

// delivery is a deliver_sm or data_sm the SMSC owes an ESME: a receipt or an
// MO message. Like a real SMSC it keeps it until the ESME acknowledges it,
// resending after an error answer, a timeout or a lost bind.
type delivery struct {
	systemID string // "" for MO to whichever account is bound
	receipt  bool
	msgID    string
	p        pdu.PDU // owns all its slices
	prefer   *session
	avoid    *session
	order    uint64 // FIFO position, kept across resends
	attempts int
	gate     *gate
	tlvs     [4]pdu.TLV // room for a receipt's TLVs in the same allocation
	buf      []byte     // a receipt's text and TLV values, reused with the delivery
}

// maxFreeReceipts bounds the receipts kept for reuse: enough for a few
// deliver windows in flight, little memory when idle.
const maxFreeReceipts = 1024

// newReceiptLocked returns a cleared receipt delivery, reusing one the ESME
// has acknowledged: at tens of thousands of receipts a second the struct
// and its buffer were two of the simulator's largest allocations.
func (s *Server) newReceiptLocked() *delivery {
	n := len(s.freeReceipts)
	if n == 0 {
		return &delivery{receipt: true}
	}
	d := s.freeReceipts[n-1]
	s.freeReceipts[n-1] = nil
	s.freeReceipts = s.freeReceipts[:n-1]
	buf := d.buf
	*d = delivery{receipt: true, buf: buf[:0]}
	return d
}

// releaseReceiptLocked takes back a receipt nothing refers to any more: it
// has been acknowledged, so it is in no queue and no pending map, and its
// PDU was encoded when it was sent.
func (s *Server) releaseReceiptLocked(d *delivery) {
	if !d.receipt || len(s.freeReceipts) >= maxFreeReceipts {
		return
	}
	s.freeReceipts = append(s.freeReceipts, d)
}

// gate holds a submit_sm_resp until the receipts sent before it are answered
// (receipts.before_resp), or 5 s have passed.
type gate struct {
	n        int
	release  func()
	released bool
	armed    bool
}

// arm sets what happens when the gate opens. Callers hold s.mu.
func (g *gate) arm(fn func()) {
	g.release, g.armed = fn, true
	if g.n <= 0 {
		g.open()
	}
}

func (g *gate) done() {
	g.n--
	if g.n <= 0 && g.armed {
		g.open()
	}
}

func (g *gate) open() {
	if !g.released && g.release != nil {
		g.released = true
		g.release()
	}
}

func (s *Server) enqueueLocked(d *delivery) {
	if d.order == 0 {
		s.deliverySeq++
		d.order = s.deliverySeq
	}
	if d.gate != nil {
		g := d.gate
		s.sched.after(5*time.Second, func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			g.n = 0
			if g.armed {
				g.open()
			}
		})
	}
	a := s.account(d.systemID)
	a.queue = append(a.queue, d)
	s.total.QueuedDeliver++
	s.dispatchLocked(d.systemID)
}

func sortDeliveries(ds []*delivery) {
	slices.SortFunc(ds, func(a, b *delivery) int {
		switch {
		case a.order < b.order:
			return -1
		case a.order > b.order:
			return 1
		}
		return 0
	})
}

// requeueLocked puts deliveries that lost their bind or timed out waiting
// for an answer back into their accounts' queues in FIFO order, counts them
// as queued again, and dispatches.
func (s *Server) requeueLocked(back []*delivery) {
	if len(back) == 0 || s.closed {
		return
	}
	touched := map[string]*accountState{}
	for _, d := range back {
		a := s.account(d.systemID)
		a.queue = append(a.queue, d)
		touched[d.systemID] = a
	}
	for _, a := range touched {
		sortDeliveries(a.queue)
	}
	s.total.QueuedDeliver += int64(len(back))
	s.dispatchAllLocked()
}

func (s *Server) dispatchAllLocked() {
	for id := range s.acct {
		s.dispatchLocked(id)
	}
}

// dispatchLocked sends queued deliveries of an account, in order, while some
// receiver bind has a free slot in its deliver window.
func (s *Server) dispatchLocked(systemID string) {
	a := s.acct[systemID]
	if a == nil {
		return
	}
	now := time.Now()
	sent := 0
	for sent < len(a.queue) {
		d := a.queue[sent]
		ss := s.pickSessionLocked(d)
		if ss == nil {
			break
		}
		a.queue[sent] = nil
		sent++
		s.total.QueuedDeliver--
		d.p.Seq = 0
		seq := ss.request(&d.p)
		ss.pending[seq] = outRequest{id: d.p.ID, d: d, sentAt: now}
		d.attempts++
		acct := s.account(ss.systemID)
		if d.receipt {
			s.total.ReceiptsSent++
			acct.counters.ReceiptsSent++
		} else {
			s.total.MOSent++
			acct.counters.MOSent++
		}
	}
	switch {
	case sent < len(a.queue):
		a.queue = a.queue[sent:]
	case cap(a.queue) > 1024:
		a.queue = nil // let a large backing array go
	default:
		a.queue = a.queue[:0] // reused: no allocation per receipt
	}
	s.notifyLocked()
}

// pickSessionLocked chooses the bind for a delivery: the preferred one when
// it can take it, else the least loaded receiver of the account, avoiding
// d.avoid when another exists.
func (s *Server) pickSessionLocked(d *delivery) *session {
	limit := s.beh.DeliverWindow
	ok := func(ss *session) bool {
		return ss.canReceive() && !ss.closing && ss.unbindSent.IsZero() && len(ss.pending) < limit &&
			(d.systemID == "" || ss.systemID == d.systemID)
	}
	if d.prefer != nil && ok(d.prefer) {
		if _, alive := s.sessions[d.prefer]; alive {
			return d.prefer
		}
	}
	var best, fallback *session
	for ss := range s.sessions {
		if !ok(ss) {
			continue
		}
		if ss == d.avoid {
			fallback = ss
			continue
		}
		if best == nil || len(ss.pending) < len(best.pending) || (len(ss.pending) == len(best.pending) && ss.id < best.id) {
			best = ss
		}
	}
	if best == nil {
		return fallback
	}
	return best
}

// deliveryAnswered handles the ESME's answer to a deliver_sm or data_sm.
func (s *Server) deliveryAnswered(ss *session, d *delivery, failed bool) {
	acct := s.account(ss.systemID)
	switch {
	case d.receipt && !failed:
		s.total.ReceiptsAcked++
		acct.counters.ReceiptsAcked++
	case d.receipt:
		s.total.ReceiptsNacked++
		acct.counters.ReceiptsNacked++
	case !failed:
		s.total.MOAcked++
		acct.counters.MOAcked++
	default:
		s.total.MONacked++
		acct.counters.MONacked++
	}
	if d.gate != nil {
		d.gate.done()
		d.gate = nil
	}
	if failed {
		epoch := s.epoch
		s.sched.after(s.beh.DeliverRetry.D(), func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			if s.closed || s.epoch != epoch { // Reset forgot it meanwhile
				return
			}
			a := s.account(d.systemID)
			a.queue = append(a.queue, d)
			sortDeliveries(a.queue)
			s.total.QueuedDeliver++
			s.dispatchLocked(d.systemID)
		})
	}
	s.dispatchLocked(ss.systemID)
	if d.systemID != ss.systemID {
		s.dispatchLocked(d.systemID)
	}
	if !failed {
		s.releaseReceiptLocked(d)
	}
}
