package httpapi

import (
	"time"

	"github.com/valyala/fasthttp"
)

// Route labels: a request's route by its pattern, never by its path, so
// that a metrics label takes few values whatever clients send.
const (
	routePostMessages  = "POST /api/v2/users/{accountId}/messages"
	routeGetMessages   = "GET /api/v2/users/{accountId}/messages"
	routeOtherMessages = "other /api/v2/users/{accountId}/messages"
	routeGetMDR        = "GET /api/v2/users/{accountId}/messages/mdr.csv"
	routeOther         = "other"
)

// observed returns the API handler, reporting every request to
// Options.Observe with the route handleRoute named.
func (s *Server) observed() fasthttp.RequestHandler {
	obs := s.opts.Observe
	if obs == nil {
		return s.handle
	}
	return func(ctx *fasthttp.RequestCtx) {
		start := time.Now()
		route := s.handleRoute(ctx)
		obs(route, ctx.Response.StatusCode(), time.Since(start))
	}
}
