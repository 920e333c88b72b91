// Package daemon wires smppbridge together: configuration into options,
// start-up order, the admin listener and the stop order. cmd/smppbridge
// runs it from flags and signals; tests and cmd/smppload run it in-process.
package daemon

import (
	"context"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"smppbridge/bridge"
	"smppbridge/conf"
	"smppbridge/dlrmap"
	"smppbridge/httpapi"
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
	// RetentionInterval is how often expired message records are swept
	// (tests); zero: the bridge's default.
	RetentionInterval time.Duration
}

// Daemon is a running smppbridge.
type Daemon struct {
	cfg    *conf.Config
	log    *slog.Logger
	Sim    *smsc.Server // nil unless embedded
	Store  *store.Store
	Bridge *bridge.Bridge
	Pools  []*smpp.Pool
	// Webhooks delivers the callback outbox.
	Webhooks *bridge.Webhooks
	api      *httpapi.Server
	admin    *http.Server
	adminL   net.Listener
}

// HTTPAddr is the public API's listen address.
func (d *Daemon) HTTPAddr() string { return d.api.Addr() }

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
	d := &Daemon{cfg: cfg, log: log}
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

	st, err := store.Open(cfg.Store.Path, store.Options{NoSync: cfg.Store.NoSync, Logger: log,
		NormalizeID: dlrmap.NormalizeID, Aggregate: bridge.AggregateParts})
	if err != nil {
		return fail(err)
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
		c := &cfg.Carriers[i]
		pc, err := poolConfig(c, log)
		if err != nil {
			return fail(fmt.Errorf("carrier %s: %w", c.Name, err))
		}
		pcs = append(pcs, pc)
		var rd byte
		if pc.Session.BindType != smpp.Transmitter {
			rd = 1 // receipts come back on the transceiver binds
		}
		routes := c.Routes
		if len(routes) == 0 { // only route_accounts/route_from restrict it: any destination
			routes = []string{"+"}
		}
		carriers = append(carriers, bridge.Carrier{
			Name: c.Name, SegmentsPerSecond: c.SegmentsPerSecond, QueueSeconds: c.QueueSeconds,
			QueueCapacity: c.QueueSegments(), Routes: routes, RouteAccounts: c.RouteAccounts, RouteFrom: c.RouteFrom,
			Alphanumeric: c.AlphanumericSender, MediaAsLinks: c.Media == conf.MediaLinks,
			Workers: c.Binds * c.Window, RegisteredDelivery: rd,
			ReceiptsPerSegment: string(c.ReceiptsPerSegment), ReceiptIDFormat: receiptIDFormat(c.ReceiptIDFormat),
			ReceiptWait: c.ReceiptWait.Std(),
		})
	}
	// The bridge is built before the pools bind; the pools are its senders.
	senders := make([]*lazySender, len(carriers))
	for i := range carriers {
		senders[i] = &lazySender{}
		carriers[i].Sender = senders[i]
	}
	accounts, err := bridgeAccounts(cfg)
	if err != nil {
		return fail(err)
	}
	br, err = bridge.New(bridge.Options{
		Store: st, Carriers: carriers, Accounts: accounts,
		GroupLimit: cfg.API.GroupLimit, MaxTextLength: cfg.API.MaxTextLength,
		CheckPassword: conf.CheckPassword, Logger: log,
		RecordRetention: cfg.Store.RecordRetention.Std(), RetentionInterval: opts.RetentionInterval,
	})
	if err != nil {
		return fail(err)
	}
	d.Bridge = br
	wh, err = bridge.NewWebhooks(bridge.WebhookOptions{
		Outbox: st, Credentials: br.CallbackCredentials,
		Timeout: cfg.Callbacks.Timeout.Std(), RetryFor: cfg.Callbacks.RetryFor.Std(),
		MaxBatch: cfg.Callbacks.MaxBatch, ConcurrencyPerEndpoint: cfg.Callbacks.ConcurrencyPerEndpoint,
		PollInterval: opts.CallbackPollInterval, Clock: opts.CallbackClock, Logger: log,
	})
	if err != nil {
		return fail(err)
	}
	d.Webhooks = wh
	br.SetCallbackNotify(wh.Notify)
	wh.Start()

	for i := range cfg.Carriers {
		c := &cfg.Carriers[i]
		pc := pcs[i]
		if carriers[i].RegisteredDelivery != 0 {
			pc.Session.Handler = br.InboundHandler(c.Name)
		}
		p := smpp.NewPool(pc)
		senders[i].Sender = p
		d.Pools = append(d.Pools, p)
		cleanups = append(cleanups, func(ctx context.Context) { p.Close(ctx) })
	}
	br.Start()
	cleanups = append(cleanups, func(ctx context.Context) { br.Close(ctx) })

	d.api = httpapi.New(br, httpapi.Options{
		Addr: cfg.HTTP.Listen, MaxBodyBytes: cfg.HTTP.MaxBodyBytes, MaxHeaderBytes: cfg.HTTP.MaxHeaderBytes,
		ReadTimeout: cfg.HTTP.ReadTimeout.Std(), WriteTimeout: cfg.HTTP.WriteTimeout.Std(), IdleTimeout: cfg.HTTP.IdleTimeout.Std(),
		TLSCertFile: cfg.HTTP.TLSCertFile, TLSKeyFile: cfg.HTTP.TLSKeyFile, Logger: log,
	})
	if err := d.api.Listen(); err != nil {
		return fail(fmt.Errorf("http listener: %w", err))
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
		return fail(fmt.Errorf("admin listener: %w", err))
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
	sctx, cancel := context.WithTimeout(context.Background(), cfg.API.ShutdownTimeout.Std())
	defer cancel()
	stopAll(sctx)
	log.Info("stopped")
	return runErr
}

func (d *Daemon) adminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		var down []string
		for _, p := range d.Pools {
			if p.Stats().BindsUp == 0 {
				down = append(down, p.Name())
			}
		}
		if len(down) > 0 {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintf(w, "no bind up for carriers %v\n", down)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	if d.cfg.Admin.Username == "" {
		return mux
	}
	return adminAuth(d.cfg.Admin.Username, d.cfg.Admin.PasswordHash, mux)
}

// adminAuth requires the admin credentials on every admin endpoint. The
// operator surface is separate from, and not reachable with, API credentials.
func adminAuth(username, hash string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, p, ok := r.BasicAuth()
		if !ok || subtle.ConstantTimeCompare([]byte(u), []byte(username)) != 1 || !conf.CheckPassword(hash, p) {
			w.Header().Set("WWW-Authenticate", `Basic realm="smppbridge admin"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func poolConfig(c *conf.Carrier, log *slog.Logger) (smpp.PoolConfig, error) {
	pc := smpp.PoolConfig{
		Name: c.Name, Addr: c.Address, Binds: c.Binds,
		Session: smpp.SessionConfig{
			SystemID: c.SystemID, Password: c.Password, SystemType: c.SystemType,
			Window: c.Window, ResponseTimeout: c.ResponseTimeout.Std(), EnquireLinkInterval: c.EnquireLinkInterval.Std(),
		},
		SegmentsPerSecond: c.SegmentsPerSecond, Burst: c.Burst, ThrottlePause: c.ThrottlePause.Std(),
		ReconnectMin: c.ReconnectMin.Std(), ReconnectMax: c.ReconnectMax.Std(), Logger: log,
		Text: smpp.TextConfig{
			GSM7DataCoding: c.GSM7DataCoding(), GSM7Packed: c.GSM7Packed, Latin1: c.DataCoding == conf.DataCodingLatin1,
			ShortCodeTON: byte(c.ShortCodeTON), ShortCodeNPI: byte(c.ShortCodeNPI),
		},
	}
	if c.DataCoding == conf.DataCodingLatin1 {
		pc.Text.GSM7DataCoding = 0x00 // Latin-1 text gets 0x03 from Plan; GSM-only text stays GSM-7
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
	case conf.BindTransmitter, conf.BindTransmitterReceiver:
		// The separate receiver bind of transmitter_receiver is not
		// implemented yet: such carriers, like transmitter ones, ask for no
		// receipts (registered_delivery 0).
		pc.Session.BindType = smpp.Transmitter
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
			return nil, err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s: no PEM certificates", c.TLSCAFile)
		}
		tc.RootCAs = pool
	}
	if c.TLSCertFile != "" {
		cert, err := tls.LoadX509KeyPair(c.TLSCertFile, c.TLSKeyFile)
		if err != nil {
			return nil, err
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
		ba := bridge.Account{ID: a.ID, Credentials: make([]bridge.Credential, len(a.Credentials))}
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
			ba.Applications = append(ba.Applications, bridge.Application{
				ID: ap.ID, CallbackURL: ap.CallbackURL, InboundCallbackURL: ap.InboundCallbackURL,
				CallbackUsername: ap.CallbackUsername, CallbackPassword: ap.CallbackPassword, Numbers: ap.Numbers,
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
