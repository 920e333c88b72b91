package conf

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Validate checks the whole configuration and returns every problem found,
// joined, each an [*Error] with its key path. It does not apply defaults and
// does not touch the file system (missing TLS files are found when they are
// opened).
func (c *Config) Validate() error {
	return errors.Join(c.validate()...)
}

// maxCommitDelay bounds store.commit_delay: every write of a busy store
// may wait this long, on top of its commit.
const maxCommitDelay = Duration(10 * time.Millisecond)

// checker collects errors.
type checker struct{ errs []error }

func (ck *checker) add(key, format string, args ...any) {
	ck.errs = append(ck.errs, &Error{Key: key, Msg: fmt.Sprintf(format, args...)})
}

func (ck *checker) intRange(key string, v, lo, hi int) {
	if v < lo || v > hi {
		ck.add(key, "must be between %d and %d, got %d", lo, hi, v)
	}
}

func (ck *checker) positive(key string, d Duration) {
	if d <= 0 {
		ck.add(key, "must be a positive duration, got %q", d.String())
	}
}

func (ck *checker) oneOf(key, v string, allowed ...string) {
	if !slices.Contains(allowed, v) {
		ck.add(key, "must be one of %s; got %q", quoteList(allowed), v)
	}
}

// pair reports a value that needs a partner that is missing.
func (ck *checker) pair(keyA, a, keyB, b string) {
	switch {
	case a != "" && b == "":
		ck.add(keyB, "required when %s is set", lastKey(keyA))
	case a == "" && b != "":
		ck.add(keyA, "required when %s is set", lastKey(keyB))
	}
}

// smppString checks a C-octet string field: printable ASCII, at most max
// octets (the SMPP field size less its NUL).
func (ck *checker) smppString(key, v string, max int) {
	if len(v) > max {
		ck.add(key, "must be at most %d characters, got %d", max, len(v))
	}
	for _, r := range v {
		if r < 0x20 || r > 0x7e {
			ck.add(key, "must be printable ASCII")
			return
		}
	}
}

func quoteList(l []string) string {
	q := make([]string, len(l))
	for i, s := range l {
		q[i] = strconv.Quote(s)
	}
	return strings.Join(q, ", ")
}

func lastKey(path string) string {
	if i := strings.LastIndexByte(path, '.'); i >= 0 {
		return path[i+1:]
	}
	return path
}

func idx(key string, i int) string { return fmt.Sprintf("%s[%d]", key, i) }

var (
	carrierNameRE = regexp.MustCompile(`^[a-z0-9_-]{1,64}$`)
	idRE          = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
	e164RE        = regexp.MustCompile(`^\+[1-9][0-9]{7,14}$`)
	shortCodeRE   = regexp.MustCompile(`^[0-9]{3,8}$`)
	alphaRE       = regexp.MustCompile(`^[A-Za-z0-9 +_&-]{1,11}$`)
	letterRE      = regexp.MustCompile(`[A-Za-z]`)
	routeRE       = regexp.MustCompile(`^\+([1-9][0-9]{0,14})?$`)
	digitsRE      = regexp.MustCompile(`^[0-9]{2,15}$`)
	countryRE     = regexp.MustCompile(`^[1-9][0-9]{0,3}$`)
)

// isNumber reports whether n is a number an application can own: E.164
// ("+" and 8 to 15 digits), a short code (3 to 8 digits) or an
// alphanumeric sender id.
func isNumber(n string) bool {
	return e164RE.MatchString(n) || shortCodeRE.MatchString(n) || (alphaRE.MatchString(n) && letterRE.MatchString(n))
}

const numberFormat = `an E.164 number ("+" and 8 to 15 digits), a short code (3 to 8 digits) or an alphanumeric sender (up to 11 letters, digits, spaces and + _ & -, at least one letter)`

func (c *Config) validate() []error {
	ck := &checker{}
	c.validateHTTP(ck)
	c.validateAdmin(ck)

	if c.Store.Path == "" {
		ck.add("store.path", "required")
	}
	ck.positive("store.record_retention", c.Store.RecordRetention)
	if d := c.Store.CommitDelay; d < 0 || d > maxCommitDelay {
		ck.add("store.commit_delay", "must be between 0s and %s, got %q", maxCommitDelay.String(), d.String())
	}
	ck.oneOf("log.format", c.Log.Format, "text", "json")
	ck.oneOf("log.level", c.Log.Level, "debug", "info", "warn", "error")

	// 254: the most destinations one SMPP submit_multi may carry.
	ck.intRange("api.group_limit", c.API.GroupLimit, 1, 254)
	// 65535: the longest message_payload; no SMPP mode carries more.
	ck.intRange("api.max_text_length", c.API.MaxTextLength, 1, 65535)
	ck.positive("api.shutdown_timeout", c.API.ShutdownTimeout)
	// The limiter counts in uint32 and keeps 21 counters per IP, so a
	// window below a second or above a day would be meaningless.
	ck.intRange("api.list_rate_limit", c.API.ListRateLimit, 0, 100_000_000)
	if d := c.API.ListRateWindow; d < Duration(time.Second) || d > Duration(24*time.Hour) {
		ck.add("api.list_rate_window", "must be between 1s and 24h, got %q", d.String())
	}

	ck.positive("callbacks.timeout", c.Callbacks.Timeout)
	ck.positive("callbacks.retry_for", c.Callbacks.RetryFor)
	ck.positive("callbacks.dead_letter_retention", c.Callbacks.DeadLetterRetention)
	if c.Callbacks.Timeout > 0 && c.Callbacks.RetryFor > 0 && c.Callbacks.RetryFor < c.Callbacks.Timeout {
		ck.add("callbacks.retry_for", "must not be shorter than callbacks.timeout (%s)", c.Callbacks.Timeout)
	}
	ck.intRange("callbacks.max_batch", c.Callbacks.MaxBatch, 1, 1000)
	ck.intRange("callbacks.concurrency_per_endpoint", c.Callbacks.ConcurrencyPerEndpoint, 1, 1024)

	for i, n := range c.Policy.EmergencyNumbers {
		if !digitsRE.MatchString(n) {
			ck.add(idx("policy.emergency_numbers", i), "must be 2 to 15 digits, got %q", n)
		}
	}

	// Accounts first: carriers refer to account ids and numbers.
	accounts, numbers := c.validateAccounts(ck)
	c.validateCarriers(ck, accounts, numbers)
	return ck.errs
}

func (c *Config) validateHTTP(ck *checker) {
	checkListen(ck, "http.listen", c.HTTP.Listen)
	ck.intRange("http.max_body_bytes", c.HTTP.MaxBodyBytes, 1<<10, 64<<20)
	ck.intRange("http.max_header_bytes", c.HTTP.MaxHeaderBytes, 1<<10, 1<<20)
	ck.positive("http.read_timeout", c.HTTP.ReadTimeout)
	ck.positive("http.write_timeout", c.HTTP.WriteTimeout)
	ck.positive("http.idle_timeout", c.HTTP.IdleTimeout)
	ck.pair("http.tls_cert_file", c.HTTP.TLSCertFile, "http.tls_key_file", c.HTTP.TLSKeyFile)
}

func (c *Config) validateAdmin(ck *checker) {
	checkListen(ck, "admin.listen", c.Admin.Listen)
	if sameListener(c.HTTP.Listen, c.Admin.Listen) {
		ck.add("admin.listen", "must differ from http.listen (%q)", c.HTTP.Listen)
	}
	ck.pair("admin.username", c.Admin.Username, "admin.password_hash", c.Admin.PasswordHash)
	checkUsername(ck, "admin.username", c.Admin.Username)
	if c.Admin.PasswordHash != "" {
		if _, err := parseHash(c.Admin.PasswordHash); err != nil {
			ck.add("admin.password_hash", "%v", err)
		}
	}
}

// checkListen checks a listen address: host:port with an optional host (all
// interfaces) and a numeric port, 0 meaning any free port.
func checkListen(ck *checker, key, addr string) {
	if addr == "" {
		ck.add(key, "required")
		return
	}
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		ck.add(key, "must be host:port, got %q", addr)
		return
	}
	if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
		ck.add(key, "port must be a number from 0 to 65535, got %q", port)
	}
}

// sameListener reports whether two listen addresses would collide: the same
// fixed port on the same host or on all interfaces.
func sameListener(a, b string) bool {
	ha, pa, err1 := net.SplitHostPort(a)
	hb, pb, err2 := net.SplitHostPort(b)
	if err1 != nil || err2 != nil || pa != pb || pa == "0" {
		return false
	}
	wild := func(h string) bool { return h == "" || h == "0.0.0.0" || h == "::" }
	return ha == hb || wild(ha) || wild(hb)
}

// checkUsername rejects what HTTP Basic cannot carry: a colon ends the
// username, and control characters do not survive headers.
func checkUsername(ck *checker, key, u string) {
	if strings.ContainsRune(u, ':') {
		ck.add(key, "must not contain ':'")
	}
	if strings.ContainsFunc(u, unicode.IsControl) {
		ck.add(key, "must not contain control characters")
	}
}

// validateAccounts returns the account ids and, for each application number,
// the key path of its first owner.
func (c *Config) validateAccounts(ck *checker) (accounts map[string]bool, numbers map[string]string) {
	accounts = make(map[string]bool)
	numbers = make(map[string]string)
	appIDs := make(map[string]string)
	if len(c.Accounts) == 0 {
		ck.add("account", "at least one [[account]] is required")
	}
	for i := range c.Accounts {
		a := &c.Accounts[i]
		key := idx("account", i)
		switch {
		case a.ID == "":
			ck.add(key+".id", "required")
		case !idRE.MatchString(a.ID):
			ck.add(key+".id", "must be 1 to 64 of A-Z, a-z, 0-9, '_' and '-', got %q", a.ID)
		case accounts[a.ID]:
			ck.add(key+".id", "duplicate account id %q", a.ID)
		}
		accounts[a.ID] = true
		for j, cc := range a.Countries {
			if !countryRE.MatchString(cc) {
				ck.add(idx(key+".countries", j), "must be a country calling code (1 to 4 digits, not starting with 0, no \"+\"), got %q", cc)
			}
		}

		if len(a.Credentials) == 0 {
			ck.add(key+".credential", "at least one [[account.credential]] is required")
		}
		users := make(map[string]bool)
		for j := range a.Credentials {
			cr := &a.Credentials[j]
			ckey := idx(key+".credential", j)
			switch {
			case cr.Username == "":
				ck.add(ckey+".username", "required")
			case users[cr.Username]:
				ck.add(ckey+".username", "duplicate username %q in this account", cr.Username)
			default:
				checkUsername(ck, ckey+".username", cr.Username)
			}
			users[cr.Username] = true
			switch {
			case cr.Password != "" && cr.PasswordHash != "":
				ck.add(ckey, "password and password_hash are both set; keep one")
			case cr.Password == "" && cr.PasswordHash == "":
				ck.add(ckey, "one of password and password_hash is required")
			case cr.PasswordHash != "":
				if _, err := parseHash(cr.PasswordHash); err != nil {
					ck.add(ckey+".password_hash", "%v", err)
				}
			case utf8.RuneCountInString(cr.Password) < minPassword:
				ck.add(ckey+".password", "must be at least %d characters", minPassword)
			}
		}

		if len(a.Applications) == 0 {
			ck.add(key+".application", "at least one [[account.application]] is required")
		}
		for j := range a.Applications {
			validateApplication(ck, &a.Applications[j], idx(key+".application", j), appIDs, numbers)
		}
	}
	return accounts, numbers
}

func validateApplication(ck *checker, app *Application, key string, appIDs, numbers map[string]string) {
	switch first, dup := appIDs[app.ID]; {
	case app.ID == "":
		ck.add(key+".id", "required")
	case !idRE.MatchString(app.ID):
		ck.add(key+".id", "must be 1 to 64 of A-Z, a-z, 0-9, '_' and '-', got %q", app.ID)
	case dup:
		ck.add(key+".id", "duplicate application id %q (also %s)", app.ID, first)
	default:
		appIDs[app.ID] = key
	}

	if app.CallbackURL == "" && app.InboundCallbackURL == "" {
		ck.add(key, "at least one of callback_url and inbound_callback_url is required")
	}
	checkCallbackURL(ck, key+".callback_url", app.CallbackURL)
	checkCallbackURL(ck, key+".inbound_callback_url", app.InboundCallbackURL)
	ck.pair(key+".callback_username", app.CallbackUsername, key+".callback_password", app.CallbackPassword)
	checkUsername(ck, key+".callback_username", app.CallbackUsername)

	for k, n := range app.Numbers {
		nkey := idx(key+".numbers", k)
		if !isNumber(n) {
			ck.add(nkey, "must be %s, got %q", numberFormat, n)
			continue
		}
		if first, dup := numbers[n]; dup {
			ck.add(nkey, "%q already belongs to %s", n, first)
			continue
		}
		numbers[n] = nkey
	}

	for k := range app.NumberClasses {
		n := &app.NumberClasses[k]
		nkey := idx(key+".number", k)
		switch first, dup := numbers[n.Number]; {
		case !isNumber(n.Number):
			ck.add(nkey+".number", "must be %s, got %q", numberFormat, n.Number)
		case dup:
			ck.add(nkey+".number", "%q already belongs to %s", n.Number, first)
		default:
			numbers[n.Number] = nkey
		}
		if n.Class != "" {
			ck.oneOf(nkey+".class", n.Class, NumberClasses...)
		}
		switch {
		case n.Class == "a2p" && n.CampaignID == "":
			ck.add(nkey+".campaign_id", "required for an a2p number")
		case n.Class != "a2p" && n.CampaignID != "":
			ck.add(nkey+".campaign_id", "only a2p numbers have a campaign id")
		case len(n.CampaignID) > 64:
			ck.add(nkey+".campaign_id", "must be at most 64 characters")
		}
	}

	seen := make(map[string]bool)
	for k, ev := range app.ReceiptEvents {
		ekey := idx(key+".receipt_events", k)
		ck.oneOf(ekey, ev, EventDelivered, EventFailed, EventSending)
		if seen[ev] {
			ck.add(ekey, "duplicate event %q", ev)
		}
		seen[ev] = true
	}
}

func checkCallbackURL(ck *checker, key, s string) {
	if s == "" {
		return
	}
	u, err := url.Parse(s)
	switch {
	case err != nil:
		ck.add(key, "invalid URL: %v", errors.Unwrap(err))
	case u.User != nil:
		// Credentials in the URL end up in logs. Checked first: the
		// errors below quote the URL.
		ck.add(key, "must not hold credentials; use callback_username and callback_password")
	case u.Scheme != "http" && u.Scheme != "https":
		ck.add(key, "must be an http or https URL, got %q", s)
	case u.Host == "" || u.Hostname() == "":
		ck.add(key, "must be an absolute URL with a host, got %q", s)
	case u.Fragment != "":
		ck.add(key, "must not have a fragment")
	}
}

func (c *Config) validateCarriers(ck *checker, accounts map[string]bool, numbers map[string]string) {
	if len(c.Carriers) == 0 {
		ck.add("carrier", "at least one [[carrier]] is required")
	}
	names := make(map[string]string)
	for i := range c.Carriers {
		cr := &c.Carriers[i]
		key := idx("carrier", i)
		switch first, dup := names[cr.Name]; {
		case cr.Name == "":
			ck.add(key+".name", "required")
		case !carrierNameRE.MatchString(cr.Name):
			ck.add(key+".name", "must be 1 to 64 of a-z, 0-9, '_' and '-', got %q", cr.Name)
		case dup:
			ck.add(key+".name", "duplicate carrier name %q (also %s)", cr.Name, first)
		default:
			names[cr.Name] = key
		}
		validateCarrier(ck, cr, key, accounts, numbers)
	}
}

func validateCarrier(ck *checker, cr *Carrier, key string, accounts map[string]bool, numbers map[string]string) {
	if cr.Address == "" {
		ck.add(key+".address", "required")
	} else if host, port, err := net.SplitHostPort(cr.Address); err != nil || host == "" {
		ck.add(key+".address", "must be host:port, got %q", cr.Address)
	} else if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
		ck.add(key+".address", "port must be a number from 1 to 65535, got %q", port)
	}

	if !cr.TLS {
		// Set without tls = true they would silently do nothing.
		for _, f := range []struct{ k, v string }{
			{"tls_server_name", cr.TLSServerName}, {"tls_ca_file", cr.TLSCAFile},
			{"tls_cert_file", cr.TLSCertFile}, {"tls_key_file", cr.TLSKeyFile},
		} {
			if f.v != "" {
				ck.add(key+"."+f.k, "set but tls is false")
			}
		}
	}
	ck.pair(key+".tls_cert_file", cr.TLSCertFile, key+".tls_key_file", cr.TLSKeyFile)

	if cr.SystemID == "" {
		ck.add(key+".system_id", "required")
	}
	ck.smppString(key+".system_id", cr.SystemID, 15)
	ck.smppString(key+".password", cr.Password, 8)
	ck.smppString(key+".system_type", cr.SystemType, 12)
	ck.oneOf(key+".bind_type", string(cr.BindType),
		string(BindTransceiver), string(BindTransmitterReceiver), string(BindTransmitter))
	ck.intRange(key+".binds", cr.Binds, 1, 64)
	ck.intRange(key+".window", cr.Window, 1, 10000)

	if sps := cr.SegmentsPerSecond; !(sps > 0) || math.IsInf(sps, 0) || sps > 100000 {
		if sps == 0 {
			ck.add(key+".segments_per_second", "required: the carrier's rate limit, greater than 0")
		} else {
			ck.add(key+".segments_per_second", "must be greater than 0 and at most 100000, got %v", sps)
		}
	}
	ck.intRange(key+".burst", cr.Burst, 0, 1000000)
	ck.intRange(key+".queue_seconds", cr.QueueSeconds, 1, 14400)
	ck.intRange(key+".queue_capacity", cr.QueueCapacity, 0, 10000000)

	ck.oneOf(key+".data_coding", string(cr.DataCoding),
		string(DataCodingGSM7), string(DataCodingLatin1), string(DataCodingIA5))
	ck.oneOf(key+".long_message", string(cr.LongMessage),
		string(LongUDH8), string(LongUDH16), string(LongSAR), string(LongPayload))

	if len(cr.Routes) == 0 && len(cr.RouteAccounts) == 0 && len(cr.RouteFrom) == 0 {
		ck.add(key+".routes", `at least one route is required ("+" matches every destination), unless route_accounts or route_from is set`)
	}
	seen := make(map[string]bool)
	for j, r := range cr.Routes {
		rkey := idx(key+".routes", j)
		switch {
		case !routeRE.MatchString(r):
			ck.add(rkey, `must be "+" followed by up to 15 digits, not starting with 0, got %q`, r)
		case seen[r]:
			ck.add(rkey, "duplicate route %q", r)
		}
		seen[r] = true
	}
	clear(seen)
	for j, a := range cr.RouteAccounts {
		rkey := idx(key+".route_accounts", j)
		switch {
		case !accounts[a]:
			ck.add(rkey, "no [[account]] has id %q", a)
		case seen[a]:
			ck.add(rkey, "duplicate account %q", a)
		}
		seen[a] = true
	}
	clear(seen)
	for j, n := range cr.RouteFrom {
		rkey := idx(key+".route_from", j)
		switch {
		case !isNumber(n):
			ck.add(rkey, "must be %s, got %q", numberFormat, n)
		case numbers[n] == "":
			ck.add(rkey, "%q is not a number of any application", n)
		case seen[n]:
			ck.add(rkey, "duplicate number %q", n)
		}
		seen[n] = true
	}

	for j, cl := range cr.RouteClasses {
		ck.oneOf(idx(key+".route_classes", j), cl, NumberClasses...)
	}
	for _, cl := range slices.Sorted(maps.Keys(cr.ClassRates)) {
		rkey := key + ".class_rates." + cl
		ck.oneOf(rkey, cl, NumberClasses...)
		if r := cr.ClassRates[cl]; !(r > 0) || r > cr.SegmentsPerSecond {
			ck.add(rkey, "must be greater than 0 and at most segments_per_second (%v), got %v", cr.SegmentsPerSecond, r)
		}
	}

	ck.positive(key+".receipt_wait", cr.ReceiptWait)
	ck.oneOf(key+".media", string(cr.Media), string(MediaReject), string(MediaLinks))
	ck.oneOf(key+".receipts_per_segment", string(cr.ReceiptsPerSegment),
		string(ReceiptsAll), string(ReceiptsFirst), string(ReceiptsLast))
	ck.oneOf(key+".receipt_id_format", string(cr.ReceiptIDFormat),
		string(ReceiptIDAuto), string(ReceiptIDHex), string(ReceiptIDDecimal))

	for j := range cr.ReceiptMap {
		validateReceiptMap(ck, &cr.ReceiptMap[j], idx(key+".receipt_map", j), cr.ReceiptMap[:j])
	}
	ck.positive(key+".mo_concat_timeout", cr.MOConcatTimeout)
	if cr.MOConcatTimeout > Duration(24*time.Hour) {
		ck.add(key+".mo_concat_timeout", "must be at most 24h, got %q", cr.MOConcatTimeout.String())
	}

	ck.positive(key+".enquire_link_interval", cr.EnquireLinkInterval)
	ck.positive(key+".response_timeout", cr.ResponseTimeout)
	if cr.WindowStuckAfter != 0 && cr.WindowStuckAfter < cr.ResponseTimeout {
		ck.add(key+".window_stuck_after", "must be 0 (five response timeouts) or at least response_timeout (%s), got %q", cr.ResponseTimeout, cr.WindowStuckAfter.String())
	}
	ck.positive(key+".reconnect_min", cr.ReconnectMin)
	ck.positive(key+".reconnect_max", cr.ReconnectMax)
	if cr.ReconnectMin > 0 && cr.ReconnectMax > 0 && cr.ReconnectMin > cr.ReconnectMax {
		ck.add(key+".reconnect_max", "must not be shorter than reconnect_min (%s)", cr.ReconnectMin)
	}
	ck.positive(key+".throttle_pause", cr.ThrottlePause)

	// SMPP 3.4 §5.2.5 and §5.2.6 define these values; others are reserved.
	ck.intRange(key+".short_code_ton", cr.ShortCodeTON, 0, 6)
	if !slices.Contains([]int{0, 1, 3, 4, 6, 8, 9, 10, 14, 18}, cr.ShortCodeNPI) {
		ck.add(key+".short_code_npi", "must be an SMPP NPI value (0, 1, 3, 4, 6, 8, 9, 10, 14 or 18), got %d", cr.ShortCodeNPI)
	}
}

var receiptStatRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,20}$`)

// validateReceiptMap checks one [[carrier.receipt_map]] entry; earlier are
// the carrier's entries before it, for duplicates.
func validateReceiptMap(ck *checker, e *ReceiptMapEntry, key string, earlier []ReceiptMapEntry) {
	switch {
	case e.Stat == "" && e.MessageState == 0:
		ck.add(key, "one of stat and message_state is required")
	case e.Stat != "" && e.MessageState != 0:
		ck.add(key, "stat and message_state are both set; use one")
	case e.Stat != "" && !receiptStatRE.MatchString(e.Stat):
		ck.add(key+".stat", "must be 1 to 20 of A-Z, a-z, 0-9, '_' and '-', got %q", e.Stat)
	case e.Stat == "":
		ck.intRange(key+".message_state", e.MessageState, 1, 8)
	}
	switch {
	case e.Err != "" && e.NetworkErrorCode != 0:
		ck.add(key, "err and network_error_code are both set; use one")
	case e.Err != "" && !receiptStatRE.MatchString(e.Err):
		ck.add(key+".err", "must be 1 to 20 of A-Z, a-z, 0-9, '_' and '-', got %q", e.Err)
	case e.Err == "":
		ck.intRange(key+".network_error_code", e.NetworkErrorCode, 0, 65535)
	}
	switch e.Outcome {
	case OutcomeFailed:
		if e.Code == 0 {
			ck.add(key+".code", "required: the V2 error code of the failed message")
		} else if !isV2ErrorCode(e.Code) {
			ck.add(key+".code", "%d is not a V2 error code (see error-codes.tsv)", e.Code)
		}
	case OutcomeDelivered, OutcomePending:
		if e.Code != 0 {
			ck.add(key+".code", "only a failed outcome takes a code (outcome is %q)", e.Outcome)
		}
	default:
		ck.oneOf(key+".outcome", e.Outcome, OutcomeFailed, OutcomeDelivered, OutcomePending)
	}
	for j, o := range earlier {
		if strings.EqualFold(o.Stat, e.Stat) && o.MessageState == e.MessageState &&
			strings.EqualFold(o.Err, e.Err) && o.NetworkErrorCode == e.NetworkErrorCode {
			ck.add(key, "matches the same receipts as %s", key[:strings.LastIndexByte(key, '[')]+fmt.Sprintf("[%d]", j))
			break
		}
	}
}
