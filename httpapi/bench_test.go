package httpapi

import (
	"bufio"
	"context"
	"io"
	"net"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"

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

// benchIntoCore is benchCore as a SendIntoCore: the message goes into the
// server's own allocation, as with the bridge.
type benchIntoCore struct{ benchCore }

func (benchIntoCore) SendInto(_ context.Context, req *bridge.SendRequest, m *bridge.Message) error {
	echoInto(req, m)
	return nil
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
	for _, c := range []struct {
		name string
		core Core
	}{{"handler", benchCore{}}, {"handler-into", benchIntoCore{}}} {
		b.Run(c.name, func(b *testing.B) { benchHandler(b, c.core) })
	}
	benchHandlerInMemory(b)
}

// benchHandler runs the handler alone on a reused RequestCtx.
func benchHandler(b *testing.B, core Core) {
	s := New(core, Options{})
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
}

func benchHandlerInMemory(b *testing.B) {
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

// BenchmarkLoopbackCeiling measures what HTTP/1.1 over real loopback TCP
// costs on this machine with 64 keep-alive clients in the same process,
// the set-up of smppload: "empty" answers 202 without doing anything,
// "send" runs our handler with the cheapest core. The difference to the
// daemon's figures is what durability, routing and SMPP add; "empty" is
// the ceiling no intake design can pass here, and "tcp_echo" (no HTTP at
// all: 64 connections each writing 300 bytes and reading them back) what
// the kernel's loopback TCP alone costs per round trip.
func BenchmarkLoopbackCeiling(b *testing.B) {
	run := func(b *testing.B, h fasthttp.RequestHandler) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		srv := &fasthttp.Server{Handler: h, ReadTimeout: 10 * time.Second, WriteTimeout: 10 * time.Second}
		go srv.Serve(ln) //nolint:errcheck // ends at Shutdown
		defer srv.Shutdown()
		c := &fasthttp.HostClient{Addr: ln.Addr().String(), MaxConns: 64}
		b.SetParallelism(64 / runtime.GOMAXPROCS(0))
		b.ReportAllocs()
		b.ResetTimer()
		cpu0 := processCPU()
		b.RunParallel(func(pb *testing.PB) {
			req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
			defer fasthttp.ReleaseRequest(req)
			defer fasthttp.ReleaseResponse(resp)
			req.Header.SetMethod("POST")
			req.SetRequestURI("http://" + ln.Addr().String() + testPath)
			req.Header.Set("Authorization", basic(testUser, testPass))
			req.Header.SetContentType("application/json")
			req.SetBodyString(benchBody)
			for pb.Next() {
				if err := c.Do(req, resp); err != nil {
					b.Error(err)
					return
				}
				if resp.StatusCode() != 202 {
					b.Errorf("status %d", resp.StatusCode())
					return
				}
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
		b.ReportMetric(float64(processCPU()-cpu0)/float64(time.Microsecond)/float64(b.N), "cpu-µs/op")
	}
	b.Run("tcp_echo", benchTCPEcho)
	b.Run("empty", func(b *testing.B) {
		run(b, func(ctx *fasthttp.RequestCtx) { ctx.SetStatusCode(202) })
	})
	b.Run("send", func(b *testing.B) {
		run(b, New(benchCore{}, Options{}).Handler())
	})
}

// benchTCPEcho is BenchmarkLoopbackCeiling's floor below HTTP: 64
// connections over loopback TCP, each writing 300 bytes (about a send
// request) and reading them back from an echoing goroutine.
func benchTCPEcho(b *testing.B) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	var conns sync.WaitGroup
	defer conns.Wait()
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			go func() {
				defer conns.Done()
				defer c.Close()
				buf := make([]byte, 512)
				for {
					n, err := c.Read(buf)
					if err != nil {
						return
					}
					if _, err := c.Write(buf[:n]); err != nil {
						return
					}
				}
			}()
		}
	}()
	b.SetParallelism(64 / runtime.GOMAXPROCS(0))
	b.ResetTimer()
	cpu0 := processCPU()
	b.RunParallel(func(pb *testing.PB) {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			b.Error(err)
			return
		}
		defer c.Close()
		msg, back := make([]byte, 300), make([]byte, 300)
		for pb.Next() {
			if _, err := c.Write(msg); err != nil {
				b.Error(err)
				return
			}
			if _, err := io.ReadFull(c, back); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
	b.ReportMetric(float64(processCPU()-cpu0)/float64(time.Microsecond)/float64(b.N), "cpu-µs/op")
}

// processCPU is the CPU time (user + system) the process has used: on a
// shared machine it compares across runs where wall time does not.
func processCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
