package main

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"strings"
	"testing"
	"time"

	"smppbridge/bridge"
)

type scanned struct{ Type, To, ID string }

func scanAll(t *testing.T, body []byte) ([]scanned, error) {
	t.Helper()
	var got []scanned
	err := scanEvents(body, func(typ, to, id []byte) {
		got = append(got, scanned{string(typ), string(to), string(id)})
	})
	return got, err
}

// TestScanEventsMatchesDecoder: on bodies the daemon renders, the scanner
// finds what encoding/json finds.
func TestScanEventsMatchesDecoder(t *testing.T) {
	at := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	msg := bridge.CallbackMessage{ID: "1764244800000abcdefgh12345678", Owner: "+15550001111", ApplicationID: "app",
		Time: at, SegmentCount: 2, Direction: "out", To: []string{"+15550002222", "+15550003333"}, From: "+15550001111",
		Tag: `tag "with" \ escapes`, HasTag: true, Priority: "high", Media: []string{"https://x.test/a.png"}}
	in := msg
	in.ID, in.Direction, in.Text = `in"bound\id`, "in", "Привет \"there\"\n👍 {[,]}"
	events := []bridge.CallbackEvent{
		{Type: "message-delivered", Time: at, Description: "ok", To: "+15550002222", Message: msg},
		{Type: "message-failed", Time: at, Description: "nope", To: "+15550003333", ErrorCode: 4720, Message: msg},
		{Type: "message-received", Time: at, Description: "in", To: "+15550001111", Message: in},
	}
	for _, kind := range []string{bridge.CallbackStatus, bridge.CallbackInbound} {
		body, err := bridge.EncodeCallbackEvents(kind, events)
		if err != nil {
			t.Fatal(err)
		}
		var want []struct {
			Type    string `json:"type"`
			To      string `json:"to"`
			Message struct {
				ID string `json:"id"`
			} `json:"message"`
		}
		if err := json.Unmarshal(body, &want); err != nil {
			t.Fatal(err)
		}
		got, err := scanAll(t, body)
		if err != nil {
			t.Fatalf("%s: %v\n%s", kind, err, body)
		}
		if len(got) != len(want) {
			t.Fatalf("%s: %d events, want %d", kind, len(got), len(want))
		}
		for i, w := range want {
			if g := got[i]; g != (scanned{w.Type, w.To, w.Message.ID}) {
				t.Errorf("%s event %d: got %+v, want %+v", kind, i, g, w)
			}
		}
	}
}

func TestScanEventsRefusesBadJSON(t *testing.T) {
	for _, body := range []string{
		``, `{}`, `[`, `[{]`, `[1]`, `[{"type":1}]`, `[{"type":"a"}`, `[{"type":"a"}] x`,
		`[{"type":"a",}]`, `[{"message":"x"}]`, `[{"x":tru}]`, `[{"x":01x}]`, `[{"x":"a` + "\x01" + `"}]`,
		`[{"x":[1,]}]`, `[{"x":"\`, `[{"type":"\q"}]`,
		`[{"x":` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `}]`,
	} {
		if _, err := scanAll(t, []byte(body)); err == nil {
			t.Errorf("%q accepted", body)
		}
	}
	for _, body := range []string{`[]`, ` [ ] `, `[{}]`, `[{"x":{"y":[1,-2.5e3,true,false,null,"s"]},"to":"+1"}]`} {
		if _, err := scanAll(t, []byte(body)); err != nil {
			t.Errorf("%q refused: %v", body, err)
		}
	}
}

const oneEvent = `[{"type":"message-delivered","to":"+15550002222","message":{"id":"m1","to":["+15550002222"]}}]`

// TestSinkHTTP sends callbacks the way the daemon does (net/http client,
// keep-alive) with Content-Length and chunked bodies, and checks the count.
func TestSinkHTTP(t *testing.T) {
	s, err := startSink(10)
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	s.sent("m1", time.Now(), 1)
	s.sent("m2", time.Now(), 1)
	client := &http.Client{Timeout: 10 * time.Second}
	defer client.CloseIdleConnections()
	second := strings.ReplaceAll(oneEvent, `"m1"`, `"m2"`)
	var reused []bool
	for i, body := range []io.Reader{strings.NewReader(oneEvent), io.NopCloser(strings.NewReader(second)), strings.NewReader(second)} {
		req, err := http.NewRequest("POST", s.url+"/status", body)
		if err != nil {
			t.Fatal(err)
		}
		trace := &httptrace.ClientTrace{GotConn: func(ci httptrace.GotConnInfo) { reused = append(reused, ci.Reused) }}
		req = req.WithContext(httptrace.WithClientTrace(req.Context(), trace))
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 204 {
			t.Fatalf("request %d: status %d", i, resp.StatusCode)
		}
		if i == 1 && len(req.TransferEncoding) == 0 && req.ContentLength > 0 {
			t.Fatalf("request %d was meant to be chunked", i)
		}
	}
	if len(reused) != 3 || reused[1] != true || reused[2] != true {
		t.Errorf("connection reuse: %v, want [false true true]", reused)
	}
	s.mu.Lock()
	got, dups, delivered := s.got, s.dups, *s.byType["message-delivered"]
	s.mu.Unlock()
	if got != 2 || dups != 1 || delivered != 3 {
		t.Errorf("got %d, dups %d, delivered %d; want 2, 1, 3", got, dups, delivered)
	}
}

// TestSinkRawHTTP covers what net/http does not send: HTTP/1.0, Expect,
// bad requests.
func TestSinkRawHTTP(t *testing.T) {
	s, err := startSink(10)
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	cases := []struct {
		name, req, wantStatus string
		closes                bool
	}{
		{"http/1.0 closes", "POST / HTTP/1.0\r\nContent-Length: 2\r\n\r\n[]", "HTTP/1.1 204 ", true},
		{"connection close", "POST / HTTP/1.1\r\nConnection: close\r\nContent-Length: 2\r\n\r\n[]", "HTTP/1.1 204 ", true},
		{"chunked with extension and trailer", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1;x=y\r\n[\r\n1\r\n]\r\n0\r\nT: v\r\n\r\n", "HTTP/1.1 204 ", false},
		{"expect continue", "POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n[]", "HTTP/1.1 100 ", false},
		{"bad json", "POST / HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}", "HTTP/1.1 400 ", true},
		{"length and chunked", "POST / HTTP/1.1\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "HTTP/1.1 400 ", true},
		{"two lengths", "POST / HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n[]", "HTTP/1.1 400 ", true},
		{"too large", "POST / HTTP/1.1\r\nContent-Length: 2000000\r\n\r\n", "HTTP/1.1 413 ", true},
		{"gzip coding", "POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", "HTTP/1.1 501 ", true},
		{"bad chunk size", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "HTTP/1.1 400 ", true},
		{"bad request line", "POST\r\n\r\n", "HTTP/1.1 400 ", true},
		{"http/2 preface", "PRI * HTTP/2.0\r\n\r\n", "HTTP/1.1 400 ", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := net.Dial("tcp", strings.TrimPrefix(s.url, "http://"))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(10 * time.Second))
			if _, err := io.WriteString(c, tc.req); err != nil {
				t.Fatal(err)
			}
			br := bufio.NewReader(c)
			line, err := br.ReadString('\n')
			if err != nil || !strings.HasPrefix(line, tc.wantStatus) {
				t.Fatalf("status line %q (%v), want %q", line, err, tc.wantStatus)
			}
			if tc.wantStatus == "HTTP/1.1 100 " { // then the real answer
				br.ReadString('\n')
				if line, _ = br.ReadString('\n'); !strings.HasPrefix(line, "HTTP/1.1 204 ") {
					t.Fatalf("after 100 Continue: %q", line)
				}
			}
			for { // headers
				h, err := br.ReadString('\n')
				if err != nil {
					t.Fatal(err)
				}
				if h == "\r\n" {
					break
				}
			}
			// A closing answer is followed by EOF; a kept-alive connection
			// answers a second request.
			if tc.closes {
				if _, err := br.ReadByte(); err != io.EOF {
					t.Errorf("connection not closed: %v", err)
				}
				return
			}
			io.WriteString(c, "POST / HTTP/1.1\r\nContent-Length: 2\r\n\r\n[]")
			if line, err := br.ReadString('\n'); err != nil || !strings.HasPrefix(line, "HTTP/1.1 204 ") {
				t.Errorf("second request on the connection: %q (%v)", line, err)
			}
		})
	}
}

// TestScanNumbersMatchJSON: the scanner takes exactly the numbers
// encoding/json takes.
func TestScanNumbersMatchJSON(t *testing.T) {
	for _, n := range []string{"0", "-0", "7", "-12", "1.5", "1.0e+10", "1E-2", "2e3", "123456789012345678901234567890",
		"-", "+1", "01", "00", "1.", ".5", "1e", "1e+", "1.5.2", "--1", "1x", "0x1", "-.5", "1e5e5", "1..2", "Infinity", "NaN"} {
		want := json.Valid([]byte(n))
		_, err := scanAll(t, []byte(`[{"x":`+n+`}]`))
		if got := err == nil; got != want {
			t.Errorf("%q: scanner takes it %v, encoding/json %v", n, got, want)
		}
	}
}
