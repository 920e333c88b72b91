package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime/pprof"
	"slices"
	"strconv"
	"sync"
	"time"
)

// webhookSink is the load generator's own callback endpoint: it closes the
// loop (202 → submit → receipt → callback) and measures it per recipient.
// It shares the CPU with the daemon it measures, so it speaks just enough
// HTTP/1.1 itself (keep-alive, Content-Length and chunked bodies) and reads
// only the three fields it counts from each callback instead of decoding it.
type webhookSink struct {
	url string
	ln  net.Listener

	connMu sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
	wg     sync.WaitGroup

	mu     sync.Mutex
	sentAt map[string]time.Time   // message id → 202 request start
	want   map[string]int         // message id → callbacks still expected
	early  map[string][]time.Time // callbacks that beat the client's reading of its 202
	lat    []time.Duration
	byType map[string]*int // counters by pointer: counting then needs no key string
	last   time.Time
	seen   map[string]bool // message id + recipient: callbacks are at-least-once
	dups   int
	total  int
	got    int
}

// Limits of the sink's HTTP parsing: generous for callbacks (a batch of
// events), small enough that a broken client cannot exhaust memory.
const (
	sinkMaxBody       = 1 << 20
	sinkMaxHeaderLine = 16 << 10 // also the read buffer
	sinkMaxHeaders    = 100
	sinkIdleTimeout   = 2 * time.Minute
)

// startSink listens on a loopback port. hint is the number of callbacks
// expected, to size the tables once instead of growing them under load.
func startSink(hint int) (*webhookSink, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &webhookSink{url: "http://" + ln.Addr().String(), ln: ln, conns: map[net.Conn]struct{}{},
		sentAt: map[string]time.Time{}, want: map[string]int{}, early: map[string][]time.Time{},
		byType: map[string]*int{}, seen: make(map[string]bool, hint), lat: make([]time.Duration, 0, hint)}
	s.wg.Add(1)
	go s.serve()
	return s, nil
}

func (s *webhookSink) serve() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return // closed
		}
		s.connMu.Lock()
		if s.closed {
			s.connMu.Unlock()
			c.Close()
			return
		}
		s.conns[c] = struct{}{}
		s.wg.Add(1)
		s.connMu.Unlock()
		go func() {
			defer s.wg.Done()
			s.serveConn(c)
			s.connMu.Lock()
			delete(s.conns, c)
			s.connMu.Unlock()
			c.Close()
		}()
	}
}

// close stops the listener and every connection, and waits for their
// goroutines.
func (s *webhookSink) close() {
	s.connMu.Lock()
	s.closed = true
	s.ln.Close()
	for c := range s.conns {
		c.Close()
	}
	s.connMu.Unlock()
	s.wg.Wait()
}

// Responses are fixed: the daemon reads only the status (and, on a 401,
// WWW-Authenticate, which the sink never sends).
var (
	respNoContent  = []byte("HTTP/1.1 204 No Content\r\n\r\n")
	respNoContentC = []byte("HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n")
	respContinue   = []byte("HTTP/1.1 100 Continue\r\n\r\n")
)

func errorResponse(code int) []byte {
	return fmt.Appendf(nil, "HTTP/1.1 %d %s\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", code, statusText(code))
}

func statusText(code int) string {
	switch code {
	case 400:
		return "Bad Request"
	case 413:
		return "Content Too Large"
	case 417:
		return "Expectation Failed"
	case 431:
		return "Request Header Fields Too Large"
	case 501:
		return "Not Implemented"
	}
	return "Error"
}

// httpError is a request the sink refuses; the connection closes after the
// answer, as the rest of the stream cannot be trusted.
type httpError struct {
	code int
	why  string
}

func (e *httpError) Error() string { return fmt.Sprintf("%d: %s", e.code, e.why) }

func (s *webhookSink) serveConn(c net.Conn) {
	br := bufio.NewReaderSize(c, sinkMaxHeaderLine)
	var body []byte
	for {
		c.SetReadDeadline(time.Now().Add(sinkIdleTimeout))
		var keepAlive bool
		var err error
		body, keepAlive, err = readRequest(br, c, body[:0])
		if err != nil {
			var he *httpError
			if errors.As(err, &he) {
				c.Write(errorResponse(he.code))
			}
			return // EOF, timeout or a refused request
		}
		if !s.callbacks(body) {
			c.Write(errorResponse(400))
			return
		}
		resp := respNoContent
		if !keepAlive {
			resp = respNoContentC
		}
		if _, err := c.Write(resp); err != nil || !keepAlive {
			return
		}
	}
}

// readRequest reads one request and appends its body to body. keepAlive
// tells whether the connection may carry another request. w receives a
// 100 Continue when the client waits for one.
func readRequest(br *bufio.Reader, w io.Writer, body []byte) (_ []byte, keepAlive bool, err error) {
	line, err := readLine(br)
	if err != nil {
		return body, false, err
	}
	// METHOD SP target SP HTTP/1.x: any method and path count as a callback.
	sp := bytes.LastIndexByte(line, ' ')
	if sp < 0 || bytes.IndexByte(line, ' ') == sp {
		return body, false, &httpError{400, "bad request line"}
	}
	switch string(line[sp+1:]) {
	case "HTTP/1.1":
		keepAlive = true
	case "HTTP/1.0":
	default:
		return body, false, &httpError{400, "unsupported protocol"}
	}
	length, chunked, expect := -1, false, false
	for n := 0; ; n++ {
		h, err := readLine(br)
		if err != nil {
			return body, false, err
		}
		if len(h) == 0 {
			break
		}
		if n == sinkMaxHeaders {
			return body, false, &httpError{431, "too many header fields"}
		}
		name, val, ok := bytes.Cut(h, []byte{':'})
		if !ok {
			return body, false, &httpError{400, "bad header line"}
		}
		val = bytes.Trim(val, " \t")
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			v, err := strconv.ParseUint(string(val), 10, 31)
			if err != nil || (length >= 0 && int(v) != length) {
				return body, false, &httpError{400, "bad Content-Length"}
			}
			length = int(v)
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			if !bytes.EqualFold(val, []byte("chunked")) {
				return body, false, &httpError{501, "unsupported transfer coding"}
			}
			chunked = true
		case bytes.EqualFold(name, []byte("Connection")):
			for tok := range bytes.SplitSeq(val, []byte{','}) {
				tok = bytes.Trim(tok, " \t")
				if bytes.EqualFold(tok, []byte("close")) {
					keepAlive = false
				} else if bytes.EqualFold(tok, []byte("keep-alive")) {
					keepAlive = true
				}
			}
		case bytes.EqualFold(name, []byte("Expect")):
			if !bytes.EqualFold(val, []byte("100-continue")) {
				return body, false, &httpError{417, "unsupported expectation"}
			}
			expect = true
		}
	}
	if chunked && length >= 0 {
		// RFC 9112 §6.3: such a message is a smuggling attempt or a bug.
		return body, false, &httpError{400, "both Content-Length and chunked"}
	}
	if length > sinkMaxBody {
		return body, false, &httpError{413, "body too large"}
	}
	if expect && (chunked || length > 0) {
		if _, err := w.Write(respContinue); err != nil {
			return body, false, err
		}
	}
	switch {
	case chunked:
		body, err = readChunked(br, body)
	case length > 0:
		start := len(body)
		body = slices.Grow(body, length)[:start+length]
		_, err = io.ReadFull(br, body[start:])
	}
	return body, keepAlive, err
}

// readChunked appends a chunked body (RFC 9112 §7.1) to body; chunk
// extensions and trailer fields are read and ignored.
func readChunked(br *bufio.Reader, body []byte) ([]byte, error) {
	for {
		line, err := readLine(br)
		if err != nil {
			return body, err
		}
		if i := bytes.IndexByte(line, ';'); i >= 0 {
			line = line[:i]
		}
		size, err := strconv.ParseUint(string(bytes.Trim(line, " \t")), 16, 31)
		if err != nil {
			return body, &httpError{400, "bad chunk size"}
		}
		if size == 0 {
			for n := 0; ; n++ { // trailer section
				t, err := readLine(br)
				if err != nil {
					return body, err
				}
				if len(t) == 0 {
					return body, nil
				}
				if n == sinkMaxHeaders {
					return body, &httpError{431, "too many trailer fields"}
				}
			}
		}
		if len(body)+int(size) > sinkMaxBody {
			return body, &httpError{413, "body too large"}
		}
		start := len(body)
		body = slices.Grow(body, int(size))[:start+int(size)]
		if _, err := io.ReadFull(br, body[start:]); err != nil {
			return body, err
		}
		if crlf, err := readLine(br); err != nil || len(crlf) != 0 {
			if err == nil {
				err = &httpError{400, "chunk not followed by CRLF"}
			}
			return body, err
		}
	}
}

// readLine returns a line without its CRLF (or bare LF); it is valid until
// the next read.
func readLine(br *bufio.Reader) ([]byte, error) {
	line, err := br.ReadSlice('\n')
	if err != nil {
		if errors.Is(err, bufio.ErrBufferFull) {
			return nil, &httpError{431, "line too long"}
		}
		if errors.Is(err, io.EOF) && len(line) > 0 {
			return nil, io.ErrUnexpectedEOF
		}
		return nil, err
	}
	line = line[:len(line)-1]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, nil
}

// callbacks counts the events of one callback body; false if it is not a
// JSON array of event objects.
func (s *webhookSink) callbacks(body []byte) bool {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	err := scanEvents(body, func(typ, to, id []byte) {
		if n := s.byType[string(typ)]; n != nil {
			*n++
		} else {
			s.byType[string(typ)] = new(1)
		}
		k := string(id) + " " + string(to)
		if s.seen[k] {
			s.dups++ // a repeat is allowed by the contract but not counted twice
			return
		}
		s.seen[k] = true
		at, ok := s.sentAt[string(id)]
		if !ok {
			s.early[string(id)] = append(s.early[string(id)], now)
			return
		}
		s.arrivedLocked(string(id), at, now)
	})
	return err == nil
}

// sent notes an accepted message that owes n callbacks (one per recipient).
func (s *webhookSink) sent(id string, at time.Time, n int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sentAt[id] = at
	s.want[id] += int(n)
	s.total += int(n)
	for _, arrived := range s.early[id] {
		s.arrivedLocked(id, at, arrived)
	}
	delete(s.early, id)
}

func (s *webhookSink) arrivedLocked(id string, at, arrived time.Time) {
	s.lat = append(s.lat, arrived.Sub(at))
	s.got++
	if arrived.After(s.last) {
		s.last = arrived
	}
	if s.want[id]--; s.want[id] <= 0 {
		delete(s.want, id)
		delete(s.sentAt, id)
	}
}

// await waits until n callbacks have arrived or the deadline passes.
func (s *webhookSink) await(n int64, deadline time.Time) bool {
	for {
		s.mu.Lock()
		got := s.got
		s.mu.Unlock()
		if int64(got) >= n {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(2 * time.Millisecond) // polled: the sink has no per-callback signal
	}
}

// reset forgets what was counted so far (the warm-up): the report covers
// the measured run only. Ids stay in seen, so a late repeat of the warm-up's
// callback is a repeat, not a new arrival; a late first one waits in early
// for an id the run never sends.
func (s *webhookSink) reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lat = s.lat[:0]
	clear(s.byType)
	s.last = time.Time{}
	s.dups, s.total, s.got = 0, 0, 0
	clear(s.sentAt)
	clear(s.want)
	clear(s.early)
}

// report waits (bounded) for every expected callback and prints the loop's
// throughput and latency percentiles.
func (s *webhookSink) report(out io.Writer, expected int64, start time.Time) {
	// Wait for the last callback: polled, as the sink is only checked here
	// once sending has finished (an earlier "all arrived so far" means nothing).
	deadline := time.Now().Add(60 * time.Second)
	var got int
	for {
		s.mu.Lock()
		got = s.got
		s.mu.Unlock()
		if int64(got) >= expected || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	if int64(got) < expected {
		if p := os.Getenv("SMPPLOAD_STACKS"); p != "" {
			if f, err := os.Create(p); err == nil {
				pprof.Lookup("goroutine").WriteTo(f, 2)
				f.Close()
			}
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	lat := slices.Clone(s.lat)
	slices.Sort(lat)
	took := s.last.Sub(start)
	if len(lat) == 0 || took <= 0 {
		fmt.Fprintf(out, "full loop: no callbacks received (expected %d)\n", expected)
		return
	}
	byType := make(map[string]int, len(s.byType))
	for typ, n := range s.byType {
		byType[typ] = *n
	}
	fmt.Fprintf(out, "full loop (202 → submit → receipt → callback): %d of %d callbacks in %.2fs = %.0f/s; %v; %d repeated\n",
		len(lat), expected, took.Seconds(), float64(len(lat))/took.Seconds(), byType, s.dups)
	fmt.Fprintf(out, "end-to-end latency: p50 %s  p90 %s  p99 %s  max %s\n", pct(lat, 50), pct(lat, 90), pct(lat, 99), lat[len(lat)-1])
}
