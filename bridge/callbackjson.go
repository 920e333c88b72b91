package bridge

import (
	"strconv"
	"time"
	"unicode/utf8"
)

// Callback bodies are written by hand rather than with encoding/json: the
// reflection, the intermediate structs and v2Time.MarshalJSON (whose output
// encoding/json parses again) cost more than the rest of the callback job
// inside the store's commit. The bytes are those encoding/json wrote with
// SetEscapeHTML(false); callbackjson_test.go keeps that encoder as the
// reference and fuzzes the two against each other.

// appendCallbackEvents appends the JSON array of events (see
// EncodeCallbackEvents for the rules).
func appendCallbackEvents(dst []byte, kind string, events []CallbackEvent) []byte {
	dst = append(dst, '[')
	for i := range events {
		if i > 0 {
			dst = append(dst, ',')
		}
		e := &events[i]
		m := &e.Message
		dst = append(dst, `{"type":`...)
		dst = appendJSONString(dst, e.Type)
		dst = append(dst, `,"time":`...)
		dst = appendV2Time(dst, e.Time)
		dst = append(dst, `,"description":`...)
		dst = appendJSONString(dst, e.Description)
		dst = append(dst, `,"to":`...)
		dst = appendJSONString(dst, e.To)
		if e.Type == "message-failed" {
			dst = append(dst, `,"errorCode":`...)
			dst = strconv.AppendInt(dst, int64(e.ErrorCode), 10)
		}
		dst = append(dst, `,"message":{"id":`...)
		dst = appendJSONString(dst, m.ID)
		dst = append(dst, `,"owner":`...)
		dst = appendJSONString(dst, m.Owner)
		dst = append(dst, `,"applicationId":`...)
		dst = appendJSONString(dst, m.ApplicationID)
		dst = append(dst, `,"time":`...)
		dst = appendV2Time(dst, m.Time)
		dst = append(dst, `,"segmentCount":`...)
		dst = strconv.AppendInt(dst, int64(m.SegmentCount), 10)
		dst = append(dst, `,"direction":`...)
		dst = appendJSONString(dst, m.Direction)
		dst = append(dst, `,"to":`...)
		dst = appendJSONStrings(dst, m.To) // always an array, [] when none
		dst = append(dst, `,"from":`...)
		dst = appendJSONString(dst, m.From)
		dst = append(dst, `,"text":`...)
		if kind == CallbackStatus {
			dst = append(dst, `""`...)
		} else {
			dst = appendJSONString(dst, m.Text)
		}
		if len(m.Media) > 0 {
			dst = append(dst, `,"media":`...)
			dst = appendJSONStrings(dst, m.Media)
		}
		if m.HasTag {
			dst = append(dst, `,"tag":`...)
			dst = appendJSONString(dst, m.Tag)
		}
		if m.Priority != "" {
			dst = append(dst, `,"priority":`...)
			dst = appendJSONString(dst, m.Priority)
		}
		dst = append(dst, "}}"...)
	}
	return append(dst, ']')
}

// appendV2Time appends V2's timestamp form, quoted: UTC, milliseconds, 'Z'.
func appendV2Time(dst []byte, t time.Time) []byte {
	dst = append(dst, '"')
	return t.UTC().AppendFormat(dst, `2006-01-02T15:04:05.000Z"`)
}

func appendJSONStrings(dst []byte, ss []string) []byte {
	dst = append(dst, '[')
	for i, s := range ss {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendJSONString(dst, s)
	}
	return append(dst, ']')
}

// jsonPlain marks the ASCII bytes a JSON string carries as they are
// (encoding/json's safeSet: no HTML escaping).
var jsonPlain = func() (set [utf8.RuneSelf]bool) {
	for b := 0x20; b < utf8.RuneSelf; b++ {
		set[b] = b != '"' && b != '\\'
	}
	return set
}()

// appendJSONString appends s as a JSON string exactly as encoding/json
// does without HTML escaping: \" \\ \b \f \n \r \t, other control bytes
// as \u00XX, invalid UTF-8 as \ufffd, U+2028 and U+2029 escaped.
func appendJSONString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		b := s[i]
		if b < utf8.RuneSelf {
			if jsonPlain[b] {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '\\', '"':
				dst = append(dst, '\\', b)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[b>>4], hex[b&0xF])
			}
			i++
			start = i
			continue
		}
		c, size := utf8.DecodeRuneInString(s[i:])
		if c == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i++
			start = i
			continue
		}
		if c == '\u2028' || c == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[c&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
