package bridge

import (
	"strconv"
	"time"
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
		dst = AppendJSONString(dst, e.Type)
		dst = append(dst, `,"time":`...)
		dst = appendV2Time(dst, e.Time)
		dst = append(dst, `,"description":`...)
		dst = AppendJSONString(dst, e.Description)
		dst = append(dst, `,"to":`...)
		dst = AppendJSONString(dst, e.To)
		if e.Type == "message-failed" {
			dst = append(dst, `,"errorCode":`...)
			dst = strconv.AppendInt(dst, int64(e.ErrorCode), 10)
		}
		dst = append(dst, `,"message":{"id":`...)
		dst = AppendJSONString(dst, m.ID)
		dst = append(dst, `,"owner":`...)
		dst = AppendJSONString(dst, m.Owner)
		dst = append(dst, `,"applicationId":`...)
		dst = AppendJSONString(dst, m.ApplicationID)
		dst = append(dst, `,"time":`...)
		dst = appendV2Time(dst, m.Time)
		dst = append(dst, `,"segmentCount":`...)
		dst = strconv.AppendInt(dst, int64(m.SegmentCount), 10)
		dst = append(dst, `,"direction":`...)
		dst = AppendJSONString(dst, m.Direction)
		dst = append(dst, `,"to":`...)
		dst = AppendJSONStrings(dst, m.To) // always an array, [] when none
		dst = append(dst, `,"from":`...)
		dst = AppendJSONString(dst, m.From)
		dst = append(dst, `,"text":`...)
		if kind == CallbackStatus {
			dst = append(dst, `""`...)
		} else {
			dst = AppendJSONString(dst, m.Text)
		}
		if len(m.Media) > 0 {
			dst = append(dst, `,"media":`...)
			dst = AppendJSONStrings(dst, m.Media)
		}
		if m.HasTag {
			dst = append(dst, `,"tag":`...)
			dst = AppendJSONString(dst, m.Tag)
		}
		if m.Priority != "" {
			dst = append(dst, `,"priority":`...)
			dst = AppendJSONString(dst, m.Priority)
		}
		dst = append(dst, "}}"...)
	}
	return append(dst, ']')
}

// appendV2Time appends V2's timestamp form, quoted: UTC, milliseconds, 'Z'.
func appendV2Time(dst []byte, t time.Time) []byte {
	dst = append(dst, '"')
	return append(AppendV2Time(dst, t), '"')
}
