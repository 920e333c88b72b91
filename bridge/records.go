package bridge

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"smppbridge/store"
)

// RecordStore is what message search, MDR export and retention need from
// the store (*store.Store).
type RecordStore interface {
	SearchRecords(q store.RecordQuery) (store.RecordPage, error)
	// ExportRows streams the MDR fields of the records received in
	// [since, until), oldest first.
	ExportRows(account string, since, until time.Time, fn func(row *store.ExportRow) error) error
	// DeleteRecordsBefore keeps QUEUED records, and SENT ones sent at or
	// after waitSince (their receipt wait may still run).
	DeleteRecordsBefore(cutoff, waitSince time.Time, limit int) (deleted int, more bool, err error)
}

// QueryParam is one URL query parameter of a search, as received.
type QueryParam struct{ Name, Value string }

// MessageRecord is one search result (v2-api.md §4.1), already in the
// contract's terms. Zero optional fields are omitted from the response.
type MessageRecord struct {
	MessageID        string
	AccountID        string
	SourceTn         string
	DestinationTn    string
	MessageStatus    string
	MessageDirection string // INBOUND or OUTBOUND
	MessageType      string // sms or mms
	SegmentCount     int
	ErrorCode        int
	ReceiveTime      time.Time
	CarrierName      string
	MessageSize      int
	MessageLength    int
	AttachmentCount  int
	RecipientCount   int
	CampaignID       string
	Product          string
}

// MessagePage is a search answer. The tokens are opaque and empty when
// there is no such page.
type MessagePage struct {
	TotalCount    int
	Messages      []MessageRecord
	NextPageToken string
	PrevPageToken string
}

// Search limits (v2-api.md §4.1).
const (
	defaultSearchLimit = 100
	maxSearchLimit     = 1000
	maxTnList          = 10
	minPartialTn       = 5
	totalCountCap      = 10_000
)

var searchParams = []string{"messageId", "sourceTn", "destinationTn", "messageStatus", "messageDirection", "messageType",
	"errorCode", "carrierName", "campaignId", "fromDateTime", "toDateTime", "sort", "pageToken", "limit", "limitTotalCount"}

var validStatuses = []string{store.StatusReceived, store.StatusQueued, store.StatusSending, store.StatusSent,
	store.StatusDelivered, store.StatusFailed, store.StatusAccepted, store.StatusUndelivered}

// ErrNoRecords is returned when the store keeps no records.
var ErrNoRecords = errors.New("bridge: message records are not available")

// SearchMessages answers GET …/users/{accountId}/messages. The caller has
// authenticated the account. Bad parameters are a *ValidationError.
func (b *Bridge) SearchMessages(ctx context.Context, accountID string, params []QueryParam) (*MessagePage, error) {
	rs, ok := b.opts.Store.(RecordStore)
	if !ok {
		return nil, ErrNoRecords
	}
	q, token, verr := parseSearch(accountID, params)
	if verr != nil {
		return nil, verr
	}
	hash := queryHash(accountID, params)
	if token != "" {
		pos, backward, ok := decodePageToken(token, hash)
		if !ok {
			return nil, fieldError("pageToken", "pageToken is not a token of this search; start again without it")
		}
		q.After, q.Backward = pos, backward
	}
	page, err := rs.SearchRecords(q)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrStore, err)
	}
	out := &MessagePage{TotalCount: page.Total, Messages: make([]MessageRecord, len(page.Records))}
	for i := range page.Records {
		out.Messages[i] = messageRecord(&page.Records[i])
	}
	if page.Next != nil {
		out.NextPageToken = encodePageToken(hash, page.Next, false)
	}
	if page.Prev != nil {
		out.PrevPageToken = encodePageToken(hash, page.Prev, true)
	}
	return out, nil
}

func fieldError(field, desc string) *ValidationError {
	return &ValidationError{Description: genericInvalid, Fields: []FieldError{{FieldName: field, Description: desc}}}
}

func messageRecord(r *store.Record) MessageRecord {
	m := MessageRecord{
		MessageID: r.MessageID, AccountID: r.AccountID, SourceTn: r.From, DestinationTn: r.To, MessageStatus: r.Status,
		MessageDirection: "OUTBOUND", MessageType: r.Type, SegmentCount: r.Segments, ErrorCode: r.ErrorCode,
		ReceiveTime: r.ReceivedAt, CarrierName: r.Carrier, MessageSize: r.Size, MessageLength: r.Length,
		AttachmentCount: r.Media, RecipientCount: len(r.AllTo), CampaignID: r.CampaignID, Product: r.Product,
	}
	if r.Direction == "in" {
		m.MessageDirection = "INBOUND"
	}
	if m.MessageType == "" {
		m.MessageType = "sms"
	}
	if m.RecipientCount == 0 {
		m.RecipientCount = 1
	}
	return m
}

// parseSearch turns query parameters into a store query; every problem
// is reported, each under its parameter's name.
func parseSearch(accountID string, params []QueryParam) (store.RecordQuery, string, *ValidationError) {
	q := store.RecordQuery{AccountID: accountID, Limit: defaultSearchLimit, CountLimit: totalCountCap}
	var fe []FieldError
	add := func(field, format string, args ...any) {
		fe = append(fe, FieldError{FieldName: field, Description: fmt.Sprintf(format, args...)})
	}
	if len(params) == 0 {
		return q, "", &ValidationError{Description: "At least one query parameter is required", Fields: []FieldError{{FieldName: "query",
			Description: "give at least one of " + strings.Join(searchParams, ", ")}}}
	}
	seen := map[string]bool{}
	token := ""
	for _, p := range params {
		if !slices.Contains(searchParams, p.Name) {
			add(p.Name, "'%s' is not a search parameter; use %s", trunc(p.Name, 64), strings.Join(searchParams, ", "))
			continue
		}
		if seen[p.Name] {
			add(p.Name, "%s is given more than once", p.Name)
			continue
		}
		seen[p.Name] = true
		v := p.Value
		switch p.Name {
		case "messageId":
			if !validMessageID(v) {
				add(p.Name, "'%s' is not a message id", trunc(v, 64))
			}
			q.MessageID = v
		case "sourceTn", "destinationTn":
			exact, prefixes, desc := parseTns(v)
			if desc != "" {
				add(p.Name, "%s", desc)
			}
			if p.Name == "sourceTn" {
				q.From, q.FromPrefix = exact, prefixes
			} else {
				q.To, q.ToPrefix = exact, prefixes
			}
		case "messageStatus":
			if s := strings.ToUpper(v); slices.Contains(validStatuses, s) {
				q.Status = s
			} else {
				add(p.Name, "'%s' is not a message status; use one of %s", trunc(v, 64), strings.Join(validStatuses, ", "))
			}
		case "messageDirection":
			switch strings.ToUpper(v) {
			case "INBOUND":
				q.Direction = "in"
			case "OUTBOUND":
				q.Direction = "out"
			default:
				add(p.Name, "'%s' is not a direction; use INBOUND or OUTBOUND", trunc(v, 64))
			}
		case "messageType":
			switch t := strings.ToLower(v); t {
			case "sms", "mms", "rcs":
				q.Type = t
			default:
				add(p.Name, "'%s' is not a message type; use sms, mms or rcs", trunc(v, 64))
			}
		case "errorCode":
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 || n > 99999 {
				add(p.Name, "'%s' is not an error code (an integer such as 9902)", trunc(v, 64))
			}
			q.ErrorCode = &n
		case "carrierName":
			if v == "" || len(v) > 128 {
				add(p.Name, "carrierName must have 1 to 128 characters")
			}
			q.Carrier = v
		case "campaignId":
			if v == "" || len(v) > 128 {
				add(p.Name, "campaignId must have 1 to 128 characters")
			}
			q.CampaignID = v
		case "fromDateTime", "toDateTime":
			t, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				add(p.Name, "'%s' is not an ISO 8601 date-time such as 2026-11-27T09:30:00.000Z", trunc(v, 64))
			}
			if p.Name == "fromDateTime" {
				q.Since = t
			} else {
				q.Until = t
			}
		case "sort":
			field, dir, _ := strings.Cut(v, ":")
			if field != "receiveTime" || (dir != "" && dir != "asc" && dir != "desc") {
				add(p.Name, "'%s' is not a sort order; use receiveTime:desc (the default) or receiveTime:asc", trunc(v, 64))
			}
			q.Ascending = dir == "asc"
		case "pageToken":
			token = v
		case "limit":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > maxSearchLimit {
				add(p.Name, "limit must be an integer from 1 to %d", maxSearchLimit)
			}
			q.Limit = n
		case "limitTotalCount":
			// totalCount is always capped (see docs/records.md).
			if v != "true" && v != "false" {
				add(p.Name, "limitTotalCount must be true or false")
			}
		}
	}
	if !q.Since.IsZero() && !q.Until.IsZero() && !q.Since.Before(q.Until) {
		add("toDateTime", "toDateTime must be after fromDateTime")
	}
	if len(fe) > 0 {
		return q, "", &ValidationError{Description: genericInvalid, Fields: fe}
	}
	return q, token, nil
}

// parseTns reads a sourceTn or destinationTn. A comma list (up to 10)
// takes full numbers, matched exactly. A single value of at least 5
// characters is matched as a prefix ("+1919" finds +1919…; digits alone
// also match after the "+", so "1919555" finds +1919555… and short codes
// 1919555…); a full number is a prefix of itself, so it finds that number
// (and, in numbering plans of mixed length, numbers that extend it). A
// single value shorter than 5 must be a short code, matched exactly.
func parseTns(v string) (exact, prefixes []string, desc string) {
	parts := strings.Split(v, ",")
	if len(parts) > maxTnList {
		return nil, nil, fmt.Sprintf("at most %d numbers may be given", maxTnList)
	}
	if len(parts) == 1 && len(v) >= minPartialTn {
		if len(v) > 16 || strings.ContainsAny(v, "\x00") {
			return nil, nil, fmt.Sprintf("'%s' is neither a number nor a partial number of %d to 16 characters", trunc(v, 64), minPartialTn)
		}
		prefixes = []string{v}
		if v[0] >= '0' && v[0] <= '9' {
			prefixes = append(prefixes, "+"+v)
		}
		return nil, prefixes, ""
	}
	for _, p := range parts {
		if !isE164(p) && !isShortCode(p) && !isAlphanumeric(p) {
			if len(parts) == 1 {
				return nil, nil, fmt.Sprintf("'%s' is neither a number nor a partial number of %d to 16 characters", trunc(p, 64), minPartialTn)
			}
			return nil, nil, fmt.Sprintf("'%s' is not a full number; a list takes E.164 numbers, short codes or alphanumeric senders", trunc(p, 64))
		}
		exact = append(exact, p)
	}
	return exact, nil, ""
}

func validMessageID(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-') {
			return false
		}
	}
	return true
}

func trunc(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// queryHash binds a page token to its account and filters (not to limit
// or the token itself): a token used with another query is refused.
func queryHash(accountID string, params []QueryParam) [8]byte {
	var parts []string
	for _, p := range params {
		if p.Name != "pageToken" && p.Name != "limit" && p.Name != "limitTotalCount" {
			parts = append(parts, p.Name+"="+p.Value)
		}
	}
	slices.Sort(parts)
	sum := sha256.Sum256([]byte(accountID + "\x00" + strings.Join(parts, "\x00")))
	return [8]byte(sum[:8])
}

const pageTokenVersion = 1

func encodePageToken(hash [8]byte, pos []byte, backward bool) string {
	b := make([]byte, 0, 10+len(pos))
	flags := byte(0)
	if backward {
		flags = 1
	}
	b = append(append(append(b, pageTokenVersion, flags), hash[:]...), pos...)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodePageToken(tok string, hash [8]byte) (pos []byte, backward, ok bool) {
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil || len(b) < 10+12 || b[0] != pageTokenVersion || b[1] > 1 || [8]byte(b[2:10]) != hash {
		return nil, false, false
	}
	return b[10:], b[1] == 1, true
}

// MDRColumns are the MDR CSV columns, in order (docs/records.md).
var MDRColumns = []string{"AccountId", "MessageType", "MessageID", "CallDirection", "SourceTn", "DestinationTn", "TimeStamp",
	"ErrorCode", "MessageStatus", "SegmentNumber", "SegmentCount", "CarrierName", "CarrierMessageId", "ApplicationId",
	"RecipientCount", "MessageLength", "MessageSize", "SendTime", "DoneTime", "Product", "CampaignId"}

// MDRExport is a validated MDR request; Write streams it.
type MDRExport struct {
	rs       RecordStore
	account  string
	from, to time.Time
}

// NewMDRExport is an export of account's records received in [from, to)
// from rs (PrepareMDR validates a request into one; tests build their own).
func NewMDRExport(rs RecordStore, account string, from, to time.Time) *MDRExport {
	return &MDRExport{rs: rs, account: account, from: from, to: to}
}

// PrepareMDR validates an MDR request (from and to, ISO 8601, both
// required; fromDateTime/toDateTime are accepted as names too) before
// anything is written, so errors still get a V2 error body.
func (b *Bridge) PrepareMDR(accountID string, params []QueryParam) (*MDRExport, error) {
	rs, ok := b.opts.Store.(RecordStore)
	if !ok {
		return nil, ErrNoRecords
	}
	e := &MDRExport{rs: rs, account: accountID}
	var fe []FieldError
	got := map[string]bool{}
	for _, p := range params {
		var dst *time.Time
		name := p.Name
		switch p.Name {
		case "from", "fromDateTime":
			dst, name = &e.from, "from"
		case "to", "toDateTime":
			dst, name = &e.to, "to"
		default:
			fe = append(fe, FieldError{FieldName: p.Name, Description: fmt.Sprintf("'%s' is not an MDR parameter; use from and to", trunc(p.Name, 64))})
			continue
		}
		if got[name] {
			fe = append(fe, FieldError{FieldName: name, Description: name + " is given more than once"})
			continue
		}
		got[name] = true
		t, err := time.Parse(time.RFC3339Nano, p.Value)
		if err != nil {
			fe = append(fe, FieldError{FieldName: name, Description: fmt.Sprintf("'%s' is not an ISO 8601 date-time such as 2026-11-27T00:00:00Z", trunc(p.Value, 64))})
		}
		*dst = t
	}
	for _, n := range []string{"from", "to"} {
		if !got[n] {
			fe = append(fe, FieldError{FieldName: n, Description: n + " is required (ISO 8601 date-time)"})
		}
	}
	if len(fe) == 0 && !e.from.Before(e.to) {
		fe = append(fe, FieldError{FieldName: "to", Description: "to must be after from"})
	}
	if len(fe) > 0 {
		return nil, &ValidationError{Description: genericInvalid, Fields: fe}
	}
	return e, nil
}

// Write streams the CSV: a header, then one row per segment of every
// record received in [from, to), oldest first. It never contains text.
// Rows are formatted straight into w's buffer (no per-row allocation); the
// store reads the next batch while this formats the current one.
func (e *MDRExport) Write(w *bufio.Writer) error {
	for i, c := range MDRColumns {
		if i > 0 {
			w.WriteByte(',')
		}
		w.WriteString(c)
	}
	w.WriteString("\r\n")
	var f mdrFormatter
	err := e.rs.ExportRows(e.account, e.from, e.to, func(r *store.ExportRow) error {
		segs := max(r.Segments, 1)
		for seg := 1; seg <= segs; seg++ {
			line := f.appendRow(w.AvailableBuffer(), r, seg, segs)
			if _, err := w.Write(line); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	return w.Flush()
}

// mdrFormatter formats MDR rows; it remembers the last day it formatted,
// as consecutive rows' times nearly always fall on the same day.
type mdrFormatter struct {
	dayStart, dayEnd int64 // [start, end) of the remembered UTC day, unix ns
	day              [11]byte
}

func (f *mdrFormatter) appendRow(b []byte, r *store.ExportRow, seg, segs int) []byte {
	var cid []byte
	if seg-1 < len(r.CarrierIDs) {
		cid = r.CarrierIDs[seg-1]
	}
	typ := r.Type
	if len(typ) == 0 {
		typ = sms
	}
	b = appendCSV(b, r.AccountID, ',')
	b = appendCSV(b, typ, ',')
	b = appendCSV(b, r.MessageID, ',')
	if string(r.Direction) == "in" {
		b = append(b, "INBOUND,"...)
	} else {
		b = append(b, "OUTBOUND,"...)
	}
	b = appendCSV(b, bytes.TrimPrefix(r.From, plus), ',')
	b = appendCSV(b, bytes.TrimPrefix(r.To, plus), ',')
	b = f.appendTime(b, r.ReceivedAt)
	b = append(b, ',')
	if r.ErrorCode != 0 {
		b = strconv.AppendInt(b, int64(r.ErrorCode), 10)
	}
	b = append(b, ',')
	b = appendCSV(b, r.Status, ',')
	b = strconv.AppendInt(b, int64(seg), 10)
	b = append(b, ',')
	b = strconv.AppendInt(b, int64(segs), 10)
	b = append(b, ',')
	b = appendCSV(b, r.Carrier, ',')
	b = appendCSV(b, cid, ',')
	b = appendCSV(b, r.ApplicationID, ',')
	b = strconv.AppendInt(b, int64(max(r.Recipients, 1)), 10)
	b = append(b, ',')
	b = strconv.AppendInt(b, int64(r.Length), 10)
	b = append(b, ',')
	b = strconv.AppendInt(b, int64(r.Size), 10)
	b = append(b, ',')
	b = f.appendTime(b, r.SentAt)
	b = append(b, ',')
	b = f.appendTime(b, r.DoneAt)
	b = append(b, ',')
	b = appendCSV(b, r.Product, ',')
	b = appendCSV(b, r.CampaignID, '\r')
	return append(b, '\n')
}

var (
	sms  = []byte("sms")
	plus = []byte("+")
)

const nsPerDay = 24 * int64(time.Hour)

// appendTime writes unix nanoseconds ns as 2006-01-02T15:04:05.000Z
// (nothing for 0). Only a new day goes through time.Time; the time of day
// is arithmetic (time.AppendFormat was a fifth of the export's CPU).
func (f *mdrFormatter) appendTime(b []byte, ns int64) []byte {
	if ns == 0 {
		return b
	}
	if ns < f.dayStart || ns >= f.dayEnd {
		t := time.Unix(0, ns).UTC()
		y, mo, d := t.Date()
		if y < 0 || y > 9999 {
			return t.AppendFormat(b, "2006-01-02T15:04:05.000Z")
		}
		f.dayStart = ns - ns%nsPerDay
		if ns < 0 && ns%nsPerDay != 0 {
			f.dayStart -= nsPerDay
		}
		f.dayEnd = f.dayStart + nsPerDay
		f.day = [11]byte{byte('0' + y/1000), byte('0' + y/100%10), byte('0' + y/10%10), byte('0' + y%10), '-',
			byte('0' + int(mo)/10), byte('0' + int(mo)%10), '-', byte('0' + d/10), byte('0' + d%10), 'T'}
	}
	in := (ns - f.dayStart) / int64(time.Millisecond)
	ms, sec := int(in%1000), int(in/1000)
	h, mi, s := sec/3600, sec/60%60, sec%60
	b = append(b, f.day[:]...)
	return append(b, byte('0'+h/10), byte('0'+h%10), ':', byte('0'+mi/10), byte('0'+mi%10), ':', byte('0'+s/10), byte('0'+s%10), '.',
		byte('0'+ms/100), byte('0'+ms/10%10), byte('0'+ms%10), 'Z')
}

// appendCSV appends a field and sep, quoting it (RFC 4180) only when it
// holds a comma, quote or line break.
func appendCSV(b []byte, s []byte, sep byte) []byte {
	if needsQuote(s) {
		b = append(b, '"')
		b = append(b, bytes.ReplaceAll(s, []byte(`"`), []byte(`""`))...)
		b = append(b, '"')
	} else {
		b = append(b, s...)
	}
	return append(b, sep)
}

func needsQuote(s []byte) bool {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case ',', '"', '\r', '\n':
			return true
		}
	}
	return false
}

// retentionLoop deletes records older than the retention, a small batch
// per commit so that intake never waits long behind it.
func (b *Bridge) retentionLoop(rs RecordStore) {
	interval := b.opts.RetentionInterval
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		b.sweepRecords(rs)
		select {
		case <-b.runCtx.Done():
			return
		case <-t.C:
		}
	}
}

// longestReceiptWait is how long a sent copy may still be waiting for its
// receipt: the longest receipt_wait of the carriers and of removed ones,
// plus a minute for the expiry pass (which runs at most a minute apart).
// Retention keeps SENT records that young: deleting one would lose the
// message's terminal callback.
func (b *Bridge) longestReceiptWait() time.Duration {
	wait := b.opts.RemovedCarrierReceiptWait
	for _, q := range b.set.Load().list {
		wait = max(wait, q.ReceiptWait)
	}
	return wait + time.Minute
}

// retentionBatch is how many records one retention commit deletes.
const retentionBatch = 500

// sweepRecords runs one retention pass, bounded so that a huge backlog is
// worked off over several intervals.
func (b *Bridge) sweepRecords(rs RecordStore) int {
	now := b.now()
	cutoff := now.Add(-b.opts.RecordRetention)
	waitSince := now.Add(-b.longestReceiptWait())
	total := 0
	for i := 0; i < 1000 && b.runCtx.Err() == nil; i++ {
		n, more, err := rs.DeleteRecordsBefore(cutoff, waitSince, retentionBatch)
		total += n
		if err != nil {
			b.log.Error("record retention", "err", err)
			break
		}
		if !more {
			break
		}
	}
	if total > 0 {
		b.log.Info("expired message records deleted", "count", total, "before", cutoff.UTC().Format(time.RFC3339))
	}
	return total
}
