package httpapi

import (
	"bufio"
	"context"
	"testing"

	"github.com/valyala/fasthttp"

	"smppbridge/bridge"
)

// benchCore is the cheapest honest Core: it accepts everything and builds a
// Message from the request, as the bridge will.
type benchCore struct{}

func (benchCore) Authenticate(accountID, username, password string) error {
	return defaultAuth(accountID, username, password)
}

func (benchCore) Send(ctx context.Context, req *bridge.SendRequest) (*bridge.Message, error) {
	return echo(ctx, req)
}

// benchBody is a realistic single-recipient request with a 160-character
// text.
const benchBody = `{"applicationId":"93de2206-9669-4e07-948d-329f4b722ee2","to":["+15550002222"],"from":"+15550001111",` +
	`"text":"Your verification code is 123456. It expires in 10 minutes. If you did not request this code, you can ignore this message. Reply STOP to opt out now!!",` +
	`"tag":"order-42","priority":"default"}`

// BenchmarkHandlerSend measures the HTTP layer's cost per accepted message.
//
//   - handler: our handler alone on a reused RequestCtx: auth parsing,
//     content type, decoding with copies, context, Core call, rendering.
//   - inmemory: a full round trip through fasthttp's server on a keep-alive
//     in-memory connection, including writing the request and parsing the
//     response on the client side.
func BenchmarkHandlerSend(b *testing.B) {
	b.Run("handler", func(b *testing.B) {
		s := New(benchCore{}, Options{})
		h := s.Handler()
		var req fasthttp.Request
		req.Header.SetMethod("POST")
		req.SetRequestURI(testPath)
		req.Header.Set("Authorization", basic(testUser, testPass))
		req.Header.SetContentType("application/json; charset=utf-8")
		req.SetBodyString(benchBody)
		var ctx fasthttp.RequestCtx
		ctx.Init(&req, nil, nil)
		b.SetBytes(int64(len(benchBody)))
		b.ReportAllocs()
		for b.Loop() {
			ctx.Response.Reset()
			h(&ctx)
		}
		if ctx.Response.StatusCode() != 202 {
			b.Fatalf("status %d: %s", ctx.Response.StatusCode(), ctx.Response.Body())
		}
	})
	b.Run("inmemory", func(b *testing.B) {
		s := New(benchCore{}, Options{})
		ln := startServer(b, s)
		c, err := ln.Dial()
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		raw := rawRequest{method: "POST", path: testPath, body: benchBody, headers: []string{
			"Authorization: " + basic(testUser, testPass), "Content-Type: application/json; charset=utf-8"}}.bytes()
		br := bufio.NewReader(c)
		var resp fasthttp.Response
		b.SetBytes(int64(len(benchBody)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := c.Write(raw); err != nil {
				b.Fatal(err)
			}
			resp.Reset()
			if err := resp.Read(br); err != nil {
				b.Fatal(err)
			}
			if resp.StatusCode() != 202 {
				b.Fatalf("status %d: %s", resp.StatusCode(), resp.Body())
			}
		}
	})
}
