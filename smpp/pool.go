package smpp

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"smppbridge/smpp/pdu"
)

// PoolConfig configures the binds to one carrier. Zero values take the
// defaults noted.
type PoolConfig struct {
	Name    string
	Addr    string
	TLS     *tls.Config // nil: plain TCP
	Dial    func(ctx context.Context, addr string) (net.Conn, error)
	Binds   int // default 1
	Session SessionConfig
	// Receivers opens, beside each bind, a receiver session (bind_receiver,
	// same credentials and Session.Handler) for carriers whose transmitter
	// binds get no deliver_sm: receipts and inbound messages arrive there.
	// Receivers never send; they reconnect like the binds.
	Receivers bool

	SegmentsPerSecond float64       // the carrier's rate; 0: unlimited
	Burst             int           // token bucket size; default 100 ms of rate
	ThrottlePause     time.Duration // whole-carrier pause after 0x58/0x14; default 1s
	RampUp            time.Duration // back to full rate after a pause; default 10s
	ReconnectMin      time.Duration // default 500ms
	ReconnectMax      time.Duration // default 30s

	Text   TextConfig
	Logger *slog.Logger

	// OnLateResult, when set, gets a part's submit_sm_resp that came after
	// the part was reported with ErrResponseTimeout and after Submit
	// returned: the carrier did answer, so the caller can still record the
	// message id (or the refusal). A late response that comes while other
	// parts of its message are still out is put into the Submit result
	// instead. It runs on the session's read loop: it must not block.
	OnLateResult func(LateResult)
}

// LateResult is a part's response that came after its timeout and after
// Submit returned (PoolConfig.OnLateResult).
type LateResult struct {
	Ref   any // the message's Message.Ref
	Part  int // index in SubmitResult.Parts
	Parts int // the message's part count
	// Result is the response: MessageID and Status as answered, Err nil,
	// Latency from the send.
	Result PartResult
}

func (c *PoolConfig) setDefaults() {
	if c.Binds <= 0 {
		c.Binds = 1
	}
	if c.ThrottlePause <= 0 {
		c.ThrottlePause = time.Second
	}
	if c.RampUp <= 0 {
		c.RampUp = 10 * time.Second
	}
	if c.ReconnectMin <= 0 {
		c.ReconnectMin = 500 * time.Millisecond
	}
	if c.ReconnectMax <= 0 {
		c.ReconnectMax = 30 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	c.Logger = c.Logger.With("carrier", c.Name)
	if c.Session.Logger == nil {
		c.Session.Logger = c.Logger
	}
}

// PartResult is how one submit_sm of a message ended.
type PartResult struct {
	MessageID string     // the SMSC's id, for receipts; set when Status is OK
	Status    pdu.Status // the SMSC's answer, when Err is nil
	// Err is nil when the SMSC answered. errors.Is(Err, ErrOutcomeUnknown):
	// sent but never answered — the SMSC may have it. errors.Is(Err,
	// ErrNotSent): never sent, safe to send again.
	Err      error
	Attempts int // sends, counting resends after 0x58/0x14
	Latency  time.Duration
}

// SubmitResult is the outcome of every part of a message, in part order.
type SubmitResult struct {
	Plan  Plan
	Parts []PartResult
}

// Pool keeps N binds to one carrier up and sends messages over them in
// order, paced in segments per second, waiting for window slots.
type Pool struct {
	cfg PoolConfig
	log *slog.Logger
	thr *throttle
	ref atomic.Uint32

	mu        sync.Mutex
	binds     []*bindSlot
	receivers []*bindSlot // Receivers: one per bind, never sent on
	queue     []*part     // FIFO; parts of one message are adjacent
	front     []*part     // resends after 0x58/0x14, in original order, before the queue
	jobSeq    uint64
	closed    bool

	wake      chan struct{}
	bindCtx   context.Context // binds reconnect until it ends
	stopBinds context.CancelFunc
	dispCtx   context.Context
	stopDisp  context.CancelFunc
	dispDone  chan struct{}
	wg        sync.WaitGroup

	resends atomic.Int64
	// Late responses (after their part's timeout): folded into a Submit
	// result still pending, or handed to OnLateResult.
	lateFolded, lateHanded atomic.Int64
	rr                     int   // dispatcher only: round-robin start for spreading load
	cur                    *part // the part the dispatcher is working on; only it removes that one
	// inflight counts parts sent on each session whose result the pool has
	// not yet handled. A session frees the window slot just before it calls
	// back; until onResult has put a refused part back in front (and paused
	// the carrier) the slot must not go to the next part.
	inflight map[*Session]int
	cands    []*Session // dispatcher only: candidates' reused buffer
	// last is the session of the latest send and lastFlush its writer's
	// flush count just after it (dispatcher only).
	last      *Session
	lastFlush uint64
}

type bindSlot struct {
	idx        int
	receiver   bool
	sess       *Session
	reconnects int64
	lastErr    string
	failing    bool
	past       SessionStats // counters of the slot's ended sessions
}

type job struct {
	pool  *Pool
	ctx   context.Context
	ref   any // Message.Ref, for late results
	seq   uint64
	parts []*part
	left  int
	res   SubmitResult
	done  chan struct{} // one send when the last part is final; from doneChans
	paced bool
	bind  *Session

	// A message of one part (the usual case) keeps everything in the job,
	// its PDU and the PDU's addresses and text included: one allocation
	// instead of six.
	onePart part
	onePtr  [1]*part
	oneRes  [1]PartResult
	onePDU  onePDU
	scratch [256]byte // addresses and text of a usual message's PDU
}

type part struct {
	job      *job
	idx      int
	p        *pdu.PDU
	attempts int
	sentOn   *Session // the session of its latest send; set under pool.mu
	ended    bool     // finish has recorded its result; under pool.mu
	// late is a response that came after the part timed out but before
	// that timeout was recorded; finish records it instead. Under pool.mu.
	late *PartResult
}

// handleResult is the part's outcome from the session it was sent on.
func (pt *part) handleResult(r Result) { pt.job.pool.onResult(pt, pt.sentOn, r) }

// handleLate is the part's response after it was reported timed out.
func (pt *part) handleLate(r Result) { pt.job.pool.onLate(pt, r) }

// NewPool starts the pool's binds; it does not wait for them to come up.
func NewPool(cfg PoolConfig) *Pool {
	cfg.setDefaults()
	p := &Pool{cfg: cfg, log: cfg.Logger, wake: make(chan struct{}, 1), dispDone: make(chan struct{}), inflight: map[*Session]int{}}
	p.thr = newThrottle(cfg.SegmentsPerSecond, cfg.Burst, cfg.ThrottlePause, cfg.RampUp)
	p.ref.Store(rand.Uint32())
	p.bindCtx, p.stopBinds = context.WithCancel(context.Background())
	p.dispCtx, p.stopDisp = context.WithCancel(context.Background())
	for i := 0; i < cfg.Binds; i++ {
		slot := &bindSlot{idx: i}
		p.binds = append(p.binds, slot)
		p.wg.Add(1)
		go func() { defer p.wg.Done(); p.runBind(slot) }()
		if cfg.Receivers {
			rs := &bindSlot{idx: i, receiver: true}
			p.receivers = append(p.receivers, rs)
			p.wg.Add(1)
			go func() { defer p.wg.Done(); p.runBind(rs) }()
		}
	}
	go p.dispatch()
	return p
}

// Name is the carrier's name.
func (p *Pool) Name() string { return p.cfg.Name }

// Plan says how a text would be sent to this carrier, without sending it.
func (p *Pool) Plan(text string) Plan { return p.cfg.Text.Plan(text) }

func (p *Pool) signal() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// Submit sends a message and waits for every part's outcome. It returns an
// error only when nothing was sent: the message cannot be encoded, or the
// pool is closed. ctx bounds the wait for a bind, the throttle and a window
// slot until the first part is out: if it ends before, every part comes back
// with ErrNotSent. Once a part is out the message is sent whole, so a
// deadline or a shutdown never splits a long message. m is not kept: the
// caller may reuse it once Submit returns.
func (p *Pool) Submit(ctx context.Context, m *Message) (SubmitResult, error) {
	j := &job{pool: p, ctx: ctx, ref: m.Ref}
	pdus, plan, err := p.cfg.Text.encodeInto(m, uint16(p.ref.Add(1)), &j.onePDU, j.scratch[:])
	if err != nil {
		return SubmitResult{Plan: plan}, err
	}
	j.left, j.done, j.res = len(pdus), doneChans.Get().(chan struct{}), SubmitResult{Plan: plan}
	defer doneChans.Put(j.done) // empty again: received from once below, or never sent on
	if len(pdus) == 1 {
		j.onePart = part{job: j, p: pdus[0]}
		j.onePtr[0] = &j.onePart
		j.parts, j.res.Parts = j.onePtr[:], j.oneRes[:]
	} else {
		j.res.Parts = make([]PartResult, len(pdus))
		parts := make([]part, len(pdus))
		j.parts = make([]*part, len(pdus))
		for i, pd := range pdus {
			parts[i] = part{job: j, idx: i, p: pd}
			j.parts[i] = &parts[i]
		}
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return SubmitResult{Plan: plan}, ErrClosed
	}
	p.jobSeq++
	j.seq = p.jobSeq
	if sent, err := p.sendNowLocked(j); sent {
		p.mu.Unlock()
		if err != nil {
			p.finish(j.parts[0], PartResult{Err: err})
		}
		<-j.done // sent: ctx no longer stops it
		return j.res, nil
	}
	p.queue = append(p.queue, j.parts...)
	p.mu.Unlock()
	p.signal()
	select {
	case <-j.done:
	case <-ctx.Done():
		// Queued behind other messages the dispatcher would only notice
		// the end of ctx when the part reached the head: take the parts
		// not yet sent out now. Those in flight are still waited for.
		p.dropUnsent(j)
		<-j.done
	}
	return j.res, nil
}

// sendNowLocked sends a one-part message from the caller's goroutine when
// nothing is queued before it and the dispatcher holds no part, the
// throttle grants at once and a bind has a free slot: the hand-off to the
// dispatcher costs a goroutine wake-up per message. sent reports that the
// part is no longer the dispatcher's: it went out, or err says why it
// never will (it cannot be encoded). Otherwise the caller queues it;
// its segments are already paced when the throttle granted them.
func (p *Pool) sendNowLocked(j *job) (sent bool, err error) {
	if len(j.parts) != 1 || p.cur != nil || len(p.queue) > 0 || len(p.front) > 0 || j.ctx.Err() != nil || len(p.binds) == 0 {
		return false, nil
	}
	if !p.thr.take(j.res.Plan.Segments) {
		return false, nil
	}
	j.paced = true
	pt := j.parts[0]
	// The same choice of bind as candidates: the latest send's bind while
	// its writer has not taken it, else the next one round.
	first := -1
	if p.last != nil && p.last.flushes.Load() == p.lastFlush && p.last.Err() == nil {
		for i, b := range p.binds {
			if b.sess == p.last {
				first = i
				break
			}
		}
	}
	if first < 0 {
		p.rr++
		first = p.rr
	}
	for i := range p.binds {
		s := p.binds[(first+i)%len(p.binds)].sess
		if s == nil || p.inflight[s] >= s.cfg.Window {
			continue
		}
		pt.sentOn = s
		ok, err := s.trySend(pt.p, pt)
		switch {
		case !ok, errors.Is(err, ErrClosed):
			continue
		case err != nil:
			return true, err // cannot be encoded: no bind will take it
		}
		pt.attempts++
		j.bind = s
		p.inflight[s]++
		p.last, p.lastFlush = s, s.flushes.Load()
		return true, nil
	}
	return false, nil
}

// started reports whether a part of j went out. From then on ctx no longer
// stops it: a long message is sent whole, never split by a deadline or a
// shutdown. Callers hold p.mu or are the dispatcher.
func (j *job) started() bool { return j.bind != nil }

// dropUnsent ends the parts of j still queued with ErrNotSent, except the
// one the dispatcher holds: it checks j.ctx itself.
func (p *Pool) dropUnsent(j *job) {
	var drop []*part
	keep := func(list []*part) []*part {
		out := list[:0]
		for _, pt := range list {
			if pt.job == j && pt != p.cur {
				drop = append(drop, pt)
				continue
			}
			out = append(out, pt)
		}
		clear(list[len(out):])
		return out
	}
	p.mu.Lock()
	if j.started() {
		p.mu.Unlock()
		return
	}
	p.front = keep(p.front)
	p.queue = keep(p.queue)
	p.mu.Unlock()
	err := fmt.Errorf("%w: %w", ErrNotSent, context.Cause(j.ctx))
	for _, pt := range drop {
		p.finish(pt, PartResult{Err: err})
	}
	p.signal()
}

func (p *Pool) finish(pt *part, r PartResult) {
	p.mu.Lock()
	j := pt.job
	if pt.late != nil {
		r = *pt.late // answered after all, just after its timeout
	}
	pt.ended = true
	r.Attempts = pt.attempts
	j.res.Parts[pt.idx] = r
	j.left--
	last := j.left == 0
	p.mu.Unlock()
	if last {
		j.done <- struct{}{} // never blocks: one send per job, buffer 1
	}
}

// doneChans recycles the channels a job's last part result is signalled
// on: Submit receives exactly once from each, so it is empty and reusable
// when Submit returns.
var doneChans = sync.Pool{New: func() any { return make(chan struct{}, 1) }}

// headLocked returns the next part to send: resends first.
func (p *Pool) headLocked() *part {
	if len(p.front) > 0 {
		return p.front[0]
	}
	if len(p.queue) > 0 {
		return p.queue[0]
	}
	return nil
}

// popLocked removes pt from the resend list or the queue, where it is
// normally the head, and reports whether it was there.
func (p *Pool) popLocked(pt *part) bool {
	if pt == p.cur {
		p.cur = nil
	}
	if len(p.front) > 0 && p.front[0] == pt {
		p.front[0] = nil
		p.front = p.front[1:]
		return true
	}
	if len(p.queue) > 0 && p.queue[0] == pt {
		p.queue[0] = nil
		p.queue = p.queue[1:]
		if len(p.queue) == 0 {
			p.queue = nil
		}
		return true
	}
	if i := slices.Index(p.front, pt); i >= 0 {
		p.front = slices.Delete(p.front, i, i+1)
		return true
	}
	if i := slices.Index(p.queue, pt); i >= 0 {
		p.queue = slices.Delete(p.queue, i, i+1)
		return true
	}
	return false
}

// dispatch is the pool's single sender: taking parts in order is what keeps
// messages in order and a long message's parts back to back.
func (p *Pool) dispatch() {
	defer close(p.dispDone)
	for {
		p.mu.Lock()
		pt := p.headLocked()
		p.cur = pt
		p.mu.Unlock()
		if pt == nil {
			select {
			case <-p.wake:
				continue
			case <-p.dispCtx.Done():
				p.failQueued()
				return
			}
		}
		j := pt.job
		if err := j.ctx.Err(); err != nil && !j.started() {
			p.mu.Lock()
			found := p.popLocked(pt)
			p.mu.Unlock()
			if found {
				p.finish(pt, PartResult{Err: fmt.Errorf("%w: %w", ErrNotSent, context.Cause(j.ctx))})
			}
			continue
		}
		if err := p.pace(pt); err != nil {
			if p.dispCtx.Err() != nil {
				p.failQueued()
				return
			}
			continue // the job's context ended: dropped above on the next turn
		}
		if !p.sendHead(pt) {
			var jobDone <-chan struct{}
			if !j.started() {
				jobDone = j.ctx.Done()
			}
			select {
			case <-p.wake:
			case <-jobDone:
			case <-p.dispCtx.Done():
				p.failQueued()
				return
			}
		}
	}
}

// pace takes the throttle tokens for a part: a whole message's segments
// before its first part, one segment for each resend.
func (p *Pool) pace(pt *part) error {
	j := pt.job
	n := 0
	switch {
	case pt.attempts > 0:
		n = 1
	case !j.paced:
		n = j.res.Plan.Segments
	}
	if n == 0 {
		return nil
	}
	if p.thr.take(n) {
		// The usual case needs no wait, so none of the contexts below.
		if pt.attempts == 0 {
			j.paced = true
		}
		return nil
	}
	parent := j.ctx
	if j.started() {
		parent = context.Background() // a started message is finished whatever its ctx says
	}
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	stop := context.AfterFunc(p.dispCtx, cancel)
	defer stop()
	if err := p.thr.wait(ctx, n); err != nil {
		return err
	}
	if pt.attempts == 0 {
		j.paced = true
	}
	return nil
}

// sendHead tries to send the head part on a bind with a free slot; false
// means no bind could take it right now. The send and the part's removal
// from the queue happen together under p.mu, so its response (which may be
// read before TrySend returns) always finds it sent and counted, and a
// resend put in front while the dispatcher was pacing goes first.
func (p *Pool) sendHead(pt *part) bool {
	j := pt.job
	for _, s := range p.candidates(j) {
		p.mu.Lock()
		if p.headLocked() != pt {
			p.mu.Unlock()
			return true // a resend went in front of it: that one first
		}
		var ok bool
		var err error
		if p.inflight[s] < s.cfg.Window {
			pt.sentOn = s
			ok, err = s.trySend(pt.p, pt)
		}
		if ok && err == nil {
			pt.attempts++
			j.bind = s
			p.inflight[s]++
			p.popLocked(pt)
			p.last, p.lastFlush = s, s.flushes.Load()
		}
		p.mu.Unlock()
		if !ok {
			if j.bind == s && s.Err() == nil && pt.idx > 0 {
				return false // wait for this bind: parts go back to back on one bind
			}
			continue
		}
		if err != nil {
			if errors.Is(err, ErrClosed) {
				continue // that bind is closing; try another
			}
			// The PDU cannot be encoded: no bind will take it.
			p.mu.Lock()
			found := p.popLocked(pt)
			p.mu.Unlock()
			if found {
				p.finish(pt, PartResult{Err: err})
			}
			return true
		}
		return true
	}
	return false
}

// candidates lists live sessions, the job's own bind first, then the bind
// of the latest send while its writer has not yet taken that send.
func (p *Pool) candidates(j *job) []*Session {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := p.cands[:0]
	if j.bind != nil && j.bind.Err() == nil {
		out = append(out, j.bind)
	}
	// Rotate the starting bind so load spreads when windows are not full,
	// but only once the latest bind's writer has taken what was queued
	// for it: a part that joins a write still pending costs no syscall of
	// its own, here nor at the SMSC, and neither does its response.
	joins := p.last != nil && p.last != j.bind && p.last.flushes.Load() == p.lastFlush && p.last.Err() == nil
	if joins {
		out = append(out, p.last)
	} else {
		p.rr++
	}
	start := p.rr % len(p.binds)
	for i := range p.binds {
		s := p.binds[(start+i)%len(p.binds)].sess
		if s != nil && s != j.bind && !(joins && s == p.last) {
			out = append(out, s)
		}
	}
	p.cands = out
	return out
}

// onResult runs on a session's read loop: it must not block.
func (p *Pool) onResult(pt *part, s *Session, r Result) {
	refused := r.Err == nil && (r.Status == pdu.StatusThrottled || r.Status == pdu.StatusMsgQFul)
	if refused && p.thr.throttled() {
		p.log.Warn("carrier asks to slow down: pausing", "status", r.Status.String(), "pause", p.cfg.ThrottlePause)
	}
	p.mu.Lock()
	if n := p.inflight[s] - 1; n > 0 {
		p.inflight[s] = n
	} else {
		delete(p.inflight, s)
	}
	if refused && !p.closed {
		p.resends.Add(1)
		i, _ := slices.BinarySearchFunc(p.front, pt, func(a, b *part) int {
			if a.job.seq != b.job.seq {
				return int(a.job.seq) - int(b.job.seq)
			}
			return a.idx - b.idx
		})
		p.front = slices.Insert(p.front, i, pt)
		p.mu.Unlock()
		p.signal()
		return
	}
	// The freed slot matters only to a dispatcher with a part to send:
	// waking an idle one costs it a turn for nothing, once per message.
	waiting := p.cur != nil || len(p.queue) > 0 || len(p.front) > 0
	p.mu.Unlock()
	res := PartResult{MessageID: r.MessageID, Status: r.Status, Err: r.Err, Latency: r.Latency}
	if refused {
		// Closing: the dispatcher is gone or going, nobody would resend it.
		res.Err = ErrClosed
	}
	p.finish(pt, res)
	if waiting {
		p.signal()
	}
}

// onLate runs on a session's read loop when a part timed out and its
// response came after all. While the part's message is still being sent
// the response simply replaces the timeout in its result; once Submit has
// returned it goes to OnLateResult.
func (p *Pool) onLate(pt *part, r Result) {
	j := pt.job
	res := PartResult{MessageID: r.MessageID, Status: r.Status, Latency: r.Latency}
	p.mu.Lock()
	res.Attempts = pt.attempts
	folded := true
	switch {
	case !pt.ended:
		pt.late = &res // its timeout is still on its way to finish
	case j.left > 0:
		j.res.Parts[pt.idx] = res // Submit still waits for other parts
	default:
		folded = false
	}
	// The response freed a window slot the dispatcher may be waiting for.
	waiting := p.cur != nil || len(p.queue) > 0 || len(p.front) > 0
	p.mu.Unlock()
	if folded {
		p.lateFolded.Add(1)
	} else {
		p.lateHanded.Add(1)
		if p.cfg.OnLateResult != nil {
			p.cfg.OnLateResult(LateResult{Ref: j.ref, Part: pt.idx, Parts: len(j.parts), Result: res})
		}
	}
	if waiting {
		p.signal()
	}
}

func (p *Pool) failQueued() {
	p.mu.Lock()
	parts := append(p.front, p.queue...)
	p.front, p.queue = nil, nil
	p.mu.Unlock()
	for _, pt := range parts {
		p.finish(pt, PartResult{Err: ErrClosed})
	}
}

// runBind keeps one bind up, reconnecting with capped exponential backoff
// and jitter. A failure is logged when it differs from the previous one, not
// on every try.
func (p *Pool) runBind(slot *bindSlot) {
	attempt := 0
	for p.bindCtx.Err() == nil {
		s, err := p.connect(slot.receiver)
		if err != nil {
			p.bindFailed(slot, err)
			attempt++
			if sleep(p.bindCtx, backoff(attempt, p.cfg.ReconnectMin, p.cfg.ReconnectMax)) != nil {
				return
			}
			continue
		}
		attempt = 0
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			s.Close(context.Background())
			return
		}
		slot.sess = s
		recovered := slot.failing
		slot.failing, slot.lastErr = false, ""
		p.mu.Unlock()
		if recovered {
			p.log.Info("bind up again", "bind", slot.idx, "receiver", slot.receiver)
		} else {
			p.log.Info("bound", "bind", slot.idx, "receiver", slot.receiver, "addr", p.cfg.Addr)
		}
		p.signal()
		<-s.Done()
		ended := s.Stats()
		p.mu.Lock()
		slot.past = slot.past.plus(ended)
		slot.sess = nil
		slot.reconnects++
		closed := p.closed
		p.mu.Unlock()
		if closed {
			return
		}
		p.bindFailed(slot, s.Err())
		if sleep(p.bindCtx, backoff(1, p.cfg.ReconnectMin, p.cfg.ReconnectMax)) != nil {
			return
		}
	}
}

func (p *Pool) bindFailed(slot *bindSlot, err error) {
	p.mu.Lock()
	msg := err.Error()
	changed := msg != slot.lastErr
	slot.lastErr, slot.failing = msg, true
	p.mu.Unlock()
	if changed {
		p.log.Warn("bind down", "bind", slot.idx, "receiver", slot.receiver, "err", err)
	} else {
		p.log.Debug("bind still down", "bind", slot.idx, "receiver", slot.receiver, "err", err)
	}
}

func (p *Pool) connect(receiver bool) (*Session, error) {
	ctx, cancel := context.WithTimeout(p.bindCtx, p.cfg.Session.BindTimeout+10*time.Second)
	defer cancel()
	var conn net.Conn
	var err error
	switch {
	case p.cfg.Dial != nil:
		conn, err = p.cfg.Dial(ctx, p.cfg.Addr)
	case p.cfg.TLS != nil:
		d := &tls.Dialer{Config: p.cfg.TLS}
		conn, err = d.DialContext(ctx, "tcp", p.cfg.Addr)
	default:
		var d net.Dialer
		conn, err = d.DialContext(ctx, "tcp", p.cfg.Addr)
	}
	if err != nil {
		return nil, err
	}
	cfg := p.cfg.Session
	if receiver {
		cfg.BindType = Receiver
	}
	return Bind(ctx, conn, cfg)
}

// backoff is min·2^(attempt-1), capped, with ±20 % jitter so a carrier's
// binds do not all knock at once after an outage.
func backoff(attempt int, lo, hi time.Duration) time.Duration {
	d := lo
	for i := 1; i < attempt && d < hi; i++ {
		d *= 2
	}
	d = min(d, hi)
	j := float64(d) * 0.2
	return d + time.Duration((rand.Float64()*2-1)*j)
}

// Close stops taking messages, fails the ones not yet sent with ErrNotSent,
// waits (bounded by ctx) for outstanding submits to be answered, unbinds
// and closes.
func (p *Pool) Close(ctx context.Context) error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	p.mu.Unlock()
	p.stopDisp()
	<-p.dispDone
	p.stopBinds()
	p.mu.Lock()
	var sessions []*Session
	for _, b := range append(slices.Clone(p.binds), p.receivers...) {
		if b.sess != nil {
			sessions = append(sessions, b.sess)
		}
	}
	p.mu.Unlock()
	var wg sync.WaitGroup
	for _, s := range sessions {
		wg.Add(1)
		go func() { defer wg.Done(); s.Close(ctx) }()
	}
	wg.Wait()
	p.wg.Wait()
	return nil
}

// BindStats describes one bind of the pool.
type BindStats struct {
	Index      int
	Up         bool
	Reconnects int64
	LastError  string
	Session    SessionStats // zero while down
	// Total counts over every session the bind had (Prometheus counters:
	// they never go down when the bind reconnects); window fields as Session.
	Total SessionStats
}

// PoolStats is a snapshot of the pool for metrics and readiness.
type PoolStats struct {
	Name           string
	Queued         int     // parts waiting to be sent
	Paused         bool    // in a pause after 0x58/0x14
	Rate           float64 // segments/s in force; 0 when unlimited
	ThrottlePauses int64
	Resends        int64 // parts sent again after 0x58/0x14
	// LateFolded counts responses that came after their part's timeout
	// while the rest of its message was still out: the Submit result has
	// them. LateHanded counts those that came after Submit returned and
	// went to OnLateResult (when set).
	LateFolded, LateHanded int64
	BindsUp                int
	Binds                  []BindStats
	// Receivers are the receiver sessions of PoolConfig.Receivers.
	ReceiversUp int
	Receivers   []BindStats
}

// Stats returns a snapshot of the pool.
func (p *Pool) Stats() PoolStats {
	ts := p.thr.state()
	st := PoolStats{Name: p.cfg.Name, Paused: ts.Paused, Rate: ts.Rate, ThrottlePauses: ts.Pauses, Resends: p.resends.Load(),
		LateFolded: p.lateFolded.Load(), LateHanded: p.lateHanded.Load()}
	p.mu.Lock()
	st.Queued = len(p.queue) + len(p.front)
	type snap struct {
		b    BindStats
		s    *Session
		past SessionStats
	}
	snaps := make([]snap, 0, len(p.binds)+len(p.receivers))
	for _, b := range append(slices.Clone(p.binds), p.receivers...) {
		snaps = append(snaps, snap{BindStats{Index: b.idx, Up: b.sess != nil, Reconnects: b.reconnects, LastError: b.lastErr}, b.sess, b.past})
	}
	p.mu.Unlock()
	for i, sn := range snaps {
		up := 0
		if sn.s != nil {
			sn.b.Session = sn.s.Stats()
			up = 1
		}
		sn.b.Total = sn.past.plus(sn.b.Session)
		if i < len(p.binds) {
			st.BindsUp += up
			st.Binds = append(st.Binds, sn.b)
		} else {
			st.ReceiversUp += up
			st.Receivers = append(st.Receivers, sn.b)
		}
	}
	return st
}

// SetRate changes the carrier's rate while running (config reload).
func (p *Pool) SetRate(segmentsPerSecond float64, burst int) {
	p.thr.setRate(segmentsPerSecond, burst)
}
