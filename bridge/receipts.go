package bridge

import (
	"context"
	"slices"
	"time"

	"smppbridge/dlrmap"
	"smppbridge/smpp"
	"smppbridge/smpp/pdu"
	"smppbridge/store"
)

// ReceiptStore is what the bridge needs to turn receipts into callbacks
// (*store.Store). When Options.Store does not implement it, receipts are
// refused (ESME_RX_T_APPN) so the SMSC keeps them.
type ReceiptStore interface {
	ApplyReceipt(r store.Receipt) (store.ReceiptResult, error)
	SetReceiptHooks(h store.ReceiptHooks)
	ExpireReceipts(carrier string, sentBefore, now time.Time, limit int) (ended int, more bool, err error)
	ExpirePendingReceipts(carrier string, arrivedBefore time.Time, limit int) (removed int, more bool, err error)
}

// inboundConcurrency bounds the inbound PDUs being written at once across
// all carriers: they share the store's group commits.
const inboundConcurrency = 256

// inboundIdle is how long an inbound worker waits for the next PDU before
// it ends.
const inboundIdle = 2 * time.Second

// inboundWork is one inbound PDU for a worker.
type inboundWork struct {
	q       *carrierQueue
	carrier string
	in      *smpp.Inbound
}

// SetCallbackNotify sets what wakes the webhook sender after receipts
// added callback jobs (Webhooks.Notify).
func (b *Bridge) SetCallbackNotify(fn func()) { b.cbNotify.Store(&fn) }

func (b *Bridge) notifyCallbacks() {
	if fn := b.cbNotify.Load(); fn != nil && *fn != nil {
		(*fn)()
	}
}

// InboundHandler returns the smpp.SessionConfig.Handler for a carrier's
// binds. Each PDU is handled on a worker goroutine of its own (at most
// inboundConcurrency at once, beyond which the session's inbound goroutine
// waits), so many receipts share one store commit and the session's read
// path never waits for the disk. Workers take the next PDU when they are
// done with one (a goroutine per PDU would cost its start and stack growth
// every time) and end after inboundIdle without work. A receipt is
// acknowledged only once it is durable: ESME_RMSGQFUL on a store error, so
// the SMSC sends it again.
func (b *Bridge) InboundHandler(carrier string) func(*smpp.Inbound) {
	return func(in *smpp.Inbound) {
		w := inboundWork{q: b.queueFor(carrier), carrier: carrier, in: in} // looked up each time: a reload may replace it
		b.inWG.Add(1)
		select {
		case b.inWork <- w: // an idle worker first: no new goroutine
			return
		default:
		}
		select {
		case b.inWork <- w:
		case b.inSem <- struct{}{}:
			go b.inboundWorker(w)
		}
	}
}

// inboundWorker handles w, then whatever PDUs come its way until it has
// been idle for inboundIdle.
func (b *Bridge) inboundWorker(w inboundWork) {
	defer func() { <-b.inSem }()
	idle := time.NewTimer(inboundIdle)
	defer idle.Stop()
	for {
		b.handleInbound(w.q, w.carrier, w.in)
		b.inWG.Done()
		idle.Reset(inboundIdle)
		select {
		case w = <-b.inWork:
		case <-idle.C:
			return
		}
	}
}

// WaitInbound waits for inbound PDUs being handled (after the binds closed).
func (b *Bridge) WaitInbound() { b.inWG.Wait() }

func (b *Bridge) handleInbound(q *carrierQueue, carrier string, in *smpp.Inbound) {
	p := &in.PDU
	var t dlrmap.TLVs
	t.ReceiptedMessageID, _ = p.TLV(pdu.TagReceiptedMessageID)
	t.MessageState, _ = p.TLV(pdu.TagMessageState)
	t.NetworkErrorCode, _ = p.TLV(pdu.TagNetworkErrorCode)
	if !dlrmap.IsReceipt(p.ESMClass, t) {
		b.handleMO(carrier, in)
		return
	}
	if b.receipts == nil || q == nil {
		in.Respond(pdu.StatusXTAppn)
		return
	}
	text := p.ShortMessage
	if len(text) == 0 {
		text, _ = p.TLV(pdu.TagMessagePayload)
	}
	r, ok := dlrmap.ParseReceipt(text, t)
	if !ok {
		// Without an id it can never be matched: resending would not help.
		b.log.Warn("receipt without a message id dropped", "carrier", carrier)
		in.Respond(pdu.StatusOK)
		return
	}
	res := dlrmap.Map(r, q.ReceiptTable)
	rr, err := b.receipts.ApplyReceipt(store.Receipt{
		Carrier: carrier, Candidates: dlrmap.Candidates(r.ID, q.ReceiptIDFormat),
		Outcome: int(res.Outcome), Code: res.Code, Mode: q.ReceiptsPerSegment, At: b.now(),
	})
	if err != nil {
		b.log.Error("cannot record a receipt; the SMSC is asked to send it again", "carrier", carrier, "err", err)
		in.Respond(pdu.StatusMsgQFul)
		return
	}
	in.Respond(pdu.StatusOK)
	if b.opts.OnReceipt != nil {
		b.opts.OnReceipt(carrier, res.Outcome, res.Code, rr.Matched)
	}
}

// receiptCallbacks builds the status callback for a record that a receipt
// has just made terminal. It runs inside the store's write transaction.
func (b *Bridge) receiptCallbacks(rec *store.Record) []store.CallbackJob {
	// The application the message was accepted for, even if its number
	// has moved since; none once the application was deleted.
	app := b.directory().apps[rec.ApplicationID]
	if app == nil || app.accountID != rec.AccountID {
		return nil
	}
	ev := CallbackEvent{Time: rec.DoneAt, To: rec.To}
	switch rec.Status {
	case "DELIVERED":
		ev.Type, ev.Description = "message-delivered", "ok"
	case "FAILED":
		ev.Type, ev.ErrorCode = "message-failed", rec.ErrorCode
		if ev.Description = dlrmap.Name(rec.ErrorCode); ev.Description == "" {
			ev.Description = "message-failed"
		}
	default:
		return nil
	}
	if app.ReceiptEvents != nil && !slices.Contains(app.ReceiptEvents, ev.Type) {
		return nil
	}
	to := rec.AllTo
	if len(to) == 0 {
		to = []string{rec.To}
	}
	ev.Message = CallbackMessage{
		ID: rec.MessageID, Owner: rec.From, ApplicationID: rec.ApplicationID, Time: rec.ReceivedAt,
		SegmentCount: rec.Segments, Direction: "out", To: to, From: rec.From, Text: "",
		Tag: rec.Tag, HasTag: rec.HasTag || rec.Tag != "",
	}
	job, err := NewCallbackJob(app.Application, CallbackStatus, b.now(), ev)
	if err != nil {
		return nil // no callback URL
	}
	job.RequestID = rec.RequestID // webhook log lines name the request that caused them
	return []store.CallbackJob{job}
}

// expireLoop ends the receipt wait of the carrier's copies sent more than
// ReceiptWait ago (store.ExpireReceipts) and removes receipts that waited
// as long for their id (store.ExpirePendingReceipts), every quarter of
// ReceiptWait (between 10 ms and a minute). It runs until ctx ends: the
// queue's, or for a carrier a reload removed, the bridge's (its sent
// messages still wait for receipts that may come).
func (b *Bridge) expireLoop(ctx context.Context, q *carrierQueue) {
	every := min(max(q.ReceiptWait/4, 10*time.Millisecond), time.Minute)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for more, pass := true, 0; more && pass < 1000 && ctx.Err() == nil; pass++ {
			now := b.now()
			var err error
			if _, more, err = b.receipts.ExpireReceipts(q.name, now.Add(-q.ReceiptWait), now, 1000); err != nil {
				b.log.Error("cannot end receipt waits", "carrier", q.name, "err", err)
				break
			}
		}
		// Receipts still waiting for an id after the whole receipt wait
		// belong to no message that could still use them.
		for more, pass := true, 0; more && pass < 1000 && ctx.Err() == nil; pass++ {
			var n int
			var err error
			if n, more, err = b.receipts.ExpirePendingReceipts(q.name, b.now().Add(-q.ReceiptWait), 1000); err != nil {
				b.log.Error("cannot remove unmatched receipts", "carrier", q.name, "err", err)
				break
			}
			if n > 0 {
				b.log.Warn("receipts for ids never seen in a submit_sm_resp removed", "carrier", q.name, "count", n)
			}
		}
	}
}

// AggregateParts is store.Options.Aggregate: dlrmap.Aggregate on the
// store's part outcomes.
func AggregateParts(parts []store.PartOutcome, total int, mode string) (store.PartOutcome, bool) {
	rs := make([]dlrmap.Result, len(parts))
	for i, p := range parts {
		rs[i] = dlrmap.Result{Outcome: dlrmap.Outcome(p.Outcome), Code: p.Code}
	}
	r, done := dlrmap.Aggregate(rs, total, mode)
	return store.PartOutcome{Outcome: int(r.Outcome), Code: r.Code}, done
}
