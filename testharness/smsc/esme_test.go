package smsc_test

// A raw ESME for driving the simulator from outside its own code path:
// requests are encoded with go-smpp's codec (or by hand, from the SMPP 3.4
// specification, where go-smpp cannot encode a PDU correctly) and everything
// the simulator sends is decoded the same way. Nothing here uses
// smppbridge/smpp/pdu or smppbridge/smpp/coding, so a bug shared by the
// simulator and our codec cannot hide itself.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf16"

	gopdu "github.com/fiorix/go-smpp/smpp/pdu"
	"github.com/fiorix/go-smpp/smpp/pdu/pdufield"
	"github.com/fiorix/go-smpp/smpp/pdu/pdutext"
	"github.com/fiorix/go-smpp/smpp/pdu/pdutlv"

	"smppbridge/testharness/smsc"
)

// Command ids and statuses, spelled out from the specification (§5.1.2.1,
// §5.1.3) rather than imported from the codec under test.
const (
	idGenericNack     = 0x80000000
	idBindRX          = 0x00000001
	idBindTX          = 0x00000002
	idQuerySM         = 0x00000003
	idSubmitSM        = 0x00000004
	idDeliverSM       = 0x00000005
	idUnbind          = 0x00000006
	idCancelSM        = 0x00000008
	idBindTRX         = 0x00000009
	idEnquireLink     = 0x00000015
	idSubmitMulti     = 0x00000021
	idDataSM          = 0x00000103
	respBit           = 0x80000000
	idQuerySMResp     = idQuerySM | respBit
	idSubmitSMResp    = idSubmitSM | respBit
	idDeliverSMResp   = idDeliverSM | respBit
	idUnbindResp      = idUnbind | respBit
	idCancelSMResp    = idCancelSM | respBit
	idEnquireLinkResp = idEnquireLink | respBit
	idSubmitMultiResp = idSubmitMulti | respBit
	idDataSMResp      = idDataSM | respBit

	stOK         = 0x00
	stInvCmdLen  = 0x02
	stInvCmdID   = 0x03
	stInvBndSts  = 0x04
	stAlyBnd     = 0x05
	stSysErr     = 0x08
	stInvDstAdr  = 0x0B
	stBindFail   = 0x0D
	stInvPaswd   = 0x0E
	stInvSysID   = 0x0F
	stCancelFail = 0x11
	stMsgQFul    = 0x14
	stInvDLName  = 0x34
	stThrottled  = 0x58
	stQueryFail  = 0x67

	tagReceiptedMsgID = 0x001E
	tagSarMsgRefNum   = 0x020C
	tagSarTotal       = 0x020E
	tagSarSeq         = 0x020F
	tagSCIfVersion    = 0x0210
	tagNetworkErr     = 0x0423
	tagMessagePayload = 0x0424
	tagMessageState   = 0x0427

	esmUDHI    = 0x40
	esmReceipt = 0x04
)

// waitTime bounds every wait: generous for -race on two cores, and only
// ever reached when a test is failing.
const waitTime = 10 * time.Second

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), waitTime)
	t.Cleanup(cancel)
	return ctx
}

// startSMSC starts a simulator with a fixed seed unless the test picks one,
// so random faults and outcome mixes replay identically.
func startSMSC(t testing.TB, cfg smsc.Config) *smsc.Server {
	t.Helper()
	if cfg.Seed == 0 {
		cfg.Seed = 1
	}
	srv, err := smsc.Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv
}

// waitFor wraps Server.WaitFor with the test deadline.
func waitFor(t testing.TB, srv *smsc.Server, what string, cond func(smsc.Stats) bool) smsc.Stats {
	t.Helper()
	var last smsc.Stats
	if err := srv.WaitFor(testCtx(t), func() bool { last = srv.Stats(); return cond(last) }); err != nil {
		t.Fatalf("waiting for %s: %v; stats %+v", what, err, last.Counters)
	}
	return last
}

// rawPDU is one PDU as read off the wire.
type rawPDU struct {
	ID, Status, Seq uint32
	Body            []byte     // after the header
	At              time.Time  // when the reader got it
	Go              gopdu.Body // go-smpp's decoding, for the types it knows
	GoErr           error
}

func (p *rawPDU) String() string {
	return fmt.Sprintf("%s(%#x) status %#x seq %d", gopdu.ID(p.ID), p.ID, p.Status, p.Seq)
}

// field returns a mandatory field as go-smpp decoded it.
func (p *rawPDU) field(t testing.TB, name pdufield.Name) pdufield.Body {
	t.Helper()
	if p.Go == nil {
		t.Fatalf("%v: go-smpp could not decode it: %v", p, p.GoErr)
	}
	f := p.Go.Fields()[name]
	if f == nil {
		t.Fatalf("%v has no %s", p, name)
	}
	return f
}

// messageID is the message_id of a submit_sm_resp, submit_multi_resp or data_sm_resp.
func (p *rawPDU) messageID(t testing.TB) string {
	t.Helper()
	if p.ID == idDataSMResp {
		id, _ := cstring(p.Body)
		return id
	}
	return p.field(t, pdufield.MessageID).String()
}

// goDecodable lists what the pinned go-smpp can decode; the rest is parsed by hand.
func goDecodable(id uint32) bool {
	switch id {
	case idDataSM, idDataSMResp, idCancelSMResp, 0x80000007, idQuerySMResp:
		return false
	}
	return true
}

// esme is the raw test client.
type esme struct {
	t       testing.TB
	conn    net.Conn
	in      chan *rawPDU // closed when the connection ends
	wmu     sync.Mutex
	seq     atomic.Uint32
	autoAck atomic.Int64 // 0: hand deliver_sm/data_sm to the test unanswered; n: answer them with status n-1
	autoEnq atomic.Bool  // answer SMSC enquire_links
}

// dial connects a client whose own sequence numbers start at 1000, far from
// the SMSC's, so a test can tell the two numberings apart. deliver_sm and
// data_sm are acknowledged with ESME_ROK unless the test says otherwise.
func dial(t testing.TB, addr string) *esme {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, waitTime)
	if err != nil {
		t.Fatal(err)
	}
	return newESME(t, c)
}

func dialTLS(t testing.TB, addr string, roots *x509.CertPool) *esme {
	t.Helper()
	d := &net.Dialer{Timeout: waitTime}
	c, err := tls.DialWithDialer(d, "tcp", addr, &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12})
	if err != nil {
		t.Fatal(err)
	}
	return newESME(t, c)
}

// dialTLSErr dials with the system roots only, for the negative TLS test.
func dialTLSErr(addr string) (net.Conn, error) {
	d := &net.Dialer{Timeout: waitTime}
	c, err := tls.DialWithDialer(d, "tcp", addr, &tls.Config{MinVersion: tls.VersionTLS12})
	if err == nil {
		c.Close()
	}
	return c, err
}

func newESME(t testing.TB, c net.Conn) *esme {
	e := &esme{t: t, conn: c, in: make(chan *rawPDU, 8192)}
	e.seq.Store(999)
	e.autoAck.Store(stOK + 1)
	go e.readLoop()
	t.Cleanup(func() { c.Close() })
	return e
}

func (e *esme) nextSeq() uint32 { return e.seq.Add(1) }

// readLoop hands every PDU to the test, answering deliveries first when
// auto-ack is on. It must not call t: it can outlive the test.
func (e *esme) readLoop() {
	defer close(e.in)
	r := bufio.NewReader(e.conn)
	for {
		hdr := make([]byte, 16)
		if _, err := io.ReadFull(r, hdr); err != nil {
			return
		}
		n := binary.BigEndian.Uint32(hdr)
		if n < 16 || n > 1<<20 {
			return
		}
		frame := make([]byte, n)
		copy(frame, hdr)
		if _, err := io.ReadFull(r, frame[16:]); err != nil {
			return
		}
		p := &rawPDU{
			ID: binary.BigEndian.Uint32(frame[4:]), Status: binary.BigEndian.Uint32(frame[8:]),
			Seq: binary.BigEndian.Uint32(frame[12:]), Body: frame[16:], At: time.Now(),
		}
		if goDecodable(p.ID) {
			p.Go, p.GoErr = gopdu.Decode(bytes.NewReader(frame))
		}
		if st := e.autoAck.Load(); st > 0 {
			switch p.ID {
			case idDeliverSM:
				e.writeRaw(goFrame(gopdu.NewDeliverSMRespSeq(p.Seq), uint32(st-1)))
			case idDataSM:
				e.writeRaw(hdrOnly(idDataSMResp, uint32(st-1), p.Seq, cstr(nil, "")))
			}
		}
		if p.ID == idEnquireLink && e.autoEnq.Load() {
			e.writeRaw(simplePDU(idEnquireLinkResp, p.Seq))
		}
		e.in <- p
	}
}

func (e *esme) writeRaw(b []byte) error {
	e.wmu.Lock()
	defer e.wmu.Unlock()
	_, err := e.conn.Write(b)
	return err
}

func (e *esme) send(t testing.TB, b []byte) {
	t.Helper()
	if err := e.writeRaw(b); err != nil {
		t.Fatalf("write: %v", err)
	}
}

// next returns the next PDU from the SMSC, failing the test when none comes
// within the deadline or the connection ends.
func (e *esme) next(t testing.TB) *rawPDU {
	t.Helper()
	select {
	case p, ok := <-e.in:
		if !ok {
			t.Fatal("connection closed while a PDU was expected")
		}
		return p
	case <-time.After(waitTime):
		t.Fatal("no PDU from the SMSC within the deadline")
	}
	return nil
}

// expect returns the next PDU, which must have the given command id. PDUs
// go-smpp should understand must also decode with it: a simulator that
// breaks go-smpp clients is a bug.
func (e *esme) expect(t testing.TB, id uint32) *rawPDU {
	t.Helper()
	p := e.next(t)
	if p.ID != id {
		t.Fatalf("got %v, want %s(%#x)", p, gopdu.ID(id), id)
	}
	if goDecodable(id) && p.GoErr != nil {
		t.Fatalf("go-smpp cannot decode the simulator's %v: %v", p, p.GoErr)
	}
	return p
}

// expectResp is expect plus a check of the sequence number and status.
func (e *esme) expectResp(t testing.TB, id, seq, status uint32) *rawPDU {
	t.Helper()
	p := e.expect(t, id)
	if p.Seq != seq || p.Status != status {
		t.Fatalf("got %v, want seq %d status %#x", p, seq, status)
	}
	return p
}

// sync proves that nothing else is on its way: the simulator handles a
// connection's PDUs in order and writes in order, so anything it produced
// while handling earlier requests arrives before this enquire_link_resp.
func (e *esme) sync(t testing.TB) {
	t.Helper()
	seq := e.nextSeq()
	e.send(t, simplePDU(idEnquireLink, seq))
	p := e.next(t)
	if p.ID != idEnquireLinkResp || p.Seq != seq {
		t.Fatalf("unexpected %v before enquire_link_resp seq %d", p, seq)
	}
}

// expectClosed waits for the SMSC to close the connection; any PDU before
// that fails the test.
func (e *esme) expectClosed(t testing.TB) {
	t.Helper()
	select {
	case p, ok := <-e.in:
		if ok {
			t.Fatalf("got %v, want the connection closed", p)
		}
	case <-time.After(waitTime):
		t.Fatal("connection still open")
	}
}

// bindAs sends a bind of the given kind and returns its resp.
func (e *esme) bindAs(t testing.TB, id uint32, systemID, password string) *rawPDU {
	t.Helper()
	var b gopdu.Body
	switch id {
	case idBindTX:
		b = gopdu.NewBindTransmitter()
	case idBindRX:
		b = gopdu.NewBindReceiver()
	default:
		b = gopdu.NewBindTransceiver()
	}
	f := b.Fields()
	f.Set(pdufield.SystemID, systemID)
	f.Set(pdufield.Password, password)
	f.Set(pdufield.SystemType, "")
	f.Set(pdufield.InterfaceVersion, 0x34)
	seq := e.nextSeq()
	b.Header().Seq = seq
	e.send(t, goFrame(b, 0))
	p := e.expect(t, id|respBit)
	if p.Seq != seq {
		t.Fatalf("bind resp seq %d, want %d", p.Seq, seq)
	}
	return p
}

// mustBind binds and fails the test unless the SMSC accepts.
func (e *esme) mustBind(t testing.TB, id uint32, systemID, password string) {
	t.Helper()
	if p := e.bindAs(t, id, systemID, password); p.Status != stOK {
		t.Fatalf("bind %s: status %#x", systemID, p.Status)
	}
}

// bound dials and binds in one go.
func bound(t testing.TB, srv *smsc.Server, id uint32, systemID, password string) *esme {
	t.Helper()
	e := dial(t, srv.Addr())
	e.mustBind(t, id, systemID, password)
	return e
}

// goFrame serialises a go-smpp PDU with the given command_status.
func goFrame(b gopdu.Body, status uint32) []byte {
	b.Header().Status = gopdu.Status(status)
	var buf bytes.Buffer
	if err := b.SerializeTo(&buf); err != nil {
		panic(err)
	}
	return buf.Bytes()
}

// sm describes a message for submit_sm (go-smpp) or the hand-built PDUs.
type sm struct {
	src, dst         string
	srcTON, srcNPI   byte
	dstTON, dstNPI   byte
	esm, regDlv, dc  byte
	text             []byte // short_message, UDH included
	tlvs             []tlv
	dests            []multiDest // submit_multi only
	seq              uint32      // 0: the client's next
	serviceType      string
	scheduleDelivery string
}

type tlv struct {
	tag uint16
	val []byte
}

type multiDest struct {
	dl   bool // a distribution list name instead of an SME address
	addr string
}

// submitSM encodes a submit_sm with go-smpp. TLV values are passed as
// []byte: go-smpp writes an int TLV as one byte.
func (e *esme) submitSM(m sm) (uint32, []byte) {
	fields := pdutlv.Fields{}
	for _, v := range m.tlvs {
		fields[pdutlv.Tag(v.tag)] = v.val
	}
	b := gopdu.NewSubmitSM(fields)
	f := b.Fields()
	f.Set(pdufield.ServiceType, m.serviceType)
	f.Set(pdufield.SourceAddrTON, m.srcTON)
	f.Set(pdufield.SourceAddrNPI, m.srcNPI)
	f.Set(pdufield.SourceAddr, m.src)
	f.Set(pdufield.DestAddrTON, m.dstTON)
	f.Set(pdufield.DestAddrNPI, m.dstNPI)
	f.Set(pdufield.DestinationAddr, m.dst)
	f.Set(pdufield.ESMClass, m.esm)
	f.Set(pdufield.ScheduleDeliveryTime, m.scheduleDelivery)
	f.Set(pdufield.RegisteredDelivery, m.regDlv)
	f.Set(pdufield.DataCoding, m.dc)
	f.Set(pdufield.ShortMessage, m.text)
	seq := m.seq
	if seq == 0 {
		seq = e.nextSeq()
	}
	b.Header().Seq = seq
	return seq, goFrame(b, 0)
}

// submit sends a submit_sm and returns its sequence number.
func (e *esme) submit(t testing.TB, m sm) uint32 {
	t.Helper()
	seq, b := e.submitSM(m)
	e.send(t, b)
	return seq
}

// submitOK submits and waits for a successful resp, returning the message id.
func (e *esme) submitOK(t testing.TB, m sm) string {
	t.Helper()
	seq := e.submit(t, m)
	return e.expectResp(t, idSubmitSMResp, seq, stOK).messageID(t)
}

// text is a plain GSM-7 message body in the unpacked form.
func gsm7(s string) []byte { return pdutext.GSM7(s).Encode() }

// simplePDU encodes a body-less PDU go-smpp knows with a chosen sequence number.
func simplePDU(id, seq uint32) []byte {
	var b gopdu.Body
	switch id {
	case idEnquireLink:
		b = gopdu.NewEnquireLink()
	case idEnquireLinkResp:
		b = gopdu.NewEnquireLinkResp()
	case idUnbind:
		b = gopdu.NewUnbind()
	case idUnbindResp:
		b = gopdu.NewUnbindResp()
	default:
		panic(fmt.Sprintf("simplePDU: %#x", id))
	}
	b.Header().Seq = seq
	return goFrame(b, 0)
}

// Hand-built PDUs, laid out from SMPP 3.4 §4.

func hdrOnly(id, status, seq uint32, body []byte) []byte {
	b := make([]byte, 16, 16+len(body))
	binary.BigEndian.PutUint32(b, uint32(16+len(body)))
	binary.BigEndian.PutUint32(b[4:], id)
	binary.BigEndian.PutUint32(b[8:], status)
	binary.BigEndian.PutUint32(b[12:], seq)
	return append(b, body...)
}

func cstr(b []byte, s string) []byte { return append(append(b, s...), 0) }

func appendTLVs(b []byte, tlvs []tlv) []byte {
	for _, v := range tlvs {
		b = binary.BigEndian.AppendUint16(b, v.tag)
		b = binary.BigEndian.AppendUint16(b, uint16(len(v.val)))
		b = append(b, v.val...)
	}
	return b
}

// dataSM is §4.7.1: service_type, source, destination, esm_class,
// registered_delivery, data_coding, then TLVs.
func dataSM(seq uint32, m sm) []byte {
	b := cstr(nil, m.serviceType)
	b = append(b, m.srcTON, m.srcNPI)
	b = cstr(b, m.src)
	b = append(b, m.dstTON, m.dstNPI)
	b = cstr(b, m.dst)
	b = append(b, m.esm, m.regDlv, m.dc)
	return hdrOnly(idDataSM, 0, seq, appendTLVs(b, m.tlvs))
}

// cancelSM is §4.9.1: service_type, message_id, source, destination.
func cancelSM(seq uint32, msgID, src, dst string) []byte {
	b := cstr(nil, "")
	b = cstr(b, msgID)
	b = cstr(append(b, 0, 0), src)
	b = cstr(append(b, 0, 0), dst)
	return hdrOnly(idCancelSM, 0, seq, b)
}

// submitMulti is §4.5.1. It is built by hand because go-smpp writes a
// distribution list entry with TON and NPI octets it must not have.
func submitMulti(seq uint32, m sm) []byte {
	b := cstr(nil, m.serviceType)
	b = append(b, m.srcTON, m.srcNPI)
	b = cstr(b, m.src)
	b = append(b, byte(len(m.dests)))
	for _, d := range m.dests {
		if d.dl {
			b = cstr(append(b, 2), d.addr)
		} else {
			b = cstr(append(b, 1, m.dstTON, m.dstNPI), d.addr)
		}
	}
	b = append(b, m.esm, 0, 0)
	b = cstr(b, "")
	b = cstr(b, "")
	b = append(b, m.regDlv, 0, m.dc, 0, byte(len(m.text)))
	b = append(b, m.text...)
	return hdrOnly(idSubmitMulti, 0, seq, appendTLVs(b, m.tlvs))
}

// queryResp is a decoded query_sm_resp.
type queryResp struct {
	status    uint32
	id, final string
	state     byte
	errCode   byte
}

func (e *esme) query(t testing.TB, msgID, src string) queryResp {
	t.Helper()
	b := gopdu.NewQuerySM()
	f := b.Fields()
	f.Set(pdufield.MessageID, msgID)
	f.Set(pdufield.SourceAddrTON, 1)
	f.Set(pdufield.SourceAddrNPI, 1)
	f.Set(pdufield.SourceAddr, src)
	seq := e.nextSeq()
	b.Header().Seq = seq
	e.send(t, goFrame(b, 0))
	p := e.expect(t, idQuerySMResp)
	if p.Seq != seq {
		t.Fatalf("query_sm_resp seq %d, want %d", p.Seq, seq)
	}
	// §4.8.2 by hand: go-smpp reads message_state and error_code as C-strings.
	q := queryResp{status: p.Status}
	if p.Status == stOK {
		rest := p.Body
		q.id, rest = cstring(rest)
		q.final, rest = cstring(rest)
		if len(rest) != 2 {
			t.Fatalf("query_sm_resp: %d octets after final_date, want 2", len(rest))
		}
		q.state, q.errCode = rest[0], rest[1]
	}
	return q
}

func (e *esme) cancel(t testing.TB, msgID, src, dst string) uint32 {
	t.Helper()
	seq := e.nextSeq()
	e.send(t, cancelSM(seq, msgID, src, dst))
	return e.expect(t, idCancelSMResp).Status
}

// parsing helpers for what go-smpp cannot decode

func cstring(b []byte) (string, []byte) {
	i := bytes.IndexByte(b, 0)
	if i < 0 {
		return string(b), nil
	}
	return string(b[:i]), b[i+1:]
}

func parseTLVs(b []byte) (map[uint16][]byte, error) {
	out := map[uint16][]byte{}
	for len(b) > 0 {
		if len(b) < 4 {
			return nil, errors.New("truncated TLV header")
		}
		tag, n := binary.BigEndian.Uint16(b), int(binary.BigEndian.Uint16(b[2:]))
		if len(b) < 4+n {
			return nil, fmt.Errorf("TLV %#04x overruns the body", tag)
		}
		out[tag] = b[4 : 4+n]
		b = b[4+n:]
	}
	return out, nil
}

// inbound is a deliver_sm or data_sm from the SMSC, in one shape.
type inbound struct {
	id             uint32
	src, dst       string
	srcTON, srcNPI byte
	dstTON, dstNPI byte
	esm, dc        byte
	udh, sm        []byte // short_message split at the UDH (go-smpp's view)
	tlvs           map[uint16][]byte
	payload        []byte
	hasPayload     bool
	receivedAt     time.Time
	seq            uint32
	regDlv         byte
}

// decodeInbound reads a deliver_sm with go-smpp and a data_sm by hand (§4.7.1).
func decodeInbound(t testing.TB, p *rawPDU) inbound {
	t.Helper()
	in := inbound{id: p.ID, receivedAt: p.At, seq: p.Seq}
	switch p.ID {
	case idDeliverSM:
		if p.GoErr != nil {
			t.Fatalf("go-smpp cannot decode the simulator's deliver_sm: %v", p.GoErr)
		}
		f := p.Go.Fields()
		in.src, in.dst = f[pdufield.SourceAddr].String(), f[pdufield.DestinationAddr].String()
		in.srcTON, in.srcNPI = f[pdufield.SourceAddrTON].Bytes()[0], f[pdufield.SourceAddrNPI].Bytes()[0]
		in.dstTON, in.dstNPI = f[pdufield.DestAddrTON].Bytes()[0], f[pdufield.DestAddrNPI].Bytes()[0]
		in.esm, in.dc = f[pdufield.ESMClass].Bytes()[0], f[pdufield.DataCoding].Bytes()[0]
		in.regDlv = f[pdufield.RegisteredDelivery].Bytes()[0]
		in.sm = f[pdufield.ShortMessage].Bytes()
		if l, ok := f[pdufield.UDHLength]; ok {
			// Rebuilt from the IE structs: go-smpp's Bytes() on them appends
			// a NUL into the shared decode buffer, over the first text octet.
			in.udh = []byte{l.(*pdufield.Fixed).Data}
			for _, ie := range f[pdufield.GSMUserData].(*pdufield.UDHList).Data {
				in.udh = append(in.udh, ie.IEI.Data, ie.IELength.Data)
				in.udh = append(in.udh, ie.IEData.Data...)
			}
		}
		in.tlvs = map[uint16][]byte{}
		for tag, v := range p.Go.TLVFields() {
			in.tlvs[uint16(tag)] = v.Bytes()
		}
	case idDataSM:
		b := p.Body
		_, b = cstring(b) // service_type
		if len(b) < 2 {
			t.Fatalf("data_sm too short")
		}
		in.srcTON, in.srcNPI = b[0], b[1]
		in.src, b = cstring(b[2:])
		in.dstTON, in.dstNPI = b[0], b[1]
		in.dst, b = cstring(b[2:])
		if len(b) < 3 {
			t.Fatalf("data_sm too short")
		}
		in.esm, in.regDlv, in.dc = b[0], b[1], b[2]
		var err error
		if in.tlvs, err = parseTLVs(b[3:]); err != nil {
			t.Fatalf("data_sm TLVs: %v", err)
		}
	default:
		t.Fatalf("%v is not a deliver_sm or data_sm", p)
	}
	in.payload, in.hasPayload = in.tlvs[tagMessagePayload]
	return in
}

// receipt is a delivery receipt as an ESME reads it.
type receipt struct {
	in                inbound
	hasText           bool
	id, sub, dlvrd    string
	submitDate, done  string
	stat, err, text   string
	tlvID             string // receipted_message_id without its NUL
	tlvIDRaw          []byte
	tlvState          []byte
	netErr            []byte
	hasTLVID, hasTLVs bool
}

var receiptText = regexp.MustCompile(`^id:(\S+) sub:(\d{3}) dlvrd:(\d{3}) submit date:(\d+) done date:(\d+) stat:([A-Z]{7}) err:(\S{3}) text:(.*)$`)

func parseReceipt(t testing.TB, p *rawPDU) receipt {
	t.Helper()
	r := receipt{in: decodeInbound(t, p)}
	if r.in.esm&esmReceipt == 0 {
		t.Fatalf("%v: esm_class %#x lacks the receipt bit", p, r.in.esm)
	}
	body := r.in.sm
	if r.in.hasPayload {
		body = r.in.payload
	}
	if len(body) > 0 {
		m := receiptText.FindStringSubmatch(string(body))
		if m == nil {
			t.Fatalf("receipt text %q does not follow SMPP 3.4 appendix B", body)
		}
		r.hasText = true
		r.id, r.sub, r.dlvrd, r.submitDate, r.done, r.stat, r.err, r.text = m[1], m[2], m[3], m[4], m[5], m[6], m[7], m[8]
	}
	if v, ok := r.in.tlvs[tagReceiptedMsgID]; ok {
		r.hasTLVID, r.tlvIDRaw = true, v
		r.tlvID = strings.TrimSuffix(string(v), "\x00")
	}
	r.tlvState = r.in.tlvs[tagMessageState]
	r.netErr = r.in.tlvs[tagNetworkErr]
	r.hasTLVs = r.hasTLVID || r.tlvState != nil || r.netErr != nil
	return r
}

// receiptID is the id a receipt names, TLV first as a careful ESME reads it.
func (r receipt) receiptID() string {
	if r.hasTLVID {
		return r.tlvID
	}
	return r.id
}

// Text encoders independent of smppbridge/smpp/coding.

// packSeptets packs 7-bit values LSB first (GSM 03.38 §6.1.2.1.1), starting
// after fill bits that align the text to a septet boundary behind a UDH.
func packSeptets(septets []byte, fill int) []byte {
	nbits := fill + 7*len(septets)
	out := make([]byte, (nbits+7)/8)
	for i, s := range septets {
		pos := fill + 7*i
		for b := 0; b < 7; b++ {
			if s&(1<<b) != 0 {
				out[(pos+b)/8] |= 1 << ((pos + b) % 8)
			}
		}
	}
	return out
}

// unpackSeptets reverses packSeptets for n septets.
func unpackSeptets(packed []byte, fill, n int) []byte {
	out := make([]byte, n)
	for i := range out {
		pos := fill + 7*i
		for b := 0; b < 7; b++ {
			bit := pos + b
			if packed[bit/8]&(1<<(bit%8)) != 0 {
				out[i] |= 1 << b
			}
		}
	}
	return out
}

// ucs2 is UTF-16BE, emoji as surrogate pairs.
func ucs2(s string) []byte {
	var b []byte
	for _, u := range utf16.Encode([]rune(s)) {
		b = binary.BigEndian.AppendUint16(b, u)
	}
	return b
}

func fromUCS2(b []byte) string {
	u := make([]uint16, len(b)/2)
	for i := range u {
		u[i] = binary.BigEndian.Uint16(b[2*i:])
	}
	return string(utf16.Decode(u))
}

// latin1 maps each code point up to U+00FF onto one octet.
func latin1(s string) []byte {
	var b []byte
	for _, r := range s {
		b = append(b, byte(r))
	}
	return b
}

// udh8 and udh16 are concatenation headers (3GPP TS 23.040 §9.2.3.24.1 and .8).
func udh8(ref, total, seq byte) []byte { return []byte{5, 0x00, 3, ref, total, seq} }
func udh16(ref uint16, total, seq byte) []byte {
	return []byte{6, 0x08, 4, byte(ref >> 8), byte(ref), total, seq}
}

// chunks splits s into pieces of at most n runes.
func chunks(s string, n int) []string {
	r := []rune(s)
	var out []string
	for len(r) > 0 {
		k := min(n, len(r))
		out = append(out, string(r[:k]))
		r = r[k:]
	}
	return out
}

// longText is ASCII-only GSM-7 text of n characters that reads as numbered
// words, so a misplaced part shows in a diff.
func longText(n int) string {
	var sb strings.Builder
	for i := 0; sb.Len() < n; i++ {
		fmt.Fprintf(&sb, "w%03d ", i)
	}
	return sb.String()[:n]
}
