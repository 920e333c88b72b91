package httpapi

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"smppbridge/bridge"
)

const (
	goodBody = `{"applicationId":"` + testAppID + `","to":["+15550002222"],"from":"+15550001111","text":"hello","tag":"order-42"}`
	goodResp = `{"id":"` + testMsgID + `","owner":"+15550001111","applicationId":"` + testAppID + `",
		"time":"2023-11-14T22:13:20.000Z","segmentCount":1,"direction":"out","to":["+15550002222"],
		"from":"+15550001111","text":"hello","tag":"order-42","priority":"default"}`

	resp401 = `{"type":"unauthorized","description":"Authentication Failed"}`
	resp403 = `{"type":"forbidden","description":"Access Denied"}`
	resp500 = `{"type":"internal-server-error","description":"An internal error occurred; the message was not accepted"}`
	resp503 = `{"type":"service-unavailable","description":"The service is shutting down; retry the request"}`
)

// resp400 is a decoding failure body with one field error.
func resp400(field, desc string) string {
	fe := map[string]string{"description": desc}
	if field != "" {
		fe["fieldName"] = field
	}
	b, _ := json.Marshal(map[string]any{
		"type": "request-validation", "description": "Your request could not be accepted",
		"fieldErrors": []any{fe},
	})
	return string(b)
}

func resp415(ct string) string {
	b, _ := json.Marshal(map[string]string{"type": "unsupported-content-type",
		"description": "Content-Type '" + ct + "' is not supported; use application/json"})
	return string(b)
}

var hexID = regexp.MustCompile(`^[0-9a-f]{16}$`)

// TestSend covers every status of the create-message call.
func TestSend(t *testing.T) {
	auth := "Authorization: " + basic(testUser, testPass)
	jsonCT := "Content-Type: application/json"
	std := []string{auth, jsonCT}

	type tcase struct {
		name    string
		method  string   // default POST
		path    string   // default testPath
		headers []string // default std
		body    string   // default goodBody
		auth    authFunc
		send    sendFunc
		status  int
		want    string // JSON body, compared structurally
		noSend  bool   // Core.Send must not be called
		check   func(t *testing.T, resp *fasthttp.Response, core *fakeCore)
	}
	cases := []tcase{
		{name: "accepted with /api/v2 prefix", status: 202, want: goodResp,
			check: func(t *testing.T, resp *fasthttp.Response, core *fakeCore) {
				if ct := string(resp.Header.ContentType()); ct != "application/json" {
					t.Errorf("Content-Type = %q", ct)
				}
				got := core.lastReq(t)
				want := &bridge.SendRequest{AccountID: testAccount, ApplicationID: testAppID, To: []string{"+15550002222"},
					From: "+15550001111", Text: "hello", Tag: "order-42", HasTag: true, RequestID: got.RequestID}
				if fmt.Sprint(got) != fmt.Sprint(want) {
					t.Errorf("core got %+v\nwant %+v", got, want)
				}
			}},
		{name: "accepted without prefix", path: "/users/" + testAccount + "/messages", status: 202, want: goodResp},
		{name: "accepted with trailing slash", path: testPath + "/", status: 202, want: goodResp},
		{name: "accepted with query string", path: testPath + "?x=1", status: 202, want: goodResp},
		{name: "to as a bare string becomes an array",
			body:   `{"applicationId":"a","to":"+15550002222","from":"+15550001111","text":"hi"}`,
			status: 202,
			want: `{"id":"` + testMsgID + `","owner":"+15550001111","applicationId":"a","time":"2023-11-14T22:13:20.000Z",
				"segmentCount":1,"direction":"out","to":["+15550002222"],"from":"+15550001111","text":"hi","priority":"default"}`,
			check: func(t *testing.T, _ *fasthttp.Response, core *fakeCore) {
				if got := core.lastReq(t).To; len(got) != 1 || got[0] != "+15550002222" {
					t.Errorf("To = %q", got)
				}
			}},
		{name: "group to array",
			body:   `{"applicationId":"a","to":["+15550002222","+15550003333"],"from":"+15550001111","text":"hi"}`,
			status: 202,
			want: `{"id":"` + testMsgID + `","owner":"+15550001111","applicationId":"a","time":"2023-11-14T22:13:20.000Z",
				"segmentCount":1,"direction":"out","to":["+15550002222","+15550003333"],"from":"+15550001111","text":"hi","priority":"default"}`},
		{name: "tag present but empty is echoed",
			body:   `{"applicationId":"a","to":["+1"],"from":"+2","text":"","tag":""}`,
			status: 202,
			want: `{"id":"` + testMsgID + `","owner":"+2","applicationId":"a","time":"2023-11-14T22:13:20.000Z",
				"segmentCount":1,"direction":"out","to":["+1"],"from":"+2","text":"","tag":"","priority":"default"}`,
			check: func(t *testing.T, _ *fasthttp.Response, core *fakeCore) {
				if r := core.lastReq(t); !r.HasTag || r.Tag != "" {
					t.Errorf("HasTag=%v Tag=%q", r.HasTag, r.Tag)
				}
			}},
		{name: "tag absent is omitted",
			body:   `{"applicationId":"a","to":["+1"],"from":"+2","text":"x"}`,
			status: 202,
			want: `{"id":"` + testMsgID + `","owner":"+2","applicationId":"a","time":"2023-11-14T22:13:20.000Z",
				"segmentCount":1,"direction":"out","to":["+1"],"from":"+2","text":"x","priority":"default"}`,
			check: func(t *testing.T, _ *fasthttp.Response, core *fakeCore) {
				if r := core.lastReq(t); r.HasTag {
					t.Error("HasTag set for an absent tag")
				}
			}},
		{name: "tag null counts as absent",
			body:   `{"applicationId":"a","to":["+1"],"from":"+2","text":"x","tag":null}`,
			status: 202,
			want: `{"id":"` + testMsgID + `","owner":"+2","applicationId":"a","time":"2023-11-14T22:13:20.000Z",
				"segmentCount":1,"direction":"out","to":["+1"],"from":"+2","text":"x","priority":"default"}`},
		{name: "media, priority and expiration echoed, expiration in UTC",
			body: `{"applicationId":"a","to":["+1"],"from":"+2","text":"x","media":["https://e.test/a.jpg","https://e.test/b.png"],
				"priority":"high","expiration":"2030-01-02T03:04:05.5+02:00","unknown":{"nested":[1,2,{"a":null}]}}`,
			status: 202,
			want: `{"id":"` + testMsgID + `","owner":"+2","applicationId":"a","time":"2023-11-14T22:13:20.000Z",
				"segmentCount":1,"direction":"out","to":["+1"],"from":"+2","media":["https://e.test/a.jpg","https://e.test/b.png"],
				"text":"x","priority":"high","expiration":"2030-01-02T01:04:05.500Z"}`,
			check: func(t *testing.T, _ *fasthttp.Response, core *fakeCore) {
				r := core.lastReq(t)
				want := time.Date(2030, 1, 2, 1, 4, 5, 5e8, time.UTC)
				if r.Expiration == nil || !r.Expiration.Equal(want) || r.Priority != "high" {
					t.Errorf("Expiration=%v Priority=%q", r.Expiration, r.Priority)
				}
			}},

		// Auth.
		{name: "no Authorization header", headers: []string{jsonCT}, status: 401, want: resp401, noSend: true,
			check: func(t *testing.T, resp *fasthttp.Response, core *fakeCore) {
				if got := string(resp.Header.Peek("WWW-Authenticate")); got != `Basic realm="smppbridge"` {
					t.Errorf("WWW-Authenticate = %q", got)
				}
				core.mu.Lock()
				defer core.mu.Unlock()
				if len(core.creds) != 0 {
					t.Error("Authenticate called without credentials")
				}
			}},
		{name: "wrong password", headers: []string{"Authorization: " + basic(testUser, "nope"), jsonCT},
			status: 401, want: resp401, noSend: true,
			check: func(t *testing.T, resp *fasthttp.Response, _ *fakeCore) {
				if len(resp.Header.Peek("WWW-Authenticate")) == 0 {
					t.Error("no WWW-Authenticate challenge")
				}
			}},
		{name: "credentials of another account", path: "/api/v2/users/1234567/messages",
			status: 403, want: resp403, noSend: true},
		{name: "lower-case scheme accepted", headers: []string{"Authorization: basic " + strings.TrimPrefix(basic(testUser, testPass), "Basic "), jsonCT},
			status: 202, want: goodResp},
		{name: "bearer token", headers: []string{"Authorization: Bearer abc.def.ghi", jsonCT}, status: 401, want: resp401, noSend: true},
		{name: "basic without payload", headers: []string{"Authorization: Basic", jsonCT}, status: 401, want: resp401, noSend: true},
		{name: "basic with invalid base64", headers: []string{"Authorization: Basic !!!notbase64", jsonCT}, status: 401, want: resp401, noSend: true},
		{name: "basic without colon", headers: []string{"Authorization: Basic " + "YWxpY2U=", jsonCT}, status: 401, want: resp401, noSend: true},
		{name: "basic with empty user", headers: []string{"Authorization: " + basic("", "x"), jsonCT}, status: 401, want: resp401, noSend: true},
		{name: "authenticate fails internally", auth: func(string, string, string) error { return fmt.Errorf("db: %w", bridge.ErrStore) },
			status: 500, want: resp500, noSend: true},
		{name: "auth before content type", headers: []string{"Content-Type: text/plain"}, status: 401, want: resp401, noSend: true},

		// Content type.
		{name: "json with charset", headers: []string{auth, "Content-Type: application/json; charset=utf-8"}, status: 202, want: goodResp},
		{name: "json upper case, quoted charset", headers: []string{auth, `Content-Type: APPLICATION/JSON;charset="UTF-8"`}, status: 202, want: goodResp},
		{name: "json with other parameter", headers: []string{auth, "Content-Type: application/json; foo=bar"}, status: 202, want: goodResp},
		{name: "text/plain", headers: []string{auth, "Content-Type: text/plain"}, status: 415, want: resp415("text/plain"), noSend: true},
		{name: "missing content type", headers: []string{auth}, status: 415, want: resp415(""), noSend: true},
		{name: "form", headers: []string{auth, "Content-Type: application/x-www-form-urlencoded"}, status: 415,
			want: resp415("application/x-www-form-urlencoded"), noSend: true},
		{name: "json with latin-1 charset", headers: []string{auth, "Content-Type: application/json; charset=iso-8859-1"}, status: 415,
			want: resp415("application/json; charset=iso-8859-1"), noSend: true},
		{name: "json lookalike", headers: []string{auth, "Content-Type: application/jsonx"}, status: 415, want: resp415("application/jsonx"), noSend: true},

		// Decoding.
		{name: "malformed json", body: `{"to":["+1"],}`, status: 400,
			want: resp400("", "Malformed JSON at byte offset 13: unexpected character '}'"), noSend: true},
		{name: "truncated json", body: `{"to":["+1"`, status: 400,
			want: resp400("to", "Malformed JSON: unexpected end of input"), noSend: true},
		{name: "to is a number", body: `{"to":15550002222}`, status: 400,
			want: resp400("to", "'to' must be an array of strings or a string"), noSend: true},
		{name: "to holds a number", body: `{"to":["+1",2]}`, status: 400,
			want: resp400("to", "'to' must be an array of strings or a string"), noSend: true},
		{name: "media is a string", body: `{"media":"https://e.test/a.jpg"}`, status: 400,
			want: resp400("media", "'media' must be an array of strings"), noSend: true},
		{name: "text is an object", body: `{"text":{}}`, status: 400, want: resp400("text", "'text' must be a string"), noSend: true},
		{name: "tag is a boolean", body: `{"tag":true}`, status: 400, want: resp400("tag", "'tag' must be a string"), noSend: true},
		{name: "bad expiration", body: `{"expiration":"tomorrow"}`, status: 400,
			want: resp400("expiration", "'expiration' must be an RFC 3339 date-time such as 2025-01-02T15:04:05Z"), noSend: true},
		{name: "expiration is a number", body: `{"expiration":1700000000}`, status: 400,
			want: resp400("expiration", "'expiration' must be an RFC 3339 date-time string"), noSend: true},
		{name: "invalid utf-8 in text", body: "{\"text\":\"caf\xe9\"}", status: 400,
			want: resp400("text", "'text' is not valid UTF-8"), noSend: true},
		{name: "invalid utf-8 after an escape", body: "{\"from\":\"\\n\xff\"}", status: 400,
			want: resp400("from", "'from' is not valid UTF-8"), noSend: true},
		{name: "invalid utf-8 in unknown field", body: "{\"x\":\"\xc3\x28\"}", status: 400,
			want: resp400("", "The request contains a string that is not valid UTF-8"), noSend: true},
		{name: "unpaired surrogate", body: `{"text":"\ud83d x"}`, status: 400,
			want: resp400("text", `Malformed JSON at byte offset 9: unpaired UTF-16 surrogate in a \u escape`), noSend: true},
		{name: "array body", body: `[{"to":["+1"]}]`, status: 400, want: resp400("", "The request body must be a JSON object"), noSend: true},
		{name: "string body", body: `"hello"`, status: 400, want: resp400("", "The request body must be a JSON object"), noSend: true},
		{name: "null body", body: `null`, status: 400, want: resp400("", "The request body must be a JSON object"), noSend: true},
		{name: "empty body", body: " ", status: 400, want: resp400("", "The request body is empty; it must be a JSON object"), noSend: true},
		{name: "two objects", body: `{}{}`, status: 400,
			want: resp400("", "Malformed JSON at byte offset 2: unexpected data after the JSON object"), noSend: true},
		{name: "deep nesting", body: `{"x":` + strings.Repeat("[", 40) + strings.Repeat("]", 40) + `}`, status: 400,
			want: resp400("", "JSON nesting is deeper than 32 levels"), noSend: true},
		{name: "nesting at the limit", body: `{"applicationId":"a","to":["+1"],"from":"+2","text":"x","x":` + strings.Repeat("[", 31) + strings.Repeat("]", 31) + `}`,
			status: 202},
		{name: "huge to array", body: `{"to":[` + strings.Repeat(`"+1",`, 1000) + `"+1"]}`, status: 400,
			want: resp400("to", "'to' has more than 1000 elements"), noSend: true},
		{name: "huge unknown array", body: `{"x":[` + strings.Repeat(`0,`, 1000) + `0]}`, status: 400,
			want: resp400("", "The request contains an array with more than 1000 elements"), noSend: true},
		{name: "1000 elements are fine", body: `{"x":[` + strings.Repeat(`0,`, 999) + `0]}`, status: 202},

		// Outcomes of Core.Send.
		{name: "validation error with fields",
			send: func(context.Context, *bridge.SendRequest) (*bridge.Message, error) {
				return nil, &bridge.ValidationError{Description: "Your request could not be accepted",
					Fields: []bridge.FieldError{{FieldName: "to", Description: "'+1invalid' must be replaced with a valid E164 formatted telephone number"}}}
			},
			status: 400,
			want: `{"type":"request-validation","description":"Your request could not be accepted","fieldErrors":[
				{"fieldName":"to","description":"'+1invalid' must be replaced with a valid E164 formatted telephone number"}]}`},
		{name: "validation error without description or fields",
			send: func(context.Context, *bridge.SendRequest) (*bridge.Message, error) {
				return nil, fmt.Errorf("wrapped: %w", &bridge.ValidationError{})
			},
			status: 400, want: `{"type":"request-validation","description":"Your request could not be accepted"}`},
		{name: "queue full",
			send: func(context.Context, *bridge.SendRequest) (*bridge.Message, error) {
				return nil, &bridge.QueueFullError{Carrier: "c1", SegmentsPerSecond: 1, QueueSeconds: 900, Capacity: 900}
			},
			status: 429,
			want:   `{"type":"max-message-queue-size-exceeded","description":"The message queue is full: the allowed rate is 1 message segments per second and the queue holds 900 segments (900 seconds at that rate)"}`},
		{name: "shutting down",
			send: func(context.Context, *bridge.SendRequest) (*bridge.Message, error) {
				return nil, bridge.ErrShuttingDown
			},
			status: 503, want: resp503,
			check: func(t *testing.T, resp *fasthttp.Response, _ *fakeCore) {
				if !resp.ConnectionClose() {
					t.Error("503 while shutting down should close the connection")
				}
			}},
		{name: "send deadline exceeded",
			send: func(context.Context, *bridge.SendRequest) (*bridge.Message, error) {
				return nil, fmt.Errorf("waiting for store: %w", context.DeadlineExceeded)
			},
			status: 503, want: `{"type":"service-unavailable","description":"The request could not be completed in time; it was not accepted"}`},
		{name: "store failure does not leak",
			send: func(context.Context, *bridge.SendRequest) (*bridge.Message, error) {
				return nil, fmt.Errorf("bolt: /var/lib/smppbridge/db: disk full: %w", bridge.ErrStore)
			},
			status: 500, want: resp500},
		{name: "unknown error",
			send: func(context.Context, *bridge.SendRequest) (*bridge.Message, error) {
				return nil, errors.New("secret internals")
			},
			status: 500, want: resp500},
		{name: "nil message",
			send:   func(context.Context, *bridge.SendRequest) (*bridge.Message, error) { return nil, nil },
			status: 500, want: resp500},
		{name: "panic in core",
			send:   func(context.Context, *bridge.SendRequest) (*bridge.Message, error) { panic("boom") },
			status: 500, want: resp500},
		{name: "message rendering escapes and omits",
			send: func(context.Context, *bridge.SendRequest) (*bridge.Message, error) {
				exp := time.Date(2031, 5, 6, 7, 8, 9, 123456789, time.FixedZone("x", 3600))
				return &bridge.Message{ID: "i", Time: time.Date(2024, 2, 29, 23, 59, 59, 999999999, time.UTC),
					SegmentCount: 3, To: nil, Text: "a\"b\\c\n\u2028\x01é😀", Expiration: &exp}, nil
			},
			status: 202,
			want: `{"id":"i","owner":"","applicationId":"","time":"2024-02-29T23:59:59.999Z","segmentCount":3,"direction":"out",
				"to":[],"from":"","text":"a\"b\\c\n\u2028\u0001é😀","priority":"default","expiration":"2031-05-06T06:08:09.123Z"}`},

		// Routing.
		{name: "GET is not allowed yet", method: "GET", body: "", status: 405,
			want: `{"type":"method-not-allowed","description":"Request method 'GET' is not supported"}`, noSend: true,
			check: func(t *testing.T, resp *fasthttp.Response, _ *fakeCore) {
				if got := string(resp.Header.Peek("Allow")); got != "POST" {
					t.Errorf("Allow = %q", got)
				}
			}},
		{name: "PUT is not allowed", method: "PUT", path: "/users/1/messages", status: 405,
			want: `{"type":"method-not-allowed","description":"Request method 'PUT' is not supported"}`, noSend: true},
		{name: "DELETE is not allowed", method: "DELETE", body: "", status: 405,
			want: `{"type":"method-not-allowed","description":"Request method 'DELETE' is not supported"}`, noSend: true},
	}
	core := &fakeCore{}
	ln := startServer(t, New(core, Options{}))
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			core.reset(tc.auth, tc.send)
			r := rawRequest{method: tc.method, path: tc.path, headers: tc.headers, body: tc.body}
			if r.method == "" {
				r.method = "POST"
			}
			if r.path == "" {
				r.path = testPath
			}
			if r.headers == nil {
				r.headers = std
			}
			if r.body == "" && tc.method == "" {
				r.body = goodBody
			}
			resp := do(t, ln, r)
			if resp.StatusCode() != tc.status {
				t.Fatalf("status = %d, want %d; body %s", resp.StatusCode(), tc.status, resp.Body())
			}
			if tc.want != "" {
				jsonEqual(t, resp.Body(), tc.want)
			}
			if ct := string(resp.Header.ContentType()); ct != "application/json" {
				t.Errorf("Content-Type = %q", ct)
			}
			if id := string(resp.Header.Peek("X-Request-Id")); !hexID.MatchString(id) {
				t.Errorf("X-Request-Id = %q, want a generated id", id)
			}
			if tc.noSend && core.sendCalls() != 0 {
				t.Errorf("Core.Send called %d times", core.sendCalls())
			}
			if tc.check != nil {
				tc.check(t, resp, core)
			}
		})
	}
}

func TestNotFound(t *testing.T) {
	ln := startServer(t, New(&fakeCore{}, Options{}))
	for _, path := range []string{
		"/", "/foo", "/api/v2/users/1/messages/123", "/api/v2/users//messages", "/api/v2/users/messages",
		"/api/v3/users/1/messages", "/api/v2/users/1/media", "/users/1/messages/x", "/api/v2/api/v2/users/1/messages",
	} {
		for _, method := range []string{"GET", "POST"} {
			t.Run(method+" "+path, func(t *testing.T) {
				resp := do(t, ln, rawRequest{method: method, path: path,
					headers: []string{"Authorization: " + basic(testUser, testPass), "Content-Type: application/json"}, body: goodBody})
				if resp.StatusCode() != 404 {
					t.Fatalf("status = %d", resp.StatusCode())
				}
				var body map[string]any
				if err := json.Unmarshal(resp.Body(), &body); err != nil {
					t.Fatalf("body %s: %v", resp.Body(), err)
				}
				ts, _ := body["timestamp"].(string)
				if parsed, err := time.Parse(timeLayout, ts); err != nil || time.Since(parsed) > time.Minute {
					t.Errorf("timestamp %q: %v", ts, err)
				}
				delete(body, "timestamp")
				b, _ := json.Marshal(body)
				jsonEqual(t, b, fmt.Sprintf(`{"status":404,"error":"Not Found","message":"No message available","path":%q}`, path))
				if len(resp.Header.Peek("X-Request-Id")) == 0 {
					t.Error("no X-Request-Id")
				}
			})
		}
	}
}

func TestRequestID(t *testing.T) {
	core := &fakeCore{}
	ln := startServer(t, New(core, Options{WriteTimeout: 3 * time.Second}))
	std := []string{"Authorization: " + basic(testUser, testPass), "Content-Type: application/json"}
	cases := []struct {
		name, header string
		echoed       bool
	}{
		{"safe token echoed", "req-42_a.b:c", true},
		{"uuid echoed", "9e0df4ca-b18d-40d7-a59f-82fcdf5ae8e6", true},
		{"64 chars echoed", strings.Repeat("a", 64), true},
		{"65 chars replaced", strings.Repeat("a", 65), false},
		{"spaces replaced", "a b", false},
		{"quotes replaced", `a"b`, false},
		{"non-ascii replaced", "abc\xc3\xa9", false},
		{"absent generated", "", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := std
			if tc.header != "" {
				h = append(h[:2:2], "X-Request-Id: "+tc.header)
			}
			before := time.Now()
			resp := do(t, ln, rawRequest{method: "POST", path: testPath, headers: h, body: goodBody})
			if resp.StatusCode() != 202 {
				t.Fatalf("status %d", resp.StatusCode())
			}
			got := string(resp.Header.Peek("X-Request-Id"))
			if tc.echoed && got != tc.header {
				t.Errorf("X-Request-Id = %q, want the client's %q", got, tc.header)
			}
			if !tc.echoed && !hexID.MatchString(got) {
				t.Errorf("X-Request-Id = %q, want a generated id", got)
			}
			req := core.lastReq(t)
			core.mu.Lock()
			ctx := core.ctxs[len(core.ctxs)-1]
			core.mu.Unlock()
			if req.RequestID != got || RequestID(ctx) != got {
				t.Errorf("core saw request id %q / ctx %q, response has %q", req.RequestID, RequestID(ctx), got)
			}
			dl, ok := ctx.Deadline()
			if !ok || dl.Before(before.Add(3*time.Second)) || dl.After(time.Now().Add(3*time.Second)) {
				t.Errorf("Send context deadline %v, %v; want WriteTimeout from now", dl, ok)
			}
		})
	}
	// Generated ids differ.
	seen := map[string]bool{}
	for range 50 {
		id := newRequestID()
		if seen[id] {
			t.Fatalf("duplicate id %s", id)
		}
		seen[id] = true
	}
}

// TestServerLimits goes through the whole fasthttp server: its own errors
// must be JSON too.
func TestServerLimits(t *testing.T) {
	core := &fakeCore{}
	s := New(core, Options{MaxBodyBytes: 1024, MaxHeaderBytes: 2048})
	ln := startServer(t, s)
	std := []string{"Authorization: " + basic(testUser, testPass), "Content-Type: application/json"}

	t.Run("body too large", func(t *testing.T) {
		big := `{"text":"` + strings.Repeat("x", 2000) + `"}`
		resp := do(t, ln, rawRequest{method: "POST", path: testPath, headers: append(std[:2:2], "X-Request-Id: big-1"), body: big})
		if resp.StatusCode() != 413 {
			t.Fatalf("status %d: %s", resp.StatusCode(), resp.Body())
		}
		jsonEqual(t, resp.Body(), `{"type":"request-entity-too-large","description":"The request body is larger than 1024 bytes"}`)
		if got := string(resp.Header.Peek("X-Request-Id")); got != "big-1" {
			t.Errorf("X-Request-Id = %q", got)
		}
		if string(resp.Header.ContentType()) != "application/json" {
			t.Errorf("Content-Type %q", resp.Header.ContentType())
		}
	})
	t.Run("body at the limit", func(t *testing.T) {
		body := `{"applicationId":"a","to":["+1"],"from":"+2","text":"`
		body += strings.Repeat("x", 1024-len(body)-2) + `"}`
		resp := do(t, ln, rawRequest{method: "POST", path: testPath, headers: std, body: body})
		if resp.StatusCode() != 202 {
			t.Fatalf("status %d: %s", resp.StatusCode(), resp.Body())
		}
	})
	t.Run("headers too large", func(t *testing.T) {
		resp := do(t, ln, rawRequest{method: "POST", path: testPath, headers: append(std[:2:2], "X-Padding: "+strings.Repeat("p", 4000)), body: goodBody})
		if resp.StatusCode() != 431 {
			t.Fatalf("status %d: %s", resp.StatusCode(), resp.Body())
		}
		jsonEqual(t, resp.Body(), `{"type":"request-header-fields-too-large","description":"The request headers are too large"}`)
		if !hexID.Match(resp.Header.Peek("X-Request-Id")) {
			t.Errorf("X-Request-Id = %q", resp.Header.Peek("X-Request-Id"))
		}
	})
	t.Run("garbage request line", func(t *testing.T) {
		c, err := ln.Dial()
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		go func() { _, _ = c.Write([]byte("NOT HTTP\r\nfoo\r\n\r\n")) }()
		var resp fasthttp.Response
		if err := resp.Read(bufioReader(c)); err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode() != 400 {
			t.Fatalf("status %d: %s", resp.StatusCode(), resp.Body())
		}
		jsonEqual(t, resp.Body(), `{"type":"bad-request","description":"The HTTP request could not be parsed"}`)
	})
	t.Run("no Server header", func(t *testing.T) {
		resp := do(t, ln, rawRequest{method: "POST", path: testPath, headers: std, body: goodBody})
		if v := resp.Header.Peek("Server"); len(v) != 0 {
			t.Errorf("Server header %q", v)
		}
	})
	t.Run("slow client", func(t *testing.T) {
		slow := startServer(t, New(core, Options{ReadTimeout: 100 * time.Millisecond}))
		c, err := slow.Dial()
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := c.Write([]byte("POST " + testPath + " HTTP/1.1\r\nHost: x\r\n")); err != nil {
			t.Fatal(err)
		}
		var resp fasthttp.Response
		if err := resp.Read(bufioReader(c)); err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode() != 408 {
			t.Fatalf("status %d: %s", resp.StatusCode(), resp.Body())
		}
		jsonEqual(t, resp.Body(), `{"type":"request-timeout","description":"The request was not received in time"}`)
	})
	// The timeouts are the connection guard's (connguard.go).
	if s.srv.Concurrency != DefaultConcurrency || !s.srv.CloseOnShutdown || s.guard.timeouts[phaseRequest] != DefaultReadTimeout ||
		s.guard.timeouts[phaseWrite] != DefaultWriteTimeout || s.guard.timeouts[phaseIdle] != DefaultIdleTimeout || s.srv.ReadBufferSize != 2048 {
		t.Errorf("server limits not applied: concurrency %d, close on shutdown %v, timeouts %v, read buffer %d",
			s.srv.Concurrency, s.srv.CloseOnShutdown, s.guard.timeouts, s.srv.ReadBufferSize)
	}
}

// TestKeepAliveReuse sends several requests on one connection, so fasthttp
// reuses its buffers between them, and checks the core's copies survive.
func TestKeepAliveReuse(t *testing.T) {
	core := &fakeCore{}
	ln := startServer(t, New(core, Options{}))
	c, err := ln.Dial()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	br := bufioReader(c)
	var want []string
	for i := range 5 {
		text := fmt.Sprintf("message %d \\u00e9 \\n %s", i, strings.Repeat(string(rune('a'+i)), 50))
		body := fmt.Sprintf(`{"applicationId":"app-%d","to":["+1555000%04d"],"from":"+15550001111","text":"%s","tag":"t%d"}`, i, i, text, i)
		r := rawRequest{method: "POST", path: fmt.Sprintf("/users/%s/messages", testAccount),
			headers: []string{"Authorization: " + basic(testUser, testPass), "Content-Type: application/json", fmt.Sprintf("X-Request-Id: r%d", i)},
			body:    body}
		if _, err := c.Write(r.bytes()); err != nil {
			t.Fatal(err)
		}
		var resp fasthttp.Response
		if err := resp.Read(br); err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode() != 202 {
			t.Fatalf("request %d: status %d %s", i, resp.StatusCode(), resp.Body())
		}
		want = append(want, fmt.Sprintf("%d app-%d +1555000%04d message %d é \n %s t%d r%d %s", i, i, i, i, strings.Repeat(string(rune('a'+i)), 50), i, i, testAccount))
	}
	core.mu.Lock()
	defer core.mu.Unlock()
	if len(core.reqs) != len(want) {
		t.Fatalf("core got %d requests, want %d", len(core.reqs), len(want))
	}
	for i, r := range core.reqs {
		got := fmt.Sprintf("%d %s %s %s %s %s %s", i, r.ApplicationID, r.To[0], r.Text, r.Tag, r.RequestID, r.AccountID)
		if got != want[i] {
			t.Errorf("request %d stored as\n%q\nwant\n%q", i, got, want[i])
		}
	}
}

// TestHandlerCopies mutates every buffer fasthttp lent the handler after it
// returns; what the core kept must not change.
func TestHandlerCopies(t *testing.T) {
	core := &fakeCore{}
	s := New(core, Options{})
	h := s.Handler()

	var req fasthttp.Request
	req.Header.SetMethod("POST")
	req.SetRequestURI(testPath)
	req.Header.Set("Authorization", basic(testUser, testPass))
	req.Header.SetContentType("application/json; charset=utf-8")
	req.Header.Set("X-Request-Id", "copy-test-1")
	req.SetBodyString(`{"applicationId":"app","to":["+15550002222","+15550003333"],"from":"+15550001111",` +
		`"text":"plain and \"escaped\" \u00e9\n","media":["https://e.test/m.jpg"],"tag":"tg","priority":"high",` +
		`"expiration":"2030-01-01T00:00:00Z"}`)
	var ctx fasthttp.RequestCtx
	ctx.Init(&req, nil, nil)
	h(&ctx)
	if ctx.Response.StatusCode() != 202 {
		t.Fatalf("status %d %s", ctx.Response.StatusCode(), ctx.Response.Body())
	}
	// Scribble over everything the request lent out, and reuse the pooled
	// buffers with another request.
	for _, b := range [][]byte{ctx.Request.Body(), ctx.Path(), ctx.Request.Header.Peek("Authorization"),
		ctx.Request.Header.Peek("X-Request-Id"), ctx.Request.Header.ContentType(), ctx.Request.RequestURI()} {
		for i := range b {
			b[i] = 'X'
		}
	}
	ctx.Request.SetBodyString(`{"applicationId":"zzz","to":["\u0030\u0030\u0030\u0030\u0030\u0030\u0030\u0030"],"text":"\u00ff\u00ff\u00ff\u00ff\u00ff\u00ff"}`)
	ctx.Request.SetRequestURI("/users/" + testAccount + "/messages")
	ctx.Request.Header.Set("Authorization", basic(testUser, testPass))
	ctx.Request.Header.SetContentType("application/json")
	ctx.Response.Reset()
	h(&ctx)
	if ctx.Response.StatusCode() != 202 {
		t.Fatalf("second request: status %d %s", ctx.Response.StatusCode(), ctx.Response.Body())
	}
	ctx.Request.Reset()

	first := core.reqs[0]
	exp := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	if first.Expiration == nil || !first.Expiration.Equal(exp) {
		t.Errorf("Expiration = %v", first.Expiration)
	}
	want := bridge.SendRequest{AccountID: testAccount, ApplicationID: "app", To: []string{"+15550002222", "+15550003333"},
		From: "+15550001111", Text: "plain and \"escaped\" é\n", Media: []string{"https://e.test/m.jpg"}, Tag: "tg", HasTag: true,
		Priority: "high", Expiration: first.Expiration, RequestID: "copy-test-1"}
	if !reflect.DeepEqual(*first, want) {
		t.Errorf("stored request\n got %+v\nwant %+v", *first, want)
	}
	if got := core.creds[0]; got != [3]string{testAccount, testUser, testPass} {
		t.Errorf("credentials stored as %q", got)
	}
}

func bufioReader(r io.Reader) *bufio.Reader { return bufio.NewReader(r) }
