package daemon_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"smppbridge/cmd/daemon"
	"smppbridge/testharness/smsc"
)

// logBuffer collects JSON log lines from every goroutine.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// lines returns the log records whose msg is msg.
func (l *logBuffer) lines(t *testing.T, msg string) []map[string]any {
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(l.String()))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var rec map[string]any
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatalf("log line is not JSON: %q", sc.Text())
		}
		if rec["msg"] == msg {
			out = append(out, rec)
		}
	}
	return out
}

// TestRequestIDFollowsTheMessage: the client's X-Request-Id is on the API's
// log line and on the log lines of the callback the message caused; no log
// line holds the password or the message text.
func TestRequestIDFollowsTheMessage(t *testing.T) {
	var calls atomic.Int64
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			w.WriteHeader(500) // the first attempt fails: a logged retry
			return
		}
		w.WriteHeader(204)
	}))
	defer hook.Close()
	logs := &logBuffer{}
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	sim := startSim(t, smsc.Behaviour{})
	cfg := configWith(t, sim.Addr(), filepath.Join(t.TempDir(), "bridge.db"), configOptions{CallbackURL: hook.URL + "/cb"})
	// Retries come 30 s apart by default: a fake clock moved past it.
	var clockMu sync.Mutex
	now := time.Now()
	clock := func() time.Time { clockMu.Lock(); defer clockMu.Unlock(); return now }
	e := startDaemonWith(t, sim, cfg, daemon.Options{Logger: log, CallbackClock: clock, CallbackPollInterval: 20 * time.Millisecond})
	e.waitBinds(2)

	const rid = "req-e2e-42"
	const text = "a secret-ish message text"
	req, _ := http.NewRequest("POST", e.base+"/api/v2/users/"+acct+"/messages", strings.NewReader(msgBody([]string{"+15550006001"}, text, "")))
	req.SetBasicAuth(user, pass)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Request-Id", rid)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 202 || resp.Header.Get("X-Request-Id") != rid {
		t.Fatalf("status %d, X-Request-Id %q", resp.StatusCode, resp.Header.Get("X-Request-Id"))
	}

	deadline := time.Now().Add(30 * time.Second)
	for len(logs.lines(t, "callback delivered")) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("callback not delivered (%d attempts); logs:\n%s", calls.Load(), logs.String())
		}
		if calls.Load() >= 1 {
			clockMu.Lock()
			now = now.Add(time.Minute) // past the retry delay
			clockMu.Unlock()
			e.d.Webhooks.Notify()
		}
		time.Sleep(20 * time.Millisecond) // polling, bounded by the deadline
	}
	for _, msg := range []string{"message accepted", "callback failed; will retry", "callback delivered"} {
		recs := logs.lines(t, msg)
		if len(recs) == 0 || recs[0]["request_id"] != rid {
			t.Errorf("%q lines %v: want request_id %s", msg, recs, rid)
		}
	}
	all := logs.String()
	for _, secret := range []string{pass, text} {
		if strings.Contains(all, secret) {
			t.Errorf("the log holds %q", secret)
		}
	}
}
