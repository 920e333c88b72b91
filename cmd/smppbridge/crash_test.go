package main

import (
	"bufio"
	"context"
	"crypto/pbkdf2"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"smppbridge/store"
	"smppbridge/testharness/smsc"
)

// The crash ledger test (issue 8). The daemon runs as a separate process on
// one store file and is killed with SIGKILL at random moments while HTTP
// clients send to it; the SMSC simulator and the webhook sink live in the
// test process and survive every kill, so they are the ledger's witnesses.
//
// What the daemon "could not know": a copy whose submit reached the SMSC but
// whose outcome was not yet committed when the process died is still in the
// store's queue at the next start, and is submitted again. So a copy may
// arrive at the SMSC again only in a later lifetime of the daemon, and only
// if it was still queued when that lifetime started (read from the store
// file between kill and restart). Any other repeat is a bug: a resend of
// something the store knew was sent. Arrivals are assigned to a lifetime by
// the simulator's message list once it has seen the killed process's binds
// close (every PDU that process wrote has then been read).
//
// Checked at the end, after a last lifetime drains the queue and stops with
// SIGTERM: every 202-accepted copy reached the SMSC at least once; nothing
// refused (4xx/5xx) reached it; every accepted copy got a callback (the
// simulator answers every submit with a DELIVRD receipt); every inbound
// message injected at the simulator (some long, so kills fall between
// parts) got a message-received callback with its whole text; the store
// holds no queued copy and no pending or dead callback job.
//
// SMPPBRIDGE_SOAK=10m runs rounds for that long instead of crashRounds;
// SMPPBRIDGE_CRASH_SEED repeats a run's kill moments and message mix.

const (
	crashRounds  = 50
	crashAccount = "9900000"
	crashApp     = "93de2206-9669-4e07-948d-329f4b722ee2"
	crashFrom    = "+15550001111"
	crashUser    = "crash"
	// Secrets that must never appear in the daemon's logs.
	crashAPIPassword  = "api-Pa55-crash-7f3e"
	crashBindPassword = "bnd9Qx2"
	crashHookUser     = "hookuser"
	crashHookPassword = "hook-Pa55-crash-91ab"
)

func TestCrashLedger(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the daemon binary for 50 kill rounds")
	}
	rounds, soak := crashRounds, time.Duration(0)
	if s := os.Getenv("SMPPBRIDGE_SOAK"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			t.Fatalf("SMPPBRIDGE_SOAK: %v", err)
		}
		rounds, soak = 1<<30, d
	}
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("SMPPBRIDGE_CRASH_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("SMPPBRIDGE_CRASH_SEED: %v", err)
		}
		seed = v
	}
	t.Logf("seed %d (repeat with SMPPBRIDGE_CRASH_SEED=%d)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, 0x5eed))

	bin := buildDaemon(t)
	sim, err := smsc.Start(smsc.Config{Seed: seed, Behaviour: smsc.Behaviour{
		Receipts: smsc.Receipts{Delay: smsc.Dist{Max: smsc.Duration(100 * time.Millisecond)}},
		// Parts of a long copy cut off by a kill are recorded incomplete
		// (and left out of the ledger) after this; its parts are sent back
		// to back, so a live one is never this slow.
		ConcatTimeout: smsc.Duration(3 * time.Second),
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	sink := startCrashSink(t)
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "bridge.db")
	cfgPath := filepath.Join(dir, "smppbridge.toml")
	writeCrashConfig(t, cfgPath, sim.Addr(), dbPath, sink.url)
	logPath := filepath.Join(dir, "daemon.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()

	led := newLedger()
	started := time.Now()
	round := 0
	baseBehaviour := sim.Behaviour()
	receiptStyles := []struct {
		name  string
		apply func(*smsc.Receipts)
	}{
		{"plain receipts", func(*smsc.Receipts) {}},
		{"receipts before the submit_sm_resp", func(r *smsc.Receipts) { r.BeforeResp = true }},
		{"receipts on the other bind", func(r *smsc.Receipts) { r.OtherBind = true }},
		{"duplicate receipts", func(r *smsc.Receipts) { r.Duplicates = 1 }},
		{"receipts as data_sm with TLVs only", func(r *smsc.Receipts) { r.PDU, r.Format = "data_sm", "tlv" }},
	}
	for ; round < rounds && (soak == 0 || time.Since(started) < soak); round++ {
		// Each round the carrier sends its receipts another way, so kills
		// also fall between an early receipt and its submit's outcome.
		style := receiptStyles[rng.IntN(len(receiptStyles))]
		b := baseBehaviour
		style.apply(&b.Receipts)
		if err := sim.SetBehaviour(b); err != nil {
			t.Fatal(err)
		}
		led.startLifetime(t, dbPath)
		p := startDaemonProcess(t, bin, cfgPath, logFile)
		// Kill moments from the process start: some fall into start-up
		// (store open, queue load, binding), most under load.
		killAt := time.Duration(50+rng.IntN(1450)) * time.Millisecond
		timer := time.NewTimer(killAt)
		var load *loadRun
		select {
		case addr := <-p.ready:
			load = startLoad(led, sim, addr, rng.Uint64())
			<-timer.C
		case <-timer.C:
		case <-p.exited:
			t.Fatalf("round %d: daemon exited on its own: %v", round, p.err)
		}
		how := "killed"
		if rng.IntN(5) == 0 {
			// One round in five: SIGTERM first, then SIGKILL during the
			// drain unless the daemon finished it (then it must exit 0).
			how = "SIGTERM, then killed"
			p.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-p.exited:
				how = "stopped by SIGTERM"
				// A SIGTERM that comes before main installed its handler
				// (start-up on a loaded machine: seen at 52 ms) ends the
				// process by the signal's default action, as systemd
				// expects; nothing was accepted yet. Once ready, it must
				// drain and exit 0.
				if p.err != nil && (load != nil || !killedBy(p.err, syscall.SIGTERM)) {
					t.Errorf("round %d: daemon stopped with %v after SIGTERM", round, p.err)
				}
			case <-time.After(time.Duration(rng.IntN(500)) * time.Millisecond):
			}
		}
		p.kill(t)
		if load != nil {
			load.stop()
		}
		waitNoBinds(t, sim)
		st := led.endLifetime(sim.Messages())
		t.Logf("round %2d: %s %4dms after start (%s, %s): 202 %d, refused %d, unanswered %d; sent unknown at kill %d, resent %d",
			round, how, killAt.Milliseconds(), map[bool]string{true: "under load", false: "in start-up"}[load != nil], style.name,
			st.accepted, st.refused, st.unanswered, st.queuedSent, st.resent)
	}

	// The last lifetime: no kill; the queue drains, receipts come back and
	// callbacks go out; then SIGTERM.
	if err := sim.SetBehaviour(baseBehaviour); err != nil {
		t.Fatal(err)
	}
	led.startLifetime(t, dbPath)
	p := startDaemonProcess(t, bin, cfgPath, logFile)
	select {
	case <-p.ready:
	case <-p.exited:
		t.Fatalf("final start: daemon exited: %v", p.err)
	case <-time.After(60 * time.Second):
		t.Fatal("final start: not ready within 60s")
	}
	want, wantMO := led.acceptedCopies(), led.moTokens()
	deadline := time.Now().Add(120 * time.Second)
	for !sink.hasAll(want) || sink.missingInbound(wantMO) > 0 || sim.Stats().QueuedDeliver > 0 {
		if time.Now().After(deadline) {
			t.Errorf("after 120s of draining: %d accepted copies without a callback, %d inbound messages without one, %d deliveries queued at the simulator",
				len(sink.missing(want)), sink.missingInbound(wantMO), sim.Stats().QueuedDeliver)
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	p.terminate(t)
	waitNoBinds(t, sim)
	final := led.endLifetime(sim.Messages())

	// Callback jobs still pending at SIGTERM (for copies whose request got no
	// answer, which the ledger cannot wait for by id) are not lost: they are
	// sent by the next lifetime. Bounded: a few more lifetimes.
	var cb store.CallbackCounts
	for attempt := 0; ; attempt++ {
		st, err := store.Open(dbPath, store.Options{Timeout: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		cb, err = st.CallbackStats()
		if err == nil {
			var n int
			n, err = st.QueueLen()
			if n != 0 {
				t.Errorf("%d copies still queued after the final drain", n)
			}
		}
		st.Close()
		if err != nil {
			t.Fatal(err)
		}
		if cb.Pending() == 0 || attempt == 3 {
			break
		}
		before := sink.total()
		p := startDaemonProcess(t, bin, cfgPath, logFile)
		deadline := time.Now().Add(60 * time.Second)
		for sink.total() < before+cb.Pending() && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		p.terminate(t)
		waitNoBinds(t, sim)
	}
	if cb.Pending() != 0 || cb.Dead != 0 || cb.DeadTotal != 0 {
		t.Errorf("callback outbox after the final stop: %+v (want nothing pending or dead)", cb)
	}

	r := led.verify(t, sink)
	t.Logf("ledger over %d kills in %s: %d requests accepted (%d copies), %d refused (429 etc.), %d unanswered (in flight at a kill); "+
		"%d copies arrived at the SMSC %d times (and %d long ones in part before a kill); lost %d; resent after an unknown outcome %d (unjustified %d); "+
		"callbacks %d (%d repeated, %d for unanswered requests); inbound %d (%d callbacks repeated); final lifetime sent %d",
		round, time.Since(started).Round(time.Second), r.acceptedReqs, r.acceptedCopies, r.refused, r.unanswered,
		r.arrivedCopies, r.arrivals, r.fragments, r.lost, r.resent, r.unjustified, r.callbacks, r.callbackRepeats, r.maybeCallbacks, r.inbound, r.inboundRepeats, final.arrivals)

	// No secret in any log line of any lifetime.
	logs, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{crashAPIPassword, crashBindPassword, crashHookPassword} {
		if strings.Contains(string(logs), secret) {
			t.Errorf("the daemon logged a secret (%q...)", secret[:3])
		}
	}
	if !strings.Contains(string(logs), `"smppbridge running"`) {
		t.Errorf("no start-up line in the captured logs (%d bytes)", len(logs))
	}
	// A killed process's exit status is lost: the race detector's reports
	// and panics are found in its output instead.
	for _, bad := range []string{"WARNING: DATA RACE", "panic:", "fatal error:"} {
		if i := strings.Index(string(logs), bad); i >= 0 {
			t.Errorf("the daemon's output has %q:\n%s", bad, logs[i:min(len(logs), i+4000)])
		}
	}
}

// buildDaemon builds this package's binary once (with -race when the test
// runs with it); the build cache makes repeated runs cheap.
func buildDaemon(t *testing.T) string {
	t.Helper()
	goBin := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(goBin); err != nil {
		if goBin, err = exec.LookPath("go"); err != nil {
			t.Skip("no go command to build the daemon with")
		}
	}
	bin := filepath.Join(t.TempDir(), "smppbridge")
	args := []string{"build", "-o", bin}
	if raceEnabled {
		args = append(args, "-race")
	}
	cmd := exec.Command(goBin, append(args, ".")...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func fastHash(t testing.TB, pw string) string {
	salt := []byte("0123456789abcdef")
	key, err := pbkdf2.Key(sha256.New, pw, salt, 1000, 32)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("pbkdf2-sha256$1000$%s$%s", base64.StdEncoding.EncodeToString(salt), base64.StdEncoding.EncodeToString(key))
}

// writeCrashConfig: one carrier at 200 segments/s with a 150-segment queue
// (the clients offer more, so 429s happen), receipts on, JSON logs.
func writeCrashConfig(t *testing.T, path, simAddr, dbPath, hookURL string) {
	t.Helper()
	toml := fmt.Sprintf(`
[http]
listen = "127.0.0.1:0"
[admin]
listen = "127.0.0.1:0"
[store]
path = %q
[log]
format = "json"
level = "debug"
[api]
shutdown_timeout = "10s"
[callbacks]
timeout = "5s"
[[carrier]]
name = "sim"
address = %q
system_id = "bridge"
password = %q
binds = 2
window = 20
segments_per_second = 200
queue_capacity = 150
receipt_wait = "30s"
routes = ["+1"]
reconnect_min = "20ms"
reconnect_max = "200ms"
[[account]]
id = %q
  [[account.credential]]
  username = %q
  password_hash = %q
  [[account.application]]
  id = %q
  callback_url = %q
  inbound_callback_url = %q
  callback_username = %q
  callback_password = %q
  numbers = [%q]
`, dbPath, simAddr, crashBindPassword, crashAccount, crashUser, fastHash(t, crashAPIPassword),
		crashApp, hookURL+"/status", hookURL+"/inbound", crashHookUser, crashHookPassword, crashFrom)
	if err := os.WriteFile(path, []byte(toml), 0o600); err != nil {
		t.Fatal(err)
	}
}

// daemonProcess is one lifetime of the daemon binary.
type daemonProcess struct {
	cmd    *exec.Cmd
	ready  chan string   // the API address, once it listens
	exited chan struct{} // closed when the process ended and its output is read
	err    error         // its exit error, after exited
}

func startDaemonProcess(t *testing.T, bin, cfgPath string, logs io.Writer) *daemonProcess {
	t.Helper()
	p := &daemonProcess{cmd: exec.Command(bin, "-config", cfgPath), ready: make(chan string, 1), exited: make(chan struct{})}
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	p.cmd.Stdout = io.Discard
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { // a failing test leaves no daemon behind
		p.cmd.Process.Kill()
		<-p.exited
	})
	go func() {
		defer close(p.exited)
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Bytes()
			logs.Write(append(line, '\n'))
			var l struct{ Msg, HTTP string }
			if json.Unmarshal(line, &l) == nil && l.Msg == "smppbridge running" {
				p.ready <- l.HTTP
			}
		}
		io.Copy(io.Discard, stderr)
		p.err = p.cmd.Wait()
	}()
	return p
}

func (p *daemonProcess) kill(t *testing.T) {
	t.Helper()
	p.cmd.Process.Kill() // SIGKILL: no shutdown code runs (a no-op once it exited)
	select {
	case <-p.exited:
	case <-time.After(30 * time.Second):
		t.Fatal("killed daemon did not exit within 30s")
	}
}

func (p *daemonProcess) terminate(t *testing.T) {
	t.Helper()
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
		if p.err != nil {
			t.Errorf("daemon stopped with %v", p.err)
		}
	case <-time.After(60 * time.Second):
		p.cmd.Process.Kill()
		<-p.exited
		t.Fatal("daemon did not stop within 60s of SIGTERM")
	}
}

// waitNoBinds waits until the simulator saw the dead process's binds close:
// by then it has read every PDU that process wrote.
func waitNoBinds(t *testing.T, sim *smsc.Server) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := sim.WaitFor(ctx, func() bool { return len(sim.Binds()) == 0 }); err != nil {
		t.Fatalf("simulator still has %d binds of a dead daemon: %v", len(sim.Binds()), err)
	}
}

// Request outcomes as the client saw them.
const (
	reqAccepted   = iota // 202
	reqRefused           // any other HTTP answer: must never be sent
	reqUnanswered        // transport error: in flight at a kill, may or may not be stored
)

type request struct {
	outcome int
	status  int      // HTTP status, when answered
	id      string   // message id of a 202
	to      []string // recipients without '+'
}

// ledger is what the clients sent and what the simulator received, per
// copy ("token to"), across lifetimes.
type ledger struct {
	mu       sync.Mutex
	next     atomic.Int64
	requests map[string]*request // token -> request
	mos      map[string]string   // inbound token -> text injected at the simulator
	byID     map[string]string   // message id -> token

	lifetime    int
	queuedAtRun map[string]bool // copies queued in the store when this lifetime started
	arrived     map[string]int  // copy -> arrivals so far
	lastLife    map[string]int  // copy -> lifetime of its last arrival
	roundStats  lifetimeStats
	resent      int
	unjustified []string
	arrivals    int
	fragments   int // incomplete long messages at the simulator
}

type lifetimeStats struct {
	accepted, refused, unanswered int
	queuedSent                    int // copies queued at start that had already reached the SMSC
	resent                        int // of those, sent again in this lifetime
	arrivals                      int
}

func newLedger() *ledger {
	return &ledger{requests: map[string]*request{}, mos: map[string]string{}, byID: map[string]string{}, arrived: map[string]int{}, lastLife: map[string]int{}}
}

func (l *ledger) newToken() string { return fmt.Sprintf("t%07d", l.next.Add(1)) }

func (l *ledger) note(token string, r *request) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.requests[token] = r
	switch r.outcome {
	case reqAccepted:
		l.byID[r.id] = token
		l.roundStats.accepted++
	case reqRefused:
		l.roundStats.refused++
	default:
		l.roundStats.unanswered++
	}
}

func (l *ledger) noteMO(token, text string) {
	l.mu.Lock()
	l.mos[token] = text
	l.mu.Unlock()
}

// moTokens: every inbound message injected so far.
func (l *ledger) moTokens() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for k := range l.mos {
		out = append(out, k)
	}
	return out
}

// startLifetime reads which copies the store still holds in its queue: the
// ones whose outcome the next lifetime does not know.
func (l *ledger) startLifetime(t *testing.T, dbPath string) {
	t.Helper()
	queued := map[string]bool{}
	if _, err := os.Stat(dbPath); err == nil {
		st, err := store.Open(dbPath, store.Options{Timeout: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		err = st.LoadQueue(func(it store.QueueItem) error {
			queued[copyKey(tokenOf(it.Text), it.Dest())] = true
			return nil
		})
		st.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lifetime++
	l.queuedAtRun = queued
	l.roundStats = lifetimeStats{}
	for k := range queued {
		if l.arrived[k] > 0 {
			l.roundStats.queuedSent++
		}
	}
}

// endLifetime assigns the arrivals since the last call to the lifetime that
// just ended and judges every repeat.
func (l *ledger) endLifetime(msgs []smsc.Message) lifetimeStats {
	l.mu.Lock()
	defer l.mu.Unlock()
	total := map[string]int{}
	l.fragments = 0
	for _, m := range msgs {
		if m.Incomplete { // the first part(s) of a long copy, then a kill: it is resent whole
			l.fragments++
			continue
		}
		total[copyKey(tokenOf(m.Text), m.To)]++
	}
	for k, n := range total {
		before := l.arrived[k]
		if n == before {
			continue
		}
		now := n - before
		l.roundStats.arrivals += now
		l.arrivals += now
		repeats := now
		if before == 0 {
			repeats--
		}
		if repeats > 0 {
			if before > 0 && now == 1 && l.queuedAtRun[k] && l.lastLife[k] < l.lifetime {
				l.roundStats.resent++
				l.resent++
			} else {
				l.unjustified = append(l.unjustified, fmt.Sprintf("%s: %d arrivals before lifetime %d (last in %d), %d in it, queued at its start: %v",
					k, before, l.lifetime, l.lastLife[k], now, l.queuedAtRun[k]))
			}
		}
		l.arrived[k] = n
		l.lastLife[k] = l.lifetime
	}
	return l.roundStats
}

// acceptedCopies: message id + recipient of every copy answered 202.
func (l *ledger) acceptedCopies() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, r := range l.requests {
		if r.outcome == reqAccepted {
			for _, to := range r.to {
				out = append(out, r.id+" "+to)
			}
		}
	}
	return out
}

type ledgerResult struct {
	acceptedReqs, acceptedCopies, refused, unanswered  int
	arrivedCopies, arrivals, lost, resent, unjustified int
	callbacks, callbackRepeats, maybeCallbacks         int
	inbound, inboundRepeats, fragments                 int
}

func (l *ledger) verify(t *testing.T, sink *crashSink) ledgerResult {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	var r ledgerResult
	var lost, refusedSent []string
	otherStatus := map[int]int{}
	for token, req := range l.requests {
		switch req.outcome {
		case reqAccepted:
			r.acceptedReqs++
		case reqRefused:
			r.refused++
			// 429: queue full; 503: stopping (a SIGTERM round).
			if req.status != http.StatusTooManyRequests && req.status != http.StatusServiceUnavailable {
				otherStatus[req.status]++
			}
		default:
			r.unanswered++
		}
		for _, to := range req.to {
			n := l.arrived[copyKey(token, to)]
			switch {
			case req.outcome == reqAccepted:
				r.acceptedCopies++
				if n == 0 {
					lost = append(lost, copyKey(token, to)+" "+req.id)
				}
			case req.outcome == reqRefused && n > 0:
				refusedSent = append(refusedSent, copyKey(token, to))
			}
		}
	}
	for k, n := range l.arrived {
		if n > 0 {
			r.arrivedCopies++
		}
		if _, ok := l.requests[strings.Fields(k)[0]]; !ok {
			t.Errorf("the SMSC received %q, which no client sent", k)
		}
	}
	if len(otherStatus) > 0 {
		t.Errorf("answers other than 202, 429 and 503 (status: count): %v", otherStatus)
	}
	r.arrivals, r.resent, r.unjustified, r.lost, r.fragments = l.arrivals, l.resent, len(l.unjustified), len(lost), l.fragments
	slices.Sort(lost)
	if len(lost) > 0 {
		t.Errorf("%d accepted copies never reached the SMSC, e.g. %v", len(lost), lost[:min(len(lost), 10)])
	}
	if len(refusedSent) > 0 {
		t.Errorf("%d copies of refused requests reached the SMSC, e.g. %v", len(refusedSent), refusedSent[:min(len(refusedSent), 10)])
	}
	if len(l.unjustified) > 0 {
		t.Errorf("%d repeats the store knew were sent, e.g. %v", len(l.unjustified), l.unjustified[:min(len(l.unjustified), 10)])
	}

	sink.mu.Lock()
	defer sink.mu.Unlock()
	for k, evs := range sink.events {
		r.callbacks += len(evs)
		r.callbackRepeats += len(evs) - 1
		if _, ok := l.byID[strings.Fields(k)[0]]; !ok {
			r.maybeCallbacks++
		}
		for _, ev := range evs {
			if ev != "message-delivered" {
				t.Errorf("callback %s for %s: every submit gets a DELIVRD receipt", ev, k)
			}
		}
	}
	for tok, text := range l.mos {
		got := sink.inbound[tok]
		r.inbound++
		if len(got) > 1 {
			r.inboundRepeats += len(got) - 1
		}
		for _, g := range got {
			if g != text {
				t.Errorf("inbound %s arrived as %q, want %q", tok, g, text)
			}
		}
	}
	for tok := range sink.inbound {
		if _, ok := l.mos[tok]; !ok {
			t.Errorf("a message-received callback for %q, which was never injected", tok)
		}
	}
	if sink.badAuth > 0 {
		t.Errorf("%d callbacks with wrong credentials", sink.badAuth)
	}
	return r
}

func copyKey(token, to string) string { return token + " " + strings.TrimPrefix(to, "+") }

// tokenOf: the first word of a crash-test text is its request token.
func tokenOf(text string) string {
	f := strings.Fields(text)
	if len(f) == 0 {
		return ""
	}
	return f[0]
}

// loadRun is a few HTTP clients sending until stop.
type loadRun struct {
	done chan struct{}
	wg   sync.WaitGroup
}

// startLoad sends about 300 requests/s (one in ten to two recipients) to
// the daemon at addr: more than the carrier's 200/s, so its queue fills.
func startLoad(led *ledger, sim *smsc.Server, addr string, seed uint64) *loadRun {
	lr := &loadRun{done: make(chan struct{})}
	// Inbound messages too, about 30/s, one in three long (three parts,
	// UDH or SAR): parts are stored and acknowledged one by one, so a kill
	// can fall between the parts of one message.
	lr.wg.Add(1)
	go func() {
		defer lr.wg.Done()
		rng := rand.New(rand.NewPCG(seed, 99))
		tick := time.NewTicker(time.Second / 30)
		defer tick.Stop()
		for {
			select {
			case <-lr.done:
				return
			case <-tick.C:
			}
			token := "mo" + led.newToken()
			mo := smsc.MO{From: fmt.Sprintf("+1557%07d", rng.IntN(10000000)), To: crashFrom, Text: token + " inbound"}
			if rng.IntN(3) == 0 {
				mo.Text = token + strings.Repeat(" a long inbound message in parts", 12)
				mo.Concat = []string{"udh8", "udh16", "sar"}[rng.IntN(3)]
			}
			if _, err := sim.InjectMO(mo); err == nil {
				led.noteMO(token, mo.Text)
			}
		}
	}()
	client := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 8}}
	tick := time.NewTicker(time.Second / 300)
	for w := range 8 {
		rng := rand.New(rand.NewPCG(seed, uint64(w)))
		lr.wg.Add(1)
		go func() {
			defer lr.wg.Done()
			for {
				select {
				case <-lr.done:
					return
				case <-tick.C:
				}
				token := led.newToken()
				to := []string{fmt.Sprintf("1555%07d", rng.IntN(10000000))}
				if rng.IntN(10) == 0 {
					to = append(to, fmt.Sprintf("1556%07d", rng.IntN(10000000)))
				}
				text := token + " crash test"
				if rng.IntN(8) == 0 { // two segments: a kill can fall between them
					text = token + strings.Repeat(" long crash test", 12)
				}
				led.note(token, sendOne(client, addr, token, text, to))
			}
		}()
	}
	go func() { lr.wg.Wait(); tick.Stop(); client.CloseIdleConnections() }()
	return lr
}

func (lr *loadRun) stop() {
	close(lr.done)
	lr.wg.Wait()
}

func sendOne(client *http.Client, addr, token, text string, to []string) *request {
	r := &request{outcome: reqUnanswered, to: to}
	plus := make([]string, len(to))
	for i, n := range to {
		plus[i] = "+" + n
	}
	tos, _ := json.Marshal(plus)
	body := fmt.Sprintf(`{"applicationId":%q,"to":%s,"from":%q,"text":%q}`, crashApp, tos, crashFrom, text)
	req, err := http.NewRequest("POST", "http://"+addr+"/api/v2/users/"+crashAccount+"/messages", strings.NewReader(body))
	if err != nil {
		return r
	}
	req.SetBasicAuth(crashUser, crashAPIPassword)
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	resp, err := client.Do(req)
	if err != nil {
		return r
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return r // the status line alone does not prove the 202 was meant
	}
	r.status = resp.StatusCode
	if resp.StatusCode != http.StatusAccepted {
		r.outcome = reqRefused
		return r
	}
	var m struct{ ID string }
	if json.Unmarshal(raw, &m) != nil || m.ID == "" {
		return r
	}
	r.outcome, r.id = reqAccepted, m.ID
	return r
}

// crashSink is the application's callback endpoint; it outlives every
// daemon lifetime.
type crashSink struct {
	url     string
	mu      sync.Mutex
	events  map[string][]string // message id + recipient -> event types, in arrival order
	inbound map[string][]string // inbound token -> texts of its message-received callbacks
	n       int
	badAuth int
}

func startCrashSink(t *testing.T) *crashSink {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &crashSink{url: "http://" + ln.Addr().String(), events: map[string][]string{}, inbound: map[string][]string{}}
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		var evs []struct {
			Type    string
			To      string
			Message struct{ ID, Text string }
		}
		if err != nil || json.Unmarshal(body, &evs) != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		// V2's flow: a request without credentials gets the challenge, then
		// the sender repeats it with them; wrong ones are a test failure.
		u, pw, ok := r.BasicAuth()
		if !ok {
			w.Header().Set("WWW-Authenticate", `Basic realm="crash sink"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		if u != crashHookUser || pw != crashHookPassword {
			s.badAuth++
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		for _, ev := range evs {
			s.n++
			if ev.Type == "message-received" {
				tok := tokenOf(ev.Message.Text)
				s.inbound[tok] = append(s.inbound[tok], ev.Message.Text)
				continue
			}
			k := ev.Message.ID + " " + strings.TrimPrefix(ev.To, "+")
			s.events[k] = append(s.events[k], ev.Type)
		}
		w.WriteHeader(http.StatusNoContent)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return s
}

func (s *crashSink) total() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n
}

func (s *crashSink) missing(copies []string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, c := range copies {
		if len(s.events[c]) == 0 {
			out = append(out, c)
		}
	}
	return out
}

func (s *crashSink) hasAll(copies []string) bool { return len(s.missing(copies)) == 0 }

func (s *crashSink) missingInbound(tokens []string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, tok := range tokens {
		if len(s.inbound[tok]) == 0 {
			n++
		}
	}
	return n
}

// killedBy: the process ended by signal sig.
func killedBy(err error, sig syscall.Signal) bool {
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return false
	}
	ws, ok := ee.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == sig
}
