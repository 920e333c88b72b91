package bridge

import (
	"context"
	"errors"
	"math"
	"strings"
	"sync"
	"time"

	"smppbridge/dlrmap"
	"smppbridge/smpp"
	"smppbridge/smpp/pdu"
	"smppbridge/store"
)

const (
	codeNoRoute = dlrmap.CodeNoRoute
	codeExpired = dlrmap.CodeExpired
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
	name     string
	capacity int
	workers  int

	mu       sync.Mutex
	cond     *sync.Cond
	high     []*store.QueueItem
	normal   []*store.QueueItem
	segments int
	closed   bool
}

func newCarrierQueue(c Carrier) *carrierQueue {
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
	workers := c.Workers
	if workers <= 0 {
		workers = 64
	}
	q := &carrierQueue{Carrier: c, name: c.Name, capacity: capacity, workers: workers}
	q.cond = sync.NewCond(&q.mu)
	return q
}

// reserve takes room for n segments, all or nothing.
func (q *carrierQueue) reserve(n int) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.segments+n > q.capacity {
		return false
	}
	q.segments += n
	return true
}

func (q *carrierQueue) release(n int) {
	q.mu.Lock()
	q.segments -= n
	q.mu.Unlock()
}

func (q *carrierQueue) push(it *store.QueueItem) {
	q.mu.Lock()
	if it.High {
		q.high = append(q.high, it)
	} else {
		q.normal = append(q.normal, it)
	}
	q.mu.Unlock()
	q.cond.Signal()
}

// pop waits for the next message; nil once the queue is closed.
func (q *carrierQueue) pop() *store.QueueItem {
	q.mu.Lock()
	defer q.mu.Unlock()
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

func (q *carrierQueue) close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	q.cond.Broadcast()
}

func (b *Bridge) sendLoop(q *carrierQueue) {
	for {
		it := q.pop()
		if it == nil {
			return
		}
		b.send(q, it)
		q.release(it.Segments)
	}
}

// send hands one message copy to the carrier and records the outcome. A
// copy that could not be sent because we are stopping stays in the store.
func (b *Bridge) send(q *carrierQueue, it *store.QueueItem) {
	if !it.Expiration.IsZero() && !b.now().Before(it.Expiration) {
		b.fail(it, codeExpired)
		return
	}
	msg := &smpp.Message{From: it.From, To: it.Dest(), Text: it.Text, RegisteredDelivery: q.RegisteredDelivery}
	ctx := b.runCtx
	if !it.Expiration.IsZero() {
		// A sender can wait long for a bind, the throttle or a window slot
		// with the copy: it must not go out once it has expired.
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadlineCause(b.runCtx, time.Now().Add(it.Expiration.Sub(b.now())), errExpired)
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
		if errors.Is(err, smpp.ErrNotSent) {
			return // closing: it stays queued in the store
		}
		code := 4303 // malformed-invalid-to-number
		if strings.HasPrefix(err.Error(), "from") {
			code = 4302
		}
		b.log.Warn("message cannot be encoded for the carrier", "carrier", q.name, "msg_id", it.MessageID, "err", err)
		b.fail(it, code)
		return
	}
	rec := b.record(it, q.name)
	rec.SentAt = b.now()
	rec.Status = "SENT"
	rec.CarrierIDs = make([]string, len(res.Parts))
	for i, p := range res.Parts {
		switch {
		case p.Err != nil && errors.Is(p.Err, smpp.ErrNotSent):
			if b.runCtx.Err() != nil {
				return // stopping: leave the whole copy queued; sent parts may repeat
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
	b.complete(store.Completion{Seq: it.Seq, Record: rec})
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
	b.completions <- c
}

// completeLoop writes outcomes in large groups: a sender does not wait for
// the disk, and one commit carries many outcomes. If the process dies
// before an outcome is written, the copy is still queued and is sent again
// after the restart — a duplicate rather than a loss.
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
		if err := b.store.Complete(batch); err != nil {
			b.log.Error("cannot record message outcomes; they stay queued and are sent again after a restart", "count", len(batch), "err", err)
		}
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
