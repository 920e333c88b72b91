package httpapi

import (
	"bufio"
	"bytes"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// BenchmarkHandlerSendLoopback is the intake as smppload drives it: our
// Server with its options (timeouts, limits) on real loopback TCP, and
// keep-alive clients that each send one request at a time and read the
// whole 202. cpu-µs/op counts both sides (client and server), as
// smppload's process CPU does; the core is the cheapest honest one, so the
// difference to smppload's figures is the bridge and the store.
func BenchmarkHandlerSendLoopback(b *testing.B) {
	for _, clients := range []int{1, 16} {
		b.Run("clients="+strconv.Itoa(clients), func(b *testing.B) {
			s := New(benchCore{}, Options{Addr: "127.0.0.1:0"})
			if err := s.Listen(); err != nil {
				b.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- s.Serve() }()
			defer func() {
				s.Shutdown(b.Context())
				<-done
			}()
			raw := rawRequest{method: "POST", path: testPath, body: benchBody, headers: []string{
				"Authorization: " + basic(testUser, testPass), "Content-Type: application/json"}}.bytes()
			var next atomic.Int64
			var wg sync.WaitGroup
			b.ReportAllocs()
			b.ResetTimer()
			cpu0 := benchCPU()
			start := time.Now()
			for range clients {
				wg.Add(1)
				go func() {
					defer wg.Done()
					c, err := net.Dial("tcp", s.Addr())
					if err != nil {
						b.Error(err)
						return
					}
					defer c.Close()
					br := bufio.NewReaderSize(c, 4096)
					for next.Add(1) <= int64(b.N) {
						if _, err := c.Write(raw); err != nil {
							b.Error(err)
							return
						}
						if err := readAccepted(br); err != nil {
							b.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "req/s")
			b.ReportMetric(float64(benchCPU()-cpu0)/float64(time.Microsecond)/float64(b.N), "cpu-µs/op")
		})
	}
}

// readAccepted reads one response and checks that it is a 202 with a body.
func readAccepted(br *bufio.Reader) error {
	line, err := br.ReadSlice('\n')
	if err != nil {
		return err
	}
	if !bytes.HasPrefix(line, []byte("HTTP/1.1 202 ")) {
		return &benchError{"status line " + strconv.Quote(string(line))}
	}
	length := -1
	for {
		h, err := br.ReadSlice('\n')
		if err != nil {
			return err
		}
		if len(h) <= 2 {
			break
		}
		if v, ok := bytes.CutPrefix(h, []byte("Content-Length: ")); ok {
			length, _ = strconv.Atoi(string(bytes.TrimSpace(v)))
		}
	}
	if length <= 0 {
		return &benchError{"no body"}
	}
	body, err := br.Peek(length)
	if err != nil {
		return err
	}
	if !bytes.HasPrefix(body, []byte(`{"id":"`)) {
		return &benchError{"body " + strconv.Quote(string(body))}
	}
	_, err = br.Discard(length)
	return err
}

type benchError struct{ s string }

func (e *benchError) Error() string { return e.s }

// benchCPU is the process's user and system CPU so far: on a shared
// machine CPU per request compares across runs where wall time does not.
func benchCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
