package bridge

// callbackClient is the HTTP/1.1 client the webhook sender posts with. It
// does what a callback needs and nothing else: POST a body, read the status
// (and a 401's WWW-Authenticate), drain a little of the reply, keep the
// connection alive when the reply allows. The request is written and the
// reply read by the calling goroutine itself: net/http's Transport runs a
// reader and a writer goroutine per connection and hands every request
// and reply between them and the caller, which cost more CPU per callback
// than the socket work (profile of smppload: persistConn's loops ~2.5 % of
// the whole process, and their wake-ups on top).
//
// Keep-alive connections are reused most recent first and closed after
// idleConnTimeout unused (closeIdle, called by the dispatcher's poll) or at
// Stop. A reused connection that fails before any byte of a reply arrived
// (the receiver closed it while idle) is replaced by a new one once for the
// same attempt; delivery is at least once anyway. URLs that an
// HTTP(S)_PROXY setting covers, or with a non-ASCII host, go through
// net/http instead.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"
)

const (
	// idleConnTimeout closes keep-alive connections unused this long
	// (net/http's default is 90 s; receivers often time out sooner).
	idleConnTimeout = 30 * time.Second
	// replyDrainLimit is how much of a reply body is read so that the
	// connection can be reused; a longer body closes it instead.
	replyDrainLimit = 64 << 10
	maxReplyHeaders = 200
	// maxHeaderBytes bounds a reply's status line and headers together
	// (net/http allows 10 MB; a receiver's cookies can pass 4 KiB).
	maxHeaderBytes = 1 << 20
	maxInterim     = 5 // 1xx replies skipped before the final one
)

type callbackClient struct {
	timeout time.Duration
	dial    func(ctx context.Context, network, addr string) (net.Conn, error)
	tlsBase *tls.Config // nil: the system roots

	mu             sync.Mutex
	idle           map[string][]*callbackConn // target.key -> idle connections, most recent last
	nIdle          int
	maxIdlePerHost int
	maxIdle        int
	targets        map[string]*callbackTarget // raw URL -> parsed
	closed         bool
}

// callbackTarget is a callback URL taken apart once.
type callbackTarget struct {
	err    error  // the URL cannot be used; reported as the attempt's error
	std    bool   // send with net/http (proxy or non-ASCII host)
	key    string // pool key: scheme://host:port
	addr   string // host:port to dial
	https  bool
	tlsCfg *tls.Config
	head   []byte // request line and the fixed headers
}

type callbackConn struct {
	net.Conn
	br        *bufio.Reader
	wbuf      []byte
	reused    bool
	idleSince time.Time
	headBytes int // of the reply being read
}

func newCallbackClient(timeout time.Duration, maxIdlePerHost, maxIdle int) *callbackClient {
	var d net.Dialer
	d.KeepAlive = 30 * time.Second
	return &callbackClient{timeout: timeout, dial: d.DialContext, maxIdlePerHost: maxIdlePerHost, maxIdle: maxIdle,
		idle: map[string][]*callbackConn{}, targets: map[string]*callbackTarget{}}
}

// target parses raw once (bounded cache).
func (c *callbackClient) target(raw string) *callbackTarget {
	c.mu.Lock()
	t := c.targets[raw]
	c.mu.Unlock()
	if t != nil {
		return t
	}
	t = c.parseTarget(raw)
	c.mu.Lock()
	if len(c.targets) >= 10000 {
		clear(c.targets)
	}
	c.targets[raw] = t
	c.mu.Unlock()
	return t
}

func (c *callbackClient) parseTarget(raw string) *callbackTarget {
	u, err := url.Parse(raw)
	if err != nil {
		return &callbackTarget{err: fmt.Errorf("bad callback URL: %w", unwrapURLError(err))}
	}
	u.User = nil // credentials come from the application, after a challenge
	t := &callbackTarget{}
	switch u.Scheme {
	case "http":
	case "https":
		t.https = true
	default:
		return &callbackTarget{err: fmt.Errorf("unsupported protocol scheme %q", u.Scheme)}
	}
	if u.Host == "" {
		return &callbackTarget{err: errors.New("http: no Host in request URL")}
	}
	if proxy, err := http.ProxyFromEnvironment(&http.Request{URL: u}); err != nil || proxy != nil {
		return &callbackTarget{std: true}
	}
	host := u.Hostname()
	for i := 0; i < len(u.Host); i++ {
		if c := u.Host[i]; c <= ' ' || c >= 0x7f {
			return &callbackTarget{std: true} // IDNA and oddities: net/http knows them
		}
	}
	port := u.Port()
	if port == "" {
		port = "80"
		if t.https {
			port = "443"
		}
	}
	t.addr = net.JoinHostPort(host, port)
	t.key = u.Scheme + "://" + t.addr
	if t.https {
		if c.tlsBase != nil {
			t.tlsCfg = c.tlsBase.Clone()
		} else {
			t.tlsCfg = &tls.Config{}
		}
		t.tlsCfg.ServerName = host
		t.tlsCfg.NextProtos = []string{"http/1.1"}
	}
	var h []byte
	h = append(h, "POST "...)
	h = append(h, u.RequestURI()...)
	h = append(h, " HTTP/1.1\r\nHost: "...)
	h = append(h, u.Host...)
	h = append(h, "\r\nUser-Agent: BandwidthAPI/v2\r\nContent-Type: application/json; charset=utf-8\r\n"...)
	t.head = h
	return t
}

// basicAuth is the Authorization header's value.
func basicAuth(user, pass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
}

var errCallbackTimeout = errors.New("callback request timed out")

// requestBody is what a request carries: a batch appends its jobs' events
// straight into the request buffer, without a body of its own first.
type requestBody interface {
	bodyLen() int
	appendBody(dst []byte) []byte
}

// post sends one request to t and returns the reply's status and whether
// it carries a Basic challenge. auth "" sends no Authorization. ctx
// cancels the request (Stop); the client's timeout bounds it, dial
// included.
func (c *callbackClient) post(ctx context.Context, t *callbackTarget, body requestBody, auth string) (int, bool, error) {
	deadline := time.Now().Add(c.timeout)
	for try := 0; ; try++ {
		cn, err := c.conn(ctx, t, deadline)
		if err != nil {
			return 0, false, err
		}
		stop := context.AfterFunc(ctx, func() { cn.SetDeadline(time.Unix(1, 0)) })
		code, challenge, keep, replied, err := cn.roundTrip(t, body, auth, deadline)
		stopped := stop()
		if err == nil && keep && stopped {
			c.put(t, cn)
		} else {
			cn.Close()
		}
		if err == nil {
			return code, challenge, nil
		}
		if ctx.Err() != nil {
			return 0, false, ctx.Err()
		}
		if errors.Is(err, errCallbackTimeout) {
			return 0, false, err
		}
		if cn.reused && !replied && try == 0 {
			continue // closed by the receiver while idle: once more, on a new connection
		}
		return 0, false, err
	}
}

// conn returns an idle connection to t or dials one.
func (c *callbackClient) conn(ctx context.Context, t *callbackTarget, deadline time.Time) (*callbackConn, error) {
	now := time.Now()
	c.mu.Lock()
	for l := c.idle[t.key]; len(l) > 0; l = c.idle[t.key] {
		cn := l[len(l)-1]
		l[len(l)-1] = nil
		c.idle[t.key] = l[:len(l)-1]
		c.nIdle--
		if now.Sub(cn.idleSince) < idleConnTimeout {
			c.mu.Unlock()
			return cn, nil
		}
		cn.Close()
	}
	if len(c.idle[t.key]) == 0 {
		delete(c.idle, t.key)
	}
	c.mu.Unlock()
	dctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	raw, err := c.dial(dctx, "tcp", t.addr)
	if err != nil {
		if ctx.Err() == nil && dctx.Err() != nil {
			return nil, errCallbackTimeout
		}
		return nil, err
	}
	conn := raw
	if t.https {
		tc := tls.Client(raw, t.tlsCfg)
		if err := tc.HandshakeContext(dctx); err != nil {
			raw.Close()
			var rh tls.RecordHeaderError
			if errors.As(err, &rh) && string(rh.RecordHeader[:]) == "HTTP/" {
				return nil, errors.New("http: server gave HTTP response to HTTPS client")
			}
			if ctx.Err() == nil && dctx.Err() != nil {
				return nil, errCallbackTimeout
			}
			return nil, err
		}
		conn = tc
	}
	return &callbackConn{Conn: conn, br: bufio.NewReaderSize(conn, 4096)}, nil
}

// put keeps cn for reuse, or closes it when the pool is full or closed.
func (c *callbackClient) put(t *callbackTarget, cn *callbackConn) {
	cn.reused = true
	cn.idleSince = time.Now()
	c.mu.Lock()
	if c.closed || c.nIdle >= c.maxIdle || len(c.idle[t.key]) >= c.maxIdlePerHost {
		c.mu.Unlock()
		cn.Close()
		return
	}
	c.idle[t.key] = append(c.idle[t.key], cn)
	c.nIdle++
	c.mu.Unlock()
}

// closeIdle closes connections idle for idleConnTimeout or longer; all of
// them, for good, when final.
func (c *callbackClient) closeIdle(final bool) {
	now := time.Now()
	var old []*callbackConn
	c.mu.Lock()
	if final {
		c.closed = true
	}
	for key, l := range c.idle {
		keep := l[:0]
		for _, cn := range l {
			if final || now.Sub(cn.idleSince) >= idleConnTimeout {
				old = append(old, cn)
			} else {
				keep = append(keep, cn)
			}
		}
		clear(l[len(keep):])
		if len(keep) == 0 {
			delete(c.idle, key)
		} else {
			c.idle[key] = keep
		}
	}
	c.nIdle -= len(old)
	c.mu.Unlock()
	for _, cn := range old {
		cn.Close()
	}
}

// roundTrip writes the request and reads the reply. keep reports whether
// the connection may be reused; replied whether any byte of a reply came.
func (cn *callbackConn) roundTrip(t *callbackTarget, body requestBody, auth string, deadline time.Time) (code int, challenge, keep, replied bool, err error) {
	if err := cn.SetDeadline(deadline); err != nil {
		return 0, false, false, false, err
	}
	b := append(cn.wbuf[:0], t.head...)
	if auth != "" {
		b = append(b, "Authorization: "...)
		b = append(b, auth...)
		b = append(b, "\r\n"...)
	}
	b = append(b, "Content-Length: "...)
	n := body.bodyLen()
	b = strconv.AppendInt(b, int64(n), 10)
	b = append(b, "\r\n\r\n"...)
	head := len(b)
	if head+n > cap(b) {
		b = append(make([]byte, 0, head+n), b...) // one growth, to the size needed
	}
	if b = body.appendBody(b); len(b)-head != n {
		return 0, false, false, false, fmt.Errorf("callback body of %d bytes announced as %d", len(b)-head, n)
	}
	if cap(b) <= 64<<10 {
		cn.wbuf = b
	}
	if _, err := cn.Write(b); err != nil {
		return 0, false, false, false, netError(err)
	}
	code, challenge, keep, replied, err = cn.readReply()
	if err != nil {
		err = netError(err)
	}
	return
}

// netError names a deadline as the timeout it is.
func netError(err error) error {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return errCallbackTimeout
	}
	return err
}

var errMalformedReply = errors.New("malformed HTTP response")

// readReply reads the status line and headers of the final reply (1xx
// interim replies skipped) and drains its body.
func (cn *callbackConn) readReply() (code int, challenge, keep, replied bool, err error) {
	cn.headBytes = 0
	for interim := 0; ; interim++ {
		line, err := cn.line()
		if err != nil {
			if len(line) > 0 || cn.br.Buffered() > 0 {
				replied = true
			}
			if errors.Is(err, io.EOF) && !replied {
				err = io.ErrUnexpectedEOF
			}
			return 0, false, false, replied, err
		}
		replied = true
		// HTTP/1.x NNN reason
		if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) || line[8] != ' ' || (len(line) > 12 && line[12] != ' ') {
			return 0, false, false, true, fmt.Errorf("%w: status line %q", errMalformedReply, truncate(line, 40))
		}
		code, err = strconv.Atoi(string(line[9:12]))
		if err != nil || code < 100 {
			return 0, false, false, true, fmt.Errorf("%w: status line %q", errMalformedReply, truncate(line, 40))
		}
		keepAlive := line[7] != '0' // HTTP/1.0 closes unless asked
		contentLength, chunked := int64(-1), false
		for n := 0; ; n++ {
			h, err := cn.line()
			if err != nil {
				return 0, false, false, true, err
			}
			if len(h) == 0 {
				break
			}
			if n == maxReplyHeaders {
				return 0, false, false, true, fmt.Errorf("%w: too many headers", errMalformedReply)
			}
			name, value, ok := bytes.Cut(h, []byte(":"))
			if !ok {
				continue // a folded continuation or junk: nothing we need
			}
			value = bytes.TrimSpace(value)
			switch {
			case asciiEqualFold(name, "Content-Length"):
				v, err := strconv.ParseInt(string(value), 10, 64)
				if err != nil || v < 0 || (contentLength >= 0 && v != contentLength) {
					return 0, false, false, true, fmt.Errorf("%w: bad Content-Length", errMalformedReply)
				}
				contentLength = v
			case asciiEqualFold(name, "Transfer-Encoding"):
				if !asciiEqualFold(value, "chunked") {
					return 0, false, false, true, fmt.Errorf("%w: unsupported transfer encoding %q", errMalformedReply, truncate(value, 40))
				}
				chunked = true
			case asciiEqualFold(name, "Connection"):
				for tok := range bytes.SplitSeq(value, []byte(",")) {
					tok = bytes.TrimSpace(tok)
					if asciiEqualFold(tok, "close") {
						keepAlive = false
					} else if asciiEqualFold(tok, "keep-alive") && line[7] == '0' {
						keepAlive = true
					}
				}
			case code == http.StatusUnauthorized && asciiEqualFold(name, "WWW-Authenticate"):
				challenge = challenge || basicChallenge([]string{string(value)})
			}
		}
		if code < 200 && code != http.StatusSwitchingProtocols {
			if interim == maxInterim {
				return 0, false, false, true, fmt.Errorf("%w: too many 1xx replies", errMalformedReply)
			}
			continue
		}
		switch {
		case code == http.StatusSwitchingProtocols:
			keep = false
		case code == http.StatusNoContent || code == http.StatusNotModified:
			keep = keepAlive
		case chunked:
			keep = keepAlive && cn.drainChunked()
		case contentLength >= 0:
			keep = keepAlive && contentLength <= replyDrainLimit && discard(cn.br, contentLength)
		default: // delimited by the close: read none of it
			keep = false
		}
		// The status is what counts; a body that could not be drained
		// only costs the connection.
		return code, challenge, keep, true, nil
	}
}

// line reads one header line without its CRLF. Of a line longer than the
// read buffer only the start is returned (enough for a header's name; no
// header that matters here is that long).
func (cn *callbackConn) line() ([]byte, error) {
	l, err := cn.br.ReadSlice('\n')
	cn.headBytes += len(l)
	if err == bufio.ErrBufferFull {
		l = bytes.Clone(l)
		for err == bufio.ErrBufferFull && cn.headBytes <= maxHeaderBytes {
			var more []byte
			more, err = cn.br.ReadSlice('\n')
			cn.headBytes += len(more)
		}
		if err == nil && cn.headBytes <= maxHeaderBytes {
			return l, nil
		}
	}
	if cn.headBytes > maxHeaderBytes {
		return nil, fmt.Errorf("%w: headers longer than %d bytes", errMalformedReply, maxHeaderBytes)
	}
	if err != nil {
		return l, err
	}
	l = l[:len(l)-1]
	if n := len(l); n > 0 && l[n-1] == '\r' {
		l = l[:n-1]
	}
	return l, nil
}

// drainChunked reads a chunked body and its trailers; false when it is
// longer than replyDrainLimit or malformed.
func (cn *callbackConn) drainChunked() bool {
	var total int64
	for {
		l, err := cn.line()
		if err != nil {
			return false
		}
		if i := bytes.IndexByte(l, ';'); i >= 0 {
			l = l[:i]
		}
		size, err := strconv.ParseInt(string(bytes.TrimSpace(l)), 16, 64)
		if err != nil || size < 0 {
			return false
		}
		if size == 0 {
			for n := 0; n <= maxReplyHeaders; n++ { // trailers up to an empty line
				t, err := cn.line()
				if err != nil {
					return false
				}
				if len(t) == 0 {
					return true
				}
			}
			return false
		}
		if total += size; total > replyDrainLimit {
			return false
		}
		if !discard(cn.br, size) {
			return false
		}
		if l, err := cn.line(); err != nil || len(l) != 0 {
			return false
		}
	}
}

func discard(br *bufio.Reader, n int64) bool {
	_, err := br.Discard(int(n))
	return err == nil
}

func asciiEqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range len(b) {
		x, y := b[i], s[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

func truncate(b []byte, n int) []byte {
	if len(b) > n {
		return b[:n]
	}
	return b
}
