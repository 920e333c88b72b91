package httpapi

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"smppbridge/bridge"
)

func TestDecodeSendRequest(t *testing.T) {
	exp := time.Date(2030, 6, 1, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		name string
		body string
		want bridge.SendRequest
	}{
		{"empty object", `{}`, bridge.SendRequest{}},
		{"whitespace everywhere", " \t\r\n{ \"to\" : [ \"+1\" , \"+2\" ] , \"text\" : \"x\" } \n", bridge.SendRequest{To: []string{"+1", "+2"}, Text: "x"}},
		{"all fields", `{"applicationId":"a","to":["+1"],"from":"+2","text":"t","media":["m1","m2"],"tag":"g","priority":"high","expiration":"2030-06-01T14:00:00+02:00"}`,
			bridge.SendRequest{ApplicationID: "a", To: []string{"+1"}, From: "+2", Text: "t", Media: []string{"m1", "m2"}, Tag: "g", HasTag: true, Priority: "high", Expiration: &exp}},
		{"to as string", `{"to":"+1"}`, bridge.SendRequest{To: []string{"+1"}}},
		{"empty arrays", `{"to":[],"media":[]}`, bridge.SendRequest{}},
		{"nulls are absent", `{"applicationId":null,"to":null,"from":null,"text":null,"media":null,"tag":null,"priority":null,"expiration":null}`, bridge.SendRequest{}},
		{"last duplicate wins", `{"text":"a","text":"b"}`, bridge.SendRequest{Text: "b"}},
		{"names are case-sensitive", `{"Text":"a","TO":["+1"]}`, bridge.SendRequest{}},
		{"escaped key matches", `{"t\u0065xt":"a"}`, bridge.SendRequest{Text: "a"}},
		{"escapes", `{"text":"\"\\\/\b\f\n\r\t\u0041\u00e9\u20ac\ud83d\ude00"}`, bridge.SendRequest{Text: "\"\\/\b\f\n\r\t" + "Aé€😀"}},
		{"raw utf-8", `{"text":"héllo 😀 ✓"}`, bridge.SendRequest{Text: "héllo 😀 ✓"}},
		{"escaped nul", `{"text":"a\u0000b"}`, bridge.SendRequest{Text: "a\x00b"}},
		{"unknown values of every kind", `{"a":1,"b":-0.5e+10,"c":true,"d":false,"e":null,"f":"s\n","g":{"h":[1,{"i":[]}]},"j":[],"k":{},"text":"x"}`,
			bridge.SendRequest{Text: "x"}},
		{"tag empty", `{"tag":""}`, bridge.SendRequest{HasTag: true}},
		{"to then null", `{"to":["+1"],"text":"x","to":null}`, bridge.SendRequest{Text: "x"}},
		{"to string then array", `{"to":"+1","to":["+2","+3"],"tag":"a","tag":null}`, bridge.SendRequest{To: []string{"+2", "+3"}, Tag: "a", HasTag: true}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var got bridge.SendRequest
			if err := decodeSendRequest([]byte(tc.body), &got, nil); err != nil {
				t.Fatalf("error %v", err)
			}
			if (got.Expiration == nil) != (tc.want.Expiration == nil) ||
				(got.Expiration != nil && (!got.Expiration.Equal(*tc.want.Expiration) || got.Expiration.Location() != time.UTC)) {
				t.Fatalf("Expiration = %v, want %v in UTC", got.Expiration, tc.want.Expiration)
			}
			got.Expiration, tc.want.Expiration = nil, nil
			if len(got.To) == 0 {
				got.To = nil
			}
			if len(got.Media) == 0 {
				got.Media = nil
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	cases := []struct {
		name, body, field, desc string
	}{
		{"number grammar: leading zero", `{"x":01}`, "", "Malformed JSON at byte offset 6: unexpected character '1'"},
		{"number grammar: bare minus", `{"x":-}`, "", "Malformed JSON at byte offset 6: unexpected character '}'"},
		{"number grammar: dot without digits", `{"x":1.}`, "", "Malformed JSON at byte offset 7: unexpected character '}'"},
		{"number grammar: exponent without digits", `{"x":1e}`, "", "Malformed JSON at byte offset 7: unexpected character '}'"},
		{"bad literal", `{"x":tru}`, "", "Malformed JSON at byte offset 5: unexpected character 't'"},
		{"single quotes", `{'to':1}`, "", "Malformed JSON at byte offset 1: unexpected character '''"},
		{"missing colon", `{"to" ["+1"]}`, "", "Malformed JSON at byte offset 6: unexpected character '['"},
		{"raw newline in string", "{\"text\":\"a\nb\"}", "text", "Malformed JSON at byte offset 10: control character in a string"},
		{"raw control after escape", "{\"text\":\"\\na\x01\"}", "text", "Malformed JSON at byte offset 12: control character in a string"},
		{"bad escape", `{"text":"\x"}`, "text", "Malformed JSON at byte offset 9: invalid escape sequence"},
		{"short unicode escape", `{"text":"\u12"}`, "text", `Malformed JSON at byte offset 9: invalid \u escape`},
		{"lone low surrogate", `{"text":"\udc00"}`, "text", `Malformed JSON at byte offset 9: unpaired UTF-16 surrogate in a \u escape`},
		{"high surrogate then non-surrogate", `{"text":"\ud83d\u0041"}`, "text", `Malformed JSON at byte offset 9: unpaired UTF-16 surrogate in a \u escape`},
		{"unterminated string", `{"text":"abc`, "text", "Malformed JSON: unexpected end of input"},
		{"unterminated escape", `{"text":"abc\`, "text", "Malformed JSON: unexpected end of input"},
		{"unterminated object", `{"text":"abc"`, "", "Malformed JSON: unexpected end of input"},
		{"invalid utf-8 in key", "{\"t\xffxt\":1}", "", "The request contains a string that is not valid UTF-8"},
		{"invalid utf-8 in to", "{\"to\":[\"+1\xc0\"]}", "to", "'to' is not valid UTF-8"},
		{"overlong utf-8", "{\"text\":\"\xc0\xaf\"}", "text", "'text' is not valid UTF-8"},
		{"utf-8 surrogate", "{\"text\":\"\xed\xa0\x80\"}", "text", "'text' is not valid UTF-8"},
		{"bom", "\xef\xbb\xbf{}", "", "The request body must be a JSON object"},
		{"number body", `42`, "", "The request body must be a JSON object"},
		{"empty", ``, "", "The request body is empty; it must be a JSON object"},
		{"priority number", `{"priority":1}`, "priority", "'priority' must be a string"},
		{"applicationId array", `{"applicationId":["a"]}`, "applicationId", "'applicationId' must be a string"},
		{"expiration without zone", `{"expiration":"2030-01-01T00:00:00"}`, "expiration", "'expiration' must be an RFC 3339 date-time such as 2025-01-02T15:04:05Z"},
		{"expiration empty", `{"expiration":""}`, "expiration", "'expiration' must be an RFC 3339 date-time such as 2025-01-02T15:04:05Z"},
		{"media with null", `{"media":[null]}`, "media", "'media' must be an array of strings"},
		{"media too many", `{"media":[` + strings.Repeat(`"m",`, 1000) + `"m"]}`, "media", "'media' has more than 1000 elements"},
		{"deep objects", `{"a":` + strings.Repeat(`{"a":`, 32) + `1` + strings.Repeat(`}`, 33), "", "JSON nesting is deeper than 32 levels"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var req bridge.SendRequest
			err := decodeSendRequest([]byte(tc.body), &req, nil)
			if err == nil {
				t.Fatalf("accepted: %+v", req)
			}
			if err.field != tc.field || err.desc != tc.desc {
				t.Fatalf("got field %q desc %q\nwant field %q desc %q", err.field, err.desc, tc.field, tc.desc)
			}
		})
	}
}

// TestDecodeMatchesEncodingJSON: whatever the decoder accepts, encoding/json
// accepts with the same string values.
func TestDecodeMatchesEncodingJSON(t *testing.T) {
	bodies := []string{
		`{"applicationId":"a","to":["+1","+2"],"from":"f","text":"x\u00e9\ud83d\ude00\\\"","media":["m"],"tag":"","priority":"high"}`,
		`{"text":"` + strings.Repeat(`ab\n\u0001`, 100) + `"}`,
		`{"x":{"y":[1,2.5,-3e-2,"z",null,true,false]},"text":"é"}`,
		// More fields and bytes than the decoder's fixed buffers hold.
		`{"applicationId":"a","to":[` + strings.Repeat(`"+15550001111",`, 40) + `"+2"],"text":"` + strings.Repeat("x\u00e9", 700) +
			`","media":[` + strings.Repeat(`"https://m.test/\u00e9",`, 20) + `"m"],"tag":"t","from":"f","priority":"p"}`,
	}
	for _, body := range bodies {
		var got bridge.SendRequest
		if err := decodeSendRequest([]byte(body), &got, nil); err != nil {
			t.Fatalf("%s: %v", body, err)
		}
		var ref struct {
			ApplicationID string   `json:"applicationId"`
			To            []string `json:"to"`
			From          string   `json:"from"`
			Text          string   `json:"text"`
			Media         []string `json:"media"`
			Tag           string   `json:"tag"`
			Priority      string   `json:"priority"`
		}
		if err := json.Unmarshal([]byte(body), &ref); err != nil {
			t.Fatal(err)
		}
		if got.ApplicationID != ref.ApplicationID || !reflect.DeepEqual(got.To, ref.To) || got.From != ref.From ||
			got.Text != ref.Text || !reflect.DeepEqual(got.Media, ref.Media) || got.Tag != ref.Tag || got.Priority != ref.Priority {
			t.Errorf("decoded %+v\nencoding/json %+v", got, ref)
		}
	}
}

// TestDecodedStringsAreCopies: nothing decoded aliases the request body or
// the scratch buffer, both of which fasthttp and the pool reuse.
func TestDecodedStringsAreCopies(t *testing.T) {
	body := []byte(`{"applicationId":"app","to":["+1","+2"],"from":"+3","text":"t\u00e9xt","media":["m"],"tag":"g","priority":"high"}`)
	want := bridge.SendRequest{ApplicationID: "app", To: []string{"+1", "+2"}, From: "+3", Text: "téxt", Media: []string{"m"}, Tag: "g", HasTag: true, Priority: "high"}
	scratch := make([]byte, 0, 64)
	var got bridge.SendRequest
	if err := decodeSendRequest(body, &got, &scratch); err != nil {
		t.Fatal(err)
	}
	for i := range body {
		body[i] = 'X'
	}
	scratch = scratch[:cap(scratch)]
	for i := range scratch {
		scratch[i] = 'Y'
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
}

// TestAppendString compares the encoder with encoding/json (without HTML
// escaping) on awkward inputs, including invalid UTF-8.
func TestAppendString(t *testing.T) {
	inputs := []string{"", "plain", `"quoted" \back\slash`, "\x00\x01\x1f\x7f", "\n\r\t\b\f", "é€😀", "\u2028\u2029",
		"bad \xff utf8 \xc3", "\xed\xa0\x80", "<tag>&amp;", strings.Repeat("x", 300)}
	for _, in := range inputs {
		var want bytes.Buffer
		enc := json.NewEncoder(&want)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(in); err != nil {
			t.Fatal(err)
		}
		got := bridge.AppendJSONString(nil, in)
		// Both must decode to the same string; encoding/json spells some
		// escapes differently (\b, \f as \u0008, \u000c).
		var g, w string
		if err := json.Unmarshal(got, &g); err != nil {
			t.Fatalf("%q: invalid JSON %s: %v", in, got, err)
		}
		_ = json.Unmarshal(want.Bytes(), &w)
		if g != w {
			t.Errorf("%q: got %s, want %s", in, got, want.Bytes())
		}
		if !utf8.Valid(got) {
			t.Errorf("%q: output not UTF-8", in)
		}
	}
}

func TestAppendMessageOmitsUnset(t *testing.T) {
	b := appendMessage(nil, &bridge.Message{ID: "x", Time: testTime})
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	want := []string{"applicationId", "direction", "from", "id", "owner", "priority", "segmentCount", "text", "time", "to"}
	if got := keys(m); !reflect.DeepEqual(got, want) {
		t.Errorf("keys %v, want %v", got, want)
	}
	if bytes.Contains(b, []byte("null")) {
		t.Errorf("null in %s", b)
	}
}

func TestContentTypeAndAuthParsing(t *testing.T) {
	for ct, want := range map[string]bool{
		"application/json": true, "Application/JSON": true, " application/json ": true,
		"application/json;charset=utf-8": true, "application/json ; charset = UTF8": true, "application/json; charset=\"utf-8\"; q=1": true,
		"": false, "application/json-patch+json": false, "text/json": false, "application/json; charset=utf-16": false, "application/json;charset=": false,
	} {
		if got := isJSONContentType([]byte(ct)); got != want {
			t.Errorf("isJSONContentType(%q) = %v", ct, got)
		}
	}
	long := strings.Repeat("u", 300)
	for h, want := range map[string][2]string{
		basic("u", "p"):             {"u", "p"},
		basic("u", ""):              {"u", ""},
		basic("u", "a:b:c"):         {"u", "a:b:c"},
		basic(long, long):           {long, long},
		"BASIC " + "dTpw":           {"u", "p"},
		"Basic   dTpw  ":            {"u", "p"},
		"Basic dTpw=":               {},
		"Basic":                     {},
		"Basicdtpw":                 {},
		"Digest username=u":         {},
		basic("", "p"):              {},
		"Basic " + "bm9jb2xvbg==":   {}, // "nocolon"
		"Basic " + "dTpw!":          {},
		"Bearer eyJhbGciOiJIUzI1Ni": {},
	} {
		u, p, ok := parseBasicAuth([]byte(h))
		if ok != (want[0] != "") || u != want[0] || p != want[1] {
			t.Errorf("parseBasicAuth(%q) = %q, %q, %v", h, u, p, ok)
		}
	}
}
