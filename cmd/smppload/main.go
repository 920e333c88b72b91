// Command smppload drives smppbridge's HTTP API with a realistic mix of
// messages and reports accepted messages/s, 202 latency percentiles and the
// rate at which messages reach the SMSC. Bounded in count and time, and
// loopback only. Without -url it runs the daemon and the simulator
// in-process (embedded default, store in a temporary directory).
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"smppbridge/cmd/daemon"
	"smppbridge/conf"
)

type options struct {
	url, account, app, from, user, pass, simHTTP, mix string
	n, concurrency                                    int
	duration                                          time.Duration
	noSync, wal                                       bool
	noReceipts                                        bool
	storePath                                         string
	commitDelay                                       time.Duration
	cpuProfile, memProfile                            string
}

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	var o options
	fs := flag.NewFlagSet("smppload", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.url, "url", "", "base `URL` of a running daemon (loopback only); empty: run daemon and simulator in-process")
	fs.StringVar(&o.account, "account", daemon.DemoAccount, "account id")
	fs.StringVar(&o.app, "app", daemon.DemoApplication, "application id")
	fs.StringVar(&o.from, "from", daemon.DemoNumber, "from number of the application")
	fs.StringVar(&o.user, "user", daemon.DemoUsername, "API username")
	fs.StringVar(&o.pass, "pass", "", "API password (with -url)")
	fs.StringVar(&o.simHTTP, "sim-http", "", "simulator control API `address` to count arrivals (with -url)")
	fs.StringVar(&o.mix, "mix", "single=70,group=10,long=10,ucs2=10", "message mix in percent")
	fs.IntVar(&o.n, "n", 100000, "requests to send at most")
	fs.DurationVar(&o.duration, "duration", 60*time.Second, "stop sending after this long")
	fs.IntVar(&o.concurrency, "c", 64, "concurrent clients")
	fs.StringVar(&o.storePath, "store", "", "in-process only: this store file, kept after the run (default: a new one in a temporary directory); to measure an older, bigger file")
	fs.BoolVar(&o.noReceipts, "no-receipts", false, "in-process only: the simulator sends no delivery receipts, so only intake and submit are measured (no full loop)")
	fs.BoolVar(&o.noSync, "no-sync", false, "in-process only: store without fsync (not durable; for comparison)")
	fs.BoolVar(&o.wal, "wal", false, "in-process only: sends durable through the intake log (store.wal) instead of a database commit")
	fs.DurationVar(&o.commitDelay, "commit-delay", -1, "in-process only: store.commit_delay (default: the daemon's default)")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the whole process (in-process daemon included) to `file`")
	fs.StringVar(&o.memProfile, "memprofile", "", "write a heap profile with the allocations of the whole run (in-process daemon included) to `file`")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if o.cpuProfile != "" {
		f, err := os.Create(o.cpuProfile)
		if err != nil {
			fmt.Fprintln(stderr, "smppload:", err)
			return 1
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(stderr, "smppload:", err)
			return 1
		}
		defer pprof.StopCPUProfile()
	}
	if p := os.Getenv("SMPPLOAD_BLOCKPROFILE"); p != "" {
		runtime.SetBlockProfileRate(10000)
		defer func() {
			f, _ := os.Create(p)
			pprof.Lookup("block").WriteTo(f, 0)
			f.Close()
		}()
	}
	if err := load(o, stdout); err != nil {
		fmt.Fprintln(stderr, "smppload:", err)
		return 1
	}
	if o.memProfile != "" {
		if err := writeMemProfile(o.memProfile); err != nil {
			fmt.Fprintln(stderr, "smppload:", err)
			return 1
		}
	}
	return 0
}

// writeMemProfile writes the heap profile: alloc_space and alloc_objects
// cover every allocation sampled since the process started (at the default
// runtime.MemProfileRate), so it shows the whole run's allocation sites.
func writeMemProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	runtime.GC() // the profile's figures are as of the last completed GC
	if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// arrivals reports how many messages the SMSC has received so far.
type arrivals func() (int64, error)

func load(o options, out io.Writer) error {
	mix, err := parseMix(o.mix)
	if err != nil {
		return err
	}
	var count arrivals
	var sink *webhookSink
	target := o.url
	if target == "" {
		procs, _ := daemon.EnsureProcs()
		opts, demo, err := daemon.Embedded()
		if err != nil {
			return err
		}
		dir, err := os.MkdirTemp("", "smppload")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		opts.Config.Store.Path = filepath.Join(dir, "load.db")
		if o.storePath != "" {
			opts.Config.Store.Path = o.storePath
		}
		opts.Config.Store.NoSync = o.noSync
		if o.noReceipts {
			opts.Simulator.Behaviour.Receipts.Never = true
		}
		opts.Config.Store.WAL = o.wal
		if o.commitDelay >= 0 {
			opts.Config.Store.CommitDelay = conf.Duration(o.commitDelay)
		}
		opts.Config.HTTP.Listen, opts.Config.Admin.Listen = "127.0.0.1:0", "127.0.0.1:0"
		// Its own private daemon: the admin listener (polled for /readyz) needs no credentials.
		opts.Config.Admin.Username, opts.Config.Admin.PasswordHash = "", ""
		opts.Config.API.GroupLimit = 10
		opts.Logger = slog.New(slog.DiscardHandler)
		// The full loop: callbacks come back to our own sink.
		// Sized for the default mix, 1.2 recipients per request.
		if sink, err = startSink(min(o.n, 1<<20) * 6 / 5); err != nil {
			return err
		}
		defer sink.close()
		for i := range opts.Config.Accounts {
			for j := range opts.Config.Accounts[i].Applications {
				opts.Config.Accounts[i].Applications[j].CallbackURL = sink.url + "/status"
				opts.Config.Accounts[i].Applications[j].InboundCallbackURL = sink.url + "/inbound"
			}
		}
		opts.Config.Callbacks.MaxBatch = 10
		ready := make(chan *daemon.Daemon, 1)
		opts.Ready = func(d *daemon.Daemon) { ready <- d }
		ctx, stop := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- daemon.Run(ctx, opts) }()
		var d *daemon.Daemon
		select {
		case d = <-ready:
		case err := <-done:
			stop()
			return fmt.Errorf("daemon: %w", err)
		}
		defer func() { stop(); <-done }()
		if err := waitReady(d.AdminAddr()); err != nil {
			return err
		}
		target, o.pass = "http://"+d.HTTPAddr(), demo.Password
		count = func() (int64, error) { return d.Sim.Stats().Messages, nil }
		defer func() {
			st := d.Store.Stats()
			if os.Getenv("SMPPLOAD_DEBUG") != "" {
				cb, _ := d.Store.CallbackStats()
				pend, _ := d.Store.PendingReceipts()
				ss := d.Sim.Stats()
				fmt.Fprintf(out, "debug: outbox %+v; pending receipts %d; sim receipts sent %d acked %d nacked %d queued %d\n", cb, pend, ss.ReceiptsSent, ss.ReceiptsAcked, ss.ReceiptsNacked, ss.QueuedDeliver)
			}
			rs := d.Bridge.ReceiptStats()
			fmt.Fprintf(out, "receipts: %d went with or after their submit outcome's write, %d kept pending until their id was known\n", rs.AfterOutcome, rs.Pending)
			c := max(1, st.Commits)
			fmt.Fprintf(out, "store: %d commits (%d gathered first), %.1f writes per commit, %s per commit (%s writing pages and syncing), %.1f page writes per commit\n",
				st.Commits, st.Gathers, float64(st.Writes)/float64(c), st.CommitTime/time.Duration(c), st.WriteTime/time.Duration(c), float64(st.PageWrites)/float64(c))
			fmt.Fprintf(out, "store commit tail: p99 %s  max %s  (largest commit %d writes)\n", st.CommitP99, st.CommitMax, st.MaxWritesPerCommit)
		}()
		fmt.Fprintf(out, "target: in-process daemon and simulator (embedded default; store %s, fsync %v, intake log %v, gc percent %d and GOMAXPROCS %d as smppbridge runs it)\n",
			opts.Config.Store.Path, !o.noSync, o.wal, daemon.TuneRuntime(), procs)
	} else {
		if o.simHTTP != "" {
			count = simStats(o.simHTTP)
		}
		fmt.Fprintf(out, "target: %s\n", target)
	}
	u, err := url.Parse(target)
	if err != nil {
		return err
	}
	if h := u.Hostname(); h != "127.0.0.1" && h != "::1" && h != "localhost" {
		return fmt.Errorf("%s is not a loopback address: smppload only loads local daemons", h)
	}
	if err := warmUp(o, u, sink, count, out); err != nil {
		return err
	}
	var before int64
	if count != nil {
		if before, err = count(); err != nil {
			return err
		}
	}
	user0, sys0, cpuOK := processCPU()
	res := drive(o, u, mix, sink)
	sendElapsed := res.elapsed
	fmt.Fprintf(out, "requests: %d in %.2fs with %d clients (mix %s)\n", res.sent, sendElapsed.Seconds(), o.concurrency, o.mix)
	fmt.Fprintf(out, "accepted (202): %d = %.0f messages/s; recipients %d\n", res.accepted, float64(res.accepted)/sendElapsed.Seconds(), res.recipients)
	if len(res.other) > 0 {
		fmt.Fprintf(out, "not accepted: %v\n", res.other)
	}
	if res.errs > 0 {
		fmt.Fprintf(out, "transport errors: %d (first: %v)\n", res.errs, res.firstErr)
	}
	lat := res.latencies
	slices.Sort(lat)
	if len(lat) > 0 {
		fmt.Fprintf(out, "202 latency: p50 %s  p90 %s  p99 %s  max %s\n", pct(lat, 50), pct(lat, 90), pct(lat, 99), lat[len(lat)-1])
	}
	if count != nil {
		deadline := time.Now().Add(60 * time.Second)
		want := before + res.recipients
		var got int64
		for time.Now().Before(deadline) {
			if got, err = count(); err != nil || got >= want {
				break
			}
			time.Sleep(20 * time.Millisecond) // polling another process's counter: nothing to wait on
		}
		took := time.Since(res.start)
		fmt.Fprintf(out, "reached the SMSC: %d of %d recipients in %.2fs = %.0f messages/s\n", got-before, res.recipients, took.Seconds(), float64(got-before)/took.Seconds())
	}
	if sink != nil {
		sink.report(out, res.recipients, res.start)
	}
	if user1, sys1, ok := processCPU(); ok && cpuOK && res.recipients > 0 {
		user, sys := user1-user0, sys1-sys0
		fmt.Fprintf(out, "process CPU: %.2fs (user %.2fs, sys %.2fs) = %.0f µs per recipient\n",
			(user + sys).Seconds(), user.Seconds(), sys.Seconds(), float64((user+sys).Microseconds())/float64(res.recipients))
	}
	return nil
}

// warmUp sends one request before the clock starts and waits (bounded) for
// its recipient at the SMSC and its callback at the sink: one-off start-up
// costs (the first request's password check, lazily built tables, the
// first connections) are then outside the measured window, which is about
// the cost per message. It is said in the output and counted nowhere else.
func warmUp(o options, u *url.URL, sink *webhookSink, count arrivals, out io.Writer) error {
	var before int64
	if count != nil {
		var err error
		if before, err = count(); err != nil {
			return err
		}
	}
	c := &client{addr: u.Host}
	defer c.close()
	auth := "Basic " + base64.StdEncoding.EncodeToString([]byte(o.user+":"+o.pass))
	b, nr := body(nil, o, "single", 0)
	t0 := time.Now()
	status, id, err := c.post(u.Host, "/api/v2/users/"+o.account+"/messages", auth, b)
	if err != nil {
		return fmt.Errorf("warm-up request: %w", err)
	}
	if status != 202 {
		fmt.Fprintf(out, "warm-up: 1 request answered %d (not counted below)\n", status)
		return nil
	}
	took := time.Since(t0)
	deadline := time.Now().Add(30 * time.Second)
	reached := count == nil
	for !reached && time.Now().Before(deadline) {
		got, err := count()
		if err != nil {
			return err
		}
		if reached = got >= before+nr; !reached {
			time.Sleep(5 * time.Millisecond) // another component's counter: nothing to wait on
		}
	}
	called := sink == nil
	if sink != nil && id != "" {
		sink.sent(id, t0, nr)
		called = sink.await(nr, deadline)
		sink.reset()
	}
	fmt.Fprintf(out, "warm-up: 1 request (202 in %s; at the SMSC %v, callback %v) before the clock starts, not counted below\n",
		took.Round(10*time.Microsecond), reached, called)
	return nil
}

func waitReady(admin string) error {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		r, err := http.Get("http://" + admin + "/readyz")
		if err == nil {
			r.Body.Close()
			if r.StatusCode == 200 {
				return nil
			}
		}
		time.Sleep(20 * time.Millisecond) // binds come up asynchronously
	}
	return errors.New("daemon not ready after 30s")
}

func simStats(addr string) arrivals {
	return func() (int64, error) {
		r, err := http.Get("http://" + addr + "/stats")
		if err != nil {
			return 0, err
		}
		defer r.Body.Close()
		var st struct {
			Messages int64 `json:"messages"`
		}
		return st.Messages, json.NewDecoder(r.Body).Decode(&st)
	}
}

func pct(sorted []time.Duration, p int) time.Duration {
	i := (len(sorted)*p + 99) / 100
	return sorted[max(0, min(i, len(sorted))-1)].Round(10 * time.Microsecond)
}

type kind struct {
	name    string
	percent int
}

func parseMix(s string) ([]kind, error) {
	var out []kind
	total := 0
	for _, f := range strings.Split(s, ",") {
		name, v, ok := strings.Cut(strings.TrimSpace(f), "=")
		n, err := strconv.Atoi(v)
		if !ok || err != nil || n < 0 {
			return nil, fmt.Errorf("-mix: %q is not name=percent", f)
		}
		switch name {
		case "single", "group", "long", "ucs2":
		default:
			return nil, fmt.Errorf("-mix: unknown kind %q (single, group, long, ucs2)", name)
		}
		out = append(out, kind{name, n})
		total += n
	}
	if total != 100 {
		return nil, fmt.Errorf("-mix: percentages add up to %d, not 100", total)
	}
	return out, nil
}

type result struct {
	start                      time.Time
	elapsed                    time.Duration
	sent, accepted, recipients int64
	errs                       int64
	firstErr                   error
	other                      map[int]int64
	latencies                  []time.Duration
}

var longText = strings.Repeat("This long notice spans several segments to test concatenation. ", 7)

// body appends one request to b. Built by hand: the load generator shares the
// CPU with the daemon and should cost as little as possible.
func body(b []byte, o options, k string, i int64) ([]byte, int64) {
	b = append(b, `{"applicationId":"`...)
	b = append(b, o.app...)
	b = append(b, `","from":"`...)
	b = append(b, o.from...)
	b = append(b, `","to":[`...)
	n := int64(1)
	if k == "group" {
		n = 3
	}
	for j := int64(0); j < n; j++ {
		if j > 0 {
			b = append(b, ',')
		}
		b = append(b, `"+1555`...)
		b = appendPadded(b, (i*7+j)%10000000, 7)
		b = append(b, '"')
	}
	b = append(b, `],"text":"`...)
	switch k {
	case "group":
		b = append(b, "Team update: the meeting moved to 3pm, room 4."...)
	case "long":
		b = append(b, longText...)
	case "ucs2":
		b = append(b, "Ваш код: "...)
		b = strconv.AppendInt(b, i%10000, 10)
		b = append(b, " 👍"...)
	default:
		b = append(b, "Your verification code is "...)
		b = strconv.AppendInt(b, 100000+i%900000, 10)
	}
	return append(b, `"}`...), n
}

// appendPadded appends v in decimal, zero-padded to width digits.
func appendPadded(b []byte, v int64, width int) []byte {
	var d [20]byte
	s := strconv.AppendInt(d[:0], v, 10)
	for i := len(s); i < width; i++ {
		b = append(b, '0')
	}
	return append(b, s...)
}

func drive(o options, u *url.URL, mix []kind, sink *webhookSink) *result {
	res := &result{other: map[int]int64{}}
	auth := "Basic " + base64.StdEncoding.EncodeToString([]byte(o.user+":"+o.pass))
	path := "/api/v2/users/" + o.account + "/messages"
	var next atomic.Int64
	var mu sync.Mutex
	deadline := time.Now().Add(o.duration)
	res.start = time.Now()
	var wg sync.WaitGroup
	for w := 0; w < o.concurrency; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &client{addr: u.Host}
			defer c.close()
			var lat []time.Duration
			reqBody := make([]byte, 0, 1024) // reused: the client copies it into its own buffer
			var acc, rc, sent, errs int64
			other := map[int]int64{}
			var firstErr error
			for time.Now().Before(deadline) {
				i := next.Add(1)
				if i > int64(o.n) {
					break
				}
				k := pick(mix, i)
				b, nr := body(reqBody[:0], o, k, i)
				reqBody = b
				t0 := time.Now()
				status, id, err := c.post(u.Host, path, auth, b)
				sent++
				if err != nil {
					errs++
					if firstErr == nil {
						firstErr = err
					}
					continue
				}
				if status == 202 {
					lat = append(lat, time.Since(t0))
					if sink != nil && id != "" {
						sink.sent(id, t0, nr)
					}
					acc++
					rc += nr
				} else {
					other[status]++
				}
			}
			mu.Lock()
			res.latencies = append(res.latencies, lat...)
			res.accepted += acc
			res.recipients += rc
			res.sent += sent
			res.errs += errs
			if res.firstErr == nil {
				res.firstErr = firstErr
			}
			for k, v := range other {
				res.other[k] += v
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	res.elapsed = time.Since(res.start)
	return res
}

// pick spreads kinds deterministically by request number.
func pick(mix []kind, i int64) string {
	r := int(i*37%100+100) % 100
	for _, k := range mix {
		if r < k.percent {
			return k.name
		}
		r -= k.percent
	}
	return mix[len(mix)-1].name
}

// client is a minimal keep-alive HTTP/1.1 client: the load generator shares
// the machine with the daemon, so it must cost little per request.
type client struct {
	addr string
	conn net.Conn
	r    *bufio.Reader
	buf  []byte
	body []byte
	// renewAt is when the connection's deadline is moved on again: once a
	// second rather than per request, as each move costs two timer updates.
	renewAt time.Time
}

func (c *client) close() {
	if c.conn != nil {
		c.conn.Close()
	}
}

func (c *client) post(host, path, auth string, body []byte) (int, string, error) {
	for attempt := 0; attempt < 2; attempt++ {
		if c.conn == nil {
			conn, err := net.DialTimeout("tcp", c.addr, 5*time.Second)
			if err != nil {
				return 0, "", err
			}
			c.conn, c.r, c.renewAt = conn, bufio.NewReaderSize(conn, 16*1024), time.Time{}
		}
		c.buf = c.buf[:0]
		c.buf = append(c.buf, "POST "...)
		c.buf = append(c.buf, path...)
		c.buf = append(c.buf, " HTTP/1.1\r\nHost: "...)
		c.buf = append(c.buf, host...)
		c.buf = append(c.buf, "\r\nAuthorization: "...)
		c.buf = append(c.buf, auth...)
		c.buf = append(c.buf, "\r\nContent-Type: application/json\r\nContent-Length: "...)
		c.buf = strconv.AppendInt(c.buf, int64(len(body)), 10)
		c.buf = append(c.buf, "\r\n\r\n"...)
		c.buf = append(c.buf, body...)
		if now := time.Now(); now.After(c.renewAt) {
			c.conn.SetDeadline(now.Add(30 * time.Second)) // every request gets at least 29s
			c.renewAt = now.Add(time.Second)
		}
		if _, err := c.conn.Write(c.buf); err != nil {
			c.close()
			c.conn = nil
			continue // the server may have closed an idle connection: redial once
		}
		status, id, err := c.readResponse()
		if err != nil {
			c.close()
			c.conn = nil
			if attempt == 0 && errors.Is(err, io.EOF) {
				continue
			}
			return 0, "", err
		}
		return status, id, nil
	}
	return 0, "", errors.New("connection closed twice")
}

// readResponse returns the status and, for a 202, the message id. It
// parses in place: no string per header line.
func (c *client) readResponse() (int, string, error) {
	line, err := c.r.ReadSlice('\n')
	if err != nil {
		return 0, "", err
	}
	status, ok := statusCode(line)
	if !ok {
		return 0, "", fmt.Errorf("bad status line %q", line)
	}
	length, closeAfter := -1, false
	for {
		h, err := c.r.ReadSlice('\n')
		if err != nil {
			return 0, "", err
		}
		if len(h) <= 2 {
			break
		}
		name, val, _ := bytes.Cut(h, []byte{':'})
		val = bytes.TrimSpace(val)
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			if length, ok = atoi(val); !ok {
				return 0, "", fmt.Errorf("bad Content-Length %q", val)
			}
		case bytes.EqualFold(name, []byte("Connection")):
			closeAfter = bytes.EqualFold(val, []byte("close"))
		}
	}
	if length < 0 {
		return 0, "", errors.New("response without Content-Length")
	}
	if cap(c.body) < length {
		c.body = make([]byte, length)
	}
	c.body = c.body[:length]
	if _, err := io.ReadFull(c.r, c.body); err != nil {
		return 0, "", err
	}
	if closeAfter {
		c.close()
		c.conn = nil
	}
	id := ""
	if status == 202 {
		// The 202 body starts {"id":"…": no JSON decoder needed.
		if rest, ok := bytes.CutPrefix(c.body, []byte(`{"id":"`)); ok {
			if i := bytes.IndexByte(rest, '"'); i > 0 {
				id = string(rest[:i])
			}
		}
	}
	return status, id, nil
}

// statusCode reads the code of "HTTP/1.x NNN …".
func statusCode(line []byte) (int, bool) {
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) || line[8] != ' ' {
		return 0, false
	}
	code, ok := atoi(line[9:12])
	return code, ok && code >= 100
}

// atoi parses a non-negative decimal of at most 9 digits.
func atoi(b []byte) (int, bool) {
	if len(b) == 0 || len(b) > 9 {
		return 0, false
	}
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}
