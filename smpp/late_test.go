package smpp_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"smppbridge/smpp"
	"smppbridge/smpp/pdu"
	"smppbridge/testharness/smsc"
)

// TestPoolLateResultAfterSubmit: a part whose response came after the
// response timeout is reported outcome unknown by Submit; the response is
// then handed to OnLateResult with the message's Ref and the carrier's id.
func TestPoolLateResultAfterSubmit(t *testing.T) {
	srv := startSMSC(t, smsc.Config{Behaviour: smsc.Behaviour{Rules: []smsc.Rule{
		{Dest: "15550003001", ResponseDelay: smsc.Duration(600 * time.Millisecond)},
		{Dest: "15550003002", ResponseDelay: smsc.Duration(600 * time.Millisecond), SubmitStatus: uint32(pdu.StatusInvDstAdr)},
	}}})
	late := make(chan smpp.LateResult, 4)
	p := startPool(t, srv, smpp.PoolConfig{Binds: 1, Session: smpp.SessionConfig{ResponseTimeout: 150 * time.Millisecond},
		OnLateResult: func(r smpp.LateResult) { late <- r }})
	for i, tc := range []struct {
		to     string
		status pdu.Status
	}{{"+15550003001", pdu.StatusOK}, {"+15550003002", pdu.StatusInvDstAdr}} {
		ref := &struct{ n int }{i}
		res, err := p.Submit(testCtx(t), &smpp.Message{From: "+15550001111", To: tc.to, Text: "slow answer", Ref: ref})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Parts) != 1 || !errors.Is(res.Parts[0].Err, smpp.ErrResponseTimeout) {
			t.Fatalf("%s: result %+v, want a response timeout", tc.to, res.Parts)
		}
		var lr smpp.LateResult
		select {
		case lr = <-late:
		case <-time.After(20 * time.Second):
			t.Fatalf("%s: no late result within 20s", tc.to)
		}
		if lr.Ref != ref || lr.Part != 0 || lr.Parts != 1 || lr.Result.Err != nil || lr.Result.Status != tc.status || lr.Result.Attempts != 1 {
			t.Fatalf("%s: late result %+v", tc.to, lr)
		}
		if tc.status == pdu.StatusOK {
			msgs := srv.Messages()
			if len(msgs) != 1 || lr.Result.MessageID != msgs[0].ID {
				t.Fatalf("late id %q, the SMSC's messages %+v", lr.Result.MessageID, msgs)
			}
		}
	}
	st := p.Stats()
	if st.LateHanded != 2 || st.LateFolded != 0 || st.Binds[0].Total.LateResponses != 2 {
		t.Fatalf("late handed %d, folded %d, session late %d; want 2, 0, 2", st.LateHanded, st.LateFolded, st.Binds[0].Total.LateResponses)
	}
	if n := srv.Stats().SubmitSM; n != 2 {
		t.Fatalf("%d submits, want 2: nothing is resent", n)
	}
}

// TestPoolLateResultFoldedIntoSubmit: with a window of one, the second part
// of a long message waits for the first one's slot, which its late response
// frees: that response goes into the Submit result (both parts accepted),
// not to OnLateResult, and it wakes the pool to send the next part.
func TestPoolLateResultFoldedIntoSubmit(t *testing.T) {
	srv := startSMSC(t, smsc.Config{Behaviour: smsc.Behaviour{Rules: []smsc.Rule{
		{Dest: "15550003011", Segment: 1, ResponseDelay: smsc.Duration(500 * time.Millisecond)},
	}}})
	late := make(chan smpp.LateResult, 4)
	p := startPool(t, srv, smpp.PoolConfig{Binds: 1,
		Session:      smpp.SessionConfig{Window: 1, ResponseTimeout: 150 * time.Millisecond, WindowStuckAfter: time.Minute},
		OnLateResult: func(r smpp.LateResult) { late <- r }})
	type outcome struct {
		res smpp.SubmitResult
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		res, err := p.Submit(testCtx(t), &smpp.Message{From: "+15550001111", To: "+15550003011", Text: strings.Repeat("two parts of text ", 10)})
		done <- outcome{res, err}
	}()
	var res smpp.SubmitResult
	select {
	case o := <-done:
		if o.err != nil {
			t.Fatal(o.err)
		}
		res = o.res
	case <-time.After(20 * time.Second):
		t.Fatal("Submit still waiting after 20s: the freed slot did not wake the pool")
	}
	if len(res.Parts) != 2 {
		t.Fatalf("%d parts, want 2", len(res.Parts))
	}
	requireAllOK(t, []smpp.SubmitResult{res})
	if res.Parts[0].MessageID == "" || res.Parts[1].MessageID == "" {
		t.Fatalf("parts without ids: %+v", res.Parts)
	}
	if st := p.Stats(); st.LateFolded != 1 || st.LateHanded != 0 {
		t.Fatalf("late folded %d, handed %d; want 1, 0", st.LateFolded, st.LateHanded)
	}
	select {
	case lr := <-late:
		t.Fatalf("a folded response also went to OnLateResult: %+v", lr)
	default:
	}
}

// TestPoolLateBeforeItsTimeout: a late response handled before the
// timeout it follows is what the part's result says, not the timeout.
func TestPoolLateBeforeItsTimeout(t *testing.T) {
	p := smpp.NewPool(smpp.PoolConfig{Addr: "127.0.0.1:1", ReconnectMin: time.Second,
		OnLateResult: func(r smpp.LateResult) { t.Errorf("handed on: %+v", r) }})
	defer p.Close(testCtx(t))
	r := smpp.LateBeforeItsTimeout(p, "77")
	if r.Err != nil || r.Status != pdu.StatusOK || r.MessageID != "77" {
		t.Fatalf("part result %+v, want the late response", r)
	}
	if st := p.Stats(); st.LateFolded != 1 || st.LateHanded != 0 {
		t.Fatalf("late folded %d, handed %d; want 1, 0", st.LateFolded, st.LateHanded)
	}
}
