package store

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"time"
)

// Records are stored in a compact binary form: searches and MDR exports
// decode one record per row, and JSON decoding (several µs) would be most
// of their cost. Byte 0 is recordFormat; JSON records written by earlier
// versions start with '{' and are still read. Byte 1 is the status code and
// bytes 2–5 the error code (big-endian), so an update can find the old
// status index entry without decoding.

const recordFormat = 0x01

// Record statuses (v2-api.md §4.2).
const (
	StatusReceived    = "RECEIVED"
	StatusQueued      = "QUEUED"
	StatusSending     = "SENDING"
	StatusSent        = "SENT"
	StatusDelivered   = "DELIVERED"
	StatusFailed      = "FAILED"
	StatusAccepted    = "ACCEPTED"
	StatusUndelivered = "UNDELIVERED"
)

var statusCodes = map[string]byte{
	StatusReceived: 1, StatusQueued: 2, StatusSending: 3, StatusSent: 4,
	StatusDelivered: 5, StatusFailed: 6, StatusAccepted: 7, StatusUndelivered: 8,
}

// statusCode is the one-byte form of a status used in index keys; 0 for
// an unknown one. A switch, not a look-up in statusCodes: it runs several
// times for every record written, and hashing the string cost more.
func statusCode(s string) byte {
	switch s {
	case StatusReceived:
		return 1
	case StatusQueued:
		return 2
	case StatusSending:
		return 3
	case StatusSent:
		return 4
	case StatusDelivered:
		return 5
	case StatusFailed:
		return 6
	case StatusAccepted:
		return 7
	case StatusUndelivered:
		return 8
	}
	return 0
}

var errBadRecord = errors.New("store: malformed record")

func appendRecord(dst []byte, r *Record) []byte {
	dst = append(dst, recordFormat, statusCode(r.Status))
	dst = binary.BigEndian.AppendUint32(dst, errorCode32(r.ErrorCode))
	str := func(s string) {
		dst = binary.AppendUvarint(dst, uint64(len(s)))
		dst = append(dst, s...)
	}
	num := func(n int) { dst = binary.AppendVarint(dst, int64(n)) }
	tm := func(t time.Time) { dst = binary.AppendUvarint(dst, unixNanos(t)) }
	str(r.MessageID)
	num(r.Recipient)
	str(r.AccountID)
	str(r.ApplicationID)
	str(r.Direction)
	str(r.From)
	str(r.To)
	str(r.Carrier)
	num(r.Segments)
	str(r.Status)
	num(r.ErrorCode)
	num(len(r.CarrierIDs))
	for _, id := range r.CarrierIDs {
		str(id)
	}
	num(r.Unknown)
	tm(r.ReceivedAt)
	tm(r.SentAt)
	tm(r.DoneAt)
	str(r.Tag)
	flags := 0
	if r.HasTag {
		flags |= 1
	}
	if len(r.MediaURLs) > 0 {
		flags |= flagMediaURLs
	}
	num(flags)
	num(r.Length)
	num(len(r.AllTo))
	for _, to := range r.AllTo {
		str(to)
	}
	num(len(r.Parts))
	for _, p := range r.Parts {
		num(p.Outcome)
		num(p.Code)
	}
	str(r.Type)
	num(r.Media)
	num(r.Size)
	str(r.Product)
	str(r.CampaignID)
	str(r.RequestID)
	if flags&flagMediaURLs != 0 {
		num(len(r.MediaURLs))
		for _, u := range r.MediaURLs {
			str(u)
		}
	}
	return dst
}

// flagMediaURLs marks a record ending in its media URLs: records written
// before had none, and a flag (not "more bytes follow") keeps a truncated
// record detectable.
const flagMediaURLs = 2

func encodeRecord(r *Record) ([]byte, error) {
	return appendRecord(make([]byte, 0, 160), r), nil
}

// recordStatusCode reads the status and error code of an encoded record
// without decoding it; ok is false for a JSON record.
func recordStatusCode(v []byte) (status byte, code uint32, ok bool) {
	if len(v) < 6 || v[0] != recordFormat {
		return 0, 0, false
	}
	return v[1], binary.BigEndian.Uint32(v[2:6]), true
}

func errorCode32(c int) uint32 {
	if c < 0 {
		return 0
	}
	return uint32(c)
}

type recordReader struct {
	b   []byte
	err bool
	// copied, when set, is a copy of b as first given: str cuts its
	// strings from it instead of copying each (one allocation per record).
	copied string
}

func (r *recordReader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err, r.b = true, nil
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *recordReader) int() int {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.err, r.b = true, nil
		return 0
	}
	r.b = r.b[n:]
	return int(v)
}

func (r *recordReader) str() string {
	n := r.uvarint()
	if n > uint64(len(r.b)) {
		r.err, r.b = true, nil
		return ""
	}
	var s string
	if r.copied != "" {
		at := len(r.copied) - len(r.b)
		s = r.copied[at : at+int(n)]
	} else {
		s = string(r.b[:n]) // copies: nothing borrows from the transaction
	}
	r.b = r.b[n:]
	return s
}

// strs reads a counted list of strings; nil when empty.
func (r *recordReader) strs() []string {
	n := r.count()
	if n == 0 {
		return nil
	}
	out := make([]string, n)
	for i := range out {
		out[i] = r.str()
	}
	return out
}

func (r *recordReader) count() int {
	n := r.int()
	if n < 0 || n > len(r.b) { // every element takes at least one byte
		r.err, r.b = true, nil
		return 0
	}
	return n
}

// decodeRecord reads a record in either format into rec.
func decodeRecord(v []byte, rec *Record) error {
	if len(v) > 0 && v[0] == '{' {
		return json.Unmarshal(v, rec)
	}
	if len(v) < 6 || v[0] != recordFormat {
		return errBadRecord
	}
	// Every string of the record is cut from one copy of it: nothing
	// borrows from the transaction, and a record read on the receipt and
	// callback paths costs one allocation for its strings, not a dozen.
	r := recordReader{b: v[6:], copied: string(v[6:])}
	*rec = Record{}
	rec.MessageID = r.str()
	rec.Recipient = r.int()
	rec.AccountID = r.str()
	rec.ApplicationID = r.str()
	rec.Direction = r.str()
	rec.From = r.str()
	rec.To = r.str()
	rec.Carrier = r.str()
	rec.Segments = r.int()
	rec.Status = r.str()
	rec.ErrorCode = r.int()
	rec.CarrierIDs = r.strs()
	rec.Unknown = r.int()
	rec.ReceivedAt = fromNanos(r.uvarint())
	rec.SentAt = fromNanos(r.uvarint())
	rec.DoneAt = fromNanos(r.uvarint())
	rec.Tag = r.str()
	flags := r.int()
	rec.HasTag = flags&1 != 0
	rec.Length = r.int()
	rec.AllTo = r.strs()
	if n := r.count(); n > 0 {
		rec.Parts = make([]PartOutcome, n)
		for i := range rec.Parts {
			rec.Parts[i] = PartOutcome{Outcome: r.int(), Code: r.int()}
		}
	}
	rec.Type = r.str()
	rec.Media = r.int()
	rec.Size = r.int()
	rec.Product = r.str()
	rec.CampaignID = r.str()
	rec.RequestID = r.str()
	if flags&flagMediaURLs != 0 {
		if rec.MediaURLs = r.strs(); rec.MediaURLs == nil {
			return errBadRecord
		}
	}
	if r.err {
		return errBadRecord
	}
	return nil
}
