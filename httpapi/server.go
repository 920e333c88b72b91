// Package httpapi is the public HTTP API of the bridge: Bandwidth's Messaging
// V2 create-message call on fasthttp. It authenticates, decodes and copies
// the request, hands it to the bridge core and maps the outcome onto V2's
// status codes and JSON bodies. fasthttp types and request bytes never leave
// this package.
package httpapi

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"

	"smppbridge/bridge"
)

// Core is what httpapi needs from the bridge; *bridge.Bridge will satisfy it.
type Core interface {
	// Authenticate returns nil, bridge.ErrUnauthorized or bridge.ErrForbidden.
	Authenticate(accountID, username, password string) error
	// Send validates and durably queues a message. ctx carries the request
	// id (see RequestID) and the request's deadline.
	Send(ctx context.Context, req *bridge.SendRequest) (*bridge.Message, error)
}

// SendIntoCore is a Core that can also write the accepted message into one
// the server provides: the server keeps it in the request's own allocation
// instead of the core allocating one per request.
type SendIntoCore interface {
	SendInto(ctx context.Context, req *bridge.SendRequest, m *bridge.Message) error
}

// Options configures a Server. The zero value works.
type Options struct {
	Addr           string        // default 127.0.0.1:8080
	MaxBodyBytes   int           // default 256 KiB
	MaxHeaderBytes int           // default 8 KiB (fasthttp ReadBufferSize: it also caps the request line and headers)
	ReadTimeout    time.Duration // default 10s
	WriteTimeout   time.Duration // default 10s; also the deadline given to Core.Send
	IdleTimeout    time.Duration // default 60s; keep-alive connections idle longer are closed
	// Concurrency caps concurrent connections; more are answered 503 by
	// fasthttp. Default 4096: every connection costs a goroutine and ~16 KiB
	// of buffers, and fasthttp's own default (262144) is far beyond what the
	// bridge can serve.
	Concurrency int
	TLSCertFile string // HTTPS when both are set
	TLSKeyFile  string
	Logger      *slog.Logger // nil: discard
	// Observe, when set, is called after every request with its route (a
	// fixed pattern such as "POST /api/v2/users/{accountId}/messages", or
	// "other"), the response status and the time taken. For metrics: it
	// must be cheap and must not block.
	Observe func(route string, status int, took time.Duration)
	// ListRateLimit is the most message list requests (GET …/messages)
	// admitted per source IP in any ListRateWindow (ratelimit.go); more
	// are answered 429 rate_limit_exceeded. 0: no limit.
	ListRateLimit  int
	ListRateWindow time.Duration // default 5m when ListRateLimit is set
}

// Defaults applied by New to zero fields.
const (
	DefaultAddr           = "127.0.0.1:8080"
	DefaultMaxBodyBytes   = 256 << 10
	DefaultMaxHeaderBytes = 8 << 10
	DefaultReadTimeout    = 10 * time.Second
	DefaultWriteTimeout   = 10 * time.Second
	DefaultIdleTimeout    = 60 * time.Second
	DefaultConcurrency    = 4096
	DefaultListRateWindow = 5 * time.Minute
)

func (o *Options) setDefaults() {
	if o.Addr == "" {
		o.Addr = DefaultAddr
	}
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if o.MaxHeaderBytes <= 0 {
		o.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	if o.ReadTimeout <= 0 {
		o.ReadTimeout = DefaultReadTimeout
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = DefaultWriteTimeout
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = DefaultIdleTimeout
	}
	if o.Concurrency <= 0 {
		o.Concurrency = DefaultConcurrency
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.ListRateLimit < 0 {
		o.ListRateLimit = 0
	}
	if o.ListRateWindow <= 0 {
		o.ListRateWindow = DefaultListRateWindow
	}
}

// Server is the HTTP API server.
type Server struct {
	core Core
	into SendIntoCore // core, when it is one
	opts Options
	log  *slog.Logger
	srv  *fasthttp.Server
	// guard enforces ReadTimeout, WriteTimeout and IdleTimeout on the
	// connections Serve accepts (fasthttp's own timeouts are off).
	guard     *connGuard
	guardOnce sync.Once

	// base is the parent of every request context. It is cancelled only
	// when Shutdown gives up waiting, so in-flight Sends are not cut short
	// by an orderly shutdown.
	base       context.Context
	cancelBase context.CancelFunc

	cert atomic.Pointer[tls.Certificate] // HTTPS: the certificate in use

	listLimit atomic.Pointer[listLimit] // nil: the message list is not limited
	listMu    sync.Mutex                // serializes SetListRateLimit

	mu      sync.Mutex
	ln      net.Listener
	serving bool
	closed  bool
}

// New returns a Server; it does not listen yet.
func New(core Core, opts Options) *Server {
	opts.setDefaults()
	s := &Server{core: core, opts: opts, log: opts.Logger}
	s.into, _ = core.(SendIntoCore)
	s.SetListRateLimit(opts.ListRateLimit, opts.ListRateWindow)
	s.base, s.cancelBase = context.WithCancel(context.Background())
	s.guard = newConnGuard(opts.ReadTimeout, opts.WriteTimeout, opts.IdleTimeout)
	s.srv = &fasthttp.Server{
		Handler:               s.observed(),
		ErrorHandler:          s.handleServerError,
		NoDefaultServerHeader: true,
		Concurrency:           opts.Concurrency,
		ReadBufferSize:        opts.MaxHeaderBytes,
		MaxRequestBodySize:    opts.MaxBodyBytes,
		// The timeouts are the guard's (connguard.go): fasthttp would move
		// three deadlines per request.
		CloseOnShutdown: true,
		// The request time is never asked for: no clock read per request.
		LazyRequestTime: true,
		// Header names are normalized (the default): lookups below use
		// canonical names.
		DisableHeaderNamesNormalizing: false,
		// Only JSON is accepted; never spend work on form bodies.
		DisablePreParseMultipartForm: true,
		// fasthttp's error messages must not quote request bytes, which may
		// hold credentials or message text.
		SecureErrorLogMessage: true,
		Logger:                fasthttpLogger{opts.Logger},
	}
	return s
}

// Handler returns the request handler, for serving without a listener
// (tests, benchmarks). fasthttp's ErrorHandler is not involved there.
func (s *Server) Handler() fasthttp.RequestHandler { return s.observed() }

// Listen binds Options.Addr (and loads the TLS key pair), so that Addr is
// known and configuration errors surface before Serve.
func (s *Server) Listen() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrServerClosed
	}
	if s.ln != nil {
		return fmt.Errorf("httpapi: already listening on %s", s.ln.Addr())
	}
	var tlsConf *tls.Config
	if s.opts.TLSCertFile != "" || s.opts.TLSKeyFile != "" {
		cert, err := loadKeyPair(s.opts.TLSCertFile, s.opts.TLSKeyFile)
		if err != nil {
			return err
		}
		s.cert.Store(cert)
		tlsConf = &tls.Config{
			// Read per handshake, so ReloadTLS replaces the certificate
			// for new connections without restarting the listener.
			GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return s.cert.Load(), nil },
			MinVersion:     tls.VersionTLS12,
			NextProtos:     []string{"http/1.1"}, // fasthttp speaks HTTP/1.x only
		}
	}
	ln, err := net.Listen("tcp", s.opts.Addr)
	if err != nil {
		return fmt.Errorf("httpapi: listen: %w", err)
	}
	if tlsConf != nil {
		ln = tls.NewListener(ln, tlsConf)
	}
	s.ln = &onceCloseListener{Listener: &guardListener{Listener: ln, g: s.guard}}
	return nil
}

func loadKeyPair(certFile, keyFile string) (*tls.Certificate, error) {
	if certFile == "" || keyFile == "" {
		return nil, fmt.Errorf("httpapi: TLS needs both a certificate and a key file")
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("httpapi: loading TLS key pair: %w", err)
	}
	return &cert, nil
}

// CheckTLS reports whether ReloadTLS would accept these files.
func (s *Server) CheckTLS(certFile, keyFile string) error {
	if certFile == "" && keyFile == "" {
		return nil
	}
	_, err := loadKeyPair(certFile, keyFile)
	return err
}

// ReloadTLS reads the certificate and key again (they may be the same
// paths, renewed): new connections get the new certificate. Turning HTTPS
// on or off needs a restart.
func (s *Server) ReloadTLS(certFile, keyFile string) error {
	serving := s.cert.Load() != nil
	wanted := certFile != "" || keyFile != ""
	switch {
	case !serving && !wanted:
		return nil
	case serving != wanted:
		return fmt.Errorf("httpapi: switching HTTPS on or off takes effect at the next start")
	}
	cert, err := loadKeyPair(certFile, keyFile)
	if err != nil {
		return err
	}
	s.cert.Store(cert)
	return nil
}

// useListener makes Serve use ln (tests: an in-memory listener).
func (s *Server) useListener(ln net.Listener) {
	s.mu.Lock()
	s.ln = &onceCloseListener{Listener: &guardListener{Listener: ln, g: s.guard}}
	s.mu.Unlock()
}

// Addr is the bound address after Listen, else Options.Addr.
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln != nil {
		return s.ln.Addr().String()
	}
	return s.opts.Addr
}

// Serve serves until Shutdown, calling Listen first if needed. As with
// fasthttp, it returns nil as soon as Shutdown starts; wait for Shutdown to
// return before exiting.
func (s *Server) Serve() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrServerClosed
	}
	if s.serving {
		s.mu.Unlock()
		return fmt.Errorf("httpapi: already serving")
	}
	if s.ln == nil {
		s.mu.Unlock()
		if err := s.Listen(); err != nil {
			return err
		}
		s.mu.Lock()
	}
	s.serving = true
	ln := s.ln
	s.guardOnce.Do(s.guard.run)
	s.mu.Unlock()
	s.log.Info("HTTP API listening", slog.String("addr", ln.Addr().String()), slog.Bool("tls", s.opts.TLSCertFile != ""))
	return s.srv.Serve(ln)
}

// Shutdown stops accepting connections and waits for in-flight requests to
// finish, or for ctx to end; then it cancels the contexts of requests still
// running in Core.Send and returns ctx.Err().
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closed = true
	ln := s.ln
	s.mu.Unlock()
	if ln != nil {
		// Closing here as well covers a Serve that has not yet handed the
		// listener to fasthttp, which would otherwise miss the shutdown.
		_ = ln.Close()
	}
	err := s.srv.ShutdownWithContext(ctx)
	s.cancelBase()            // after a timeout: abort the Sends still running
	s.guardOnce.Do(func() {}) // closed: no Serve starts the guard after this
	s.guard.close()           // and ends the I/O of connections still open
	return err
}

// onceCloseListener makes Close idempotent: both Shutdown and fasthttp close
// the listener, and the second close must not turn into an error.
type onceCloseListener struct {
	net.Listener
	once sync.Once
	err  error
}

func (l *onceCloseListener) Close() error {
	l.once.Do(func() { l.err = l.Listener.Close() })
	return l.err
}

// fasthttpLogger routes fasthttp's few log lines (connection errors, accept
// failures) to slog at debug level: they are about misbehaving clients.
type fasthttpLogger struct{ l *slog.Logger }

func (f fasthttpLogger) Printf(format string, args ...any) {
	if f.l.Enabled(context.Background(), slog.LevelDebug) {
		f.l.Debug(fmt.Sprintf(format, args...), slog.String("component", "fasthttp"))
	}
}
