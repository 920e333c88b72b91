package bridge

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"smppbridge/store"
)

// Outbox is the durable callback outbox the webhook sender needs
// (*store.Store). Every method that finishes a job also releases its claim.
type Outbox interface {
	AddCallbacks(jobs []store.CallbackJob) error
	NextCallbacks(now time.Time, limit int, pick func(appID, url string) store.Pick) ([]store.CallbackJob, error)
	CallbackDone(ids []uint64) error
	CallbackFailed(fs []store.CallbackFailure) error
	CallbackDead(fs []store.CallbackFailure) error
	ReleaseCallbacks(ids []uint64)
	NextCallbackDue(after time.Time) (time.Time, bool, error)
}

// DeadLetterStore is the outbox's dead-letter bucket (*store.Store):
// inspected, requeued and deleted through the admin API, expired by
// Webhooks after callbacks.dead_letter_retention.
type DeadLetterStore interface {
	DeadCallbacks(afterID uint64, limit int) ([]store.CallbackJob, error)
	RequeueDeadCallbacks(ids []uint64) (int, error)
	DeleteDeadCallbacks(ids []uint64) error
	ExpireDeadCallbacks(cutoff time.Time, limit int) (int, bool, error)
}

// DeadCallback is a dead-lettered callback as operators see it: where it
// was going and why it failed, never its body (it may hold message text).
type DeadCallback struct {
	ID            uint64    `json:"id"`
	ApplicationID string    `json:"applicationId"`
	Kind          string    `json:"kind"`
	URL           string    `json:"url"`
	Events        int       `json:"events"`
	Created       time.Time `json:"created"`
	GivenUp       time.Time `json:"givenUp"`
	Attempts      int       `json:"attempts"`
	LastError     string    `json:"lastError,omitempty"`
	RequestID     string    `json:"requestId,omitempty"`
}

// ErrNoDeadLetters: the store keeps no dead-lettered callbacks.
var ErrNoDeadLetters = errors.New("bridge: the store has no dead-letter bucket")

func (b *Bridge) deadLetters() (DeadLetterStore, error) {
	dl, ok := b.opts.Store.(DeadLetterStore)
	if !ok {
		return nil, ErrNoDeadLetters
	}
	return dl, nil
}

// DeadCallbacks lists up to limit dead-lettered callbacks with ids above
// after, in id order (page with the last id).
func (b *Bridge) DeadCallbacks(after uint64, limit int) ([]DeadCallback, error) {
	dl, err := b.deadLetters()
	if err != nil {
		return nil, err
	}
	jobs, err := dl.DeadCallbacks(after, limit)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrStore, err)
	}
	out := make([]DeadCallback, 0, len(jobs))
	for _, j := range jobs {
		var events []json.RawMessage
		json.Unmarshal(j.Body, &events) // a body that is no array counts 0
		out = append(out, DeadCallback{ID: j.ID, ApplicationID: j.ApplicationID, Kind: j.Kind, URL: j.URL,
			Events: len(events), Created: j.Created.UTC(), GivenUp: j.NextAt.UTC(), Attempts: j.Attempts,
			LastError: j.LastError, RequestID: j.RequestID})
	}
	return out, nil
}

// RequeueDeadCallbacks sends dead-lettered callbacks again, as never-tried
// jobs (for example once a customer fixed their endpoint); it returns how
// many of ids were dead-lettered.
func (b *Bridge) RequeueDeadCallbacks(ids []uint64) (int, error) {
	dl, err := b.deadLetters()
	if err != nil {
		return 0, err
	}
	n, err := dl.RequeueDeadCallbacks(ids)
	if err != nil {
		return 0, fmt.Errorf("%w: %w", ErrStore, err)
	}
	b.notifyCallbacks()
	return n, nil
}

// DeleteDeadCallbacks forgets dead-lettered callbacks.
func (b *Bridge) DeleteDeadCallbacks(ids []uint64) error {
	dl, err := b.deadLetters()
	if err != nil {
		return err
	}
	if err := dl.DeleteDeadCallbacks(ids); err != nil {
		return fmt.Errorf("%w: %w", ErrStore, err)
	}
	return nil
}

// Callback kinds: which of the application's URLs a job goes to.
const (
	CallbackStatus  = "status"  // Application.CallbackURL: message-sending/-delivered/-failed
	CallbackInbound = "inbound" // Application.InboundCallbackURL: message-received
)

// ErrNoCallbackURL: the application has no URL for that kind of callback,
// so there is nothing to send.
var ErrNoCallbackURL = errors.New("bridge: application has no callback URL for this event")

// CallbackEvent is one element of a callback body (v2-api.md §2.3).
type CallbackEvent struct {
	Type        string // message-received, message-sending, message-delivered, message-failed
	Time        time.Time
	Description string
	To          string // the recipient this event concerns / the receiving number
	ErrorCode   int    // rendered for message-failed only
	Message     CallbackMessage
}

// CallbackMessage is the message object inside a callback (v2-api.md §2.4).
type CallbackMessage struct {
	ID            string
	Owner         string
	ApplicationID string
	Time          time.Time
	SegmentCount  int
	Direction     string // "in" or "out"
	To            []string
	From          string
	Text          string // status events always carry "" (content is not kept)
	Media         []string
	Tag           string
	HasTag        bool   // render tag (possibly "")
	Priority      string // omitted when ""
}

// EncodeCallbackEvents renders a callback body: a JSON array of events
// (field order of v2-api.md §2.3–2.4; unset optional fields omitted:
// errorCode but for message-failed, media when empty, tag unless HasTag,
// priority when ""). For status callbacks (kind CallbackStatus)
// message.text is always "". Strings are escaped as encoding/json does
// without HTML escaping ("<" stays "<", as a receiver would expect). The
// error is always nil; it is kept for callers.
func EncodeCallbackEvents(kind string, events []CallbackEvent) ([]byte, error) {
	size := 2
	for i := range events {
		size += 420 + len(events[i].Message.Text)
	}
	return appendCallbackEvents(make([]byte, 0, size), kind, events), nil
}

// NewCallbackJob builds the durable job for events of one application:
// kind CallbackStatus goes to CallbackURL, CallbackInbound to
// InboundCallbackURL (ErrNoCallbackURL when that URL is empty). The URL is
// captured now; credentials are looked up when the job is sent.
func NewCallbackJob(app Application, kind string, now time.Time, events ...CallbackEvent) (store.CallbackJob, error) {
	url := app.CallbackURL
	if kind == CallbackInbound {
		url = app.InboundCallbackURL
	} else if kind != CallbackStatus {
		return store.CallbackJob{}, errors.New("bridge: unknown callback kind " + kind)
	}
	if url == "" {
		return store.CallbackJob{}, ErrNoCallbackURL
	}
	body, err := EncodeCallbackEvents(kind, events)
	if err != nil {
		return store.CallbackJob{}, err
	}
	return store.CallbackJob{ApplicationID: app.ID, Kind: kind, URL: url, Body: body, Created: now}, nil
}

// CallbackCredentials returns the HTTP Basic credentials configured for an
// application's callbacks to url: the Credentials lookup of
// WebhookOptions. A job keeps the URL it was made for, so after the
// application's URL and password changed, its jobs still pending for the old
// URL go without credentials: a new password must not reach a host the
// application left.
func (b *Bridge) CallbackCredentials(appID, url string) (user, pass string, ok bool) {
	app := b.directory().apps[appID]
	if app == nil || (url != app.CallbackURL && url != app.InboundCallbackURL) {
		return "", "", false
	}
	return app.CallbackUsername, app.CallbackPassword, app.CallbackUsername != "" || app.CallbackPassword != ""
}
