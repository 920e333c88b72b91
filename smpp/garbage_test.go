package smpp_test

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"net"
	"testing"
	"time"

	"smppbridge/smpp"
	"smppbridge/smpp/pdu"
)

// A carrier (or something pretending to be one) sending garbage to the
// bridge's session (issue 8): before the bind is answered Bind fails and
// closes the connection; once bound, an unframeable stream ends the
// session cleanly with every outstanding request's outcome unknown. Never a
// panic, never a hang. (The simulator's own handling of garbage from ESMEs
// is tested in testharness/smsc.)

// bindAgainst runs Bind against a peer that reads the bind request and
// then writes reply; Bind must fail within its timeout and close the
// connection. It returns Bind's error.
func bindAgainst(t *testing.T, reply []byte) error {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	peerDone := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			peerDone <- err
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(waitTime))
		r := bufio.NewReader(c)
		if _, err := pdu.ReadFrame(r, nil, 0); err != nil {
			peerDone <- err
			return
		}
		if len(reply) > 0 {
			c.Write(reply)
		}
		// The session must close the connection: read until EOF.
		var b [512]byte
		for {
			if _, err := r.Read(b[:]); err != nil {
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					peerDone <- errors.New("the session kept the connection open")
				} else {
					peerDone <- nil
				}
				return
			}
		}
	}()
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	s, bindErr := smpp.Bind(ctx, conn, smpp.SessionConfig{SystemID: "bridge", BindTimeout: 2 * time.Second})
	if bindErr == nil {
		s.Close(ctx)
		t.Fatal("bound against garbage")
	}
	if err := <-peerDone; err != nil {
		t.Fatal(err)
	}
	return bindErr
}

func header(length uint32, id pdu.CommandID, status pdu.Status, seq uint32) []byte {
	b := make([]byte, 16)
	binary.BigEndian.PutUint32(b[0:], length)
	binary.BigEndian.PutUint32(b[4:], uint32(id))
	binary.BigEndian.PutUint32(b[8:], uint32(status))
	binary.BigEndian.PutUint32(b[12:], seq)
	return b
}

func TestBindAgainstGarbage(t *testing.T) {
	deliver, err := pdu.Append(nil, &pdu.PDU{Header: pdu.Header{ID: pdu.DeliverSM, Seq: 7}, ShortMessage: []byte("too early")})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name  string
		reply []byte
	}{
		{"deliver_sm before the bind response", deliver},
		{"submit_sm_resp instead of the bind response", append(header(17, pdu.SubmitSMResp, 0, 1), 0)},
		{"command_length 2^31", header(0x80000000, pdu.BindTransceiverResp, 0, 1)},
		{"command_length below the header", header(8, pdu.BindTransceiverResp, 0, 1)},
		{"HTTP instead of SMPP", []byte("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")},
		{"bind response cut short", header(40, pdu.BindTransceiverResp, 0, 1)},
		{"nothing at all", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			start := time.Now()
			err := bindAgainst(t, c.reply)
			t.Logf("%v after %s", err, time.Since(start).Round(time.Millisecond))
		})
	}
}

// TestSessionGarbageAfterBind: unframeable input ends the bound session;
// requests in its window end outcome unknown and the window is free.
func TestSessionGarbageAfterBind(t *testing.T) {
	cases := []struct {
		name string
		raw  []byte
	}{
		{"command_length 2^32-1", header(0xFFFFFFFF, pdu.DeliverSM, 0, 9)},
		{"command_length 15", header(15, pdu.DeliverSM, 0, 9)},
		{"command_length 0", header(0, 0, 0, 0)},
		{"text stream", []byte("this is not smpp at all, just a long line of text\r\n")},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, p := fakeBind(t, smpp.SessionConfig{Window: 5})
			r := newResults(1)
			if err := s.Send(context.Background(), submitPDU("outstanding"), r.cb(0)); err != nil {
				t.Fatal(err)
			}
			p.expect(pdu.SubmitSM)
			p.writeRaw(c.raw)
			waitDone(t, s)
			r.wait(t, 1)
			if got := r.get(0); !errors.Is(got.Err, smpp.ErrOutcomeUnknown) {
				t.Fatalf("outstanding submit: %+v, want outcome unknown", got)
			}
			if s.Err() == nil {
				t.Fatal("session ended without a reason")
			}
			if st := s.Stats(); st.WindowInUse != 0 {
				t.Fatalf("window in use %d", st.WindowInUse)
			}
			drainUntilClosed(t, p)
		})
	}
}

// TestSessionRandomFrames: well-framed PDUs with random command ids,
// statuses and bodies, after bind. The session answers what it cannot use
// (generic_nack) or ends; it never panics or hangs, and while it lives a
// submit still completes.
func TestSessionRandomFrames(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 8))
	for i := range 40 {
		s, p := fakeBind(t, smpp.SessionConfig{Window: 2})
		frame := make([]byte, 16+rng.IntN(64))
		for j := range frame {
			frame[j] = byte(rng.UintN(256))
		}
		binary.BigEndian.PutUint32(frame, uint32(len(frame)))
		if rng.IntN(2) == 0 { // half of them a known command with a random body
			ids := []pdu.CommandID{pdu.DeliverSM, pdu.DataSM, pdu.SubmitSMResp, pdu.EnquireLink, pdu.Unbind, pdu.GenericNack, pdu.BindTransceiverResp}
			binary.BigEndian.PutUint32(frame[4:], uint32(ids[rng.IntN(len(ids))]))
		}
		p.writeRaw(frame)
		res := make(chan smpp.Result, 1)
		go func() { res <- s.Submit(context.Background(), submitPDU("after garbage")) }()
		// Answer the submit if it comes; skip what the session says to the
		// garbage (nacks, responses, unbind_resp).
		p.conn.SetReadDeadline(time.Now().Add(waitTime))
		answered := false
		for k := 0; k < 10 && !answered; k++ {
			f, err := pdu.ReadFrame(p.r, nil, 0)
			if err != nil {
				break // the session ended the connection
			}
			var q pdu.PDU
			if pdu.Decode(f, &q) == nil && q.ID == pdu.SubmitSM {
				p.respond(q, pdu.StatusOK, "ok")
				answered = true
			}
		}
		select {
		case r := <-res:
			if answered && (r.Err != nil || r.MessageID != "ok") {
				t.Fatalf("frame %d %x: answered submit ended %+v", i, frame, r)
			}
			if !answered && r.Err == nil {
				t.Fatalf("frame %d %x: submit succeeded without an answer: %+v", i, frame, r)
			}
		case <-time.After(waitTime):
			t.Fatalf("frame %d %x: submit neither answered nor failed", i, frame)
		}
	}
}

// drainUntilClosed reads whatever the session still writes (a
// generic_nack, an unbind) until it closes the connection.
func drainUntilClosed(t *testing.T, p *peer) {
	t.Helper()
	p.conn.SetReadDeadline(time.Now().Add(waitTime))
	var b [512]byte
	for {
		if _, err := p.r.Read(b[:]); err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatal("the session kept the connection open")
			}
			return
		}
	}
}
