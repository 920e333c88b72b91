package httpapi

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"smppbridge/bridge"
)

// intoCore is a SendIntoCore that counts which method the server called.
type intoCore struct {
	benchCore
	sends, intos int
	fail         error
}

func (c *intoCore) Send(ctx context.Context, req *bridge.SendRequest) (*bridge.Message, error) {
	c.sends++
	return echo(ctx, req)
}

func (c *intoCore) SendInto(_ context.Context, req *bridge.SendRequest, m *bridge.Message) error {
	c.intos++
	if c.fail != nil {
		return c.fail
	}
	echoInto(req, m)
	return nil
}

// TestSendInto: a core that is a SendIntoCore is called through SendInto
// and answers exactly as through Send; its errors map the same way.
func TestSendInto(t *testing.T) {
	std := []string{"Authorization: " + basic(testUser, testPass), "Content-Type: application/json"}
	req := rawRequest{method: "POST", path: testPath, headers: std, body: goodBody}

	plain := do(t, startServer(t, New(benchCore{}, Options{})), req)
	core := &intoCore{}
	into := do(t, startServer(t, New(core, Options{})), req)
	if plain.StatusCode() != 202 || into.StatusCode() != 202 {
		t.Fatalf("status %d and %d", plain.StatusCode(), into.StatusCode())
	}
	if !bytes.Equal(plain.Body(), into.Body()) {
		t.Errorf("bodies differ:\nSend:     %s\nSendInto: %s", plain.Body(), into.Body())
	}
	if core.sends != 0 || core.intos != 1 {
		t.Errorf("Send called %d times, SendInto %d", core.sends, core.intos)
	}

	core.fail = &bridge.QueueFullError{Carrier: "c"}
	if r := do(t, startServer(t, New(core, Options{})), req); r.StatusCode() != 429 {
		t.Errorf("queue full: status %d: %s", r.StatusCode(), r.Body())
	}
	core.fail = errors.New("disk on fire")
	if r := do(t, startServer(t, New(core, Options{})), req); r.StatusCode() != 500 {
		t.Errorf("error: status %d: %s", r.StatusCode(), r.Body())
	}
}
