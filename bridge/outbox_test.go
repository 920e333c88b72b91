package bridge

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"smppbridge/store"
)

var cbT0 = time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)

// --- helpers ---

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

// outcome is one write the sender made to the outbox.
type outcome struct {
	kind string // done, retry, dead
	ids  []uint64
}

// watchedOutbox reports every outcome write after it returned: the tests'
// synchronisation point instead of sleeping.
type watchedOutbox struct {
	*store.Store
	ch chan outcome
}

func (o *watchedOutbox) CallbackDone(ids []uint64) error {
	err := o.Store.CallbackDone(ids)
	o.ch <- outcome{"done", append([]uint64(nil), ids...)}
	return err
}

func (o *watchedOutbox) CallbackFailed(fs []store.CallbackFailure) error {
	err := o.Store.CallbackFailed(fs)
	o.ch <- outcome{"retry", failureIDs(fs)}
	return err
}

func (o *watchedOutbox) CallbackDead(fs []store.CallbackFailure) error {
	err := o.Store.CallbackDead(fs)
	o.ch <- outcome{"dead", failureIDs(fs)}
	return err
}

func failureIDs(fs []store.CallbackFailure) []uint64 {
	out := make([]uint64, len(fs))
	for i, f := range fs {
		out[i] = f.ID
	}
	return out
}

func (o *watchedOutbox) wait(t *testing.T) outcome {
	t.Helper()
	select {
	case oc := <-o.ch:
		return oc
	case <-time.After(10 * time.Second):
		t.Fatal("no outcome recorded within 10 s")
		return outcome{}
	}
}

// waitJobs waits until the outcomes cover n jobs and returns them by kind.
func (o *watchedOutbox) waitJobs(t *testing.T, n int) map[string][]uint64 {
	t.Helper()
	got := map[string][]uint64{}
	for seen := 0; seen < n; {
		oc := o.wait(t)
		got[oc.kind] = append(got[oc.kind], oc.ids...)
		seen += len(oc.ids)
	}
	return got
}

func openStore(t testing.TB, path string, noSync bool) *store.Store {
	t.Helper()
	st, err := store.Open(path, store.Options{NoSync: noSync})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func newOutbox(t testing.TB) *watchedOutbox {
	st := openStore(t, filepath.Join(t.TempDir(), "outbox.db"), true)
	t.Cleanup(func() { st.Close() })
	return &watchedOutbox{Store: st, ch: make(chan outcome, 10000)}
}

func startWebhooks(t testing.TB, opts WebhookOptions) *Webhooks {
	t.Helper()
	w, err := NewWebhooks(opts)
	if err != nil {
		t.Fatal(err)
	}
	w.Start()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		w.Stop(ctx)
	})
	return w
}

type request struct {
	method, path, contentType, userAgent, auth string
	body                                       []byte
}

// receiver is a test endpoint on 127.0.0.1; handle answers, every request
// is also sent to the returned channel.
func receiver(t testing.TB, handle func(w http.ResponseWriter, r *http.Request, body []byte)) (*httptest.Server, chan request) {
	ch := make(chan request, 10000)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		ch <- request{method: r.Method, path: r.URL.Path, contentType: r.Header.Get("Content-Type"),
			userAgent: r.Header.Get("User-Agent"), auth: r.Header.Get("Authorization"), body: body}
		if handle != nil {
			handle(w, r, body)
		}
	}))
	t.Cleanup(srv.Close)
	return srv, ch
}

func nextRequest(t *testing.T, ch chan request) request {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("no request within 10 s")
		return request{}
	}
}

func addJobs(t testing.TB, o Outbox, app, url string, n int, prefix string) []store.CallbackJob {
	t.Helper()
	jobs := make([]store.CallbackJob, n)
	for i := range jobs {
		jobs[i] = store.CallbackJob{ApplicationID: app, Kind: CallbackStatus, URL: url,
			Body: fmt.Appendf(nil, `[{"n":"%s%d"}]`, prefix, i), Created: cbT0}
	}
	if err := o.AddCallbacks(jobs); err != nil {
		t.Fatal(err)
	}
	return jobs
}

// marker is the "n" of a one-event test body.
func marker(t testing.TB, body []byte) []string {
	var evs []struct{ N string }
	if err := json.Unmarshal(body, &evs); err != nil {
		t.Fatalf("body %q is not a JSON array: %v", body, err)
	}
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.N
	}
	return out
}

// --- tests ---

// TestEncodeCallbackEvents: field order and presence of v2-api.md §2.3–2.4;
// status callbacks carry "text":"".
func TestEncodeCallbackEvents(t *testing.T) {
	failed := CallbackEvent{Type: "message-failed", Time: cbT0.Add(5120 * time.Millisecond), Description: "rejected-forbidden-country",
		To: "+525550003333", ErrorCode: 4432, Message: CallbackMessage{ID: "1700000000000abcd1234efgh5678", Owner: "+15550001111",
			ApplicationID: "93de2206", Time: cbT0, SegmentCount: 1, Direction: "out", To: []string{"+15550002222", "+525550003333"},
			From: "+15550001111", Text: "secret text", Tag: "order-42", HasTag: true}}
	body, err := EncodeCallbackEvents(CallbackStatus, []CallbackEvent{failed})
	if err != nil {
		t.Fatal(err)
	}
	want := `[{"type":"message-failed","time":"2026-11-27T09:00:05.120Z","description":"rejected-forbidden-country","to":"+525550003333","errorCode":4432,` +
		`"message":{"id":"1700000000000abcd1234efgh5678","owner":"+15550001111","applicationId":"93de2206","time":"2026-11-27T09:00:00.000Z",` +
		`"segmentCount":1,"direction":"out","to":["+15550002222","+525550003333"],"from":"+15550001111","text":"","tag":"order-42"}}]`
	if string(body) != want {
		t.Fatalf("status body\n got %s\nwant %s", body, want)
	}
	in := CallbackEvent{Type: "message-received", Time: cbT0, Description: "Incoming message received", To: "+15550001111",
		Message: CallbackMessage{ID: "m2", Owner: "+15550001111", ApplicationID: "a", Time: cbT0, SegmentCount: 1, Direction: "in",
			To: []string{"+15550001111"}, From: "+15550002222", Text: "hi <b>&", Media: []string{"https://x/1.jpg"}}}
	body, err = EncodeCallbackEvents(CallbackInbound, []CallbackEvent{in})
	if err != nil {
		t.Fatal(err)
	}
	want = `[{"type":"message-received","time":"2026-11-27T09:00:00.000Z","description":"Incoming message received","to":"+15550001111",` +
		`"message":{"id":"m2","owner":"+15550001111","applicationId":"a","time":"2026-11-27T09:00:00.000Z","segmentCount":1,"direction":"in",` +
		`"to":["+15550001111"],"from":"+15550002222","text":"hi <b>&","media":["https://x/1.jpg"]}}]`
	if string(body) != want {
		t.Fatalf("inbound body\n got %s\nwant %s", body, want)
	}
	app := Application{ID: "a", CallbackURL: "http://s/", InboundCallbackURL: "http://i/"}
	j, err := NewCallbackJob(app, CallbackInbound, cbT0, in)
	if err != nil || j.URL != "http://i/" || j.Kind != CallbackInbound || string(j.Body) != want || !j.Created.Equal(cbT0) {
		t.Fatalf("NewCallbackJob = %+v, %v", j, err)
	}
	if _, err := NewCallbackJob(Application{ID: "a"}, CallbackStatus, cbT0, failed); !errors.Is(err, ErrNoCallbackURL) {
		t.Fatalf("no URL: %v", err)
	}
}

func TestRetryDelay(t *testing.T) {
	nominal := []time.Duration{30 * time.Second, time.Minute, 2 * time.Minute, 4 * time.Minute, 5 * time.Minute, 5 * time.Minute}
	for i, d := range nominal {
		n := i + 1
		if got := RetryDelay(n, 0.5); got != d {
			t.Errorf("RetryDelay(%d) = %v, want %v", n, got, d)
		}
		if lo, hi := RetryDelay(n, 0), RetryDelay(n, 0.999999); lo != d*8/10 || hi <= d*119/100 || hi > d*12/10 {
			t.Errorf("RetryDelay(%d) jitter range %v..%v, want ±20%% of %v", n, lo, hi, d)
		}
	}
	for _, c := range []struct {
		h    []string
		want bool
	}{{[]string{`Basic realm="cb"`}, true}, {[]string{`basic`}, true}, {[]string{`Bearer realm="x", Basic realm="y"`}, true},
		{[]string{`Bearer realm="x"`}, false}, {nil, false}, {[]string{`Digest realm="Basic"`}, false}} {
		if got := basicChallenge(c.h); got != c.want {
			t.Errorf("basicChallenge(%q) = %v", c.h, got)
		}
	}
}

// TestWebhookDelivers: exact headers and body bytes; success deletes the
// job; nothing about the body or credentials is logged.
func TestWebhookDelivers(t *testing.T) {
	o := newOutbox(t)
	srv, reqs := receiver(t, func(w http.ResponseWriter, _ *http.Request, _ []byte) { w.WriteHeader(http.StatusNoContent) })
	var logs bytes.Buffer
	w := startWebhooks(t, WebhookOptions{Outbox: o, Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Credentials: func(string, string) (string, string, bool) { return "user", "pa55word", true }})
	app := Application{ID: "app1", InboundCallbackURL: srv.URL + "/inbound"}
	ev := CallbackEvent{Type: "message-received", Time: cbT0, Description: "Incoming message received", To: "+15550001111",
		Message: CallbackMessage{ID: "m1", Owner: "+15550001111", ApplicationID: "app1", Time: cbT0, SegmentCount: 1, Direction: "in",
			To: []string{"+15550001111"}, From: "+15550002222", Text: "private words"}}
	job, err := NewCallbackJob(app, CallbackInbound, cbT0, ev)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Add(job); err != nil {
		t.Fatal(err)
	}
	r := nextRequest(t, reqs)
	if r.method != http.MethodPost || r.path != "/inbound" || r.contentType != "application/json; charset=utf-8" ||
		r.userAgent != "BandwidthAPI/v2" || r.auth != "" || !bytes.Equal(r.body, job.Body) {
		t.Fatalf("request = %s %s ct=%q ua=%q auth=%q body=%s", r.method, r.path, r.contentType, r.userAgent, r.auth, r.body)
	}
	if oc := o.wait(t); oc.kind != "done" {
		t.Fatalf("outcome %v", oc)
	}
	stats, _ := o.CallbackStats()
	if stats.Pending() != 0 {
		t.Fatalf("delivered job still pending: %+v", stats)
	}
	if s := w.Stats(); s.Delivered != 1 || s.Requests != 1 || s.FailedAttempts != 0 {
		t.Fatalf("stats %+v", s)
	}
	if strings.Contains(logs.String(), "private") || strings.Contains(logs.String(), "pa55word") {
		t.Fatalf("logs leak: %s", logs.String())
	}
}

// TestWebhookNeverTriedFirst: with due retries and new jobs waiting, the
// new ones are sent first (FIFO), then the retries in due order.
func TestWebhookNeverTriedFirst(t *testing.T) {
	o := newOutbox(t)
	srv, reqs := receiver(t, nil)
	retries := addJobs(t, o, "a", srv.URL, 3, "r")
	claimed, err := o.NextCallbacks(cbT0, 10, nil)
	if err != nil || len(claimed) != 3 {
		t.Fatal(len(claimed), err)
	}
	// Due in the order r2, r0, r1, all before now.
	at := map[int]time.Duration{2: -3 * time.Minute, 0: -2 * time.Minute, 1: -time.Minute}
	var fs []store.CallbackFailure
	for i, j := range retries {
		fs = append(fs, store.CallbackFailure{ID: j.ID, At: cbT0.Add(at[i]), Error: "HTTP 500"})
	}
	if err := o.Store.CallbackFailed(fs); err != nil {
		t.Fatal(err)
	}
	addJobs(t, o, "a", srv.URL, 3, "n")
	clock := &fakeClock{t: cbT0}
	startWebhooks(t, WebhookOptions{Outbox: o, Clock: clock.Now, Concurrency: 1})
	var order []string
	for range 6 {
		order = append(order, marker(t, nextRequest(t, reqs).body)...)
	}
	if fmt.Sprint(order) != "[n0 n1 n2 r2 r0 r1]" {
		t.Fatalf("order = %v", order)
	}
}

// TestWebhookFreedSlotSendsWaitingJobs: jobs passed over because their
// endpoint or the sender was saturated go out as soon as a request frees a
// slot, not at the next poll (an hour here): a freed slot skips the store
// read only when the last read took every due job.
func TestWebhookFreedSlotSendsWaitingJobs(t *testing.T) {
	for _, c := range []struct {
		name                   string
		perEndpoint, total     int
		endpoints, jobsPerEach int
	}{
		{"endpoint saturated", 1, 64, 1, 5},
		{"sender saturated", 4, 1, 3, 2},
	} {
		t.Run(c.name, func(t *testing.T) {
			o := newOutbox(t)
			srv, reqs := receiver(t, nil)
			w := startWebhooks(t, WebhookOptions{Outbox: o, PollInterval: time.Hour,
				ConcurrencyPerEndpoint: c.perEndpoint, Concurrency: c.total})
			var jobs []store.CallbackJob
			for ep := range c.endpoints {
				for i := range c.jobsPerEach {
					jobs = append(jobs, store.CallbackJob{ApplicationID: "a", Kind: CallbackStatus, URL: fmt.Sprintf("%s/%d", srv.URL, ep),
						Body: fmt.Appendf(nil, `[{"n":"%d-%d"}]`, ep, i), Created: cbT0})
				}
			}
			if err := w.Add(jobs...); err != nil {
				t.Fatal(err)
			}
			got := map[string]bool{}
			for range jobs {
				for _, m := range marker(t, nextRequest(t, reqs).body) {
					got[m] = true
				}
			}
			if len(got) != len(jobs) {
				t.Fatalf("delivered %v, want %d distinct jobs", got, len(jobs))
			}
			if done := o.waitJobs(t, len(jobs)); len(done["done"]) != len(jobs) {
				t.Fatalf("outcomes %v", done)
			}
		})
	}
}

// TestWebhookRetrySchedule: every kind of failure is retried on the
// schedule, measured on a fake clock.
func TestWebhookRetrySchedule(t *testing.T) {
	refused := func() string {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		return "http://" + addr + "/cb"
	}()
	redirectTarget := make(chan struct{}, 10)
	cases := []struct {
		name    string
		handle  func(w http.ResponseWriter, r *http.Request, body []byte)
		url     string // instead of the receiver
		wantErr string
	}{
		{"500", status(500), "", "HTTP 500"},
		{"503", status(503), "", "HTTP 503"},
		{"404", status(404), "", "HTTP 404"},
		{"302 not followed", func(w http.ResponseWriter, r *http.Request, _ []byte) {
			if r.URL.Path == "/moved" {
				redirectTarget <- struct{}{}
				return
			}
			http.Redirect(w, r, "/moved", http.StatusFound)
		}, "", "HTTP 302: redirects are not followed"},
		{"401 without challenge", status(401), "", "HTTP 401: no Basic challenge"},
		{"timeout", func(_ http.ResponseWriter, r *http.Request, _ []byte) { <-r.Context().Done() }, "", "timeout after 200ms"},
		{"connection refused", nil, refused, "connection refused"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := newOutbox(t)
			srv, _ := receiver(t, c.handle)
			url := srv.URL + "/cb"
			if c.url != "" {
				url = c.url
			}
			clock := &fakeClock{t: cbT0}
			w := startWebhooks(t, WebhookOptions{Outbox: o, Clock: clock.Now, Rand: func() float64 { return 0.5 }, Timeout: 200 * time.Millisecond,
				Credentials: func(string, string) (string, string, bool) { return "u", "p", true }})
			job := addJobs(t, o, "a", url, 1, "x")[0]
			w.Notify()
			now := cbT0
			for i, d := range []time.Duration{30 * time.Second, time.Minute, 2 * time.Minute, 4 * time.Minute, 5 * time.Minute, 5 * time.Minute} {
				if oc := o.wait(t); oc.kind != "retry" {
					t.Fatalf("attempt %d: outcome %v", i+1, oc)
				}
				j, dead, err := o.Callback(job.ID)
				if err != nil || dead {
					t.Fatal(err, dead)
				}
				if j.Attempts != i+1 || !j.NextAt.Equal(now.Add(d)) || !strings.Contains(j.LastError, c.wantErr) {
					t.Fatalf("after attempt %d: attempts=%d next_at=%v (want %v) err=%q (want %q)", i+1, j.Attempts, j.NextAt, now.Add(d), j.LastError, c.wantErr)
				}
				now = j.NextAt
				clock.Set(now)
				w.Notify()
			}
			if len(redirectTarget) != 0 {
				t.Fatal("the redirect was followed")
			}
		})
	}
}

func status(code int) func(http.ResponseWriter, *http.Request, []byte) {
	return func(w http.ResponseWriter, _ *http.Request, _ []byte) { w.WriteHeader(code) }
}

// TestWebhookDeadLetter: 24 h of failures (fake clock) dead-letter the job
// after the attempt at the deadline; it is counted and kept.
func TestWebhookDeadLetter(t *testing.T) {
	o := newOutbox(t)
	srv, reqs := receiver(t, status(500))
	clock := &fakeClock{t: cbT0}
	w := startWebhooks(t, WebhookOptions{Outbox: o, Clock: clock.Now, Rand: func() float64 { return 0.5 }})
	job := addJobs(t, o, "a", srv.URL, 1, "x")[0]
	w.Notify()
	attempts := 0
	var last time.Time
	for {
		oc := o.wait(t)
		attempts++
		if oc.kind == "dead" {
			break
		}
		j, _, err := o.Callback(job.ID)
		if err != nil {
			t.Fatal(err)
		}
		if j.NextAt.Sub(clock.Now()) > 5*time.Minute || j.NextAt.After(cbT0.Add(24*time.Hour)) {
			t.Fatalf("attempt %d at %v: next at %v", attempts, clock.Now(), j.NextAt)
		}
		last = clock.Now()
		clock.Set(j.NextAt)
		w.Notify()
	}
	// 0, 30 s, 1.5 min, 3.5 min, then every 5 min from 7.5 min to 1437.5 min
	// (287), and the last at 24 h.
	if attempts != 292 || !clock.Now().Equal(cbT0.Add(24*time.Hour)) || !last.Equal(cbT0.Add(1437*time.Minute+30*time.Second)) {
		t.Fatalf("dead after %d attempts at %v (previous %v)", attempts, clock.Now(), last)
	}
	if len(reqs) != 292 {
		t.Fatalf("%d requests", len(reqs))
	}
	j, dead, err := o.Callback(job.ID)
	if err != nil || !dead || j.Attempts != 292 || j.LastError != "HTTP 500" {
		t.Fatalf("dead job %+v dead=%v err=%v", j, dead, err)
	}
	c, _ := o.CallbackStats()
	if c != (store.CallbackCounts{Dead: 1, DeadTotal: 1}) {
		t.Fatalf("counts %+v", c)
	}
	// A job created long ago is tried once more, then dead at once.
	old := addJobs(t, o, "a", srv.URL, 1, "old")[0]
	w.Notify()
	if oc := o.wait(t); oc.kind != "dead" || oc.ids[0] != old.ID {
		t.Fatalf("outcome %v", oc)
	}
	w.Stop(context.Background()) // the recorder counts after its write returned
	if s := w.Stats(); s.DeadLettered != 2 || s.FailedAttempts != 293 {
		t.Fatalf("stats %+v", s)
	}
}

// TestWebhookBasicChallenge: credentials go only after a Basic challenge
// (then directly to that endpoint); wrong credentials, a 401 without
// challenge and a challenge without credentials are failed attempts.
func TestWebhookBasicChallenge(t *testing.T) {
	guard := func(challenge bool) func(http.ResponseWriter, *http.Request, []byte) {
		return func(w http.ResponseWriter, r *http.Request, _ []byte) {
			if u, p, ok := r.BasicAuth(); ok && u == "cbuser" && p == "right" {
				return // 200
			}
			if challenge {
				w.Header().Set("WWW-Authenticate", `Basic realm="callbacks"`)
			}
			w.WriteHeader(http.StatusUnauthorized)
		}
	}
	cases := []struct {
		name      string
		challenge bool
		pass      string // "" = application has no credentials
		auths     []bool // Authorization present on each request of the first job
		want      string // outcome
		wantErr   string
	}{
		{"challenge, right credentials", true, "right", []bool{false, true}, "done", ""},
		{"challenge, wrong credentials", true, "wrong", []bool{false, true}, "retry", "HTTP 401: credentials refused"},
		{"no challenge header", false, "right", []bool{false}, "retry", "HTTP 401: no Basic challenge"},
		{"challenge, no credentials", true, "", []bool{false}, "retry", "HTTP 401: Basic challenge, but the application has no callback credentials"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := newOutbox(t)
			srv, reqs := receiver(t, guard(c.challenge))
			var logs bytes.Buffer
			clock := &fakeClock{t: cbT0}
			w := startWebhooks(t, WebhookOptions{Outbox: o, Clock: clock.Now, Logger: slog.New(slog.NewTextHandler(&logs, nil)),
				Credentials: func(app, _ string) (string, string, bool) {
					if app != "a" || c.pass == "" {
						return "", "", false
					}
					return "cbuser", c.pass, true
				}})
			job := addJobs(t, o, "a", srv.URL, 1, "x")[0]
			w.Notify()
			for i, want := range c.auths {
				r := nextRequest(t, reqs)
				if (r.auth != "") != want {
					t.Fatalf("request %d: Authorization %q, want present=%v", i+1, r.auth, want)
				}
			}
			oc := o.wait(t)
			if oc.kind != c.want {
				t.Fatalf("outcome %v, want %s", oc, c.want)
			}
			if len(reqs) != 0 {
				t.Fatalf("%d extra requests", len(reqs))
			}
			if c.wantErr != "" {
				j, _, _ := o.Callback(job.ID)
				if j.LastError != c.wantErr {
					t.Fatalf("last error %q", j.LastError)
				}
			}
			if c.want == "done" {
				// The endpoint is known to want credentials: sent at once.
				addJobs(t, o, "a", srv.URL, 1, "y")
				w.Notify()
				if r := nextRequest(t, reqs); r.auth == "" {
					t.Fatal("second job sent without credentials")
				}
				if oc := o.wait(t); oc.kind != "done" || len(reqs) != 0 {
					t.Fatalf("second job: %v, %d extra requests", oc, len(reqs))
				}
			}
			if strings.Contains(logs.String(), c.pass) && c.pass != "" {
				t.Fatalf("password logged: %s", logs.String())
			}
		})
	}
}

// TestWebhookBatching: with MaxBatch 3, seven jobs of one endpoint go as
// three requests whose bodies are one array each; a failed batch retries
// together.
func TestWebhookBatching(t *testing.T) {
	o := newOutbox(t)
	var fail atomic.Bool
	srv, reqs := receiver(t, func(w http.ResponseWriter, _ *http.Request, _ []byte) {
		if fail.Load() {
			w.WriteHeader(503)
		}
	})
	addJobs(t, o, "a", srv.URL, 7, "e")
	addJobs(t, o, "b", srv.URL, 1, "b") // another application: never in the same request
	clock := &fakeClock{t: cbT0}
	w := startWebhooks(t, WebhookOptions{Outbox: o, Clock: clock.Now, MaxBatch: 3, Rand: func() float64 { return 0.5 }})
	var sizes []int
	var all []string
	for range 4 {
		r := nextRequest(t, reqs)
		m := marker(t, r.body)
		sizes = append(sizes, len(m))
		all = append(all, m...)
		if m[0] == "e0" && string(r.body) != `[{"n":"e0"},{"n":"e1"},{"n":"e2"}]` {
			t.Fatalf("merged body %s", r.body)
		}
	}
	sort.Ints(sizes)
	sort.Strings(all)
	if fmt.Sprint(sizes) != "[1 1 3 3]" || fmt.Sprint(all) != "[b0 e0 e1 e2 e3 e4 e5 e6]" {
		t.Fatalf("request sizes %v, events %v", sizes, all)
	}
	if got := o.waitJobs(t, 8); len(got["done"]) != 8 {
		t.Fatalf("outcomes %v", got)
	}

	fail.Store(true)
	batch := addJobs(t, o, "a", srv.URL, 3, "f")
	w.Notify()
	if r := nextRequest(t, reqs); len(marker(t, r.body)) != 3 {
		t.Fatalf("failing batch body %s", r.body)
	}
	if got := o.waitJobs(t, 3); len(got["retry"]) != 3 {
		t.Fatalf("outcomes %v", got)
	}
	for _, j := range batch {
		got, _, _ := o.Callback(j.ID)
		if got.Attempts != 1 || !got.NextAt.Equal(cbT0.Add(30*time.Second)) {
			t.Fatalf("batch member %d: %+v", j.ID, got)
		}
	}
	fail.Store(false)
	clock.Set(cbT0.Add(30 * time.Second))
	w.Notify()
	if r := nextRequest(t, reqs); len(marker(t, r.body)) != 3 {
		t.Fatalf("retried batch body %s", r.body)
	}
	if got := o.waitJobs(t, 3); len(got["done"]) != 3 {
		t.Fatalf("outcomes %v", got)
	}
}

// TestWebhookSlowEndpointDoesNotDelayOthers: endpoint A hangs (10 s per
// request) with more jobs than its concurrency limit, queued ahead of B's;
// B's are all delivered promptly and A never has more than 4 in flight.
func TestWebhookSlowEndpointDoesNotDelayOthers(t *testing.T) {
	o := newOutbox(t)
	var aNow, aMax atomic.Int32
	aStarted := make(chan struct{}, 100)
	slow, _ := receiver(t, func(_ http.ResponseWriter, r *http.Request, _ []byte) {
		n := aNow.Add(1)
		defer aNow.Add(-1)
		for m := aMax.Load(); n > m && !aMax.CompareAndSwap(m, n); m = aMax.Load() {
		}
		aStarted <- struct{}{}
		select {
		case <-time.After(10 * time.Second):
		case <-r.Context().Done():
		}
	})
	fast, bReqs := receiver(t, nil)
	aJobs := addJobs(t, o, "a", slow.URL, 10, "a")
	bJobs := addJobs(t, o, "b", fast.URL, 20, "b")
	addJobs(t, o, "a", slow.URL, 10, "a2") // behind B's too
	w, err := NewWebhooks(WebhookOptions{Outbox: o, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	w.Start()
	for range bJobs {
		nextRequest(t, bReqs)
	}
	got := o.waitJobs(t, len(bJobs))
	elapsed := time.Since(start)
	if len(got["done"]) != len(bJobs) {
		t.Fatalf("B outcomes %v", got)
	}
	if elapsed > 2*time.Second {
		t.Fatalf("B's callbacks took %v behind a hanging endpoint", elapsed)
	}
	for range 4 {
		<-aStarted
	}
	if m := aMax.Load(); m != 4 {
		t.Fatalf("endpoint A had %d requests in flight, limit 4", m)
	}
	// Stopping cuts A's hung requests short: not an attempt, still due.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := w.Stop(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Stop = %v", err)
	}
	j, _, err := o.Callback(aJobs[0].ID)
	if err != nil || j.Attempts != 0 {
		t.Fatalf("cut-short job %+v %v", j, err)
	}
	c, _ := o.CallbackStats()
	if c != (store.CallbackCounts{New: 20}) {
		t.Fatalf("counts %+v", c)
	}
	if s := w.Stats(); s.Delivered != 20 || s.FailedAttempts != 0 || s.InFlight != 0 {
		t.Fatalf("stats %+v", s)
	}
}

// TestWebhookRestart: closing the store under a running sender with
// claimed jobs in flight, then reopening it: every job is delivered at
// least once.
func TestWebhookRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "outbox.db")
	st := openStore(t, path, false)
	o := &watchedOutbox{Store: st, ch: make(chan outcome, 10000)}
	var hang atomic.Bool
	hang.Store(true)
	seen := sync.Map{}
	handler := func(_ http.ResponseWriter, r *http.Request, body []byte) {
		for _, m := range marker(t, body) {
			seen.Store(m, true)
		}
		if hang.Load() && r.URL.Path == "/hang" {
			<-r.Context().Done()
		}
	}
	srv, reqs := receiver(t, handler)
	var want []string
	for _, j := range append(addJobs(t, o, "a", srv.URL+"/ok", 20, "ok"), addJobs(t, o, "b", srv.URL+"/hang", 10, "hang")...) {
		want = append(want, marker(t, j.Body)...)
	}
	w, err := NewWebhooks(WebhookOptions{Outbox: o})
	if err != nil {
		t.Fatal(err)
	}
	w.Start()
	hung := 0
	for hung < 4 { // all of /hang's slots taken
		if r := nextRequest(t, reqs); r.path == "/hang" {
			hung++
		}
	}
	st.Close() // mid-way: claims in flight, outcomes possibly unwritten
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	w.Stop(ctx)

	hang.Store(false)
	st = openStore(t, path, false)
	defer st.Close()
	c, err := st.CallbackStats()
	if err != nil || c.Pending() == 0 {
		t.Fatalf("after reopen: %+v %v", c, err)
	}
	o = &watchedOutbox{Store: st, ch: make(chan outcome, 10000)}
	startWebhooks(t, WebhookOptions{Outbox: o})
	if got := o.waitJobs(t, c.Pending()); len(got["done"]) != c.Pending() {
		t.Fatalf("outcomes %v", got)
	}
	for _, m := range want {
		if _, ok := seen.Load(m); !ok {
			t.Errorf("job %s never delivered", m)
		}
	}
	if c, _ := st.CallbackStats(); c.Pending() != 0 {
		t.Fatalf("left %+v", c)
	}
}

// TestWebhookSurvivesKill: a sender process killed with SIGKILL while
// requests are in flight loses nothing: the next process sends every job
// not recorded as done.
func TestWebhookSurvivesKill(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a process")
	}
	path := filepath.Join(t.TempDir(), "outbox.db")
	var mu sync.Mutex
	seen := map[string]int{}
	received := make(chan struct{}, 1000)
	release := make(chan struct{})
	srv, _ := receiver(t, func(_ http.ResponseWriter, r *http.Request, body []byte) {
		mu.Lock()
		for _, m := range marker(t, body) {
			seen[m]++
		}
		n := len(seen)
		mu.Unlock()
		received <- struct{}{}
		if n > 20 { // later requests hang until the sender is dead
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}
	})
	st := openStore(t, path, false)
	jobs := addJobs(t, st, "a", srv.URL, 50, "k")
	st.Close()

	cmd := exec.Command(os.Args[0], "-test.run=^TestWebhookKillHelper$")
	cmd.Env = append(os.Environ(), "OUTBOX_KILL_DB="+path)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for range 24 {
		select {
		case <-received:
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
			t.Fatal("helper sent too little")
		}
	}
	cmd.Process.Kill() // SIGKILL
	cmd.Wait()
	close(release)

	st = openStore(t, path, false)
	defer st.Close()
	c, _ := st.CallbackStats()
	o := &watchedOutbox{Store: st, ch: make(chan outcome, 10000)}
	startWebhooks(t, WebhookOptions{Outbox: o})
	o.waitJobs(t, c.Pending())
	mu.Lock()
	defer mu.Unlock()
	for _, j := range jobs {
		if m := marker(t, j.Body)[0]; seen[m] == 0 {
			t.Errorf("job %s lost", m)
		}
	}
	if c, _ := st.CallbackStats(); c.Pending() != 0 {
		t.Fatalf("left %+v", c)
	}
	t.Logf("%d jobs pending after the kill, %d delivered before it", c.Pending(), len(jobs)-c.Pending())
}

// TestWebhookKillHelper is the process TestWebhookSurvivesKill kills.
func TestWebhookKillHelper(t *testing.T) {
	path := os.Getenv("OUTBOX_KILL_DB")
	if path == "" {
		t.Skip("helper process only")
	}
	st, err := store.Open(path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	w, err := NewWebhooks(WebhookOptions{Outbox: st})
	if err != nil {
		t.Fatal(err)
	}
	w.Start()
	select {} // until killed
}

// TestWebhookIgnoresURLUserInfo: credentials in the URL are not sent (they
// would skip the challenge flow); any 2xx is success.
func TestWebhookIgnoresURLUserInfo(t *testing.T) {
	o := newOutbox(t)
	srv, reqs := receiver(t, status(http.StatusAccepted))
	w := startWebhooks(t, WebhookOptions{Outbox: o})
	addJobs(t, o, "a", strings.Replace(srv.URL, "http://", "http://user:secret@", 1)+"/cb", 1, "x")
	w.Notify()
	if r := nextRequest(t, reqs); r.auth != "" || r.path != "/cb" {
		t.Fatalf("request auth=%q path=%q", r.auth, r.path)
	}
	if oc := o.wait(t); oc.kind != "done" {
		t.Fatalf("outcome %v", oc)
	}
}

// TestDeadLetterRetention: the sender deletes dead letters given up longer
// ago than DeadLetterRetention (by its clock) and keeps younger ones.
func TestDeadLetterRetention(t *testing.T) {
	o := newOutbox(t)
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	jobs := []store.CallbackJob{
		{ApplicationID: "a", Kind: CallbackStatus, URL: "http://127.0.0.1:9/old", Body: []byte(`[1]`)},
		{ApplicationID: "a", Kind: CallbackStatus, URL: "http://127.0.0.1:9/young", Body: []byte(`[2]`)},
	}
	if err := o.Store.AddCallbacks(jobs); err != nil {
		t.Fatal(err)
	}
	if got, err := o.Store.NextCallbacks(t0, 10, nil); err != nil || len(got) != 2 {
		t.Fatalf("took %d jobs: %v", len(got), err)
	}
	if err := o.Store.CallbackDead([]store.CallbackFailure{{ID: jobs[0].ID, At: t0, Error: "HTTP 500"},
		{ID: jobs[1].ID, At: t0.Add(6 * 24 * time.Hour), Error: "HTTP 500"}}); err != nil {
		t.Fatal(err)
	}
	now := t0.Add(8 * 24 * time.Hour)
	startWebhooks(t, WebhookOptions{Outbox: o, Clock: func() time.Time { return now },
		DeadLetterRetention: 7 * 24 * time.Hour, DeadLetterSweep: 10 * time.Millisecond})
	deadline := time.Now().Add(10 * time.Second)
	for {
		dl, err := o.Store.DeadCallbacks(0, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(dl) == 1 && dl[0].ID == jobs[1].ID {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("dead letters after the sweep: %+v", dl)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestWebhookRequeuedDeadLetterRetried: a dead letter requeued through the
// admin API is "a new, never-tried callback" (docs/admin.md), so an
// endpoint that fails once more gets the retry schedule again instead of a
// second dead letter after one attempt.
func TestWebhookRequeuedDeadLetterRetried(t *testing.T) {
	o := newOutbox(t)
	var fail atomic.Bool
	fail.Store(true)
	srv, reqs := receiver(t, func(w http.ResponseWriter, _ *http.Request, _ []byte) {
		if fail.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	})
	clock := &fakeClock{t: cbT0}
	w := startWebhooks(t, WebhookOptions{Outbox: o, Clock: clock.Now, Rand: func() float64 { return 0.5 }, RetryFor: time.Minute})
	job := addJobs(t, o, "a", srv.URL, 1, "x")[0]
	w.Notify()
	for step := 0; ; step++ {
		if step > 10 {
			t.Fatal("not dead-lettered after 10 attempts")
		}
		oc := o.wait(t)
		if oc.kind == "dead" {
			break
		}
		j, _, err := o.Callback(job.ID)
		if err != nil {
			t.Fatal(err)
		}
		clock.Set(j.NextAt)
		w.Notify()
	}
	// The customer fixed the endpoint, but it still answers 503 once
	// (a deploy in progress) when the operator requeues.
	clock.Set(cbT0.Add(2 * time.Hour))
	if n, err := o.RequeueDeadCallbacks([]uint64{job.ID}); err != nil || n != 1 {
		t.Fatalf("requeue: %d %v", n, err)
	}
	for len(reqs) > 0 {
		<-reqs
	}
	w.Notify()
	nextRequest(t, reqs)
	if oc := o.wait(t); oc.kind != "retry" {
		t.Fatalf("requeued callback failing once: outcome %v, want a retry", oc)
	}
	fail.Store(false)
	clock.Set(clock.Now().Add(time.Minute))
	w.Notify()
	if oc := o.wait(t); oc.kind != "done" {
		t.Fatalf("outcome %v, want done", oc)
	}
}

// TestWebhookPerEndpointConcurrencyAboveDefaultTotal: callbacks.
// concurrency_per_endpoint accepts up to 1024 and is the only concurrency
// key; a value above the sender's default total (64) must be honoured, and
// with room left for other endpoints, not silently capped at 64.
func TestWebhookPerEndpointConcurrencyAboveDefaultTotal(t *testing.T) {
	const perEndpoint = 80
	release := make(chan struct{})
	var once sync.Once
	unblock := func() { once.Do(func() { close(release) }) }
	srv, reqs := receiver(t, func(http.ResponseWriter, *http.Request, []byte) {
		select {
		case <-release:
		case <-time.After(40 * time.Second):
		}
	})
	t.Cleanup(unblock) // before the receiver's Close, which waits for its handlers
	o := newOutbox(t)
	// A timeout longer than the test: no slot is freed by one.
	w := startWebhooks(t, WebhookOptions{Outbox: o, PollInterval: 20 * time.Millisecond, ConcurrencyPerEndpoint: perEndpoint,
		Timeout: 30 * time.Second})
	if err := w.Add(addJobsLater(perEndpoint+10, "a", srv.URL+"/slow")...); err != nil {
		t.Fatal(err)
	}
	for i := range perEndpoint {
		select {
		case <-reqs:
		case <-time.After(5 * time.Second):
			t.Fatalf("%d requests in flight to the endpoint, want %d", i, perEndpoint)
		}
	}
	// Another application's endpoint still gets through.
	other, otherReqs := receiver(t, nil)
	if err := w.Add(addJobsLater(1, "b", other.URL+"/ok")...); err != nil {
		t.Fatal(err)
	}
	nextRequest(t, otherReqs)
	if n := len(reqs); n != 0 {
		t.Fatalf("%d requests beyond the endpoint's limit of %d", n, perEndpoint)
	}
	unblock()
	if got := o.waitJobs(t, perEndpoint+11); len(got["done"]) != perEndpoint+11 {
		t.Fatalf("outcomes %v", got)
	}
}

// addJobsLater builds n jobs without storing them.
func addJobsLater(n int, app, url string) []store.CallbackJob {
	jobs := make([]store.CallbackJob, n)
	for i := range jobs {
		jobs[i] = store.CallbackJob{ApplicationID: app, Kind: CallbackStatus, URL: url,
			Body: fmt.Appendf(nil, `[{"n":"%s%d"}]`, app, i), Created: cbT0}
	}
	return jobs
}
