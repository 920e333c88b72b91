package bridge

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"smppbridge/store"
)

const (
	maxTagLength   = 1024
	maxMediaURL    = 4096
	maxMediaCount  = 10
	genericInvalid = "Your request could not be accepted"
)

// Send validates, routes and durably queues a message. It returns only
// after the message is stored (fsync'd), so a 202 means it will be sent.
func (b *Bridge) Send(ctx context.Context, req *SendRequest) (*Message, error) {
	m := new(Message)
	if err := b.SendInto(ctx, req, m); err != nil {
		return nil, err
	}
	return m, nil
}

// SendInto is Send writing the accepted message into m, which the caller
// owns (the HTTP server keeps it in the request's own allocation). m is
// left as it was when an error is returned.
func (b *Bridge) SendInto(ctx context.Context, req *SendRequest, m *Message) error {
	b.mu.Lock()
	closing := b.closing
	b.mu.Unlock()
	if closing {
		return ErrShuttingDown
	}
	dir := b.directory() // one snapshot for the whole request
	app, verr := b.validate(dir, req)
	if verr != nil {
		return verr
	}
	acc := dir.accounts[req.AccountID]
	class, campaign := dir.classOf(req.From)
	product := Product(class)
	now := b.now().UTC()
	id := newMessageID(now)
	high := req.Priority == "high"
	items := make([]store.QueueItem, len(req.To))
	text := req.Text
	type hold struct {
		q *carrierQueue
		n int
	}
	// Most requests have a few recipients: their bookkeeping stays on the stack.
	var heldBuf [8]hold
	held := heldBuf[:0]
	var queueBuf [8]*carrierQueue
	queueOf := queueBuf[:]
	if len(req.To) > len(queueBuf) {
		queueOf = make([]*carrierQueue, len(req.To))
	}
	release := func() {
		for _, h := range held {
			h.q.release(h.n)
		}
	}
	segments := 0
	for i, to := range req.To {
		q := b.route(req.AccountID, req.From, class, to)
		it := store.QueueItem{
			High: high, MessageID: id, Recipient: i, AccountID: req.AccountID, ApplicationID: req.ApplicationID,
			From: req.From, To: req.To, Text: text, Media: req.Media, Tag: req.Tag, HasTag: req.HasTag,
			ReceivedAt: now, RequestID: req.RequestID, Product: product, CampaignID: campaign,
		}
		if req.Expiration != nil {
			it.Expiration = *req.Expiration
		}
		// Policy refusals and missing routes are accepted, then reported
		// as message-failed for that recipient: never a 4xx for the group.
		if code := b.policyCode(dir, acc, req.From, to); code != 0 {
			it.FailCode = code
			items[i] = it
			continue
		}
		if q == nil {
			it.FailCode = codeNoRoute // accepted, then reported failed: never stuck
			items[i] = it
			continue
		}
		if isAlphanumeric(req.From) && !q.Alphanumeric {
			release()
			return &ValidationError{Description: genericInvalid, Fields: []FieldError{{FieldName: "from",
				Description: fmt.Sprintf("'%s' is an alphanumeric sender, which the carrier for '%s' does not accept", req.From, to)}}}
		}
		if len(req.Media) > 0 {
			if !q.MediaAsLinks {
				release()
				return &ValidationError{Description: genericInvalid, Fields: []FieldError{{FieldName: "media",
					Description: fmt.Sprintf("media cannot be sent to '%s': its carrier carries SMS only", to)}}}
			}
			it.Text = withLinks(text, req.Media)
		}
		it.Carrier = q.name
		it.Segments = q.Sender.Plan(it.Text).Segments
		if segments == 0 {
			segments = it.Segments
		}
		if qerr := q.reserve(it.Segments); qerr != nil {
			release()
			return qerr
		}
		held = append(held, hold{q, it.Segments})
		items[i] = it
		queueOf[i] = q
	}
	if segments == 0 {
		segments = b.planAny(text)
	}
	// Copies that fail before reaching a carrier report the message's
	// segment count, as the 202 does: V2 never says 0 segments.
	for i := range items {
		if items[i].FailCode != 0 {
			items[i].Segments = segments
		}
	}
	if err := b.store.Enqueue(items); err != nil {
		release()
		b.log.Error("cannot store a message", "request_id", req.RequestID, "err", err)
		return fmt.Errorf("%w: %w", ErrStore, err)
	}
	for i := range items {
		it := &items[i]
		if it.FailCode != 0 {
			b.fail(it, it.FailCode)
			continue
		}
		b.push(queueOf[i], it)
	}
	*m = Message{
		ID: id, Owner: req.From, ApplicationID: app.ID, Time: now, SegmentCount: segments, Direction: "out",
		To: req.To, From: req.From, Text: req.Text, Media: req.Media, Tag: req.Tag, HasTag: req.HasTag,
		Priority: "default", Expiration: req.Expiration,
	}
	if high {
		m.Priority = "high"
	}
	return nil
}

// planAny counts segments for a message none of whose recipients has a
// route, with the first carrier's rules (or none).
func (b *Bridge) planAny(text string) int {
	if list := b.set.Load().list; len(list) > 0 {
		return list[0].Sender.Plan(text).Segments
	}
	return 1
}

func withLinks(text string, media []string) string {
	parts := make([]string, 0, len(media)+1)
	if text != "" {
		parts = append(parts, text)
	}
	return strings.Join(append(parts, media...), "\n")
}

// route picks the carrier for a destination: longest matching prefix among
// carriers whose account, from and number class restrictions allow the message.
func (b *Bridge) route(accountID, from, class, to string) *carrierQueue {
	for _, r := range b.set.Load().routes {
		if !strings.HasPrefix(to, r.prefix) {
			continue
		}
		if len(r.accounts) > 0 && !contains(r.accounts, accountID) {
			continue
		}
		if len(r.from) > 0 && !contains(r.from, from) {
			continue
		}
		if len(r.classes) > 0 && !contains(r.classes, class) {
			continue
		}
		return r.carrier
	}
	return nil
}

func contains(list []string, v string) bool {
	for _, s := range list {
		if s == v {
			return true
		}
	}
	return false
}

// validate applies the contract's rules and reports every broken one.
func (b *Bridge) validate(dir *directory, req *SendRequest) (*application, *ValidationError) {
	var fe []FieldError
	add := func(field, format string, args ...any) {
		fe = append(fe, FieldError{FieldName: field, Description: fmt.Sprintf(format, args...)})
	}
	acc := dir.accounts[req.AccountID]
	var app *application
	switch {
	case req.ApplicationID == "":
		add("applicationId", "applicationId is required")
	case acc == nil || acc.apps[req.ApplicationID] == nil:
		add("applicationId", "'%s' is not an application of account %s", req.ApplicationID, req.AccountID)
	default:
		app = acc.apps[req.ApplicationID]
	}
	switch {
	case len(req.To) == 0:
		add("to", "to must contain at least one recipient")
	case len(req.To) > b.opts.GroupLimit:
		add("to", "%d recipients exceed the group limit of %d (forbidden-too-many-recipients)", len(req.To), b.opts.GroupLimit)
	}
	var seen map[string]bool // only for large groups: a scan is cheaper for a few
	if len(req.To) > 16 {
		seen = make(map[string]bool, len(req.To))
	}
	for i, to := range req.To {
		switch {
		case !isE164(to) && !b.isEmergency(to): // an emergency number fails later, with 4492
			add("to", "'%s' must be replaced with a valid E164 formatted telephone number", to)
		case seen[to] || (seen == nil && slices.Contains(req.To[:i], to)):
			add("to", "'%s' appears more than once; recipients must be unique", to)
		}
		if seen != nil {
			seen[to] = true
		}
	}
	switch {
	case req.From == "":
		add("from", "from is required")
	case !isE164(req.From) && !isShortCode(req.From) && !isAlphanumeric(req.From):
		add("from", "'%s' must be replaced with a valid E164 formatted telephone number", req.From)
	case app != nil && !dir.ownedBy(req.From, app):
		// Alphanumeric senders too: a brand name is the account's to use
		// only once it is assigned (config numbers or the admin API).
		add("from", "'%s' is not a number of application %s", req.From, app.ID)
	}
	n := utf8.RuneCountInString(req.Text)
	switch {
	case !utf8.ValidString(req.Text):
		add("text", "text is not valid UTF-8")
	case n > b.opts.MaxTextLength:
		add("text", "text has %d characters, at most %d are allowed", n, b.opts.MaxTextLength)
	case n == 0 && len(req.Media) == 0:
		add("text", "text is required when no media is sent")
	}
	if len(req.Media) > maxMediaCount {
		add("media", "%d media URLs, at most %d are allowed", len(req.Media), maxMediaCount)
	}
	for _, u := range req.Media {
		if len(u) > maxMediaURL {
			add("media", "a media URL is longer than %d characters", maxMediaURL)
		} else if !strings.HasPrefix(u, "https://") && !strings.HasPrefix(u, "http://") {
			add("media", "'%s' is not an http or https URL", u)
		}
	}
	if utf8.RuneCountInString(req.Tag) > maxTagLength {
		add("tag", "tag is longer than %d characters", maxTagLength)
	}
	switch req.Priority {
	case "", "default", "high":
	default:
		add("priority", "'%s' is not a priority; use default or high", req.Priority)
	}
	if req.Expiration != nil && !req.Expiration.After(b.now()) {
		add("expiration", "expiration %s is not in the future", req.Expiration.UTC().Format(time.RFC3339))
	}
	if len(fe) > 0 {
		return nil, &ValidationError{Description: genericInvalid, Fields: fe}
	}
	return app, nil
}

// isE164 accepts "+" and 8 to 15 digits, the first not 0.
func isE164(s string) bool {
	if len(s) < 9 || len(s) > 16 || s[0] != '+' || s[1] == '0' {
		return false
	}
	for i := 1; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func isShortCode(s string) bool {
	if len(s) < 3 || len(s) > 8 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// isAlphanumeric: ≤ 11 of A–Z a–z 0–9 space - + _ &, with at least one letter.
func isAlphanumeric(s string) bool {
	if s == "" || len(s) > 11 {
		return false
	}
	letter := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z':
			letter = true
		case c >= '0' && c <= '9', c == ' ', c == '-', c == '+', c == '_', c == '&':
		default:
			return false
		}
	}
	return letter
}

// newMessageID makes a V2 id: 13-digit epoch milliseconds and 16 random
// base-36 characters.
func newMessageID(t time.Time) string {
	var r [16]byte
	rand.Read(r[:])
	b := make([]byte, 0, 29)
	b = strconv.AppendInt(b, t.UnixMilli(), 10)
	for len(b) < 13 {
		b = append([]byte{'0'}, b...)
	}
	for _, half := range [2]uint64{binary.BigEndian.Uint64(r[:8]), binary.BigEndian.Uint64(r[8:])} {
		v := half % 2821109907456 // 36^8
		var chunk [8]byte
		for i := 7; i >= 0; i-- {
			chunk[i] = "0123456789abcdefghijklmnopqrstuvwxyz"[v%36]
			v /= 36
		}
		b = append(b, chunk[:]...)
	}
	return string(b)
}
