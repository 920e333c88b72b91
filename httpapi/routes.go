package httpapi

import (
	"bytes"
	"context"
	"log/slog"
	"math/rand/v2"
	"runtime/debug"
	"time"

	"github.com/valyala/fasthttp"
)

const headerRequestID = "X-Request-Id"

// Route is one endpoint of the public API; each needs an account's
// credentials.
type Route struct {
	Method string
	Path   string // "{accountId}" stands for the account id, other "{…}" for ids
}

// Routes lists every public endpoint. A new endpoint is added here too: the
// security tests (cmd/daemon) build their table of missing, wrong and other
// accounts' credentials from this list, and a probe in this package fails
// when an unlisted method and path asks for credentials.
func Routes() []Route {
	return []Route{
		{"POST", "/api/v2/users/{accountId}/messages"},
		{"POST", "/users/{accountId}/messages"},
		{"GET", "/api/v2/users/{accountId}/messages"},
		{"GET", "/users/{accountId}/messages"},
		{"GET", "/api/v2/users/{accountId}/messages/mdr.csv"},
		{"GET", "/users/{accountId}/messages/mdr.csv"},
	}
}

// handle routes a request. There is one resource, so the router is a prefix
// check: POST /api/v2/users/{accountId}/messages, and the same without
// /api/v2 (v2-api.md §7).
func (s *Server) handle(ctx *fasthttp.RequestCtx) { s.handleRoute(ctx) }

// handleRoute serves a request and names its route for the metrics, from
// the routing it does anyway: naming it again afterwards would parse the
// path twice. A panic recovered on the way still returns the route named
// so far.
func (s *Server) handleRoute(ctx *fasthttp.RequestCtx) (route string) {
	route = routeOther
	handlerStarted(ctx.Conn())
	rid := clientRequestID(ctx)
	ctx.Response.Header.Set(headerRequestID, rid)
	defer s.recoverPanic(ctx, rid)

	if account, ok := mdrPath(ctx.Path()); ok {
		if rc, ok := s.core.(RecordsCore); ok && ctx.IsGet() {
			route = routeGetMDR
			s.mdr(ctx, rid, account, rc)
			return route
		}
	}
	account, ok := messagesPath(ctx.Path())
	if !ok {
		buf := getBuf()
		*buf = appendNotFoundBody((*buf)[:0], time.Now(), truncate(ctx.Request.URI().PathOriginal(), 1024))
		writeJSON(ctx, fasthttp.StatusNotFound, *buf)
		putBuf(buf)
		return
	}
	switch {
	case ctx.IsPost():
		route = routePostMessages
	case ctx.IsGet():
		route = routeGetMessages
	default:
		route = routeOtherMessages
	}
	rc, records := s.core.(RecordsCore)
	if ctx.IsGet() && records {
		// Before the credentials are checked: failed logins count too, and
		// a 429 says nothing about whether they were right.
		if s.listLimited(ctx) {
			return
		}
		s.search(ctx, rid, account, rc)
		return
	}
	if !ctx.IsPost() {
		allow := fasthttp.MethodPost
		if records {
			allow = "GET, POST"
		}
		ctx.Response.Header.Set(fasthttp.HeaderAllow, allow)
		writeError(ctx, fasthttp.StatusMethodNotAllowed, typeMethod,
			"Request method '"+string(truncate(ctx.Method(), 32))+"' is not supported")
		return
	}
	s.send(ctx, rid, account)
	return route
}

// messagesPath returns the account id of a messages path. fasthttp has
// already decoded and normalized the path (dot segments, double slashes). A
// trailing slash is tolerated, as Spring (Bandwidth's framework) does.
func messagesPath(path []byte) ([]byte, bool) {
	p := path
	if rest, ok := bytes.CutPrefix(p, []byte("/api/v2/")); ok {
		p = rest
	} else if rest, ok := bytes.CutPrefix(p, []byte("/")); ok {
		p = rest
	} else {
		return nil, false
	}
	p, ok := bytes.CutPrefix(p, []byte("users/"))
	if !ok {
		return nil, false
	}
	if len(p) > 0 && p[len(p)-1] == '/' {
		p = p[:len(p)-1]
	}
	id, ok := bytes.CutSuffix(p, []byte("/messages"))
	if !ok || len(id) == 0 || bytes.IndexByte(id, '/') >= 0 {
		return nil, false
	}
	return id, true
}

// mdrPath returns the account id of …/users/{accountId}/messages/mdr.csv.
func mdrPath(path []byte) ([]byte, bool) {
	p, ok := bytes.CutSuffix(path, []byte("/mdr.csv"))
	if !ok {
		return nil, false
	}
	return messagesPath(p)
}

// recoverPanic turns a panic (a bug, most likely in the core) into a 500
// for this request instead of a crash of the whole daemon, which is what a
// panic in a fasthttp handler otherwise is.
func (s *Server) recoverPanic(ctx *fasthttp.RequestCtx, rid string) {
	v := recover()
	if v == nil {
		return
	}
	s.log.LogAttrs(s.base, slog.LevelError, "panic while handling a request",
		attrRequestID(rid), slog.Any("panic", v), slog.String("stack", string(debug.Stack())))
	ctx.Response.Reset()
	ctx.Response.Header.Set(headerRequestID, rid)
	ctx.SetConnectionClose()
	writeError(ctx, fasthttp.StatusInternalServerError, typeInternal, descInternal)
}

// clientRequestID returns the client's X-Request-Id when it is a short,
// safe token (it is echoed and logged), else a new id.
func clientRequestID(ctx *fasthttp.RequestCtx) string {
	if h := ctx.Request.Header.Peek(headerRequestID); validRequestID(h) {
		return string(h)
	}
	return newRequestID()
}

func validRequestID(b []byte) bool {
	if len(b) == 0 || len(b) > 64 {
		return false
	}
	for _, c := range b {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9',
			c == '-', c == '_', c == '.', c == ':':
		default:
			return false
		}
	}
	return true
}

// newRequestID returns 16 hex digits from the runtime's per-thread ChaCha8
// generator: unique enough to correlate logs, and lock-free.
func newRequestID() string {
	var b [16]byte
	v := rand.Uint64()
	for i := len(b) - 1; i >= 0; i-- {
		b[i] = hexDigits[v&0xf]
		v >>= 4
	}
	return string(b[:])
}

type requestIDKey struct{}

// RequestID returns the request id carried by a context passed to
// Core.Send, or "".
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

func truncate(b []byte, n int) []byte {
	if len(b) > n {
		return b[:n]
	}
	return b
}

// Log levels: client mistakes are routine at high request rates and stay at
// debug; failures of the bridge are errors.
const levelClientError = slog.LevelDebug

func attrRequestID(id string) slog.Attr { return slog.String("request_id", id) }
func attrStatus(code int) slog.Attr     { return slog.Int("status", code) }
func attrError(err error) slog.Attr     { return slog.String("error", err.Error()) }
