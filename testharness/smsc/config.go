package smsc

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"smppbridge/smpp/pdu"
)

// Config is the simulator's start-up configuration. The zero value is usable:
// it listens on 127.0.0.1:0, accepts any credentials and acknowledges
// everything at once.
type Config struct {
	SMPPAddr     string    `toml:"smpp_addr" json:"smpp_addr"`         // default 127.0.0.1:0
	TLSAddr      string    `toml:"tls_addr" json:"tls_addr"`           // empty: no TLS listener
	TLSCertFile  string    `toml:"tls_cert_file" json:"tls_cert_file"` // empty with TLSAddr set: a self-signed certificate for 127.0.0.1/localhost
	TLSKeyFile   string    `toml:"tls_key_file" json:"tls_key_file"`
	SystemID     string    `toml:"system_id" json:"system_id"`           // the SMSC's own system_id in bind responses; default "smscsim"
	MaxPDULength uint32    `toml:"max_pdu_length" json:"max_pdu_length"` // default pdu.DefaultMaxLength
	KeepMessages int       `toml:"keep_messages" json:"keep_messages"`   // received messages kept for inspection; default 100000
	Seed         uint64    `toml:"seed" json:"seed"`                     // random seed for outcome mixes and faults; 0 picks one
	Accounts     []Account `toml:"accounts" json:"accounts"`             // empty: any system_id/password is accepted
	Behaviour    Behaviour `toml:"behaviour" json:"behaviour"`

	Logger *slog.Logger `toml:"-" json:"-"` // nil: discard
}

// Account is an ESME account the simulator accepts binds for.
type Account struct {
	SystemID string `toml:"system_id" json:"system_id"`
	Password string `toml:"password" json:"password"`
	MaxBinds int    `toml:"max_binds" json:"max_binds"` // 0: unlimited
}

// Behaviour is everything that can change while the simulator runs
// (PUT /behaviour, Server.SetBehaviour).
type Behaviour struct {
	// Message ids: "decimal" (default), "hex", "padded-decimal", "padded-hex" or "uuid".
	IDFormat string `toml:"id_format" json:"id_format"`
	IDWidth  int    `toml:"id_width" json:"id_width"` // width of padded ids; default 10
	// GSM7Packed decodes data_coding 0 as packed septets (else one septet per octet).
	GSM7Packed bool `toml:"gsm7_packed" json:"gsm7_packed"`

	ResponseLatency Dist    `toml:"response_latency" json:"response_latency"`
	NoResponseRate  float64 `toml:"no_response_rate" json:"no_response_rate"` // fraction of submits never answered

	Window       int    `toml:"window" json:"window"`               // max unanswered requests per bind; 0: unlimited
	WindowAction string `toml:"window_action" json:"window_action"` // "throttle" (answer 0x58, default) or "drop" (close the bind)

	MaxSegmentsPerSecond float64 `toml:"max_segments_per_second" json:"max_segments_per_second"` // per account; 0: unlimited; excess answered 0x58
	RateBurst            int     `toml:"rate_burst" json:"rate_burst"`                           // token bucket size; default one second of rate

	QueueFullEvery int `toml:"queue_full_every" json:"queue_full_every"` // after this many accepted submits ...
	QueueFullBurst int `toml:"queue_full_burst" json:"queue_full_burst"` // ... this many are answered 0x14

	DropAfterPDUs int     `toml:"drop_after_pdus" json:"drop_after_pdus"` // close a bind after it sent this many PDUs; 0: never
	DropRate      float64 `toml:"drop_rate" json:"drop_rate"`             // probability per received PDU of closing the connection

	RefuseBinds      bool     `toml:"refuse_binds" json:"refuse_binds"`             // refuse every bind until turned off
	RefuseBindsFor   Duration `toml:"refuse_binds_for" json:"refuse_binds_for"`     // refuse binds for this long from when it is set
	BindRefuseStatus uint32   `toml:"bind_refuse_status" json:"bind_refuse_status"` // default 0x0D ESME_RBINDFAIL
	RefuseReceivers  bool     `toml:"refuse_receivers" json:"refuse_receivers"`     // refuse bind_receiver only, until turned off

	EnquireLinkInterval Duration `toml:"enquire_link_interval" json:"enquire_link_interval"` // SMSC-originated keep-alives; 0: none
	ConcatTimeout       Duration `toml:"concat_timeout" json:"concat_timeout"`               // incomplete long messages recorded after this; default 60s

	DeliverWindow  int      `toml:"deliver_window" json:"deliver_window"`   // unanswered deliver_sm/data_sm per bind; default 100
	DeliverRetry   Duration `toml:"deliver_retry" json:"deliver_retry"`     // resend delay after an error resp or lost bind; default 1s
	DeliverTimeout Duration `toml:"deliver_timeout" json:"deliver_timeout"` // an unanswered deliver_sm is resent after this; default 10s

	Receipts Receipts `toml:"receipts" json:"receipts"`
	Rules    []Rule   `toml:"rules" json:"rules"`
}

// Receipts shapes delivery receipts, sent when registered_delivery asks.
type Receipts struct {
	Delay    Dist      `toml:"delay" json:"delay"`
	Outcomes []Outcome `toml:"outcomes" json:"outcomes"` // weighted mix; default all DELIVRD err 000
	// Format: "text", "tlv" or "both" (default).
	Format string `toml:"format" json:"format"`
	// PDU: "deliver_sm" (default) or "data_sm".
	PDU string `toml:"pdu" json:"pdu"`
	// IDFormat is how the receipt names the message: "same" as submit_sm_resp (default),
	// or "decimal", "hex", "padded-decimal", "padded-hex" for numeric ids.
	IDFormat string `toml:"id_format" json:"id_format"`
	// Segments: a receipt for "all" parts of a long message (default), only the "first" or only the "last".
	Segments    string  `toml:"segments" json:"segments"`
	BeforeResp  bool    `toml:"before_resp" json:"before_resp"`   // send the receipt, wait for its ack, then the submit_sm_resp
	OtherBind   bool    `toml:"other_bind" json:"other_bind"`     // send it on another bind of the same system_id when there is one
	Duplicates  int     `toml:"duplicates" json:"duplicates"`     // extra copies of every receipt
	DropRate    float64 `toml:"drop_rate" json:"drop_rate"`       // fraction of receipts never sent
	Never       bool    `toml:"never" json:"never"`               // no receipts at all
	DateSeconds bool    `toml:"date_seconds" json:"date_seconds"` // YYMMDDhhmmss instead of YYMMDDhhmm
}

// Outcome is one weighted entry of the receipt mix.
type Outcome struct {
	Stat   string `toml:"stat" json:"stat"` // DELIVRD, UNDELIV, EXPIRED, REJECTD, DELETED, UNKNOWN, ACCEPTD, ENROUTE
	Err    string `toml:"err" json:"err"`   // three characters, e.g. "000", "001"
	Weight int    `toml:"weight" json:"weight"`
}

// Rule fixes what happens to messages for matching destinations, so a test can
// say "this number fails with UNDELIV err:001". The first matching rule wins.
type Rule struct {
	// Dest is a destination number ("+" ignored), or a prefix ending in "*".
	Dest string `toml:"dest" json:"dest"`
	// SubmitStatus, when set, answers the submit with this command_status.
	SubmitStatus uint32 `toml:"submit_status" json:"submit_status"`
	// Stat/Err fix the receipt outcome.
	Stat string `toml:"stat" json:"stat"`
	Err  string `toml:"err" json:"err"`
	// Segment, when set, applies Stat/Err and ResponseDelay to that part
	// only; other parts are DELIVRD and answered as usual.
	Segment int `toml:"segment" json:"segment"`
	// ResponseDelay, when set, holds the submit_sm_resp this long instead
	// of response_latency (a carrier answering after the ESME's timeout).
	// With receipts.before_resp it counts from the receipt's ack.
	ResponseDelay Duration `toml:"response_delay" json:"response_delay"`
	// NoReceipt suppresses receipts for the destination.
	NoReceipt bool `toml:"no_receipt" json:"no_receipt"`
}

// Dist is a delay drawn uniformly from [Min, Max]; Max below Min means Min.
type Dist struct {
	Min Duration `toml:"min" json:"min"`
	Max Duration `toml:"max" json:"max"`
}

// Duration reads "250ms"-style strings in TOML and JSON.
type Duration time.Duration

// MarshalText implements encoding.TextMarshaler.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// D returns the value as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// clone returns b with its own copies of the slices, so that no caller can
// change the simulator's behaviour, or its configuration, behind its lock:
// PUT /behaviour decodes into a copy and must not write through to the live
// outcome table when it is then refused.
func (b Behaviour) clone() Behaviour {
	b.Receipts.Outcomes = slices.Clone(b.Receipts.Outcomes)
	b.Rules = slices.Clone(b.Rules)
	return b
}

func (c *Config) setDefaults() {
	if c.SMPPAddr == "" {
		c.SMPPAddr = "127.0.0.1:0"
	}
	if c.SystemID == "" {
		c.SystemID = "smscsim"
	}
	if c.MaxPDULength == 0 {
		c.MaxPDULength = pdu.DefaultMaxLength
	}
	if c.KeepMessages == 0 {
		c.KeepMessages = 100000
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

func (b *Behaviour) setDefaults() {
	if b.IDFormat == "" {
		b.IDFormat = "decimal"
	}
	if b.IDWidth == 0 {
		b.IDWidth = 10
	}
	if b.WindowAction == "" {
		b.WindowAction = "throttle"
	}
	if b.BindRefuseStatus == 0 {
		b.BindRefuseStatus = uint32(pdu.StatusBindFail)
	}
	if b.ConcatTimeout == 0 {
		b.ConcatTimeout = Duration(time.Minute)
	}
	if b.DeliverWindow == 0 {
		b.DeliverWindow = 100
	}
	if b.DeliverRetry == 0 {
		b.DeliverRetry = Duration(time.Second)
	}
	if b.DeliverTimeout == 0 {
		b.DeliverTimeout = Duration(10 * time.Second)
	}
	r := &b.Receipts
	if len(r.Outcomes) == 0 {
		r.Outcomes = []Outcome{{Stat: "DELIVRD", Err: "000", Weight: 1}}
	}
	for i := range r.Outcomes {
		if r.Outcomes[i].Err == "" {
			r.Outcomes[i].Err = "000"
		}
	}
	if r.Format == "" {
		r.Format = "both"
	}
	if r.PDU == "" {
		r.PDU = "deliver_sm"
	}
	if r.IDFormat == "" {
		r.IDFormat = "same"
	}
	if r.Segments == "" {
		r.Segments = "all"
	}
	for i := range b.Rules {
		if b.Rules[i].Stat != "" && b.Rules[i].Err == "" {
			b.Rules[i].Err = "000"
		}
	}
}

func oneOf(v string, allowed ...string) bool {
	for _, a := range allowed {
		if v == a {
			return true
		}
	}
	return false
}

// validate reports every problem at once, with the key that has it.
func (b *Behaviour) validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("behaviour.%s: "+format, append([]any{key}, args...)...))
	}
	if !oneOf(b.IDFormat, "decimal", "hex", "padded-decimal", "padded-hex", "uuid") {
		bad("id_format", "%q is not decimal, hex, padded-decimal, padded-hex or uuid", b.IDFormat)
	}
	if b.IDWidth < 1 || b.IDWidth > 64 {
		bad("id_width", "%d is outside 1..64", b.IDWidth)
	}
	if !oneOf(b.WindowAction, "throttle", "drop") {
		bad("window_action", "%q is not throttle or drop", b.WindowAction)
	}
	// Slices, not maps: the message must name each key, in a stable order.
	for _, f := range []struct {
		key string
		v   float64
	}{{"no_response_rate", b.NoResponseRate}, {"drop_rate", b.DropRate}, {"receipts.drop_rate", b.Receipts.DropRate}} {
		if f.v < 0 || f.v > 1 {
			bad(f.key, "%v is outside 0..1", f.v)
		}
	}
	if b.MaxSegmentsPerSecond < 0 {
		bad("max_segments_per_second", "must not be negative")
	}
	for _, f := range []struct {
		key string
		v   int
	}{{"window", b.Window}, {"rate_burst", b.RateBurst}, {"queue_full_every", b.QueueFullEvery},
		{"queue_full_burst", b.QueueFullBurst}, {"drop_after_pdus", b.DropAfterPDUs}, {"deliver_window", b.DeliverWindow}} {
		if f.v < 0 {
			bad(f.key, "%d must not be negative", f.v)
		}
	}
	// A negative duration would fire at once: every long message incomplete,
	// every delivery resent on the next tick.
	for _, f := range []struct {
		key string
		v   Duration
	}{{"response_latency.min", b.ResponseLatency.Min}, {"response_latency.max", b.ResponseLatency.Max},
		{"receipts.delay.min", b.Receipts.Delay.Min}, {"receipts.delay.max", b.Receipts.Delay.Max},
		{"deliver_retry", b.DeliverRetry}, {"deliver_timeout", b.DeliverTimeout}, {"concat_timeout", b.ConcatTimeout},
		{"enquire_link_interval", b.EnquireLinkInterval}, {"refuse_binds_for", b.RefuseBindsFor}} {
		if f.v < 0 {
			bad(f.key, "%v must not be negative", f.v.D())
		}
	}
	r := &b.Receipts
	if !oneOf(r.Format, "text", "tlv", "both") {
		bad("receipts.format", "%q is not text, tlv or both", r.Format)
	}
	if !oneOf(r.PDU, "deliver_sm", "data_sm") {
		bad("receipts.pdu", "%q is not deliver_sm or data_sm", r.PDU)
	}
	if !oneOf(r.IDFormat, "same", "decimal", "hex", "padded-decimal", "padded-hex") {
		bad("receipts.id_format", "%q is not same, decimal, hex, padded-decimal or padded-hex", r.IDFormat)
	} else if b.IDFormat == "uuid" && r.IDFormat != "same" {
		bad("receipts.id_format", "UUID message ids can only be reported as \"same\"")
	}
	if !oneOf(r.Segments, "all", "first", "last") {
		bad("receipts.segments", "%q is not all, first or last", r.Segments)
	}
	if r.Duplicates < 0 {
		bad("receipts.duplicates", "must not be negative")
	}
	total := 0
	for i, o := range r.Outcomes {
		if _, ok := pdu.StateFromStat(o.Stat); !ok {
			bad(fmt.Sprintf("receipts.outcomes[%d].stat", i), "%q is not a receipt stat", o.Stat)
		}
		if o.Weight < 0 {
			bad(fmt.Sprintf("receipts.outcomes[%d].weight", i), "must not be negative")
		}
		if len(o.Err) != 3 { // the receipt text's err field is three characters
			bad(fmt.Sprintf("receipts.outcomes[%d].err", i), "%q is not three characters", o.Err)
		}
		total += o.Weight
	}
	if total == 0 {
		bad("receipts.outcomes", "weights add up to 0")
	}
	for i, rl := range b.Rules {
		if rl.Dest == "" {
			bad(fmt.Sprintf("rules[%d].dest", i), "is empty")
		}
		if rl.Stat != "" {
			if _, ok := pdu.StateFromStat(rl.Stat); !ok {
				bad(fmt.Sprintf("rules[%d].stat", i), "%q is not a receipt stat", rl.Stat)
			}
			if len(rl.Err) != 3 {
				bad(fmt.Sprintf("rules[%d].err", i), "%q is not three characters", rl.Err)
			}
		}
		if rl.Segment < 0 {
			bad(fmt.Sprintf("rules[%d].segment", i), "must not be negative")
		}
		if rl.ResponseDelay < 0 {
			bad(fmt.Sprintf("rules[%d].response_delay", i), "must not be negative")
		}
	}
	return errors.Join(errs...)
}

func (c *Config) validate() error {
	var errs []error
	seen := map[string]bool{}
	for i, a := range c.Accounts {
		switch {
		case a.SystemID == "" || len(a.SystemID) > 15:
			errs = append(errs, fmt.Errorf("accounts[%d].system_id: must be 1..15 characters", i))
		case seen[a.SystemID]:
			errs = append(errs, fmt.Errorf("accounts[%d].system_id: %q appears twice", i, a.SystemID))
		}
		seen[a.SystemID] = true
		if len(a.Password) > 8 {
			errs = append(errs, fmt.Errorf("accounts[%d].password: longer than 8 characters", i))
		}
		if a.MaxBinds < 0 {
			errs = append(errs, fmt.Errorf("accounts[%d].max_binds: must not be negative", i))
		}
	}
	if (c.TLSCertFile == "") != (c.TLSKeyFile == "") {
		errs = append(errs, errors.New("tls_cert_file and tls_key_file: set both or neither"))
	}
	if err := c.Behaviour.validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// matches reports whether the rule applies to a destination address.
func (r *Rule) matches(dest string) bool {
	want := strings.TrimPrefix(r.Dest, "+")
	dest = strings.TrimPrefix(dest, "+")
	if p, ok := strings.CutSuffix(want, "*"); ok {
		return strings.HasPrefix(dest, p)
	}
	return dest == want
}

// errCode turns a receipt err field into the network_error_code value.
func errCode(s string) uint16 {
	n, err := strconv.ParseUint(strings.TrimSpace(s), 10, 16)
	if err != nil {
		return 0
	}
	return uint16(n)
}
