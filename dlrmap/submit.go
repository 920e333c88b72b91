// Package dlrmap maps what carriers say — submit_sm_resp statuses and
// delivery receipts — onto the V2 error codes. It is pure: no I/O, no
// state; correlation lives in bridge and store.
package dlrmap

// V2 codes the bridge itself reports.
const (
	CodeExpired         = 4360 // message-not-sent-expiration-date-passed
	CodeNoRoute         = 4420 // rejected-carrier-does-not-exist
	CodeRoutingError    = 4401 // rejected-routing-error: e.g. from == to
	CodeSubmitFailed    = 5610 // submit_sm-or-submit_multi-failed
	CodeDestAppError    = 5620 // destination-app-error
	CodeNotAcknowledged = 5630 // message-not-acknowledged
	CodeReceiptExpired  = 9902 // delivery-receipt-expired
	CodeUnknown         = 9999 // unknown-error
	CodeShutdown        = 5101
	CodeStoreError      = 5220
	CodeInvalidDest     = 4720
	CodeInvalidSource   = 4740
	CodeMessageSize     = 4751
	CodeMalformed       = 4752
	CodeRejected        = 4750
)

// SubmitStatus maps a non-OK submit_sm_resp command_status onto a V2 code.
// retry reports a transient SMSC failure (0x08 system error, 0x64 temporary
// application error) worth sending again a bounded number of times before
// the code stands. 0x58 and 0x14 answered in time never get here: the pool
// slows down and resends them; answered after the response timeout the
// part is no longer the pool's, and they end it as a failed submit.
func SubmitStatus(status uint32) (code int, retry bool) {
	switch status {
	case 0x58, 0x14:
		return CodeSubmitFailed, false
	case 0x08, 0x64:
		return CodeDestAppError, true
	case 0x0A, 0x48, 0x49: // invalid source address, TON, NPI
		return CodeInvalidSource, false
	case 0x0B, 0x50, 0x51: // invalid destination address, TON, NPI
		return CodeInvalidDest, false
	case 0x01:
		return CodeMessageSize, false
	case 0x45:
		return CodeSubmitFailed, false
	case 0x65, 0x66, 0x67:
		// 0x65 ESME_RX_P_APPN and 0x66 ESME_RX_R_APPN are the permanent and
		// reject application errors of SMPP 3.4 §5.1.3; smpp-notes.md lists
		// them one off (0x66, 0x67), so 0x67 stays for that reading.
		return CodeRejected, false
	case 0x02, 0x03, 0x06, 0x07, 0x15, 0x33, 0x34, 0x40, 0x42, 0x43, 0x53, 0x54, 0x55,
		0x61, 0x62, 0x63, 0xC0, 0xC1, 0xC2, 0xC3, 0xC4:
		return CodeMalformed, false // the SMSC found the PDU itself unacceptable
	default:
		return CodeUnknown, false
	}
}
