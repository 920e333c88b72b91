package dlrmap

// Code is one row of shared/reference/error-codes.tsv.
type Code struct {
	Code       int
	Name       string // what V2 callbacks carry as the error's description
	ReportedBy string // "bridge" or "carrier"
	Kind       string // "permanent", "temporary" or "ambiguous"
	Billable   bool
	Meaning    string
}

// Lookup returns the row for a V2 code.
func Lookup(code int) (Code, bool) {
	// 76 rows: a linear scan is as fast as a map and needs no init.
	for i := range codes {
		if codes[i].Code == code {
			return codes[i], true
		}
	}
	return Code{}, false
}

// Name returns the V2 name of code, "" if the code is not in the table.
func Name(code int) string {
	c, _ := Lookup(code)
	return c.Name
}

// codes is every V2 error code in the order of error-codes.tsv, transcribed
// from it; TestCodesMatchTSV fails (printing the row it expects) when the
// two drift apart.
var codes = [...]Code{
	{4001, "service-not-allowed", "bridge", "permanent", false, "catch-all: the requested service is not permitted (permissions/format/enablement)"},
	{4301, "malformed-invalid-encoding", "bridge", "permanent", false, "text has characters the bridge cannot encode for the destination"},
	{4302, "malformed-invalid-from-number", "bridge", "permanent", false, "from is not a valid/routable number"},
	{4303, "malformed-invalid-to-number", "bridge", "permanent", false, "to is not a valid/routable number"},
	{4350, "malformed-for-destination", "bridge", "permanent", false, "passed intake but failed at send time, usually a bad destination"},
	{4360, "message-not-sent-expiration-date-passed", "bridge", "permanent", false, "expiration reached before sending"},
	{4401, "rejected-routing-error", "bridge", "permanent", false, "cannot route inside the bridge (e.g. from == to, loop, misprovisioned destination)"},
	{4403, "rejected-forbidden-from-number", "bridge", "permanent", false, "from not usable for messaging on this account (not owned, not enabled, disconnected, invalid)"},
	{4404, "rejected-forbidden-to-number", "bridge", "permanent", false, "destination not allowed (inactive, not messaging-enabled, invalid)"},
	{4405, "rejected-unallocated-from-number", "bridge", "permanent", false, "from not an active allocated number in industry data"},
	{4406, "rejected-unallocated-to-number", "bridge", "permanent", false, "to well-formed NANP but not assigned to any carrier"},
	{4407, "rejected-account-not-defined-from-number", "bridge", "permanent", false, "from not tied to the account / not configured to send"},
	{4408, "rejected-account-not-defined-to-number", "bridge", "permanent", false, "to not tied to an account / not configured to receive"},
	{4409, "rejected-invalid-from-profile", "bridge", "permanent", false, "destination profile invalid, typically destination cannot take MMS"},
	{4410, "media-unavailable", "bridge", "permanent", false, "the bridge could not download a media URL"},
	{4411, "rejected-message-size-limit-exceeded", "bridge", "permanent", false, "combined media too large"},
	{4412, "media-content-invalid", "bridge", "permanent", false, "media content type unsupported / unparsable"},
	{4420, "rejected-carrier-does-not-exist", "bridge", "permanent", false, "upstream carrier unknown to the bridge config"},
	{4421, "rejected-forbidden-no-destination", "bridge", "permanent", false, "account not permitted to send to this destination"},
	{4431, "rejected-forbidden-shortcode", "bridge", "permanent", false, "account not provisioned for short code"},
	{4432, "rejected-forbidden-country", "bridge", "permanent", false, "account not enabled for that country/zone (or MMS out of reach)"},
	{4433, "rejected-forbidden-tollfree", "bridge", "permanent", false, "account not enabled for toll-free messaging"},
	{4434, "rejected-forbidden-tollfree-for-recipient", "bridge", "permanent", false, "the toll-free destination cannot receive messages"},
	{4435, "forbidden-too-many-recipients", "bridge", "permanent", false, "group exceeds the 10-participant limit"},
	{4451, "rejected-wrong-user-id", "bridge", "permanent", false, "invalid user/account id"},
	{4452, "rejected-wrong-application-id", "bridge", "permanent", false, "applicationId invalid or not on the account"},
	{4470, "rejected-spam-detected", "bridge", "permanent", true, "blocked by the bridge's own spam filtering"},
	{4481, "rejected-from-number-in-blacklist", "bridge", "permanent", false, "from barred by the bridge (spam/P2P violations)"},
	{4482, "rejected-to-number-in-blacklist", "bridge", "permanent", false, "destination barred from receiving"},
	{4492, "reject-emergency", "bridge", "permanent", false, "messaging an emergency number is not allowed"},
	{4493, "rejected-unauthorized", "bridge", "permanent", false, "sender not authorised to send from the account"},
	{4700, "invalid-service-type", "carrier", "permanent", true, "carrier/handset does not support SMS/MMS"},
	{4701, "destination-service-unavailable", "carrier", "temporary", true, "destination unreachable or SMS service unavailable"},
	{4702, "destination-subscriber-unavailable", "carrier", "temporary", true, "subscriber unavailable (handset off, barred, SIM/voicemail full, store-and-forward)"},
	{4711, "rejected-message-size-limit-exceeded", "carrier", "permanent", true, "downstream could not fetch media: too large"},
	{4712, "media-content-invalid", "carrier", "permanent", true, "media type not supported downstream (before Sep 2022 named media-invalid)"},
	{4720, "invalid-destination-address", "carrier", "permanent", true, "number not in numbering plan or not messaging-capable (e.g. landline); TF→T-Mobile may mean user blocks TF/short-code"},
	{4721, "destination-tn-deactivated", "carrier", "permanent", true, "destination on the deactivation list"},
	{4730, "no-route-to-destination-carrier", "carrier", "permanent", true, "no route / no roaming route / SS7 route denied"},
	{4740, "invalid-source-address-address", "carrier", "permanent", true, "carrier rejects source address (not in plan, not authorised, unsupported type)"},
	{4750, "destination-rejected-message", "carrier", "permanent", true, "carrier rejected, no specific reason (AT&T: prepaid out of funds, blocked type, spam)"},
	{4751, "destination-rejected-message-size-invalid", "carrier", "permanent", true, "message length invalid/too long for carrier"},
	{4752, "destination-rejected-malformed", "carrier", "permanent", true, "malformed for carrier (blank body, bad coding scheme, PDU/TLV errors…)"},
	{4753, "destination-rejected-handset", "carrier", "permanent", true, "handset rejected it"},
	{4770, "destination-spam-detected", "carrier", "permanent", true, "carrier flagged as spam (content, SHAFT, sender reputation)"},
	{4771, "rejected-shortened-url", "carrier", "permanent", true, "problem with a (public) URL shortener in the text"},
	{4772, "rejected-tn-blocked", "carrier", "permanent", true, "sender or receiver blocked on downstream platform"},
	{4773, "inactive-campaign", "carrier", "permanent", true, "10DLC campaign not active for the destination carrier"},
	{4774, "provisioning-issue", "carrier", "permanent", true, "number's 10DLC provisioning wrong/missing in industry DB"},
	{4775, "destination-rejected-due-to-user-opt-out", "carrier", "permanent", true, "recipient opted out (STOP)"},
	{4780, "volume-violation-tmo", "carrier", "temporary", true, "T-Mobile: 10DLC brand daily cap exceeded (before 2022 named p2p-volume-violation)"},
	{4781, "volume-violation-att", "carrier", "temporary", true, "AT&T: 10DLC campaign rate exceeded or throttled"},
	{4785, "volumetric-violation", "carrier", "temporary", true, "carrier volumetric violation; back off and retry later"},
	{4790, "destination-rejected-sc-not-allowed", "carrier", "permanent", true, "short-code restriction at operator/destination"},
	{4791, "destination-rejected-campaign-not-allowed", "carrier", "permanent", true, "short-code campaign not allowed/blocked"},
	{4792, "destination-rejected-sc-not-provisioned", "carrier", "permanent", true, "short code not provisioned at operator"},
	{4793, "destination-rejected-sc-expired", "carrier", "permanent", true, "short code expired at operator"},
	{4795, "tfn-not-verified", "carrier", "permanent", true, "toll-free number not verified (or spam on unverified TFN)"},
	{5100, "temporary-app-error", "bridge", "temporary", false, "transient internal application error"},
	{5101, "temporary-app-shutdown", "bridge", "temporary", false, "component shutting down; message not taken, send later"},
	{5106, "impossible-to-route", "bridge", "temporary", false, "delivery retries exhausted / unroutable"},
	{5111, "temporary-app-connection-closed", "bridge", "temporary", false, "message arrived for a connection already gone"},
	{5201, "temporary-rout-error-retries-exceeded", "bridge", "temporary", false, "the bridge expired the message after failed retries"},
	{5211, "temporary-app-error-app-busy", "bridge", "temporary", false, "component temporarily busy"},
	{5220, "temporary-store-error", "bridge", "temporary", false, "could not persist the message"},
	{5231, "discarded-concatenation-timeout", "bridge", "temporary", false, "not all parts of a multipart message arrived"},
	{5500, "message-send-failed", "bridge", "temporary", false, "carrier reported a general send failure"},
	{5501, "message-send-failed", "bridge", "temporary", false, "no destination available"},
	{5999, "unknown-error", "bridge", "temporary", false, "unknown error inside the bridge core"},
	{5600, "destination-carrier-queue-full", "carrier", "temporary", true, "carrier unavailable: congestion, queue full, throttling"},
	{5610, "submit_sm-or-submit_multi-failed", "carrier", "temporary", true, "carrier submit (or cancel) failed"},
	{5620, "destination-app-error", "carrier", "temporary", true, "carrier application error"},
	{5630, "message-not-acknowledged", "carrier", "temporary", true, "no ACK / NACK from carrier"},
	{5650, "destination-failed", "carrier", "temporary", true, "carrier failed to reach operator/handset"},
	{9902, "delivery-receipt-expired", "carrier", "ambiguous", true, "no DLR within the bridge's 2-hour wait; does not prove non-delivery (common for toll-free)"},
	{9999, "unknown-error", "carrier", "ambiguous", true, "carrier returned a code the bridge has not mapped"},
}

// Codes returns every V2 error code, in the order of error-codes.tsv.
func Codes() []int {
	out := make([]int, len(codes))
	for i := range codes {
		out[i] = codes[i].Code
	}
	return out
}
