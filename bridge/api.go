// Package bridge is the messaging core: it validates and routes V2 send
// requests, queues them durably per carrier, hands them to the carriers'
// SMPP pools and (later) turns receipts into callbacks. It talks to storage
// through small interfaces that package store implements.
package bridge

import (
	"errors"
	"fmt"
	"time"
)

// SendRequest is a V2 create-message request after JSON decoding. httpapi
// fills it from copied bytes; nothing in it borrows request memory.
type SendRequest struct {
	AccountID     string
	ApplicationID string
	To            []string
	From          string
	Text          string
	Media         []string
	Tag           string
	HasTag        bool       // tag was present in the request (possibly "")
	Priority      string     // "", "default" or "high"
	Expiration    *time.Time // nil when not sent
	RequestID     string     // for logs
}

// Message is the accepted message, rendered as the 202 body.
type Message struct {
	ID            string
	Owner         string
	ApplicationID string
	Time          time.Time
	SegmentCount  int
	Direction     string // "out"
	To            []string
	From          string
	Text          string
	Media         []string
	Tag           string
	HasTag        bool
	Priority      string // "default" or "high"
	Expiration    *time.Time
}

// FieldError is one entry of a 400 request-validation body.
type FieldError struct {
	FieldName   string
	Description string
}

// ValidationError is a request that breaks the contract (HTTP 400,
// type request-validation).
type ValidationError struct {
	Description string
	Fields      []FieldError
}

func (e *ValidationError) Error() string {
	if len(e.Fields) == 0 {
		return "bridge: invalid request: " + e.Description
	}
	return fmt.Sprintf("bridge: invalid request: %s: %s", e.Fields[0].FieldName, e.Fields[0].Description)
}

// QueueFullError is a request that would overflow a carrier's queue (HTTP
// 429, type max-message-queue-size-exceeded).
type QueueFullError struct {
	Carrier           string
	SegmentsPerSecond float64
	QueueSeconds      int
	Capacity          int // segments
}

func (e *QueueFullError) Error() string {
	return fmt.Sprintf("The message queue is full: the allowed rate is %g message segments per second and the queue holds %d segments (%d seconds at that rate)",
		e.SegmentsPerSecond, e.Capacity, e.QueueSeconds)
}

// Errors of Authenticate and Send.
var (
	ErrUnauthorized = errors.New("bridge: authentication failed") // HTTP 401
	ErrForbidden    = errors.New("bridge: access denied")         // HTTP 403: valid credentials of another account
	ErrShuttingDown = errors.New("bridge: shutting down")         // HTTP 503
	ErrStore        = errors.New("bridge: message store failure") // HTTP 500; nothing was accepted
)
