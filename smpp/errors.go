// Package smpp is the ESME side of SMPP 3.4: bind sessions with a waiting
// window and keep-alives, and per-carrier pools that pace traffic in message
// segments per second. PDU encoding lives in smpp/pdu, text encodings and
// segmentation in smpp/coding.
package smpp

import (
	"errors"
	"fmt"

	"smppbridge/smpp/pdu"
)

// Errors a request can end with. Whether a message may be sent again
// depends on which: ErrNotSent is always safe to retry; ErrOutcomeUnknown
// means the SMSC may have accepted it, and a blind resend risks a duplicate.
var (
	ErrNotSent        = errors.New("smpp: request not sent")
	ErrOutcomeUnknown = errors.New("smpp: outcome unknown")

	ErrClosed          = fmt.Errorf("%w: session closed", ErrNotSent)
	ErrResponseTimeout = fmt.Errorf("%w: no response within the timeout", ErrOutcomeUnknown)
	ErrBindLost        = fmt.Errorf("%w: bind lost before the response", ErrOutcomeUnknown)
	ErrDeadLink        = errors.New("smpp: enquire_link unanswered, link considered dead")
	ErrWindowStuck     = errors.New("smpp: every window slot held by a request the SMSC never answered")
	ErrUnboundByPeer   = errors.New("smpp: SMSC unbound the session")
)

// BindError is a bind the SMSC refused.
type BindError struct {
	Status pdu.Status
}

func (e *BindError) Error() string { return "smpp: bind refused: " + e.Status.String() }
