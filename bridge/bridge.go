package bridge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"smppbridge/dlrmap"
	"smppbridge/smpp"
	"smppbridge/store"
)

// Sender is a carrier's SMPP pool (*smpp.Pool).
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
	Store         Store
	Carriers      []Carrier
	Accounts      []Account
	GroupLimit    int // recipients per message; default 10
	MaxTextLength int // characters; default 2048
	// CheckPassword verifies a password against a stored hash; credentials
	// are only ever held hashed.
	CheckPassword func(hash, password string) bool
	Logger        *slog.Logger
	Now           func() time.Time // default time.Now
	// RecordRetention is how long message records are kept (by receive
	// time); 0: for ever. Needs a store that is a RecordStore.
	RecordRetention time.Duration
	// RetentionInterval is how often expired records are swept; default 1m.
	RetentionInterval time.Duration
}

// Carrier is one SMPP carrier with its queue limits and routes.
type Carrier struct {
	Name               string
	Sender             Sender
	SegmentsPerSecond  float64
	QueueSeconds       int      // default 900
	QueueCapacity      int      // segments; default SegmentsPerSecond × QueueSeconds
	Routes             []string // destination prefixes ("+1", "+" for all)
	RouteAccounts      []string // when set, only these accounts use the carrier
	RouteFrom          []string // when set, only these from numbers use it
	Alphanumeric       bool     // accepts alphanumeric senders
	MediaAsLinks       bool     // media URLs are sent as links in the text; else media is refused
	Workers            int      // concurrent submits; default 64 (set to binds × window)
	RegisteredDelivery byte     // registered_delivery of submits: 1 asks for receipts; 0 (the zero value) none
	// ReceiptsPerSegment is which parts the carrier sends receipts for:
	// "all" ("" too), "first" or "last" (dlrmap.Aggregate).
	ReceiptsPerSegment string
	ReceiptIDFormat    dlrmap.IDFormat // relation of receipt ids to submit_sm_resp ids
	ReceiptTable       *dlrmap.Table   // per-carrier receipt mapping; nil: the defaults
	// ReceiptWait: a copy still without a terminal receipt this long after
	// it was sent fails with 9902 (5630 when a part's submit outcome stayed
	// unknown). 0: it waits for ever. Only with RegisteredDelivery set.
	ReceiptWait time.Duration
}

// Account is an API customer.
type Account struct {
	ID           string
	Credentials  []Credential
	Applications []Application
}

// Credential is an API user of an account; the password only as a hash.
type Credential struct {
	Username     string
	PasswordHash string
}

// Application owns numbers and receives their callbacks.
type Application struct {
	ID                 string
	CallbackURL        string
	InboundCallbackURL string
	CallbackUsername   string
	CallbackPassword   string
	Numbers            []string
	// ReceiptEvents are the status events wanted at CallbackURL
	// ("message-delivered", "message-failed"); nil: both.
	ReceiptEvents []string
}

// Bridge is the running messaging core.
type Bridge struct {
	opts     Options
	log      *slog.Logger
	now      func() time.Time
	store    Store
	accounts map[string]*account
	numbers  map[string]*application // number -> owner
	creds    map[string][]credRef    // username -> candidates
	auth     authCache
	carriers []*carrierQueue
	byName   map[string]*carrierQueue
	routes   []route

	mu      sync.Mutex
	closing bool

	compMu  sync.RWMutex // guards drained against outcomes racing Close
	drained bool

	runCtx context.Context
	stop   context.CancelFunc
	wg     sync.WaitGroup

	completions chan store.Completion
	completed   chan struct{}

	receipts ReceiptStore // nil: the store does not take receipts
	inSem    chan struct{}
	inWG     sync.WaitGroup
	cbNotify atomic.Pointer[func()]
}

type account struct {
	id   string
	apps map[string]*application
}

type application struct {
	Application
	accountID string
}

type credRef struct {
	accountID string
	hash      string
}

type route struct {
	prefix  string
	carrier *carrierQueue
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
	if opts.CheckPassword == nil {
		return nil, errors.New("bridge: no password checker")
	}
	b := &Bridge{
		opts: opts, log: opts.Logger, now: opts.Now, store: opts.Store,
		accounts: map[string]*account{}, numbers: map[string]*application{}, creds: map[string][]credRef{},
		byName: map[string]*carrierQueue{},
	}
	b.auth.init(10000)
	for _, a := range opts.Accounts {
		acc := &account{id: a.ID, apps: map[string]*application{}}
		b.accounts[a.ID] = acc
		for _, c := range a.Credentials {
			b.creds[c.Username] = append(b.creds[c.Username], credRef{accountID: a.ID, hash: c.PasswordHash})
		}
		for _, ap := range a.Applications {
			app := &application{Application: ap, accountID: a.ID}
			acc.apps[ap.ID] = app
			for _, n := range ap.Numbers {
				b.numbers[n] = app
			}
		}
	}
	for _, c := range opts.Carriers {
		if c.Sender == nil {
			return nil, fmt.Errorf("bridge: carrier %s has no sender", c.Name)
		}
		q := newCarrierQueue(c)
		b.carriers = append(b.carriers, q)
		b.byName[c.Name] = q
		for _, p := range c.Routes {
			b.routes = append(b.routes, route{prefix: p, carrier: q})
		}
	}
	// Longest prefix first; ties keep configuration order.
	sort.SliceStable(b.routes, func(i, j int) bool { return len(b.routes[i].prefix) > len(b.routes[j].prefix) })
	if rs, ok := opts.Store.(ReceiptStore); ok {
		b.receipts = rs
		rs.SetReceiptHooks(store.ReceiptHooks{Callbacks: b.receiptCallbacks, Added: b.notifyCallbacks})
	}
	b.inSem = make(chan struct{}, inboundConcurrency)
	b.runCtx, b.stop = context.WithCancel(context.Background())
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
		q := b.byName[it.Carrier]
		if it.FailCode != 0 || q == nil {
			if it.FailCode == 0 {
				it.FailCode = codeNoRoute
			}
			failed = append(failed, it)
			return nil
		}
		q.push(&it)
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
	if rs, ok := b.opts.Store.(RecordStore); ok && b.opts.RecordRetention > 0 {
		b.wg.Add(1)
		go func() { defer b.wg.Done(); b.retentionLoop(rs) }()
	}
	for _, q := range b.carriers {
		for i := 0; i < q.workers; i++ {
			b.wg.Add(1)
			go func() { defer b.wg.Done(); b.sendLoop(q) }()
		}
		if b.receipts != nil && q.RegisteredDelivery != 0 && q.ReceiptWait > 0 {
			b.wg.Add(1)
			go func() { defer b.wg.Done(); b.expireLoop(q) }()
		}
	}
}

// Close stops taking messages, lets in-flight submits finish (bounded by
// ctx) and leaves everything not yet sent in the store for the next start.
func (b *Bridge) Close(ctx context.Context) error {
	b.mu.Lock()
	b.closing = true
	b.mu.Unlock()
	for _, q := range b.carriers {
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
	out := make([]QueueStats, 0, len(b.carriers))
	for _, q := range b.carriers {
		q.mu.Lock()
		out = append(out, QueueStats{Carrier: q.name, Segments: q.segments, Capacity: q.capacity, Messages: len(q.high) + len(q.normal)})
		q.mu.Unlock()
	}
	return out
}
