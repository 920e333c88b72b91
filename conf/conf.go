// Package conf is the smppbridge configuration file: its TOML schema,
// defaults, strict decoding and whole-config validation.
//
// [Load] and [Parse] decode strictly: an unknown key (including a known key
// spelled with different case) is an error, not something to ignore, because
// a misspelt key silently falling back to its default is the worst kind of
// configuration bug. Every problem found is reported at once, each as an
// [*Error] naming its key path, such as
//
//	carrier[1].window: must be between 1 and 10000, got 0
//
// Indexes count from 0 in the order the [[carrier]], [[account]] and nested
// tables appear in the file. Syntax errors carry a line and column instead.
// The errors are combined with [errors.Join]; use [errors.As] or walk
// Unwrap() []error to read them one by one.
//
// Keys absent from the file take their defaults (see [Defaults] and
// REFERENCE.md); a key written with a zero value keeps it, so "window = 0"
// is reported rather than replaced.
//
// # Password hashes
//
// Account credentials and the admin listener take a password_hash instead of
// a plaintext password. Its format is
//
//	pbkdf2-sha256$<iterations>$<salt>$<key>
//
// where iterations is a decimal integer, salt and key are standard base64
// (RFC 4648 §4; the "=" padding may be left out) and key is
// PBKDF2-HMAC-SHA-256(password, salt, iterations, len(key)). [HashPassword]
// writes 600000 iterations, a 16-byte random salt and a 32-byte key;
// [CheckPassword] accepts 1000 to 10000000 iterations, salts of at least 8
// bytes and keys of 16 to 64 bytes.
//
// This package imports nothing from the project: cmd/smppbridge translates a
// Config into each package's options, and Config never travels further.
package conf

import (
	"fmt"
	"strings"
	"time"
)

// Config is the whole configuration file.
type Config struct {
	HTTP      HTTP      `toml:"http"`
	Admin     Admin     `toml:"admin"`
	Store     Store     `toml:"store"`
	Log       Log       `toml:"log"`
	API       API       `toml:"api"`
	Callbacks Callbacks `toml:"callbacks"`
	Policy    Policy    `toml:"policy"`
	Carriers  []Carrier `toml:"carrier"`
	Accounts  []Account `toml:"account"`
}

// HTTP is the messaging API listener.
type HTTP struct {
	Listen         string   `toml:"listen"`
	MaxBodyBytes   int      `toml:"max_body_bytes"`
	MaxHeaderBytes int      `toml:"max_header_bytes"`
	ReadTimeout    Duration `toml:"read_timeout"`
	WriteTimeout   Duration `toml:"write_timeout"`
	IdleTimeout    Duration `toml:"idle_timeout"`
	TLSCertFile    string   `toml:"tls_cert_file"` // with TLSKeyFile: serve HTTPS
	TLSKeyFile     string   `toml:"tls_key_file"`
}

// Admin is the operator listener (health, metrics, binds).
type Admin struct {
	Listen       string `toml:"listen"`
	Username     string `toml:"username"`      // with PasswordHash: require Basic auth
	PasswordHash string `toml:"password_hash"` // see the package doc for the format
}

// Store is the on-disk database.
type Store struct {
	Path string `toml:"path"`
	// NoSync skips fsync on commit: a crash can lose accepted messages.
	// For tests and benchmarks only.
	NoSync bool `toml:"no_sync"`
	// WAL makes a send durable through the intake log (store/wal.go)
	// instead of a database commit; off by default (see BENCHMARKS.md).
	WAL bool `toml:"wal"`
	// RecordRetention is how long message records (metadata, never text)
	// are kept for search and MDR; older ones are deleted in the background.
	RecordRetention Duration `toml:"record_retention"`
	// CommitDelay bounds how long a busy store waits to gather more writes
	// into one commit (store.Options.CommitDelay); 0 never waits.
	CommitDelay Duration `toml:"commit_delay"`
}

// Log selects the slog handler.
type Log struct {
	Format string `toml:"format"` // "text" or "json"
	Level  string `toml:"level"`  // "debug", "info", "warn" or "error"
}

// API holds limits of the messaging API.
type API struct {
	GroupLimit      int      `toml:"group_limit"`      // recipients per message
	MaxTextLength   int      `toml:"max_text_length"`  // characters
	ShutdownTimeout Duration `toml:"shutdown_timeout"` // drain budget on SIGTERM
	// ListRateLimit is the most message list requests (GET …/messages)
	// per source IP in any ListRateWindow; 0: no limit.
	ListRateLimit  int      `toml:"list_rate_limit"`
	ListRateWindow Duration `toml:"list_rate_window"`
}

// Callbacks configures webhook delivery to applications.
type Callbacks struct {
	Timeout  Duration `toml:"timeout"`
	RetryFor Duration `toml:"retry_for"` // then the event is dead-lettered
	// DeadLetterRetention: dead-lettered events are deleted this long after
	// they were given up.
	DeadLetterRetention    Duration `toml:"dead_letter_retention"`
	MaxBatch               int      `toml:"max_batch"`                // events per request; 1: no batching
	ConcurrencyPerEndpoint int      `toml:"concurrency_per_endpoint"` // requests in flight per URL
}

// Policy holds send policy checks that are not per account.
type Policy struct {
	// EmergencyNumbers are destinations refused with 4492, compared as
	// digits without "+"; [] refuses none.
	EmergencyNumbers []string `toml:"emergency_numbers"`
}

// Carrier is one SMPP carrier account and how to talk to it.
type Carrier struct {
	Name    string `toml:"name"`
	Address string `toml:"address"`

	TLS           bool   `toml:"tls"`
	TLSServerName string `toml:"tls_server_name"` // default: the host of Address
	TLSCAFile     string `toml:"tls_ca_file"`     // default: the system roots
	TLSCertFile   string `toml:"tls_cert_file"`   // with TLSKeyFile: a client certificate
	TLSKeyFile    string `toml:"tls_key_file"`

	SystemID   string   `toml:"system_id"`
	Password   string   `toml:"password"`
	SystemType string   `toml:"system_type"`
	BindType   BindType `toml:"bind_type"`
	Binds      int      `toml:"binds"`
	Window     int      `toml:"window"`

	SegmentsPerSecond float64 `toml:"segments_per_second"`
	Burst             int     `toml:"burst"`          // 0: automatic
	QueueSeconds      int     `toml:"queue_seconds"`  // queue depth in seconds of rate
	QueueCapacity     int     `toml:"queue_capacity"` // segments; 0: see QueueSegments

	DataCoding  DataCoding  `toml:"data_coding"`
	GSM7Packed  bool        `toml:"gsm7_packed"`
	LongMessage LongMessage `toml:"long_message"`

	Routes        []string `toml:"routes"`         // "+"-prefixed destination prefixes; "+" is all
	RouteAccounts []string `toml:"route_accounts"` // empty: any account
	RouteFrom     []string `toml:"route_from"`     // empty: any from number
	RouteClasses  []string `toml:"route_classes"`  // empty: any number class
	// ClassRates caps number classes at their own segments per second
	// inside SegmentsPerSecond: {"a2p" = 10.0}.
	ClassRates map[string]float64 `toml:"class_rates"`

	ReceiptWait        Duration           `toml:"receipt_wait"`
	AlphanumericSender bool               `toml:"alphanumeric_sender"`
	Media              MediaMode          `toml:"media"`
	ReceiptsPerSegment ReceiptsPerSegment `toml:"receipts_per_segment"`
	ReceiptIDFormat    ReceiptIDFormat    `toml:"receipt_id_format"`
	// ReceiptMap overrides the default receipt → V2 code mapping: an entry
	// matching (stat, err) wins over every default row.
	ReceiptMap []ReceiptMapEntry `toml:"receipt_map"`

	// MOConcatTimeout: parts of a long inbound message still incomplete
	// this long after the first part arrived are delivered as they are
	// (see docs/receipts-and-inbound.md).
	MOConcatTimeout Duration `toml:"mo_concat_timeout"`
	// MOGSM7Packed: inbound data_coding 0 arrives packed (8 septets in 7
	// octets) rather than one septet per octet.
	MOGSM7Packed bool `toml:"mo_gsm7_packed"`

	EnquireLinkInterval Duration `toml:"enquire_link_interval"`
	ResponseTimeout     Duration `toml:"response_timeout"`
	// WindowStuckAfter ends a bind whose every window slot is held by a
	// submit that timed out, this long after the newest of them was sent;
	// 0: five response timeouts.
	WindowStuckAfter Duration `toml:"window_stuck_after"`
	ReconnectMin     Duration `toml:"reconnect_min"`
	ReconnectMax     Duration `toml:"reconnect_max"`
	ThrottlePause    Duration `toml:"throttle_pause"`

	ShortCodeTON int `toml:"short_code_ton"`
	ShortCodeNPI int `toml:"short_code_npi"`
}

// QueueSegments is the carrier's queue capacity in segments: QueueCapacity
// when set, otherwise SegmentsPerSecond × QueueSeconds (at least 1).
func (c *Carrier) QueueSegments() int {
	if c.QueueCapacity > 0 {
		return c.QueueCapacity
	}
	return max(1, int(c.SegmentsPerSecond*float64(c.QueueSeconds)))
}

// GSM7DataCoding is the data_coding byte to send GSM-7-compatible text with.
func (c *Carrier) GSM7DataCoding() byte {
	switch c.DataCoding {
	case DataCodingLatin1:
		return 0x03
	case DataCodingIA5:
		return 0x01
	default:
		return 0x00
	}
}

// BindType is how each of a carrier's binds connects.
type BindType string

const (
	BindTransceiver BindType = "transceiver"
	// BindTransmitterReceiver is a transmitter plus a receiver session per
	// bind, for carriers that do not offer transceiver binds.
	BindTransmitterReceiver BindType = "transmitter_receiver"
	BindTransmitter         BindType = "transmitter" // no receipts or inbound
)

// DataCoding is how text that fits GSM-7 is sent.
type DataCoding string

const (
	DataCodingGSM7   DataCoding = "gsm7"   // data_coding 0x00
	DataCodingLatin1 DataCoding = "latin1" // data_coding 0x03
	DataCodingIA5    DataCoding = "ia5"    // data_coding 0x01
)

// LongMessage is how text longer than one segment is sent.
type LongMessage string

const (
	LongUDH8    LongMessage = "udh8"    // UDH, 8-bit reference
	LongUDH16   LongMessage = "udh16"   // UDH, 16-bit reference
	LongSAR     LongMessage = "sar"     // sar_* TLVs
	LongPayload LongMessage = "payload" // one PDU with message_payload
)

// MediaMode is what happens to a message with media.
type MediaMode string

const (
	MediaReject MediaMode = "reject" // refuse it
	MediaLinks  MediaMode = "links"  // append the URLs to the text
)

// ReceiptsPerSegment says which parts of a long message the carrier sends
// receipts for.
type ReceiptsPerSegment string

const (
	ReceiptsAll   ReceiptsPerSegment = "all"
	ReceiptsFirst ReceiptsPerSegment = "first"
	ReceiptsLast  ReceiptsPerSegment = "last"
)

// ReceiptIDFormat is how message ids in submit_sm_resp and in receipts are
// normalised before they are matched.
type ReceiptIDFormat string

const (
	ReceiptIDAuto    ReceiptIDFormat = "auto"
	ReceiptIDHex     ReceiptIDFormat = "hex"
	ReceiptIDDecimal ReceiptIDFormat = "decimal"
)

// ReceiptMapEntry is one row of a carrier's receipt mapping. It matches
// receipts by stat (or message_state) and, optionally, err (or the code of
// the network_error_code TLV), and says what they mean.
type ReceiptMapEntry struct {
	Stat             string `toml:"stat"`               // e.g. "UNDELIV", or a carrier's own value; case-insensitive
	MessageState     int    `toml:"message_state"`      // 1..8, instead of stat
	Err              string `toml:"err"`                // e.g. "001"; compared numerically when decimal
	NetworkErrorCode int    `toml:"network_error_code"` // instead of err
	Outcome          string `toml:"outcome"`            // "failed" (with code), "delivered" or "pending"
	Code             int    `toml:"code"`               // V2 error code of a failed outcome
}

// Receipt map outcomes.
const (
	OutcomeFailed    = "failed"
	OutcomeDelivered = "delivered"
	OutcomePending   = "pending"
)

// Account is one API account, the {accountId} of the V2 API paths.
type Account struct {
	ID           string        `toml:"id"`
	Countries    []string      `toml:"countries"` // country calling codes allowed; empty: all
	Credentials  []Credential  `toml:"credential"`
	Applications []Application `toml:"application"`
}

// Credential is one API user of an account. Exactly one of Password and
// PasswordHash is set.
type Credential struct {
	Username     string `toml:"username"`
	Password     string `toml:"password"`      // plaintext, for bootstrapping only
	PasswordHash string `toml:"password_hash"` // see the package doc
}

// Check reports whether pw is this credential's password, in constant time.
func (c *Credential) Check(pw string) bool {
	if c.PasswordHash != "" {
		return CheckPassword(c.PasswordHash, pw)
	}
	return c.Password != "" && equalSecret(c.Password, pw)
}

// Application is a messaging application: the numbers it owns and where
// their events go.
type Application struct {
	ID                 string   `toml:"id"`
	CallbackURL        string   `toml:"callback_url"`         // status events
	InboundCallbackURL string   `toml:"inbound_callback_url"` // message-received
	CallbackUsername   string   `toml:"callback_username"`    // Basic auth for both URLs
	CallbackPassword   string   `toml:"callback_password"`
	Numbers            []string `toml:"numbers"`
	ReceiptEvents      []string `toml:"receipt_events"` // status events sent to CallbackURL
	// NumberClasses are numbers given with their class (and A2P campaign);
	// numbers in Numbers get an inferred class.
	NumberClasses []Number `toml:"number"`
}

// Number is a number of an application with its class.
type Number struct {
	Number     string `toml:"number"`
	Class      string `toml:"class"`       // one of NumberClasses; "" infers it
	CampaignID string `toml:"campaign_id"` // required for, and only for, "a2p"
}

// Status event types an application can ask for in receipt_events.
const (
	EventDelivered = "message-delivered"
	EventFailed    = "message-failed"
	EventSending   = "message-sending"
)

// Number classes, for route_classes (the bridge's classes).
var NumberClasses = []string{"p2p", "a2p", "toll-free", "short-code", "alphanumeric"}

// Duration is a time.Duration written as a string such as "30s" or "1h30m".
type Duration time.Duration

// Std returns d as a time.Duration.
func (d Duration) Std() time.Duration { return time.Duration(d) }

func (d Duration) String() string { return time.Duration(d).String() }

// MarshalText writes d in time.Duration's format.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText reads a time.ParseDuration string.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("invalid duration %q: use a number with a unit, such as \"30s\"", b)
	}
	*d = Duration(v)
	return nil
}

// Error is one problem in a configuration.
type Error struct {
	File   string // set by Load
	Line   int    // of syntax errors; 0 otherwise
	Column int
	Key    string // key path such as "carrier[0].window"; empty for syntax errors
	Msg    string
}

// Error formats e as "file:line:col: key: message", leaving out the parts
// that are unknown.
func (e *Error) Error() string {
	var b strings.Builder
	switch {
	case e.File != "" && e.Line > 0:
		fmt.Fprintf(&b, "%s:%d:%d: ", e.File, e.Line, e.Column)
	case e.File != "":
		fmt.Fprintf(&b, "%s: ", e.File)
	case e.Line > 0:
		fmt.Fprintf(&b, "line %d, column %d: ", e.Line, e.Column)
	}
	if e.Key != "" {
		b.WriteString(e.Key)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}
