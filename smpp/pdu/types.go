package pdu

import "fmt"

// CommandID identifies the PDU type (SMPP 3.4 §5.1.2.1).
type CommandID uint32

// Command ids. A response id is the request id with RespBit set.
const (
	GenericNack         CommandID = 0x80000000
	BindReceiver        CommandID = 0x00000001
	BindReceiverResp    CommandID = 0x80000001
	BindTransmitter     CommandID = 0x00000002
	BindTransmitterResp CommandID = 0x80000002
	QuerySM             CommandID = 0x00000003
	QuerySMResp         CommandID = 0x80000003
	SubmitSM            CommandID = 0x00000004
	SubmitSMResp        CommandID = 0x80000004
	DeliverSM           CommandID = 0x00000005
	DeliverSMResp       CommandID = 0x80000005
	Unbind              CommandID = 0x00000006
	UnbindResp          CommandID = 0x80000006
	ReplaceSM           CommandID = 0x00000007
	ReplaceSMResp       CommandID = 0x80000007
	CancelSM            CommandID = 0x00000008
	CancelSMResp        CommandID = 0x80000008
	BindTransceiver     CommandID = 0x00000009
	BindTransceiverResp CommandID = 0x80000009
	Outbind             CommandID = 0x0000000B
	EnquireLink         CommandID = 0x00000015
	EnquireLinkResp     CommandID = 0x80000015
	SubmitMulti         CommandID = 0x00000021
	SubmitMultiResp     CommandID = 0x80000021
	AlertNotification   CommandID = 0x00000102
	DataSM              CommandID = 0x00000103
	DataSMResp          CommandID = 0x80000103

	// RespBit marks a response command id.
	RespBit CommandID = 0x80000000
)

// IsResponse reports whether id is a response (including generic_nack).
func (id CommandID) IsResponse() bool { return id&RespBit != 0 }

// Resp returns the response id for a request id.
func (id CommandID) Resp() CommandID { return id | RespBit }

// Request returns the request id a response answers.
func (id CommandID) Request() CommandID { return id &^ RespBit }

// Known reports whether the codec understands id.
func (id CommandID) Known() bool {
	_, ok := commandNames[id]
	return ok
}

var commandNames = map[CommandID]string{
	GenericNack: "generic_nack", BindReceiver: "bind_receiver", BindReceiverResp: "bind_receiver_resp",
	BindTransmitter: "bind_transmitter", BindTransmitterResp: "bind_transmitter_resp",
	QuerySM: "query_sm", QuerySMResp: "query_sm_resp", SubmitSM: "submit_sm", SubmitSMResp: "submit_sm_resp",
	DeliverSM: "deliver_sm", DeliverSMResp: "deliver_sm_resp", Unbind: "unbind", UnbindResp: "unbind_resp",
	ReplaceSM: "replace_sm", ReplaceSMResp: "replace_sm_resp", CancelSM: "cancel_sm", CancelSMResp: "cancel_sm_resp",
	BindTransceiver: "bind_transceiver", BindTransceiverResp: "bind_transceiver_resp", Outbind: "outbind",
	EnquireLink: "enquire_link", EnquireLinkResp: "enquire_link_resp", SubmitMulti: "submit_multi",
	SubmitMultiResp: "submit_multi_resp", AlertNotification: "alert_notification", DataSM: "data_sm", DataSMResp: "data_sm_resp",
}

func (id CommandID) String() string {
	if n, ok := commandNames[id]; ok {
		return n
	}
	return fmt.Sprintf("command_id(%#08x)", uint32(id))
}

// Status is a command_status value (SMPP 3.4 §5.1.3).
type Status uint32

// The command_status values the bridge and simulator use.
const (
	StatusOK              Status = 0x00000000
	StatusInvMsgLen       Status = 0x00000001
	StatusInvCmdLen       Status = 0x00000002
	StatusInvCmdID        Status = 0x00000003
	StatusInvBndSts       Status = 0x00000004
	StatusAlyBnd          Status = 0x00000005
	StatusInvPrtFlg       Status = 0x00000006
	StatusInvRegDlvFlg    Status = 0x00000007
	StatusSysErr          Status = 0x00000008
	StatusInvSrcAdr       Status = 0x0000000A
	StatusInvDstAdr       Status = 0x0000000B
	StatusInvMsgID        Status = 0x0000000C
	StatusBindFail        Status = 0x0000000D
	StatusInvPaswd        Status = 0x0000000E
	StatusInvSysID        Status = 0x0000000F
	StatusCancelFail      Status = 0x00000011
	StatusReplaceFail     Status = 0x00000013
	StatusMsgQFul         Status = 0x00000014
	StatusInvSerTyp       Status = 0x00000015
	StatusInvNumDests     Status = 0x00000033
	StatusInvDLName       Status = 0x00000034
	StatusInvDestFlag     Status = 0x00000040
	StatusInvSubRep       Status = 0x00000042
	StatusInvEsmClass     Status = 0x00000043
	StatusCntSubDL        Status = 0x00000044
	StatusSubmitFail      Status = 0x00000045
	StatusInvSrcTON       Status = 0x00000048
	StatusInvSrcNPI       Status = 0x00000049
	StatusInvDstTON       Status = 0x00000050
	StatusInvDstNPI       Status = 0x00000051
	StatusInvSysTyp       Status = 0x00000053
	StatusInvRepFlag      Status = 0x00000054
	StatusInvNumMsgs      Status = 0x00000055
	StatusThrottled       Status = 0x00000058
	StatusInvSched        Status = 0x00000061
	StatusInvExpiry       Status = 0x00000062
	StatusInvDftMsgID     Status = 0x00000063
	StatusXTAppn          Status = 0x00000064
	StatusXPAppn          Status = 0x00000065
	StatusXRAppn          Status = 0x00000066
	StatusQueryFail       Status = 0x00000067
	StatusInvOptParStream Status = 0x000000C0
	StatusOptParNotAllwd  Status = 0x000000C1
	StatusInvParLen       Status = 0x000000C2
	StatusMissingOptParam Status = 0x000000C3
	StatusInvOptParamVal  Status = 0x000000C4
	StatusDeliveryFailure Status = 0x000000FE
	StatusUnknownErr      Status = 0x000000FF
)

var statusNames = map[Status]string{
	StatusOK: "ESME_ROK", StatusInvMsgLen: "ESME_RINVMSGLEN", StatusInvCmdLen: "ESME_RINVCMDLEN",
	StatusInvCmdID: "ESME_RINVCMDID", StatusInvBndSts: "ESME_RINVBNDSTS", StatusAlyBnd: "ESME_RALYBND",
	StatusInvPrtFlg: "ESME_RINVPRTFLG", StatusInvRegDlvFlg: "ESME_RINVREGDLVFLG", StatusSysErr: "ESME_RSYSERR",
	StatusInvSrcAdr: "ESME_RINVSRCADR", StatusInvDstAdr: "ESME_RINVDSTADR", StatusInvMsgID: "ESME_RINVMSGID",
	StatusBindFail: "ESME_RBINDFAIL", StatusInvPaswd: "ESME_RINVPASWD", StatusInvSysID: "ESME_RINVSYSID",
	StatusCancelFail: "ESME_RCANCELFAIL", StatusReplaceFail: "ESME_RREPLACEFAIL", StatusMsgQFul: "ESME_RMSGQFUL",
	StatusInvSerTyp: "ESME_RINVSERTYP", StatusInvNumDests: "ESME_RINVNUMDESTS", StatusInvDLName: "ESME_RINVDLNAME",
	StatusInvDestFlag: "ESME_RINVDESTFLAG", StatusInvSubRep: "ESME_RINVSUBREP", StatusInvEsmClass: "ESME_RINVESMCLASS",
	StatusCntSubDL: "ESME_RCNTSUBDL", StatusSubmitFail: "ESME_RSUBMITFAIL", StatusInvSrcTON: "ESME_RINVSRCTON",
	StatusInvSrcNPI: "ESME_RINVSRCNPI", StatusInvDstTON: "ESME_RINVDSTTON", StatusInvDstNPI: "ESME_RINVDSTNPI",
	StatusInvSysTyp: "ESME_RINVSYSTYP", StatusInvRepFlag: "ESME_RINVREPFLAG", StatusInvNumMsgs: "ESME_RINVNUMMSGS",
	StatusThrottled: "ESME_RTHROTTLED", StatusInvSched: "ESME_RINVSCHED", StatusInvExpiry: "ESME_RINVEXPIRY",
	StatusInvDftMsgID: "ESME_RINVDFTMSGID", StatusXTAppn: "ESME_RX_T_APPN", StatusXPAppn: "ESME_RX_P_APPN",
	StatusXRAppn: "ESME_RX_R_APPN", StatusQueryFail: "ESME_RQUERYFAIL", StatusInvOptParStream: "ESME_RINVOPTPARSTREAM",
	StatusOptParNotAllwd: "ESME_ROPTPARNOTALLWD", StatusInvParLen: "ESME_RINVPARLEN", StatusMissingOptParam: "ESME_RMISSINGOPTPARAM",
	StatusInvOptParamVal: "ESME_RINVOPTPARAMVAL", StatusDeliveryFailure: "ESME_RDELIVERYFAILURE", StatusUnknownErr: "ESME_RUNKNOWNERR",
}

func (s Status) String() string {
	if n, ok := statusNames[s]; ok {
		return n
	}
	return fmt.Sprintf("command_status(%#08x)", uint32(s))
}

// Error makes a non-OK status usable as an error value.
func (s Status) Error() string { return "smpp: " + s.String() }

// Tag is a TLV parameter tag (SMPP 3.4 §5.3.2).
type Tag uint16

// TLV tags the project uses.
const (
	TagDestAddrSubunit          Tag = 0x0005
	TagSourceAddrSubunit        Tag = 0x000D
	TagSourcePort               Tag = 0x020A
	TagDestinationPort          Tag = 0x020B
	TagUserMessageReference     Tag = 0x0204
	TagSarMsgRefNum             Tag = 0x020C
	TagSarTotalSegments         Tag = 0x020E
	TagSarSegmentSeqnum         Tag = 0x020F
	TagSCInterfaceVersion       Tag = 0x0210
	TagPayloadType              Tag = 0x0019
	TagMessagePayload           Tag = 0x0424
	TagReceiptedMessageID       Tag = 0x001E
	TagMessageState             Tag = 0x0427
	TagNetworkErrorCode         Tag = 0x0423
	TagMoreMessagesToSend       Tag = 0x0426
	TagAdditionalStatusInfoText Tag = 0x001D
	TagDeliveryFailureReason    Tag = 0x0425
)

// MessageState values carried in message_state TLVs and query_sm_resp (§5.2.28).
type MessageState uint8

// Message states.
const (
	StateEnroute       MessageState = 1
	StateDelivered     MessageState = 2
	StateExpired       MessageState = 3
	StateDeleted       MessageState = 4
	StateUndeliverable MessageState = 5
	StateAccepted      MessageState = 6
	StateUnknown       MessageState = 7
	StateRejected      MessageState = 8
)

var stateStat = [...]string{"", "ENROUTE", "DELIVRD", "EXPIRED", "DELETED", "UNDELIV", "ACCEPTD", "UNKNOWN", "REJECTD"}

// Stat returns the receipt text form (e.g. DELIVRD) of a state.
func (s MessageState) Stat() string {
	if int(s) < len(stateStat) && s != 0 {
		return stateStat[s]
	}
	return "UNKNOWN"
}

// StateFromStat maps a receipt stat word onto a MessageState; ok is false for
// words the specification does not define.
func StateFromStat(stat string) (MessageState, bool) {
	for i, w := range stateStat {
		if i > 0 && w == stat {
			return MessageState(i), true
		}
	}
	return StateUnknown, false
}

// esm_class bits (§5.2.12).
const (
	ESMClassReceipt   = 0x04 // deliver_sm carries an SMSC delivery receipt
	ESMClassUDHI      = 0x40 // short_message starts with a user data header
	ESMClassReplyPath = 0x80
	ESMClassTypeMask  = 0x3C
)

// data_coding values (§5.2.19).
const (
	CodingDefault = 0x00 // SMSC default alphabet, GSM 03.38 by convention
	CodingIA5     = 0x01
	CodingBinary  = 0x04
	CodingLatin1  = 0x03
	CodingUCS2    = 0x08
)
