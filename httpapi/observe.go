package httpapi

import (
	"time"

	"github.com/valyala/fasthttp"
)

// observed wraps h to report every request to Options.Observe.
func (s *Server) observed(h fasthttp.RequestHandler) fasthttp.RequestHandler {
	obs := s.opts.Observe
	if obs == nil {
		return h
	}
	return func(ctx *fasthttp.RequestCtx) {
		start := time.Now()
		h(ctx)
		obs(routeOf(ctx), ctx.Response.StatusCode(), time.Since(start))
	}
}

// routeOf names a request's route by its pattern, never by its path: a
// metrics label must take few values whatever clients send.
func routeOf(ctx *fasthttp.RequestCtx) string {
	if _, ok := messagesPath(ctx.Path()); ok {
		switch {
		case ctx.IsPost():
			return "POST /api/v2/users/{accountId}/messages"
		case ctx.IsGet():
			return "GET /api/v2/users/{accountId}/messages"
		}
		return "other /api/v2/users/{accountId}/messages"
	}
	return "other"
}
