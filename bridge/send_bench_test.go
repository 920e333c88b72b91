package bridge

import (
	"context"
	"testing"

	"smppbridge/smpp"
)

// planSender plans like a carrier and holds the one message its worker
// takes until the benchmark ends, so Send's queue only grows: the
// benchmark measures the intake's side alone.
type planSender struct{}

func (planSender) Plan(string) smpp.Plan { return smpp.Plan{Segments: 1, Parts: 1} }
func (planSender) Submit(ctx context.Context, m *smpp.Message) (smpp.SubmitResult, error) {
	<-ctx.Done()
	return smpp.SubmitResult{Plan: smpp.Plan{Segments: 1, Parts: 1}, Parts: []smpp.PartResult{{Err: smpp.ErrNotSent}}}, nil
}

func benchBridge(b *testing.B) *Bridge {
	br, err := New(Options{
		Store:         nopStore{},
		CheckPassword: func(hash, pw string) bool { return hash == "hash-a" && pw == "right-password" },
		Carriers: []Carrier{{Name: "c", Sender: planSender{}, SegmentsPerSecond: 1e6, Routes: []string{"+1"}, Workers: 1,
			RegisteredDelivery: 1}},
		Accounts: []Account{{ID: "A", Credentials: []Credential{{Username: "alice", PasswordHash: "hash-a"}},
			Applications: []Application{{ID: "app", Numbers: []Number{{Number: "+15550001111"}}}}}},
	})
	if err != nil {
		b.Fatal(err)
	}
	br.Start()
	b.Cleanup(func() { br.Close(context.Background()) })
	return br
}

// BenchmarkAuthenticate is the per-request cost of a credential already
// verified (the cache hit every request after a client's first takes).
func BenchmarkAuthenticate(b *testing.B) {
	br := benchBridge(b)
	if err := br.Authenticate("A", "alice", "right-password"); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := br.Authenticate("A", "alice", "right-password"); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkSend is Bridge.Send for a single-recipient message up to and
// after the store call (a store that returns at once): validation,
// routing, the queue item, the message id and the push to the queue.
func BenchmarkSend(b *testing.B) {
	br := benchBridge(b)
	req := &SendRequest{AccountID: "A", ApplicationID: "app", From: "+15550001111", To: []string{"+16175550000"},
		Text: "Your verification code is 123456", RequestID: "0123456789abcdef"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := br.Send(context.Background(), req); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSendInto is BenchmarkSend writing into a Message the caller
// owns, as the HTTP server does.
func BenchmarkSendInto(b *testing.B) {
	br := benchBridge(b)
	req := &SendRequest{AccountID: "A", ApplicationID: "app", From: "+15550001111", To: []string{"+16175550000"},
		Text: "Your verification code is 123456", RequestID: "0123456789abcdef"}
	var m Message
	b.ReportAllocs()
	for b.Loop() {
		if err := br.SendInto(context.Background(), req, &m); err != nil {
			b.Fatal(err)
		}
	}
}
