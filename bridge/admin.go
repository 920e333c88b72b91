package bridge

import (
	"crypto/rand"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"sort"
	"strings"

	"smppbridge/smpp"
)

// The directory operations of the admin API. Each change is validated,
// persisted and live before it returns (see change); what it creates or
// changes becomes OriginAPI. Errors: *ValidationError (400), ErrNotFound
// (404), ErrConflict (409), ErrStore (500).

// Accounts lists every account, by id.
func (b *Bridge) Accounts() []Account {
	b.dir.mu.Lock()
	defer b.dir.mu.Unlock()
	var out []Account
	for _, a := range b.dir.model.sortedAccounts() {
		out = append(out, *cloneAccount(a))
	}
	return out
}

// Account returns one account.
func (b *Bridge) Account(id string) (Account, error) {
	b.dir.mu.Lock()
	defer b.dir.mu.Unlock()
	a := b.dir.model.accounts[id]
	if a == nil {
		return Account{}, fmt.Errorf("%w: account %s", ErrNotFound, id)
	}
	return *cloneAccount(a), nil
}

// CreateAccount adds an account with no applications or credentials.
func (b *Bridge) CreateAccount(a Account) error {
	return b.change(func(m *dirModel) error {
		if verr := checkAccount(&a); verr != nil {
			return verr
		}
		if m.accounts[a.ID] != nil {
			return fmt.Errorf("%w: account %s exists", ErrConflict, a.ID)
		}
		m.put(&Account{ID: a.ID, Disabled: a.Disabled, Countries: slices.Clone(a.Countries), Origin: OriginAPI})
		return nil
	})
}

// UpdateAccount changes an account's settings (Disabled, Countries) with
// fn; other fields fn changes are ignored.
func (b *Bridge) UpdateAccount(id string, fn func(*Account)) (Account, error) {
	var out Account
	err := b.change(func(m *dirModel) error {
		a := m.mut(id)
		if a == nil {
			return fmt.Errorf("%w: account %s", ErrNotFound, id)
		}
		c := *cloneAccount(a)
		fn(&c)
		c.ID = id
		if verr := checkAccount(&c); verr != nil {
			return verr
		}
		a.Disabled, a.Countries, a.Origin = c.Disabled, c.Countries, OriginAPI
		out = *cloneAccount(a)
		return nil
	})
	return out, err
}

// DeleteAccount removes an account with its applications, numbers and
// credentials. Messages already accepted are still sent; their callbacks
// are dropped once their application is gone.
func (b *Bridge) DeleteAccount(id string) error {
	return b.change(func(m *dirModel) error {
		a := m.accounts[id]
		if a == nil {
			return fmt.Errorf("%w: account %s", ErrNotFound, id)
		}
		m.suppress(a.Origin, "account:"+id)
		delete(m.accounts, id)
		return nil
	})
}

// CreateApplication adds an application (its Numbers are ignored: numbers
// are assigned with AssignNumber).
func (b *Bridge) CreateApplication(accountID string, ap Application) (Application, error) {
	var out Application
	err := b.change(func(m *dirModel) error {
		a := m.mut(accountID)
		if a == nil {
			return fmt.Errorf("%w: account %s", ErrNotFound, accountID)
		}
		if ap.ID == "" {
			ap.ID = newUUID()
		}
		ap.Numbers, ap.Origin = nil, OriginAPI
		if verr := checkApplication(&ap); verr != nil {
			return verr
		}
		if owner, _ := m.app(ap.ID); owner != nil {
			return fmt.Errorf("%w: application %s exists", ErrConflict, ap.ID)
		}
		a.Applications = append(a.Applications, ap)
		out = ap
		return nil
	})
	return out, err
}

// UpdateApplication changes an application with fn; its id and numbers
// stay as they are.
func (b *Bridge) UpdateApplication(accountID, appID string, fn func(*Application)) (Application, error) {
	var out Application
	err := b.change(func(m *dirModel) error {
		a, i := m.app(appID)
		if a == nil || a.ID != accountID {
			return fmt.Errorf("%w: application %s in account %s", ErrNotFound, appID, accountID)
		}
		a = m.mut(a.ID)
		ap := a.Applications[i]
		fn(&ap)
		ap.ID, ap.Numbers, ap.Origin = appID, a.Applications[i].Numbers, OriginAPI
		if verr := checkApplication(&ap); verr != nil {
			return verr
		}
		a.Applications[i] = ap
		out = ap
		return nil
	})
	return out, err
}

// DeleteApplication removes an application and releases its numbers.
func (b *Bridge) DeleteApplication(accountID, appID string) error {
	return b.change(func(m *dirModel) error {
		a, i := m.app(appID)
		if a == nil || a.ID != accountID {
			return fmt.Errorf("%w: application %s in account %s", ErrNotFound, appID, accountID)
		}
		a = m.mut(a.ID)
		m.suppress(a.Applications[i].Origin, "app:"+appID)
		a.Applications = slices.Delete(a.Applications, i, i+1)
		return nil
	})
}

// NumberAssignment is a number with its owner.
type NumberAssignment struct {
	Number
	ApplicationID string
	AccountID     string
}

// Numbers lists every assigned number, by number.
func (b *Bridge) Numbers() []NumberAssignment {
	d := b.directory()
	out := make([]NumberAssignment, 0, len(d.numbers))
	for _, n := range d.numbers {
		out = append(out, NumberAssignment{Number: n.Number, ApplicationID: n.app.ID, AccountID: n.app.accountID})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Number.Number < out[j].Number.Number })
	return out
}

// AssignNumber gives a number (with its class) to an application: added
// when unassigned, moved when another application had it. Messages already
// accepted keep the application they were accepted for (its callbacks);
// sends after the move must name the new application. An empty class is
// inferred (InferClass).
func (b *Bridge) AssignNumber(n Number, appID string) (NumberAssignment, error) {
	var out NumberAssignment
	err := b.change(func(m *dirModel) error {
		if n.Class == "" {
			n.Class = InferClass(n.Number)
		}
		if verr := checkNumber(&n); verr != nil {
			return verr
		}
		a, i := m.app(appID)
		if a == nil {
			return fmt.Errorf("%w: application %s", ErrNotFound, appID)
		}
		m.unassign(n.Number)
		n.Origin = OriginAPI
		ap := &m.mut(a.ID).Applications[i]
		ap.Numbers = append(ap.Numbers, n)
		out = NumberAssignment{Number: n, ApplicationID: appID, AccountID: a.ID}
		return nil
	})
	return out, err
}

// ReleaseNumber takes a number from its application. Inbound messages to
// it are then acknowledged and dropped, sends from it refused.
func (b *Bridge) ReleaseNumber(number string) error {
	return b.change(func(m *dirModel) error {
		if !m.release(number) {
			return fmt.Errorf("%w: number %s", ErrNotFound, number)
		}
		return nil
	})
}

// CreateCredential adds an API user to an account and returns its secret,
// which is kept only as a hash and cannot be shown again. An empty
// username gets a generated one.
func (b *Bridge) CreateCredential(accountID, username string) (Credential, string, error) {
	if b.opts.HashPassword == nil {
		return Credential{}, "", fmt.Errorf("bridge: no password hasher")
	}
	if username == "" {
		username = "api-" + randomString(8)
	}
	if verr := checkUsername(username); verr != nil {
		return Credential{}, "", verr
	}
	secret := randomString(24)
	hash, err := b.opts.HashPassword(secret) // slow on purpose: outside the directory lock
	if err != nil {
		return Credential{}, "", err
	}
	c := Credential{Username: username, PasswordHash: hash, Created: b.now().UTC(), Origin: OriginAPI}
	err = b.change(func(m *dirModel) error {
		a := m.mut(accountID)
		if a == nil {
			return fmt.Errorf("%w: account %s", ErrNotFound, accountID)
		}
		if slices.ContainsFunc(a.Credentials, func(x Credential) bool { return x.Username == username }) {
			return fmt.Errorf("%w: credential %s exists in account %s", ErrConflict, username, accountID)
		}
		a.Credentials = append(a.Credentials, c)
		return nil
	})
	if err != nil {
		return Credential{}, "", err
	}
	return c, secret, nil
}

// RevokeCredential removes an API user; requests with it fail at once
// (the verified-credentials cache is cleared with the change).
func (b *Bridge) RevokeCredential(accountID, username string) error {
	return b.change(func(m *dirModel) error {
		a := m.mut(accountID)
		if a == nil {
			return fmt.Errorf("%w: account %s", ErrNotFound, accountID)
		}
		i := slices.IndexFunc(a.Credentials, func(x Credential) bool { return x.Username == username })
		if i < 0 {
			return fmt.Errorf("%w: credential %s in account %s", ErrNotFound, username, accountID)
		}
		m.suppress(a.Credentials[i].Origin, credKeyOf(accountID, username))
		a.Credentials = slices.Delete(a.Credentials, i, i+1)
		return nil
	})
}

// Blocked lists blocked numbers and their direction (BlockFrom, BlockTo,
// BlockBoth).
func (b *Bridge) Blocked() map[string]string { return maps.Clone(b.directory().blocked) }

// Block blocks a number as a sender (4481), a recipient (4482) or both.
func (b *Bridge) Block(number, direction string) error {
	if direction == "" {
		direction = BlockBoth
	}
	return b.change(func(m *dirModel) error {
		var fe []FieldError
		if !isE164(number) && !isShortCode(number) && !isAlphanumeric(number) {
			fe = append(fe, FieldError{"number", fmt.Sprintf("'%s' is not an E.164 number, short code or alphanumeric sender", number)})
		}
		if direction != BlockFrom && direction != BlockTo && direction != BlockBoth {
			fe = append(fe, FieldError{"direction", fmt.Sprintf("'%s' is not a direction; use from, to or both", direction)})
		}
		if len(fe) > 0 {
			return &ValidationError{Description: genericInvalid, Fields: fe}
		}
		m.blocked[number] = direction
		return nil
	})
}

// Unblock lifts a block.
func (b *Bridge) Unblock(number string) error {
	return b.change(func(m *dirModel) error {
		if _, ok := m.blocked[number]; !ok {
			return fmt.Errorf("%w: blocked number %s", ErrNotFound, number)
		}
		delete(m.blocked, number)
		return nil
	})
}

// CarrierStatus is a carrier's live state.
type CarrierStatus struct {
	Name           string
	BindsUp        int
	Binds          int
	QueueSegments  int // queued or waiting for the carrier
	QueueCapacity  int
	QueueMessages  int
	Rate           float64 // segments/s in force; 0 unlimited
	Paused         bool    // pausing after a throttling answer
	ThrottlePauses int64
	Resends        int64
	BindErrors     []string // last error of each bind (receiver binds too, "receiver: …") that is down
}

// poolStatser is what a carrier's Sender offers when it is an SMPP pool.
type poolStatser interface {
	Stats() (smpp.PoolStats, bool)
}

// CarrierStatuses reports every carrier's binds and queue.
func (b *Bridge) CarrierStatuses() []CarrierStatus {
	set := b.set.Load()
	out := make([]CarrierStatus, 0, len(set.list))
	for _, qs := range b.Queues() {
		cs := CarrierStatus{Name: qs.Carrier, QueueSegments: qs.Segments, QueueCapacity: qs.Capacity, QueueMessages: qs.Messages}
		q := set.byName[qs.Carrier]
		if q == nil {
			continue // removed by a reload meanwhile
		}
		if ps, ok := q.Sender.(poolStatser); ok {
			if st, ok := ps.Stats(); ok {
				cs.BindsUp, cs.Binds, cs.Rate, cs.Paused = st.BindsUp, len(st.Binds), st.Rate, st.Paused
				cs.ThrottlePauses, cs.Resends = st.ThrottlePauses, st.Resends
				for _, bs := range st.Binds {
					if !bs.Up && bs.LastError != "" {
						cs.BindErrors = append(cs.BindErrors, bs.LastError)
					}
				}
				// Receiver binds (transmitter_receiver) bring the receipts
				// and inbound messages: one down is as worth seeing.
				for _, bs := range st.Receivers {
					if !bs.Up && bs.LastError != "" {
						cs.BindErrors = append(cs.BindErrors, "receiver: "+bs.LastError)
					}
				}
			}
		}
		out = append(out, cs)
	}
	return out
}

// Validation of directory entries (the configuration's rules, for the API).

func checkAccount(a *Account) *ValidationError {
	var fe []FieldError
	if !isID(a.ID) {
		fe = append(fe, FieldError{"id", fmt.Sprintf("'%s' must be 1 to 64 of A-Z, a-z, 0-9, '_' and '-'", a.ID)})
	}
	for _, cc := range a.Countries {
		if len(cc) < 1 || len(cc) > 4 || cc[0] == '0' || strings.Trim(cc, "0123456789") != "" {
			fe = append(fe, FieldError{"countries", fmt.Sprintf("'%s' is not a country calling code (1 to 4 digits, no '+')", cc)})
		}
	}
	if len(fe) > 0 {
		return &ValidationError{Description: genericInvalid, Fields: fe}
	}
	return nil
}

func checkApplication(ap *Application) *ValidationError {
	var fe []FieldError
	add := func(field, format string, args ...any) {
		fe = append(fe, FieldError{field, fmt.Sprintf(format, args...)})
	}
	if !isID(ap.ID) {
		add("id", "'%s' must be 1 to 64 of A-Z, a-z, 0-9, '_' and '-'", ap.ID)
	}
	if ap.CallbackURL == "" && ap.InboundCallbackURL == "" {
		add("callbackUrl", "at least one of callbackUrl and inboundCallbackUrl is required")
	}
	for field, s := range map[string]string{"callbackUrl": ap.CallbackURL, "inboundCallbackUrl": ap.InboundCallbackURL} {
		if s == "" {
			continue
		}
		u, err := url.Parse(s)
		switch {
		case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "":
			add(field, "'%s' must be an absolute http or https URL", s)
		case u.User != nil:
			add(field, "must not hold credentials; use callbackUsername and callbackPassword")
		case u.Fragment != "":
			add(field, "must not have a fragment")
		}
	}
	if (ap.CallbackUsername == "") != (ap.CallbackPassword == "") {
		add("callbackUsername", "callbackUsername and callbackPassword are set together")
	}
	if verr := checkUsername(ap.CallbackUsername); ap.CallbackUsername != "" && verr != nil {
		fe = append(fe, FieldError{"callbackUsername", verr.Fields[0].Description})
	}
	seen := map[string]bool{}
	for _, ev := range ap.ReceiptEvents {
		switch {
		case ev != "message-delivered" && ev != "message-failed" && ev != "message-sending":
			add("receiptEvents", "'%s' is not one of message-delivered, message-failed, message-sending", ev)
		case seen[ev]:
			add("receiptEvents", "'%s' appears twice", ev)
		}
		seen[ev] = true
	}
	if len(fe) > 0 {
		sort.Slice(fe, func(i, j int) bool { return fe[i].FieldName < fe[j].FieldName })
		return &ValidationError{Description: genericInvalid, Fields: fe}
	}
	return nil
}

func checkNumber(n *Number) *ValidationError {
	var fe []FieldError
	if !isE164(n.Number) && !isShortCode(n.Number) && !isAlphanumeric(n.Number) {
		fe = append(fe, FieldError{"number", fmt.Sprintf("'%s' is not an E.164 number, short code or alphanumeric sender", n.Number)})
	}
	switch {
	case !slices.Contains(NumberClasses, n.Class):
		fe = append(fe, FieldError{"class", fmt.Sprintf("'%s' is not one of %s", n.Class, strings.Join(NumberClasses, ", "))})
	case n.Class == ClassA2P && n.CampaignID == "":
		fe = append(fe, FieldError{"campaignId", "an a2p number needs its campaignId"})
	case n.Class != ClassA2P && n.CampaignID != "":
		fe = append(fe, FieldError{"campaignId", "only a2p numbers have a campaignId"})
	}
	if len(n.CampaignID) > 64 {
		fe = append(fe, FieldError{"campaignId", "at most 64 characters"})
	}
	if len(fe) > 0 {
		return &ValidationError{Description: genericInvalid, Fields: fe}
	}
	return nil
}

func checkUsername(u string) *ValidationError {
	if u == "" || len(u) > 64 || strings.ContainsFunc(u, func(r rune) bool { return r == ':' || r < 0x21 || r == 0x7f }) {
		return &ValidationError{Description: genericInvalid, Fields: []FieldError{{"username",
			fmt.Sprintf("'%s' must be 1 to 64 printable characters without ':' or spaces", u)}}}
	}
	return nil
}

func isID(s string) bool {
	if len(s) < 1 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

const alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// randomString is n characters from crypto/rand (62 symbols, unbiased).
func randomString(n int) string {
	out := make([]byte, 0, n)
	var buf [64]byte
	for len(out) < n {
		rand.Read(buf[:])
		for _, c := range buf {
			if c < 248 && len(out) < n { // 248 = 4×62: no modulo bias
				out = append(out, alnum[c%62])
			}
		}
	}
	return string(out)
}

func newUUID() string {
	var u [16]byte
	rand.Read(u[:])
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:])
}
