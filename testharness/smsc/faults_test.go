package smsc_test

import (
	"testing"
	"time"

	"smppbridge/testharness/smsc"
)

// respStatuses reads n submit_sm_resps and returns their statuses by sequence number.
func respStatuses(t testing.TB, e *esme, n int) map[uint32]uint32 {
	t.Helper()
	out := map[uint32]uint32{}
	for i := 0; i < n; i++ {
		p := e.expect(t, idSubmitSMResp)
		out[p.Seq] = p.Status
	}
	return out
}

func submitBurst(t testing.TB, e *esme, n int, m sm) []uint32 {
	t.Helper()
	var seqs []uint32
	var buf []byte
	for i := 0; i < n; i++ { // one write: back to back, whatever the scheduler does
		seq, b := e.submitSM(m)
		seqs = append(seqs, seq)
		buf = append(buf, b...)
	}
	e.send(t, buf)
	return seqs
}

func TestWindowThrottle(t *testing.T) {
	srv := startSMSC(t, smsc.Config{Behaviour: smsc.Behaviour{Window: 2,
		ResponseLatency: smsc.Dist{Min: smsc.Duration(200 * time.Millisecond)}}})
	e := bound(t, srv, idBindTX, "a", "b")
	seqs := submitBurst(t, e, 4, sm{src: "1", dst: "2", text: gsm7("x")})
	got := respStatuses(t, e, 4)
	want := []uint32{stOK, stOK, stThrottled, stThrottled}
	for i, seq := range seqs {
		if got[seq] != want[i] {
			t.Fatalf("statuses by seq %v, want %v in order %v", got, want, seqs)
		}
	}
	st := srv.Stats()
	if st.WindowExceeded != 2 || st.Throttled != 2 || st.Messages != 2 {
		t.Errorf("stats %+v", st.Counters)
	}
	// Answered requests leave the window.
	e.submitOK(t, sm{src: "1", dst: "2", text: gsm7("x")})
}

func TestWindowDrop(t *testing.T) {
	srv := startSMSC(t, smsc.Config{Behaviour: smsc.Behaviour{Window: 1, WindowAction: "drop",
		ResponseLatency: smsc.Dist{Min: smsc.Duration(time.Second)}}})
	e := bound(t, srv, idBindTX, "a", "b")
	submitBurst(t, e, 2, sm{src: "1", dst: "2", text: gsm7("x")})
	e.expectClosed(t)
	st := waitFor(t, srv, "the bind gone", func(s smsc.Stats) bool { return s.BindsActive == 0 })
	if st.WindowExceeded != 1 || st.Drops != 1 {
		t.Errorf("stats %+v", st.Counters)
	}
}

func TestRateLimit(t *testing.T) {
	t.Run("burst then throttled", func(t *testing.T) {
		// 1 segment/s: no token comes back while the burst is handled.
		srv := startSMSC(t, smsc.Config{Behaviour: smsc.Behaviour{MaxSegmentsPerSecond: 1, RateBurst: 5}})
		e := bound(t, srv, idBindTX, "a", "b")
		seqs := submitBurst(t, e, 8, sm{src: "1", dst: "2", text: gsm7("x")})
		got := respStatuses(t, e, 8)
		throttled := 0
		for i, seq := range seqs {
			if got[seq] == stThrottled {
				throttled++
			} else if i >= 5 || got[seq] != stOK {
				t.Fatalf("part %d: status %#x", i, got[seq])
			}
		}
		if throttled != 3 || srv.Stats().Throttled != 3 {
			t.Fatalf("%d throttled, want 3", throttled)
		}
	})

	t.Run("counts segments, not PDUs", func(t *testing.T) {
		srv := startSMSC(t, smsc.Config{Behaviour: smsc.Behaviour{MaxSegmentsPerSecond: 1, RateBurst: 3}})
		e := bound(t, srv, idBindTX, "a", "b")
		// One PDU, three segments: takes the whole bucket.
		e.submitOK(t, sm{src: "1", dst: "2", tlvs: []tlv{{tagMessagePayload, gsm7(longText(400))}}})
		seq := e.submit(t, sm{src: "1", dst: "2", text: gsm7("x")})
		e.expectResp(t, idSubmitSMResp, seq, stThrottled)
	})

	t.Run("per account", func(t *testing.T) {
		srv := startSMSC(t, smsc.Config{Behaviour: smsc.Behaviour{MaxSegmentsPerSecond: 1, RateBurst: 1}})
		a1, a2 := bound(t, srv, idBindTX, "one", "x"), bound(t, srv, idBindTX, "one", "x")
		b := bound(t, srv, idBindTX, "two", "x")
		a1.submitOK(t, sm{src: "1", dst: "2", text: gsm7("x")})
		seq := a2.submit(t, sm{src: "1", dst: "2", text: gsm7("x")}) // same account, other bind
		a2.expectResp(t, idSubmitSMResp, seq, stThrottled)
		b.submitOK(t, sm{src: "1", dst: "2", text: gsm7("x")})
	})

	t.Run("tokens refill", func(t *testing.T) {
		const rate = 20 // one token per 50 ms
		srv := startSMSC(t, smsc.Config{Behaviour: smsc.Behaviour{MaxSegmentsPerSecond: rate, RateBurst: 1}})
		e := bound(t, srv, idBindTX, "a", "b")
		start := time.Now() // no earlier than the bucket was emptied
		seqs := submitBurst(t, e, 2, sm{src: "1", dst: "2", text: gsm7("x")})
		got := respStatuses(t, e, 2)
		if got[seqs[0]] != stOK || got[seqs[1]] != stThrottled {
			t.Fatalf("statuses %v", got)
		}
		// Retry as an ESME would, at a steady pace, until a token is back.
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		deadline := time.After(waitTime)
		for {
			seq := e.submit(t, sm{src: "1", dst: "2", text: gsm7("x")})
			if p := e.expect(t, idSubmitSMResp); p.Seq == seq && p.Status == stOK {
				break
			}
			select {
			case <-tick.C:
			case <-deadline:
				t.Fatal("never accepted again")
			}
		}
		if d := time.Since(start); d < 45*time.Millisecond { // 50 ms, less float rounding
			t.Fatalf("accepted again %v after the bucket emptied: faster than %d/s", d, rate)
		}
	})
}

func TestQueueFullPattern(t *testing.T) {
	srv := startSMSC(t, smsc.Config{Behaviour: smsc.Behaviour{QueueFullEvery: 3, QueueFullBurst: 2}})
	e := bound(t, srv, idBindTX, "a", "b")
	seqs := submitBurst(t, e, 11, sm{src: "1", dst: "2", text: gsm7("x")})
	got := respStatuses(t, e, 11)
	want := []uint32{0, 0, 0, stMsgQFul, stMsgQFul, 0, 0, 0, stMsgQFul, stMsgQFul, 0}
	for i, seq := range seqs {
		if got[seq] != want[i] {
			t.Fatalf("submit %d: status %#x; want pattern %v", i, got[seq], want)
		}
	}
	if st := srv.Stats(); st.QueueFull != 4 || st.Messages != 7 {
		t.Errorf("stats %+v", st.Counters)
	}
}

func TestResponseLatency(t *testing.T) {
	const lat = 150 * time.Millisecond
	srv := startSMSC(t, smsc.Config{Behaviour: smsc.Behaviour{ResponseLatency: smsc.Dist{Min: smsc.Duration(lat), Max: smsc.Duration(lat + 50*time.Millisecond)}}})
	e := bound(t, srv, idBindTX, "a", "b")
	start := time.Now()
	seq := e.submit(t, sm{src: "1", dst: "2", text: gsm7("slow")})
	// Latency holds the resp, not the session: enquire_link is answered first.
	e.sync(t)
	p := e.expectResp(t, idSubmitSMResp, seq, stOK)
	if d := p.At.Sub(start); d < lat {
		t.Fatalf("resp after %v, before the minimum latency %v", d, lat)
	}
}

func TestNoResponse(t *testing.T) {
	srv := startSMSC(t, smsc.Config{Behaviour: smsc.Behaviour{NoResponseRate: 1}})
	e := bound(t, srv, idBindTX, "a", "b")
	e.submit(t, sm{src: "1", dst: "2", text: gsm7("into the void")})
	e.sync(t) // handled, and not answered
	if st := srv.Stats(); st.NotAnswered != 1 || st.SubmitSM != 1 || st.Messages != 0 {
		t.Fatalf("stats %+v", st.Counters)
	}
}

func TestDropAfterPDUs(t *testing.T) {
	srv := startSMSC(t, smsc.Config{Behaviour: smsc.Behaviour{DropAfterPDUs: 3}})
	e := bound(t, srv, idBindTX, "a", "b")                  // PDU 1
	e.sync(t)                                               // PDU 2
	e.submitOK(t, sm{src: "1", dst: "2", text: gsm7("x")})  // PDU 3
	e.submit(t, sm{src: "1", dst: "2", text: gsm7("lost")}) // PDU 4: dropped unanswered
	e.expectClosed(t)
	st := waitFor(t, srv, "the bind gone", func(s smsc.Stats) bool { return s.BindsActive == 0 })
	if st.Drops != 1 || st.Messages != 1 {
		t.Errorf("stats %+v", st.Counters)
	}
	// The count is per connection: a new one gets three PDUs again.
	e2 := bound(t, srv, idBindTX, "a", "b")
	e2.sync(t)
	e2.sync(t)
}

func TestDropRate(t *testing.T) {
	srv := startSMSC(t, smsc.Config{Behaviour: smsc.Behaviour{DropRate: 1}})
	e := dial(t, srv.Addr())
	e.send(t, simplePDU(idEnquireLink, e.nextSeq()))
	e.expectClosed(t)
	waitFor(t, srv, "the drop counted", func(s smsc.Stats) bool { return s.Drops == 1 })
}

func TestRefuseBinds(t *testing.T) {
	srv := startSMSC(t, smsc.Config{Behaviour: smsc.Behaviour{RefuseBinds: true, BindRefuseStatus: stSysErr}})
	e := dial(t, srv.Addr())
	if p := e.bindAs(t, idBindTRX, "a", "b"); p.Status != stSysErr {
		t.Fatalf("bind: status %#x, want the configured 0x08", p.Status)
	}
	if err := srv.SetBehaviour(smsc.Behaviour{}); err != nil {
		t.Fatal(err)
	}
	e.mustBind(t, idBindTRX, "a", "b") // same connection, now accepted
	if st := srv.Stats(); st.BindsRefused != 1 || st.Binds != 1 {
		t.Errorf("stats %+v", st.Counters)
	}
}

func TestRefuseBindsFor(t *testing.T) {
	const period = 200 * time.Millisecond
	srv := startSMSC(t, smsc.Config{})
	bound(t, srv, idBindTRX, "a", "b") // binds before the refusal stay up
	setAt := time.Now()
	if err := srv.SetBehaviour(smsc.Behaviour{RefuseBindsFor: smsc.Duration(period)}); err != nil {
		t.Fatal(err)
	}
	e := dial(t, srv.Addr())
	if p := e.bindAs(t, idBindTRX, "a", "b"); p.Status != stBindFail {
		t.Fatalf("bind during the refusal: status %#x, want ESME_RBINDFAIL", p.Status)
	}
	// Rebind at a steady pace, as an ESME would, until accepted.
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(waitTime)
	for e.bindAs(t, idBindTRX, "a", "b").Status != stOK {
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatal("binds still refused")
		}
	}
	if d := time.Since(setAt); d < period {
		t.Fatalf("accepted %v after the refusal began, before %v", d, period)
	}
	if st := srv.Stats(); st.BindsActive != 2 || st.BindsRefused < 1 {
		t.Errorf("stats %+v", st.Counters)
	}
}

func TestTLS(t *testing.T) {
	srv := startSMSC(t, smsc.Config{TLSAddr: "127.0.0.1:0"})
	if srv.TLSAddr() == "" {
		t.Fatal("no TLS listener")
	}
	e := dialTLS(t, srv.TLSAddr(), srv.TLSRootCAs())
	e.mustBind(t, idBindTRX, "secure", "x")
	id := e.submitOK(t, sm{src: "1", dst: "2", regDlv: 1, text: gsm7("over TLS")})
	if r := e.expectReceipt(t); r.id != id {
		t.Fatalf("receipt for %s", r.id)
	}
	plain := bound(t, srv, idBindTRX, "plain", "x") // the plain listener still serves
	plain.sync(t)
	tlsBinds := map[string]bool{}
	for _, b := range srv.Binds() {
		tlsBinds[b.SystemID] = b.TLS
	}
	if !tlsBinds["secure"] || tlsBinds["plain"] {
		t.Fatalf("Binds TLS flags %v", tlsBinds)
	}
	// Without the certificate trusted the handshake fails.
	if _, err := dialTLSErr(srv.TLSAddr()); err == nil {
		t.Fatal("TLS handshake succeeded without trusting the simulator's certificate")
	}
}
