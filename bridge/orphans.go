package bridge

import (
	"context"
	"time"
)

// Receipt expiry for carriers without a queue that runs it. A carrier
// removed by a reload, or no longer configured after a restart, still has
// copies that were sent and wait for a receipt: each must still end, with
// 9902 after the wait (issue 5). An orphan expiry runs expireLoop for such
// a carrier's name until the bridge closes or a reload brings the carrier
// back with a queue of its own (startQueue stops it: the queue's own wait
// takes over). A removed carrier has no binds, so no receipt can come for
// those copies: the wait only decides when they are reported failed.

// orphanExpiry is one running orphan expiry.
type orphanExpiry struct {
	cancel context.CancelFunc
	done   chan struct{}
}

// expires reports whether q runs its own receipt expiry (nil: no).
func (b *Bridge) expires(q *carrierQueue) bool {
	return q != nil && b.receipts != nil && q.RegisteredDelivery != 0 && q.ReceiptWait > 0
}

// adoptOrphans starts, at Start, an orphan expiry with
// RemovedCarrierReceiptWait for every carrier with copies or receipts
// waiting in the store that no configured queue expires. Caller holds
// carrierMu.
func (b *Bridge) adoptOrphans() {
	if b.receipts == nil {
		return
	}
	names, err := b.receipts.AwaitingCarriers()
	if err != nil {
		// Not fatal: the copies stay SENT until a start that can read them.
		b.log.Error("cannot list carriers with messages waiting for receipts", "err", err)
		return
	}
	set := b.set.Load()
	for _, name := range names {
		if b.expires(set.byName[name]) {
			continue
		}
		b.log.Warn("carrier not configured (or without receipt expiry) has messages waiting for receipts: they fail with 9902 after the removed-carrier wait",
			"carrier", name, "wait", b.opts.RemovedCarrierReceiptWait)
		b.startOrphan(name, b.opts.RemovedCarrierReceiptWait)
	}
}

// startOrphan runs the orphan expiry for carrier with wait, unless one
// runs already. Caller holds carrierMu.
func (b *Bridge) startOrphan(carrier string, wait time.Duration) {
	if b.receipts == nil || wait <= 0 || b.orphans[carrier] != nil {
		return
	}
	if b.orphans == nil {
		b.orphans = map[string]*orphanExpiry{}
	}
	ctx, cancel := context.WithCancel(b.runCtx)
	o := &orphanExpiry{cancel: cancel, done: make(chan struct{})}
	b.orphans[carrier] = o
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		defer close(o.done)
		b.expireLoop(ctx, carrier, wait, true)
	}()
}

// stopOrphan ends carrier's orphan expiry, if any, and returns once it
// has stopped: no pass with its wait runs after. Caller holds carrierMu.
func (b *Bridge) stopOrphan(carrier string) {
	o := b.orphans[carrier]
	if o == nil {
		return
	}
	delete(b.orphans, carrier)
	o.cancel()
	<-o.done
}
