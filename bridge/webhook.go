package bridge

// The webhook sender: it takes due jobs from the durable outbox, POSTs
// them to the applications' endpoints and records each outcome durably.
//
// Delivery (v2-api.md §2.1): POST, Content-Type application/json;
// charset=utf-8, User-Agent BandwidthAPI/v2, the job's body byte for byte,
// 10 s timeout. Any 2xx is success. Everything else is a failed attempt:
// 1xx/3xx/4xx/5xx, timeouts, connection and TLS errors. Redirects (3xx) are
// not followed: a receiver that moved must be reconfigured, and following
// a redirect would send event data (inbound text) to a URL nobody
// configured.
//
// HTTP Basic uses the RFC 7235 challenge flow: the first request carries no
// Authorization; a 401 with a WWW-Authenticate: Basic challenge, when the
// application has credentials, is answered at once by the same request with
// them (the same attempt), and the endpoint is remembered (in memory) as
// wanting credentials, so later requests to it carry them directly. A 401
// without a challenge, without configured credentials, or to the request
// that carried credentials, is a failed attempt. User info in a callback
// URL is ignored: credentials come from the application only.
//
// Retry schedule (RetryDelay): after the 1st failed attempt 30 s, after the
// 2nd 1 min, 3rd 2 min, 4th 4 min, then every 5 min, each ±20 % uniform
// jitter, until RetryFor (24 h) after the job was created; the last attempt
// is made at that deadline and, if it fails too, the job is dead-lettered.
// That is 292 attempts over 24 h at the nominal delays.
//
// Order and fairness: never-tried jobs always go before retries (the store
// returns them first). Requests in flight are limited per endpoint URL
// (ConcurrencyPerEndpoint) and in total (Concurrency); the dispatcher asks
// the store to pass over jobs of a saturated endpoint instead of waiting
// for it, so one slow or dead endpoint never holds up another's callbacks.
//
// Outcomes are written by one recorder goroutine that takes every outcome
// waiting at that moment into one store write (the store's group commit
// then shares an fsync among them). A job's claim is released only after
// its outcome was written, so one process does not send it twice while the
// write is pending; if the write fails, or the process dies first, the job
// is sent again: delivery is at least once, never lost.

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"smppbridge/store"
)

// WebhookOptions configures Webhooks. Zero values are the defaults.
type WebhookOptions struct {
	Outbox Outbox // required
	// Credentials returns an application's callback credentials for a
	// request to url (for example Bridge.CallbackCredentials). nil: no
	// application has any.
	Credentials func(appID, url string) (user, pass string, ok bool)
	// Client, when set, sends the requests (net/http; its CheckRedirect is
	// replaced so that redirects are never followed). Default: the
	// sender's own HTTP/1.1 client (callbackclient.go), and net/http for
	// URLs behind an HTTP(S)_PROXY.
	Client                 *http.Client
	Timeout                time.Duration // per request; default 10 s
	RetryFor               time.Duration // then dead-letter; default 24 h
	ConcurrencyPerEndpoint int           // requests in flight per URL; default 4
	Concurrency            int           // requests in flight in total; default max(64, 2×ConcurrencyPerEndpoint)
	// MaxBatch > 1 merges up to that many due jobs of the same application
	// and URL into one request whose body is one array of all their events;
	// they succeed or retry together. Default 1.
	MaxBatch int
	// PollInterval bounds how long a job added without Notify waits;
	// default 1 s.
	PollInterval time.Duration
	// Clock is the time for scheduling and the retry deadline (default
	// time.Now). With a fake clock, call Notify after moving it.
	Clock  func() time.Time
	Rand   func() float64 // jitter source in [0,1); default math/rand/v2
	Logger *slog.Logger   // nil: discard. Bodies and credentials are never logged.
	// OnAttempt, when set, is told of every delivery attempt (one request,
	// or two with a challenge): the application, how many jobs it carried,
	// whether it succeeded and how long it took. For metrics: it must be
	// cheap and must not block.
	OnAttempt func(appID string, jobs int, ok bool, took time.Duration)
	// OnDeadLetter, when set, is told of jobs dead-lettered (after their
	// outcome was written).
	OnDeadLetter func(appID string, jobs int)
	// DeadLetterRetention: dead-lettered jobs given up longer ago than this
	// are deleted (the outbox must be a DeadLetterStore); 0 keeps them for
	// ever. DeadLetterSweep is how often that is checked; default 1 h.
	DeadLetterRetention time.Duration
	DeadLetterSweep     time.Duration
}

// WebhookStats counts since NewWebhooks.
type WebhookStats struct {
	Delivered      int64         // jobs a receiver acknowledged with 2xx
	Requests       int64         // HTTP requests sent; a challenge resend counts
	FailedAttempts int64         // job attempts that failed (retried or dead-lettered)
	DeadLettered   int64         // jobs given up after RetryFor
	StoreErrors    int64         // outcome writes that failed (the jobs will be sent again)
	InFlight       int           // requests in flight now
	Latency        time.Duration // mean duration of successful requests
	MaxLatency     time.Duration
}

// Webhooks delivers the outbox's callbacks. Start runs it; Stop ends it.
type Webhooks struct {
	opts   WebhookOptions
	out    Outbox
	log    *slog.Logger
	client *http.Client    // opts.Client, and URLs behind a proxy
	cb     *callbackClient // nil when opts.Client is set
	now    func() time.Time

	wake     chan struct{} // buffer 1: Notify
	freed    chan struct{} // buffer 1: a finished request freed a slot
	work     chan *batch   // to an idle delivery goroutine; unbuffered
	stopc    chan struct{}
	results  chan result
	recorded chan struct{} // closed when the recorder is done
	finished chan struct{} // closed when Stop is done
	reqCtx   context.Context
	cancel   context.CancelFunc
	loop     sync.WaitGroup // the dispatcher
	readErr  string         // last outbox read error logged (dispatcher only)
	picker   dispatchPicker // dispatcher only
	sending  sync.WaitGroup // deliveries

	mu        sync.Mutex
	started   bool
	stopped   bool
	inflight  map[string]int // url -> requests in flight
	total     int
	wantsAuth map[string]bool   // url -> answered a Basic challenge
	lastErr   map[string]string // url -> last failure logged
	retryHint time.Time         // earliest retry written since the dispatcher last looked

	delivered, requests, failed, dead, storeErrs atomic.Int64
	latCount, latNanos, latMax                   atomic.Int64
}

type batch struct {
	app, url string
	jobs     []store.CallbackJob
}

type result struct {
	b   *batch
	err error // nil: delivered
	at  time.Time
	cut bool // cut short by Stop: not an attempt
}

// NewWebhooks checks opts and fills defaults.
func NewWebhooks(opts WebhookOptions) (*Webhooks, error) {
	if opts.Outbox == nil {
		return nil, errors.New("bridge: webhooks: no outbox")
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 10 * time.Second
	}
	if opts.RetryFor <= 0 {
		opts.RetryFor = 24 * time.Hour
	}
	if opts.ConcurrencyPerEndpoint <= 0 {
		opts.ConcurrencyPerEndpoint = 4
	}
	if opts.Concurrency <= 0 {
		// Room for other endpoints beside one at its limit, also when
		// that limit is configured above 64.
		opts.Concurrency = max(64, 2*opts.ConcurrencyPerEndpoint)
	}
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = 1
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = time.Second
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	if opts.Rand == nil {
		opts.Rand = rand.Float64
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	var client http.Client
	var cb *callbackClient
	if opts.Client != nil {
		client = *opts.Client
	} else {
		cb = newCallbackClient(opts.Timeout, opts.Concurrency, 2*opts.Concurrency)
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConns = 2 * opts.Concurrency
		// Many endpoint URLs may share one host: keep a connection per
		// request that can be in flight, or they are redialled each time.
		tr.MaxIdleConnsPerHost = opts.Concurrency
		// The default 4 KiB buffer splits a batch of 10 status events
		// (~4.3 KiB with headers) into two writes, and so two wake-ups of
		// the receiver; 32 KiB sends batches of up to ~70 events whole.
		tr.WriteBufferSize = 32 << 10
		// Reply bodies are drained unread: asking for gzip would only
		// add a header and decompress what is thrown away.
		tr.DisableCompression = true
		// HTTP/1.1 only, as the own client: an https endpoint reached
		// through a proxy gets the same protocol as one reached directly.
		// The clone's TLS config already offers h2 (Clone set up
		// DefaultTransport's HTTP/2), so its ALPN list is replaced too, or
		// an endpoint would pick h2 and be spoken HTTP/1.1 to.
		tr.Protocols = new(http.Protocols)
		tr.Protocols.SetHTTP1(true)
		tr.TLSClientConfig = &tls.Config{NextProtos: []string{"http/1.1"}}
		client.Transport = tr
	}
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	w := &Webhooks{
		opts: opts, out: opts.Outbox, log: opts.Logger, client: &client, cb: cb, now: opts.Clock,
		wake: make(chan struct{}, 1), freed: make(chan struct{}, 1), work: make(chan *batch), stopc: make(chan struct{}), results: make(chan result, 4096),
		recorded: make(chan struct{}), finished: make(chan struct{}),
		inflight: map[string]int{}, wantsAuth: map[string]bool{}, lastErr: map[string]string{},
	}
	w.reqCtx, w.cancel = context.WithCancel(context.Background())
	return w, nil
}

// RetryDelay is the wait after a job's nth failed attempt (n ≥ 1): 30 s,
// 1 min, 2 min, 4 min, then 5 min, scaled by 0.8 + 0.4·r for r in [0,1)
// (±20 % jitter; r = 0.5 gives the nominal delay).
func RetryDelay(n int, r float64) time.Duration {
	d := 5 * time.Minute
	if n >= 1 && n <= 4 {
		d = 30 * time.Second << (n - 1)
	}
	return time.Duration(float64(d) * (0.8 + 0.4*r))
}

// Start runs the dispatcher and the recorder. It does nothing after Stop
// or when already started.
func (w *Webhooks) Start() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.started || w.stopped {
		return
	}
	w.started = true
	w.loop.Add(1)
	go func() { defer w.loop.Done(); w.run() }()
	go w.record()
	if dl, ok := w.out.(DeadLetterStore); ok && w.opts.DeadLetterRetention > 0 {
		w.loop.Add(1)
		go func() { defer w.loop.Done(); w.expireDeadLetters(dl) }()
	}
}

// expireDeadLetters deletes dead-lettered jobs older than the retention,
// in bounded passes, until Stop.
func (w *Webhooks) expireDeadLetters(dl DeadLetterStore) {
	every := w.opts.DeadLetterSweep
	if every <= 0 {
		every = time.Hour
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		total := 0
		for more, pass := true, 0; more && pass < 1000; pass++ {
			select {
			case <-w.stopc:
				return
			default:
			}
			var n int
			var err error
			if n, more, err = dl.ExpireDeadCallbacks(w.now().Add(-w.opts.DeadLetterRetention), 1000); err != nil {
				w.log.Error("cannot delete expired dead-lettered callbacks", "err", err)
				break
			}
			total += n
		}
		if total > 0 {
			w.log.Info("dead-lettered callbacks past their retention deleted", "count", total)
		}
		select {
		case <-w.stopc:
			return
		case <-t.C:
		}
	}
}

// Notify wakes the dispatcher: call it after adding jobs (Add does) or
// after moving a fake Clock. It never blocks.
func (w *Webhooks) Notify() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// Add stores jobs durably and wakes the dispatcher.
func (w *Webhooks) Add(jobs ...store.CallbackJob) error {
	if err := w.out.AddCallbacks(jobs); err != nil {
		return err
	}
	w.Notify()
	return nil
}

// Stop stops taking jobs and waits for requests in flight and for their
// outcomes to be written. When ctx ends first, requests still in flight are
// cancelled and their jobs stay due, not counting the attempt. Jobs not yet
// sent stay in the outbox for the next Start. Stop is idempotent.
func (w *Webhooks) Stop(ctx context.Context) error {
	w.mu.Lock()
	if w.stopped {
		w.mu.Unlock()
		select {
		case <-w.finished:
		case <-ctx.Done():
		}
		return nil
	}
	w.stopped = true
	started := w.started
	w.mu.Unlock()
	defer close(w.finished)
	close(w.stopc)
	if !started {
		w.cancel()
		return nil
	}
	w.loop.Wait() // no new deliveries after this
	done := make(chan struct{})
	go func() { w.sending.Wait(); close(done) }()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		w.cancel()
		<-done
		err = ctx.Err()
	}
	close(w.results)
	<-w.recorded
	w.cancel()
	if w.cb != nil {
		w.cb.closeIdle(true)
		// The net/http transport (URLs behind a proxy) is ours too: its
		// kept-alive connections would stay open for its idle timeout.
		w.client.CloseIdleConnections()
	}
	return err
}

// Stats returns the counters.
func (w *Webhooks) Stats() WebhookStats {
	w.mu.Lock()
	inflight := w.total
	w.mu.Unlock()
	s := WebhookStats{Delivered: w.delivered.Load(), Requests: w.requests.Load(), FailedAttempts: w.failed.Load(),
		DeadLettered: w.dead.Load(), StoreErrors: w.storeErrs.Load(), InFlight: inflight, MaxLatency: time.Duration(w.latMax.Load())}
	if n := w.latCount.Load(); n > 0 {
		s.Latency = time.Duration(w.latNanos.Load() / n)
	}
	return s
}

// --- dispatcher ---

// run is the dispatcher. Its timer is set for the next retry: read from the
// store at start, when the timer fires and on each poll, and otherwise
// lowered by the retry times the recorder writes (the only source of new
// ones), so a wake-up after a finished request costs one store read, or
// none when the last read took every due job: then a freed slot has
// nothing to send, as new jobs come with Notify (or the poll), retries
// with the recorder's hint and the timer.
func (w *Webhooks) run() {
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	var timerAt time.Time // zero: no timer
	setTimer := func(at time.Time) {
		timerAt = at
		timer.Reset(max(at.Sub(w.now()), 0))
	}
	poll := time.NewTicker(w.opts.PollInterval)
	defer poll.Stop()
	reread := true
	var now time.Time
	ok, tookAll := false, false
	for {
		now, ok, tookAll = w.dispatch()
		if reread && ok {
			reread = false
			at, due, err := w.out.NextCallbackDue(now)
			switch {
			case err != nil:
				w.readFailed(err)
				reread = true
				setTimer(now.Add(time.Second))
			case due:
				setTimer(at)
			default:
				timer.Stop()
				timerAt = time.Time{}
			}
		}
		w.mu.Lock()
		hint := w.retryHint
		w.retryHint = time.Time{}
		w.mu.Unlock()
		if !hint.IsZero() && (timerAt.IsZero() || hint.Before(timerAt)) {
			setTimer(hint)
		}
	wait:
		select {
		case <-w.stopc:
			timer.Stop()
			return
		case <-w.freed:
			if tookAll {
				goto wait
			}
		case <-w.wake:
		case <-timer.C:
			timerAt = time.Time{}
			reread = true
		case <-poll.C:
			reread = true
			if w.cb != nil {
				w.cb.closeIdle(false)
			}
		}
	}
}

// dispatch starts requests for every due job it has room for. It returns
// the time it used, false when the outbox could not be read, and whether it
// took every job due and not claimed (none was passed over for want of
// room).
func (w *Webhooks) dispatch() (now time.Time, ok, tookAll bool) {
	now = w.now()
	p := &w.picker
	if p.fn == nil {
		p.fn, p.used, p.room = p.pick, map[string]int{}, map[endpointID]int{}
	}
	w.mu.Lock()
	p.free = w.opts.Concurrency - w.total
	clear(p.used)
	for url, n := range w.inflight {
		p.used[url] = n
	}
	w.mu.Unlock()
	if p.free <= 0 {
		return now, true, false
	}
	maxBatch := w.opts.MaxBatch
	p.perEP, p.maxBatch = w.opts.ConcurrencyPerEndpoint, maxBatch
	p.passedOver, p.roomTotal = false, 0
	clear(p.room)
	limit := p.free * maxBatch
	jobs, err := w.out.NextCallbacks(now, limit, p.fn)
	if err != nil {
		w.readFailed(err)
		return now, false, false
	}
	tookAll = !p.passedOver && len(jobs) < limit
	w.readErr = ""
	batches := groupBatches(jobs, maxBatch)
	for i := range batches {
		b := &batches[i]
		w.mu.Lock()
		w.inflight[b.url]++
		w.total++
		w.mu.Unlock()
		w.startDelivery(b)
	}
	return now, true, tookAll
}

// dispatchPicker chooses, job by job, what one dispatch takes from the
// outbox (store.Pick). The dispatcher keeps it across calls: its maps are
// cleared, not made, and its pick func bound once, so a dispatch allocates
// none of them.
type dispatchPicker struct {
	free, perEP, maxBatch int
	passedOver            bool
	used                  map[string]int     // requests in flight per URL, those started here included
	room                  map[endpointID]int // jobs the batch being filled can still take
	roomTotal             int
	fn                    func(app, url string) store.Pick // pick
}

func (p *dispatchPicker) pick(app, url string) store.Pick {
	key := endpointID{app, url} // no string built per job
	if p.room[key] > 0 {
		p.room[key]--
		p.roomTotal--
		return store.PickTake
	}
	if p.free == 0 {
		p.passedOver = true
		if p.roomTotal == 0 {
			return store.PickStop
		}
		return store.PickSkip
	}
	if p.used[url] >= p.perEP {
		p.passedOver = true
		return store.PickSkip // saturated: pass over, do not wait
	}
	p.used[url]++
	p.free--
	p.room[key] = p.maxBatch - 1
	p.roomTotal += p.maxBatch - 1
	return store.PickTake
}

// readFailed logs an outbox read error when it differs from the last one
// (the dispatcher retries at every wake-up and poll).
func (w *Webhooks) readFailed(err error) {
	if msg := err.Error(); msg != w.readErr {
		w.readErr = msg
		w.log.Error("cannot read the callback outbox", "err", err)
	}
}

// endpointID is an application's callback URL.
type endpointID struct{ app, url string }

// groupBatches splits jobs, in order, into requests of up to maxBatch jobs
// of the same application and URL, the way dispatch's pick counted them.
// The batches share one array of jobs: jobs itself when each batch's jobs
// are already next to each other (one endpoint, the usual case), else one
// copy in batch order; the batches are one array too.
func groupBatches(jobs []store.CallbackJob, maxBatch int) []batch {
	if len(jobs) == 0 {
		return nil
	}
	maxBatch = max(maxBatch, 1)
	least := (len(jobs) + maxBatch - 1) / maxBatch // batches for one endpoint
	out := make([]batch, 0, least)
	sizes := make([]int, 0, least) // jobs per batch
	var batchOfBuf [128]int32
	batchOf := batchOfBuf[:0]    // each job's batch, for the copy
	open := map[endpointID]int{} // the batch being filled, by endpoint
	prev, contiguous := -1, true
	for i := range jobs {
		j := &jobs[i]
		g := -1
		if prev >= 0 && out[prev].app == j.ApplicationID && out[prev].url == j.URL {
			g = prev // the endpoint of the job before: no map lookup
		} else if k, ok := open[endpointID{j.ApplicationID, j.URL}]; ok {
			g = k
		}
		if g < 0 || sizes[g] >= maxBatch {
			out = append(out, batch{app: j.ApplicationID, url: j.URL})
			sizes = append(sizes, 0)
			g = len(out) - 1
			open[endpointID{j.ApplicationID, j.URL}] = g
		}
		if contiguous && g != prev && (g != prev+1 || sizes[g] != 0) {
			// The first job out of batch order: the jobs before it were
			// in order, so their batches follow from the sizes so far.
			contiguous = false
			for k := range out {
				for range sizes[k] {
					batchOf = append(batchOf, int32(k))
				}
			}
		}
		sizes[g]++
		if !contiguous {
			batchOf = append(batchOf, int32(g))
		}
		prev = g
	}
	if contiguous {
		start := 0
		for g := range out {
			end := start + sizes[g]
			out[g].jobs = jobs[start:end:end]
			start = end
		}
		return out
	}
	all := make([]store.CallbackJob, len(jobs))
	start := 0
	for g := range out {
		out[g].jobs = all[start : start : start+sizes[g]] // capped: appends stay in the batch's part
		start += sizes[g]
	}
	for i := range jobs {
		b := &out[batchOf[i]]
		b.jobs = append(b.jobs, jobs[i])
	}
	return out
}

// requestIDs is the log attribute naming the API requests that caused the
// batch's callbacks: request_id for one, request_ids for several (at most
// 10 listed).
func (b *batch) requestIDs() slog.Attr {
	if len(b.jobs) == 1 {
		return slog.String("request_id", b.jobs[0].RequestID)
	}
	var ids []string
	for _, j := range b.jobs {
		if j.RequestID != "" && len(ids) < 10 {
			ids = append(ids, j.RequestID)
		}
	}
	return slog.Any("request_ids", ids)
}

// body is the request body: the job's own, or for several jobs one array
// of all their events.
func (b *batch) body() []byte {
	if len(b.jobs) == 1 {
		return b.jobs[0].Body
	}
	return b.appendBody(make([]byte, 0, b.bodyLen())) // sized once: growing it cost more than the copying
}

// bodyLen is len(b.body()).
func (b *batch) bodyLen() int {
	if len(b.jobs) == 1 {
		return len(b.jobs[0].Body)
	}
	n, parts := 2, 0
	for _, j := range b.jobs {
		if in := innerEvents(j.Body); len(in) > 0 {
			n += len(in)
			parts++
		}
	}
	return n + max(parts-1, 0)
}

// appendBody appends b.body() to dst: the callback client writes it
// straight into its request buffer.
func (b *batch) appendBody(dst []byte) []byte {
	if len(b.jobs) == 1 {
		return append(dst, b.jobs[0].Body...)
	}
	dst = append(dst, '[')
	first := true
	for _, j := range b.jobs {
		in := innerEvents(j.Body)
		if len(in) == 0 {
			continue
		}
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = append(dst, in...)
	}
	return append(dst, ']')
}

// innerEvents is a job body's array without its brackets and the space
// around them.
func innerEvents(body []byte) []byte {
	in := bytes.TrimSpace(body)
	if len(in) >= 2 && in[0] == '[' && in[len(in)-1] == ']' {
		in = bytes.TrimSpace(in[1 : len(in)-1])
	}
	return in
}

// --- delivery ---

// deliveryIdle is how long a delivery goroutine waits for the next batch
// before it ends.
const deliveryIdle = 2 * time.Second

// startDelivery hands b to an idle delivery goroutine, or starts one: a
// goroutine per request would grow its stack deep in net/http every time.
// The number of goroutines follows the requests in flight (Concurrency).
func (w *Webhooks) startDelivery(b *batch) {
	w.sending.Add(1)
	select {
	case w.work <- b:
		return
	default:
	}
	go w.deliverLoop(b)
}

// deliverLoop delivers b, then the batches handed to it, until it has been
// idle for deliveryIdle or Stop.
func (w *Webhooks) deliverLoop(b *batch) {
	idle := time.NewTimer(deliveryIdle)
	defer idle.Stop()
	for {
		w.deliver(b)
		idle.Reset(deliveryIdle)
		select {
		case b = <-w.work:
		case <-idle.C:
			return
		case <-w.stopc:
			return
		}
	}
}

func (w *Webhooks) deliver(b *batch) {
	defer w.sending.Done()
	t := time.Now()
	err := w.post(b)
	if w.opts.OnAttempt != nil && w.reqCtx.Err() == nil {
		w.opts.OnAttempt(b.app, len(b.jobs), err == nil, time.Since(t))
	}
	if err == nil {
		d := int64(time.Since(t))
		w.latCount.Add(1)
		w.latNanos.Add(d)
		for {
			m := w.latMax.Load()
			if d <= m || w.latMax.CompareAndSwap(m, d) {
				break
			}
		}
		w.delivered.Add(int64(len(b.jobs)))
	}
	// The slot is freed once the outcome is queued for recording, so a
	// slow disk slows sending instead of piling up outcomes.
	w.results <- result{b: b, err: err, at: w.now(), cut: err != nil && w.reqCtx.Err() != nil}
	w.mu.Lock()
	if w.inflight[b.url]--; w.inflight[b.url] <= 0 {
		delete(w.inflight, b.url)
	}
	w.total--
	w.mu.Unlock()
	select {
	case w.freed <- struct{}{}:
	default:
	}
}

// statusError is a reply other than 2xx.
type statusError struct {
	code   int
	detail string
}

func (e *statusError) Error() string {
	if e.detail == "" {
		return fmt.Sprintf("HTTP %d", e.code)
	}
	return fmt.Sprintf("HTTP %d: %s", e.code, e.detail)
}

// post makes one delivery attempt, the challenge resend included. nil
// means a 2xx.
func (w *Webhooks) post(b *batch) error {
	appID, url := b.app, b.url
	var user, pass string
	var have bool
	if w.opts.Credentials != nil {
		user, pass, have = w.opts.Credentials(appID, url)
	}
	w.mu.Lock()
	withAuth := have && w.wantsAuth[url]
	w.mu.Unlock()
	code, challenge, err := w.do(b, withAuth, user, pass)
	if err != nil {
		return err
	}
	if code == http.StatusUnauthorized && !withAuth && challenge && have {
		w.mu.Lock()
		if len(w.wantsAuth) >= 10000 {
			clear(w.wantsAuth) // bounded; endpoints challenge once more
		}
		w.wantsAuth[url] = true
		w.mu.Unlock()
		withAuth = true
		if code, _, err = w.do(b, true, user, pass); err != nil {
			return err
		}
	}
	switch {
	case code >= 200 && code < 300:
		return nil
	case code == http.StatusUnauthorized && withAuth:
		return &statusError{code, "credentials refused"}
	case code == http.StatusUnauthorized && !challenge:
		return &statusError{code, "no Basic challenge"}
	case code == http.StatusUnauthorized:
		return &statusError{code, "Basic challenge, but the application has no callback credentials"}
	case code >= 300 && code < 400:
		return &statusError{code, "redirects are not followed"}
	case code == http.StatusProxyAuthRequired:
		// From the HTTP(S)_PROXY proxy or one in front of the endpoint:
		// say so, never the credentials.
		return &statusError{code, "a proxy on the way refused its credentials (HTTP(S)_PROXY or one before the endpoint)"}
	}
	return &statusError{code: code}
}

// do sends one request and returns the status and whether the reply
// carries a Basic challenge.
func (w *Webhooks) do(b *batch, withAuth bool, user, pass string) (int, bool, error) {
	url := b.url
	if w.cb != nil {
		if t := w.cb.target(url); !t.std {
			if t.err != nil {
				return 0, false, t.err
			}
			auth := ""
			if withAuth {
				auth = basicAuth(user, pass)
			}
			w.requests.Add(1)
			code, challenge, err := w.cb.post(w.reqCtx, t, b, auth)
			if errors.Is(err, errCallbackTimeout) {
				return 0, false, fmt.Errorf("timeout after %v", w.opts.Timeout)
			}
			return code, challenge, err
		}
	}
	ctx, cancel := context.WithTimeout(w.reqCtx, w.opts.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(b.body()))
	if err != nil {
		return 0, false, fmt.Errorf("bad callback URL: %w", unwrapURLError(err))
	}
	// net/http would turn user info in the URL into an Authorization
	// header on the first request; credentials come from the application
	// and only after a challenge.
	req.URL.User = nil
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set("User-Agent", "BandwidthAPI/v2")
	if withAuth {
		req.SetBasicAuth(user, pass)
	}
	w.requests.Add(1)
	resp, err := w.client.Do(req)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) && w.reqCtx.Err() == nil {
			return 0, false, fmt.Errorf("timeout after %v", w.opts.Timeout)
		}
		return 0, false, unwrapURLError(err)
	}
	// Drain a little so the connection is reused; the body is ignored.
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		return resp.StatusCode, false, nil // only a 401 challenge matters
	}
	return resp.StatusCode, basicChallenge(resp.Header.Values("WWW-Authenticate")), nil
}

// unwrapURLError drops url.Error's "Post \"<url>\":" prefix: the URL is
// known, may carry secrets in its query, and goes into LastError.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// basicChallenge reports whether any WWW-Authenticate value offers the
// Basic scheme (a header may list several challenges).
func basicChallenge(values []string) bool {
	for _, v := range values {
		for _, part := range strings.Split(v, ",") {
			scheme, _, _ := strings.Cut(strings.TrimSpace(part), " ")
			if strings.EqualFold(scheme, "Basic") {
				return true
			}
		}
	}
	return false
}

// endpointForLog is a URL without user info, query or fragment.
func endpointForLog(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	u.User, u.RawQuery, u.ForceQuery, u.Fragment, u.RawFragment = nil, "", false, "", ""
	return u.String()
}

// --- recorder ---

// record writes outcomes: everything waiting at that moment in one go.
func (w *Webhooks) record() {
	defer close(w.recorded)
	pending := make([]result, 0, 4096)
	for r := range w.results {
		pending = append(pending[:0], r)
	drain:
		for len(pending) < cap(pending) {
			select {
			case r, ok := <-w.results:
				if !ok {
					break drain
				}
				pending = append(pending, r)
			default:
				break drain
			}
		}
		w.apply(pending)
	}
}

func (w *Webhooks) apply(rs []result) {
	// Listing each batch's request ids costs allocations the discarded
	// debug line does not need.
	debug := w.log.Enabled(context.Background(), slog.LevelDebug)
	var done, release []uint64
	var retry, dead []store.CallbackFailure
	var deadApps map[string]int // application -> jobs dead-lettered
	for _, r := range rs {
		b := r.b
		switch {
		case r.err == nil:
			for _, j := range b.jobs {
				done = append(done, j.ID)
			}
			w.noteRecovered(b)
			if debug {
				w.log.Debug("callback delivered", "app", b.app, "jobs", len(b.jobs), b.requestIDs())
			}
			continue
		case r.cut:
			for _, j := range b.jobs {
				release = append(release, j.ID)
			}
			continue
		}
		msg := r.err.Error()
		w.failed.Add(int64(len(b.jobs)))
		n := 0
		for _, j := range b.jobs {
			n = max(n, j.Attempts+1)
		}
		next := r.at.Add(RetryDelay(n, w.opts.Rand())) // the batch retries together
		nDead := len(dead)
		for _, j := range b.jobs {
			deadline := j.Created.Add(w.opts.RetryFor)
			if !r.at.Before(deadline) {
				dead = append(dead, store.CallbackFailure{ID: j.ID, At: r.at, Error: msg})
				continue
			}
			at := next
			if at.After(deadline) {
				at = deadline // the last attempt is made at the deadline
			}
			retry = append(retry, store.CallbackFailure{ID: j.ID, At: at, Error: msg})
		}
		if k := len(dead) - nDead; k > 0 {
			if deadApps == nil {
				deadApps = map[string]int{}
			}
			deadApps[b.app] += k
			w.log.Warn("callbacks dead-lettered", "app", b.app, "endpoint", endpointForLog(b.url), "jobs", k, b.requestIDs(),
				"callback_id", dead[nDead].ID, "attempts", n, "err", msg)
		}
		w.noteFailure(b, msg, n)
	}
	if len(release) > 0 {
		w.out.ReleaseCallbacks(release)
	}
	// Concurrent writes share one commit; a lone write (usually "done")
	// needs no goroutine of its own.
	kinds := 0
	for _, n := range [...]int{len(done), len(retry), len(dead)} {
		if n > 0 {
			kinds++
		}
	}
	var wg sync.WaitGroup
	write := func(what string, n int, fn func() error) {
		if n == 0 {
			return
		}
		run := func() {
			if err := fn(); err != nil {
				w.storeErrs.Add(1)
				w.log.Error("cannot record callback outcomes; they will be sent again", "outcome", what, "jobs", n, "err", err)
			} else if what == "dead" {
				w.dead.Add(int64(n))
			}
		}
		if kinds == 1 {
			run()
			return
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			run()
		}()
	}
	write("done", len(done), func() error { return w.out.CallbackDone(done) })
	write("retry", len(retry), func() error {
		if err := w.out.CallbackFailed(retry); err != nil {
			return err
		}
		first := retry[0].At
		for _, f := range retry[1:] {
			if f.At.Before(first) {
				first = f.At
			}
		}
		w.mu.Lock()
		if w.retryHint.IsZero() || first.Before(w.retryHint) {
			w.retryHint = first
		}
		w.mu.Unlock()
		w.Notify() // so the dispatcher sets its timer
		return nil
	})
	write("dead", len(dead), func() error {
		if err := w.out.CallbackDead(dead); err != nil {
			return err
		}
		if w.opts.OnDeadLetter != nil {
			for app, n := range deadApps {
				w.opts.OnDeadLetter(app, n)
			}
		}
		return nil
	})
	wg.Wait()
}

// noteFailure logs an endpoint's failure when its error changed.
func (w *Webhooks) noteFailure(b *batch, msg string, attempt int) {
	w.mu.Lock()
	changed := w.lastErr[b.url] != msg
	if changed {
		if len(w.lastErr) >= 10000 {
			clear(w.lastErr)
		}
		w.lastErr[b.url] = msg
	}
	w.mu.Unlock()
	if changed {
		w.log.Warn("callback failed; will retry", "app", b.app, "endpoint", endpointForLog(b.url), "attempt", attempt, b.requestIDs(), "err", msg)
	}
}

func (w *Webhooks) noteRecovered(b *batch) {
	w.mu.Lock()
	_, was := w.lastErr[b.url]
	delete(w.lastErr, b.url)
	w.mu.Unlock()
	if was {
		w.log.Info("callback endpoint answers again", "app", b.app, "endpoint", endpointForLog(b.url), b.requestIDs())
	}
}
