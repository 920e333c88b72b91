package bridge

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"smppbridge/store"
)

// rawReceiver is a TCP endpoint that parses each request with net/http
// and answers it with a canned reply, byte for byte. After each reply it
// closes the connection when closeAfter says so.
type rawReceiver struct {
	ln       net.Listener
	accepted atomic.Int64
	reqs     chan *http.Request // with Body read into bodies
	bodies   chan string
	closed   chan struct{} // a connection was closed by the receiver
}

func newRawReceiver(t *testing.T, reply func(n int) (raw string, closeAfter bool)) *rawReceiver {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &rawReceiver{ln: ln, reqs: make(chan *http.Request, 100), bodies: make(chan string, 100), closed: make(chan struct{}, 100)}
	var wg sync.WaitGroup
	var conns sync.Map
	t.Cleanup(func() {
		ln.Close()
		conns.Range(func(k, _ any) bool { k.(net.Conn).Close(); return true })
		wg.Wait()
	})
	var n atomic.Int64
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			r.accepted.Add(1)
			conns.Store(c, true)
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					body, _ := io.ReadAll(req.Body)
					r.reqs <- req
					r.bodies <- string(body)
					raw, closeAfter := reply(int(n.Add(1)))
					if _, err := io.WriteString(c, raw); err != nil || closeAfter {
						c.Close()
						r.closed <- struct{}{}
						return
					}
				}
			}()
		}
	}()
	return r
}

func (r *rawReceiver) url() string { return "http://" + r.ln.Addr().String() + "/cb?x=1" }

// rawBody is a request body given whole.
type rawBody []byte

func (r rawBody) bodyLen() int                 { return len(r) }
func (r rawBody) appendBody(dst []byte) []byte { return append(dst, r...) }

func testClient() *callbackClient { return newCallbackClient(5*time.Second, 4, 8) }

// TestCallbackClientReplies: what the client makes of replies framed in
// every way HTTP/1.x allows, and whether it keeps the connection.
func TestCallbackClientReplies(t *testing.T) {
	cases := []struct {
		name      string
		reply     string
		code      int
		challenge bool
		keep      bool
	}{
		{"204", "HTTP/1.1 204 No Content\r\nDate: x\r\n\r\n", 204, false, true},
		{"200 with Content-Length", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", 200, false, true},
		{"no reason phrase", "HTTP/1.1 202\r\nContent-Length: 0\r\n\r\n", 202, false, true},
		{"chunked with trailer", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: 1\r\n\r\n", 200, false, true},
		{"Connection: close", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok", 200, false, false},
		{"HTTP/1.0", "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok", 200, false, false},
		{"HTTP/1.0 keep-alive", "HTTP/1.0 200 OK\r\nContent-Length: 2\r\nConnection: Keep-Alive\r\n\r\nok", 200, false, true},
		{"100 Continue first", "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n", 201, false, true},
		{"body until close", "HTTP/1.1 200 OK\r\n\r\nuntil the end", 200, false, false},
		{"body too long to drain", "HTTP/1.1 500 Oops\r\nContent-Length: 1000000\r\n\r\n" + strings.Repeat("x", 1000), 500, false, false},
		{"401 Basic among challenges", "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Digest realm=\"a\"\r\nwww-authenticate: Newauth, basic realm=\"cb\"\r\nContent-Length: 0\r\n\r\n", 401, true, true},
		{"401 without Basic", "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Bearer\r\nContent-Length: 0\r\n\r\n", 401, false, true},
		{"302", "HTTP/1.1 302 Found\r\nLocation: /x\r\nContent-Length: 0\r\n\r\n", 302, false, true},
		{"header longer than the read buffer", "HTTP/1.1 401 Unauthorized\r\nSet-Cookie: " + strings.Repeat("c", 9000) +
			"\r\nWWW-Authenticate: Basic realm=\"x\"\r\nContent-Length: 3\r\n\r\nabc", 401, true, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := newRawReceiver(t, func(int) (string, bool) { return c.reply, false })
			cl := testClient()
			defer cl.closeIdle(true)
			body := `[{"type":"message-delivered"}]`
			code, challenge, err := cl.post(context.Background(), cl.target(srv.url()), rawBody(body), "")
			if err != nil || code != c.code || challenge != c.challenge {
				t.Fatalf("got %d challenge=%v err=%v; want %d challenge=%v", code, challenge, err, c.code, c.challenge)
			}
			req := <-srv.reqs
			if got := <-srv.bodies; got != body {
				t.Fatalf("body %q", got)
			}
			if req.Method != "POST" || req.URL.RequestURI() != "/cb?x=1" || req.Host != srv.ln.Addr().String() ||
				req.Header.Get("Content-Type") != "application/json; charset=utf-8" || req.Header.Get("User-Agent") != "BandwidthAPI/v2" ||
				req.ContentLength != int64(len(body)) || req.Header.Get("Authorization") != "" {
				t.Fatalf("request %s %s host %q headers %v", req.Method, req.URL, req.Host, req.Header)
			}
			cl.mu.Lock()
			kept := cl.nIdle == 1
			cl.mu.Unlock()
			if kept != c.keep {
				t.Fatalf("connection kept %v, want %v", kept, c.keep)
			}
			// The next request works either way, on the same connection
			// when it was kept.
			if code, _, err := cl.post(context.Background(), cl.target(srv.url()), rawBody(body), basicAuth("u", "p")); err != nil || code != c.code {
				t.Fatalf("second request: %d %v", code, err)
			}
			if req := <-srv.reqs; req.Header.Get("Authorization") != "Basic dTpw" {
				t.Fatalf("Authorization %q", req.Header.Get("Authorization"))
			}
			want := int64(2)
			if c.keep {
				want = 1
			}
			if n := srv.accepted.Load(); n != want {
				t.Fatalf("%d connections, want %d", n, want)
			}
		})
	}
}

// TestCallbackClientMalformed: replies that are not HTTP are errors, and
// the connection is not reused.
func TestCallbackClientMalformed(t *testing.T) {
	for _, reply := range []string{
		"SSH-2.0-OpenSSH\r\n\r\n",
		"HTTP/1.1 2000 OK\r\n\r\n",
		"HTTP/1.1 abc OK\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
		"HTTP/1.1 200 OK\r\n" + strings.Repeat("X: "+strings.Repeat("a", 5000)+"\r\n", 220) + "\r\n",
	} {
		srv := newRawReceiver(t, func(int) (string, bool) { return reply, false })
		cl := testClient()
		_, _, err := cl.post(context.Background(), cl.target(srv.url()), rawBody("[]"), "")
		if !errors.Is(err, errMalformedReply) {
			t.Errorf("reply %.30q: err %v", reply, err)
		}
		if cl.nIdle != 0 {
			t.Errorf("reply %.30q: connection kept", reply)
		}
		cl.closeIdle(true)
	}
}

// TestCallbackClientStaleConnection: a receiver that closes a kept-alive
// connection while it is idle costs no attempt: the request goes out again
// on a new connection, once.
func TestCallbackClientStaleConnection(t *testing.T) {
	srv := newRawReceiver(t, func(int) (string, bool) { return "HTTP/1.1 204 No Content\r\n\r\n", true })
	cl := testClient()
	defer cl.closeIdle(true)
	for i := range 3 {
		code, _, err := cl.post(context.Background(), cl.target(srv.url()), rawBody("[]"), "")
		if err != nil || code != 204 {
			t.Fatalf("request %d: %d %v", i, code, err)
		}
		<-srv.closed // the receiver closed it after replying, without saying so
	}
	if n := len(srv.reqs); n != 3 {
		t.Fatalf("%d requests reached the receiver, want 3", n)
	}
	if n := srv.accepted.Load(); n != 3 {
		t.Fatalf("%d connections, want 3", n)
	}
	// A connection closed before any reply on a fresh connection is an
	// error, not retried.
	dead := newRawReceiver(t, func(int) (string, bool) { return "", true })
	if _, _, err := cl.post(context.Background(), cl.target(dead.url()), rawBody("[]"), ""); err == nil {
		t.Fatal("no error")
	}
	if n := dead.accepted.Load(); n != 1 {
		t.Fatalf("%d connections, want 1", n)
	}
}

// TestCallbackClientTimeoutAndCancel: no reply ends at the timeout; a
// cancelled context ends the request at once.
func TestCallbackClientTimeoutAndCancel(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
			go io.Copy(io.Discard, c) // reads, never answers
		}
	}()
	url := "http://" + ln.Addr().String() + "/cb"
	cl := newCallbackClient(200*time.Millisecond, 4, 8)
	defer cl.closeIdle(true)
	if _, _, err := cl.post(context.Background(), cl.target(url), rawBody("[]"), ""); !errors.Is(err, errCallbackTimeout) {
		t.Fatalf("err %v, want a timeout", err)
	}
	cl.timeout = time.Minute
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { _, _, err := cl.post(ctx, cl.target(url), rawBody("[]"), ""); done <- err }()
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the cancelled request did not end")
	}
	if cl.nIdle != 0 {
		t.Fatal("a timed out connection was kept")
	}
}

// TestCallbackClientTLS: https with a trusted certificate works, keeps its
// connection alive and carries Basic credentials.
func TestCallbackClientTLS(t *testing.T) {
	var newConns atomic.Int64
	got := make(chan string, 10)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, p, _ := r.BasicAuth()
		got <- r.Proto + " " + u + ":" + p
		w.WriteHeader(http.StatusOK)
		io.WriteString(w, strings.Repeat("chunked reply ", 1000)) // no Content-Length: chunked
	}))
	srv.EnableHTTP2 = true // the client must still speak HTTP/1.1
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			newConns.Add(1)
		}
	}
	srv.StartTLS()
	defer srv.Close()
	roots := x509.NewCertPool()
	roots.AddCert(srv.Certificate())
	cl := testClient()
	cl.tlsBase = &tls.Config{RootCAs: roots}
	defer cl.closeIdle(true)
	for i := range 3 {
		code, _, err := cl.post(context.Background(), cl.target(srv.URL+"/cb"), rawBody("[]"), basicAuth("cb", "s3cret"))
		if err != nil || code != 200 {
			t.Fatalf("request %d: %d %v", i, code, err)
		}
		if g := <-got; g != "HTTP/1.1 cb:s3cret" {
			t.Fatalf("request %d: %q", i, g)
		}
	}
	if n := newConns.Load(); n != 1 {
		t.Fatalf("%d connections, want 1", n)
	}
}

// TestWebhookClosesConnections: after Stop no connection of the sender's
// is left open at the receiver.
func TestWebhookClosesConnections(t *testing.T) {
	var open atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusNoContent)
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		switch s {
		case http.StateNew:
			open.Add(1)
		case http.StateClosed, http.StateHijacked:
			open.Add(-1)
		}
	}
	srv.Start()
	defer srv.Close()
	o := newOutbox(t)
	w, err := NewWebhooks(WebhookOptions{Outbox: o, ConcurrencyPerEndpoint: 4})
	if err != nil {
		t.Fatal(err)
	}
	w.Start()
	addJobs(t, o, "a", srv.URL+"/cb", 40, "x")
	w.Notify()
	if got := o.waitJobs(t, 40); len(got["done"]) != 40 {
		t.Fatalf("outcomes %v", got)
	}
	if open.Load() == 0 {
		t.Fatal("no connection kept alive")
	}
	if err := w.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); open.Load() != 0; {
		if time.Now().After(deadline) {
			t.Fatalf("%d connections still open after Stop", open.Load())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestBatchBodyLength: the length announced before a batch's body is
// written is the body's, for bodies with space around and inside their
// brackets, empty arrays and bodies that are no array.
func TestBatchBodyLength(t *testing.T) {
	bodies := []string{`[{"a":1}]`, " [ {\"b\":2} , {\"c\":3} ]\n", `[]`, ` [ ] `, `{"d":4}`, `[{"e":5}]`}
	for n := 1; n <= len(bodies); n++ {
		for start := 0; start+n <= len(bodies); start++ {
			b := &batch{}
			for _, body := range bodies[start : start+n] {
				b.jobs = append(b.jobs, store.CallbackJob{Body: []byte(body)})
			}
			got := b.appendBody([]byte("head"))
			if string(got[4:]) != string(b.body()) || len(got)-4 != b.bodyLen() {
				t.Fatalf("%q: appended %q, body %q, length %d", bodies[start:start+n], got[4:], b.body(), b.bodyLen())
			}
			if n > 1 && !json.Valid(b.body()) && start+n <= 4 {
				t.Fatalf("%q: %q is not JSON", bodies[start:start+n], b.body())
			}
		}
	}
}
