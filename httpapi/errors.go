package httpapi

import (
	"errors"
	"strconv"

	"github.com/valyala/fasthttp"
)

// ErrServerClosed is returned by Listen and Serve after Shutdown.
var ErrServerClosed = errors.New("httpapi: server closed")

// Error types and descriptions of the JSON error bodies. The ones Bandwidth
// documents (v2-api.md §1.5, §3.4) are kept verbatim; the others follow the
// same lower-case, hyphenated style.
const (
	typeValidation    = "request-validation"
	typeUnauthorized  = "unauthorized"
	typeForbidden     = "forbidden"
	typeUnsupportedCT = "unsupported-content-type"
	typeQueueFull     = "max-message-queue-size-exceeded"
	typeRateLimited   = "rate_limit_exceeded" // sic: Bandwidth's own spelling (v2-api.md §3.4)
	typeMethod        = "method-not-allowed"
	typeTooLarge      = "request-entity-too-large"
	typeHeaderLarge   = "request-header-fields-too-large"
	typeTimeout       = "request-timeout"
	typeBadRequest    = "bad-request"
	typeUnavailable   = "service-unavailable"
	typeInternal      = "internal-server-error"

	descValidation   = "Your request could not be accepted"
	descUnauthorized = "Authentication Failed"
	descForbidden    = "Access Denied"
	descShutdown     = "The service is shutting down; retry the request"
	descTimeout      = "The request could not be completed in time; it was not accepted"
	descInternal     = "An internal error occurred; the message was not accepted"
	descHeaderLarge  = "The request headers are too large"
	descReadTimeout  = "The request was not received in time"
	descBadRequest   = "The HTTP request could not be parsed"
)

// authChallenge makes clients that wait for a challenge (RFC 7235) send
// their credentials, as Bandwidth's own callback client does.
const authChallenge = `Basic realm="smppbridge"`

// writeJSON sets status and a JSON body.
func writeJSON(ctx *fasthttp.RequestCtx, status int, body []byte) {
	ctx.SetStatusCode(status)
	ctx.Response.Header.SetContentType("application/json")
	ctx.Response.SetBody(body) // copies, so body may be a pooled buffer
}

func writeError(ctx *fasthttp.RequestCtx, status int, typ, desc string) {
	buf := getBuf()
	*buf = appendErrorBody((*buf)[:0], typ, desc)
	writeJSON(ctx, status, *buf)
	putBuf(buf)
}

// handleServerError answers fasthttp's own failures (before our handler
// runs) with the same JSON shape as everything else.
func (s *Server) handleServerError(ctx *fasthttp.RequestCtx, err error) {
	var small *fasthttp.ErrSmallBuffer
	var timeout interface{ Timeout() bool }
	status, typ, desc := fasthttp.StatusBadRequest, typeBadRequest, descBadRequest
	rid := ""
	switch {
	case errors.Is(err, fasthttp.ErrBodyTooLarge):
		// The headers were read completely, so the client's id is usable.
		rid = clientRequestID(ctx)
		status, typ = fasthttp.StatusRequestEntityTooLarge, typeTooLarge
		desc = "The request body is larger than " + strconv.Itoa(s.opts.MaxBodyBytes) + " bytes"
	case errors.As(err, &small):
		status, typ, desc = fasthttp.StatusRequestHeaderFieldsTooLarge, typeHeaderLarge, descHeaderLarge
	case errors.As(err, &timeout) && timeout.Timeout():
		status, typ, desc = fasthttp.StatusRequestTimeout, typeTimeout, descReadTimeout
	}
	if rid == "" {
		rid = newRequestID()
	}
	ctx.Response.Header.Set(headerRequestID, rid)
	writeError(ctx, status, typ, desc)
	if s.opts.Observe != nil {
		// Before routing: the request line may not even have been read.
		s.opts.Observe(routeOther, status, 0)
	}
	s.log.LogAttrs(s.base, levelClientError, "request rejected by the HTTP layer",
		attrRequestID(rid), attrStatus(status), attrError(err))
}
