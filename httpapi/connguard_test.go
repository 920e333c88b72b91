package httpapi

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"smppbridge/bridge"
)

// guardedServer serves core on loopback TCP with the given timeouts.
func guardedServer(t *testing.T, core Core, opts Options) string {
	t.Helper()
	opts.Addr = "127.0.0.1:0"
	s := New(core, opts)
	if err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve() }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		<-done
	})
	return s.Addr()
}

func post(t *testing.T, c net.Conn, br *bufio.Reader) *fasthttp.Response {
	t.Helper()
	req := rawRequest{method: "POST", path: testPath, body: goodBody,
		headers: []string{"Authorization: " + basic(testUser, testPass), "Content-Type: application/json"}}
	if _, err := c.Write(req.bytes()); err != nil {
		t.Fatal(err)
	}
	var resp fasthttp.Response
	if err := resp.Read(br); err != nil {
		t.Fatalf("reading the response: %v", err)
	}
	return &resp
}

// TestGuardIdleTimeout: a keep-alive connection that stays idle longer
// than IdleTimeout is closed by the server, not before; one in use stays
// open however long it is used.
func TestGuardIdleTimeout(t *testing.T) {
	const idle = 300 * time.Millisecond
	addr := guardedServer(t, &fakeCore{}, Options{IdleTimeout: idle, ReadTimeout: 5 * time.Second})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	// In use for three idle timeouts, a request every third of one.
	for start := time.Now(); ; {
		if resp := post(t, c, br); resp.StatusCode() != 202 {
			t.Fatalf("status %d", resp.StatusCode())
		}
		if time.Since(start) > 3*idle {
			break
		}
		time.Sleep(idle / 3) // the idle gap between requests is the input here
	}
	// Idle: closed after the timeout (with a tick's slack), not long after.
	began := time.Now()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := br.ReadByte(); !errors.Is(err, io.EOF) {
		t.Fatalf("idle connection: read %v, want EOF", err)
	}
	if took := time.Since(began); took < idle*9/10 || took > 5*time.Second {
		t.Errorf("idle connection closed after %v, want about %v", took, idle)
	}
}

// TestGuardReadTimeoutOnKeepAlive: the second request on a connection,
// sent too slowly, gets a 408 after ReadTimeout counted from its first
// byte, not from the connection's start.
func TestGuardReadTimeoutOnKeepAlive(t *testing.T) {
	const read = 300 * time.Millisecond
	addr := guardedServer(t, &fakeCore{}, Options{ReadTimeout: read, IdleTimeout: 10 * time.Second})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	if resp := post(t, c, br); resp.StatusCode() != 202 {
		t.Fatalf("status %d", resp.StatusCode())
	}
	time.Sleep(2 * read) // idle longer than ReadTimeout: the idle timeout applies
	began := time.Now()
	if _, err := c.Write([]byte("POST " + testPath + " HTTP/1.1\r\nHost: x\r\n")); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	var resp fasthttp.Response
	if err := resp.Read(br); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode() != 408 {
		t.Fatalf("status %d: %s", resp.StatusCode(), resp.Body())
	}
	if took := time.Since(began); took < read*9/10 || took > 5*time.Second {
		t.Errorf("408 after %v, want about %v", took, read)
	}
}

// TestGuardSlowHandlerKeepsConnection: a handler that takes longer than
// ReadTimeout does not count against the client's reading time; the
// connection serves the next request.
func TestGuardSlowHandlerKeepsConnection(t *testing.T) {
	const read = 200 * time.Millisecond
	core := &fakeCore{send: func(ctx context.Context, req *bridge.SendRequest) (*bridge.Message, error) {
		time.Sleep(3 * read) // a slow store: the duration is the input here
		return echo(ctx, req)
	}}
	addr := guardedServer(t, core, Options{ReadTimeout: read, WriteTimeout: 10 * time.Second})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	br := bufio.NewReader(c)
	for i := range 2 {
		if resp := post(t, c, br); resp.StatusCode() != 202 {
			t.Fatalf("request %d: status %d", i, resp.StatusCode())
		}
	}
}

// TestGuardWriteTimeout: a write the peer does not take fails with a
// timeout once WriteTimeout has passed; reads and writes that make
// progress are never cut.
func TestGuardWriteTimeout(t *testing.T) {
	const write = 200 * time.Millisecond
	g := newConnGuard(0, write, 0)
	g.run()
	defer g.close()
	server, client := net.Pipe() // synchronous: a write blocks until read
	defer client.Close()
	ln := &guardListener{Listener: &oneConnListener{c: server}, g: g}
	c, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	go io.ReadFull(client, make([]byte, 5))
	if _, err := c.Write([]byte("hello")); err != nil {
		t.Fatalf("write taken by the peer: %v", err)
	}
	began := time.Now()
	_, err = c.Write([]byte("nobody reads this"))
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("write nobody reads: %v, want a timeout", err)
	}
	if took := time.Since(began); took < write*9/10 || took > 5*time.Second {
		t.Errorf("write failed after %v, want about %v", took, write)
	}
	// The next write starts without the expired deadline.
	go io.ReadFull(client, make([]byte, 5))
	if _, err := c.Write([]byte("again")); err != nil {
		t.Fatalf("write after a timed-out one: %v", err)
	}
}

// TestGuardOutlivesShutdown: after a Shutdown that gave up waiting, the
// guard still bounds the writes of connections left open, and stops once
// they are closed.
func TestGuardOutlivesShutdown(t *testing.T) {
	const write = 200 * time.Millisecond
	g := newConnGuard(0, write, 0)
	g.run()
	server, client := net.Pipe()
	defer client.Close()
	c, err := (&guardListener{Listener: &oneConnListener{c: server}, g: g}).Accept()
	if err != nil {
		t.Fatal(err)
	}
	g.close()
	g.close() // Shutdown may be called again
	if _, err := c.Write([]byte("nobody reads this")); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("stuck write after close: %v, want a timeout", err)
	}
	c.Close()
	select {
	case <-g.done:
	case <-time.After(10 * time.Second):
		t.Fatal("guard still running with no connection left")
	}
}

type oneConnListener struct {
	c    net.Conn
	done bool
}

func (l *oneConnListener) Accept() (net.Conn, error) {
	if l.done {
		return nil, net.ErrClosed
	}
	l.done = true
	return l.c, nil
}
func (l *oneConnListener) Close() error   { return nil }
func (l *oneConnListener) Addr() net.Addr { return l.c.LocalAddr() }
