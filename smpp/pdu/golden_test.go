package pdu

import (
	"bytes"
	"strings"
	"testing"
)

// golden is one PDU assembled by hand from the SMPP 3.4 specification
// (section numbers refer to it), never produced by this codec.
type golden struct {
	name  string
	frame []byte
	pdu   PDU
	// normalised, when set, is what Append writes for pdu instead of frame:
	// the frame is legal input, but the encoder emits the canonical form.
	normalised []byte
}

// payload300 is a message_payload longer than any short_message can be.
var payload300 = strings.Repeat("0123456789", 30)

// receiptText is a delivery receipt in the de-facto appendix B format.
const receiptText = "id:0123456789 sub:001 dlvrd:001 submit date:2611271015 done date:2611271016 stat:DELIVRD err:000 text:Hello"

func goldens() []golden {
	return []golden{
		{
			name: "bind_transmitter", // §4.1.1
			frame: hx(
				"0000002A",        // command_length 42
				"00000002",        // command_id bind_transmitter
				"00000000",        // command_status
				"00000001",        // sequence_number 1
				cs("smppclient1"), // system_id
				cs("password"),    // password
				cs(""),            // system_type
				"34",              // interface_version 3.4
				"00",              // addr_ton
				"00",              // addr_npi
				cs(""),            // address_range
			),
			pdu: PDU{Header: Header{ID: BindTransmitter, Seq: 1}, SystemID: b("smppclient1"), Password: b("password"), InterfaceVersion: 0x34},
		},
		{
			name: "bind_receiver", // §4.1.3
			frame: hx(
				"00000029",   // command_length 41
				"00000001",   // command_id bind_receiver
				"00000000",   // command_status
				"00000002",   // sequence_number 2
				cs("rx01"),   // system_id
				cs("secret"), // password
				cs("VMA"),    // system_type
				"34",         // interface_version
				"01",         // addr_ton international
				"01",         // addr_npi E.164
				cs("^1555"),  // address_range (a regular expression)
			),
			pdu: PDU{Header: Header{ID: BindReceiver, Seq: 2}, SystemID: b("rx01"), Password: b("secret"), SystemType: b("VMA"),
				InterfaceVersion: 0x34, AddressRange: Address{TON: 1, NPI: 1, Addr: b("^1555")}},
		},
		{
			name: "bind_transceiver", // §4.2.5
			frame: hx(
				"0000001A", // command_length 26
				"00000009", // command_id bind_transceiver
				"00000000", // command_status
				"00000003", // sequence_number 3
				cs("trx"),  // system_id
				cs(""),     // password
				cs(""),     // system_type
				"34",       // interface_version
				"00",       // addr_ton
				"00",       // addr_npi
				cs(""),     // address_range
			),
			pdu: PDU{Header: Header{ID: BindTransceiver, Seq: 3}, SystemID: b("trx"), InterfaceVersion: 0x34},
		},
		{
			name: "bind_transmitter_resp with sc_interface_version", // §4.1.2
			frame: hx(
				"0000001A",  // command_length 26
				"80000002",  // command_id bind_transmitter_resp
				"00000000",  // command_status ESME_ROK
				"00000001",  // sequence_number 1
				cs("SMSC"),  // system_id
				"0210 0001", // TLV sc_interface_version, length 1
				"34",        // value 3.4
			),
			pdu: PDU{Header: Header{ID: BindTransmitterResp, Seq: 1}, SystemID: b("SMSC"),
				TLVs: []TLV{{Tag: TagSCInterfaceVersion, Value: []byte{0x34}}}},
		},
		{
			name: "bind_receiver_resp", // §4.1.4
			frame: hx(
				"00000015", // command_length 21
				"80000001", // command_id bind_receiver_resp
				"00000000", // command_status
				"00000002", // sequence_number 2
				cs("SMSC"), // system_id
			),
			pdu: PDU{Header: Header{ID: BindReceiverResp, Seq: 2}, SystemID: b("SMSC")},
		},
		{
			name: "bind_transceiver_resp error with empty body", // many SMSCs send only the header on failure
			frame: hx(
				"00000010", // command_length 16
				"80000009", // command_id bind_transceiver_resp
				"0000000E", // command_status ESME_RINVPASWD
				"00000003", // sequence_number 3
			),
			pdu: PDU{Header: Header{ID: BindTransceiverResp, Status: StatusInvPaswd, Seq: 3}},
		},
		{
			name: "bind_transmitter_resp error with empty system_id", // the other common failure form
			frame: hx(
				"00000011", // command_length 17
				"80000002", // command_id bind_transmitter_resp
				"0000000D", // command_status ESME_RBINDFAIL
				"00000004", // sequence_number 4
				cs(""),     // system_id
			),
			pdu: PDU{Header: Header{ID: BindTransmitterResp, Status: StatusBindFail, Seq: 4}},
			// Nothing is lost by dropping an empty body from an error resp.
			normalised: hx("00000010", "80000002", "0000000D", "00000004"),
		},
		{
			name: "outbind", // §4.1.7
			frame: hx(
				"00000018", // command_length 24
				"0000000B", // command_id outbind
				"00000000", // command_status
				"00000007", // sequence_number 7
				cs("SMSC"), // system_id
				cs("pw"),   // password
			),
			pdu: PDU{Header: Header{ID: Outbind, Seq: 7}, SystemID: b("SMSC"), Password: b("pw")},
		},
		{
			name:  "unbind", // §4.2.1
			frame: hx("00000010", "00000006", "00000000", "00000008"),
			pdu:   PDU{Header: Header{ID: Unbind, Seq: 8}},
		},
		{
			name:  "unbind_resp", // §4.2.2
			frame: hx("00000010", "80000006", "00000000", "00000008"),
			pdu:   PDU{Header: Header{ID: UnbindResp, Seq: 8}},
		},
		{
			name:  "enquire_link",                                     // §4.11.1
			frame: hx("00000010", "00000015", "00000000", "7FFFFFFF"), // highest legal sequence number
			pdu:   PDU{Header: Header{ID: EnquireLink, Seq: MaxSeq}},
		},
		{
			name:  "enquire_link_resp", // §4.11.2
			frame: hx("00000010", "80000015", "00000000", "7FFFFFFF"),
			pdu:   PDU{Header: Header{ID: EnquireLinkResp, Seq: MaxSeq}},
		},
		{
			name:  "generic_nack", // §4.3.1
			frame: hx("00000010", "80000000", "00000003" /* ESME_RINVCMDID */, "0000000A"),
			pdu:   PDU{Header: Header{ID: GenericNack, Status: StatusInvCmdID, Seq: 10}},
		},
		{
			name: "submit_sm plain", // §4.4.1
			frame: hx(
				"00000038", // command_length 56
				"00000004", // command_id submit_sm
				"00000000", // command_status
				"0000000B", // sequence_number 11
				cs(""),     // service_type default
				"05", "00", // source_addr_ton alphanumeric, source_addr_npi unknown
				cs("MyBrand"), // source_addr
				"01", "01",    // dest_addr_ton international, dest_addr_npi E.164
				cs("15551234567"),  // destination_addr
				"00",               // esm_class
				"00",               // protocol_id
				"00",               // priority_flag
				cs(""),             // schedule_delivery_time immediate
				cs(""),             // validity_period default
				"01",               // registered_delivery final receipt
				"00",               // replace_if_present_flag
				"00",               // data_coding SMSC default
				"00",               // sm_default_msg_id
				"05", oct("Hello"), // sm_length, short_message
			),
			pdu: PDU{Header: Header{ID: SubmitSM, Seq: 11},
				Source: Address{TON: 5, Addr: b("MyBrand")}, Dest: Address{TON: 1, NPI: 1, Addr: b("15551234567")},
				RegisteredDelivery: 1, ShortMessage: b("Hello")},
		},
		{
			name: "submit_sm with TLVs and UCS-2", // §4.4.1, §5.3.2.17, §5.3.2.20
			frame: hx(
				"0000005A",                    // command_length 90
				"00000004",                    // command_id submit_sm
				"00000000",                    // command_status
				"0000000C",                    // sequence_number 12
				cs("CMT"),                     // service_type
				"01", "01", cs("15550001111"), // source
				"01", "01", cs("15559998888"), // destination
				"00",                   // esm_class
				"00",                   // protocol_id
				"01",                   // priority_flag
				cs(""),                 // schedule_delivery_time
				cs("000001000000000R"), // validity_period relative: 1 day
				"01",                   // registered_delivery
				"00",                   // replace_if_present_flag
				"08",                   // data_coding UCS-2
				"00",                   // sm_default_msg_id
				"04", "0048 0069",      // sm_length 4, "Hi" in UTF-16BE
				"0204 0002 0007", // TLV user_message_reference = 7
				"020A 0002 0B84", // TLV source_port = 2948
			),
			pdu: PDU{Header: Header{ID: SubmitSM, Seq: 12}, ServiceType: b("CMT"),
				Source: Address{TON: 1, NPI: 1, Addr: b("15550001111")}, Dest: Address{TON: 1, NPI: 1, Addr: b("15559998888")},
				PriorityFlag: 1, ValidityPeriod: b("000001000000000R"), RegisteredDelivery: 1, DataCoding: CodingUCS2,
				ShortMessage: []byte{0x00, 'H', 0x00, 'i'},
				TLVs:         []TLV{{Tag: TagUserMessageReference, Value: []byte{0, 7}}, {Tag: TagSourcePort, Value: []byte{0x0B, 0x84}}}},
		},
		{
			name: "submit_sm with UDH", // esm_class UDHI (§5.2.12), 8-bit concatenation IE (GSM 03.40 §9.2.3.24.1)
			frame: hx(
				"0000003C",             // command_length 60
				"00000004",             // command_id submit_sm
				"00000000",             // command_status
				"0000000D",             // sequence_number 13
				cs(""),                 // service_type
				"05", "00", cs("Shop"), // source
				"01", "01", cs("447700900123"), // destination
				"40",           // esm_class UDHI
				"00",           // protocol_id
				"00",           // priority_flag
				cs(""), cs(""), // schedule_delivery_time, validity_period
				"00", "00", "00", "00", // registered_delivery, replace_if_present, data_coding, sm_default_msg_id
				"0B",                // sm_length 11
				"05 00 03 A7 02 01", // UDH: UDHL 5, IEI 0, IEDL 3, ref 0xA7, 2 parts, part 1
				oct("Part1"),        // text
			),
			pdu: PDU{Header: Header{ID: SubmitSM, Seq: 13},
				Source: Address{TON: 5, Addr: b("Shop")}, Dest: Address{TON: 1, NPI: 1, Addr: b("447700900123")},
				ESMClass: ESMClassUDHI, ShortMessage: append([]byte{5, 0, 3, 0xA7, 2, 1}, "Part1"...)},
		},
		{
			name: "submit_sm with message_payload", // §5.3.2.32: sm_length 0, text in the TLV
			frame: hx(
				"00000167",                    // command_length 359
				"00000004",                    // command_id submit_sm
				"00000000",                    // command_status
				"0000000E",                    // sequence_number 14
				cs(""),                        // service_type
				"01", "01", cs("15550001111"), // source
				"01", "01", cs("15559998888"), // destination
				"00", "00", "00", // esm_class, protocol_id, priority_flag
				cs(""), cs(""), // schedule_delivery_time, validity_period
				"01", "00", "00", "00", // registered_delivery, replace_if_present, data_coding, sm_default_msg_id
				"00",                         // sm_length 0, no short_message
				"0424 012C", oct(payload300), // TLV message_payload, 300 octets
			),
			pdu: PDU{Header: Header{ID: SubmitSM, Seq: 14},
				Source: Address{TON: 1, NPI: 1, Addr: b("15550001111")}, Dest: Address{TON: 1, NPI: 1, Addr: b("15559998888")},
				RegisteredDelivery: 1, TLVs: []TLV{{Tag: TagMessagePayload, Value: b(payload300)}}},
		},
		{
			name: "submit_sm_resp", // §4.4.2
			frame: hx(
				"00000019",     // command_length 25
				"80000004",     // command_id submit_sm_resp
				"00000000",     // command_status
				"0000000B",     // sequence_number 11
				cs("msg-0001"), // message_id
			),
			pdu: PDU{Header: Header{ID: SubmitSMResp, Seq: 11}, MessageID: b("msg-0001")},
		},
		{
			name: "submit_sm_resp error without body", // §4.4.2: body not returned on error
			frame: hx(
				"00000010", // command_length 16
				"80000004", // command_id submit_sm_resp
				"00000045", // command_status ESME_RSUBMITFAIL
				"0000000C", // sequence_number 12
			),
			pdu: PDU{Header: Header{ID: SubmitSMResp, Status: StatusSubmitFail, Seq: 12}},
		},
		{
			name: "submit_sm_resp throttled with empty message_id", // what some SMSCs send instead
			frame: hx(
				"00000011", // command_length 17
				"80000004", // command_id submit_sm_resp
				"00000058", // command_status ESME_RTHROTTLED
				"0000000D", // sequence_number 13
				cs(""),     // message_id
			),
			pdu:        PDU{Header: Header{ID: SubmitSMResp, Status: StatusThrottled, Seq: 13}},
			normalised: hx("00000010", "80000004", "00000058", "0000000D"),
		},
		{
			name: "deliver_sm delivery receipt", // §4.6.1, appendix B, §5.3.2.12/35/31
			frame: hx(
				"000000B9",                    // command_length 185
				"00000005",                    // command_id deliver_sm
				"00000000",                    // command_status
				"00000021",                    // sequence_number 33
				cs(""),                        // service_type
				"01", "01", cs("15559998888"), // source: the handset
				"05", "00", cs("MyBrand"), // destination: the original sender
				"04",       // esm_class SMSC delivery receipt
				"00", "00", // protocol_id, priority_flag
				cs(""), cs(""), // schedule_delivery_time, validity_period (unused)
				"00", "00", "00", "00", // registered_delivery, replace_if_present, data_coding, sm_default_msg_id
				"6B", oct(receiptText), // sm_length 107, receipt text
				"001E 000B", cs("0123456789"), // TLV receipted_message_id, 11 octets with NUL
				"0427 0001 02",      // TLV message_state DELIVERED
				"0423 0003 03 0000", // TLV network_error_code: GSM, error 0
			),
			pdu: PDU{Header: Header{ID: DeliverSM, Seq: 33},
				Source: Address{TON: 1, NPI: 1, Addr: b("15559998888")}, Dest: Address{TON: 5, Addr: b("MyBrand")},
				ESMClass: ESMClassReceipt, ShortMessage: b(receiptText),
				TLVs: []TLV{
					{Tag: TagReceiptedMessageID, Value: b("0123456789\x00")},
					{Tag: TagMessageState, Value: []byte{byte(StateDelivered)}},
					{Tag: TagNetworkErrorCode, Value: []byte{3, 0, 0}},
				}},
		},
		{
			name: "deliver_sm_resp", // §4.6.2: message_id unused, set to NULL
			frame: hx(
				"00000011", // command_length 17
				"80000005", // command_id deliver_sm_resp
				"00000000", // command_status
				"00000021", // sequence_number 33
				cs(""),     // message_id
			),
			pdu: PDU{Header: Header{ID: DeliverSMResp, Seq: 33}},
		},
		{
			name: "data_sm", // §4.7.1
			frame: hx(
				"00000039",                    // command_length 57
				"00000103",                    // command_id data_sm
				"00000000",                    // command_status
				"00000022",                    // sequence_number 34
				cs(""),                        // service_type
				"01", "01", cs("15559998888"), // source
				"01", "01", cs("15550001111"), // destination
				"00",                      // esm_class
				"00",                      // registered_delivery
				"00",                      // data_coding
				"0424 0005", oct("Hello"), // TLV message_payload
			),
			pdu: PDU{Header: Header{ID: DataSM, Seq: 34},
				Source: Address{TON: 1, NPI: 1, Addr: b("15559998888")}, Dest: Address{TON: 1, NPI: 1, Addr: b("15550001111")},
				TLVs: []TLV{{Tag: TagMessagePayload, Value: b("Hello")}}},
		},
		{
			name: "data_sm_resp", // §4.7.2
			frame: hx(
				"00000015", // command_length 21
				"80000103", // command_id data_sm_resp
				"00000000", // command_status
				"00000022", // sequence_number 34
				cs("DS-1"), // message_id
			),
			pdu: PDU{Header: Header{ID: DataSMResp, Seq: 34}, MessageID: b("DS-1")},
		},
		{
			name: "data_sm_resp error with delivery_failure_reason", // §4.7.2: the TLVs explain the error
			frame: hx(
				"00000016",     // command_length 22
				"80000103",     // command_id data_sm_resp
				"000000FE",     // command_status ESME_RDELIVERYFAILURE
				"00000023",     // sequence_number 35
				cs(""),         // message_id
				"0425 0001 01", // TLV delivery_failure_reason: destination unavailable
			),
			pdu: PDU{Header: Header{ID: DataSMResp, Status: StatusDeliveryFailure, Seq: 35},
				TLVs: []TLV{{Tag: TagDeliveryFailureReason, Value: []byte{1}}}},
		},
		{
			name: "submit_multi with SME and distribution list", // §4.5.1, §5.2.25
			frame: hx(
				"00000051",                    // command_length 81
				"00000021",                    // command_id submit_multi
				"00000000",                    // command_status
				"00000024",                    // sequence_number 36
				cs(""),                        // service_type
				"01", "01", cs("15550001111"), // source
				"03",                                // number_of_dests
				"01", "01", "01", cs("15551110000"), // dest_flag SME, ton, npi, destination_addr
				"02", cs("staff"), // dest_flag distribution list, dl_name
				"01", "01", "01", cs("15552220000"), // dest_flag SME, ton, npi, destination_addr
				"00", "00", "00", // esm_class, protocol_id, priority_flag
				cs(""), cs(""), // schedule_delivery_time, validity_period
				"00", "00", "00", "00", // registered_delivery, replace_if_present, data_coding, sm_default_msg_id
				"02", oct("Hi"), // sm_length, short_message
			),
			pdu: PDU{Header: Header{ID: SubmitMulti, Seq: 36},
				Source: Address{TON: 1, NPI: 1, Addr: b("15550001111")},
				Dests: []DestAddress{
					{Flag: 1, Address: Address{TON: 1, NPI: 1, Addr: b("15551110000")}},
					{Flag: 2, Address: Address{Addr: b("staff")}},
					{Flag: 1, Address: Address{TON: 1, NPI: 1, Addr: b("15552220000")}},
				},
				ShortMessage: b("Hi")},
		},
		{
			name: "submit_multi_resp with unsuccess_sme", // §4.5.2, §5.2.26
			frame: hx(
				"00000038",                    // command_length 56
				"80000021",                    // command_id submit_multi_resp
				"00000000",                    // command_status
				"00000024",                    // sequence_number 36
				cs("M1"),                      // message_id
				"02",                          // no_unsuccess
				"01", "01", cs("15551110000"), // dest ton, npi, destination_addr
				"0000000B",                    // error_status_code ESME_RINVDSTADR
				"01", "01", cs("15552220000"), // dest ton, npi, destination_addr
				"00000045", // error_status_code ESME_RSUBMITFAIL
			),
			pdu: PDU{Header: Header{ID: SubmitMultiResp, Seq: 36}, MessageID: b("M1"),
				Unsuccess: []Unsuccess{
					{Address: Address{TON: 1, NPI: 1, Addr: b("15551110000")}, Status: StatusInvDstAdr},
					{Address: Address{TON: 1, NPI: 1, Addr: b("15552220000")}, Status: StatusSubmitFail},
				}},
		},
		{
			name: "submit_multi_resp all delivered", // §4.5.2 with no_unsuccess 0
			frame: hx(
				"00000014", // command_length 20
				"80000021", // command_id submit_multi_resp
				"00000000", // command_status
				"00000025", // sequence_number 37
				cs("M2"),   // message_id
				"00",       // no_unsuccess
			),
			pdu: PDU{Header: Header{ID: SubmitMultiResp, Seq: 37}, MessageID: b("M2")},
		},
		{
			name: "query_sm", // §4.8.1
			frame: hx(
				"00000023",                // command_length 35
				"00000003",                // command_id query_sm
				"00000000",                // command_status
				"00000026",                // sequence_number 38
				cs("msg-0001"),            // message_id
				"05", "00", cs("MyBrand"), // source_addr_ton, npi, source_addr
			),
			pdu: PDU{Header: Header{ID: QuerySM, Seq: 38}, MessageID: b("msg-0001"), Source: Address{TON: 5, Addr: b("MyBrand")}},
		},
		{
			name: "query_sm_resp", // §4.8.2
			frame: hx(
				"0000002C",             // command_length 44
				"80000003",             // command_id query_sm_resp
				"00000000",             // command_status
				"00000026",             // sequence_number 38
				cs("msg-0001"),         // message_id
				cs("261127101600004+"), // final_date, absolute, UTC+1h
				"02",                   // message_state DELIVERED
				"00",                   // error_code
			),
			pdu: PDU{Header: Header{ID: QuerySMResp, Seq: 38}, MessageID: b("msg-0001"), FinalDate: b("261127101600004+"),
				MessageState: StateDelivered},
		},
		{
			name:  "query_sm_resp error without body",
			frame: hx("00000010", "80000003", "00000067" /* ESME_RQUERYFAIL */, "00000027"),
			pdu:   PDU{Header: Header{ID: QuerySMResp, Status: StatusQueryFail, Seq: 39}},
		},
		{
			name: "cancel_sm", // §4.9.1
			frame: hx(
				"00000032",                // command_length 50
				"00000008",                // command_id cancel_sm
				"00000000",                // command_status
				"00000028",                // sequence_number 40
				cs(""),                    // service_type
				cs("msg-0001"),            // message_id
				"05", "00", cs("MyBrand"), // source
				"01", "01", cs("15551234567"), // destination
			),
			pdu: PDU{Header: Header{ID: CancelSM, Seq: 40}, MessageID: b("msg-0001"),
				Source: Address{TON: 5, Addr: b("MyBrand")}, Dest: Address{TON: 1, NPI: 1, Addr: b("15551234567")}},
		},
		{
			name:  "cancel_sm_resp", // §4.9.2
			frame: hx("00000010", "80000008", "00000000", "00000028"),
			pdu:   PDU{Header: Header{ID: CancelSMResp, Seq: 40}},
		},
		{
			name: "replace_sm", // §4.10.1
			frame: hx(
				"0000003F",                // command_length 63
				"00000007",                // command_id replace_sm
				"00000000",                // command_status
				"00000029",                // sequence_number 41
				cs("msg-0001"),            // message_id
				"05", "00", cs("MyBrand"), // source
				cs(""),                 // schedule_delivery_time
				cs("000002000000000R"), // validity_period relative: 2 days
				"01",                   // registered_delivery
				"00",                   // sm_default_msg_id
				"07", oct("Updated"),   // sm_length, short_message
			),
			pdu: PDU{Header: Header{ID: ReplaceSM, Seq: 41}, MessageID: b("msg-0001"), Source: Address{TON: 5, Addr: b("MyBrand")},
				ValidityPeriod: b("000002000000000R"), RegisteredDelivery: 1, ShortMessage: b("Updated")},
		},
		{
			name:  "replace_sm_resp", // §4.10.2
			frame: hx("00000010", "80000007", "00000000", "00000029"),
			pdu:   PDU{Header: Header{ID: ReplaceSMResp, Seq: 41}},
		},
		{
			name: "alert_notification", // §4.12.1
			frame: hx(
				"00000031",                    // command_length 49
				"00000102",                    // command_id alert_notification
				"00000000",                    // command_status
				"0000002A",                    // sequence_number 42
				"01", "01", cs("15559998888"), // source_addr_ton, npi, source_addr
				"01", "01", cs("15550001111"), // esme_addr_ton, npi, esme_addr
				"0422 0001 00", // TLV ms_availability_status available
			),
			pdu: PDU{Header: Header{ID: AlertNotification, Seq: 42},
				Source: Address{TON: 1, NPI: 1, Addr: b("15559998888")}, Dest: Address{TON: 1, NPI: 1, Addr: b("15550001111")},
				TLVs: []TLV{{Tag: 0x0422, Value: []byte{0}}}},
		},
	}
}

func TestGoldenDecode(t *testing.T) {
	for _, g := range goldens() {
		t.Run(g.name, func(t *testing.T) {
			checkLength(t, g.frame)
			var p PDU
			if err := Decode(g.frame, &p); err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if int(p.Length) != len(g.frame) {
				t.Errorf("Length = %d, want %d", p.Length, len(g.frame))
			}
			if d := diffPDU(&g.pdu, &p); d != "" {
				t.Errorf("decoded PDU differs:%s", d)
			}
		})
	}
}

func TestGoldenEncode(t *testing.T) {
	for _, g := range goldens() {
		t.Run(g.name, func(t *testing.T) {
			want := g.frame
			if g.normalised != nil {
				checkLength(t, g.normalised)
				want = g.normalised
			}
			// A non-empty dst proves Append appends and computes the
			// length of its own PDU only.
			prefix := []byte("xyz")
			got, err := Append(prefix, &g.pdu)
			if err != nil {
				t.Fatalf("Append: %v", err)
			}
			if !bytes.HasPrefix(got, prefix) {
				t.Fatalf("Append clobbered dst: % x", got[:3])
			}
			if got = got[len(prefix):]; !bytes.Equal(got, want) {
				t.Errorf("Append =\n% x\nwant\n% x", got, want)
			}
		})
	}
}

// Header-only PDUs are what sessions write most often; AppendHeaderOnly must
// agree with the golden frames and with Append.
func TestAppendHeaderOnly(t *testing.T) {
	for _, g := range goldens() {
		if len(g.frame) != HeaderLen {
			continue
		}
		t.Run(g.name, func(t *testing.T) {
			got := AppendHeaderOnly(nil, g.pdu.ID, g.pdu.Status, g.pdu.Seq)
			if !bytes.Equal(got, g.frame) {
				t.Errorf("AppendHeaderOnly = % x, want % x", got, g.frame)
			}
		})
	}
}

// A session decodes every frame into the same PDU; nothing may leak from
// one frame into the next.
func TestDecodeReuseClearsPreviousFields(t *testing.T) {
	gs := goldens()
	var p PDU
	for i := range gs {
		for j := range gs {
			if err := Decode(gs[i].frame, &p); err != nil {
				t.Fatalf("%s: %v", gs[i].name, err)
			}
			if err := Decode(gs[j].frame, &p); err != nil {
				t.Fatalf("%s: %v", gs[j].name, err)
			}
			if d := diffPDU(&gs[j].pdu, &p); d != "" {
				t.Fatalf("%s decoded after %s differs:%s", gs[j].name, gs[i].name, d)
			}
		}
	}
}

// Decode's slices borrow from the frame: writing the frame shows through.
// This documents the contract callers rely on (copy before reusing buf).
func TestDecodeBorrowsFromFrame(t *testing.T) {
	g := goldens()[0]
	frame := append([]byte(nil), g.frame...)
	var p PDU
	if err := Decode(frame, &p); err != nil {
		t.Fatal(err)
	}
	frame[HeaderLen] = 'S'
	if string(p.SystemID) != "Smppclient1" {
		t.Errorf("SystemID = %q, want it to alias the frame", p.SystemID)
	}
	// Appending to a borrowed slice must not overwrite the next field.
	_ = append(p.SystemID, "XX"...)
	if err := Decode(frame, &p); err != nil {
		t.Fatalf("frame was overwritten through a borrowed slice: %v", err)
	}
}
