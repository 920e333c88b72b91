package pdu

import (
	"bytes"
	"strings"
	"testing"

	gopdu "github.com/fiorix/go-smpp/smpp/pdu"
	"github.com/fiorix/go-smpp/smpp/pdu/pdufield"
)

// text160 is a full single-part GSM-7 message.
var text160 = strings.Repeat("Your code is 123456. ", 8)[:160]

// benchSubmit is what the bridge sends for a typical API call.
func benchSubmit() PDU {
	return PDU{
		Header:             Header{ID: SubmitSM, Seq: 42},
		Source:             Address{TON: 1, NPI: 1, Addr: []byte("15550001111")},
		Dest:               Address{TON: 1, NPI: 1, Addr: []byte("15559998888")},
		ValidityPeriod:     []byte("000001000000000R"),
		RegisteredDelivery: 1,
		ShortMessage:       []byte(text160),
	}
}

// benchReceipt is a delivery receipt as carriers send it: text and TLVs.
func benchReceipt(tb testing.TB) PDU {
	return goldenByName(tb, "deliver_sm delivery receipt").pdu
}

func BenchmarkAppendSubmitSM(b *testing.B) {
	p := benchSubmit()
	buf := make([]byte, 0, 512)
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if buf, err = Append(buf[:0], &p); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(len(buf)))
}

func BenchmarkDecodeSubmitSM(b *testing.B) {
	src := benchSubmit()
	frame, err := Append(nil, &src)
	if err != nil {
		b.Fatal(err)
	}
	var p PDU
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	for b.Loop() {
		if err := Decode(frame, &p); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendDeliverSMReceipt(b *testing.B) {
	p := benchReceipt(b)
	buf := make([]byte, 0, 512)
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if buf, err = Append(buf[:0], &p); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(len(buf)))
}

func BenchmarkDecodeDeliverSMReceipt(b *testing.B) {
	frame := goldenByName(b, "deliver_sm delivery receipt").frame
	var p PDU
	// The session reuses one PDU; the first Decode sizes its TLV slice.
	if err := Decode(frame, &p); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	for b.Loop() {
		if err := Decode(frame, &p); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGoSMPPEncodeSubmitSM builds and serialises the same submit_sm the
// way go-smpp is used: a new PDU per message, fields set by name.
func BenchmarkGoSMPPEncodeSubmitSM(b *testing.B) {
	src := benchSubmit()
	var buf bytes.Buffer
	b.ReportAllocs()
	for b.Loop() {
		body := gopdu.NewSubmitSM(nil)
		body.Header().Seq = src.Seq
		f := body.Fields()
		f.Set(pdufield.SourceAddrTON, src.Source.TON)
		f.Set(pdufield.SourceAddrNPI, src.Source.NPI)
		f.Set(pdufield.SourceAddr, "15550001111")
		f.Set(pdufield.DestAddrTON, src.Dest.TON)
		f.Set(pdufield.DestAddrNPI, src.Dest.NPI)
		f.Set(pdufield.DestinationAddr, "15559998888")
		f.Set(pdufield.ValidityPeriod, "000001000000000R")
		f.Set(pdufield.RegisteredDelivery, src.RegisteredDelivery)
		f.Set(pdufield.ShortMessage, text160)
		buf.Reset()
		if err := body.SerializeTo(&buf); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(buf.Len()))
}

func BenchmarkGoSMPPDecodeSubmitSM(b *testing.B) {
	src := benchSubmit()
	frame, err := Append(nil, &src)
	if err != nil {
		b.Fatal(err)
	}
	r := bytes.NewReader(frame)
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	for b.Loop() {
		r.Reset(frame)
		if _, err := gopdu.Decode(r); err != nil {
			b.Fatal(err)
		}
	}
}

// The hot paths must not allocate; this keeps that true without running
// benchmarks.
func TestHotPathsDoNotAllocate(t *testing.T) {
	submit, receipt := benchSubmit(), benchReceipt(t)
	buf := make([]byte, 0, 512)
	submitFrame, _ := Append(nil, &submit)
	receiptFrame, _ := Append(nil, &receipt)
	var p PDU
	_ = Decode(receiptFrame, &p) // sizes p.TLVs once, as a session's first PDU does
	tests := []struct {
		name string
		f    func()
	}{
		{"Append submit_sm", func() { buf, _ = Append(buf[:0], &submit) }},
		{"Append deliver_sm receipt", func() { buf, _ = Append(buf[:0], &receipt) }},
		{"Decode submit_sm", func() { _ = Decode(submitFrame, &p) }},
		{"Decode deliver_sm receipt", func() { _ = Decode(receiptFrame, &p) }},
		{"AppendHeaderOnly", func() { buf = AppendHeaderOnly(buf[:0], EnquireLinkResp, StatusOK, 7) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if n := testing.AllocsPerRun(200, tt.f); n != 0 {
				t.Errorf("%v allocs per call, want 0", n)
			}
		})
	}
}
