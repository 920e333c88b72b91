package smpp_test

import (
	"bufio"
	"context"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"smppbridge/smpp"
	"smppbridge/smpp/pdu"
	"smppbridge/testharness/smsc"
)

// waitTime bounds every wait: generous for -race on two cores, only ever
// reached when a test is failing.
const waitTime = 15 * time.Second

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), waitTime)
	t.Cleanup(cancel)
	return ctx
}

// startSMSC starts a simulator with a fixed seed so faults replay identically.
func startSMSC(t testing.TB, cfg smsc.Config) *smsc.Server {
	t.Helper()
	if cfg.Seed == 0 {
		cfg.Seed = 1
	}
	srv, err := smsc.Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv
}

// waitSMSC waits for a condition on the simulator's counters.
func waitSMSC(t testing.TB, srv *smsc.Server, what string, cond func(smsc.Stats) bool) smsc.Stats {
	t.Helper()
	var last smsc.Stats
	if err := srv.WaitFor(testCtx(t), func() bool { last = srv.Stats(); return cond(last) }); err != nil {
		t.Fatalf("waiting for %s: %v; stats %+v", what, err, last.Counters)
	}
	return last
}

// pollUntil is for conditions of the client that have no notification (the
// pool's view of its binds); it polls with a deadline.
func pollUntil(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTime)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// bindSession dials the simulator and binds one session.
func bindSession(t testing.TB, addr string, cfg smpp.SessionConfig) *smpp.Session {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, waitTime)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.SystemID == "" {
		cfg.SystemID, cfg.Password = "test", "pw"
	}
	s, err := smpp.Bind(testCtx(t), conn, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitTime)
		defer cancel()
		s.Close(ctx)
	})
	return s
}

func submitPDU(text string) *pdu.PDU {
	return &pdu.PDU{
		Header:       pdu.Header{ID: pdu.SubmitSM},
		Source:       pdu.Address{TON: 1, NPI: 1, Addr: []byte("15550001111")},
		Dest:         pdu.Address{TON: 1, NPI: 1, Addr: []byte("15550002222")},
		ShortMessage: []byte(text),
	}
}

// waitDone waits for a session to end.
func waitDone(t testing.TB, s *smpp.Session) {
	t.Helper()
	select {
	case <-s.Done():
	case <-time.After(waitTime):
		t.Fatal("session did not end")
	}
}

// results collects asynchronous Send outcomes.
type results struct {
	mu  sync.Mutex
	got map[int]smpp.Result
	ch  chan int
}

func newResults(n int) *results { return &results{got: map[int]smpp.Result{}, ch: make(chan int, n)} }

func (r *results) cb(i int) func(smpp.Result) {
	return func(res smpp.Result) {
		r.mu.Lock()
		r.got[i] = res
		r.mu.Unlock()
		r.ch <- i
	}
}

// wait waits for n more callbacks.
func (r *results) wait(t testing.TB, n int) {
	t.Helper()
	tm := time.NewTimer(waitTime)
	defer tm.Stop()
	for i := 0; i < n; i++ {
		select {
		case <-r.ch:
		case <-tm.C:
			t.Fatalf("only %d of %d results arrived", i, n)
		}
	}
}

func (r *results) get(i int) smpp.Result {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.got[i]
}

// ---- a raw fake SMSC, for what the simulator cannot be made to do ----

// peer is the SMSC side of one connection, driven by the test.
type peer struct {
	t    testing.TB
	conn net.Conn
	r    *bufio.Reader
	seq  uint32
}

// fakeBind starts a listener on 127.0.0.1:0, binds a session to it and
// returns both ends. The peer answers the bind with ESME_ROK.
func fakeBind(t testing.TB, cfg smpp.SessionConfig) (*smpp.Session, *peer) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	type accepted struct {
		p   *peer
		err error
	}
	ch := make(chan accepted, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			ch <- accepted{err: err}
			return
		}
		ch <- accepted{p: &peer{t: t, conn: c, r: bufio.NewReader(c), seq: 1000}}
	}()
	conn, err := net.DialTimeout("tcp", ln.Addr().String(), waitTime)
	if err != nil {
		t.Fatal(err)
	}
	a := <-ch
	if a.err != nil {
		t.Fatal(a.err)
	}
	p := a.p
	t.Cleanup(func() { p.conn.Close() })
	if cfg.SystemID == "" {
		cfg.SystemID = "fake"
	}
	type bound struct {
		s   *smpp.Session
		err error
	}
	bc := make(chan bound, 1)
	go func() {
		s, err := smpp.Bind(context.Background(), conn, cfg)
		bc <- bound{s, err}
	}()
	req := p.read()
	if req.ID != pdu.BindTransceiver && req.ID != pdu.BindTransmitter && req.ID != pdu.BindReceiver {
		t.Fatalf("first PDU is %s, want a bind", req.ID)
	}
	p.write(&pdu.PDU{Header: pdu.Header{ID: req.ID.Resp(), Seq: req.Seq}, SystemID: []byte("fake")})
	b := <-bc
	if b.err != nil {
		t.Fatal(b.err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		p.conn.Close()
		b.s.Close(ctx)
	})
	return b.s, p
}

// read returns the next PDU from the session; its slices are its own.
func (p *peer) read() pdu.PDU {
	p.t.Helper()
	p.conn.SetReadDeadline(time.Now().Add(waitTime))
	frame, err := pdu.ReadFrame(p.r, nil, 0)
	if err != nil {
		p.t.Fatalf("peer read: %v", err)
	}
	var q pdu.PDU
	if err := pdu.Decode(frame, &q); err != nil {
		p.t.Fatalf("peer decode: %v", err)
	}
	return q
}

// expect reads the next PDU and checks its command.
func (p *peer) expect(id pdu.CommandID) pdu.PDU {
	p.t.Helper()
	q := p.read()
	if q.ID != id {
		p.t.Fatalf("got %s status %v seq %d, want %s", q.ID, q.Status, q.Seq, id)
	}
	return q
}

// readEOF waits for the session to close the connection.
func (p *peer) readEOF() {
	p.t.Helper()
	p.conn.SetReadDeadline(time.Now().Add(waitTime))
	_, err := pdu.ReadFrame(p.r, nil, 0)
	if err == nil {
		p.t.Fatal("peer got a PDU, want the connection closed")
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		p.t.Fatal("connection still open")
	}
}

func (p *peer) write(q *pdu.PDU) {
	p.t.Helper()
	b, err := pdu.Append(nil, q)
	if err != nil {
		p.t.Fatal(err)
	}
	p.writeRaw(b)
}

func (p *peer) writeRaw(b []byte) {
	p.t.Helper()
	if _, err := p.conn.Write(b); err != nil {
		p.t.Fatalf("peer write: %v", err)
	}
}

// request sends an SMSC-originated request with the peer's own numbering
// unless q.Seq is already set.
func (p *peer) request(q *pdu.PDU) uint32 {
	p.t.Helper()
	if q.Seq == 0 {
		p.seq++
		q.Seq = p.seq
	}
	p.write(q)
	return q.Seq
}

func (p *peer) respond(req pdu.PDU, status pdu.Status, msgID string) {
	p.t.Helper()
	p.write(&pdu.PDU{Header: pdu.Header{ID: req.ID.Resp(), Status: status, Seq: req.Seq}, MessageID: []byte(msgID)})
}
