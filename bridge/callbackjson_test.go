package bridge

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// The encoding/json rendering EncodeCallbackEvents replaced, kept as the
// reference its bytes must equal.

type refV2Time time.Time

func (t refV2Time) MarshalJSON() ([]byte, error) {
	return time.Time(t).UTC().AppendFormat([]byte{'"'}, `2006-01-02T15:04:05.000Z"`), nil
}

type refJSONEvent struct {
	Type        string         `json:"type"`
	Time        refV2Time      `json:"time"`
	Description string         `json:"description"`
	To          string         `json:"to"`
	ErrorCode   *int           `json:"errorCode,omitempty"`
	Message     refJSONMessage `json:"message"`
}

type refJSONMessage struct {
	ID            string    `json:"id"`
	Owner         string    `json:"owner"`
	ApplicationID string    `json:"applicationId"`
	Time          refV2Time `json:"time"`
	SegmentCount  int       `json:"segmentCount"`
	Direction     string    `json:"direction"`
	To            []string  `json:"to"`
	From          string    `json:"from"`
	Text          string    `json:"text"`
	Media         []string  `json:"media,omitempty"`
	Tag           *string   `json:"tag,omitempty"`
	Priority      string    `json:"priority,omitempty"`
}

func refEncodeCallbackEvents(kind string, events []CallbackEvent) ([]byte, error) {
	js := make([]refJSONEvent, len(events))
	for i := range events {
		e := &events[i]
		m := &e.Message
		je := refJSONEvent{Type: e.Type, Time: refV2Time(e.Time), Description: e.Description, To: e.To,
			Message: refJSONMessage{ID: m.ID, Owner: m.Owner, ApplicationID: m.ApplicationID, Time: refV2Time(m.Time),
				SegmentCount: m.SegmentCount, Direction: m.Direction, To: m.To, From: m.From, Text: m.Text,
				Media: m.Media, Priority: m.Priority}}
		if je.Message.To == nil {
			je.Message.To = []string{}
		}
		if e.Type == "message-failed" {
			code := e.ErrorCode
			je.ErrorCode = &code
		}
		if m.HasTag {
			tag := m.Tag
			je.Message.Tag = &tag
		}
		if kind == CallbackStatus {
			je.Message.Text = ""
		}
		js[i] = je
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(js); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte{'\n'}), nil
}

func checkSameAsReference(t *testing.T, kind string, events []CallbackEvent) {
	t.Helper()
	want, err := refEncodeCallbackEvents(kind, events)
	if err != nil {
		t.Fatalf("reference: %v", err)
	}
	got, err := EncodeCallbackEvents(kind, events)
	if err != nil {
		t.Fatalf("EncodeCallbackEvents: %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("kind %s\n got %q\nwant %q", kind, got, want)
	}
}

// TestCallbackJSONMatchesEncodingJSON: the hand-written body equals the
// encoding/json one byte for byte, for every optional field and every
// kind of character that needs escaping.
func TestCallbackJSONMatchesEncodingJSON(t *testing.T) {
	at := time.Date(2026, 11, 27, 9, 0, 5, 123456789, time.FixedZone("x", 5*3600+1800))
	base := CallbackEvent{Type: "message-delivered", Time: at, Description: "ok", To: "+15550002222",
		Message: CallbackMessage{ID: "1700000000000abcd1234efgh5678", Owner: "+15550001111", ApplicationID: "93de2206",
			Time: at.Add(-time.Second), SegmentCount: 3, Direction: "out", To: []string{"+15550002222"}, From: "+15550001111"}}
	texts := []string{
		"", "plain", `quote " backslash \ slash /`, "html <b>&amp;</b> >", "\b\f\n\r\t", "\x00\x01\x1f\x7f",
		"caf\u00e9 \u20ac \U0001F600 \u0627", "line\u2028para\u2029end", "bad \xff \xc3 \xe2\x82 utf8\xed\xa0\x80",
		"\ufffd literal", "\u2027\u202a near the separators", "ends with \xf0\x9f\x98",
	}
	var cases []CallbackEvent
	for _, s := range texts {
		e := base
		e.Description, e.To = s, s
		e.Message.Text, e.Message.ID, e.Message.From, e.Message.Tag, e.Message.HasTag = s, s, s, s, true
		e.Message.To = []string{s, "+1"}
		e.Message.Media = []string{s}
		e.Message.Priority = s
		cases = append(cases, e)
	}
	failed := base
	failed.Type, failed.ErrorCode = "message-failed", -4432
	zeroCode := failed
	zeroCode.ErrorCode = 0
	noTo := base
	noTo.Message.To = nil
	emptyTo := base
	emptyTo.Message.To = []string{}
	emptyMedia := base
	emptyMedia.Message.Media = []string{}
	emptyTag := base
	emptyTag.Message.HasTag = true
	tagNotShown := base
	tagNotShown.Message.Tag = "hidden" // HasTag false: omitted
	zeroTime := base
	zeroTime.Time, zeroTime.Message.Time = time.Time{}, time.Unix(0, 0)
	cases = append(cases, failed, zeroCode, noTo, emptyTo, emptyMedia, emptyTag, tagNotShown, zeroTime, CallbackEvent{})
	for _, kind := range []string{CallbackStatus, CallbackInbound} {
		checkSameAsReference(t, kind, nil)
		checkSameAsReference(t, kind, []CallbackEvent{})
		for _, e := range cases {
			checkSameAsReference(t, kind, []CallbackEvent{e})
		}
		checkSameAsReference(t, kind, cases)
	}
}

// FuzzCallbackJSONMatchesEncodingJSON: any strings, codes, times and
// optional fields give the bytes encoding/json gave.
func FuzzCallbackJSONMatchesEncodingJSON(f *testing.F) {
	f.Add("message-failed", "hi <b>&\u2028", "+15550002222", "bad \xff", int64(1764234005120000000), 4432, uint8(0xff), true)
	f.Add("message-delivered", "", "", "", int64(0), 0, uint8(0), false)
	f.Add("message-received", "\x00\"\\\t", "\U0001F600", "\xed\xa0\x80", int64(-62135596800000000), -1, uint8(0x0f), true)
	f.Fuzz(func(t *testing.T, typ, text, to, other string, nanos int64, code int, shape uint8, inbound bool) {
		at := time.Unix(0, nanos)
		e := CallbackEvent{Type: typ, Time: at, Description: other, To: to, ErrorCode: code,
			Message: CallbackMessage{ID: other, Owner: to, ApplicationID: typ, Time: at.Add(time.Duration(code) * time.Millisecond),
				SegmentCount: code, Direction: text, From: other, Text: text, Tag: text}}
		if shape&1 != 0 {
			e.Message.To = []string{to, other}
		}
		if shape&2 != 0 {
			e.Message.Media = []string{text}
		}
		e.Message.HasTag = shape&4 != 0
		if shape&8 != 0 {
			e.Message.Priority = other
		}
		kind := CallbackStatus
		if inbound {
			kind = CallbackInbound
		}
		events := []CallbackEvent{e}
		if shape&16 != 0 {
			events = append(events, e, CallbackEvent{Type: "message-failed"})
		}
		checkSameAsReference(t, kind, events)
	})
}

// BenchmarkEncodeCallbackEvents: one status event (the receipt path) and a
// message-received one, hand-written against the encoding/json reference.
//
//	go test -run xxx -bench EncodeCallbackEvents -benchmem ./bridge/
func BenchmarkEncodeCallbackEvents(b *testing.B) {
	at := time.Date(2026, 11, 27, 9, 0, 5, 120000000, time.UTC)
	status := []CallbackEvent{{Type: "message-delivered", Time: at, Description: "ok", To: "+15550002222",
		Message: CallbackMessage{ID: "1700000000000abcd1234efgh5678", Owner: "+15550001111",
			ApplicationID: "93de2206-9669-4e07-948d-329f4b722ee2", Time: at, SegmentCount: 1, Direction: "out",
			To: []string{"+15550002222"}, From: "+15550001111", Tag: "order-42", HasTag: true}}}
	inbound := []CallbackEvent{{Type: "message-received", Time: at, Description: "Incoming message received", To: "+15550001111",
		Message: CallbackMessage{ID: "1700000000000abcd1234efgh5679", Owner: "+15550001111",
			ApplicationID: "93de2206-9669-4e07-948d-329f4b722ee2", Time: at, SegmentCount: 1, Direction: "in",
			To: []string{"+15550001111"}, From: "+15550002222", Text: "Hello, see you at 5 <tomorrow> & bring the café keys"}}}
	for _, c := range []struct {
		name   string
		kind   string
		events []CallbackEvent
	}{{"status", CallbackStatus, status}, {"inbound", CallbackInbound, inbound}} {
		b.Run(c.name+"/appender", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := EncodeCallbackEvents(c.kind, c.events); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(c.name+"/encoding_json", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := refEncodeCallbackEvents(c.kind, c.events); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestPlainASCII8: the eight-byte test of AppendJSONString agrees with the
// byte table for every byte value in every position, whatever the others.
func TestPlainASCII8(t *testing.T) {
	for _, fill := range []byte{'a', ' ', '~', 0x7f, '!', '#', '[', ']', '0'} {
		for pos := range 8 {
			for c := range 256 {
				w := []byte(strings.Repeat(string(fill), 8))
				w[pos] = byte(c)
				want := true
				for _, b := range w {
					want = want && b < utf8.RuneSelf && jsonPlain[b]
				}
				if got := plainASCII8(binary.LittleEndian.Uint64(w)); got != want {
					t.Fatalf("plainASCII8(%q) = %v", w, got)
				}
			}
		}
	}
}

// TestJSONStringSpecial8: the eight-byte test the appender, the HTTP
// decoder and smppload's sink share finds '"', '\\' and control bytes in
// every position, whatever the other bytes are (UTF-8 lead and
// continuation bytes included), and nothing else.
func TestJSONStringSpecial8(t *testing.T) {
	special := func(b byte) bool { return b < 0x20 || b == '"' || b == '\\' }
	for _, fill := range []byte{'a', ' ', '~', 0x7f, 0x80, 0xc3, 0xff, '!', '#', '[', ']', '0'} {
		for pos := range 8 {
			for c := range 256 {
				w := []byte(strings.Repeat(string([]byte{fill}), 8))
				w[pos] = byte(c)
				want := false
				for _, b := range w {
					want = want || special(b)
				}
				if got := JSONStringSpecial8(binary.LittleEndian.Uint64(w)); got != want {
					t.Fatalf("JSONStringSpecial8(%q) = %v", w, got)
				}
			}
		}
	}
}
