package bridge

import (
	"cmp"
	"context"
	"errors"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"smppbridge/dlrmap"
	"smppbridge/smpp"
	"smppbridge/smpp/pdu"
	"smppbridge/store"
)

const (
	codeNoRoute      = dlrmap.CodeNoRoute
	codeRoutingError = dlrmap.CodeRoutingError
	codeExpired      = dlrmap.CodeExpired
	// transientResends is how often a submit answered 0x08/0x64 is sent
	// again before its code stands.
	transientResends = 2
)

// errExpired ends the wait of a copy whose expiration passed before the
// carrier took it.
var errExpired = errors.New("bridge: expiration passed before the message was sent")

// carrierQueue is one carrier's in-memory view of its durable queue: high
// priority first, then FIFO. It is measured in segments against capacity.
type carrierQueue struct {
	Carrier
	name    string
	workers int
	// ctx ends when the carrier is removed or the bridge stops: its
	// senders give up waiting for the pool and leave the message queued.
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup // its senders

	mu sync.Mutex
	// capacity, rate and queueSeconds change on reload (SetCarriers);
	// read them under mu, not from Carrier.
	capacity     int
	rate         float64
	queueSeconds int
	high         []*store.QueueItem
	cond         *sync.Cond
	normal       []*store.QueueItem
	segments     int
	closed       bool

	// lanes are per-class queues, only with Carrier.ClassRates (classrate.go);
	// classify gives a from number's class.
	lanes    map[string]*classLane
	classify func(from string) string
}

func newCarrierQueue(c Carrier) *carrierQueue {
	workers := c.Workers
	if workers <= 0 {
		workers = 64
	}
	if c.MOConcatTimeout <= 0 {
		c.MOConcatTimeout = DefaultMOConcatTimeout
	}
	q := &carrierQueue{Carrier: c, name: c.Name, workers: workers}
	q.cond = sync.NewCond(&q.mu)
	if len(c.ClassRates) > 0 {
		q.lanes = newClassLanes(c.ClassRates, time.Now())
		q.classify = func(string) string { return "" }
	}
	q.setLimits(c)
	return q
}

// setLimits applies the carrier's rate and queue size (at start and on
// reload).
func (q *carrierQueue) setLimits(c Carrier) {
	if c.QueueSeconds <= 0 {
		c.QueueSeconds = 900
	}
	capacity := c.QueueCapacity
	if capacity <= 0 {
		capacity = int(math.Ceil(c.SegmentsPerSecond * float64(c.QueueSeconds)))
	}
	if capacity <= 0 {
		capacity = 100000 // unlimited rate and no explicit capacity
	}
	q.mu.Lock()
	q.capacity, q.rate, q.queueSeconds = capacity, c.SegmentsPerSecond, c.QueueSeconds
	q.mu.Unlock()
}

// reserve takes room for n segments, all or nothing; when there is none
// it returns the error to answer.
func (q *carrierQueue) reserve(n int) *QueueFullError {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.segments+n > q.capacity {
		return &QueueFullError{Carrier: q.name, SegmentsPerSecond: q.rate, QueueSeconds: q.queueSeconds, Capacity: q.capacity}
	}
	q.segments += n
	return nil
}

func (q *carrierQueue) release(n int) {
	q.mu.Lock()
	q.segments -= n
	q.mu.Unlock()
}

// push queues a copy; false when the queue is closed (its carrier was
// replaced or removed by a reload, or the bridge is stopping).
func (q *carrierQueue) push(it *store.QueueItem) bool {
	lane := q.laneFor(it) // outside the lock: it reads the directory
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return false
	}
	q.appendLocked(it, lane)
	q.mu.Unlock()
	q.cond.Signal()
	return true
}

// laneFor is the class lane a copy waits in; nil without class rates.
func (q *carrierQueue) laneFor(it *store.QueueItem) *classLane {
	if q.lanes == nil {
		return nil
	}
	if lane := q.lanes[q.classify(it.From)]; lane != nil {
		return lane
	}
	return q.lanes[""]
}

func (q *carrierQueue) appendLocked(it *store.QueueItem, lane *classLane) {
	high, normal := &q.high, &q.normal
	if lane != nil {
		high, normal = &lane.high, &lane.normal
	}
	if it.High {
		*high = append(*high, it)
	} else {
		*normal = append(*normal, it)
	}
}

// takeAllLocked empties the queue, lanes included: high priority first,
// each in acceptance order (Seq).
func (q *carrierQueue) takeAllLocked() []*store.QueueItem {
	high, normal := q.high, q.normal
	for _, l := range q.lanes {
		high, normal = append(high, l.high...), append(normal, l.normal...)
		l.high, l.normal = nil, nil
	}
	bySeq := func(a, b *store.QueueItem) int { return cmp.Compare(a.Seq, b.Seq) }
	slices.SortStableFunc(high, bySeq)
	slices.SortStableFunc(normal, bySeq)
	q.high, q.normal, q.segments = nil, nil, 0
	return append(high, normal...)
}

// pop waits for the next message; nil once the queue is closed.
func (q *carrierQueue) pop() *store.QueueItem {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.lanes != nil {
		return q.popLanesLocked()
	}
	for len(q.high) == 0 && len(q.normal) == 0 && !q.closed {
		q.cond.Wait()
	}
	if q.closed {
		return nil
	}
	var it *store.QueueItem
	if len(q.high) > 0 {
		it, q.high[0] = q.high[0], nil
		q.high = q.high[1:]
	} else {
		it, q.normal[0] = q.normal[0], nil
		q.normal = q.normal[1:]
	}
	// Its segments still count against the queue until the carrier has
	// taken it: a worker waiting for a bind holds queued traffic too.
	return it
}

// putBack returns a copy its sender could not send because the carrier
// is closing; SetCarriers hands such copies on or fails them when the
// carrier was removed (at shutdown they simply stay in the store).
func (q *carrierQueue) putBack(it *store.QueueItem) {
	lane := q.laneFor(it)
	q.mu.Lock()
	q.segments += it.Segments // sendLoop releases them as for a sent one
	q.appendLocked(it, lane)
	q.mu.Unlock()
}

// queuedLocked counts the messages waiting in memory.
func (q *carrierQueue) queuedLocked() int {
	n := len(q.high) + len(q.normal)
	for _, l := range q.lanes {
		n += l.len()
	}
	return n
}

func (q *carrierQueue) close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	q.cond.Broadcast()
}

func (b *Bridge) sendLoop(q *carrierQueue) {
	msg := new(smpp.Message) // reused: the sender keeps nothing of it after Submit
	for {
		it := q.pop()
		if it == nil {
			return
		}
		b.send(q, it, msg)
		q.release(it.Segments)
	}
}

// send hands one message copy to the carrier and records the outcome. A
// copy that could not be sent because we are stopping stays in the store.
// msg is the sender's to fill.
func (b *Bridge) send(q *carrierQueue, it *store.QueueItem, msg *smpp.Message) {
	if !it.Expiration.IsZero() && !b.now().Before(it.Expiration) {
		b.fail(it, codeExpired)
		return
	}
	// Ref brings it back with a late response (late.go).
	*msg = smpp.Message{From: it.From, To: it.Dest(), Text: it.Text, RegisteredDelivery: q.RegisteredDelivery, Ref: it}
	ctx := q.ctx
	if !it.Expiration.IsZero() {
		// A sender can wait long for a bind, the throttle or a window slot
		// with the copy: it must not go out once it has expired.
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadlineCause(q.ctx, time.Now().Add(it.Expiration.Sub(b.now())), errExpired)
		defer cancel()
	}
	var res smpp.SubmitResult
	var err error
	for attempt := 0; ; attempt++ {
		res, err = q.Sender.Submit(ctx, msg)
		if err != nil || attempt == transientResends || !retryable(res) {
			break
		}
	}
	if err != nil {
		if errors.Is(err, smpp.ErrNotSent) || errors.Is(err, smpp.ErrClosed) {
			q.putBack(it) // closing or the carrier removed: it stays queued
			return
		}
		code := 4303 // malformed-invalid-to-number
		if strings.HasPrefix(err.Error(), "from") {
			code = 4302
		}
		b.log.Warn("message cannot be encoded for the carrier", "carrier", q.name, "msg_id", it.MessageID, "request_id", it.RequestID, "err", err)
		b.fail(it, code)
		return
	}
	b.sent(q, it, res)
}

// sent records the outcome of a copy the carrier answered for. Apart from
// send so that send's stack frame stays small: the senders' stacks are
// shrunk while they wait and grown again on every message otherwise.
func (b *Bridge) sent(q *carrierQueue, it *store.QueueItem, res smpp.SubmitResult) {
	rec := b.record(it, q.name)
	rec.SentAt = b.now()
	rec.Status = "SENT"
	rec.CarrierIDs = make([]string, len(res.Parts))
	for i, p := range res.Parts {
		switch {
		case p.Err != nil && errors.Is(p.Err, smpp.ErrNotSent):
			if q.ctx.Err() != nil {
				q.putBack(it) // stopping or removed: leave the whole copy queued; sent parts may repeat
				return
			}
			rec.Status, rec.ErrorCode = "FAILED", dlrmap.CodeSubmitFailed
			if errors.Is(p.Err, errExpired) {
				rec.ErrorCode = codeExpired
			}
		case p.Err != nil: // outcome unknown: a receipt may still tell
			rec.Unknown++
		case p.Status != pdu.StatusOK:
			code, _ := dlrmap.SubmitStatus(uint32(p.Status))
			if rec.ErrorCode == 0 {
				rec.Status, rec.ErrorCode = "FAILED", code
			}
		default:
			rec.CarrierIDs[i] = p.MessageID
		}
	}
	if rec.Status == "FAILED" {
		rec.DoneAt = rec.SentAt
	}
	b.complete(store.Completion{Seq: it.Seq, Record: rec, NoReceipt: q.RegisteredDelivery == 0})
}

// complete hands an outcome to completeLoop. After Close the outcome is
// dropped and the copy stays queued in the store: sent again after restart.
func (b *Bridge) complete(c store.Completion) {
	b.compMu.RLock()
	defer b.compMu.RUnlock()
	if b.drained {
		b.log.Warn("outcome after shutdown not recorded; the message stays queued", "msg_id", c.Record.MessageID)
		return
	}
	if len(c.Record.CarrierIDs) > 0 && b.receipts != nil {
		b.outcomes.add(&c) // its receipts can go with it (receipts.go)
	}
	b.completions <- c
}

// completeLoop writes outcomes in large groups: a sender does not wait for
// the disk, and one commit carries many outcomes. If the process dies
// before an outcome is written, the copy is still queued and is sent again
// after the restart — a duplicate rather than a loss. A failed write (disk
// full) is retried until it succeeds: dropping it would leave those copies
// without a record, so their receipts could not end in callbacks until a
// restart sent them again. Meanwhile the channel fills and senders wait,
// which is right while no outcome can be recorded.
func (b *Bridge) completeLoop() {
	defer close(b.completed)
	batch := make([]store.Completion, 0, 4096)
	for c := range b.completions {
		batch = append(batch[:0], c)
	drain:
		for len(batch) < cap(batch) {
			select {
			case c, ok := <-b.completions:
				if !ok {
					break drain
				}
				batch = append(batch, c)
			default:
				break drain
			}
		}
		b.outcomes.take(batch)
		ok := b.writeOutcomes(batch)
		b.outcomes.written(batch, ok)
	}
}

// writeOutcomes retries a failed outcome write with backoff (50 ms doubling
// to 5 s) until it succeeds, the store is closed, or the bridge stops (then
// the copies stay queued in the store and are sent again after a restart,
// and it returns false).
func (b *Bridge) writeOutcomes(batch []store.Completion) bool {
	delay := 50 * time.Millisecond
	for attempt := 1; ; attempt++ {
		err := b.store.Complete(batch)
		if err == nil {
			if attempt > 1 {
				b.log.Info("message outcomes recorded after failed attempts", "count", len(batch), "attempts", attempt)
			}
			return true
		}
		if errors.Is(err, store.ErrClosed) || b.runCtx.Err() != nil {
			b.log.Error("cannot record message outcomes; they stay queued and are sent again after a restart", "count", len(batch), "err", err)
			return false
		}
		if attempt == 1 {
			b.log.Error("cannot record message outcomes; retrying", "count", len(batch), "err", err)
		}
		select {
		case <-b.runCtx.Done():
		case <-time.After(delay):
		}
		delay = min(2*delay, 5*time.Second)
	}
}

// retryable: every part that failed did so transiently and none got through.
func retryable(res smpp.SubmitResult) bool {
	any := false
	for _, p := range res.Parts {
		if p.Err != nil {
			return false
		}
		if p.Status == pdu.StatusOK {
			return false
		}
		if _, retry := dlrmap.SubmitStatus(uint32(p.Status)); !retry {
			return false
		}
		any = true
	}
	return any
}

func (b *Bridge) record(it *store.QueueItem, carrier string) store.Record {
	r := store.NewRecord(it)
	r.Carrier = carrier
	return r
}

// fail records a copy that will never be sent.
func (b *Bridge) fail(it *store.QueueItem, code int) {
	rec := b.record(it, it.Carrier)
	rec.Status, rec.ErrorCode, rec.DoneAt = "FAILED", code, b.now()
	b.complete(store.Completion{Seq: it.Seq, Record: rec})
}
