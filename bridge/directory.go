package bridge

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"smppbridge/store"
)

// DirectoryStore persists the live directory (*store.Store). Without it
// the directory lives in memory only and starts from Options.Accounts.
type DirectoryStore interface {
	LoadDirectory(fn func(kind, key string, value []byte) error) error
	PutDirectory(entries []store.DirectoryEntry) error
}

// Directory entry kinds in the store.
const (
	dirAccount = "account" // key: account id; value: Account JSON
	dirBlocked = "blocked" // key: number; value: "from", "to" or "both"
	// key: "account:ID", "app:ID", "number:N" or "cred:ACCOUNT:USER"; value "1":
	// configured entries deleted through the admin API (see ApplyBootstrap).
	dirSuppressed = "suppressed"
	dirOptOut     = "optout" // key: number + "|" + sender; value: "1"
)

// Origins of directory entries: who created them and so who may change or
// remove them. The configuration file is the bootstrap: ApplyBootstrap
// creates, updates and removes what has OriginConfig. Anything created or
// changed through the admin API has OriginAPI, and the configuration never
// changes or removes it again.
const (
	OriginConfig = "config"
	OriginAPI    = "api"
)

// Number classes: what kind of sender a number is. They choose carriers
// (Carrier.RouteClasses) and are recorded as the record's product.
const (
	ClassP2P          = "p2p"
	ClassA2P          = "a2p" // 10DLC; with a campaign id
	ClassTollFree     = "toll-free"
	ClassShortCode    = "short-code"
	ClassAlphanumeric = "alphanumeric"
)

// NumberClasses lists the valid classes.
var NumberClasses = []string{ClassP2P, ClassA2P, ClassTollFree, ClassShortCode, ClassAlphanumeric}

// products are the contract's record product values (v2-api.md §4.1).
var products = map[string]string{
	ClassP2P: "P2P", ClassA2P: "LOCAL_A2P", ClassTollFree: "TOLL_FREE",
	ClassShortCode: "SHORT_CODE_REACH", ClassAlphanumeric: "ALPHA_NUMERIC",
}

// Product is the record product of a number class ("" for an unknown class).
func Product(class string) string { return products[class] }

// InferClass is the class of a number given without one: alphanumeric
// senders, short codes, North American toll-free numbers, else P2P.
func InferClass(number string) string {
	switch {
	case isAlphanumeric(number):
		return ClassAlphanumeric
	case isShortCode(number):
		return ClassShortCode
	case len(number) == 12 && strings.HasPrefix(number, "+1") && slices.Contains(tollFreeNPAs, number[2:5]):
		return ClassTollFree
	}
	return ClassP2P
}

var tollFreeNPAs = []string{"800", "833", "844", "855", "866", "877", "888"}

// Errors of the directory operations.
var (
	ErrNotFound = errors.New("bridge: not found")                  // HTTP 404
	ErrConflict = errors.New("bridge: conflicts with what exists") // HTTP 409
)

// dirModel is the canonical form of the directory; it changes only under
// dirState.mu, on a clone, and is swapped in whole. The clone is
// copy-on-write per account: an account is copied (mut) before it is
// changed, so a change costs the accounts it touches, not the directory.
type dirModel struct {
	accounts map[string]*Account // shared with the previous model unless dirty
	blocked  map[string]string   // number -> "from", "to", "both"
	// suppressed are configured entries deleted through the admin API: the
	// bootstrap does not re-create them while the configuration lists them.
	suppressed map[string]bool
	dirty      map[string]bool // accounts copied (or created) in this change
	// hint is the snapshot built from this model before the current change:
	// lookups try it first and verify what it says.
	hint *directory
}

func (m *dirModel) clone() *dirModel {
	return &dirModel{accounts: maps.Clone(m.accounts), blocked: maps.Clone(m.blocked), suppressed: maps.Clone(m.suppressed),
		dirty: map[string]bool{}}
}

// mut returns account id ready to be changed (nil if there is none).
func (m *dirModel) mut(id string) *Account {
	a := m.accounts[id]
	if a == nil || m.dirty[id] {
		return a
	}
	a = cloneAccount(a)
	m.accounts[id] = a
	m.dirty[id] = true
	return a
}

// put adds a new account.
func (m *dirModel) put(a *Account) {
	m.accounts[a.ID] = a
	m.dirty[a.ID] = true
}

func cloneAccount(a *Account) *Account {
	c := *a
	c.Countries = slices.Clone(a.Countries)
	c.Credentials = slices.Clone(a.Credentials)
	c.Applications = make([]Application, len(a.Applications))
	for i, ap := range a.Applications {
		ap.Numbers = slices.Clone(ap.Numbers)
		ap.ReceiptEvents = slices.Clone(ap.ReceiptEvents)
		c.Applications[i] = ap
	}
	return &c
}

func appIndex(a *Account, id string) int {
	return slices.IndexFunc(a.Applications, func(ap Application) bool { return ap.ID == id })
}

// app finds an application anywhere: its account and index.
func (m *dirModel) app(id string) (*Account, int) {
	if m.hint != nil {
		if ap := m.hint.apps[id]; ap != nil {
			if a := m.accounts[ap.accountID]; a != nil {
				if i := appIndex(a, id); i >= 0 {
					return a, i
				}
			}
		}
	}
	for _, a := range m.accounts {
		if i := appIndex(a, id); i >= 0 {
			return a, i
		}
	}
	return nil, -1
}

// number finds the application owning a number: its account (to mut),
// the application's index and the number's index; nil when unassigned.
func (m *dirModel) number(n string) (acc *Account, app, num int) {
	find := func(ap *Application) int {
		return slices.IndexFunc(ap.Numbers, func(x Number) bool { return x.Number == n })
	}
	if m.hint != nil {
		if r := m.hint.numbers[n]; r != nil {
			if a, i := m.app(r.app.ID); a != nil {
				if j := find(&a.Applications[i]); j >= 0 {
					return a, i, j
				}
			}
		}
	}
	for _, a := range m.accounts {
		for i := range a.Applications {
			if j := find(&a.Applications[i]); j >= 0 {
				return a, i, j
			}
		}
	}
	return nil, -1, -1
}

// suppress remembers that a configured entry was deleted through the API.
func (m *dirModel) suppress(origin, key string) {
	if origin == OriginConfig {
		m.suppressed[key] = true
	}
}

func credKeyOf(account, username string) string { return "cred:" + account + ":" + username }

// unassign removes a number from its application, if it has one.
func (m *dirModel) unassign(n string) bool {
	a, i, j := m.number(n)
	if a == nil {
		return false
	}
	a = m.mut(a.ID)
	a.Applications[i].Numbers = slices.Delete(a.Applications[i].Numbers, j, j+1)
	return true
}

// release removes a number through the API: a configured one stays
// released.
func (m *dirModel) release(n string) bool {
	a, i, j := m.number(n)
	if a == nil {
		return false
	}
	m.suppress(a.Applications[i].Numbers[j].Origin, "number:"+n)
	return m.unassign(n)
}

// directory is an immutable snapshot of the directory that the send, MO
// and receipt paths read without locks (Bridge.dir).
type directory struct {
	accounts map[string]*account
	apps     map[string]*application
	numbers  map[string]*numberRef
	creds    map[string][]credRef // username -> candidates
	blocked  map[string]string
}

type account struct {
	Account
	apps map[string]*application
}

type application struct {
	Application
	accountID string
}

type numberRef struct {
	Number
	app *application
}

type credRef struct {
	accountID string
	hash      string
}

func buildDirectory(m *dirModel) *directory {
	d := &directory{accounts: map[string]*account{}, apps: map[string]*application{}, numbers: map[string]*numberRef{},
		creds: map[string][]credRef{}, blocked: maps.Clone(m.blocked)}
	for _, a := range m.accounts {
		d.add(a)
	}
	return d
}

// add puts an account's entries into a directory being built.
func (d *directory) add(a *Account) {
	acc := &account{Account: *a, apps: map[string]*application{}}
	d.accounts[a.ID] = acc
	for _, c := range a.Credentials {
		// Clip: the slice may be shared with the previous snapshot.
		d.creds[c.Username] = append(slices.Clip(d.creds[c.Username]), credRef{accountID: a.ID, hash: c.PasswordHash})
	}
	for _, ap := range a.Applications {
		app := &application{Application: ap, accountID: a.ID}
		acc.apps[ap.ID] = app
		d.apps[ap.ID] = app
		for _, n := range ap.Numbers {
			d.numbers[n.Number] = &numberRef{Number: n, app: app}
		}
	}
}

// rebuild derives the next snapshot from the previous one, redoing only
// the changed accounts (removed first, then added, so a number that moved
// between two of them ends up with its new owner).
func rebuild(old *directory, m *dirModel, changed []string) *directory {
	d := &directory{accounts: maps.Clone(old.accounts), apps: maps.Clone(old.apps), numbers: maps.Clone(old.numbers),
		creds: maps.Clone(old.creds), blocked: maps.Clone(m.blocked)}
	for _, id := range changed {
		oa := old.accounts[id]
		if oa == nil {
			continue
		}
		delete(d.accounts, id)
		for appID, app := range oa.apps {
			if d.apps[appID] == app {
				delete(d.apps, appID)
			}
			for _, n := range app.Numbers {
				if r := d.numbers[n.Number]; r != nil && r.app == app {
					delete(d.numbers, n.Number)
				}
			}
		}
		for _, c := range oa.Credentials {
			kept := slices.DeleteFunc(slices.Clone(d.creds[c.Username]), func(r credRef) bool { return r.accountID == id })
			if len(kept) == 0 {
				delete(d.creds, c.Username)
			} else {
				d.creds[c.Username] = kept
			}
		}
	}
	for _, id := range changed {
		if a := m.accounts[id]; a != nil {
			d.add(a)
		}
	}
	return d
}

// dirState is the Bridge's directory: the snapshot readers load and the
// model writers change.
type dirState struct {
	snap    atomic.Pointer[directory]
	mu      sync.Mutex // serialises changes
	model   *dirModel
	encoded map[string][]byte // account id -> JSON as stored: what changed
	store   DirectoryStore    // nil: memory only
	optOuts sync.Map          // number + "|" + sender -> struct{}: read per recipient, lock-free
	// optOutCount is len(optOuts): with none, a send builds no key.
	optOutCount atomic.Int64
}

func (b *Bridge) directory() *directory { return b.dir.snap.Load() }

// loadDirectory reads the persisted directory (at New).
func (b *Bridge) loadDirectory() error {
	m := &dirModel{accounts: map[string]*Account{}, blocked: map[string]string{}, suppressed: map[string]bool{}}
	b.dir.encoded = map[string][]byte{}
	if b.dir.store != nil {
		err := b.dir.store.LoadDirectory(func(kind, key string, v []byte) error {
			switch kind {
			case dirAccount:
				var a Account
				if err := json.Unmarshal(v, &a); err != nil {
					return fmt.Errorf("directory account %s: %w", key, err)
				}
				m.accounts[a.ID] = &a
				b.dir.encoded[a.ID] = v
			case dirBlocked:
				m.blocked[key] = string(v)
			case dirSuppressed:
				m.suppressed[key] = true
			case dirOptOut:
				b.addOptOut(key)
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("bridge: load directory: %w", err)
		}
	}
	b.dir.model = m
	b.dir.snap.Store(buildDirectory(m))
	return nil
}

// change applies fn to a copy of the directory, persists what changed and
// then makes it live: readers see the old or the new directory, whole.
// Verified credentials of accounts that lost one are forgotten, so a
// revoked credential fails at once.
func (b *Bridge) change(fn func(m *dirModel) error) error {
	b.dir.mu.Lock()
	defer b.dir.mu.Unlock()
	old := b.dir.model
	m := old.clone()
	m.hint = b.dir.snap.Load()
	if err := fn(m); err != nil {
		return err
	}
	m.hint = nil
	var entries []store.DirectoryEntry
	var changed []string // accounts to redo in the snapshot
	encoded := map[string][]byte{}
	for id := range m.dirty {
		a := m.accounts[id]
		if a == nil {
			continue // created or copied, then deleted
		}
		v, err := json.Marshal(a)
		if err != nil {
			return err
		}
		if string(b.dir.encoded[id]) != string(v) {
			encoded[id] = v
			entries = append(entries, store.DirectoryEntry{Kind: dirAccount, Key: id, Value: v})
			changed = append(changed, id)
		}
	}
	var deleted []string
	for id := range old.accounts {
		if _, ok := m.accounts[id]; !ok {
			deleted = append(deleted, id)
			entries = append(entries, store.DirectoryEntry{Kind: dirAccount, Key: id})
			changed = append(changed, id)
		}
	}
	for n, dir := range m.blocked {
		if old.blocked[n] != dir {
			entries = append(entries, store.DirectoryEntry{Kind: dirBlocked, Key: n, Value: []byte(dir)})
		}
	}
	for n := range old.blocked {
		if _, ok := m.blocked[n]; !ok {
			entries = append(entries, store.DirectoryEntry{Kind: dirBlocked, Key: n})
		}
	}
	for k := range m.suppressed {
		if !old.suppressed[k] {
			entries = append(entries, store.DirectoryEntry{Kind: dirSuppressed, Key: k, Value: []byte("1")})
		}
	}
	for k := range old.suppressed {
		if !m.suppressed[k] {
			entries = append(entries, store.DirectoryEntry{Kind: dirSuppressed, Key: k})
		}
	}
	if len(entries) == 0 {
		return nil // nothing changed (a repeated bootstrap)
	}
	if b.dir.store != nil {
		if err := b.dir.store.PutDirectory(entries); err != nil {
			return fmt.Errorf("%w: %w", ErrStore, err)
		}
	}
	for id, v := range encoded {
		b.dir.encoded[id] = v
	}
	for _, id := range deleted {
		delete(b.dir.encoded, id)
	}
	m.dirty = nil
	stale := credentialsDropped(old, m)
	b.dir.model = m
	b.dir.snap.Store(rebuild(b.dir.snap.Load(), m, changed))
	b.auth.forget(stale)
	return nil
}

// credentialsDropped lists the accounts of which a credential was removed
// or changed (revoked, rehashed, account deleted) between two directories.
func credentialsDropped(old, cur *dirModel) map[string]bool {
	out := map[string]bool{}
	for id, a := range old.accounts {
		na := cur.accounts[id]
		if na == a {
			continue // not copied: unchanged
		}
		for _, c := range a.Credentials {
			if na == nil || !slices.ContainsFunc(na.Credentials, func(x Credential) bool {
				return x.Username == c.Username && x.PasswordHash == c.PasswordHash
			}) {
				out[id] = true
				break
			}
		}
	}
	return out
}

// ApplyBootstrap merges the configured accounts into the live directory; it
// is idempotent and runs at start and on a configuration reload.
//
//   - An entry (account, application, number, credential) the configuration
//     has is created if missing and updated if it has OriginConfig.
//   - An OriginConfig entry the configuration no longer has is removed; an
//     account or application that still holds OriginAPI entries is kept and
//     becomes OriginAPI instead.
//   - OriginAPI entries are never changed or removed by the configuration;
//     a configured entry that collides with one (a number the API assigned
//     elsewhere, an application id in another account) is skipped and logged.
//   - A configured entry deleted through the API (account, application,
//     number released, credential revoked) is not re-created while the
//     configuration lists it: a revoked credential stays revoked.
func (b *Bridge) ApplyBootstrap(accounts []Account) error {
	return b.change(func(m *dirModel) error {
		b.bootstrap(m, accounts)
		return nil
	})
}

func (b *Bridge) bootstrap(m *dirModel, cfg []Account) {
	wantAcct := map[string]bool{}
	wantApp := map[string]bool{}
	wantCred := map[string]bool{} // account + 0 + username
	// Configured numbers are all taken out and put back where the file says,
	// unless the API owns them: linear in the directory's size.
	apiOwned := map[string]bool{}
	appAt := map[string]string{} // application id -> account id
	for id := range m.accounts {
		a := m.mut(id) // a bootstrap may touch any account
		for i := range a.Applications {
			ap := &a.Applications[i]
			appAt[ap.ID] = a.ID
			for _, n := range ap.Numbers {
				if n.Origin == OriginAPI {
					apiOwned[n.Number] = true
				}
			}
			ap.Numbers = slices.DeleteFunc(ap.Numbers, func(n Number) bool { return n.Origin == OriginConfig })
		}
	}
	listed := map[string]bool{} // suppression keys the configuration still lists
	for _, ca := range cfg {
		listed["account:"+ca.ID] = true
		for _, cc := range ca.Credentials {
			listed[credKeyOf(ca.ID, cc.Username)] = true
		}
		for _, capp := range ca.Applications {
			listed["app:"+capp.ID] = true
			for _, n := range capp.Numbers {
				listed["number:"+n.Number] = true
			}
		}
	}
	maps.DeleteFunc(m.suppressed, func(k string, _ bool) bool { return !listed[k] })
	for _, ca := range cfg {
		if m.suppressed["account:"+ca.ID] {
			continue // deleted through the API
		}
		wantAcct[ca.ID] = true
		acc := m.accounts[ca.ID]
		if acc == nil {
			acc = &Account{ID: ca.ID, Origin: OriginConfig}
			m.put(acc)
		}
		if acc.Origin == OriginConfig {
			acc.Countries = slices.Clone(ca.Countries)
			acc.Disabled = ca.Disabled
		}
		for _, cc := range ca.Credentials {
			if m.suppressed[credKeyOf(ca.ID, cc.Username)] {
				continue // revoked through the API
			}
			wantCred[ca.ID+"\x00"+cc.Username] = true
			i := slices.IndexFunc(acc.Credentials, func(c Credential) bool { return c.Username == cc.Username })
			switch {
			case i < 0:
				cc.Origin = OriginConfig
				acc.Credentials = append(acc.Credentials, cc)
			case acc.Credentials[i].Origin == OriginConfig:
				acc.Credentials[i].PasswordHash = cc.PasswordHash
			}
		}
		// Applications are found by id in their account; configured ones
		// are appended, so indexes taken here stay valid.
		appIdx := make(map[string]int, len(acc.Applications))
		for i := range acc.Applications {
			appIdx[acc.Applications[i].ID] = i
		}
		for _, capp := range ca.Applications {
			if m.suppressed["app:"+capp.ID] {
				continue // deleted through the API
			}
			wantApp[capp.ID] = true
			if at, ok := appAt[capp.ID]; ok && at != acc.ID {
				b.log.Warn("configured application skipped: the admin API placed it in another account", "application", capp.ID, "account", at)
				continue
			}
			i, ok := appIdx[capp.ID]
			if !ok {
				acc.Applications = append(acc.Applications, Application{ID: capp.ID, Origin: OriginConfig})
				i = len(acc.Applications) - 1
				appIdx[capp.ID] = i
				appAt[capp.ID] = acc.ID
			}
			ap := &acc.Applications[i]
			if ap.Origin == OriginConfig {
				numbers := ap.Numbers
				*ap = capp
				ap.Numbers, ap.Origin = numbers, OriginConfig
				ap.ReceiptEvents = slices.Clone(capp.ReceiptEvents)
			}
			for _, n := range capp.Numbers {
				if apiOwned[n.Number] || m.suppressed["number:"+n.Number] {
					continue // the API owns it now, or released it
				}
				if n.Class == "" {
					n.Class = InferClass(n.Number)
				}
				n.Origin = OriginConfig
				ap.Numbers = append(ap.Numbers, n)
			}
		}
	}
	// Removals of configuration entries the configuration dropped.
	for _, acc := range m.accounts {
		acc.Credentials = slices.DeleteFunc(acc.Credentials, func(c Credential) bool {
			return c.Origin == OriginConfig && !wantCred[acc.ID+"\x00"+c.Username]
		})
		acc.Applications = slices.DeleteFunc(acc.Applications, func(ap Application) bool {
			// Numbers the API assigned keep a dropped application alive.
			return ap.Origin == OriginConfig && !wantApp[ap.ID] && len(ap.Numbers) == 0
		})
		for i := range acc.Applications {
			if ap := &acc.Applications[i]; ap.Origin == OriginConfig && !wantApp[ap.ID] {
				ap.Origin = OriginAPI
				b.log.Warn("application removed from the configuration is kept: it has numbers assigned through the admin API", "application", ap.ID)
			}
		}
	}
	for id, acc := range m.accounts {
		if acc.Origin != OriginConfig || wantAcct[id] {
			continue
		}
		if len(acc.Applications) > 0 || len(acc.Credentials) > 0 {
			acc.Origin = OriginAPI
			b.log.Warn("account removed from the configuration is kept: it has entries made through the admin API", "account", id)
			continue
		}
		delete(m.accounts, id)
	}
}

// sortedAccounts lists the model's accounts by id.
func (m *dirModel) sortedAccounts() []*Account {
	out := slices.Collect(maps.Values(m.accounts))
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

func storeEntry(kind, key string, value []byte) store.DirectoryEntry {
	return store.DirectoryEntry{Kind: kind, Key: key, Value: value}
}

func entries(es ...store.DirectoryEntry) []store.DirectoryEntry { return es }
