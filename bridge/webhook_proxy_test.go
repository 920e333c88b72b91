package bridge

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"smppbridge/store"
)

// Callbacks to URLs that HTTP_PROXY / HTTPS_PROXY cover go through
// net/http and the proxy instead of the sender's own client. Go never
// proxies loopback hosts and reads the proxy settings once per process, so
// the sender runs in a child process (TestWebhookProxyChild) whose
// environment names a proxy on 127.0.0.1 run by TestWebhookThroughProxy;
// the callback URLs name hosts that need not resolve, which only the proxy
// knows how to reach.

const (
	proxyChildEnv = "CALLBACK_PROXY_CHILD" // set: this process is the child
	proxyUser     = "pxuser"
	proxyPass     = "px pass"
	cbUser        = "cbuser"
	cbPass        = "cb pass:1" // a colon in the password is allowed
	plainHost     = "customer.example:8080"
	tlsHost       = "example.com:8443" // httptest's certificate names example.com
)

// proxyTestJobs are the child's jobs, one per application; the parent
// compares what the endpoint received with their bodies.
func proxyTestJobs(t testing.TB) []store.CallbackJob {
	urls := []struct{ app, url string }{
		{"plain", "http://" + plainHost + "/cb?x=1"},
		{"auth", "http://" + plainHost + "/auth"},
		{"retry", "http://" + plainHost + "/retry"},
		{"tls", "https://" + tlsHost + "/cb"},
	}
	jobs := make([]store.CallbackJob, len(urls))
	for i, u := range urls {
		ev := CallbackEvent{Type: "message-delivered", Time: cbT0.Add(time.Second), Description: "ok", To: "+15550002222",
			Message: CallbackMessage{ID: "m-" + u.app, Owner: "+15550001111", ApplicationID: u.app, Time: cbT0, SegmentCount: 1,
				Direction: "out", To: []string{"+15550002222"}, From: "+15550001111"}}
		body, err := EncodeCallbackEvents(CallbackStatus, []CallbackEvent{ev})
		if err != nil {
			t.Fatal(err)
		}
		jobs[i] = store.CallbackJob{ApplicationID: u.app, Kind: CallbackStatus, URL: u.url, Body: body, Created: cbT0}
	}
	return jobs
}

// endpointRequest is what the customer's endpoint received.
type endpointRequest struct {
	tls                                                               bool
	proto, method, host, uri, contentType, userAgent, auth, proxyAuth string
	contentLength                                                     int64
	body                                                              string
	status                                                            int // answered
}

// proxyEndpoint is the customer's endpoint: /auth wants Basic credentials
// (401 challenge first), /retry answers 503 once, anything else 200.
type proxyEndpoint struct {
	mu      sync.Mutex
	reqs    []endpointRequest
	retries int
}

func (e *proxyEndpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	status := http.StatusOK
	e.mu.Lock()
	switch r.URL.Path {
	case "/auth":
		if r.Header.Get("Authorization") != basicAuth(cbUser, cbPass) {
			w.Header().Set("WWW-Authenticate", `Basic realm="callbacks"`)
			status = http.StatusUnauthorized
		}
	case "/retry":
		if e.retries == 0 {
			status = http.StatusServiceUnavailable
		}
		e.retries++
	}
	e.reqs = append(e.reqs, endpointRequest{tls: r.TLS != nil, proto: r.Proto, method: r.Method, host: r.Host, uri: r.URL.RequestURI(),
		contentType: r.Header.Get("Content-Type"), userAgent: r.Header.Get("User-Agent"), auth: r.Header.Get("Authorization"),
		proxyAuth: r.Header.Get("Proxy-Authorization"), contentLength: r.ContentLength, body: string(body), status: status})
	e.mu.Unlock()
	w.WriteHeader(status)
}

// callbackProxy is a forward proxy on 127.0.0.1 that requires Basic proxy
// credentials. It answers absolute-form requests for plainHost itself, as
// the customer's endpoint, and tunnels CONNECT to tlsHost to a local TLS
// endpoint; it dials nothing else. GET /open-connections (origin form)
// answers how many client connections it has open besides that one.
type callbackProxy struct {
	srv      *httptest.Server
	endpoint http.Handler
	tlsAddr  string
	open     atomic.Int64
	tunnels  sync.WaitGroup
	// rejectAll: answer 407 to everything.
	rejectAll bool

	mu   sync.Mutex
	seen []string // "METHOD target" of each proxied request
}

func startCallbackProxy(t *testing.T, endpoint http.Handler, tlsAddr string) *callbackProxy {
	return startProxy(t, &callbackProxy{endpoint: endpoint, tlsAddr: tlsAddr})
}

// startRejectingProxy starts a proxy that answers every request 407, the
// right credentials or not: as a proxy does whose credentials changed.
func startRejectingProxy(t *testing.T) *callbackProxy {
	return startProxy(t, &callbackProxy{rejectAll: true})
}

func startProxy(t *testing.T, p *callbackProxy) *callbackProxy {
	p.srv = httptest.NewUnstartedServer(p)
	p.srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		switch s {
		case http.StateNew:
			p.open.Add(1)
		case http.StateClosed, http.StateHijacked:
			p.open.Add(-1)
		}
	}
	p.srv.Start()
	t.Cleanup(func() {
		p.srv.Close()
		p.tunnels.Wait()
	})
	return p
}

func (p *callbackProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet && r.RequestURI == "/open-connections" {
		fmt.Fprint(w, p.open.Load()-1)
		return
	}
	target := r.RequestURI
	if r.Method == http.MethodConnect {
		target = r.Host
	}
	p.mu.Lock()
	p.seen = append(p.seen, r.Method+" "+target)
	p.mu.Unlock()
	if p.rejectAll || r.Header.Get("Proxy-Authorization") != basicAuth(proxyUser, proxyPass) {
		w.Header().Set("Proxy-Authenticate", `Basic realm="proxy"`)
		w.WriteHeader(http.StatusProxyAuthRequired)
		return
	}
	switch {
	case r.Method == http.MethodConnect && r.Host == tlsHost:
		p.tunnel(w)
	case r.Method != http.MethodConnect && r.URL.IsAbs() && r.URL.Scheme == "http" && r.URL.Host == plainHost:
		r.Header.Del("Proxy-Authorization") // for the proxy only
		p.endpoint.ServeHTTP(w, r)
	default:
		http.Error(w, "this proxy reaches only "+plainHost+" and CONNECT "+tlsHost, http.StatusBadGateway)
	}
}

// tunnel connects the hijacked client connection to the TLS endpoint.
func (p *callbackProxy) tunnel(w http.ResponseWriter) {
	up, err := net.DialTimeout("tcp", p.tlsAddr, 10*time.Second)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	client, rw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		up.Close()
		return
	}
	p.open.Add(1) // the tunnel keeps the client's connection open
	p.tunnels.Add(1)
	go func() {
		defer p.tunnels.Done()
		defer p.open.Add(-1)
		rw.WriteString("HTTP/1.1 200 Connection established\r\n\r\n")
		if err := rw.Flush(); err != nil {
			client.Close()
			up.Close()
			return
		}
		var wg sync.WaitGroup
		wg.Add(2)
		go func() { defer wg.Done(); io.Copy(up, rw.Reader); up.Close(); client.Close() }()
		go func() { defer wg.Done(); io.Copy(client, up); up.Close(); client.Close() }()
		wg.Wait()
	}()
}

// TestWebhookThroughProxy: callbacks whose URLs HTTP_PROXY/HTTPS_PROXY
// cover reach their endpoint through the proxy (absolute-form requests,
// CONNECT for https) with the contract's method, headers and body; proxy
// credentials from the proxy URL go to the proxy only; the 401 challenge
// flow and retries after a 5xx work through it; Stop leaves no connection
// to the proxy open.
func TestWebhookThroughProxy(t *testing.T) {
	if os.Getenv(proxyChildEnv) != "" {
		t.Skip("in the child process")
	}
	ep := &proxyEndpoint{}
	tlsSrv := httptest.NewUnstartedServer(ep)
	tlsSrv.EnableHTTP2 = true // offered; the sender must still speak HTTP/1.1
	tlsSrv.StartTLS()
	t.Cleanup(tlsSrv.Close)
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: tlsSrv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	px := startCallbackProxy(t, ep, tlsSrv.Listener.Addr().String())
	proxyURL := (&url.URL{Scheme: "http", User: url.UserPassword(proxyUser, proxyPass), Host: px.srv.Listener.Addr().String()}).String()

	runProxyChild(t, "TestWebhookProxyChild", "1", proxyURL, caFile)

	px.mu.Lock()
	seen := strings.Join(px.seen, "\n")
	px.mu.Unlock()
	wantSeen := strings.Join([]string{
		"CONNECT " + tlsHost,
		"POST http://" + plainHost + "/auth",
		"POST http://" + plainHost + "/auth",
		"POST http://" + plainHost + "/cb?x=1",
		"POST http://" + plainHost + "/retry",
		"POST http://" + plainHost + "/retry",
	}, "\n")
	if sorted := sortedLines(seen); sorted != wantSeen {
		t.Errorf("the proxy saw\n%s\nwant (in any order)\n%s", seen, wantSeen)
	}

	bodies := map[string]string{}
	for _, j := range proxyTestJobs(t) {
		u, _ := url.Parse(j.URL)
		bodies[u.Host+u.RequestURI()] = string(j.Body)
	}
	ep.mu.Lock()
	reqs := append([]endpointRequest(nil), ep.reqs...)
	ep.mu.Unlock()
	var got []string
	for _, r := range reqs {
		got = append(got, fmt.Sprintf("tls=%v %s %s %s%s auth=%q -> %d", r.tls, r.proto, r.method, r.host, r.uri, r.auth, r.status))
		var events []map[string]any
		if err := json.Unmarshal([]byte(r.body), &events); err != nil || len(events) != 1 {
			t.Errorf("%s%s: body %q is not a JSON array of one event: %v", r.host, r.uri, r.body, err)
		}
		if want := bodies[r.host+r.uri]; r.body != want || r.contentLength != int64(len(want)) {
			t.Errorf("%s%s: body %q (Content-Length %d), want %q", r.host, r.uri, r.body, r.contentLength, want)
		}
		if r.contentType != "application/json; charset=utf-8" || r.userAgent != "BandwidthAPI/v2" || r.proxyAuth != "" {
			t.Errorf("%s%s: Content-Type %q, User-Agent %q, Proxy-Authorization %q", r.host, r.uri, r.contentType, r.userAgent, r.proxyAuth)
		}
	}
	// Per URL in order: the challenge then the credentials; the 503 then
	// the retry.
	wantGot := strings.Join([]string{
		`tls=false HTTP/1.1 POST ` + plainHost + `/auth auth="" -> 401`,
		`tls=false HTTP/1.1 POST ` + plainHost + `/auth auth="` + basicAuth(cbUser, cbPass) + `" -> 200`,
		`tls=false HTTP/1.1 POST ` + plainHost + `/cb?x=1 auth="" -> 200`,
		`tls=false HTTP/1.1 POST ` + plainHost + `/retry auth="" -> 503`,
		`tls=false HTTP/1.1 POST ` + plainHost + `/retry auth="" -> 200`,
		`tls=true HTTP/1.1 POST ` + tlsHost + `/cb auth="" -> 200`,
	}, "\n")
	if g := sortedLines(strings.Join(got, "\n")); g != wantGot {
		t.Errorf("the endpoint got\n%s\nwant (in any order)\n%s", strings.Join(got, "\n"), wantGot)
	}
}

// runProxyChild runs the test named child in a child process whose
// HTTP_PROXY and HTTPS_PROXY are proxyURL and whose proxyChildEnv is mode;
// it fails t unless the child passed.
func runProxyChild(t *testing.T, child, mode, proxyURL, caFile string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^"+child+"$", "-test.v=true", "-test.timeout=2m")
	for _, kv := range os.Environ() {
		switch name, _, _ := strings.Cut(kv, "="); strings.ToUpper(name) {
		case "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "REQUEST_METHOD", "SSL_CERT_FILE":
		default:
			cmd.Env = append(cmd.Env, kv)
		}
	}
	// SSL_CERT_FILE makes the child trust the TLS endpoint's certificate:
	// net/http's transport uses the system roots.
	cmd.Env = append(cmd.Env, proxyChildEnv+"="+mode, "HTTP_PROXY="+proxyURL, "HTTPS_PROXY="+proxyURL, "NO_PROXY=", "SSL_CERT_FILE="+caFile)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: "+child) {
		t.Fatalf("child process (%s): %v\n%s", mode, err, out)
	}
}

// sortedLines sorts s's lines stably by URL, keeping the order of lines
// for the same URL (the attempts on one URL are sequential).
func sortedLines(s string) string {
	lines := strings.Split(s, "\n")
	key := func(l string) string {
		f := strings.Fields(l)
		if len(f) >= 4 && strings.HasPrefix(f[0], "tls=") {
			return f[3]
		}
		return l[strings.IndexByte(l, ' ')+1:]
	}
	for i := 1; i < len(lines); i++ { // insertion sort: stable
		for j := i; j > 0 && key(lines[j]) < key(lines[j-1]); j-- {
			lines[j], lines[j-1] = lines[j-1], lines[j]
		}
	}
	return strings.Join(lines, "\n")
}

// TestWebhookProxyChild is the sender of TestWebhookThroughProxy, in a
// process whose environment names the proxy.
func TestWebhookProxyChild(t *testing.T) {
	if os.Getenv(proxyChildEnv) == "" {
		t.Skip("child process of TestWebhookThroughProxy only")
	}
	o, clock, logs, w, jobs := startProxyChildWebhooks(t, func(app string) bool { return app == "auth" })
	defer func() { checkNoSecrets(t, "log", strings.NewReader(logs.String())) }() // after Stop
	retryID := jobs[2].ID
	w.Start()
	stopped := false
	defer func() {
		if !stopped {
			w.Stop(context.Background())
		}
	}()
	w.Notify()
	done := map[uint64]bool{}
	retried := false
	for step := 0; len(done) < len(jobs); step++ {
		if step > 2*len(jobs) {
			t.Fatalf("after %d outcomes only %d of %d jobs done", step, len(done), len(jobs))
		}
		switch oc := o.wait(t); oc.kind {
		case "done":
			for _, id := range oc.ids {
				if done[id] {
					t.Fatalf("job %d done twice", id)
				}
				done[id] = true
			}
		case "retry":
			if retried || len(oc.ids) != 1 || oc.ids[0] != retryID {
				t.Fatalf("unexpected retry of %v", oc.ids)
			}
			retried = true
			j, dead, err := o.Callback(retryID)
			if err != nil || dead || j.Attempts != 1 || j.LastError != "HTTP 503" {
				t.Fatalf("after the 503: %+v dead=%v %v", j, dead, err)
			}
			clock.Set(j.NextAt)
			w.Notify()
		default:
			t.Fatalf("outcome %v", oc)
		}
	}
	if !retried {
		t.Fatal("the 503 was not retried")
	}
	if c, err := o.CallbackStats(); err != nil || c.Pending() != 0 || c.Dead != 0 {
		t.Fatalf("outbox at the end: %+v %v", c, err)
	}
	if s := w.Stats(); s.Delivered != int64(len(jobs)) || s.Requests != 6 {
		t.Fatalf("stats %+v, want %d delivered in 6 requests", s, len(jobs))
	}

	stopped = true
	if err := w.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Stop closes the kept-alive connections to the proxy, as it does
	// the own client's.
	pu, err := url.Parse(os.Getenv("HTTP_PROXY"))
	if err != nil {
		t.Fatal(err)
	}
	open := ""
	for deadline := time.Now().Add(20 * time.Second); ; {
		open = proxyOpenConnections(t, pu.Host)
		if open == "0" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s connections to the proxy still open 20 s after Stop", open)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// proxyOpenConnections asks the test proxy how many connections it has
// open besides the asking one.
func proxyOpenConnections(t *testing.T, addr string) string {
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, "GET /open-connections HTTP/1.1\r\nHost: "+addr+"\r\nConnection: close\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("open-connections: %d %q %v", resp.StatusCode, b, err)
	}
	if _, err := strconv.Atoi(string(b)); err != nil {
		t.Fatalf("open-connections: %q", b)
	}
	return string(b)
}

// TestWebhookProxyFailures: when the proxy refuses (407) or cannot be
// reached, the job stays for a retry
// with a LastError that says why, and neither LastError nor any log line
// holds the proxy's credentials or the application's callback password.
func TestWebhookProxyFailures(t *testing.T) {
	if os.Getenv(proxyChildEnv) != "" {
		t.Skip("in the child process")
	}
	withCreds := func(host string) string {
		return (&url.URL{Scheme: "http", User: url.UserPassword(proxyUser, proxyPass), Host: host}).String()
	}
	t.Run("407", func(t *testing.T) {
		px := startRejectingProxy(t)
		runProxyChild(t, "TestWebhookProxyFailureChild", "reject", withCreds(px.srv.Listener.Addr().String()), "")
		px.mu.Lock()
		n := len(px.seen)
		px.mu.Unlock()
		if n != len(proxyTestJobs(t)) {
			t.Errorf("the rejecting proxy saw %d requests, want one per job (%d)", n, len(proxyTestJobs(t)))
		}
	})
	t.Run("unreachable", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		closed := ln.Addr().String()
		ln.Close() // nothing listens there any more
		runProxyChild(t, "TestWebhookProxyFailureChild", "unreachable", withCreds(closed), "")
	})
}

// proxyFailureWant is, per child mode, what each job's LastError must
// contain: by URL scheme.
var proxyFailureWant = map[string]map[string]string{
	"reject":      {"http": "HTTP 407: a proxy on the way refused its credentials (HTTP(S)_PROXY or one before the endpoint)", "https": "Proxy Authentication Required"},
	"unreachable": {"http": "proxyconnect", "https": "proxyconnect"},
}

// TestWebhookProxyFailureChild is the sender of TestWebhookProxyFailures.
func TestWebhookProxyFailureChild(t *testing.T) {
	mode := os.Getenv(proxyChildEnv)
	want, ok := proxyFailureWant[mode]
	if !ok {
		t.Skip("child process of TestWebhookProxyFailures only")
	}
	o, _, logs, w, jobs := startProxyChildWebhooks(t, func(string) bool { return true })
	w.Start()
	w.Notify()
	retried := map[uint64]bool{}
	for step := 0; len(retried) < len(jobs); step++ {
		if step > len(jobs) {
			t.Fatalf("after %d outcomes only %d of %d jobs retried", step, len(retried), len(jobs))
		}
		oc := o.wait(t)
		if oc.kind != "retry" {
			t.Fatalf("outcome %v, want retries only", oc)
		}
		for _, id := range oc.ids {
			retried[id] = true
		}
	}
	if err := w.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, j := range jobs {
		got, dead, err := o.Callback(j.ID)
		if err != nil || dead || got.Attempts != 1 {
			t.Fatalf("%s: %+v dead=%v %v, want it kept for a retry", j.URL, got, dead, err)
		}
		u, _ := url.Parse(j.URL)
		if !strings.Contains(got.LastError, want[u.Scheme]) {
			t.Errorf("%s: LastError %q, want it to mention %q", j.URL, got.LastError, want[u.Scheme])
		}
		checkNoSecrets(t, j.URL+" LastError", strings.NewReader(got.LastError))
	}
	if !strings.Contains(logs.String(), "callback failed") {
		t.Errorf("no failure logged:\n%s", logs.String())
	}
	checkNoSecrets(t, "log", strings.NewReader(logs.String()))
}

// proxySecrets are the strings no LastError or log line may contain: the
// proxy's credentials, plain, escaped as in the proxy URL and as Basic
// credentials, and the application's callback credentials.
func proxySecrets() []string {
	return []string{
		proxyUser, proxyPass, url.UserPassword(proxyUser, proxyPass).String(), "px%20pass",
		basicAuth(proxyUser, proxyPass), strings.TrimPrefix(basicAuth(proxyUser, proxyPass), "Basic "),
		cbPass, strings.TrimPrefix(basicAuth(cbUser, cbPass), "Basic "),
	}
}

// checkNoSecrets fails t for each line of r that holds a proxySecret.
func checkNoSecrets(t *testing.T, what string, r io.Reader) {
	t.Helper()
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		for _, s := range proxySecrets() {
			if strings.Contains(sc.Text(), s) {
				t.Errorf("%s holds %q: %s", what, s, sc.Text())
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
}

// debugLogger logs everything, debug lines included, as JSON to w.
func debugLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// lockedBuffer is a bytes.Buffer safe for the sender's goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startProxyChildWebhooks is a child run's sender: a real outbox holding
// proxyTestJobs, a fake clock, a debug log captured in logs, and the
// callback credentials for the applications hasCreds names. Every job's URL
// must go through net/http and the proxy. Start is left to the caller.
func startProxyChildWebhooks(t *testing.T, hasCreds func(app string) bool) (*watchedOutbox, *fakeClock, *lockedBuffer, *Webhooks, []store.CallbackJob) {
	t.Helper()
	o := newOutbox(t)
	clock := &fakeClock{t: cbT0}
	logs := &lockedBuffer{}
	w, err := NewWebhooks(WebhookOptions{Outbox: o, Clock: clock.Now, Rand: func() float64 { return 0.5 }, Timeout: 30 * time.Second,
		Credentials: func(app, _ string) (string, string, bool) { return cbUser, cbPass, hasCreds(app) }, Logger: debugLogger(logs)})
	if err != nil {
		t.Fatal(err)
	}
	jobs := proxyTestJobs(t)
	for _, j := range jobs {
		if tg := w.cb.target(j.URL); !tg.std {
			t.Fatalf("%s is not sent through net/http and the proxy", j.URL)
		}
	}
	if err := o.AddCallbacks(jobs); err != nil {
		t.Fatal(err)
	}
	return o, clock, logs, w, jobs
}
