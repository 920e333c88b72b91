package daemon_test

import (
	"bufio"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"smppbridge/cmd/daemon"
	"smppbridge/conf"
	"smppbridge/testharness/smsc"
)

// TestHostileHTTP sends malformed and abusive requests to the running
// daemon's public port (issue 8). Each is answered with a 4xx or the
// connection is closed; never a 5xx, never a panic; and the daemon still
// accepts a good message afterwards, also while slow clients hold
// connections open.
func TestHostileHTTP(t *testing.T) {
	sim := startSim(t, smsc.Behaviour{})
	cfg := testConfig(t, sim.Addr(), t.TempDir()+"/bridge.db", "")
	cfg.HTTP.ReadTimeout = conf.Duration(time.Second) // slow clients are cut off soon
	cfg.HTTP.MaxBodyBytes = 65536
	e := startDaemonWith(t, sim, cfg, daemon.Options{})
	e.waitBinds(2)
	addr := strings.TrimPrefix(e.base, "http://")
	auth := "Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass)) + "\r\n"
	path := "/api/v2/users/" + acct + "/messages"
	post := func(body string, extraHeaders string) string {
		return fmt.Sprintf("POST %s HTTP/1.1\r\nHost: x\r\n%sContent-Type: application/json\r\nContent-Length: %d\r\n%s\r\n%s",
			path, auth, len(body), extraHeaders, body)
	}
	good := msgBody([]string{"+15557000001"}, "fine", "")

	cases := []struct {
		name string
		raw  string
		want int // 0: any 4xx or a closed connection
	}{
		{"body over max_body_bytes", post(`{"text":"`+strings.Repeat("x", 70000)+`"}`, ""), 413},
		{"chunked body over max_body_bytes", fmt.Sprintf("POST %s HTTP/1.1\r\nHost: x\r\n%sContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n0\r\n\r\n",
			path, auth, 70000, strings.Repeat("x", 70000)), 413},
		{"invalid UTF-8 text", post("{\"applicationId\":\""+app+"\",\"to\":[\"+15557000002\"],\"from\":\""+num+"\",\"text\":\"bad \xff\xfe\"}", ""), 400},
		{"invalid UTF-8 key", post("{\"te\xc0xt\":\"x\"}", ""), 400},
		{"deep arrays", post(`{"to":`+strings.Repeat("[", 20000)+strings.Repeat("]", 20000)+`}`, ""), 400},
		{"deep objects", post(strings.Repeat(`{"a":`, 10000)+"1"+strings.Repeat("}", 10000), ""), 400},
		{"huge to array", post(`{"applicationId":"`+app+`","from":"`+num+`","text":"x","to":[`+strings.TrimSuffix(strings.Repeat(`"+15557000003",`, 4000), ",")+`]}`, ""), 400},
		{"huge unknown array", post(`{"x":[`+strings.TrimSuffix(strings.Repeat("1,", 30000), ",")+`]}`, ""), 400},
		{"NUL bytes", post("{\"text\":\"\x00\x00\"}\x00", ""), 400},
		{"truncated JSON", post(`{"applicationId":"`, ""), 400},
		{"not JSON at all", post("\x89PNG\r\n\x1a\n", ""), 400},
		{"content-length and chunked", fmt.Sprintf("POST %s HTTP/1.1\r\nHost: x\r\n%sContent-Type: application/json\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", path, auth), 0},
		{"negative content-length", fmt.Sprintf("POST %s HTTP/1.1\r\nHost: x\r\n%sContent-Length: -1\r\n\r\n", path, auth), 0},
		{"garbage request line", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 tls hello to a plain port\r\n\r\n", 0},
		{"header without colon", fmt.Sprintf("POST %s HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n", path), 0},
		{"many headers", fmt.Sprintf("POST %s HTTP/1.1\r\nHost: x\r\n%s\r\n", path, strings.Repeat("X-A: b\r\n", 5000)), 431},
		{"body shorter than content-length", fmt.Sprintf("POST %s HTTP/1.1\r\nHost: x\r\n%sContent-Length: 1000\r\n\r\n{}", path, auth), 0},
		{"no credentials", fmt.Sprintf("POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", path, len(good), good), 401},
		{"credentials not base64", fmt.Sprintf("POST %s HTTP/1.1\r\nHost: x\r\nAuthorization: Basic %%%%%%\r\nContent-Length: 2\r\n\r\n{}", path), 401},
		{"path traversal", "GET /api/v2/users/../../etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n", 0},
		{"absurd method", "BREW /api/v2/users/" + acct + "/messages HTTP/1.1\r\nHost: x\r\n" + auth + "\r\n", 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, body := rawExchange(t, addr, c.raw)
			switch {
			case status == 0: // closed without an answer
				if c.want != 0 {
					t.Fatalf("connection closed, want %d", c.want)
				}
			case status >= 500:
				t.Fatalf("status %d: %s", status, body)
			case c.want != 0 && status != c.want:
				t.Fatalf("status %d, want %d: %s", status, c.want, body)
			case status < 400:
				t.Fatalf("status %d, want a 4xx: %s", status, body)
			}
		})
	}

	t.Run("slowloris", func(t *testing.T) {
		// Clients that trickle their headers hold no connection for longer
		// than read_timeout, and good requests pass meanwhile.
		const slow = 30
		closed := make(chan time.Duration, slow)
		var wg sync.WaitGroup
		stop := make(chan struct{})
		for range slow {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			wg.Add(1)
			go func() {
				defer wg.Done()
				start := time.Now()
				c.Write([]byte("POST " + path + " HTTP/1.1\r\nHost: x\r\n"))
				tick := time.NewTicker(100 * time.Millisecond)
				defer tick.Stop()
				for i := 0; i < 300; i++ { // at most 30 s
					select {
					case <-stop:
						return
					case <-tick.C:
					}
					if _, err := c.Write([]byte("X")); err != nil {
						closed <- time.Since(start)
						return
					}
					c.SetReadDeadline(time.Now().Add(time.Millisecond))
					var b [1]byte
					if _, err := c.Read(b[:]); err != nil && !isTimeout(err) || err == nil {
						closed <- time.Since(start) // answered (408) or closed
						return
					}
				}
			}()
		}
		if r := e.send(good); r.status != 202 {
			t.Fatalf("good request among slow clients: %d %s", r.status, r.raw)
		}
		deadline := time.After(30 * time.Second)
		for range slow {
			select {
			case d := <-closed:
				if d > 20*time.Second {
					t.Errorf("a slow client held its connection for %s", d)
				}
			case <-deadline:
				close(stop)
				t.Fatal("slow clients still connected after 30s (read_timeout 1s)")
			}
		}
		wg.Wait()
	})

	t.Run("admin listener", func(t *testing.T) {
		admin := e.d.AdminAddr()
		for _, raw := range []string{
			"\x16\x03\x01\x02\x00garbage\r\n\r\n",
			"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("h", 2<<20) + "\r\n\r\n",
			"GET /" + strings.Repeat("a", 100000) + " HTTP/1.1\r\nHost: x\r\n\r\n",
			"POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999\r\n\r\nxx",
		} {
			status, body := rawExchange(t, admin, raw)
			if status >= 500 || (status != 0 && status < 400) {
				t.Errorf("%q...: %d %s", raw[:min(len(raw), 30)], status, body)
			}
		}
		// A client that never finishes its headers is cut off
		// (ReadHeaderTimeout 5 s).
		c, err := net.Dial("tcp", admin)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		start := time.Now()
		c.Write([]byte("GET /healthz HTTP/1.1\r\nHost: x\r\n"))
		c.SetReadDeadline(time.Now().Add(30 * time.Second))
		io.Copy(io.Discard, c)
		if d := time.Since(start); d > 20*time.Second {
			t.Errorf("a slow admin client held its connection for %s", d)
		}
		resp, err := http.Get("http://" + admin + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("/healthz after the abuse: %d", resp.StatusCode)
		}
	})

	if r := e.send(good); r.status != 202 {
		t.Fatalf("good request after the abuse: %d %s", r.status, r.raw)
	}
}

// rawExchange writes raw bytes and reads one response; status 0 means the
// server closed the connection without one.
func rawExchange(t *testing.T, addr, raw string) (int, string) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(15 * time.Second))
	go func() { io.WriteString(c, raw) }() // the server may answer (and close) before reading it all
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		if isTimeout(err) {
			t.Fatalf("no answer and no close within 15s: %v", err)
		}
		return 0, err.Error()
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return resp.StatusCode, string(body)
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}
