package httpapi

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttputil"

	"smppbridge/bridge"
)

const (
	testAccount = "9900000"
	testUser    = "alice"
	testPass    = "s3cret:with:colons"
	testPath    = "/api/v2/users/" + testAccount + "/messages"
	testMsgID   = "1700000000000abcd1234efgh5678"
	testAppID   = "93de2206-9669-4e07-948d-329f4b722ee2"
)

var testTime = time.Date(2023, 11, 14, 22, 13, 20, 0, time.UTC)

func basic(user, pass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
}

// authFunc and sendFunc make a fake Core out of plain functions; nil fields
// fall back to the defaults below.
type (
	authFunc func(accountID, username, password string) error
	sendFunc func(ctx context.Context, req *bridge.SendRequest) (*bridge.Message, error)
)

type fakeCore struct {
	auth authFunc
	send sendFunc

	mu    sync.Mutex
	creds [][3]string
	reqs  []*bridge.SendRequest
	ctxs  []context.Context
}

func (f *fakeCore) Authenticate(accountID, username, password string) error {
	f.mu.Lock()
	f.creds = append(f.creds, [3]string{accountID, username, password})
	auth := f.auth
	f.mu.Unlock()
	if auth != nil {
		return auth(accountID, username, password)
	}
	return defaultAuth(accountID, username, password)
}

func (f *fakeCore) Send(ctx context.Context, req *bridge.SendRequest) (*bridge.Message, error) {
	f.mu.Lock()
	f.reqs = append(f.reqs, req)
	f.ctxs = append(f.ctxs, ctx)
	send := f.send
	f.mu.Unlock()
	if send != nil {
		return send(ctx, req)
	}
	return echo(ctx, req)
}

// reset forgets recorded calls and installs new behaviour.
func (f *fakeCore) reset(auth authFunc, send sendFunc) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.auth, f.send = auth, send
	f.creds, f.reqs, f.ctxs = nil, nil, nil
}

func (f *fakeCore) lastReq(t *testing.T) *bridge.SendRequest {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.reqs) == 0 {
		t.Fatal("Core.Send was not called")
	}
	return f.reqs[len(f.reqs)-1]
}

func (f *fakeCore) sendCalls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.reqs)
}

// defaultAuth knows one API user, who belongs to testAccount only.
func defaultAuth(accountID, username, password string) error {
	if username != testUser || password != testPass {
		return bridge.ErrUnauthorized
	}
	if accountID != testAccount {
		return bridge.ErrForbidden
	}
	return nil
}

// echo accepts everything, as the bridge would render it.
func echo(_ context.Context, req *bridge.SendRequest) (*bridge.Message, error) {
	m := new(bridge.Message)
	echoInto(req, m)
	return m, nil
}

// echoInto is echo writing into m (SendIntoCore).
func echoInto(req *bridge.SendRequest, m *bridge.Message) {
	prio := req.Priority
	if prio == "" {
		prio = "default"
	}
	*m = bridge.Message{
		ID: testMsgID, Owner: req.From, ApplicationID: req.ApplicationID, Time: testTime,
		SegmentCount: 1, Direction: "out", To: req.To, From: req.From, Text: req.Text,
		Media: req.Media, Tag: req.Tag, HasTag: req.HasTag, Priority: prio, Expiration: req.Expiration,
	}
}

// startServer serves s on an in-memory listener until the test ends.
func startServer(t testing.TB, s *Server) *fasthttputil.InmemoryListener {
	t.Helper()
	ln := fasthttputil.NewInmemoryListener()
	s.useListener(ln)
	done := make(chan error, 1)
	go func() { done <- s.Serve() }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return ln
}

// rawRequest is an HTTP/1.1 request written byte for byte, so tests control
// exactly which headers are sent (fasthttp's client adds a Content-Type).
type rawRequest struct {
	method  string
	path    string
	headers []string // "Name: value"
	body    string
}

func (r rawRequest) bytes() []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: bridge.test\r\n", r.method, r.path)
	for _, h := range r.headers {
		b.WriteString(h)
		b.WriteString("\r\n")
	}
	if r.body != "" || r.method == "POST" {
		fmt.Fprintf(&b, "Content-Length: %d\r\n", len(r.body))
	}
	b.WriteString("\r\n")
	b.WriteString(r.body)
	return []byte(b.String())
}

// do sends one request on a fresh in-memory connection.
func do(t testing.TB, ln *fasthttputil.InmemoryListener, r rawRequest) *fasthttp.Response {
	t.Helper()
	c, err := ln.Dial()
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer c.Close()
	// Written concurrently: the server may answer (413) before reading all.
	go func() { _, _ = c.Write(r.bytes()) }()
	var resp fasthttp.Response
	if r.method == "HEAD" {
		resp.SkipBody = true
	}
	if err := resp.Read(bufio.NewReader(c)); err != nil {
		t.Fatalf("reading response: %v", err)
	}
	return &resp
}

// jsonEqual compares two JSON documents structurally.
func jsonEqual(t testing.TB, got []byte, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("response is not JSON: %v\n%s", err, got)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("bad expectation %q: %v", want, err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Fatalf("body\n got %s\nwant %s", got, want)
	}
}

func keys(m map[string]any) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
