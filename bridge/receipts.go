package bridge

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
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
	// AwaitingCarriers lists the carriers that have copies waiting for
	// receipts or receipts waiting for their id, without a scan: at Start
	// the bridge runs the expiry for those no longer configured.
	AwaitingCarriers() ([]string, error)
	// ApplyLateSubmit records a submit_sm_resp that came after the
	// carrier's response timeout on the copy whose outcome gave that part
	// as unknown: its carrier id (indexed, with the receipts kept for it
	// applied) or its refusal. NotYet while the copy's outcome is not
	// written; a copy that already ended is left alone (late.go).
	ApplyLateSubmit(l store.LateSubmit) (store.LateSubmitResult, error)
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
// been idle for inboundIdle. Its one timer also bounds the receipt waits
// of the PDU being handled (outcomeIDs.apply): a timer per receipt cost an
// allocation and its setup every time.
func (b *Bridge) inboundWorker(w inboundWork) {
	defer func() { <-b.inSem }()
	idle := time.NewTimer(inboundIdle)
	defer idle.Stop()
	for {
		if !b.handleInbound(w.q, w.carrier, w.in, idle) {
			b.inWG.Done()
		}
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

// handleInbound handles one deliver_sm; timer is the worker's, free for
// its waits (it is reset after). later reports that a receipt went with
// its submit outcome's write without waiting for it: completeLoop answers
// it (and calls inWG.Done) once that write ends.
func (b *Bridge) handleInbound(q *carrierQueue, carrier string, in *smpp.Inbound, timer *time.Timer) (later bool) {
	p := &in.PDU
	var t dlrmap.TLVs
	t.ReceiptedMessageID, _ = p.TLV(pdu.TagReceiptedMessageID)
	t.MessageState, _ = p.TLV(pdu.TagMessageState)
	t.NetworkErrorCode, _ = p.TLV(pdu.TagNetworkErrorCode)
	if !dlrmap.IsReceipt(p.ESMClass, t) {
		b.handleMO(carrier, in)
		return false
	}
	if b.receipts == nil || q == nil {
		in.Respond(pdu.StatusXTAppn)
		return false
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
		return false
	}
	res := dlrmap.Map(r, q.ReceiptTable)
	cands := dlrmap.Candidates(r.ID, q.ReceiptIDFormat)
	at := b.now()
	rcpt := store.Receipt{
		Carrier: carrier, Candidates: cands,
		Outcome: int(res.Outcome), Code: res.Code, Mode: q.ReceiptsPerSegment, At: at,
	}
	handled, matched, waited := false, false, false
	var err error
	if res.Outcome != dlrmap.Pending && len(cands) > 0 { // else nothing to write
		// The usual case: its outcome is on its way to the store and not
		// yet being written. Riding along without waiting for the commit
		// spares this goroutine a sleep and a wake-up per receipt.
		if b.outcomes.rideInbound(&rcpt, asyncReceipt{b: b, carrier: carrier, in: in, res: res}) {
			b.receiptsAfterOutcome.Add(1)
			return true
		}
		handled, matched, waited, err = b.outcomes.apply(b.runCtx, b.receipts, &rcpt, timer)
		if waited {
			b.receiptsAfterOutcome.Add(1)
		}
	}
	if !handled {
		var rr store.ReceiptResult
		rr, err = b.receipts.ApplyReceipt(rcpt)
		matched = rr.Matched
	}
	b.receiptDone(carrier, in, res, matched, err)
	return false
}

// receiptDone answers a terminal or pending receipt once it is durable
// (err nil) or could not be written, and counts it.
func (b *Bridge) receiptDone(carrier string, in *smpp.Inbound, res dlrmap.Result, matched bool, err error) {
	if err != nil {
		b.log.Error("cannot record a receipt; the SMSC is asked to send it again", "carrier", carrier, "err", err)
		in.Respond(pdu.StatusMsgQFul)
		return
	}
	in.Respond(pdu.StatusOK)
	if !matched && res.Outcome != dlrmap.Pending {
		b.receiptsPending.Add(1)
	}
	if b.opts.OnReceipt != nil {
		b.opts.OnReceipt(carrier, res.Outcome, res.Code, matched)
	}
}

// asyncReceipt is a receipt riding along with its outcome's write without
// a goroutine waiting for it: completeLoop finishes it after the commit.
// Unlike a waiting receipt it has no receiptOutcomeWait: while the store
// refuses the write (completeLoop retries it until it succeeds or the
// bridge stops) it stays unanswered, and the SMSC sends it again when its
// own wait for the answer ends.
type asyncReceipt struct {
	b       *Bridge
	carrier string
	in      *smpp.Inbound
	res     dlrmap.Result
}

// finish runs on completeLoop once the outcome's write ended. When that
// write did not apply the receipt (given up, or a store that does not
// take receipts with outcomes) it is written on its own, off completeLoop.
func (ar *asyncReceipt) finish(r store.Receipt, matched, fallback bool) {
	b := ar.b
	if !fallback {
		b.receiptDone(ar.carrier, ar.in, ar.res, matched, nil)
		b.inWG.Done()
		return
	}
	go func() {
		defer b.inWG.Done()
		rr, err := b.receipts.ApplyReceipt(r)
		b.receiptDone(ar.carrier, ar.in, ar.res, rr.Matched, err)
	}()
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
		Media: rec.MediaURLs, Tag: rec.Tag, HasTag: rec.HasTag || rec.Tag != "",
	}
	job, err := NewCallbackJob(app.Application, CallbackStatus, b.now(), ev)
	if err != nil {
		return nil // no callback URL
	}
	job.RequestID = rec.RequestID // webhook log lines name the request that caused them
	return []store.CallbackJob{job}
}

// expireLoop ends the receipt wait of the carrier's copies sent more than
// wait ago (store.ExpireReceipts) and removes receipts that waited as long
// for their id (store.ExpirePendingReceipts), every quarter of wait
// (between 10 ms and a minute). It runs until ctx ends: the queue's, or
// for a carrier without one that expires (orphan), its orphanExpiry's.
func (b *Bridge) expireLoop(ctx context.Context, carrier string, wait time.Duration, orphan bool) {
	every := min(max(wait/4, 10*time.Millisecond), time.Minute)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		ended := 0
		for more, pass := true, 0; more && pass < 1000 && ctx.Err() == nil; pass++ {
			now := b.now()
			var n int
			var err error
			if n, more, err = b.receipts.ExpireReceipts(carrier, now.Add(-wait), now, 1000); err != nil {
				b.log.Error("cannot end receipt waits", "carrier", carrier, "err", err)
				break
			}
			ended += n
		}
		if orphan && ended > 0 {
			b.log.Warn("messages of a carrier no longer configured failed: no receipt within the wait", "carrier", carrier, "count", ended, "code", 9902, "wait", wait)
		}
		// Receipts still waiting for an id after the whole receipt wait
		// belong to no message that could still use them.
		for more, pass := true, 0; more && pass < 1000 && ctx.Err() == nil; pass++ {
			var n int
			var err error
			if n, more, err = b.receipts.ExpirePendingReceipts(carrier, b.now().Add(-wait), 1000); err != nil {
				b.log.Error("cannot remove unmatched receipts", "carrier", carrier, "err", err)
				break
			}
			if n > 0 {
				b.log.Warn("receipts for ids never seen in a submit_sm_resp removed", "carrier", carrier, "count", n)
			}
		}
		if b.expirePassed != nil {
			b.expirePassed(carrier, wait)
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

// ReceiptStats counts receipts since New.
type ReceiptStats struct {
	// Pending counts terminal receipts that matched no record when
	// written, so the store kept them until their id is known (early,
	// cross-bind or foreign receipts). Normal traffic keeps it near 0.
	Pending int64
	// AfterOutcome counts receipts that waited for their submit outcome
	// (its id to be seen, its write) and went with it or after it.
	AfterOutcome int64
}

// ReceiptStats returns the receipt counters.
func (b *Bridge) ReceiptStats() ReceiptStats {
	return ReceiptStats{Pending: b.receiptsPending.Load(), AfterOutcome: b.receiptsAfterOutcome.Load()}
}

// receiptOutcomeWait bounds how long a receipt waits for its submit
// outcome's commit (a stalled or failing store); after it the receipt is
// written on its own and kept until its id is known.
const receiptOutcomeWait = 2 * time.Second

// outcomeIDs holds the carrier message ids of submit outcomes handed to
// completeLoop and not yet committed. The SMSC usually sends a receipt
// right after the submit_sm_resp, before completeLoop's commit has indexed
// the id: written then, the receipt would be kept as a pending receipt
// (JSON and extra B-tree writes) and applied again inside Complete. A
// receipt whose id is here rides along with the outcome instead
// (store.Completion.Receipts: the same commit, applied right after it), or,
// when that outcome is already being written, waits for its commit and
// then finds its record directly.
type outcomeIDs struct {
	mu  sync.Mutex
	ids map[outcomeID]*outcomeSlot
	// committed is closed, and replaced, after each outcome write.
	committed chan struct{}
	// awaited are ids receipts wait to see in an outcome (awaitID).
	awaited map[outcomeID]*idWaiters
	idWaits map[string]*idWaitBackoff // per carrier
	slab    []outcomeSlot             // slots not yet handed out (newSlotLocked)
	// commitWaiters counts receipts waiting for the commit of an outcome
	// already being written (they cannot ride along); tests watch it.
	commitWaiters atomic.Int32
}

// idWaiters are the receipts waiting for one id; ch is closed when an
// outcome carrying it is added.
type idWaiters struct {
	ch chan struct{}
	n  int
}

// carrierIDKnower is what a store offers to tell whether an id is already
// indexed (*store.Store), so that a receipt whose id no outcome on its
// way carries waits for it only when it is not.
type carrierIDKnower interface {
	KnowsCarrierID(carrier string, candidates []string) (bool, error)
}

// receiptIDWait bounds how long a receipt whose id is neither indexed nor
// carried by an outcome on its way waits for one to be: the receipt
// usually races its own submit_sm_resp's sender (that goroutine is still
// to run), or comes on another bind before it. After it the receipt is
// kept pending until its id is known.
const receiptIDWait = 20 * time.Millisecond

// maxIDWaitsSkipped bounds idWaitBackoff.skip.
const maxIDWaitsSkipped = 1023

// idWaitBackoff keeps a carrier's receipts from waiting for ids that do
// not come: after k waits in a row timed out, the next 2^k-1 receipts with
// an unknown id go on at once. A carrier that sends receipts before the
// submit_sm_resp and waits for their acknowledgement (or sends receipts for
// ids it never gave) would otherwise have each wait the whole
// receiptIDWait; one that answered a long message's first part long before
// its last loses a few waits only.
type idWaitBackoff struct{ skip, streak int }

type outcomeID struct{ carrier, id string }

// outcomeSlot is one outcome on its way to the store.
type outcomeSlot struct {
	seq      uint64 // the completion's queue seq: which outcome an id belongs to when a carrier repeats ids
	taken    bool   // completeLoop is writing it: too late to ride along
	receipts []*rideAlong
}

// rideAlong is a receipt handed to completeLoop with its outcome.
type rideAlong struct {
	r       store.Receipt // a copy: the caller's stays on its stack
	matched bool          // the store's result (ReceiptResult.Matched)
	// done: matched holds the store's result. Set with fallback under mu
	// before committed is closed.
	done bool
	// fallback: the outcome write did not apply it (the write was given up,
	// or the store does not take receipts with outcomes): ApplyReceipt.
	fallback bool
	// async, when set, is finished by written instead of a waiting
	// goroutine (rideAsync).
	async receiptFinisher
	// inbound is async's value when it came from rideInbound.
	inbound asyncReceipt
}

// receiptFinisher finishes a receipt that rode along without a waiter:
// matched is the store's result; fallback means the outcome write did not
// apply it, so it is still to be written on its own.
type receiptFinisher interface {
	finish(r store.Receipt, matched, fallback bool)
}

func newOutcomeIDs() *outcomeIDs {
	return &outcomeIDs{ids: map[outcomeID]*outcomeSlot{}, committed: make(chan struct{}),
		awaited: map[outcomeID]*idWaiters{}, idWaits: map[string]*idWaitBackoff{}}
}

// add notes the ids of an outcome about to be handed to completeLoop.
func (o *outcomeIDs) add(c *store.Completion) {
	var slot *outcomeSlot
	o.mu.Lock()
	for _, id := range c.Record.CarrierIDs {
		if id != "" {
			if slot == nil {
				slot = o.newSlotLocked(c.Seq)
			}
			k := outcomeID{c.Record.Carrier, dlrmap.NormalizeID(id)}
			o.ids[k] = slot
			if w := o.awaited[k]; w != nil {
				close(w.ch)
				delete(o.awaited, k)
			}
		}
	}
	o.mu.Unlock()
}

// outcomeSlabSize is how many outcome slots are allocated at once: one
// allocation per many outcomes, at the cost of a slab staying alive until
// its last slot is written.
const outcomeSlabSize = 64

// newSlotLocked hands out the next slot of the current slab.
func (o *outcomeIDs) newSlotLocked(seq uint64) *outcomeSlot {
	if len(o.slab) == 0 {
		o.slab = make([]outcomeSlot, outcomeSlabSize)
	}
	slot := &o.slab[0]
	o.slab = o.slab[1:]
	slot.seq = seq
	return slot
}

// findLocked returns the outcome slot carrying one of the candidates.
func (o *outcomeIDs) findLocked(carrier string, cands []string) *outcomeSlot {
	for _, c := range cands {
		if slot := o.ids[outcomeID{carrier, c}]; slot != nil {
			return slot
		}
	}
	return nil
}

// awaitID waits, at most receiptIDWait, for an outcome carrying one of the
// receipt's candidates to be added, unless the store already knows the id
// (then the receipt goes straight to it). It reports whether one was
// added. timer is as for apply.
func (o *outcomeIDs) awaitID(ctx context.Context, knower carrierIDKnower, carrier string, cands []string, timer *time.Timer) (added bool) {
	o.mu.Lock()
	if o.findLocked(carrier, cands) != nil {
		o.mu.Unlock()
		return true
	}
	backoff := o.idWaits[carrier]
	if backoff == nil {
		backoff = &idWaitBackoff{}
		o.idWaits[carrier] = backoff
	}
	if backoff.skip > 0 {
		backoff.skip--
		o.mu.Unlock()
		return false
	}
	// Registered before the store is asked: an outcome added meanwhile
	// closes ch, one committed meanwhile is found in the store.
	ch := make(chan struct{})
	ws := make([]*idWaiters, len(cands))
	for i, c := range cands {
		k := outcomeID{carrier, c}
		w := o.awaited[k]
		if w == nil {
			w = &idWaiters{ch: ch}
			o.awaited[k] = w
		}
		w.n++
		ws[i] = w
	}
	o.mu.Unlock()
	defer func() {
		o.mu.Lock()
		for i, c := range cands {
			k := outcomeID{carrier, c}
			if w := o.awaited[k]; w == ws[i] {
				if w.n--; w.n == 0 {
					delete(o.awaited, k)
				}
			}
		}
		o.mu.Unlock()
	}()
	if known, err := knower.KnowsCarrierID(carrier, cands); known || err != nil {
		return false
	}
	// dlrmap.Candidates gives at most three forms.
	var chs [3]chan struct{}
	for i, w := range ws[:min(len(ws), len(chs))] {
		chs[i] = w.ch
	}
	timer = armTimer(timer, receiptIDWait)
	defer timer.Stop()
	select {
	case <-chs[0]:
	case <-chs[1]:
	case <-chs[2]:
	case <-timer.C:
		o.mu.Lock()
		backoff.streak = min(backoff.streak+1, 10)
		backoff.skip = min(1<<backoff.streak-1, maxIDWaitsSkipped)
		o.mu.Unlock()
		return false
	case <-ctx.Done():
		return false
	}
	o.mu.Lock()
	backoff.streak = 0
	o.mu.Unlock()
	return true
}

// slotLocked finds the slot of completion c.
func (o *outcomeIDs) slotLocked(c *store.Completion) *outcomeSlot {
	for _, id := range c.Record.CarrierIDs {
		if id == "" {
			continue
		}
		if slot := o.ids[outcomeID{c.Record.Carrier, dlrmap.NormalizeID(id)}]; slot != nil && slot.seq == c.Seq {
			return slot
		}
	}
	return nil
}

// take marks the batch's outcomes as being written and hands them the
// receipts that came for them.
func (o *outcomeIDs) take(batch []store.Completion) {
	o.mu.Lock()
	for i := range batch {
		c := &batch[i]
		slot := o.slotLocked(c) // nil for an outcome without carrier ids
		if slot == nil {
			continue
		}
		slot.taken = true
		c.Receipts = c.Receipts[:0]
		for _, ra := range slot.receipts {
			c.Receipts = append(c.Receipts, ra.r)
		}
	}
	o.mu.Unlock()
}

// rideAsync hands r to the outcome carrying one of its ids when that
// outcome is not yet being written; ar is finished after the write
// (written). false: no such outcome, the caller goes on as without.
func (o *outcomeIDs) rideAsync(r *store.Receipt, ar receiptFinisher) bool {
	return o.ride(r, func(ra *rideAlong) { ra.async = ar })
}

// rideInbound is rideAsync for a receipt handleInbound received: its
// finisher lives in the rideAlong, one allocation for both, and none when
// the receipt does not ride along.
func (o *outcomeIDs) rideInbound(r *store.Receipt, ar asyncReceipt) bool {
	return o.ride(r, func(ra *rideAlong) { ra.inbound = ar; ra.async = &ra.inbound })
}

// ride appends a rideAlong for r, completed by fill, to the outcome
// carrying one of r's ids unless that outcome is already being written.
func (o *outcomeIDs) ride(r *store.Receipt, fill func(*rideAlong)) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	slot := o.findLocked(r.Carrier, r.Candidates)
	if slot == nil || slot.taken {
		return false
	}
	ra := &rideAlong{r: *r}
	fill(ra)
	slot.receipts = append(slot.receipts, ra)
	return true
}

// written forgets the ids of outcomes written (ok) or given up, hands
// their receipts the results, and wakes the receipts waiting for them.
// Receipts riding along without a waiter (rideAsync) are finished here,
// after o.mu is released.
func (o *outcomeIDs) written(batch []store.Completion, ok bool) {
	var finish []*rideAlong
	defer func() {
		for _, ra := range finish {
			ra.async.finish(ra.r, ra.matched, ra.fallback)
		}
	}()
	o.mu.Lock()
	for i := range batch {
		c := &batch[i]
		slot := o.slotLocked(c) // nil for an outcome without carrier ids
		if slot == nil {
			continue
		}
		applied := ok && len(c.ReceiptResults) == len(c.Receipts) && len(c.Receipts) == len(slot.receipts)
		for j, ra := range slot.receipts {
			ra.done = true
			if applied {
				ra.matched = c.ReceiptResults[j].Matched
			} else {
				ra.fallback = true
			}
			if ra.async != nil {
				finish = append(finish, ra)
			}
		}
		for _, id := range c.Record.CarrierIDs {
			k := outcomeID{c.Record.Carrier, dlrmap.NormalizeID(id)}
			if o.ids[k] == slot {
				delete(o.ids, k)
			}
		}
	}
	close(o.committed)
	o.committed = make(chan struct{})
	o.mu.Unlock()
}

// apply writes a terminal receipt durably when an outcome carrying one of
// its ids is on its way to the store: the receipt goes with it, or waits
// for its commit when it is already being written, at most
// receiptOutcomeWait. handled is false when the caller is to write it on
// its own (ReceiptStore.ApplyReceipt): there is no such outcome (any
// more), the wait ended, or the outcome write was given up. waited reports
// that an outcome was found. timer bounds the waits: the caller's, not
// running and not waited on by anyone else (reset here, stopped on
// return), or nil for one of its own.
func (o *outcomeIDs) apply(ctx context.Context, rs ReceiptStore, r *store.Receipt, timer *time.Timer) (handled, matched, waited bool, err error) {
	var ra *rideAlong
	var slot *outcomeSlot
	armed := false
	defer func() { // not in the loop: an open-coded defer
		if armed {
			timer.Stop()
		}
	}()
	if knower, ok := rs.(carrierIDKnower); ok {
		o.mu.Lock()
		slot = o.findLocked(r.Carrier, r.Candidates)
		o.mu.Unlock()
		if slot == nil {
			if !o.awaitID(ctx, knower, r.Carrier, r.Candidates, timer) {
				return false, false, false, nil
			}
			waited = true
		}
	}
	ctxDone := ctx.Done()
	for range 10000 { // every pass is one outcome commit
		o.mu.Lock()
		if ra != nil && ra.done {
			o.mu.Unlock()
			return !ra.fallback, ra.matched, true, nil
		}
		if ra == nil {
			slot = o.findLocked(r.Carrier, r.Candidates)
			if slot != nil && !slot.taken {
				ra = &rideAlong{r: *r}
				slot.receipts = append(slot.receipts, ra)
			}
		}
		committed := o.committed
		o.mu.Unlock()
		if ra == nil && slot == nil {
			break // no outcome (left) to wait for
		}
		waited = true
		if !armed {
			timer, armed = armTimer(timer, receiptOutcomeWait), true
		}
		onlyCommit := ra == nil
		if onlyCommit {
			o.commitWaiters.Add(1)
		}
		select {
		case <-committed:
			if onlyCommit {
				o.commitWaiters.Add(-1)
			}
			continue
		case <-ctxDone:
			// Stopping: completeLoop still writes the outcomes handed to
			// it, so a receipt riding along keeps waiting (bounded by the
			// timer); one only waiting for a commit goes on its own.
			ctxDone = nil
			if ra != nil {
				continue
			}
		case <-timer.C:
		}
		if onlyCommit {
			o.commitWaiters.Add(-1)
		}
		if ra != nil && !o.detach(slot, ra) {
			// Being written: its result comes with that commit.
			o.mu.Lock()
			done, fallback, matched := ra.done, ra.fallback, ra.matched
			o.mu.Unlock()
			if !done {
				return true, false, true, errOutcomeStalled
			}
			return !fallback, matched, true, nil
		}
		break
	}
	return false, false, waited, nil
}

// armTimer starts t (stopped or fired, its value received or not) to fire
// after d, or a new timer when t is nil. Since Go 1.23 Reset leaves no
// stale value in t.C.
func armTimer(t *time.Timer, d time.Duration) *time.Timer {
	if t == nil {
		return time.NewTimer(d)
	}
	t.Reset(d)
	return t
}

// errOutcomeStalled: a receipt rode along with an outcome whose write did
// not finish in receiptOutcomeWait; the SMSC is asked to send it again.
var errOutcomeStalled = errors.New("bridge: the submit outcome the receipt rides with is not written yet")

// detach takes a receipt back from an outcome not yet being written;
// false when the outcome is being (or has been) written with it.
func (o *outcomeIDs) detach(slot *outcomeSlot, ra *rideAlong) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	if slot.taken || ra.done {
		return false
	}
	slot.receipts = slices.DeleteFunc(slot.receipts, func(x *rideAlong) bool { return x == ra })
	return true
}
