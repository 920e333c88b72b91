package pdu

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func goldenByName(t testing.TB, name string) golden {
	t.Helper()
	for _, g := range goldens() {
		if g.name == name {
			return g
		}
	}
	t.Fatalf("no golden frame %q", name)
	return golden{}
}

func TestDecodeErrors(t *testing.T) {
	hdr := func(id string) string { return "00000000" + id + "00000000" + "00000005" } // length fixed by withLength
	tests := []struct {
		name    string
		frame   []byte
		wantErr error
	}{
		{"shorter than a header", hx("0000000C 00000015 00000000"), ErrMalformed},
		{"empty", nil, ErrMalformed},
		{"command_length larger than frame", hx("00000014", "00000015", "00000000", "00000001"), ErrMalformed},
		{"command_length smaller than frame", hx("00000010", "00000015", "00000000", "00000001", "00"), ErrMalformed},
		{"unknown command_id", withLength(hx(hdr("00000010"))), ErrUnknownCommand},
		{"resp of a command without one", withLength(hx(hdr("8000000B"))), ErrUnknownCommand}, // outbind has no resp
		{"alert_notification resp", withLength(hx(hdr("80000102"))), ErrUnknownCommand},
		{"trailing byte after enquire_link", withLength(hx(hdr("00000015"), "00")), ErrMalformed},
		{"trailing byte after generic_nack", withLength(hx(hdr("80000000"), "00")), ErrMalformed},
		{"trailing byte after query_sm", withLength(hx(hdr("00000003"), cs("1"), "00 00", cs(""), "FF")), ErrMalformed},
		{"trailing byte after bind", withLength(hx(hdr("00000002"), cs("a"), cs("b"), cs(""), "34 00 00", cs(""), "00")), ErrMalformed},
		{"trailing byte after cancel_sm_resp", withLength(hx(hdr("80000008"), "00")), ErrMalformed},
		{"system_id without NUL", withLength(hx(hdr("00000002"), oct("abc"))), ErrMalformed},
		{"password without NUL at end of body", withLength(hx(hdr("0000000B"), cs("SMSC"), oct("pw"))), ErrMalformed},
		{"system_id of 16 characters", withLength(hx(hdr("00000002"), cs(strings.Repeat("s", 16)), cs(""), cs(""), "34 00 00", cs(""))), ErrMalformed},
		{"password of 9 characters", withLength(hx(hdr("00000002"), cs("s"), cs(strings.Repeat("p", 9)), cs(""), "34 00 00", cs(""))), ErrMalformed},
		{"system_type of 13 characters", withLength(hx(hdr("00000002"), cs("s"), cs(""), cs(strings.Repeat("t", 13)), "34 00 00", cs(""))), ErrMalformed},
		{"address_range of 41 characters", withLength(hx(hdr("00000002"), cs("s"), cs(""), cs(""), "34 00 00", cs(strings.Repeat("1", 41)))), ErrMalformed},
		{"bind_resp system_id of 16 characters", withLength(hx(hdr("80000002"), cs(strings.Repeat("s", 16)))), ErrMalformed},
		{"service_type of 6 characters", withLength(hx(hdr("00000004"), cs("CMTCMT"), "0000", cs(""), "0000", cs(""), "000000", cs(""), cs(""), "0000000000")), ErrMalformed},
		{"submit_sm source_addr of 21 characters", withLength(hx(hdr("00000004"), cs(""), "0101", cs(strings.Repeat("1", 21)), "0000", cs(""), "000000", cs(""), cs(""), "0000000000")), ErrMalformed},
		{"submit_sm destination_addr of 21 characters", withLength(hx(hdr("00000004"), cs(""), "0101", cs("1"), "0101", cs(strings.Repeat("1", 21)), "000000", cs(""), cs(""), "0000000000")), ErrMalformed},
		{"schedule_delivery_time of 17 characters", withLength(hx(hdr("00000004"), cs(""), "0000", cs(""), "0000", cs(""), "000000", cs(strings.Repeat("0", 17)), cs(""), "0000000000")), ErrMalformed},
		{"data_sm source_addr of 65 characters", withLength(hx(hdr("00000103"), cs(""), "0101", cs(strings.Repeat("1", 65)), "0101", cs("1"), "000000")), ErrMalformed},
		{"submit_sm_resp message_id of 65 characters", withLength(hx(hdr("80000004"), cs(strings.Repeat("m", 65)))), ErrMalformed},
		{"query_sm_resp final_date of 17 characters", withLength(hx(hdr("80000003"), cs("m"), cs(strings.Repeat("0", 17)), "02 00")), ErrMalformed},
		{"submit_sm short_message cut short", withLength(hx(hdr("00000004"), cs(""), "0000", cs(""), "0000", cs(""), "000000", cs(""), cs(""), "00000000", "05", oct("Hell"))), ErrMalformed},
		{"submit_sm missing sm_length", withLength(hx(hdr("00000004"), cs(""), "0000", cs(""), "0000", cs(""), "000000", cs(""), cs(""), "00000000")), ErrMalformed},
		{"submit_sm sm_length 255", withLength(hx(hdr("00000004"), cs(""), "0000", cs(""), "0000", cs(""), "000000", cs(""), cs(""), "00000000", "FF", oct(strings.Repeat("x", 255)))), ErrMalformed},
		{"replace_sm sm_length 255", withLength(hx(hdr("00000007"), cs("m"), "0000", cs(""), cs(""), cs(""), "00 00", "FF", oct(strings.Repeat("x", 255)))), ErrMalformed},
		{"truncated TLV header", withLength(hx(hdr("80000002"), cs("SMSC"), "0210 00")), ErrMalformed},
		{"TLV value cut short", withLength(hx(hdr("80000002"), cs("SMSC"), "0210 0002 34")), ErrMalformed},
		{"submit_multi dest_flag 3", withLength(hx(hdr("00000021"), cs(""), "0000", cs(""), "01", "03", "0101", cs("1"), "000000", cs(""), cs(""), "0000000000")), ErrMalformed},
		{"submit_multi fewer dests than number_of_dests", withLength(hx(hdr("00000021"), cs(""), "0000", cs(""), "02", "01 0101", cs("1"))), ErrMalformed},
		{"submit_multi number_of_dests 255", withLength(hx(hdr("00000021"), cs(""), "0000", cs(""), "FF", strings.Repeat("02"+cs("d"), 255), "000000", cs(""), cs(""), "0000000000")), ErrMalformed},
		{"submit_multi_resp no_unsuccess 255", withLength(hx(hdr("80000021"), cs("M"), "FF", strings.Repeat("0101"+cs("1")+"0000000B", 255))), ErrMalformed},
		{"submit_multi_resp unsuccess without error_status_code", withLength(hx(hdr("80000021"), cs("M"), "01", "0101", cs("1"), "000000")), ErrMalformed},
		{"query_sm_resp missing error_code", withLength(hx(hdr("80000003"), cs("m"), cs(""), "02")), ErrMalformed},
		{"query_sm_resp with TLV", withLength(hx(hdr("80000003"), cs("m"), cs(""), "02 00", "0427 0001 02")), ErrMalformed}, // no TLVs in 3.4
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var p PDU
			err := Decode(tt.frame, &p)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Decode error = %v, want %v", err, tt.wantErr)
			}
		})
	}
}

// The session needs the header of an unknown command to answer
// generic_nack ESME_RINVCMDID with the right sequence number.
func TestDecodeUnknownCommandKeepsHeader(t *testing.T) {
	var p PDU
	err := Decode(hx("00000014", "00000010", "00000000", "00001234", "DEADBEEF"), &p)
	if !errors.Is(err, ErrUnknownCommand) {
		t.Fatalf("err = %v, want ErrUnknownCommand", err)
	}
	if errors.Is(err, ErrMalformed) {
		t.Errorf("unknown command must be told apart from a malformed one: %v", err)
	}
	if p.Seq != 0x1234 || p.ID != 0x10 {
		t.Errorf("header = %+v", p.Header)
	}
	if !strings.Contains(err.Error(), "0x00000010") {
		t.Errorf("error %q should show the id as 8 hex digits", err)
	}
}

// Every strict prefix of a PDU whose body has no optional part must be
// refused: a truncation can never decode as something else.
func TestDecodeEveryTruncation(t *testing.T) {
	tests := []struct {
		name  string
		legal map[int]bool // cuts that leave a legal PDU
	}{
		{name: "bind_transmitter"},
		{name: "bind_receiver"},
		{name: "bind_transceiver"},
		{name: "outbind"},
		{name: "query_sm"},
		{name: "query_sm_resp", legal: map[int]bool{28: true}}, // header only
		{name: "cancel_sm"},
		{name: "replace_sm"},
		{name: "submit_sm plain"},
		{name: "submit_sm with UDH"},
		{name: "submit_multi with SME and distribution list"},
		{name: "submit_multi_resp with unsuccess_sme", legal: map[int]bool{40: true}},
		{name: "data_sm", legal: map[int]bool{9: true}}, // without its only TLV
		{name: "deliver_sm delivery receipt", legal: map[int]bool{7: true, 12: true, 27: true}},
	}
	for _, tt := range tests {
		g := goldenByName(t, tt.name)
		t.Run(tt.name, func(t *testing.T) {
			for cut := 1; cut <= len(g.frame)-HeaderLen; cut++ {
				f := withLength(g.frame[:len(g.frame)-cut])
				var p PDU
				err := Decode(f, &p)
				if tt.legal[cut] {
					if err != nil {
						t.Errorf("cut %d bytes: %v, want a legal PDU", cut, err)
					}
					continue
				}
				if !errors.Is(err, ErrMalformed) {
					t.Fatalf("cut %d bytes: err = %v, want ErrMalformed", cut, err)
				}
			}
		})
	}
}

func TestAppendErrors(t *testing.T) {
	long := func(n int) []byte { return bytes.Repeat([]byte("x"), n) }
	sm := func(p PDU) *PDU { p.ID = SubmitSM; return &p }
	tests := []struct {
		name    string
		pdu     *PDU
		wantErr error
	}{
		{"short_message of 255 octets", sm(PDU{ShortMessage: long(255)}), ErrFieldTooLong},
		{"deliver_sm short_message of 300 octets", &PDU{Header: Header{ID: DeliverSM}, ShortMessage: long(300)}, ErrFieldTooLong},
		{"submit_multi short_message of 255 octets", &PDU{Header: Header{ID: SubmitMulti}, ShortMessage: long(255)}, ErrFieldTooLong},
		{"replace_sm short_message of 255 octets", &PDU{Header: Header{ID: ReplaceSM}, ShortMessage: long(255)}, ErrFieldTooLong},
		{"system_id of 16", &PDU{Header: Header{ID: BindTransceiver}, SystemID: long(16)}, ErrFieldTooLong},
		{"password of 9", &PDU{Header: Header{ID: BindTransmitter}, Password: long(9)}, ErrFieldTooLong},
		{"system_type of 13", &PDU{Header: Header{ID: BindReceiver}, SystemType: long(13)}, ErrFieldTooLong},
		{"address_range of 41", &PDU{Header: Header{ID: BindReceiver}, AddressRange: Address{Addr: long(41)}}, ErrFieldTooLong},
		{"outbind password of 9", &PDU{Header: Header{ID: Outbind}, Password: long(9)}, ErrFieldTooLong},
		{"service_type of 6", sm(PDU{ServiceType: long(6)}), ErrFieldTooLong},
		{"source_addr of 21", sm(PDU{Source: Address{Addr: long(21)}}), ErrFieldTooLong},
		{"destination_addr of 21", sm(PDU{Dest: Address{Addr: long(21)}}), ErrFieldTooLong},
		{"schedule_delivery_time of 17", sm(PDU{ScheduleDeliveryTime: long(17)}), ErrFieldTooLong},
		{"validity_period of 17", sm(PDU{ValidityPeriod: long(17)}), ErrFieldTooLong},
		{"data_sm destination_addr of 65", &PDU{Header: Header{ID: DataSM}, Dest: Address{Addr: long(65)}}, ErrFieldTooLong},
		{"message_id of 65", &PDU{Header: Header{ID: SubmitSMResp}, MessageID: long(65)}, ErrFieldTooLong},
		{"query_sm message_id of 65", &PDU{Header: Header{ID: QuerySM}, MessageID: long(65)}, ErrFieldTooLong},
		{"dl_name of 21", &PDU{Header: Header{ID: SubmitMulti}, Dests: []DestAddress{{Flag: 2, Address: Address{Addr: long(21)}}}}, ErrFieldTooLong},
		{"255 destinations", &PDU{Header: Header{ID: SubmitMulti}, Dests: make([]DestAddress, 255)}, ErrFieldTooLong},
		{"255 unsuccess entries", &PDU{Header: Header{ID: SubmitMultiResp}, Unsuccess: make([]Unsuccess, 255)}, ErrFieldTooLong},
		{"TLV of 65536 octets", sm(PDU{TLVs: []TLV{{Tag: TagMessagePayload, Value: long(65536)}}}), ErrFieldTooLong},
		// An embedded NUL would end the C-string early and shift every
		// following field: "ab\x00cd" as system_id injects a password.
		{"NUL inside system_id", &PDU{Header: Header{ID: BindTransmitter}, SystemID: b("ab\x00cd")}, ErrMalformed},
		{"NUL inside destination_addr", sm(PDU{Dest: Address{Addr: b("1555\x00")}}), ErrMalformed},
		{"NUL inside message_id", &PDU{Header: Header{ID: SubmitSMResp}, MessageID: b("\x00")}, ErrMalformed},
		// dest_flag is 1 (SME) or 2 (distribution list); anything else is a
		// PDU every SMSC rejects with ESME_RINVDESTFLAG.
		{"dest_flag 0", &PDU{Header: Header{ID: SubmitMulti}, Dests: []DestAddress{{Address: Address{Addr: b("1")}}}}, ErrMalformed},
		{"dest_flag 3", &PDU{Header: Header{ID: SubmitMulti}, Dests: []DestAddress{{Flag: 3}}}, ErrMalformed},
		{"unknown command_id", &PDU{Header: Header{ID: 0x10}}, ErrUnknownCommand},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dst := []byte("keep")
			out, err := Append(dst, tt.pdu)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Append error = %v, want %v", err, tt.wantErr)
			}
			if string(out) != "keep" {
				t.Errorf("on error Append must return dst unchanged, got %q", out)
			}
		})
	}
}

// The limits are inclusive: the longest legal field still encodes.
func TestAppendAcceptsMaximumLengths(t *testing.T) {
	long := func(n int) []byte { return bytes.Repeat([]byte("7"), n) }
	tests := []struct {
		name string
		pdu  PDU
	}{
		{"short_message of 254 octets", PDU{Header: Header{ID: SubmitSM}, ShortMessage: long(254)}},
		{"bind with every field at its maximum", PDU{Header: Header{ID: BindTransceiver}, SystemID: long(15), Password: long(8),
			SystemType: long(12), AddressRange: Address{Addr: long(40)}}},
		{"submit_sm addresses of 20", PDU{Header: Header{ID: SubmitSM}, ServiceType: long(5), Source: Address{Addr: long(20)},
			Dest: Address{Addr: long(20)}, ScheduleDeliveryTime: long(16), ValidityPeriod: long(16)}},
		{"data_sm addresses of 64", PDU{Header: Header{ID: DataSM}, Source: Address{Addr: long(64)}, Dest: Address{Addr: long(64)}}},
		{"message_id of 64", PDU{Header: Header{ID: SubmitSMResp}, MessageID: long(64)}},
		{"254 destinations", PDU{Header: Header{ID: SubmitMulti}, Dests: func() []DestAddress {
			d := make([]DestAddress, 254)
			for i := range d {
				d[i] = DestAddress{Flag: 1, Address: Address{TON: 1, NPI: 1, Addr: long(15)}}
			}
			return d
		}()}},
		{"TLV of 65535 octets", PDU{Header: Header{ID: DataSM}, TLVs: []TLV{{Tag: TagMessagePayload, Value: long(65535)}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Append(nil, &tt.pdu)
			if err != nil {
				t.Fatalf("Append: %v", err)
			}
			var p PDU
			if err := Decode(f, &p); err != nil {
				t.Fatalf("Decode of own output: %v", err)
			}
			if d := diffPDU(&tt.pdu, &p); d != "" {
				t.Errorf("round trip differs:%s", d)
			}
		})
	}
}

// An error resp that carries information keeps its body; one that carries
// none is sent header-only (§4.4.2 for submit_sm_resp, common practice for
// the others), which every peer accepts.
func TestAppendErrorRespBody(t *testing.T) {
	tests := []struct {
		name     string
		pdu      PDU
		wantBody bool
	}{
		{"submit_sm_resp error", PDU{Header: Header{ID: SubmitSMResp, Status: StatusThrottled}}, false},
		{"submit_sm_resp error with message_id", PDU{Header: Header{ID: SubmitSMResp, Status: StatusSysErr}, MessageID: b("x")}, true},
		{"data_sm_resp error with TLV", PDU{Header: Header{ID: DataSMResp, Status: StatusDeliveryFailure},
			TLVs: []TLV{{Tag: TagAdditionalStatusInfoText, Value: b("absent\x00")}}}, true},
		{"bind_transceiver_resp error", PDU{Header: Header{ID: BindTransceiverResp, Status: StatusInvPaswd}}, false},
		{"bind_transceiver_resp error with system_id", PDU{Header: Header{ID: BindTransceiverResp, Status: StatusInvPaswd}, SystemID: b("SMSC")}, true},
		{"bind_transceiver_resp ok", PDU{Header: Header{ID: BindTransceiverResp}}, true},
		{"query_sm_resp error", PDU{Header: Header{ID: QuerySMResp, Status: StatusQueryFail}}, false},
		{"query_sm_resp ok", PDU{Header: Header{ID: QuerySMResp}}, true},
		{"submit_multi_resp error", PDU{Header: Header{ID: SubmitMultiResp, Status: StatusInvNumDests}}, false},
		{"submit_multi_resp ok", PDU{Header: Header{ID: SubmitMultiResp}}, true},
		{"deliver_sm_resp ok", PDU{Header: Header{ID: DeliverSMResp}}, true},
		{"deliver_sm_resp error", PDU{Header: Header{ID: DeliverSMResp, Status: StatusXTAppn}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Append(nil, &tt.pdu)
			if err != nil {
				t.Fatal(err)
			}
			if got := len(f) > HeaderLen; got != tt.wantBody {
				t.Errorf("body present = %v, want %v (% x)", got, tt.wantBody, f)
			}
			var p PDU
			if err := Decode(f, &p); err != nil {
				t.Fatalf("Decode of own output: %v", err)
			}
			if d := diffPDU(&tt.pdu, &p); d != "" {
				t.Errorf("round trip differs:%s", d)
			}
		})
	}
}

func TestCommandIDString(t *testing.T) {
	tests := []struct {
		id   CommandID
		want string
	}{
		{SubmitSM, "submit_sm"},
		{DataSMResp, "data_sm_resp"},
		{0x10, "command_id(0x00000010)"},
		{0x8000000B, "command_id(0x8000000b)"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := tt.id.String(); got != tt.want {
				t.Errorf("String() = %q, want %q", got, tt.want)
			}
		})
	}
}
