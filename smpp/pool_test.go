package smpp_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"smppbridge/smpp"
	"smppbridge/smpp/pdu"
	"smppbridge/testharness/smsc"
)

// submitAll sends msgs from `senders` goroutines and returns each result by
// index. A Submit error is stored as a one-part result carrying it.
func submitAll(t testing.TB, p *smpp.Pool, ctx context.Context, senders int, msgs []*smpp.Message) []smpp.SubmitResult {
	t.Helper()
	out := make([]smpp.SubmitResult, len(msgs))
	work := make(chan int, len(msgs))
	for i := range msgs {
		work <- i
	}
	close(work)
	var wg sync.WaitGroup
	for g := 0; g < senders; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				res, err := p.Submit(ctx, msgs[i])
				if err != nil {
					res.Parts = []smpp.PartResult{{Err: err}}
				}
				out[i] = res
			}
		}()
	}
	wg.Wait()
	return out
}

// waitGroup waits for wg, failing the test instead of hanging.
func waitGroup(t testing.TB, wg *sync.WaitGroup, what string) {
	t.Helper()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(waitTime):
		t.Fatalf("%s still waiting after %v", what, waitTime)
	}
}

func numbered(n int, long func(i int) bool) []*smpp.Message {
	msgs := make([]*smpp.Message, n)
	for i := range msgs {
		text := fmt.Sprintf("msg %05d", i)
		if long != nil && long(i) {
			text += " " + strings.Repeat(fmt.Sprintf("long %05d ", i), 30) // 3 parts
		}
		msgs[i] = &smpp.Message{From: "+15550001111", To: "+15550002222", Text: text}
	}
	return msgs
}

// msgNo reads the number back from a numbered text.
func msgNo(t testing.TB, text string) int {
	t.Helper()
	var n int
	if _, err := fmt.Sscanf(text, "msg %05d", &n); err != nil {
		t.Fatalf("text %.40q: %v", text, err)
	}
	return n
}

func requireAllOK(t testing.TB, res []smpp.SubmitResult) {
	t.Helper()
	for i, r := range res {
		for j, pr := range r.Parts {
			if pr.Err != nil || pr.Status != pdu.StatusOK {
				t.Fatalf("message %d part %d: %+v", i, j, pr)
			}
		}
	}
}

// TestPoolWindowNeverExceeded: with slow responses and many senders the
// pool never has more than Window submits outstanding on a bind; the
// simulator, counting on its side, drops or throttles a bind that does.
func TestPoolWindowNeverExceeded(t *testing.T) {
	for _, action := range []string{"drop", "throttle"} {
		t.Run(action, func(t *testing.T) {
			const window, binds = 4, 3
			srv := startSMSC(t, smsc.Config{Behaviour: smsc.Behaviour{Window: window, WindowAction: action,
				ResponseLatency: smsc.Dist{Min: smsc.Duration(time.Millisecond), Max: smsc.Duration(8 * time.Millisecond)}}})
			p := startPool(t, srv, smpp.PoolConfig{Name: "w", Binds: binds, Session: smpp.SessionConfig{Window: window}})
			msgs := numbered(400, func(i int) bool { return i%10 == 0 })
			var maxInUse atomic.Int64
			stop := make(chan struct{})
			sampled := make(chan struct{})
			go func() { // watch the client's own count while it runs
				defer close(sampled)
				for {
					for _, b := range p.Stats().Binds {
						if v := int64(b.Session.WindowInUse); v > maxInUse.Load() {
							maxInUse.Store(v)
						}
					}
					select {
					case <-stop:
						return
					case <-time.After(time.Millisecond):
					}
				}
			}()
			res := submitAll(t, p, testCtx(t), 60, msgs)
			close(stop)
			<-sampled
			requireAllOK(t, res)
			st := srv.Stats()
			if st.WindowExceeded != 0 || st.Drops != 0 || st.Throttled != 0 {
				t.Fatalf("simulator: window exceeded %d, drops %d, throttled %d", st.WindowExceeded, st.Drops, st.Throttled)
			}
			if st.Messages != int64(len(msgs)) || st.Binds != binds {
				t.Fatalf("simulator: %d messages over %d binds", st.Messages, st.Binds)
			}
			if m := maxInUse.Load(); m != window {
				t.Fatalf("client window in use peaked at %d, want the window (%d) full", m, window)
			}
			ps := p.Stats()
			var submitted int64
			for _, b := range ps.Binds {
				if b.Session.Submitted == 0 {
					t.Fatalf("bind %d carried nothing: %+v", b.Index, ps.Binds)
				}
				submitted += b.Session.Submitted
				var n int64
				for _, c := range b.Session.LatencyCounts {
					n += c
				}
				if n != b.Session.Submitted || b.Session.LatencySum <= 0 || b.Session.PDUsOut < b.Session.Submitted || b.Session.PDUsIn < b.Session.Submitted {
					t.Fatalf("bind %d stats inconsistent: %+v", b.Index, b.Session)
				}
			}
			if submitted != st.Segments {
				t.Fatalf("pool counted %d accepted submits, simulator %d", submitted, st.Segments)
			}
		})
	}
}

// TestPoolBindsDroppedMidWindow: binds that die with submits outstanding
// (after N PDUs, or all at once) leave every part either acknowledged or
// outcome unknown — never silently lost or resent; acknowledged ones are at
// the SMSC; the pool reconnects and carries on.
func TestPoolBindsDroppedMidWindow(t *testing.T) {
	check := func(t *testing.T, srv *smsc.Server, res []smpp.SubmitResult) (acked, unknown int) {
		t.Helper()
		// Long messages missing a part are recorded after ConcatTimeout.
		var acks []string
		for _, r := range res {
			for _, pr := range r.Parts {
				if pr.Err == nil && pr.Status == pdu.StatusOK {
					acks = append(acks, pr.MessageID)
				}
			}
		}
		ids := map[string]bool{}
		srv.WaitFor(testCtx(t), func() bool {
			clear(ids)
			for _, m := range srv.Messages() {
				for _, id := range m.IDs {
					ids[id] = true
				}
			}
			for _, id := range acks {
				if !ids[id] {
					return false
				}
			}
			return true
		})
		seen := map[string]bool{}
		for i, r := range res {
			for j, pr := range r.Parts {
				switch {
				case pr.Err == nil && pr.Status == pdu.StatusOK:
					if !ids[pr.MessageID] || seen[pr.MessageID] {
						t.Fatalf("message %d part %d acknowledged as %q: at the SMSC %v, seen before %v", i, j, pr.MessageID, ids[pr.MessageID], seen[pr.MessageID])
					}
					seen[pr.MessageID] = true
					acked++
				case errors.Is(pr.Err, smpp.ErrOutcomeUnknown) && !errors.Is(pr.Err, smpp.ErrNotSent):
					unknown++
				default:
					t.Fatalf("message %d part %d: %+v, want acknowledged or outcome unknown", i, j, pr)
				}
				if pr.Attempts != 1 {
					t.Fatalf("message %d part %d sent %d times", i, j, pr.Attempts)
				}
			}
		}
		return acked, unknown
	}
	cfg := smpp.PoolConfig{Name: "drop", Binds: 2, Session: smpp.SessionConfig{Window: 10},
		ReconnectMin: 5 * time.Millisecond, ReconnectMax: 20 * time.Millisecond}

	t.Run("DropAfterPDUs", func(t *testing.T) {
		srv := startSMSC(t, smsc.Config{Behaviour: smsc.Behaviour{DropAfterPDUs: 40, ConcatTimeout: smsc.Duration(100 * time.Millisecond),
			ResponseLatency: smsc.Dist{Min: smsc.Duration(time.Millisecond), Max: smsc.Duration(4 * time.Millisecond)}}})
		p := startPool(t, srv, cfg)
		res := submitAll(t, p, testCtx(t), 30, numbered(300, func(i int) bool { return i%7 == 0 }))
		acked, unknown := check(t, srv, res)
		st := srv.Stats()
		if st.Drops == 0 || unknown == 0 || acked == 0 {
			t.Fatalf("drops %d, acknowledged %d, unknown %d: the test did not exercise drops", st.Drops, acked, unknown)
		}
		var reconnects int64
		for _, b := range p.Stats().Binds {
			reconnects += b.Reconnects
		}
		if reconnects == 0 {
			t.Fatal("no reconnects counted")
		}
		t.Logf("%d drops, %d parts acknowledged, %d outcome unknown, %d reconnects", st.Drops, acked, unknown, reconnects)
	})

	t.Run("DropBinds", func(t *testing.T) {
		srv := startSMSC(t, smsc.Config{Behaviour: smsc.Behaviour{ResponseLatency: smsc.Dist{Min: smsc.Duration(300 * time.Millisecond)}}})
		p := startPool(t, srv, cfg)
		msgs := numbered(16, nil)
		done := make(chan []smpp.SubmitResult, 1)
		go func() { done <- submitAll(t, p, context.Background(), len(msgs), msgs) }()
		waitSMSC(t, srv, "every submit outstanding", func(st smsc.Stats) bool { return st.SubmitSM == int64(len(msgs)) })
		srv.DropBinds("")
		res := <-done
		acked, unknown := check(t, srv, res)
		if unknown != len(msgs) || acked != 0 {
			t.Fatalf("acknowledged %d, unknown %d; want all %d unknown", acked, unknown, len(msgs))
		}
		for _, r := range res {
			if !errors.Is(r.Parts[0].Err, smpp.ErrBindLost) {
				t.Fatalf("result %+v, want ErrBindLost", r.Parts[0])
			}
		}
		waitSMSC(t, srv, "the binds back", func(st smsc.Stats) bool { return st.BindsActive == 2 && st.Binds == 4 })
		pollUntil(t, "the pool to see its binds", func() bool { return p.Stats().BindsUp == 2 })
		srv.SetBehaviour(smsc.Behaviour{})
		requireAllOK(t, submitAll(t, p, testCtx(t), 4, numbered(8, nil)))
	})
}

// logRecorder keeps the pool's log records.
type logRecorder struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (l *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRecorder) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	l.recs = append(l.recs, r.Clone())
	l.mu.Unlock()
	return nil
}
func (l *logRecorder) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logRecorder) WithGroup(string) slog.Handler      { return l }

// errs returns the err attribute of every record with msg.
func (l *logRecorder) errs(msg string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, r := range l.recs {
		if r.Message != msg {
			continue
		}
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == "err" {
				out = append(out, a.Value.String())
			}
			return true
		})
	}
	return out
}

func (l *logRecorder) count(level slog.Level, msg string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, r := range l.recs {
		if r.Level == level && r.Message == msg {
			n++
		}
	}
	return n
}

// TestPoolReconnects: after DropBinds, and through a period of refused binds,
// the pool binds again with backoff, logging each change of failure once.
func TestPoolReconnects(t *testing.T) {
	srv := startSMSC(t, smsc.Config{})
	logs := &logRecorder{}
	p := startPool(t, srv, smpp.PoolConfig{Name: "re", Binds: 2, Logger: slog.New(logs),
		ReconnectMin: 10 * time.Millisecond, ReconnectMax: 40 * time.Millisecond})

	// The SMSC unbinds: the pool answers, binds again and says why.
	if n := srv.Unbind(""); n != 2 {
		t.Fatalf("unbind sent to %d binds", n)
	}
	waitSMSC(t, srv, "rebinds after the SMSC's unbind", func(st smsc.Stats) bool { return st.Binds == 4 && st.BindsActive == 2 })
	pollUntil(t, "the pool to see its binds", func() bool { return p.Stats().BindsUp == 2 })
	requireAllOK(t, submitAll(t, p, testCtx(t), 2, numbered(4, nil)))
	for _, e := range logs.errs("bind down") {
		if e != smpp.ErrUnboundByPeer.Error() {
			t.Fatalf("bind down after the SMSC's unbind logged as %q", e)
		}
	}

	srv.DropBinds("")
	waitSMSC(t, srv, "rebinds after DropBinds", func(st smsc.Stats) bool { return st.Binds == 6 && st.BindsActive == 2 })
	pollUntil(t, "the pool to see its binds", func() bool { return p.Stats().BindsUp == 2 })
	requireAllOK(t, submitAll(t, p, testCtx(t), 2, numbered(4, nil)))

	if err := srv.SetBehaviour(smsc.Behaviour{RefuseBindsFor: smsc.Duration(400 * time.Millisecond)}); err != nil {
		t.Fatal(err)
	}
	srv.DropBinds("")
	waitSMSC(t, srv, "rebinds after the refusals", func(st smsc.Stats) bool { return st.Binds == 8 && st.BindsActive == 2 })
	pollUntil(t, "the pool to see its binds", func() bool { return p.Stats().BindsUp == 2 })
	requireAllOK(t, submitAll(t, p, testCtx(t), 2, numbered(4, nil)))

	st := srv.Stats()
	downs := logs.count(slog.LevelWarn, "bind down")
	// Per bind: unbind, drop, drop again, then the refusal: four changes,
	// however many refusals.
	if st.BindsRefused < 6 || downs != 8 {
		t.Fatalf("%d binds refused, %d 'bind down' warnings; want ≥ 6 refusals and 8 warnings", st.BindsRefused, downs)
	}
	if ups := logs.count(slog.LevelInfo, "bind up again"); ups != 6 {
		t.Fatalf("%d 'bind up again' records, want 6", ups)
	}
	for _, b := range p.Stats().Binds {
		if b.Reconnects != 3 || !b.Up || b.LastError != "" {
			t.Fatalf("bind stats %+v", b)
		}
	}
	// Backoff kept the attempts few: 400 ms at 10, 20, 40, 40… ms (−20 %) is
	// at most 16 tries per bind.
	if st.BindsRefused > 2*16 {
		t.Fatalf("%d bind attempts refused in 400 ms", st.BindsRefused)
	}
}

// TestPoolTLS binds over the simulator's TLS listener.
func TestPoolTLS(t *testing.T) {
	srv := startSMSC(t, smsc.Config{TLSAddr: "127.0.0.1:0"})
	p := smpp.NewPool(smpp.PoolConfig{Name: "tls", Addr: srv.TLSAddr(), Binds: 2,
		TLS:     &tls.Config{RootCAs: srv.TLSRootCAs(), ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12},
		Session: smpp.SessionConfig{SystemID: "tls", Password: "pw"}})
	t.Cleanup(func() { p.Close(testCtx(t)) })
	res := submitAll(t, p, testCtx(t), 2, numbered(6, func(i int) bool { return i == 0 }))
	requireAllOK(t, res)
	waitSMSC(t, srv, "both binds", func(st smsc.Stats) bool { return st.BindsActive == 2 })
	binds := srv.Binds()
	if len(binds) != 2 {
		t.Fatalf("binds %+v", binds)
	}
	for _, b := range binds {
		if !b.TLS {
			t.Fatalf("bind %+v is not over TLS", b)
		}
	}
}

// TestPoolStormsKeepOrder: 0x58 (rate) and 0x14 (queue full) storms lose
// nothing, and with one bind and a window of one nothing is reordered: the
// refused submit is resent before anything queued after it.
func TestPoolStormsKeepOrder(t *testing.T) {
	srv := startSMSC(t, smsc.Config{Behaviour: smsc.Behaviour{RefuseBinds: true}})
	p := smpp.NewPool(smpp.PoolConfig{Name: "storm", Addr: srv.Addr(), Binds: 1,
		Session:           smpp.SessionConfig{SystemID: "storm", Window: 1},
		SegmentsPerSecond: 1000, ThrottlePause: 20 * time.Millisecond, RampUp: 100 * time.Millisecond,
		ReconnectMin: 5 * time.Millisecond, ReconnectMax: 10 * time.Millisecond})
	t.Cleanup(func() { p.Close(testCtx(t)) })
	// Queue every message while no bind is up, so the queue order is known.
	msgs := numbered(120, func(i int) bool { return i%6 == 0 })
	res := make([]smpp.SubmitResult, len(msgs))
	var wg sync.WaitGroup
	queued := 0
	for i, m := range msgs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := p.Submit(testCtx(t), m)
			if err != nil {
				r.Parts = []smpp.PartResult{{Err: err}}
			}
			res[i] = r
		}()
		queued += p.Plan(m.Text).Parts
		pollUntil(t, "the message to be queued", func() bool { return p.Stats().Queued == queued })
	}
	if err := srv.SetBehaviour(smsc.Behaviour{MaxSegmentsPerSecond: 200, RateBurst: 5, QueueFullEvery: 15, QueueFullBurst: 3}); err != nil {
		t.Fatal(err)
	}
	waitGroup(t, &wg, "Submits")
	requireAllOK(t, res)
	st := srv.Stats()
	if st.Throttled == 0 || st.QueueFull == 0 {
		t.Fatalf("no storm: throttled %d, queue full %d", st.Throttled, st.QueueFull)
	}
	ps := p.Stats()
	if ps.Resends != st.Throttled+st.QueueFull || ps.ThrottlePauses == 0 {
		t.Fatalf("pool resent %d, paused %d times; simulator refused %d", ps.Resends, ps.ThrottlePauses, st.Throttled+st.QueueFull)
	}
	if b := ps.Binds[0].Session; b.Throttled != st.Throttled || b.QueueFull != st.QueueFull {
		t.Fatalf("bind counted %d throttled, %d queue full; simulator %d, %d", b.Throttled, b.QueueFull, st.Throttled, st.QueueFull)
	}
	got := srv.Messages()
	if len(got) != len(msgs) {
		t.Fatalf("simulator has %d messages, want %d", len(got), len(msgs))
	}
	// Arrival order of every part, across messages.
	type arrival struct {
		at       time.Time
		msg, seq int
	}
	var arr []arrival
	for _, m := range got {
		if m.Incomplete || m.Text != msgs[msgNo(t, m.Text)].Text {
			t.Fatalf("message %+v", m)
		}
		for _, pt := range m.Parts {
			arr = append(arr, arrival{pt.ReceivedAt, msgNo(t, m.Text), pt.Seq})
		}
	}
	sort.SliceStable(arr, func(i, j int) bool { return arr[i].at.Before(arr[j].at) })
	for i := 1; i < len(arr); i++ {
		a, b := arr[i-1], arr[i]
		if a.msg > b.msg || (a.msg == b.msg && a.seq >= b.seq) {
			t.Fatalf("arrival %d: message %d part %d after message %d part %d", i, b.msg, b.seq, a.msg, a.seq)
		}
	}
	var resent int
	for _, r := range res {
		for _, pr := range r.Parts {
			if pr.Attempts > 1 {
				resent++
			}
		}
	}
	t.Logf("throttled %d, queue full %d, pauses %d, parts resent %d", st.Throttled, st.QueueFull, ps.ThrottlePauses, resent)
}

// TestPoolStormsWideWindow: storms with several binds and wide windows lose
// and duplicate nothing.
func TestPoolStormsWideWindow(t *testing.T) {
	srv := startSMSC(t, smsc.Config{Behaviour: smsc.Behaviour{MaxSegmentsPerSecond: 400, RateBurst: 20, QueueFullEvery: 25, QueueFullBurst: 5,
		ResponseLatency: smsc.Dist{Max: smsc.Duration(2 * time.Millisecond)}}})
	p := startPool(t, srv, smpp.PoolConfig{Name: "storm", Binds: 2, Session: smpp.SessionConfig{Window: 10},
		ThrottlePause: 20 * time.Millisecond, RampUp: 100 * time.Millisecond})
	msgs := numbered(250, func(i int) bool { return i%9 == 0 })
	res := submitAll(t, p, testCtx(t), 40, msgs)
	requireAllOK(t, res)
	st := srv.Stats()
	if st.Throttled == 0 {
		t.Fatal("no 0x58 storm happened")
	}
	seen := map[int]bool{}
	for _, m := range srv.Messages() {
		n := msgNo(t, m.Text)
		if seen[n] || m.Incomplete || m.Text != msgs[n].Text {
			t.Fatalf("message %d: duplicate %v, %+v", n, seen[n], m)
		}
		seen[n] = true
	}
	if len(seen) != len(msgs) {
		t.Fatalf("simulator has %d of %d messages", len(seen), len(msgs))
	}
}

// TestPoolLongMessageBackToBack: a long message is paced as all its segments
// at once; its parts then go out in order without pacing gaps between them.
func TestPoolLongMessageBackToBack(t *testing.T) {
	const rate = 50.0
	srv := startSMSC(t, smsc.Config{})
	p := startPool(t, srv, smpp.PoolConfig{Name: "long", Binds: 1, SegmentsPerSecond: rate, Burst: 1})
	long := strings.Repeat("0123456789", 70) // 700 chars: 5 parts
	var msgs []*smpp.Message
	for i := 0; i < 3; i++ {
		msgs = append(msgs, &smpp.Message{From: "+15550001111", To: "+15550002222", Text: fmt.Sprintf("msg %05d %s", i, long)})
		msgs = append(msgs, &smpp.Message{From: "+15550001111", To: "+15550002222", Text: fmt.Sprintf("msg %05d short", 10+i)})
	}
	start := time.Now()
	res := submitAll(t, p, testCtx(t), len(msgs), msgs)
	elapsed := time.Since(start)
	requireAllOK(t, res)
	segs := 0
	for _, r := range res {
		segs += r.Plan.Segments
	}
	if segs != 18 {
		t.Fatalf("%d segments, want 18", segs)
	}
	// 18 segments at 50/s with a bucket of 1: at least 17/50 s.
	if min := time.Duration(float64(segs-1) / rate * float64(time.Second)); elapsed < min*95/100 {
		t.Fatalf("18 segments went out in %v, faster than %v", elapsed, min)
	}
	type arrival struct {
		at  time.Time
		msg int
	}
	var arr []arrival
	for _, m := range srv.Messages() {
		n := msgNo(t, m.Text)
		if len(m.Parts) > 1 {
			span := m.Parts[len(m.Parts)-1].ReceivedAt.Sub(m.Parts[0].ReceivedAt)
			// Paced one by one they would span 4/50 s = 80 ms.
			if span > 40*time.Millisecond {
				t.Fatalf("message %d: parts spread over %v", n, span)
			}
			for i := 1; i < len(m.Parts); i++ {
				if m.Parts[i].ReceivedAt.Before(m.Parts[i-1].ReceivedAt) {
					t.Fatalf("message %d: part %d before part %d", n, m.Parts[i].Seq, m.Parts[i-1].Seq)
				}
			}
		}
		for _, pt := range m.Parts {
			arr = append(arr, arrival{pt.ReceivedAt, n})
		}
	}
	sort.SliceStable(arr, func(i, j int) bool { return arr[i].at.Before(arr[j].at) })
	done := map[int]bool{}
	for i := range arr {
		if i > 0 && arr[i].msg != arr[i-1].msg {
			if done[arr[i].msg] {
				t.Fatalf("message %d's parts interleaved with message %d's", arr[i].msg, arr[i-1].msg)
			}
			done[arr[i-1].msg] = true
		}
	}
}

// TestPoolSubmitContextWhileBindsDown: with every bind down a submit waits
// no longer than its context, even queued behind others that wait longer,
// and the pool does not spin retrying.
func TestPoolSubmitContextWhileBindsDown(t *testing.T) {
	var dials atomic.Int64
	p := smpp.NewPool(smpp.PoolConfig{Name: "down", Addr: "127.0.0.1:1", Binds: 2,
		ReconnectMin: 20 * time.Millisecond, ReconnectMax: 80 * time.Millisecond,
		Dial: func(ctx context.Context, addr string) (net.Conn, error) {
			dials.Add(1)
			return nil, errors.New("carrier unreachable")
		}})
	first := make(chan smpp.SubmitResult, 1)
	go func() {
		r, _ := p.Submit(context.Background(), numbered(1, nil)[0])
		first <- r
	}()
	pollUntil(t, "the first message queued", func() bool { return p.Stats().Queued == 1 })
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	second := make(chan smpp.SubmitResult, 1)
	go func() {
		r, _ := p.Submit(ctx, numbered(1, func(int) bool { return true })[0])
		second <- r
	}()
	var r smpp.SubmitResult
	select {
	case r = <-second:
	case <-time.After(5 * time.Second):
		t.Fatal("Submit still waiting 5 s after its 300 ms context ended")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("Submit returned %v after its 300 ms context", d)
	}
	for _, pr := range r.Parts {
		if !errors.Is(pr.Err, smpp.ErrNotSent) || !errors.Is(pr.Err, context.DeadlineExceeded) {
			t.Fatalf("part %+v, want ErrNotSent with the context's error", pr)
		}
	}
	if n := dials.Load(); n > 2*(300/16+2) {
		t.Fatalf("%d dials in 300 ms with 20 ms minimum backoff", n)
	}
	if q := p.Stats().Queued; q != 1 {
		t.Fatalf("%d parts queued, want only the first message's", q)
	}
	p.Close(testCtx(t))
	select {
	case r := <-first:
		if !errors.Is(r.Parts[0].Err, smpp.ErrNotSent) {
			t.Fatalf("queued message at Close: %+v", r.Parts[0])
		}
	case <-time.After(waitTime):
		t.Fatal("queued Submit not ended by Close")
	}
	if _, err := p.Submit(context.Background(), numbered(1, nil)[0]); !errors.Is(err, smpp.ErrClosed) {
		t.Fatalf("Submit after Close = %v", err)
	}
}

// TestPoolUnencodableMessage: a message no SMSC could parse fails at once
// with ErrNotSent and does not block the carrier's queue.
func TestPoolUnencodableMessage(t *testing.T) {
	srv := startSMSC(t, smsc.Config{})
	p := startPool(t, srv, smpp.PoolConfig{Name: "bad", Binds: 1})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	r, err := p.Submit(ctx, &smpp.Message{From: "+15550001111", To: "+15550002222", Text: "hi", ServiceType: "TOOLONG"})
	if err == nil {
		err = r.Parts[0].Err
	}
	if !errors.Is(err, smpp.ErrNotSent) || !errors.Is(err, pdu.ErrFieldTooLong) {
		t.Fatalf("unencodable message: %v, want ErrNotSent wrapping ErrFieldTooLong", err)
	}
	requireAllOK(t, submitAll(t, p, testCtx(t), 1, numbered(2, nil)))
}

// TestPoolCloseDrains: Close stops taking messages, waits for the window to
// drain, then unbinds every bind.
func TestPoolCloseDrains(t *testing.T) {
	srv := startSMSC(t, smsc.Config{Behaviour: smsc.Behaviour{ResponseLatency: smsc.Dist{Min: smsc.Duration(150 * time.Millisecond)}}})
	p := startPool(t, srv, smpp.PoolConfig{Name: "close", Binds: 2, Session: smpp.SessionConfig{Window: 10}})
	msgs := numbered(12, nil)
	done := make(chan []smpp.SubmitResult, 1)
	go func() { done <- submitAll(t, p, context.Background(), len(msgs), msgs) }()
	waitSMSC(t, srv, "all submits outstanding", func(st smsc.Stats) bool { return st.SubmitSM == int64(len(msgs)) })
	if err := p.Close(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	requireAllOK(t, <-done)
	st := waitSMSC(t, srv, "the unbinds", func(st smsc.Stats) bool { return st.Unbinds == 2 && st.BindsActive == 0 })
	if st.Drops != 0 {
		t.Fatalf("drops %d", st.Drops)
	}
	if _, err := p.Submit(context.Background(), msgs[0]); !errors.Is(err, smpp.ErrClosed) {
		t.Fatalf("Submit after Close = %v", err)
	}
}

// TestPoolCloseWithThrottledInFlight: answers of 0x58 that arrive while the
// pool closes end their Submit (not sent) instead of waiting for a resend
// that will never come.
func TestPoolCloseWithThrottledInFlight(t *testing.T) {
	srv := startSMSC(t, smsc.Config{Behaviour: smsc.Behaviour{MaxSegmentsPerSecond: 1, RateBurst: 1,
		ResponseLatency: smsc.Dist{Min: smsc.Duration(150 * time.Millisecond)}}})
	p := startPool(t, srv, smpp.PoolConfig{Name: "close", Binds: 1, Session: smpp.SessionConfig{Window: 10}})
	msgs := numbered(5, nil)
	done := make(chan []smpp.SubmitResult, 1)
	go func() { done <- submitAll(t, p, context.Background(), len(msgs), msgs) }()
	waitSMSC(t, srv, "all submits outstanding", func(st smsc.Stats) bool { return st.SubmitSM == int64(len(msgs)) })
	p.Close(testCtx(t))
	var res []smpp.SubmitResult
	select {
	case res = <-done:
	case <-time.After(waitTime):
		t.Fatal("Submits of throttled messages still waiting after Close")
	}
	ok, refused := 0, 0
	for _, r := range res {
		pr := r.Parts[0]
		switch {
		case pr.Err == nil && pr.Status == pdu.StatusOK:
			ok++
		case errors.Is(pr.Err, smpp.ErrNotSent) && pr.Status == pdu.StatusThrottled:
			refused++
		default:
			t.Fatalf("result %+v", pr)
		}
	}
	if ok != 1 || refused != 4 {
		t.Fatalf("%d accepted, %d refused; want 1 and 4", ok, refused)
	}
}

// TestBackoffBounds: min·2^(attempt-1), capped, ±20 %.
func TestBackoffBounds(t *testing.T) {
	lo, hi := 100*time.Millisecond, 3*time.Second
	for attempt := 1; attempt <= 12; attempt++ {
		base := lo << (attempt - 1)
		if base > hi {
			base = hi
		}
		var got []time.Duration
		for i := 0; i < 200; i++ {
			d := smpp.Backoff(attempt, lo, hi)
			if d < base*8/10 || d > base*12/10 {
				t.Fatalf("attempt %d: %v outside %v ±20 %%", attempt, d, base)
			}
			got = append(got, d)
		}
		slices.Sort(got)
		if got[0] == got[len(got)-1] {
			t.Fatalf("attempt %d: no jitter", attempt)
		}
	}
	if d := smpp.Backoff(1000, lo, hi); d > hi*12/10 {
		t.Fatalf("attempt 1000: %v", d)
	}
}

// TestPoolPauseWholeCarrier: a 0x14 burst pauses the whole carrier, every
// bind, once per storm; then the rate ramps back up.
func TestPoolPauseWholeCarrier(t *testing.T) {
	const pause = 300 * time.Millisecond
	srv := startSMSC(t, smsc.Config{Behaviour: smsc.Behaviour{QueueFullEvery: 30, QueueFullBurst: 3}})
	p := startPool(t, srv, smpp.PoolConfig{Name: "pause", Binds: 2, Session: smpp.SessionConfig{Window: 5},
		SegmentsPerSecond: 1000, ThrottlePause: pause, RampUp: 500 * time.Millisecond})
	msgs := numbered(50, nil)
	done := make(chan []smpp.SubmitResult, 1)
	go func() { done <- submitAll(t, p, context.Background(), 20, msgs) }()
	pollUntil(t, "a pause", func() bool { return p.Stats().Paused })
	if st := p.Stats(); st.Rate < 0 || st.Rate > 1000 {
		t.Fatalf("rate %v during a pause", st.Rate)
	}
	var res []smpp.SubmitResult
	select {
	case res = <-done:
	case <-time.After(waitTime):
		t.Fatal("Submits still waiting")
	}
	requireAllOK(t, res)
	st := srv.Stats()
	ps := p.Stats()
	// One pause when the three refusals were in flight together; a refusal
	// of a part sent after the pause starts another.
	if st.QueueFull != 3 || ps.ThrottlePauses < 1 || ps.ThrottlePauses > 3 || ps.Resends != 3 {
		t.Fatalf("queue full %d, pauses %d, resends %d; want 3, 1..3, 3", st.QueueFull, ps.ThrottlePauses, ps.Resends)
	}
	if ps.Paused || ps.Rate >= 1000 || ps.Rate <= 0 {
		t.Fatalf("right after the pause: rate %v, paused %v; want ramping up from half or less", ps.Rate, ps.Paused)
	}
	pollUntil(t, "the ramp back to full rate", func() bool { return p.Stats().Rate == 1000 })
	var at []time.Time
	for _, m := range srv.Messages() {
		at = append(at, m.ReceivedAt)
	}
	slices.SortFunc(at, func(a, b time.Time) int { return a.Compare(b) })
	var gap time.Duration
	for i := 1; i < len(at); i++ {
		gap = max(gap, at[i].Sub(at[i-1]))
	}
	if gap < pause*9/10 {
		t.Fatalf("longest silence at the SMSC %v, want the %v pause", gap, pause)
	}
}

// TestPoolThrottleStormOnceInOrder: a whole window answered 0x58 at once is
// one pause; after it the refused submits go again first, in their order,
// then what was queued behind them.
func TestPoolThrottleStormOnceInOrder(t *testing.T) {
	const pause = 150 * time.Millisecond
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	p := smpp.NewPool(smpp.PoolConfig{Name: "fake", Addr: ln.Addr().String(), Binds: 1,
		Session: smpp.SessionConfig{SystemID: "fake", Window: 5}, ThrottlePause: pause, RampUp: 50 * time.Millisecond})
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		p.Close(ctx)
	})
	// Queue 7 messages in a known order before the bind is up.
	msgs := numbered(7, nil)
	res := make([]smpp.SubmitResult, len(msgs))
	var wg sync.WaitGroup
	for i, m := range msgs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res[i], _ = p.Submit(testCtx(t), m)
		}()
		pollUntil(t, "the message queued", func() bool { return p.Stats().Queued == i+1 })
	}
	ln.(*net.TCPListener).SetDeadline(time.Now().Add(waitTime))
	c, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	peer := &peer{t: t, conn: c, r: bufio.NewReader(c)}
	defer c.Close()
	bind := peer.expect(pdu.BindTransceiver)
	peer.write(&pdu.PDU{Header: pdu.Header{ID: pdu.BindTransceiverResp, Seq: bind.Seq}, SystemID: []byte("fake")})

	readTexts := func(n int) ([]pdu.PDU, []int) {
		var reqs []pdu.PDU
		var nums []int
		for i := 0; i < n; i++ {
			q := peer.expect(pdu.SubmitSM)
			reqs = append(reqs, q)
			nums = append(nums, msgNo(t, string(q.ShortMessage)))
		}
		return reqs, nums
	}
	reqs, nums := readTexts(5) // the window
	if !slices.Equal(nums, []int{0, 1, 2, 3, 4}) {
		t.Fatalf("first window carried %v", nums)
	}
	var all []byte
	for _, q := range reqs {
		all, _ = pdu.Append(all, &pdu.PDU{Header: pdu.Header{ID: pdu.SubmitSMResp, Status: pdu.StatusThrottled, Seq: q.Seq}})
	}
	refusedAt := time.Now()
	peer.writeRaw(all)

	reqs, nums = readTexts(5)
	if d := time.Since(refusedAt); d < pause*9/10 {
		t.Fatalf("resent %v after the 0x58s, within the %v pause", d, pause)
	}
	if !slices.Equal(nums, []int{0, 1, 2, 3, 4}) {
		t.Fatalf("after the pause the window carried %v, want the refused ones in order", nums)
	}
	if st := p.Stats(); st.ThrottlePauses != 1 || st.Resends != 5 {
		t.Fatalf("pauses %d, resends %d; want 1 and 5", st.ThrottlePauses, st.Resends)
	}
	for i, q := range reqs {
		peer.respond(q, pdu.StatusOK, fmt.Sprint("id", i))
	}
	reqs, nums = readTexts(2)
	if !slices.Equal(nums, []int{5, 6}) {
		t.Fatalf("then %v, want 5 and 6", nums)
	}
	for i, q := range reqs {
		peer.respond(q, pdu.StatusOK, fmt.Sprint("id", 5+i))
	}
	waitGroup(t, &wg, "Submits")
	for i, r := range res {
		pr := r.Parts[0]
		want := 1
		if i < 5 {
			want = 2
		}
		if pr.Err != nil || pr.Status != pdu.StatusOK || pr.MessageID != fmt.Sprint("id", i) || pr.Attempts != want {
			t.Fatalf("message %d: %+v", i, pr)
		}
	}
}

// TestPoolStartedMessageSentWhole: a long message whose first part went out
// is finished even when its context ends — a deadline or a shutdown never
// splits it — while a message not yet started is dropped as not sent.
func TestPoolStartedMessageSentWhole(t *testing.T) {
	srv := startSMSC(t, smsc.Config{Behaviour: smsc.Behaviour{ResponseLatency: smsc.Dist{Min: smsc.Duration(100 * time.Millisecond), Max: smsc.Duration(100 * time.Millisecond)}}})
	p := startPool(t, srv, smpp.PoolConfig{Name: "whole", Binds: 1, Session: smpp.SessionConfig{Window: 1}})
	ctx, cancel := context.WithCancel(context.Background())
	long := &smpp.Message{From: "+15550001111", To: "+15550002222", Text: strings.Repeat("long message part ", 20)} // 3 parts
	next := &smpp.Message{From: "+15550001111", To: "+15550002223", Text: "queued behind"}
	type out struct {
		res smpp.SubmitResult
		err error
	}
	longDone, nextDone := make(chan out, 1), make(chan out, 1)
	go func() { r, err := p.Submit(ctx, long); longDone <- out{r, err} }()
	waitSMSC(t, srv, "the first part", func(st smsc.Stats) bool { return st.SubmitSM >= 1 })
	go func() { r, err := p.Submit(ctx, next); nextDone <- out{r, err} }()
	pollUntil(t, "the second message queued", func() bool { return p.Stats().Queued >= 3 }) // 2 parts + 1
	cancel()
	l := <-longDone
	if l.err != nil || len(l.res.Parts) != 3 {
		t.Fatalf("long message: %v, %d parts", l.err, len(l.res.Parts))
	}
	for i, part := range l.res.Parts {
		if part.Err != nil || part.Status != pdu.StatusOK {
			t.Fatalf("part %d of a started message: %+v", i+1, part)
		}
	}
	n := <-nextDone
	if n.err != nil || !errors.Is(n.res.Parts[0].Err, smpp.ErrNotSent) {
		t.Fatalf("unstarted message after cancel: %+v, %v", n.res.Parts, n.err)
	}
	msgs := waitMessagesN(t, srv, 1)
	if msgs[0].Text != long.Text || msgs[0].Segments != 3 || msgs[0].Incomplete {
		t.Fatalf("at the simulator: %+v", msgs[0])
	}
	if st := srv.Stats(); st.SubmitSM != 3 {
		t.Fatalf("simulator saw %d submits, want the 3 parts only", st.SubmitSM)
	}
}

func waitMessagesN(t testing.TB, srv *smsc.Server, n int) []smsc.Message {
	t.Helper()
	msgs, err := srv.WaitMessages(testCtx(t), n)
	if err != nil {
		t.Fatalf("waiting for %d messages: %v", n, err)
	}
	return msgs
}

// TestPoolReceivers: with Receivers, each bind_transmitter gets a
// bind_receiver beside it; submits go out on the transmitters only, the
// receipts come in on the receivers through Session.Handler, and Close
// unbinds both kinds.
func TestPoolReceivers(t *testing.T) {
	srv := startSMSC(t, smsc.Config{})
	var got atomic.Int64
	p := smpp.NewPool(smpp.PoolConfig{
		Addr: srv.Addr(), Binds: 2, Receivers: true, ReconnectMin: 10 * time.Millisecond, ReconnectMax: 50 * time.Millisecond,
		Session: smpp.SessionConfig{SystemID: "esme", BindType: smpp.Transmitter, Handler: func(in *smpp.Inbound) {
			got.Add(1)
			in.Respond(pdu.StatusOK)
		}},
	})
	closed := false
	defer func() {
		if !closed {
			p.Close(context.Background())
		}
	}()
	waitSMSC(t, srv, "four binds", func(s smsc.Stats) bool { return s.BindsActive == 4 })
	pollUntil(t, "the pool's binds and receivers up", func() bool {
		st := p.Stats()
		return st.BindsUp == 2 && st.ReceiversUp == 2 && len(st.Receivers) == 2
	})
	kinds := map[string]int{}
	for _, b := range srv.Binds() {
		kinds[b.Type]++
	}
	if kinds["bind_transmitter"] != 2 || kinds["bind_receiver"] != 2 {
		t.Fatalf("binds %v", kinds)
	}
	msgs := numbered(20, nil)
	for _, m := range msgs {
		m.RegisteredDelivery = 1
	}
	for i, res := range submitAll(t, p, testCtx(t), 4, msgs) {
		if len(res.Parts) != 1 || res.Parts[0].Err != nil || res.Parts[0].Status != pdu.StatusOK {
			t.Fatalf("message %d: %+v", i, res)
		}
	}
	waitSMSC(t, srv, "receipts acknowledged", func(s smsc.Stats) bool { return s.ReceiptsAcked == 20 })
	if got.Load() != 20 {
		t.Fatalf("handler saw %d receipts, want 20", got.Load())
	}
	st := p.Stats()
	var sentOnReceivers, inOnReceivers int64
	for _, r := range st.Receivers {
		sentOnReceivers += r.Session.Submitted
		inOnReceivers += r.Session.Inbound
	}
	if sentOnReceivers != 0 || inOnReceivers != 20 {
		t.Fatalf("receiver binds: %d submits, %d inbound; want 0, 20", sentOnReceivers, inOnReceivers)
	}
	closed = true
	if err := p.Close(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	waitSMSC(t, srv, "every bind gone", func(s smsc.Stats) bool { return s.BindsActive == 0 })
}
