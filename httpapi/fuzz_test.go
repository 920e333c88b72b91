package httpapi

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/valyala/fasthttp"
)

// FuzzDecodeSendRequest feeds arbitrary bodies through the whole handler:
// it must never panic or answer 5xx, every answer must be JSON, and whatever
// reaches the core must be valid JSON input with valid UTF-8 strings.
func FuzzDecodeSendRequest(f *testing.F) {
	for _, seed := range []string{
		goodBody,
		`{}`, `[]`, `null`, `"x"`, ``, `{"to":"+1"}`, `{"to":[1]}`, `{"tag":""}`,
		`{"expiration":"2030-01-02T03:04:05.123-07:00"}`, `{"expiration":"nope"}`,
		`{"text":"\ud83d\ude00\u00e9\n"}`, `{"text":"\ud83d"}`, "{\"text\":\"\xff\"}",
		`{"x":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}`,
		`{"a":-0.0e+1,"b":true,"c":false,"d":null,"e":{"f":[]}}`,
		`{"media":["a","b"],"priority":"high","applicationId":"x","from":"y"}`,
		`{"to":[` + strings.Repeat(`"1",`, 1000) + `"1"]}`,
		`{} `, `{}x`, `{"a"}`, `{"a":}`, `{,}`, `{"a":1,}`, `{"t\u0065xt":"v"}`,
	} {
		f.Add([]byte(seed))
	}

	core := &fakeCore{}
	s := New(core, Options{})
	h := s.Handler()
	auth := basic(testUser, testPass)

	f.Fuzz(func(t *testing.T, body []byte) {
		core.reset(nil, nil)
		var req fasthttp.Request
		req.Header.SetMethod("POST")
		req.SetRequestURI(testPath)
		req.Header.Set("Authorization", auth)
		req.Header.SetContentType("application/json")
		req.SetBody(body)
		var ctx fasthttp.RequestCtx
		ctx.Init(&req, nil, nil)
		h(&ctx)

		status := ctx.Response.StatusCode()
		if status >= 500 || (status != 202 && status != 400) {
			t.Fatalf("status %d for %q: %s", status, body, ctx.Response.Body())
		}
		if !json.Valid(ctx.Response.Body()) {
			t.Fatalf("invalid JSON response %q", ctx.Response.Body())
		}
		if status == 400 {
			if core.sendCalls() != 0 {
				t.Fatal("Core.Send called for a rejected body")
			}
			return
		}
		// Accepted: the body was valid JSON, and all strings are UTF-8.
		if !json.Valid(body) {
			t.Fatalf("accepted invalid JSON %q", body)
		}
		r := core.lastReq(t)
		for _, s := range append(append([]string{r.ApplicationID, r.From, r.Text, r.Tag, r.Priority}, r.To...), r.Media...) {
			if !utf8.ValidString(s) {
				t.Fatalf("invalid UTF-8 %q reached the core", s)
			}
		}
	})
}
