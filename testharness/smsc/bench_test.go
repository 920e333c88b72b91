package smsc_test

import (
	"bufio"
	"context"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"smppbridge/smpp/pdu"
	"smppbridge/testharness/smsc"
)

// benchBind is a minimal pipelining ESME: it keeps up to window submit_sm
// outstanding and acknowledges receipts, so the benchmark measures the
// simulator, not a client that waits one round trip per message.
type benchBind struct {
	conn     net.Conn
	mu       sync.Mutex
	bw       *bufio.Writer
	slots    chan struct{}
	receipts atomic.Int64
	resps    atomic.Int64
	failed   atomic.Int64
	seq      uint32
}

func dialBench(b *testing.B, addr string, window int) *benchBind {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	bb := &benchBind{conn: c, bw: bufio.NewWriterSize(c, 64*1024), slots: make(chan struct{}, window)}
	bind := pdu.PDU{Header: pdu.Header{ID: pdu.BindTransceiver, Seq: 1}, SystemID: []byte("bench"), Password: []byte("pw"), InterfaceVersion: 0x34}
	out, _ := pdu.Append(nil, &bind)
	if _, err := c.Write(out); err != nil {
		b.Fatal(err)
	}
	r := bufio.NewReaderSize(c, 64*1024)
	frame, err := pdu.ReadFrame(r, nil, 0)
	if err != nil {
		b.Fatal(err)
	}
	var p pdu.PDU
	if err := pdu.Decode(frame, &p); err != nil || p.ID != pdu.BindTransceiverResp || p.Status != pdu.StatusOK {
		b.Fatalf("bind: %v %v %v", err, p.ID, p.Status)
	}
	bb.seq = 1
	go bb.readLoop(r)
	return bb
}

func (bb *benchBind) readLoop(r *bufio.Reader) {
	var p pdu.PDU
	var buf []byte
	for {
		frame, err := pdu.ReadFrame(r, buf, 0)
		if err != nil {
			return
		}
		buf = frame
		if err := pdu.Decode(frame, &p); err != nil {
			bb.failed.Add(1)
			continue
		}
		switch p.ID {
		case pdu.SubmitSMResp:
			if p.Status != pdu.StatusOK {
				bb.failed.Add(1)
			}
			bb.resps.Add(1)
			<-bb.slots
		case pdu.DeliverSM:
			bb.mu.Lock()
			b := bb.bw.AvailableBuffer()
			b = pdu.AppendHeaderOnly(b, pdu.DeliverSMResp, pdu.StatusOK, p.Seq)
			b = append(b, 0) // empty message_id
			b[0], b[1], b[2], b[3] = 0, 0, 0, 17
			bb.bw.Write(b)
			if r.Buffered() == 0 {
				bb.bw.Flush()
			}
			bb.mu.Unlock()
			bb.receipts.Add(1)
		}
	}
}

// send submits n messages, flushing whenever the window is full or no more
// slots are free right now.
func (bb *benchBind) send(n int) {
	sm := pdu.PDU{Header: pdu.Header{ID: pdu.SubmitSM},
		Source: pdu.Address{TON: 1, NPI: 1, Addr: []byte("15550001111")}, Dest: pdu.Address{TON: 1, NPI: 1, Addr: []byte("15550002222")},
		RegisteredDelivery: 1, ShortMessage: []byte("Your verification code is 123456. It expires in 10 minutes.")}
	for i := 0; i < n; i++ {
		bb.slots <- struct{}{}
		bb.mu.Lock()
		bb.seq = pdu.NextSeq(bb.seq)
		sm.Seq = bb.seq
		b, _ := pdu.Append(bb.bw.AvailableBuffer(), &sm)
		bb.bw.Write(b)
		if len(bb.slots) == cap(bb.slots) || i == n-1 {
			bb.bw.Flush()
		}
		bb.mu.Unlock()
	}
	bb.mu.Lock()
	bb.bw.Flush()
	bb.mu.Unlock()
}

// BenchmarkSimulatorThroughput: 4 transceiver binds, window 100, a receipt
// per message. Reports submit_sm/s including the receipts' round trips.
func BenchmarkSimulatorThroughput(b *testing.B) {
	srv, err := smsc.Start(smsc.Config{KeepMessages: 10000})
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	const binds, window = 4, 100
	var bbs []*benchBind
	for i := 0; i < binds; i++ {
		bbs = append(bbs, dialBench(b, srv.Addr(), window))
	}
	defer func() {
		for _, bb := range bbs {
			bb.conn.Close()
		}
	}()
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := processCPU()
	start := time.Now()
	var wg sync.WaitGroup
	per := (b.N + binds - 1) / binds
	for _, bb := range bbs {
		wg.Add(1)
		go func() { defer wg.Done(); bb.send(per) }()
	}
	wg.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	total := int64(per * binds)
	err = srv.WaitFor(ctx, func() bool { return srv.Stats().ReceiptsAcked >= total })
	elapsed := time.Since(start)
	b.StopTimer()
	if err != nil {
		b.Fatalf("receipts acked %d of %d: %v", srv.Stats().ReceiptsAcked, total, err)
	}
	for _, bb := range bbs {
		if bb.failed.Load() != 0 {
			b.Fatalf("%d failed submits", bb.failed.Load())
		}
	}
	b.ReportMetric(float64(total)/elapsed.Seconds(), "submit/s")
	b.ReportMetric(cpuSince(cpu0)/float64(b.N), "cpu-µs/op")
}

// processCPU is the CPU time (user + system) this process has used: on a
// shared machine CPU per message compares across runs where wall time
// does not. Both sides of the connection are counted.
func processCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// cpuSince is the CPU used since processCPU returned cpu0, in µs.
func cpuSince(cpu0 time.Duration) float64 {
	return float64(processCPU()-cpu0) / float64(time.Microsecond)
}
