package smsc_test

import (
	"encoding/binary"
	"math/rand/v2"
	"net"
	"testing"
	"time"

	"smppbridge/testharness/smsc"
)

// TestGarbageFromESMEs: connections that send random bytes — unframeable,
// or framed with random commands before any bind — are answered or closed
// and never take the simulator down; a proper ESME binds and submits after
// each one.
func TestGarbageFromESMEs(t *testing.T) {
	srv := startSMSC(t, smsc.Config{})
	rng := rand.New(rand.NewPCG(8, 1))
	for i := range 30 {
		c, err := net.Dial("tcp", srv.Addr())
		if err != nil {
			t.Fatal(err)
		}
		b := make([]byte, 16+rng.IntN(300))
		for j := range b {
			b[j] = byte(rng.UintN(256))
		}
		if i%2 == 0 { // framed: a random command before bind
			binary.BigEndian.PutUint32(b, uint32(len(b)))
		}
		c.SetDeadline(time.Now().Add(15 * time.Second))
		if _, err := c.Write(b); err != nil {
			t.Fatal(err)
		}
		c.(*net.TCPConn).CloseWrite() // then EOF: the simulator must let go
		buf := make([]byte, 4096)
		for {
			if _, err := c.Read(buf); err != nil {
				if ne, ok := err.(net.Error); ok && ne.Timeout() {
					t.Fatalf("garbage %d (%x): connection still open after 15s", i, b)
				}
				break
			}
		}
		c.Close()
		e := bound(t, srv, idBindTRX, "acme", "secret")
		e.submitOK(t, sm{src: "1", dst: "2", text: gsm7("after garbage")})
	}
}
