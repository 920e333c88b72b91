package bridge

import (
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"smppbridge/dlrmap"
	"smppbridge/smpp"
	"smppbridge/smpp/pdu"
	"smppbridge/store"
)

// A submit_sm_resp that comes after the carrier's response_timeout used to
// be dropped: the part stayed outcome unknown, its receipt matched nothing
// and the copy ended 5630 although the carrier had taken it. The pool now
// hands such a response back (smpp.PoolConfig.OnLateResult, or inside the
// Submit result while the message's other parts are still out) and the
// bridge records it on the copy (ReceiptStore.ApplyLateSubmit): the id is
// indexed and receipts kept for it are applied, or a refusal fails the
// copy. A copy that already ended stays as it is: one callback, never two.

// lateOutcomeWait bounds how long a late response waits for its copy's
// outcome to be written (it can come before completeLoop's commit). Past
// it, or at shutdown, it is dropped: the copy ends as before, 5630.
const lateOutcomeWait = 30 * time.Second

// LateResponseStats counts, per carrier, submit responses that came after
// the response timeout.
type LateResponseStats struct {
	// Applied: the part's carrier id (or refusal) was recorded, in the
	// Submit result still pending or on the written copy.
	Applied int64
	// TooLate: the copy had already ended (or its outcome could not be
	// waited for); nothing changed.
	TooLate int64
}

// lateCounters are the bridge's LateResponseStats, kept across reloads.
type lateCounters struct {
	mu sync.Mutex
	by map[string]*lateCounter
}

type lateCounter struct{ applied, tooLate atomic.Int64 }

func (l *lateCounters) get(carrier string) *lateCounter {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.by == nil {
		l.by = map[string]*lateCounter{}
	}
	c := l.by[carrier]
	if c == nil {
		c = &lateCounter{}
		l.by[carrier] = c
	}
	return c
}

// LateResponses returns the counters of late responses the bridge handled
// after Submit returned, per carrier. Those the pool folded into a pending
// Submit result are its own (smpp.PoolStats.LateFolded).
func (b *Bridge) LateResponses() map[string]LateResponseStats {
	b.late.mu.Lock()
	defer b.late.mu.Unlock()
	out := make(map[string]LateResponseStats, len(b.late.by))
	for name, c := range b.late.by {
		out[name] = LateResponseStats{Applied: c.applied.Load(), TooLate: c.tooLate.Load()}
	}
	return out
}

// LateResultHandler returns smpp.PoolConfig.OnLateResult for a carrier's
// pool. It returns at once: the write happens on a goroutine of its own
// (late responses are rare), which WaitInbound waits for.
func (b *Bridge) LateResultHandler(carrier string) func(smpp.LateResult) {
	return func(r smpp.LateResult) {
		it, ok := r.Ref.(*store.QueueItem)
		// Accepted without an id, it tells nothing a receipt could use.
		if !ok || b.receipts == nil || (r.Result.Status == pdu.StatusOK && r.Result.MessageID == "") {
			b.late.get(carrier).tooLate.Add(1)
			b.log.Warn("late submit response not recorded", "carrier", carrier, "carrier_msg_id", r.Result.MessageID, "status", r.Result.Status.String())
			return
		}
		l := store.LateSubmit{Carrier: carrier, MessageID: it.MessageID, Recipient: it.Recipient, Part: r.Part, At: b.now()}
		if r.Result.Status == pdu.StatusOK {
			l.CarrierID = r.Result.MessageID
		} else {
			l.Code, _ = dlrmap.SubmitStatus(uint32(r.Result.Status))
		}
		b.inWG.Add(1)
		go func() {
			defer b.inWG.Done()
			b.applyLate(l, it.RequestID, r.Result.Latency)
		}()
	}
}

// applyLate writes a late response once its copy's outcome is written,
// waiting for completeLoop's commits (bounded by lateOutcomeWait).
func (b *Bridge) applyLate(l store.LateSubmit, requestID string, latency time.Duration) {
	counter := b.late.get(l.Carrier)
	deadline := time.Now().Add(lateOutcomeWait)
	// Since Go 1.23 Reset leaves no stale value in the channel.
	poll := time.NewTimer(lateOutcomeWait)
	defer poll.Stop()
	failed := false
wait:
	for pass := 0; pass < 10000 && time.Now().Before(deadline); pass++ {
		b.outcomes.mu.Lock()
		committed := b.outcomes.committed // taken before the write: a commit after it wakes us
		b.outcomes.mu.Unlock()
		res, err := b.receipts.ApplyLateSubmit(l)
		switch {
		case errors.Is(err, store.ErrClosed):
			break wait
		case err != nil:
			if !failed { // once: it is retried every pass
				b.log.Error("cannot record a late submit response; retrying", "carrier", l.Carrier, "msg_id", l.MessageID, "err", err)
			}
			failed = true
		case res.Applied:
			counter.applied.Add(1)
			b.log.Info("late submit response recorded", "carrier", l.Carrier, "msg_id", l.MessageID, "request_id", requestID,
				"part", l.Part, "carrier_msg_id", l.CarrierID, "code", l.Code, "latency", latency, "status", res.Record.Status)
			return
		case !res.NotYet:
			counter.tooLate.Add(1)
			b.log.Warn("late submit response for a message that already ended; ignored", "carrier", l.Carrier, "msg_id", l.MessageID,
				"request_id", requestID, "part", l.Part, "carrier_msg_id", l.CarrierID, "code", l.Code, "latency", latency, "status", res.Record.Status)
			return
		}
		// The outcome is still on its way to the store (or the write
		// failed): again after the next outcome commit, or a while.
		poll.Reset(250 * time.Millisecond)
		select {
		case <-committed:
		case <-poll.C:
		case <-b.runCtx.Done():
			break wait // stopping: the copy stays as it is (5630 later)
		}
	}
	counter.tooLate.Add(1)
	b.log.Warn("late submit response dropped: its message's outcome was not recorded in time", "carrier", l.Carrier, "msg_id", l.MessageID,
		"request_id", requestID, "part", l.Part, "carrier_msg_id", l.CarrierID)
}
