package httpapi

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/valyala/fasthttp"

	"smppbridge/bridge"
)

// send handles POST …/users/{accountId}/messages: auth, content type,
// decoding, Core.Send, and the mapping of its outcome (v2-api.md §1).
func (s *Server) send(ctx *fasthttp.RequestCtx, rid string, accountPath []byte) {
	account, ok := s.authorize(ctx, rid, accountPath)
	if !ok {
		return
	}

	if ct := ctx.Request.Header.ContentType(); !isJSONContentType(ct) {
		s.log.LogAttrs(s.base, levelClientError, "unsupported content type", attrRequestID(rid))
		writeError(ctx, fasthttp.StatusUnsupportedMediaType, typeUnsupportedCT,
			"Content-Type '"+string(truncate(ct, 100))+"' is not supported; use application/json")
		return
	}

	buf := getBuf()
	defer putBuf(buf)
	// The request and its context in one allocation.
	call := &sendCall{req: bridge.SendRequest{AccountID: account, RequestID: rid}}
	req := &call.req
	if derr := decodeSendRequest(ctx.PostBody(), req, buf); derr != nil {
		s.log.LogAttrs(s.base, levelClientError, "undecodable request body",
			attrRequestID(rid), slog.String("field", derr.field))
		*buf = appendValidationBody((*buf)[:0], descValidation,
			[]bridge.FieldError{{FieldName: derr.field, Description: derr.desc}})
		writeJSON(ctx, fasthttp.StatusBadRequest, *buf)
		return
	}

	// fasthttp's ctx.Done fires only at shutdown, so the deadline is ours.
	sctx := &call.ctx
	sctx.init(s.base, rid, time.Now().Add(s.opts.WriteTimeout))
	var msg *bridge.Message
	var err error
	if s.into != nil {
		msg = &call.msg
		err = s.into.SendInto(sctx, req, msg)
	} else {
		msg, err = s.core.Send(sctx, req)
	}
	sctx.end()
	if err != nil {
		s.sendFailed(ctx, rid, buf, err)
		return
	}
	if msg == nil {
		s.internalError(ctx, rid, "core returned neither a message nor an error", errors.New("nil message"))
		return
	}
	*buf = appendMessage((*buf)[:0], msg)
	writeJSON(ctx, fasthttp.StatusAccepted, *buf)
	if s.log.Enabled(s.base, slog.LevelDebug) {
		s.log.LogAttrs(s.base, slog.LevelDebug, "message accepted",
			attrRequestID(rid), slog.String("account", account), slog.String("msg_id", msg.ID))
	}
}

// sendCall is what one send request allocates besides its strings.
type sendCall struct {
	req bridge.SendRequest
	ctx requestContext
	msg bridge.Message // filled by a SendIntoCore
}

// authorize checks the Basic credentials against the account of the path
// and answers 401/403 itself when they do not fit.
func (s *Server) authorize(ctx *fasthttp.RequestCtx, rid string, accountPath []byte) (string, bool) {
	user, pass, ok := parseBasicAuth(ctx.Request.Header.Peek(fasthttp.HeaderAuthorization))
	if !ok {
		s.unauthorized(ctx, rid, "missing or malformed Authorization header")
		return "", false
	}
	account := string(accountPath)
	if err := s.core.Authenticate(account, user, pass); err != nil {
		switch {
		case errors.Is(err, bridge.ErrUnauthorized):
			s.unauthorized(ctx, rid, "credentials rejected")
		case errors.Is(err, bridge.ErrForbidden):
			s.log.LogAttrs(s.base, levelClientError, "request forbidden",
				attrRequestID(rid), slog.String("account", account))
			writeError(ctx, fasthttp.StatusForbidden, typeForbidden, descForbidden)
		default:
			s.internalError(ctx, rid, "authentication failed with an error", err)
		}
		return "", false
	}
	return account, true
}

// sendFailed maps a Core.Send error onto V2's error responses.
func (s *Server) sendFailed(ctx *fasthttp.RequestCtx, rid string, buf *[]byte, err error) {
	var ve *bridge.ValidationError
	var qf *bridge.QueueFullError
	switch {
	case errors.As(err, &ve):
		desc := ve.Description
		if desc == "" {
			desc = descValidation
		}
		s.log.LogAttrs(s.base, levelClientError, "request failed validation", attrRequestID(rid), attrStatus(400))
		*buf = appendValidationBody((*buf)[:0], desc, ve.Fields)
		writeJSON(ctx, fasthttp.StatusBadRequest, *buf)
	case errors.As(err, &qf):
		s.log.LogAttrs(s.base, slog.LevelInfo, "carrier queue full",
			attrRequestID(rid), slog.String("carrier", qf.Carrier))
		writeError(ctx, fasthttp.StatusTooManyRequests, typeQueueFull, qf.Error())
	case errors.Is(err, bridge.ErrShuttingDown) || (s.base.Err() != nil && errors.Is(err, context.Canceled)):
		// Closing the connection sends the client's retry elsewhere, e.g. to
		// the instance replacing this one.
		ctx.SetConnectionClose()
		writeError(ctx, fasthttp.StatusServiceUnavailable, typeUnavailable, descShutdown)
	case errors.Is(err, context.DeadlineExceeded):
		s.log.LogAttrs(s.base, slog.LevelWarn, "send timed out", attrRequestID(rid), attrError(err))
		writeError(ctx, fasthttp.StatusServiceUnavailable, typeUnavailable, descTimeout)
	default:
		s.internalError(ctx, rid, "send failed", err)
	}
}

// internalError logs err (with the request id the client sees) and answers
// a 500 that does not reveal it.
func (s *Server) internalError(ctx *fasthttp.RequestCtx, rid, msg string, err error) {
	s.log.LogAttrs(s.base, slog.LevelError, msg, attrRequestID(rid), attrError(err))
	writeError(ctx, fasthttp.StatusInternalServerError, typeInternal, descInternal)
}

func (s *Server) unauthorized(ctx *fasthttp.RequestCtx, rid, why string) {
	s.log.LogAttrs(s.base, levelClientError, "authentication failed",
		attrRequestID(rid), slog.String("reason", why))
	ctx.Response.Header.Set(fasthttp.HeaderWWWAuthenticate, authChallenge)
	writeError(ctx, fasthttp.StatusUnauthorized, typeUnauthorized, descUnauthorized)
}

// parseBasicAuth decodes "Basic base64(user:password)". The scheme name is
// case-insensitive (RFC 7617). Other schemes (Bearer) are not supported.
func parseBasicAuth(h []byte) (user, pass string, ok bool) {
	const prefix = "basic "
	if len(h) < len(prefix) || !bytes.EqualFold(h[:len(prefix)], []byte(prefix)) {
		return "", "", false
	}
	enc := trimOWS(h[len(prefix):])
	var stack [192]byte // typical credentials decode without allocating
	dst := stack[:]
	if n := base64.StdEncoding.DecodedLen(len(enc)); n > len(dst) {
		dst = make([]byte, n)
	}
	n, err := base64.StdEncoding.Decode(dst, enc)
	if err != nil {
		return "", "", false
	}
	i := bytes.IndexByte(dst[:n], ':')
	if i <= 0 {
		return "", "", false
	}
	both := string(dst[:n]) // one allocation for the two
	clear(dst[:n])          // the password does not linger on the stack
	return both[:i], both[i+1:], true
}

// isJSONContentType accepts application/json in any case, with parameters;
// a charset parameter must name UTF-8, the only encoding JSON allows
// (RFC 8259 §8.1).
func isJSONContentType(ct []byte) bool {
	mt, params, _ := bytes.Cut(ct, []byte{';'})
	if !bytes.EqualFold(trimOWS(mt), []byte("application/json")) {
		return false
	}
	for len(params) > 0 {
		var param []byte
		param, params, _ = bytes.Cut(params, []byte{';'})
		k, v, _ := bytes.Cut(param, []byte{'='})
		if !bytes.EqualFold(trimOWS(k), []byte("charset")) {
			continue
		}
		v = trimOWS(v)
		if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
			v = v[1 : len(v)-1]
		}
		if !bytes.EqualFold(v, []byte("utf-8")) && !bytes.EqualFold(v, []byte("utf8")) {
			return false
		}
	}
	return true
}

func trimOWS(b []byte) []byte {
	return bytes.Trim(b, " \t")
}

// Response and unescape buffers are pooled: the per-request path then
// allocates only the strings the core keeps.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

func getBuf() *[]byte { return bufPool.Get().(*[]byte) }

func putBuf(b *[]byte) {
	if cap(*b) > 64<<10 {
		return // let an outsized buffer go rather than pin it
	}
	*b = (*b)[:0]
	bufPool.Put(b)
}
