// Package daemon wires smppbridge together: configuration into options,
// start-up order, the admin listener and the stop order. cmd/smppbridge
// runs it from flags and signals; tests and cmd/smppload run it in-process.
package daemon

import (
	"cmp"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"syscall"
	"time"

	"smppbridge/bridge"
	"smppbridge/conf"
	"smppbridge/dlrmap"
	"smppbridge/httpapi"
	"smppbridge/httpapi/admin"
	"smppbridge/smpp"
	"smppbridge/smpp/coding"
	"smppbridge/store"
	"smppbridge/testharness/smsc"
)

// Options are what Run needs besides the configuration file.
type Options struct {
	Config *conf.Config
	// Simulator, when set, is started in-process first and the carriers
	// named in SimulatorCarriers are pointed at it (the embedded default).
	Simulator         *smsc.Config
	SimulatorCarriers []string
	Logger            *slog.Logger
	// Ready is called once everything listens (tests, smppload).
	Ready func(*Daemon)
	// CallbackPollInterval and CallbackClock tune the webhook sender
	// (tests); zero: its defaults. With a CallbackClock, call
	// Webhooks.Notify after moving it.
	CallbackPollInterval time.Duration
	CallbackClock        func() time.Time
	// Clock and MOSweepInterval tune the bridge (tests): its time (message
	// times, receipt waits, MO concatenation timeouts) and how often
	// incomplete inbound messages are checked. Zero: the defaults.
	Clock           func() time.Time
	MOSweepInterval time.Duration
	// HashPassword hashes the secrets of API credentials created through
	// the admin API; nil: conf.HashPassword. Tests pass a cheaper one.
	HashPassword func(password string) (string, error)
	// RetentionInterval is how often expired message records are swept
	// (tests); zero: the bridge's default.
	RetentionInterval time.Duration
	// RemovedCarrierReceiptWait is the receipt wait of copies sent through
	// carriers no longer configured (tests); zero: conf.DefaultReceiptWait.
	RemovedCarrierReceiptWait time.Duration
}

// Daemon is a running smppbridge.
type Daemon struct {
	cfg    *conf.Config
	log    *slog.Logger
	Sim    *smsc.Server // nil unless embedded
	Store  *store.Store
	Bridge *bridge.Bridge
	// Pools are the carriers' SMPP pools; a reload replaces the slice
	// (read it with CurrentPools while running).
	Pools   []*smpp.Pool
	poolsMu sync.RWMutex
	metrics *metrics

	reloadMu sync.Mutex // serialises Reload and shutdown
	stopping bool
	// stopBegun ends when shutdown begins, before it waits for a reload in
	// progress: that reload then stops waiting for in-flight submits.
	stopBegun       context.Context
	cancelStopBegun context.CancelFunc
	// adminCreds are the admin listener's credentials; a reload replaces them.
	adminCreds *admin.Credentials
	carriers   map[string]*carrierRuntime // by name; Reload only
	opts       Options
	// Webhooks delivers the callback outbox.
	Webhooks *bridge.Webhooks
	api      *httpapi.Server
	admin    *http.Server
	adminL   net.Listener
}

// CurrentPools returns the carriers' pools in force (Reload replaces them).
func (d *Daemon) CurrentPools() []*smpp.Pool {
	d.poolsMu.RLock()
	defer d.poolsMu.RUnlock()
	return d.Pools
}

// HTTPAddr is the public API's listen address.
func (d *Daemon) HTTPAddr() string { return d.api.Addr() }

// ReloadDirectory applies the accounts of a (re-read, validated)
// configuration to the live directory: the bootstrap rules of
// bridge.ApplyBootstrap (docs/admin.md). For a SIGHUP reload.
func (d *Daemon) ReloadDirectory(cfg *conf.Config) error {
	accounts, err := bridgeAccounts(cfg)
	if err != nil {
		return err
	}
	return d.Bridge.ApplyBootstrap(accounts)
}

// Config is the configuration the daemon runs with.
func (d *Daemon) Config() *conf.Config { return d.cfg }

// AdminAddr is the admin listener's address.
func (d *Daemon) AdminAddr() string { return d.adminL.Addr().String() }

// Run starts the daemon and blocks until ctx ends, then stops it in order:
// HTTP intake, the bridge's senders (windows drain), the SMPP binds
// (unbind), the store.
func Run(ctx context.Context, opts Options) error {
	cfg := opts.Config
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	warnIgnoredProxies(log, os.Getenv)
	d := &Daemon{cfg: cfg, log: log, opts: opts}
	d.stopBegun, d.cancelStopBegun = context.WithCancel(context.Background())
	d.adminCreds = admin.NewCredentials(cfg.Admin.Username, cfg.Admin.PasswordHash, conf.CheckPassword)
	defer d.cancelStopBegun()
	d.metrics = newMetrics(d)
	var cleanups []func(context.Context)
	stopAll := func(ctx context.Context) {
		for i := len(cleanups) - 1; i >= 0; i-- {
			cleanups[i](ctx)
		}
	}
	fail := func(err error) error {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		stopAll(sctx)
		return err
	}

	if opts.Simulator != nil {
		sim, err := smsc.Start(*opts.Simulator)
		if err != nil {
			return fmt.Errorf("embedded simulator: %w", err)
		}
		d.Sim = sim
		cleanups = append(cleanups, func(context.Context) { sim.Close() })
		for i := range cfg.Carriers {
			for _, name := range opts.SimulatorCarriers {
				if cfg.Carriers[i].Name == name {
					cfg.Carriers[i].Address = sim.Addr()
				}
			}
		}
		log.Info("embedded SMSC simulator started", "smpp", sim.Addr())
	}

	// Before the store: opening a large one takes minutes, and a missing
	// certificate would only show after them.
	if err := CheckFiles(cfg, ""); err != nil {
		return fail(err)
	}
	// Likewise a listen address in use, which would otherwise show only
	// after the carriers bound: a restart loop (Restart=on-failure) would
	// bind and unbind them every time. The real listeners come later.
	for _, l := range []struct{ key, addr string }{{"http.listen", cfg.HTTP.Listen}, {"admin.listen", cfg.Admin.Listen}} {
		ln, err := net.Listen("tcp", l.addr)
		if err != nil {
			return fail(listenHint(l.key, err))
		}
		ln.Close()
	}
	st, err := store.Open(cfg.Store.Path, store.Options{NoSync: cfg.Store.NoSync, WAL: cfg.Store.WAL, CommitDelay: cfg.Store.CommitDelay.Std(), Logger: log,
		NormalizeID: dlrmap.NormalizeID, Aggregate: bridge.AggregateParts})
	if err != nil {
		return fail(storeOpenHint(err))
	}
	d.Store = st
	cleanups = append(cleanups, func(context.Context) {
		if err := st.Close(); err != nil {
			log.Error("closing the store", "err", err)
		}
	})

	// Stop order, the reverse of the cleanups: the bridge, the SMPP pools,
	// receipts still being written, the webhook sender, the store.
	var br *bridge.Bridge // set before any pool binds
	var wh *bridge.Webhooks
	cleanups = append(cleanups, func(ctx context.Context) {
		if wh != nil {
			if err := wh.Stop(ctx); err != nil {
				log.Warn("webhook sender stop", "err", err)
			}
		}
	})
	cleanups = append(cleanups, func(context.Context) {
		if br != nil {
			br.WaitInbound()
		}
	})

	var carriers []bridge.Carrier
	var pcs []smpp.PoolConfig
	for i := range cfg.Carriers {
		bc, pc, err := carrierOptions(&cfg.Carriers[i], log)
		if err != nil {
			return fail(err)
		}
		carriers = append(carriers, bc)
		pcs = append(pcs, pc)
	}
	// The bridge is built before the pools bind; the pools are its senders.
	senders := make([]*lazySender, len(carriers))
	for i := range carriers {
		senders[i] = &lazySender{}
		carriers[i].Sender = senders[i]
	}
	hashPassword := opts.HashPassword
	if hashPassword == nil {
		hashPassword = conf.HashPassword
	}
	accounts, err := bridgeAccounts(cfg)
	if err != nil {
		return fail(err)
	}
	br, err = bridge.New(bridge.Options{
		Store: st, Carriers: carriers, Accounts: accounts,
		GroupLimit: cfg.API.GroupLimit, MaxTextLength: cfg.API.MaxTextLength,
		CheckPassword: conf.CheckPassword, HashPassword: hashPassword, Logger: log, Now: opts.Clock,
		MOSweepInterval: opts.MOSweepInterval, OnReceipt: d.metrics.observeReceipt,
		EmergencyNumbers: cfg.Policy.EmergencyNumbers,
		RecordRetention:  cfg.Store.RecordRetention.Std(), RetentionInterval: opts.RetentionInterval,
		// The documented default, not the largest configured receipt_wait:
		// the removed carrier's own wait is gone with its table, no receipt
		// can come without its binds, and the other carriers' settings
		// should not decide when its messages are reported failed.
		RemovedCarrierReceiptWait: cmp.Or(opts.RemovedCarrierReceiptWait, conf.DefaultReceiptWait),
	})
	if err != nil {
		return fail(err)
	}
	d.Bridge = br
	wh, err = bridge.NewWebhooks(bridge.WebhookOptions{
		Outbox: st, Credentials: br.CallbackCredentials,
		Timeout: cfg.Callbacks.Timeout.Std(), RetryFor: cfg.Callbacks.RetryFor.Std(), DeadLetterRetention: cfg.Callbacks.DeadLetterRetention.Std(),
		MaxBatch: cfg.Callbacks.MaxBatch, ConcurrencyPerEndpoint: cfg.Callbacks.ConcurrencyPerEndpoint,
		PollInterval: opts.CallbackPollInterval, Clock: opts.CallbackClock, Logger: log,
		OnAttempt: d.metrics.observeCallback, OnDeadLetter: d.metrics.observeDead,
	})
	if err != nil {
		return fail(err)
	}
	d.Webhooks = wh
	br.SetCallbackNotify(wh.Notify)
	wh.Start()

	d.carriers = map[string]*carrierRuntime{}
	for i := range cfg.Carriers {
		c := &cfg.Carriers[i]
		pc := pcs[i]
		if carriers[i].RegisteredDelivery != 0 {
			pc.Session.Handler = br.InboundHandler(c.Name)
		}
		// A submit_sm_resp after response_timeout still records the id.
		pc.OnLateResult = br.LateResultHandler(c.Name)
		p := smpp.NewPool(pc)
		senders[i].Sender = p
		d.Pools = append(d.Pools, p)
		d.carriers[c.Name] = &carrierRuntime{conf: *c, pool: p, sender: senders[i]}
	}
	// The bridge's senders wait for the answers to submits already out;
	// those end only when their sessions do. Once the drain budget is
	// spent the pools close at once (the submits still unanswered become
	// outcome unknown), or the stop would take up to response_timeout more.
	poolsClosed := make(chan struct{})
	var stopPoolsAtDeadline func() bool
	cleanups = append(cleanups, func(ctx context.Context) {
		if stopPoolsAtDeadline != nil && !stopPoolsAtDeadline() {
			<-poolsClosed // closing since the deadline
			return
		}
		closePools(ctx, d.CurrentPools())
	})
	br.Start()
	cleanups = append(cleanups, func(ctx context.Context) {
		stopPoolsAtDeadline = context.AfterFunc(ctx, func() {
			closePools(ctx, d.CurrentPools())
			close(poolsClosed)
		})
		br.Close(ctx)
	})

	d.api = httpapi.New(br, httpapi.Options{
		Addr: cfg.HTTP.Listen, MaxBodyBytes: cfg.HTTP.MaxBodyBytes, MaxHeaderBytes: cfg.HTTP.MaxHeaderBytes,
		ReadTimeout: cfg.HTTP.ReadTimeout.Std(), WriteTimeout: cfg.HTTP.WriteTimeout.Std(), IdleTimeout: cfg.HTTP.IdleTimeout.Std(),
		TLSCertFile: cfg.HTTP.TLSCertFile, TLSKeyFile: cfg.HTTP.TLSKeyFile, Logger: log,
		Observe:       d.metrics.observeHTTP,
		ListRateLimit: cfg.API.ListRateLimit, ListRateWindow: cfg.API.ListRateWindow.Std(),
	})
	if err := d.api.Listen(); err != nil {
		return fail(listenHint("http.listen", err))
	}
	var serveErr = make(chan error, 2)
	go func() { serveErr <- d.api.Serve() }()
	cleanups = append(cleanups, func(ctx context.Context) {
		if err := d.api.Shutdown(ctx); err != nil {
			log.Warn("HTTP shutdown", "err", err)
		}
	})

	d.adminL, err = net.Listen("tcp", cfg.Admin.Listen)
	if err != nil {
		return fail(listenHint("admin.listen", err))
	}
	d.admin = &http.Server{Handler: d.adminHandler(), ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second, WriteTimeout: 30 * time.Second}
	go func() {
		if err := d.admin.Serve(d.adminL); err != nil && !errors.Is(err, http.ErrServerClosed) {
			serveErr <- err
		}
	}()
	cleanups = append(cleanups, func(ctx context.Context) { d.admin.Shutdown(ctx) })

	log.Info("smppbridge running", "http", d.HTTPAddr(), "admin", d.AdminAddr(), "carriers", len(carriers))
	if opts.Ready != nil {
		opts.Ready(d)
	}
	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-serveErr:
		if runErr != nil {
			log.Error("listener failed", "err", runErr)
		}
	}
	log.Info("shutting down")
	d.cancelStopBegun()
	d.reloadMu.Lock() // a reload in progress finishes first (cut short: stopBegun); none starts after
	d.stopping = true
	d.reloadMu.Unlock()
	sctx, cancel := context.WithTimeout(context.Background(), cfg.API.ShutdownTimeout.Std())
	defer cancel()
	stopAll(sctx)
	log.Info("stopped")
	return runErr
}

// adminRoute is one endpoint of the admin listener.
type adminRoute struct {
	pattern string // http.ServeMux pattern: "METHOD /path"
	handler http.HandlerFunc
}

// adminRoutes is every admin endpoint; the mux is built from it, and
// AdminRoutes exposes its patterns to the security tests, so a route added
// here is covered by them.
func (d *Daemon) adminRoutes() []adminRoute {
	var metricsHandler http.Handler
	if d.metrics != nil {
		metricsHandler = d.metrics.handler()
	}
	return []adminRoute{
		{"GET /healthz", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") }},
		{"GET /readyz", func(w http.ResponseWriter, r *http.Request) {
			var down []string
			if err := d.Store.Health(); err != nil {
				down = append(down, err.Error()) // a full or failing disk: sends are refused
			}
			// A carrier needs a bind to send on and, with receiver binds
			// (transmitter_receiver), one to take its receipts and inbound
			// messages.
			for _, p := range d.CurrentPools() {
				st := p.Stats()
				if st.BindsUp == 0 {
					down = append(down, fmt.Sprintf("carrier %s: no bind up: %s", p.Name(), lastBindError(st.Binds)))
				}
				if len(st.Receivers) > 0 && st.ReceiversUp == 0 {
					down = append(down, fmt.Sprintf("carrier %s: no receiver bind up: %s", p.Name(), lastBindError(st.Receivers)))
				}
			}
			if len(down) > 0 {
				w.WriteHeader(http.StatusServiceUnavailable)
				for _, line := range down {
					fmt.Fprintln(w, line)
				}
				return
			}
			fmt.Fprintln(w, "ready")
		}},
		{"GET /metrics", func(w http.ResponseWriter, r *http.Request) {
			if metricsHandler == nil {
				http.NotFound(w, r)
				return
			}
			metricsHandler.ServeHTTP(w, r)
		}},
	}
}

// lastBindError is why binds are down, for /readyz.
func lastBindError(binds []smpp.BindStats) string {
	for _, b := range binds {
		if b.LastError != "" {
			return b.LastError
		}
	}
	return "not bound yet"
}

// AdminRoutes lists the admin listener's endpoints as "METHOD /path",
// the management API's included.
func AdminRoutes() []string {
	var out []string
	for _, r := range (&Daemon{}).adminRoutes() {
		out = append(out, r.pattern)
	}
	return append(out, admin.Routes()...) // the management API under /v1/
}

func (d *Daemon) adminHandler() http.Handler {
	mux := http.NewServeMux()
	for _, r := range d.adminRoutes() {
		mux.HandleFunc(r.pattern, r.handler)
	}
	if d.adminCreds == nil { // a Daemon built without Run (tests)
		d.adminCreds = admin.NewCredentials(d.cfg.Admin.Username, d.cfg.Admin.PasswordHash, conf.CheckPassword)
	}
	top := http.NewServeMux()
	top.Handle("/", adminAuth(d.adminCreds, mux))
	if d.Bridge != nil {
		// The management API checks the admin credentials itself and is
		// refused entirely when none are configured.
		top.Handle("/v1/", admin.Handler(d.Bridge, admin.Options{
			Credentials: d.adminCreds, Logger: d.log.With("component", "admin"),
		}))
	}
	return top
}

// adminAuth requires the admin credentials, when configured, on the admin
// listener's own endpoints (health, readiness, metrics). The operator
// surface is separate from, and not reachable with, API credentials.
func adminAuth(creds *admin.Credentials, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if creds.Configured() && !creds.Verify(r) {
			w.Header().Set("WWW-Authenticate", `Basic realm="smppbridge admin"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// carrierOptions translates a configured carrier into the bridge's view
// (its Sender is set by the caller) and its SMPP pool's.
func carrierOptions(c *conf.Carrier, log *slog.Logger) (bridge.Carrier, smpp.PoolConfig, error) {
	pc, err := poolConfig(c, log)
	if err != nil {
		return bridge.Carrier{}, pc, fmt.Errorf("carrier %s: %w", c.Name, err)
	}
	var rd byte
	if pc.Session.BindType != smpp.Transmitter || pc.Receivers {
		rd = 1 // receipts come back on the transceiver or receiver binds
	}
	table, err := receiptTable(c.ReceiptMap)
	if err != nil {
		return bridge.Carrier{}, pc, fmt.Errorf("carrier %s: %w", c.Name, err)
	}
	routes := c.Routes
	if len(routes) == 0 { // only route_accounts/route_from restrict it: any destination
		routes = []string{"+"}
	}
	return bridge.Carrier{
		Name: c.Name, SegmentsPerSecond: c.SegmentsPerSecond, QueueSeconds: c.QueueSeconds,
		QueueCapacity: c.QueueSegments(), Routes: routes, RouteAccounts: c.RouteAccounts, RouteFrom: c.RouteFrom,
		RouteClasses: c.RouteClasses, ClassRates: c.ClassRates,
		Alphanumeric: c.AlphanumericSender, MediaAsLinks: c.Media == conf.MediaLinks,
		Workers: c.Binds * c.Window, RegisteredDelivery: rd,
		ReceiptsPerSegment: string(c.ReceiptsPerSegment), ReceiptIDFormat: receiptIDFormat(c.ReceiptIDFormat),
		ReceiptWait: c.ReceiptWait.Std(), ReceiptTable: table,
		MOConcatTimeout: c.MOConcatTimeout.Std(), MOGSM7Packed: c.MOGSM7Packed,
	}, pc, nil
}

func poolConfig(c *conf.Carrier, log *slog.Logger) (smpp.PoolConfig, error) {
	pc := smpp.PoolConfig{
		Name: c.Name, Addr: c.Address, Binds: c.Binds,
		Session: smpp.SessionConfig{
			SystemID: c.SystemID, Password: c.Password, SystemType: c.SystemType,
			Window: c.Window, ResponseTimeout: c.ResponseTimeout.Std(), EnquireLinkInterval: c.EnquireLinkInterval.Std(),
			WindowStuckAfter: c.WindowStuckAfter.Std(),
		},
		SegmentsPerSecond: c.SegmentsPerSecond, Burst: c.Burst, ThrottlePause: c.ThrottlePause.Std(),
		ReconnectMin: c.ReconnectMin.Std(), ReconnectMax: c.ReconnectMax.Std(), Logger: log,
		Text: smpp.TextConfig{
			GSM7DataCoding: c.GSM7DataCoding(), GSM7Packed: c.GSM7Packed, Latin1: c.DataCoding == conf.DataCodingLatin1,
			IA5: c.DataCoding == conf.DataCodingIA5, ShortCodeTON: byte(c.ShortCodeTON), ShortCodeTONSet: true, ShortCodeNPI: byte(c.ShortCodeNPI),
		},
	}
	if c.DataCoding == conf.DataCodingLatin1 || c.DataCoding == conf.DataCodingIA5 {
		// Latin-1 (ASCII) text gets 0x03 (0x01) from Plan; text only GSM-7
		// can carry stays GSM-7 with 0x00.
		pc.Text.GSM7DataCoding = 0x00
	}
	switch c.LongMessage {
	case conf.LongUDH16:
		pc.Text.LongMode = coding.ModeUDH16
	case conf.LongSAR:
		pc.Text.LongMode = coding.ModeSAR
	case conf.LongPayload:
		pc.Text.LongMode = coding.ModePayload
	}
	switch c.BindType {
	case conf.BindTransmitter:
		pc.Session.BindType = smpp.Transmitter
	case conf.BindTransmitterReceiver:
		// Receipts and inbound messages come on a receiver bind beside each
		// transmitter, into the same handler.
		pc.Session.BindType = smpp.Transmitter
		pc.Receivers = true
	default:
		pc.Session.BindType = smpp.Transceiver
	}
	if c.TLS {
		tc, err := carrierTLS(c)
		if err != nil {
			return pc, err
		}
		pc.TLS = tc
	}
	return pc, nil
}

func carrierTLS(c *conf.Carrier) (*tls.Config, error) {
	tc := &tls.Config{ServerName: c.TLSServerName, MinVersion: tls.VersionTLS12}
	if tc.ServerName == "" {
		host, _, err := net.SplitHostPort(c.Address)
		if err != nil {
			return nil, err
		}
		tc.ServerName = host
	}
	if c.TLSCAFile != "" {
		pem, err := os.ReadFile(c.TLSCAFile)
		if err != nil {
			return nil, fmt.Errorf("tls_ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("tls_ca_file: %s: no PEM certificates", c.TLSCAFile)
		}
		tc.RootCAs = pool
	}
	if c.TLSCertFile != "" {
		cert, err := tls.LoadX509KeyPair(c.TLSCertFile, c.TLSKeyFile)
		if err != nil {
			return nil, fmt.Errorf("tls_cert_file, tls_key_file: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

// bridgeAccounts turns configured accounts into the bridge's, hashing
// bootstrap passwords so that only hashes are held in memory.
func bridgeAccounts(cfg *conf.Config) ([]bridge.Account, error) {
	var out []bridge.Account
	var mu sync.Mutex
	var wg sync.WaitGroup
	var firstErr error
	for _, a := range cfg.Accounts {
		ba := bridge.Account{ID: a.ID, Countries: a.Countries, Credentials: make([]bridge.Credential, len(a.Credentials))}
		for i, c := range a.Credentials {
			ba.Credentials[i] = bridge.Credential{Username: c.Username, PasswordHash: c.PasswordHash}
			if c.PasswordHash == "" {
				wg.Add(1)
				go func(dst *bridge.Credential, pw string) { // PBKDF2 is slow on purpose: hash in parallel
					defer wg.Done()
					h, err := conf.HashPassword(pw)
					mu.Lock()
					defer mu.Unlock()
					if err != nil && firstErr == nil {
						firstErr = err
					}
					dst.PasswordHash = h
				}(&ba.Credentials[i], c.Password)
			}
		}
		for _, ap := range a.Applications {
			numbers := make([]bridge.Number, len(ap.Numbers))
			for i, n := range ap.Numbers {
				numbers[i] = bridge.Number{Number: n, Class: bridge.InferClass(n)}
			}
			for _, n := range ap.NumberClasses {
				class := n.Class
				if class == "" {
					class = bridge.InferClass(n.Number)
				}
				numbers = append(numbers, bridge.Number{Number: n.Number, Class: class, CampaignID: n.CampaignID})
			}
			ba.Applications = append(ba.Applications, bridge.Application{
				ID: ap.ID, CallbackURL: ap.CallbackURL, InboundCallbackURL: ap.InboundCallbackURL,
				CallbackUsername: ap.CallbackUsername, CallbackPassword: ap.CallbackPassword, Numbers: numbers,
				ReceiptEvents: append([]string{}, ap.ReceiptEvents...), // empty (not nil): none wanted
			})
		}
		out = append(out, ba)
	}
	wg.Wait()
	return out, firstErr
}

// lazySender lets the bridge be built before the pools it sends through
// (their receipt handlers need the bridge); Sender is set before Start.
type lazySender struct{ bridge.Sender }

// Stats is the pool's (the carriers' live status on the admin API).
func (l *lazySender) Stats() (smpp.PoolStats, bool) {
	if p, ok := l.Sender.(*smpp.Pool); ok {
		return p.Stats(), true
	}
	return smpp.PoolStats{}, false
}

// receiptIDFormat maps receipt_id_format. "auto" compares ids as sent
// (after dlrmap.NormalizeID: leading zeros, hex case), never converting
// between bases: with dense sequential ids a decimal receipt id read as hex
// is another live message's id, and an early receipt would be credited to
// it. Carriers that mix bases are configured with "hex" or "decimal".
func receiptIDFormat(f conf.ReceiptIDFormat) dlrmap.IDFormat {
	switch f {
	case conf.ReceiptIDHex:
		return dlrmap.IDHex
	case conf.ReceiptIDDecimal:
		return dlrmap.IDDecimal
	}
	return dlrmap.IDSame
}

// receiptTable translates a carrier's receipt_map into a dlrmap.Table; nil
// when there is none. conf has checked each entry on its own; spellings
// that mean the same receipts ("DELIVERED" and "DELIVRD", a stat and its
// message_state, err "13" and network_error_code 13) are caught here.
func receiptTable(entries []conf.ReceiptMapEntry) (*dlrmap.Table, error) {
	if len(entries) == 0 {
		return nil, nil
	}
	t := &dlrmap.Table{ByStat: map[string]int{}, ByStatErr: map[string]int{}}
	from := map[string]int{}
	for i, e := range entries {
		stat := dlrmap.CanonicalStat(e.Stat)
		if e.MessageState != 0 {
			stat = dlrmap.StateStat(e.MessageState)
		}
		code := e.Code
		switch e.Outcome {
		case conf.OutcomeDelivered:
			code = 0
		case conf.OutcomePending:
			code = -1
		}
		m, key := t.ByStat, stat
		errv := e.Err
		if e.NetworkErrorCode != 0 {
			errv = strconv.Itoa(e.NetworkErrorCode)
		}
		if errv != "" {
			m, key = t.ByStatErr, stat+":"+errv
		}
		if j, dup := from[key]; dup {
			return nil, fmt.Errorf("receipt_map[%d] matches the same receipts as receipt_map[%d] (%s)", i, j, key)
		}
		from[key] = i
		m[key] = code
	}
	if err := t.Validate(); err != nil {
		return nil, err
	}
	return t, nil
}

// storeOpenHint adds to a store that cannot be opened what the operator can
// do about it, naming the key.
func storeOpenHint(err error) error {
	switch {
	case errors.Is(err, store.ErrLocked):
		return fmt.Errorf("%w: another smppbridge with the same store.path? Stop it, or give this one its own store.path", err)
	case errors.Is(err, store.ErrDamaged):
		return fmt.Errorf("%w: restore it from a backup, or move it away (or change store.path) to start with an empty store, losing what it holds", err)
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%w: create it, or set store.path to a file in an existing directory", err)
	case errors.Is(err, fs.ErrPermission), errors.Is(err, syscall.EROFS):
		return fmt.Errorf("%w: store.path must be in a directory this user can write (under the systemd unit: /var/lib/smppbridge)", err)
	}
	return err
}

// listenHint names the key of a listener that cannot listen and, for the
// usual causes, what to do.
func listenHint(key string, err error) error {
	switch {
	case errors.Is(err, syscall.EADDRINUSE):
		return fmt.Errorf("%s: %w: another process listens there (another smppbridge?); stop it or choose another %s", key, err, key)
	case errors.Is(err, syscall.EACCES):
		return fmt.Errorf("%s: %w: a port below 1024 needs CAP_NET_BIND_SERVICE (docs/operations.md)", key, err)
	}
	return fmt.Errorf("%s: %w", key, err)
}
