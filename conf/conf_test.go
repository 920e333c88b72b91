package conf

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
)

// errorsOf flattens a joined error into its *Error parts; anything else
// fails the test, since every error should carry a key or a position.
func errorsOf(t *testing.T, err error) []*Error {
	t.Helper()
	var out []*Error
	var walk func(error)
	walk = func(err error) {
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			for _, e := range j.Unwrap() {
				walk(e)
			}
			return
		}
		var ce *Error
		if !errors.As(err, &ce) {
			t.Fatalf("error %q (%T) is not a *conf.Error", err, err)
		}
		out = append(out, ce)
	}
	if err != nil {
		walk(err)
	}
	return out
}

func parseFile(t *testing.T, name string) (*Config, error) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return Parse(data)
}

func sec(n int) Duration { return Duration(time.Duration(n) * time.Second) }

// wantDefaults is written out by hand rather than taken from Defaults, so
// that the defaults themselves are under test.
func wantDefaults() *Config {
	return &Config{
		HTTP: HTTP{
			Listen: "127.0.0.1:8080", MaxBodyBytes: 262144, MaxHeaderBytes: 8192,
			ReadTimeout: sec(10), WriteTimeout: sec(10), IdleTimeout: sec(60),
		},
		Admin:     Admin{Listen: "127.0.0.1:8081"},
		Store:     Store{Path: "smppbridge.db", RecordRetention: sec(14 * 24 * 3600), CommitDelay: Duration(300 * time.Microsecond)},
		Log:       Log{Format: "text", Level: "info"},
		API:       API{GroupLimit: 10, MaxTextLength: 2048, ShutdownTimeout: sec(20), ListRateLimit: 3500, ListRateWindow: sec(300)},
		Callbacks: Callbacks{Timeout: sec(10), RetryFor: sec(24 * 3600), DeadLetterRetention: sec(7 * 24 * 3600), MaxBatch: 1, ConcurrencyPerEndpoint: 4},
		Policy:    Policy{EmergencyNumbers: []string{"911", "112", "999", "000", "110", "119", "118", "100", "101", "102", "108"}},
	}
}

func wantCarrierDefaults() Carrier {
	return Carrier{
		BindType: "transceiver", Binds: 1, Window: 10, QueueSeconds: 900,
		DataCoding: "gsm7", LongMessage: "udh8", ReceiptWait: sec(2 * 3600), Media: "reject",
		EnquireLinkInterval: sec(30), ResponseTimeout: sec(10),
		ReconnectMin: Duration(500 * time.Millisecond), ReconnectMax: sec(30), ThrottlePause: sec(1),
		ShortCodeTON: 3, ShortCodeNPI: 0, ReceiptsPerSegment: "all", ReceiptIDFormat: "auto",
		MOConcatTimeout: sec(300),
	}
}

func TestExample(t *testing.T) {
	got, err := parseFile(t, "example.toml")
	if err != nil {
		t.Fatal(err)
	}
	want := wantDefaults()
	c := wantCarrierDefaults()
	c.Name, c.Address, c.SystemID, c.Password = "sim", "127.0.0.1:2775", "bridge", "secret"
	c.Binds, c.Window, c.SegmentsPerSecond, c.QueueSeconds = 2, 50, 100, 900
	c.Routes = []string{"+1", "+44"}
	want.Carriers = []Carrier{c}
	want.Accounts = []Account{{
		ID:          "9900000",
		Credentials: []Credential{{Username: "api", Password: "change-me"}},
		Applications: []Application{{
			ID:                 "93de2206-9669-4e07-948d-329f4b722ee2",
			CallbackURL:        "http://127.0.0.1:9000/callbacks",
			InboundCallbackURL: "http://127.0.0.1:9000/inbound",
			Numbers:            []string{"+15550001111"},
			ReceiptEvents:      []string{"message-delivered", "message-failed"},
		}},
	}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("example decoded to\n%+v\nwant\n%+v", got, want)
	}
	if q := got.Carriers[0].QueueSegments(); q != 90000 {
		t.Errorf("QueueSegments = %d, want 100 × 900", q)
	}
	if !got.Accounts[0].Credentials[0].Check("change-me") || got.Accounts[0].Credentials[0].Check("change-you") {
		t.Error("plaintext credential check is wrong")
	}
}

func fullWant() *Config {
	return &Config{
		HTTP: HTTP{
			Listen: "0.0.0.0:8080", MaxBodyBytes: 524288, MaxHeaderBytes: 16384,
			ReadTimeout: sec(15), WriteTimeout: sec(15), IdleTimeout: sec(120),
			TLSCertFile: "tls/api.crt", TLSKeyFile: "tls/api.key",
		},
		Admin: Admin{
			Listen: "127.0.0.1:9081", Username: "ops",
			PasswordHash: "pbkdf2-sha256$600000$TyIAuMDTkZURW+Fpa/mKUA$g+RfPIQRXeEnnujbRSh60fyW7AlS2TrzWACxCzFo4Q0",
		},
		Store:     Store{Path: "/var/lib/smppbridge/smppbridge.db", WAL: true, RecordRetention: sec(7 * 24 * 3600), CommitDelay: Duration(500 * time.Microsecond)},
		Log:       Log{Format: "json", Level: "debug"},
		API:       API{GroupLimit: 8, MaxTextLength: 1600, ShutdownTimeout: sec(30), ListRateLimit: 1000, ListRateWindow: sec(60)},
		Callbacks: Callbacks{Timeout: sec(5), RetryFor: sec(12 * 3600), DeadLetterRetention: sec(72 * 3600), MaxBatch: 10, ConcurrencyPerEndpoint: 8},
		Policy:    Policy{EmergencyNumbers: []string{"911", "112", "999"}},
		Carriers: []Carrier{
			{
				Name: "acme", Address: "smsc.example.net:3550",
				TLS: true, TLSServerName: "smsc.example.net", TLSCAFile: "tls/acme-ca.pem",
				TLSCertFile: "tls/client.crt", TLSKeyFile: "tls/client.key",
				SystemID: "bridge01", Password: "s3cret", SystemType: "VMA",
				BindType: BindTransmitterReceiver, Binds: 4, Window: 100,
				SegmentsPerSecond: 50, Burst: 25, QueueSeconds: 600, QueueCapacity: 20000,
				DataCoding: DataCodingLatin1, GSM7Packed: true, LongMessage: LongSAR,
				Routes: []string{"+1", "+44"}, RouteAccounts: []string{"9900000"}, RouteFrom: []string{"+15550001111"}, RouteClasses: []string{"p2p", "a2p"}, ClassRates: map[string]float64{"a2p": 10, "toll-free": 5},
				ReceiptWait: sec(3600), AlphanumericSender: true, Media: MediaLinks,
				ReceiptsPerSegment: ReceiptsLast, ReceiptIDFormat: ReceiptIDHex,
				EnquireLinkInterval: sec(45), ResponseTimeout: sec(5), WindowStuckAfter: sec(30),
				ReconnectMin: sec(1), ReconnectMax: sec(60), ThrottlePause: sec(2),
				ShortCodeTON: 0, ShortCodeNPI: 9,
				MOConcatTimeout: sec(600), MOGSM7Packed: true,
				ReceiptMap: []ReceiptMapEntry{
					{Stat: "UNDELIV", Err: "001", Outcome: "failed", Code: 4720},
					{MessageState: 6, Outcome: "delivered"},
					{Stat: "FAILED", NetworkErrorCode: 13, Outcome: "failed", Code: 4772},
				},
			},
			func() Carrier {
				c := wantCarrierDefaults()
				c.Name, c.Address, c.SystemID = "fallback", "10.0.0.7:2775", "bridge"
				c.SegmentsPerSecond, c.Routes = 0.5, []string{"+"}
				return c
			}(),
		},
		Accounts: []Account{{
			ID: "9900000", Countries: []string{"1", "44"},
			Credentials: []Credential{{
				Username:     "api",
				PasswordHash: "pbkdf2-sha256$600000$VEWECugaiYWdAWtv8vnX6Q$OFYbhRPmsg6aFhB2Ysdbo5aExQddsfcVEcLQILUCTy8",
			}},
			Applications: []Application{{
				ID:                 "93de2206-9669-4e07-948d-329f4b722ee2",
				CallbackURL:        "https://hooks.example.com/status",
				InboundCallbackURL: "https://hooks.example.com/in",
				CallbackUsername:   "hook", CallbackPassword: "hook-password",
				Numbers:       []string{"+15550001111", "+15550001112", "12345"},
				NumberClasses: []Number{{Number: "+15550001113", Class: "a2p", CampaignID: "CX3KQ7A"}},
				ReceiptEvents: []string{"message-delivered", "message-failed", "message-sending"},
			}},
		}},
	}
}

func TestFull(t *testing.T) {
	got, err := parseFile(t, "full.toml")
	if err != nil {
		t.Fatal(err)
	}
	if want := fullWant(); !reflect.DeepEqual(got, want) {
		t.Errorf("full.toml decoded to\n%+v\nwant\n%+v", got, want)
	}
	if got.Carriers[0].GSM7DataCoding() != 0x03 || got.Carriers[1].GSM7DataCoding() != 0x00 {
		t.Error("GSM7DataCoding does not follow data_coding")
	}
	if got.Carriers[0].QueueSegments() != 20000 || got.Carriers[1].QueueSegments() != 450 {
		t.Errorf("QueueSegments = %d, %d; want 20000, 450", got.Carriers[0].QueueSegments(), got.Carriers[1].QueueSegments())
	}
}

// TestFullRoundTrip checks Duration's MarshalText against its UnmarshalText
// and that the schema survives the encoder, for a future "print config".
func TestFullRoundTrip(t *testing.T) {
	want := fullWant()
	var buf bytes.Buffer
	if err := toml.NewEncoder(&buf).Encode(want); err != nil {
		t.Fatal(err)
	}
	got, err := Parse(buf.Bytes())
	if err != nil {
		t.Fatalf("%v\n%s", err, buf.Bytes())
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("round trip gave\n%+v\nwant\n%+v", got, want)
	}
}

// schemaKeys lists every key path of the schema, with arrays of tables
// written as TOML names them ("carrier.window").
func schemaKeys(t reflect.Type, prefix string) []string {
	var keys []string
	for i := range t.NumField() {
		f := t.Field(i)
		k := prefix + tomlName(f)
		switch {
		case f.Type.Kind() == reflect.Struct:
			keys = append(keys, schemaKeys(f.Type, k+".")...)
		case f.Type.Kind() == reflect.Slice && f.Type.Elem().Kind() == reflect.Struct:
			keys = append(keys, schemaKeys(f.Type.Elem(), k+".")...)
		default:
			keys = append(keys, k)
		}
	}
	return keys
}

// TestEveryKeyDocumented keeps full.toml and REFERENCE.md in step with the
// schema.
func TestEveryKeyDocumented(t *testing.T) {
	data, err := os.ReadFile("testdata/full.toml")
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]any
	md, err := toml.Decode(string(data), &raw)
	if err != nil {
		t.Fatal(err)
	}
	inFull := make(map[string]bool)
	for _, k := range md.Keys() {
		inFull[k.String()] = true
	}
	ref, err := os.ReadFile("REFERENCE.md")
	if err != nil {
		t.Fatal(err)
	}
	keys := schemaKeys(reflect.TypeFor[Config](), "")
	if len(keys) < 60 {
		t.Fatalf("only %d schema keys; schemaKeys is broken", len(keys))
	}
	for _, k := range keys {
		if !inFull[k] {
			t.Errorf("testdata/full.toml does not show %s", k)
		}
		// REFERENCE.md has a table per section and names keys in it
		// as `key`; check the section heading and the row.
		section, name := k[:strings.LastIndexByte(k, '.')], lastKey(k)
		if !bytes.Contains(ref, []byte("## `["+section+"]`")) && !bytes.Contains(ref, []byte("## `[["+section+"]]`")) {
			t.Errorf("REFERENCE.md has no section for %s", section)
		}
		if !regexp.MustCompile("(?m)^\\| `" + regexp.QuoteMeta(name) + "` ").Match(ref) {
			t.Errorf("REFERENCE.md has no row for %s", k)
		}
	}
}

func TestBadFixtures(t *testing.T) {
	cases := []struct {
		file string
		key  string
		msg  string
	}{
		{"bad_unknown_key.toml", "http.listn", `unknown key (did you mean "listen"?)`},
		{"bad_unknown_nested_key.toml", "carrier[1].windw", `unknown key (did you mean "window"?)`},
		{"bad_unknown_section.toml", "metrics", "unknown key"},
		{"bad_key_case.toml", "carrier[0].Window", `unknown key (did you mean "window"?)`},
		{"bad_type.toml", "carrier[0].binds", "must be an integer, not a string"},
		{"bad_carrier_table.toml", "carrier", "must be an array of tables ([[carrier]]), not a table"},
		{"bad_no_carrier.toml", "carrier", "at least one [[carrier]] is required"},
		{"bad_duplicate_carrier.toml", "carrier[1].name", `duplicate carrier name "sim" (also carrier[0])`},
		{"bad_carrier_name.toml", "carrier[0].name", "must be 1 to 64 of a-z"},
		{"bad_address.toml", "carrier[0].address", `must be host:port, got "smsc.example.net"`},
		{"bad_missing_system_id.toml", "carrier[0].system_id", "required"},
		{"bad_system_id_too_long.toml", "carrier[0].system_id", "must be at most 15 characters, got 17"},
		{"bad_window_zero.toml", "carrier[0].window", "must be between 1 and 10000, got 0"},
		{"bad_segments_per_second_zero.toml", "carrier[0].segments_per_second", "required"},
		{"bad_bind_type.toml", "carrier[0].bind_type", `must be one of "transceiver", "transmitter_receiver", "transmitter"; got "receiver"`},
		{"bad_data_coding.toml", "carrier[0].data_coding", `got "ucs2"`},
		{"bad_long_message.toml", "carrier[0].long_message", `got "udh"`},
		{"bad_duration.toml", "carrier[0].receipt_wait", `invalid duration "2 hours"`},
		{"bad_negative_duration.toml", "http.read_timeout", `must be a positive duration, got "-1s"`},
		{"bad_record_retention.toml", "store.record_retention", `must be a positive duration, got "0s"`},
		{"bad_commit_delay.toml", "store.commit_delay", `must be between 0s and 10ms, got "50ms"`},
		{"bad_window_stuck_after.toml", "carrier[0].window_stuck_after", `must be 0 (five response timeouts) or at least response_timeout (10s), got "2s"`},
		{"bad_dead_letter_retention.toml", "callbacks.dead_letter_retention", `must be a positive duration, got "-1h0m0s"`},
		{"bad_reconnect.toml", "carrier[0].reconnect_max", "must not be shorter than reconnect_min (10s)"},
		{"bad_carrier_tls_off.toml", "carrier[0].tls_ca_file", "set but tls is false"},
		{"bad_route.toml", "carrier[0].routes[1]", `got "44"`},
		{"bad_no_routes.toml", "carrier[0].routes", "at least one route is required"},
		{"bad_route_accounts.toml", "carrier[0].route_accounts[0]", `no [[account]] has id "9900009"`},
		{"bad_route_from.toml", "carrier[0].route_from[0]", `"+15559999999" is not a number of any application`},
		{"bad_route_classes.toml", "carrier[0].route_classes[1]", `must be one of "p2p", "a2p", "toll-free", "short-code", "alphanumeric"; got "premium"`},
		{"bad_countries.toml", "account[0].countries[1]", `must be a country calling code (1 to 4 digits, not starting with 0, no "+"), got "+44"`},
		{"bad_class_rates.toml", "carrier[0].class_rates.a2p", "must be greater than 0 and at most segments_per_second (100), got 500"},
		{"bad_number_class.toml", "account[0].application[0].number[0].campaign_id", "required for an a2p number"},
		{"bad_emergency_numbers.toml", "policy.emergency_numbers[1]", `must be 2 to 15 digits, got "9-1-1"`},
		{"bad_http_tls_half.toml", "http.tls_key_file", "required when tls_cert_file is set"},
		{"bad_admin_listen.toml", "admin.listen", `must differ from http.listen ("127.0.0.1:8080")`},
		{"bad_log_level.toml", "log.level", `got "verbose"`},
		{"bad_group_limit.toml", "api.group_limit", "must be between 1 and 254, got 255"},
		{"bad_list_rate.toml", "api.list_rate_limit", "must be between 0 and 100000000, got -1"},
		{"bad_list_rate_window.toml", "api.list_rate_window", `must be between 1s and 24h, got "500ms"`},
		{"bad_duplicate_account.toml", "account[1].id", `duplicate account id "9900000"`},
		{"bad_account_id.toml", "account[0].id", "must be 1 to 64 of A-Z"},
		{"bad_password_and_hash.toml", "account[0].credential[0]", "password and password_hash are both set"},
		{"bad_no_password.toml", "account[0].credential[0]", "one of password and password_hash is required"},
		{"bad_hash_format.toml", "account[0].credential[0].password_hash", `must be "pbkdf2-sha256$<iterations>$<base64 salt>$<base64 key>"`},
		{"bad_short_password.toml", "account[0].credential[0].password", "must be at least 8 characters"},
		{"bad_duplicate_username.toml", "account[0].credential[1].username", `duplicate username "api"`},
		{"bad_duplicate_application.toml", "account[1].application[0].id", "(also account[0].application[0])"},
		{"bad_callback_url.toml", "account[0].application[0].callback_url", "must be an http or https URL"},
		{"bad_no_callback_url.toml", "account[0].application[0]", "at least one of callback_url and inbound_callback_url is required"},
		{"bad_callback_credentials.toml", "account[0].application[0].callback_password", "required when callback_username is set"},
		{"bad_number_format.toml", "account[0].application[0].numbers[1]", `got "5550001112"`},
		{"bad_number_two_apps.toml", "account[1].application[0].numbers[0]", `"+15550001111" already belongs to account[0].application[0].numbers[0]`},
		{"bad_receipt_events.toml", "account[0].application[0].receipt_events[1]", `got "message-read"`},
		{"bad_receipt_map_code.toml", "carrier[0].receipt_map[0].code", "4999 is not a V2 error code"},
		{"bad_receipt_map_no_stat.toml", "carrier[0].receipt_map[0]", "one of stat and message_state is required"},
		{"bad_receipt_map_stat_and_state.toml", "carrier[0].receipt_map[0]", "stat and message_state are both set"},
		{"bad_receipt_map_state.toml", "carrier[0].receipt_map[0].message_state", "must be between 1 and 8, got 9"},
		{"bad_receipt_map_err_and_net.toml", "carrier[0].receipt_map[0]", "err and network_error_code are both set"},
		{"bad_receipt_map_outcome.toml", "carrier[0].receipt_map[0].outcome", `got "done"`},
		{"bad_receipt_map_no_code.toml", "carrier[0].receipt_map[0].code", "required: the V2 error code"},
		{"bad_receipt_map_code_delivered.toml", "carrier[0].receipt_map[0].code", `only a failed outcome takes a code (outcome is "delivered")`},
		{"bad_receipt_map_duplicate.toml", "carrier[0].receipt_map[1]", "matches the same receipts as carrier[0].receipt_map[0]"},
		{"bad_receipt_map_stat.toml", "carrier[0].receipt_map[0].stat", `got "NOT DELIVERED"`},
		{"bad_mo_concat_timeout.toml", "carrier[0].mo_concat_timeout", `must be a positive duration, got "0s"`},
	}
	files, err := filepath.Glob("testdata/bad_*.toml")
	if err != nil {
		t.Fatal(err)
	}
	covered := map[string]bool{"bad_syntax.toml": true} // TestSyntaxError
	for _, c := range cases {
		covered[c.file] = true
		t.Run(strings.TrimSuffix(c.file, ".toml"), func(t *testing.T) {
			cfg, err := parseFile(t, c.file)
			if cfg != nil {
				t.Error("Parse returned a config with its error")
			}
			errs := errorsOf(t, err)
			// One failure per fixture: anything else means the
			// fixture is broken in more ways than its name says.
			if len(errs) != 1 {
				t.Fatalf("got %d errors, want 1:\n%v", len(errs), err)
			}
			if errs[0].Key != c.key || !strings.Contains(errs[0].Msg, c.msg) {
				t.Errorf("got key %q msg %q\nwant key %q msg containing %q", errs[0].Key, errs[0].Msg, c.key, c.msg)
			}
			if want := c.key + ": "; !strings.HasPrefix(err.Error(), want) {
				t.Errorf("error %q does not start with %q", err, want)
			}
		})
	}
	for _, f := range files {
		if !covered[filepath.Base(f)] {
			t.Errorf("%s has no test case", f)
		}
	}
}

func TestSyntaxError(t *testing.T) {
	_, err := parseFile(t, "bad_syntax.toml")
	errs := errorsOf(t, err)
	if len(errs) != 1 {
		t.Fatalf("got %d errors, want 1: %v", len(errs), err)
	}
	// Line 11 is `system_id = "bridge" "x"`; the stray string starts at
	// column 22.
	if e := errs[0]; e.Line != 11 || e.Column != 22 || e.Key != "" {
		t.Errorf("got line %d column %d key %q, want 11:22 and no key: %v", e.Line, e.Column, e.Key, e)
	}
	if !strings.HasPrefix(err.Error(), "line 11, column 22: ") {
		t.Errorf("Parse error %q lacks its position", err)
	}

	_, err = Load("testdata/bad_syntax.toml")
	if want := "testdata/bad_syntax.toml:11:22: "; err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("Load error %q does not start with %q", err, want)
	}
}

// TestSyntaxColumn covers the error at the very start of a line, where the
// library's own column is off by one.
func TestSyntaxColumn(t *testing.T) {
	cases := []struct {
		in        string
		line, col int
	}{
		{"a = 1\na = 2\n", 2, 1},
		{"[http]\nlisten = 5 5\n", 2, 12},
		{"\n\n  foo = [1,\n 2,,]\n", 4, 4},
		{"x = \"\x00\"", 1, 6},
		{"a = 1\nb = \"\\", 2, 6},              // at the end of input, where the library has no line
		{"\xef\xbb\xbfa = 1\nb = 2 2\n", 2, 7}, // after a byte order mark
		{"\xef\xbb\xbfa = 1 1\n", 1, 7},
		{"\"é\" = 1 1\n", 1, 9}, // columns count characters, not bytes
		{"a = \"é\" x\n", 1, 9},
		{"a = [", 1, 5}, // at the end of a first line
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			errs := errorsOf(t, func() error { _, err := Parse([]byte(c.in)); return err }())
			if len(errs) != 1 || errs[0].Line != c.line || errs[0].Column != c.col {
				t.Errorf("got %v, want one error at %d:%d", errs, c.line, c.col)
			}
		})
	}
}

func TestThreeErrors(t *testing.T) {
	_, err := Load("testdata/three_errors.toml")
	errs := errorsOf(t, err)
	var got []string
	for _, e := range errs {
		if e.File != "testdata/three_errors.toml" {
			t.Errorf("error %q does not name the file", e)
		}
		got = append(got, e.Key)
	}
	slices.Sort(got)
	want := []string{"account[0].application[0].colour", "admin.password_hash", "carrier[0].window"}
	if !slices.Equal(got, want) {
		t.Errorf("error keys = %q, want %q; errors:\n%v", got, want, err)
	}
	if n := strings.Count(err.Error(), "\n") + 1; n != 3 {
		t.Errorf("error text has %d lines, want one per error:\n%v", n, err)
	}
}

// TestErrorsTogether shows type errors from several tables in one report,
// and unknown keys alongside validation errors.
func TestErrorsTogether(t *testing.T) {
	in := `
[http]
max_body_bytes = "1MB"
[[carrier]]
name = 7
[[carrier]]
routes = "+1"
typo = 1
class_rates = { a2p = "fast", p2p = 2 }
[[carrier]]
class_rates = 3
`
	_, err := Parse([]byte(in))
	var got []string
	for _, e := range errorsOf(t, err) {
		got = append(got, e.Key+": "+e.Msg)
	}
	want := []string{
		"http.max_body_bytes: must be an integer, not a string",
		"carrier[0].name: must be a string, not an integer",
		"carrier[1].routes: must be a list of strings, not a string",
		"carrier[1].typo: unknown key",
		"carrier[1].class_rates.a2p: must be a number, not a string",
		"carrier[2].class_rates: must be a table, not an integer",
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestLoadResolvesPaths(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "etc")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	example, err := os.ReadFile("testdata/example.toml")
	if err != nil {
		t.Fatal(err)
	}
	abs := filepath.Join(t.TempDir(), "ca.pem")
	edit := strings.NewReplacer(
		`path = "smppbridge.db"`, `path = "data/bridge.db"`,
		`listen = "127.0.0.1:8080"`, "listen = \"127.0.0.1:8080\"\ntls_cert_file = \"tls/api.crt\"\ntls_key_file = \"../keys/api.key\"",
		"routes = ", "tls = true\ntls_ca_file = \""+filepath.ToSlash(abs)+"\"\ntls_cert_file = \"c.crt\"\ntls_key_file = \"c.key\"\nroutes = ",
	)
	cases := []struct {
		name, text string
		paths      []string
	}{
		{"written", edit.Replace(string(example)), []string{
			filepath.Join(dir, "data/bridge.db"),
			filepath.Join(dir, "tls/api.crt"), filepath.Join(dir, "../keys/api.key"),
			abs, filepath.Join(dir, "c.crt"), filepath.Join(dir, "c.key"),
		}},
		{"default store path", strings.Replace(string(example), "[store]\npath = \"smppbridge.db\"\n", "", 1), []string{
			filepath.Join(dir, "smppbridge.db"), "", "", "", "", "",
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			file := filepath.Join(dir, "smppbridge.toml")
			if err := os.WriteFile(file, []byte(c.text), 0o600); err != nil {
				t.Fatal(err)
			}
			cfg, err := Load(file)
			if err != nil {
				t.Fatal(err)
			}
			cr := cfg.Carriers[0]
			got := []string{cfg.Store.Path, cfg.HTTP.TLSCertFile, cfg.HTTP.TLSKeyFile, cr.TLSCAFile, cr.TLSCertFile, cr.TLSKeyFile}
			if !slices.Equal(got, c.paths) {
				t.Errorf("paths = %q\nwant    %q", got, c.paths)
			}
			parsed, err := Parse([]byte(c.text))
			if err != nil {
				t.Fatal(err)
			}
			if parsed.Store.Path == cfg.Store.Path {
				t.Errorf("Parse resolved store.path to %q; it should leave it as written", parsed.Store.Path)
			}
		})
	}

	if _, err := Load(filepath.Join(dir, "missing.toml")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load of a missing file: %v, want ErrNotExist", err)
	}
}

func TestApplyDefaults(t *testing.T) {
	var c Config
	c.ApplyDefaults()
	if want := wantDefaults(); !reflect.DeepEqual(&c, want) {
		t.Errorf("ApplyDefaults on zero Config = %+v\nwant %+v", c, want)
	}
	if d := Defaults(); !reflect.DeepEqual(d, wantDefaults()) {
		t.Errorf("Defaults() = %+v\nwant %+v", d, wantDefaults())
	}

	c = Config{
		HTTP:     HTTP{Listen: "127.0.0.1:0", MaxBodyBytes: 1 << 20},
		Carriers: []Carrier{{Name: "a", Window: 7}, {Name: "b"}},
		Accounts: []Account{{ID: "1", Applications: []Application{{ID: "x"}, {ID: "y", ReceiptEvents: []string{}}}}},
	}
	c.ApplyDefaults()
	if c.HTTP.Listen != "127.0.0.1:0" || c.HTTP.MaxBodyBytes != 1<<20 || c.HTTP.MaxHeaderBytes != 8192 {
		t.Errorf("http = %+v: set values must stay, zero ones take defaults", c.HTTP)
	}
	a := wantCarrierDefaults()
	a.Name, a.Window = "a", 7
	b := wantCarrierDefaults()
	b.Name = "b"
	if !reflect.DeepEqual(c.Carriers, []Carrier{a, b}) {
		t.Errorf("carriers = %+v", c.Carriers)
	}
	apps := c.Accounts[0].Applications
	if !slices.Equal(apps[0].ReceiptEvents, []string{EventDelivered, EventFailed}) || len(apps[1].ReceiptEvents) != 0 {
		t.Errorf("receipt_events = %q, %q: a nil list takes the default, an empty one stays", apps[0].ReceiptEvents, apps[1].ReceiptEvents)
	}
	// Each application owns its default list.
	apps[0].ReceiptEvents[0] = "changed"
	if defaultApplication().ReceiptEvents[0] != EventDelivered {
		t.Error("default receipt_events list is shared")
	}
}

// TestDefaultsAreFresh checks that parsed applications do not share the
// default receipt_events backing array.
func TestDefaultsAreFresh(t *testing.T) {
	in := string(mustRead(t, "testdata/example.toml")) + `
  [[account.application]]
  id = "second"
  callback_url = "http://127.0.0.1:9000/b"
`
	c, err := Parse([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	apps := c.Accounts[0].Applications
	apps[0].ReceiptEvents[0] = "changed"
	if apps[1].ReceiptEvents[0] != EventDelivered {
		t.Error("applications share one receipt_events list")
	}
}

func mustRead(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestValidateInCode(t *testing.T) {
	c := Defaults()
	errs := errorsOf(t, c.Validate())
	var keys []string
	for _, e := range errs {
		keys = append(keys, e.Key)
	}
	if !slices.Equal(keys, []string{"account", "carrier"}) {
		t.Errorf("Defaults().Validate() keys = %q, want only the missing account and carrier", keys)
	}

	// Test setups listen on port 0 for both; that is no collision.
	c, err := Parse(mustRead(t, "testdata/example.toml"))
	if err != nil {
		t.Fatal(err)
	}
	c.HTTP.Listen, c.Admin.Listen = "127.0.0.1:0", "127.0.0.1:0"
	if err := c.Validate(); err != nil {
		t.Errorf("two port-0 listeners: %v", err)
	}
	c.HTTP.Listen, c.Admin.Listen = ":8080", "127.0.0.1:8080"
	if errs := errorsOf(t, c.Validate()); len(errs) != 1 || errs[0].Key != "admin.listen" {
		t.Errorf("all interfaces and loopback on one port: %v", errs)
	}
}

func TestValidateValues(t *testing.T) {
	// Values at and just past their limits, set in code on a valid config.
	cases := []struct {
		name string
		set  func(*Config)
		key  string // "" for valid
	}{
		{"e164 8 digits", func(c *Config) { c.Accounts[0].Applications[0].Numbers = []string{"+12345678"} }, ""},
		{"e164 15 digits", func(c *Config) { c.Accounts[0].Applications[0].Numbers = []string{"+123456789012345"} }, ""},
		{"e164 7 digits", func(c *Config) { c.Accounts[0].Applications[0].Numbers = []string{"+1234567"} }, "account[0].application[0].numbers[0]"},
		{"e164 16 digits", func(c *Config) { c.Accounts[0].Applications[0].Numbers = []string{"+1234567890123456"} }, "account[0].application[0].numbers[0]"},
		{"e164 leading 0", func(c *Config) { c.Accounts[0].Applications[0].Numbers = []string{"+0234567890"} }, "account[0].application[0].numbers[0]"},
		{"short code 3", func(c *Config) { c.Accounts[0].Applications[0].Numbers = []string{"911"} }, ""},
		{"short code 9", func(c *Config) { c.Accounts[0].Applications[0].Numbers = []string{"123456789"} }, "account[0].application[0].numbers[0]"},
		{"number twice in one app", func(c *Config) { c.Accounts[0].Applications[0].Numbers = []string{"12345", "12345"} }, "account[0].application[0].numbers[1]"},
		{"route +", func(c *Config) { c.Carriers[0].Routes = []string{"+"} }, ""},
		{"route twice", func(c *Config) { c.Carriers[0].Routes = []string{"+1", "+1"} }, "carrier[0].routes[1]"},
		{"route 16 digits", func(c *Config) { c.Carriers[0].Routes = []string{"+1234567890123456"} }, "carrier[0].routes[0]"},
		{"routes empty with route_accounts", func(c *Config) { c.Carriers[0].Routes, c.Carriers[0].RouteAccounts = nil, []string{"9900000"} }, ""},
		{"routes empty with route_from", func(c *Config) { c.Carriers[0].Routes, c.Carriers[0].RouteFrom = nil, []string{"+15550001111"} }, ""},
		{"window 10000", func(c *Config) { c.Carriers[0].Window = 10000 }, ""},
		{"window 10001", func(c *Config) { c.Carriers[0].Window = 10001 }, "carrier[0].window"},
		{"binds 65", func(c *Config) { c.Carriers[0].Binds = 65 }, "carrier[0].binds"},
		{"queue_seconds 14401", func(c *Config) { c.Carriers[0].QueueSeconds = 14401 }, "carrier[0].queue_seconds"},
		{"segments_per_second negative", func(c *Config) { c.Carriers[0].SegmentsPerSecond = -1 }, "carrier[0].segments_per_second"},
		{"segments_per_second fraction", func(c *Config) { c.Carriers[0].SegmentsPerSecond = 0.2 }, ""},
		{"password 9", func(c *Config) { c.Carriers[0].Password = "123456789" }, "carrier[0].password"},
		{"system_type 13", func(c *Config) { c.Carriers[0].SystemType = "1234567890123" }, "carrier[0].system_type"},
		{"system_id not ASCII", func(c *Config) { c.Carriers[0].SystemID = "brïdge" }, "carrier[0].system_id"},
		{"ton 6", func(c *Config) { c.Carriers[0].ShortCodeTON = 6 }, ""},
		{"ton 7", func(c *Config) { c.Carriers[0].ShortCodeTON = 7 }, "carrier[0].short_code_ton"},
		{"npi 2", func(c *Config) { c.Carriers[0].ShortCodeNPI = 2 }, "carrier[0].short_code_npi"},
		{"carrier tls pair", func(c *Config) { c.Carriers[0].TLS, c.Carriers[0].TLSKeyFile = true, "k" }, "carrier[0].tls_cert_file"},
		{"admin auth pair", func(c *Config) { c.Admin.PasswordHash = fastHash }, "admin.username"},
		{"admin auth", func(c *Config) { c.Admin.Username, c.Admin.PasswordHash = "ops", fastHash }, ""},
		{"admin bad hash", func(c *Config) {
			c.Admin.Username, c.Admin.PasswordHash = "ops", "pbkdf2-sha256$1$AAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA"
		}, "admin.password_hash"},
		{"username colon", func(c *Config) { c.Accounts[0].Credentials[0].Username = "a:b" }, "account[0].credential[0].username"},
		{"callback url userinfo", func(c *Config) { c.Accounts[0].Applications[0].CallbackURL = "https://u:p@example.com/" }, "account[0].application[0].callback_url"},
		{"callback url relative", func(c *Config) { c.Accounts[0].Applications[0].InboundCallbackURL = "/inbound" }, "account[0].application[0].inbound_callback_url"},
		{"callback url https", func(c *Config) { c.Accounts[0].Applications[0].CallbackURL = "https://example.com:8443/cb?x=1" }, ""},
		{"receipt_events empty", func(c *Config) { c.Accounts[0].Applications[0].ReceiptEvents = []string{} }, ""},
		{"receipt_events twice", func(c *Config) {
			c.Accounts[0].Applications[0].ReceiptEvents = []string{EventFailed, EventFailed}
		}, "account[0].application[0].receipt_events[1]"},
		{"retry_for below timeout", func(c *Config) { c.Callbacks.RetryFor = sec(5); c.Callbacks.Timeout = sec(6) }, "callbacks.retry_for"},
		{"max_body_bytes small", func(c *Config) { c.HTTP.MaxBodyBytes = 100 }, "http.max_body_bytes"},
		{"listen without port", func(c *Config) { c.HTTP.Listen = "127.0.0.1" }, "http.listen"},
		{"listen all interfaces", func(c *Config) { c.HTTP.Listen = ":8080" }, ""},
		{"store path empty", func(c *Config) { c.Store.Path = "" }, "store.path"},
		{"log format", func(c *Config) { c.Log.Format = "logfmt" }, "log.format"},
		{"max_text_length 0", func(c *Config) { c.API.MaxTextLength = 0 }, "api.max_text_length"},
		{"no credential", func(c *Config) { c.Accounts[0].Credentials = nil }, "account[0].credential"},
		{"no application", func(c *Config) { c.Accounts[0].Applications = nil }, "account[0].application"},
		{"application id missing", func(c *Config) { c.Accounts[0].Applications[0].ID = "" }, "account[0].application[0].id"},
	}
	base := mustRead(t, "testdata/example.toml")
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := Parse(base)
			if err != nil {
				t.Fatal(err)
			}
			c.set(cfg)
			errs := errorsOf(t, cfg.Validate())
			switch {
			case c.key == "" && len(errs) > 0:
				t.Errorf("unexpected errors: %v", errs)
			case c.key != "" && (len(errs) != 1 || errs[0].Key != c.key):
				t.Errorf("got %v, want one error for %s", errs, c.key)
			}
		})
	}
}

func TestDuration(t *testing.T) {
	var d Duration
	if err := d.UnmarshalText([]byte("1m30s")); err != nil || d.Std() != 90*time.Second {
		t.Errorf("UnmarshalText(1m30s) = %v, %v", d, err)
	}
	if b, _ := d.MarshalText(); string(b) != "1m30s" {
		t.Errorf("MarshalText = %q", b)
	}
	if err := d.UnmarshalText([]byte("90")); err == nil {
		t.Error("a number without a unit was accepted")
	}
	_, err := Parse([]byte("[http]\nread_timeout = 10\n"))
	errs := errorsOf(t, err)
	if len(errs) == 0 || errs[0].Key != "http.read_timeout" || !strings.Contains(errs[0].Msg, `a duration string such as "30s"`) {
		t.Errorf("an integer duration: %v", errs)
	}
}

func TestErrorFormat(t *testing.T) {
	cases := []struct {
		e    Error
		want string
	}{
		{Error{Key: "carrier[0].window", Msg: "m"}, "carrier[0].window: m"},
		{Error{File: "f.toml", Key: "k", Msg: "m"}, "f.toml: k: m"},
		{Error{File: "f.toml", Line: 3, Column: 7, Msg: "m"}, "f.toml:3:7: m"},
		{Error{Line: 3, Column: 7, Msg: "m"}, "line 3, column 7: m"},
	}
	for _, c := range cases {
		if got := c.e.Error(); got != c.want {
			t.Errorf("got %q, want %q", got, c.want)
		}
	}
}

func TestQuotedKeys(t *testing.T) {
	_, err := Parse([]byte("[http]\n\"odd key\" = 1\n"))
	if errs := errorsOf(t, err); len(errs) == 0 || errs[0].Key != `http."odd key"` {
		t.Errorf("got %v, want the key quoted as TOML writes it", errs)
	}
}

// TestCallbackURLErrorsDoNotQuoteCredentials: a callback URL with user
// info is refused without quoting it, whatever else is wrong with it:
// validation errors go to stderr and the journal.
func TestCallbackURLErrorsDoNotQuoteCredentials(t *testing.T) {
	for _, u := range []string{
		"https://cb:hunter2-secret@example.com/cb", // only the credentials are wrong
		"htps://cb:hunter2-secret@example.com/cb",  // and a mistyped scheme
		"https://cb:hunter2-secret@/cb",            // and no host
		"https://cb:hunter2-secret@example.com:x/", // and a bad port
	} {
		c, err := Parse(mustRead(t, "testdata/example.toml"))
		if err != nil {
			t.Fatal(err)
		}
		c.Accounts[0].Applications[0].CallbackURL = u
		err = c.Validate()
		if err == nil {
			t.Errorf("%s: accepted", u)
			continue
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("%s: the error quotes the password: %v", u, err)
		}
	}
}

// TestSyntaxErrorsDoNotQuotePasswords: the TOML library's messages quote
// the text it stopped at, which on a password line is the password (one
// written without quotes, or with a backslash the library reads as a bad
// escape). Those errors go to stderr and the journal: the position stays,
// the value does not.
func TestSyntaxErrorsDoNotQuotePasswords(t *testing.T) {
	for _, in := range []string{
		"[[carrier]]\npassword = huntersecret\n",
		"[[carrier]]\n  password=huntersecret # unquoted\n",
		"[[carrier]]\npassword = \"huntersecret\\xZZ\"\n",
		"[[account]]\n[[account.credential]]\npassword = \"huntersecret\\u12ZZ\"\n",
		"[[account]]\n[[account.application]]\ncallback_password = huntersecret\n",
		"[admin]\n\"password_hash\" = huntersecret\n",
	} {
		_, err := Parse([]byte(in))
		errs := errorsOf(t, err)
		if len(errs) != 1 || errs[0].Line == 0 {
			t.Errorf("%q: want one error with its position, got %v", in, err)
			continue
		}
		if strings.Contains(err.Error(), "hunter") {
			t.Errorf("%q: the error quotes the password: %v", in, err)
		}
	}
	// Other keys keep the library's help.
	if _, err := Parse([]byte("[http]\nlisten = localhost\n")); err == nil || !strings.Contains(err.Error(), `"localhost"`) {
		t.Errorf("an unquoted listen address: %v", err)
	}
}
