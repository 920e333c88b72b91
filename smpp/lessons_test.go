package smpp_test

import (
	"bytes"
	"context"
	"errors"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"smppbridge/smpp"
	"smppbridge/smpp/pdu"
	"smppbridge/testharness/smsc"
)

// Tests for lessons of /work/shared/reference/peer-lessons.md about the
// life of binds: leaks, hangs and deadlocks other SMPP clients had.

// poolGoroutines counts the goroutines running code of package smpp (the
// pool and its sessions), leaving out the simulator's and the test's own.
func poolGoroutines() (int, string) {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	count := 0
	var ours bytes.Buffer
	for _, g := range bytes.Split(buf, []byte("\n\n")) {
		if bytes.Contains(g, []byte("\nsmppbridge/smpp.")) && !bytes.Contains(g, []byte("smppbridge/testharness")) &&
			!bytes.Contains(g, []byte("smppbridge/smpp_test.")) {
			count++
			ours.Write(g)
			ours.WriteString("\n\n")
		}
	}
	return count, ours.String()
}

// TestPoolGoroutinesBoundedAcrossReconnects (lesson 37, fiorix/go-smpp#79:
// one reader goroutine leaked per failed reconnect): many refused binds,
// binds that time out unanswered, and dropped binds leave the pool with
// no more goroutines than it had with its binds up.
func TestPoolGoroutinesBoundedAcrossReconnects(t *testing.T) {
	srv := startSMSC(t, smsc.Config{})
	p := startPool(t, srv, smpp.PoolConfig{Name: "leak", Binds: 2,
		ReconnectMin: 2 * time.Millisecond, ReconnectMax: 5 * time.Millisecond})
	pollUntil(t, "the pool's binds", func() bool { return p.Stats().BindsUp == 2 })
	base, _ := poolGoroutines()
	if base < 2*4 { // two sessions of four goroutines each, at least
		t.Fatalf("only %d goroutines counted with two binds up: the count misses them", base)
	}

	// Refused binds.
	if err := srv.SetBehaviour(smsc.Behaviour{RefuseBinds: true}); err != nil {
		t.Fatal(err)
	}
	srv.DropBinds("")
	waitSMSC(t, srv, "bind refusals", func(st smsc.Stats) bool { return st.BindsRefused >= 60 })
	if err := srv.SetBehaviour(smsc.Behaviour{RefuseBinds: false}); err != nil {
		t.Fatal(err)
	}
	// Binds dropped over and over.
	for i := range 15 {
		waitSMSC(t, srv, "binds back", func(st smsc.Stats) bool { return st.BindsActive == 2 })
		pollUntil(t, "the pool's binds", func() bool { return p.Stats().BindsUp == 2 })
		if i < 14 {
			srv.DropBinds("")
		}
	}
	// Goroutines of ended sessions finish just after the session ends:
	// polled, nothing reports it.
	deadline := time.Now().Add(waitTime)
	for {
		n, stacks := poolGoroutines()
		if n <= base {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines in package smpp after the reconnects, %d before:\n%s", n, base, stacks)
		}
		time.Sleep(10 * time.Millisecond)
	}
	requireAllOK(t, submitAll(t, p, testCtx(t), 2, numbered(4, nil)))
}

// silentSMSC accepts connections and reads whatever comes, answering
// nothing: a carrier whose SMPP process hangs behind a live TCP port.
func silentSMSC(t *testing.T) (addr string, accepted *atomic.Int64) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	accepted = new(atomic.Int64)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				buf := make([]byte, 4096)
				for {
					if _, err := c.Read(buf); err != nil {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String(), accepted
}

// TestPoolRebindNeverHangs (lesson 24, cloudhopper-smpp#117: threads hung
// for ever creating the channel during a rebind): against an SMSC that
// takes the TCP connection and never answers the bind, each attempt gives
// up after BindTimeout and the pool tries again; a Submit meanwhile ends
// with its context, and Close returns at once even with a bind attempt
// under way whose timeout is far off.
func TestPoolRebindNeverHangs(t *testing.T) {
	addr, accepted := silentSMSC(t)
	p := smpp.NewPool(smpp.PoolConfig{Name: "silent", Addr: addr, Binds: 2,
		Session:      smpp.SessionConfig{SystemID: "x", Password: "y", BindTimeout: 100 * time.Millisecond},
		ReconnectMin: 5 * time.Millisecond, ReconnectMax: 10 * time.Millisecond})
	closed := false
	t.Cleanup(func() {
		if !closed {
			p.Close(context.Background())
		}
	})
	pollUntil(t, "bind attempts to time out and start again", func() bool { return accepted.Load() >= 6 })

	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	res, err := p.Submit(ctx, numbered(1, nil)[0])
	if err == nil {
		err = res.Parts[0].Err
	}
	if !errors.Is(err, smpp.ErrNotSent) {
		t.Fatalf("Submit with no bind up: %v, want ErrNotSent", err)
	}

	// The next attempts wait a minute for their bind response.
	p2 := smpp.NewPool(smpp.PoolConfig{Name: "silent-long", Addr: addr, Binds: 2,
		Session: smpp.SessionConfig{SystemID: "x", Password: "y", BindTimeout: time.Minute}})
	before := accepted.Load()
	pollUntil(t, "the second pool's bind attempts", func() bool { return accepted.Load() >= before+2 })
	for _, pl := range []*smpp.Pool{p, p2} {
		start := time.Now()
		done := make(chan struct{})
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			pl.Close(ctx)
			close(done)
		}()
		select {
		case <-done:
		case <-time.After(waitTime):
			t.Fatalf("Close still waiting after %v with bind attempts under way", waitTime)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Fatalf("Close took %v with bind attempts under way", d)
		}
	}
	closed = true
}

// TestPoolSubmitAndCloseWhileSMSCDrops (lessons 29 and 33, gosmpp#76: Submit
// and close deadlocked when the server dropped the connection; gosmpp#84/#87:
// a nil pointer panic on close): senders keep submitting while the SMSC
// drops connections at random, and Close comes in the middle of it. Every
// Submit returns, Close returns, a Submit after Close says ErrClosed, and a
// second Close is harmless.
func TestPoolSubmitAndCloseWhileSMSCDrops(t *testing.T) {
	srv := startSMSC(t, smsc.Config{Behaviour: smsc.Behaviour{DropRate: 0.05}})
	p := smpp.NewPool(smpp.PoolConfig{Name: "drops", Addr: srv.Addr(), Binds: 2,
		Session:      smpp.SessionConfig{SystemID: "x", Password: "y", Window: 5, ResponseTimeout: time.Second},
		ReconnectMin: 2 * time.Millisecond, ReconnectMax: 5 * time.Millisecond})
	var wg sync.WaitGroup
	var submits, answered atomic.Int64
	stop := make(chan struct{})
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 10000; i++ {
				select {
				case <-stop:
					return
				default:
				}
				ctx, cancel := context.WithTimeout(context.Background(), waitTime)
				res, err := p.Submit(ctx, numbered(1, func(int) bool { return i%4 == 0 })[0])
				cancel()
				submits.Add(1)
				if errors.Is(err, smpp.ErrClosed) {
					return
				}
				if err == nil && res.Parts[0].Err == nil {
					answered.Add(1)
				}
			}
		}()
	}
	waitSMSC(t, srv, "dropped binds under traffic", func(st smsc.Stats) bool { return st.Drops >= 5 && st.Messages >= 50 })
	closeDone := make(chan struct{})
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		p.Close(ctx)
		close(closeDone)
	}()
	select {
	case <-closeDone:
	case <-time.After(waitTime):
		t.Fatalf("Close still waiting after %v", waitTime)
	}
	close(stop)
	waitGroup(t, &wg, "senders")
	if _, err := p.Submit(context.Background(), numbered(1, nil)[0]); !errors.Is(err, smpp.ErrClosed) {
		t.Fatalf("Submit after Close: %v, want ErrClosed", err)
	}
	if err := p.Close(context.Background()); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if answered.Load() == 0 {
		t.Fatalf("no submit answered of %d", submits.Load())
	}
	t.Logf("%d submits, %d answered, %d binds dropped", submits.Load(), answered.Load(), srv.Stats().Drops)
}

// TestSessionKeepAliveWhileHandlerBusy (lesson 25, cloudhopper-smpp#134:
// enquire_link timed out although its response had arrived, because the
// thread that should read it was busy): with the inbound handler stuck on
// one deliver_sm and its queue full, the session still reads the SMSC's
// enquire_link_resp, so the bind lives on past many dead-link timeouts;
// the deliver_sm is answered once the handler returns.
func TestSessionKeepAliveWhileHandlerBusy(t *testing.T) {
	release := make(chan struct{})
	var releaseOnce sync.Once
	unblock := func() { releaseOnce.Do(func() { close(release) }) }
	s, p := fakeBind(t, smpp.SessionConfig{EnquireLinkInterval: 20 * time.Millisecond, DeadLinkTimeout: 100 * time.Millisecond,
		InboundQueue: 1, Handler: func(in *smpp.Inbound) {
			<-release
			in.Respond(pdu.StatusOK)
		}})
	t.Cleanup(unblock) // after fakeBind's: runs first, so a failing test does not leave Close waiting on the handler
	held := p.request(&pdu.PDU{Header: pdu.Header{ID: pdu.DeliverSM}, ShortMessage: []byte("held by the handler")})
	// One of these waits in the queue, or both are answered 0x14 when they
	// come before the handler took the first.
	p.request(&pdu.PDU{Header: pdu.Header{ID: pdu.DeliverSM}, ShortMessage: []byte("queued")})
	p.request(&pdu.PDU{Header: pdu.Header{ID: pdu.DeliverSM}, ShortMessage: []byte("overflow")})
	start := time.Now()
	links := 0
	for links < 20 || time.Since(start) < 500*time.Millisecond { // five dead-link timeouts at least
		if links > 1000 {
			t.Fatal("more than 1000 enquire_links")
		}
		q := p.read()
		switch q.ID {
		case pdu.EnquireLink:
			links++
			p.respond(q, pdu.StatusOK, "")
		case pdu.DeliverSMResp:
			if q.Seq == held || q.Status == pdu.StatusOK {
				t.Fatalf("deliver_sm_resp seq %d status %v while the handler is stuck", q.Seq, q.Status)
			}
		default:
			t.Fatalf("unexpected %s", q.ID)
		}
		select {
		case <-s.Done():
			t.Fatalf("session ended with the keep-alives answered: %v", s.Err())
		default:
		}
	}
	unblock()
	for i := 0; ; i++ {
		if i == 1000 {
			t.Fatal("no deliver_sm_resp for the held deliver_sm among 1000 PDUs")
		}
		q := p.read()
		switch {
		case q.ID == pdu.EnquireLink:
			p.respond(q, pdu.StatusOK, "")
			continue
		case q.ID == pdu.DeliverSMResp && q.Seq != held:
			continue // the queued one, if it was queued
		case q.ID != pdu.DeliverSMResp || q.Status != pdu.StatusOK:
			t.Fatalf("after release: %s seq %d status %v, want deliver_sm_resp %d OK", q.ID, q.Seq, q.Status, held)
		}
		break
	}
}
