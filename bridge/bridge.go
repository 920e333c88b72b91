package bridge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"smppbridge/dlrmap"
	"smppbridge/smpp"
	"smppbridge/store"
)

// Sender is a carrier's SMPP pool (*smpp.Pool). Submit must not keep m
// once it returns: a carrier's sender reuses it for the next message.
type Sender interface {
	Plan(text string) smpp.Plan
	Submit(ctx context.Context, m *smpp.Message) (smpp.SubmitResult, error)
}

// Store is the durable storage the bridge needs (*store.Store; a JetStream
// implementation can satisfy it later).
type Store interface {
	Enqueue(items []store.QueueItem) error
	Complete(cs []store.Completion) error
	LoadQueue(fn func(store.QueueItem) error) error
}

// Options configures a Bridge. cmd translates the configuration into it.
type Options struct {
	Store    Store
	Carriers []Carrier
	// Accounts are the configured accounts: the bootstrap of the live
	// directory (ApplyBootstrap).
	Accounts []Account
	// EmergencyNumbers are destinations that fail with 4492 (reject-emergency),
	// compared as digits without "+".
	EmergencyNumbers []string
	// HashPassword hashes a new API credential's secret (conf.HashPassword).
	HashPassword  func(password string) (string, error)
	GroupLimit    int // recipients per message; default 10
	MaxTextLength int // characters; default 2048
	// CheckPassword verifies a password against a stored hash; credentials
	// are only ever held hashed.
	CheckPassword func(hash, password string) bool
	Logger        *slog.Logger
	Now           func() time.Time // default time.Now
	// MOSweepInterval is how often incomplete inbound messages are checked
	// for their concatenation timeout; default a tenth of the shortest
	// carrier's MOConcatTimeout, between 1s and 30s.
	MOSweepInterval time.Duration
	// OnReceipt, when set, is told of every receipt recorded: its carrier,
	// mapped outcome and V2 code, and whether it matched a sent message on
	// arrival (unmatched ones are kept until their id is known; an
	// intermediate receipt, outcome Pending, is never looked up and comes
	// with matched false). For metrics: it must be cheap and must not block.
	OnReceipt func(carrier string, outcome dlrmap.Outcome, code int, matched bool)
	// RecordRetention is how long message records are kept (by receive
	// time); 0: for ever. Needs a store that is a RecordStore.
	RecordRetention time.Duration
	// RetentionInterval is how often expired records are swept; default 1m.
	RetentionInterval time.Duration
	// RemovedCarrierReceiptWait is the receipt wait for copies sent through
	// a carrier that is not configured at Start (removed before a restart):
	// they fail with 9902 this long after they were sent. Its own wait is no
	// longer known, and with no bind left no receipt can come for them.
	// Default DefaultReceiptWait.
	RemovedCarrierReceiptWait time.Duration
}

// DefaultReceiptWait is Options.RemovedCarrierReceiptWait by default: the
// configuration's default receipt_wait.
const DefaultReceiptWait = 2 * time.Hour

// Carrier is one SMPP carrier with its queue limits and routes.
type Carrier struct {
	Name              string
	Sender            Sender
	SegmentsPerSecond float64
	QueueSeconds      int      // default 900
	QueueCapacity     int      // segments; default SegmentsPerSecond × QueueSeconds
	Routes            []string // destination prefixes ("+1", "+" for all)
	RouteAccounts     []string // when set, only these accounts use the carrier
	RouteFrom         []string // when set, only these from numbers use it
	RouteClasses      []string // when set, only from numbers of these classes use it
	// ClassRates caps number classes (ClassA2P, …) at their own segments per
	// second inside the carrier's rate; a throttled class does not hold up
	// the others.
	ClassRates         map[string]float64
	Alphanumeric       bool // accepts alphanumeric senders
	MediaAsLinks       bool // media URLs are sent as links in the text; else media is refused
	Workers            int  // concurrent submits; default 64 (set to binds × window)
	RegisteredDelivery byte // registered_delivery of submits: 1 asks for receipts; 0 (the zero value) none
	// ReceiptsPerSegment is which parts the carrier sends receipts for:
	// "all" ("" too), "first" or "last" (dlrmap.Aggregate).
	ReceiptsPerSegment string
	ReceiptIDFormat    dlrmap.IDFormat // relation of receipt ids to submit_sm_resp ids
	ReceiptTable       *dlrmap.Table   // per-carrier receipt mapping; nil: the defaults
	// ReceiptWait: a copy still without a terminal receipt this long after
	// it was sent fails with 9902 (5630 when a part's submit outcome stayed
	// unknown). 0: it waits for ever. Only with RegisteredDelivery set.
	ReceiptWait time.Duration
	// MOConcatTimeout: a long inbound message still missing parts this
	// long after its first part arrived is delivered with the parts that
	// did (see handleMO). Default DefaultMOConcatTimeout.
	MOConcatTimeout time.Duration
	// MOGSM7Packed: inbound data_coding 0 is packed GSM-7 (8 septets in 7
	// octets); else one septet per octet.
	MOGSM7Packed bool
}

// Account is an API customer. The JSON form is how the directory is stored.
type Account struct {
	ID       string `json:"id"`
	Disabled bool   `json:"disabled,omitempty"` // its credentials are refused (403)
	// Countries are the E.164 country calling codes ("1", "44") the account
	// may send to; empty: every country. Others fail with 4432.
	Countries    []string      `json:"countries,omitempty"`
	Credentials  []Credential  `json:"credentials,omitempty"`
	Applications []Application `json:"applications,omitempty"`
	Origin       string        `json:"origin,omitempty"` // OriginConfig or OriginAPI
}

// Credential is an API user of an account; the password only as a hash.
type Credential struct {
	Username     string    `json:"username"`
	PasswordHash string    `json:"hash"`
	Created      time.Time `json:"created,omitzero"`
	Origin       string    `json:"origin,omitempty"`
}

// Application owns numbers and receives their callbacks.
type Application struct {
	ID                 string   `json:"id"`
	CallbackURL        string   `json:"callbackUrl,omitempty"`
	InboundCallbackURL string   `json:"inboundCallbackUrl,omitempty"`
	CallbackUsername   string   `json:"callbackUsername,omitempty"`
	CallbackPassword   string   `json:"callbackPassword,omitempty"` // sent to the receiver, so not hashable
	Numbers            []Number `json:"numbers,omitempty"`
	// ReceiptEvents are the status events wanted at CallbackURL
	// ("message-delivered", "message-failed"); nil: both.
	ReceiptEvents []string `json:"receiptEvents"`
	Origin        string   `json:"origin,omitempty"`
}

// Number is a number assigned to an application, with its class.
type Number struct {
	Number     string `json:"number"`
	Class      string `json:"class"`                // one of NumberClasses
	CampaignID string `json:"campaignId,omitempty"` // A2P campaign
	Origin     string `json:"origin,omitempty"`
}

// Bridge is the running messaging core.
type Bridge struct {
	opts  Options
	log   *slog.Logger
	now   func() time.Time
	store Store
	dir   dirState
	auth  authCache
	// anyHash is a configured hash: checked for unknown usernames too (auth.go).
	anyHash atomic.Pointer[string]
	// emergency are the destinations (digits, no "+") that fail with 4492.
	emergency map[string]bool
	// set is the carriers and routes in force; SetCarriers replaces it.
	set       atomic.Pointer[carrierSet]
	carrierMu sync.Mutex // serialises SetCarriers with Start and Close
	started   bool
	// orphans are the receipt expiries of carriers without a queue that
	// runs one (orphans.go); guarded by carrierMu.
	orphans map[string]*orphanExpiry
	// expirePassed, when set (tests), is told of every expiry pass.
	expirePassed func(carrier string, wait time.Duration)

	mu      sync.Mutex
	closing bool

	compMu  sync.RWMutex // guards drained against outcomes racing Close
	drained bool

	runCtx context.Context
	stop   context.CancelFunc
	wg     sync.WaitGroup

	completions chan store.Completion
	completed   chan struct{}

	receipts ReceiptStore     // nil: the store does not take receipts
	inSem    chan struct{}    // one token per inbound worker
	inWork   chan inboundWork // to an idle inbound worker; unbuffered
	inWG     sync.WaitGroup
	cbNotify atomic.Pointer[func()]

	moIncomplete atomic.Int64 // inbound messages delivered incomplete (concatenation timeout)

	outcomes                              *outcomeIDs  // receipts.go
	late                                  lateCounters // late.go
	receiptsPending, receiptsAfterOutcome atomic.Int64
}

type route struct {
	prefix   string
	carrier  *carrierQueue
	accounts []string // when set, only these accounts use the route
	from     []string // when set, only these from numbers use it
	classes  []string // when set, only from numbers of these classes use it
}

// New builds the bridge and reloads the durable queue. Start sends.
func New(opts Options) (*Bridge, error) {
	if opts.Store == nil {
		return nil, errors.New("bridge: no store")
	}
	if opts.GroupLimit <= 0 {
		opts.GroupLimit = 10
	}
	if opts.MaxTextLength <= 0 {
		opts.MaxTextLength = 2048
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.RetentionInterval <= 0 {
		opts.RetentionInterval = time.Minute
	}
	if opts.RemovedCarrierReceiptWait <= 0 {
		opts.RemovedCarrierReceiptWait = DefaultReceiptWait
	}
	if opts.CheckPassword == nil {
		return nil, errors.New("bridge: no password checker")
	}
	b := &Bridge{
		opts: opts, log: opts.Logger, now: opts.Now, store: opts.Store,
		emergency: map[string]bool{},
	}
	b.auth.init(10000, hashSlotsFor(runtime.GOMAXPROCS(0)))
	b.outcomes = newOutcomeIDs()
	for _, n := range opts.EmergencyNumbers {
		b.emergency[strings.TrimPrefix(n, "+")] = true
	}
	b.dir.store, _ = opts.Store.(DirectoryStore)
	if err := b.loadDirectory(); err != nil {
		return nil, err
	}
	if err := b.ApplyBootstrap(opts.Accounts); err != nil {
		return nil, fmt.Errorf("bridge: bootstrap directory: %w", err)
	}
	var queues []*carrierQueue
	for _, c := range opts.Carriers {
		if c.Sender == nil {
			return nil, fmt.Errorf("bridge: carrier %s has no sender", c.Name)
		}
		queues = append(queues, b.newQueue(c))
	}
	b.set.Store(newCarrierSet(opts.Carriers, queues))
	if rs, ok := opts.Store.(ReceiptStore); ok {
		b.receipts = rs
		rs.SetReceiptHooks(store.ReceiptHooks{Callbacks: b.receiptCallbacks, Added: b.notifyCallbacks})
	}
	b.inSem = make(chan struct{}, inboundConcurrency)
	b.inWork = make(chan inboundWork)
	b.runCtx, b.stop = context.WithCancel(context.Background())
	for _, q := range queues {
		q.ctx, q.cancel = context.WithCancel(b.runCtx)
	}
	b.completions, b.completed = make(chan store.Completion, 8192), make(chan struct{})
	go b.completeLoop()
	if err := b.reload(); err != nil {
		close(b.completions)
		<-b.completed
		return nil, err
	}
	return b, nil
}

// reload puts every message still in the store back into its carrier's
// queue: what was accepted before a restart is sent after it.
func (b *Bridge) reload() error {
	n := 0
	var failed []store.QueueItem
	err := b.store.LoadQueue(func(it store.QueueItem) error {
		n++
		q := b.set.Load().byName[it.Carrier]
		if it.FailCode != 0 || q == nil {
			if it.FailCode == 0 {
				it.FailCode = codeNoRoute
			}
			failed = append(failed, it)
			return nil
		}
		q.push(&it) // not closed: Start has not run
		q.mu.Lock()
		q.segments += it.Segments
		q.mu.Unlock()
		return nil
	})
	if err != nil {
		return fmt.Errorf("bridge: reload queue: %w", err)
	}
	if n > 0 {
		b.log.Info("queued messages reloaded", "count", n)
	}
	for i := range failed {
		b.fail(&failed[i], failed[i].FailCode)
	}
	return nil
}

// Start runs the carriers' senders and the record retention sweep.
func (b *Bridge) Start() {
	b.carrierMu.Lock()
	defer b.carrierMu.Unlock()
	b.started = true
	for _, q := range b.set.Load().list {
		b.startQueue(q)
	}
	if _, ok := b.store.(MOStore); ok {
		b.wg.Add(1)
		go func() { defer b.wg.Done(); b.moExpireLoop() }()
	}
	if rs, ok := b.opts.Store.(RecordStore); ok && b.opts.RecordRetention > 0 {
		b.wg.Add(1)
		go func() { defer b.wg.Done(); b.retentionLoop(rs) }()
	}
	b.adoptOrphans()
}

// startQueue runs a carrier's senders (and its receipt expiry).
func (b *Bridge) startQueue(q *carrierQueue) {
	for i := 0; i < q.workers; i++ {
		b.wg.Add(1)
		q.wg.Add(1)
		go func() { defer b.wg.Done(); defer q.wg.Done(); b.sendLoop(q) }()
	}
	if b.expires(q) {
		b.stopOrphan(q.name) // this queue's own wait takes over
		b.wg.Add(1)
		q.wg.Add(1)
		go func() { defer b.wg.Done(); defer q.wg.Done(); b.expireLoop(q.ctx, q.name, q.ReceiptWait, false) }()
	}
}

// Close stops taking messages, lets in-flight submits finish (bounded by
// ctx) and leaves everything not yet sent in the store for the next start.
func (b *Bridge) Close(ctx context.Context) error {
	b.mu.Lock()
	b.closing = true
	b.mu.Unlock()
	b.carrierMu.Lock() // no SetCarriers from here on: it would start senders
	defer b.carrierMu.Unlock()
	for _, q := range b.set.Load().list {
		q.close()
	}
	// Messages waiting for a bind, the throttle or a window slot give up
	// now and stay queued in the store; messages already going out (a
	// long one part-way) are finished by the pool and their outcome recorded.
	b.stop()
	done := make(chan struct{})
	go func() { b.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		// Outstanding submits end when the pools close (outcome unknown).
		<-done
	}
	b.compMu.Lock()
	if !b.drained {
		b.drained = true
		close(b.completions) // no sender is left: write the last outcomes
	}
	b.compMu.Unlock()
	<-b.completed
	return nil
}

// QueueStats is one carrier's queue.
type QueueStats struct {
	Carrier  string
	Segments int // queued or waiting for the carrier to take them
	Capacity int
	Messages int
}

// Queues reports each carrier's queue depth.
func (b *Bridge) Queues() []QueueStats {
	list := b.set.Load().list
	out := make([]QueueStats, 0, len(list))
	for _, q := range list {
		q.mu.Lock()
		out = append(out, QueueStats{Carrier: q.name, Segments: q.segments, Capacity: q.capacity, Messages: q.queuedLocked()})
		q.mu.Unlock()
	}
	return out
}
