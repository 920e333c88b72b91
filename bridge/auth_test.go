package bridge

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"smppbridge/store"
)

type nopStore struct{}

func (nopStore) Enqueue([]store.QueueItem) error             { return nil }
func (nopStore) Complete([]store.Completion) error           { return nil }
func (nopStore) LoadQueue(func(store.QueueItem) error) error { return nil }

// TestAuthSamePathForEveryWrongCredential: an unknown username, a wrong
// password of any length and the right password each cost exactly one
// password-hash check against a configured hash, so response times tell
// an attacker neither which usernames exist nor anything about the
// password's length (conf.CheckPassword derives a fixed-length key from
// any password and compares it in constant time).
func TestAuthSamePathForEveryWrongCredential(t *testing.T) {
	var mu sync.Mutex
	var checked []string // hashes checked, per call
	check := func(hash, pw string) bool {
		mu.Lock()
		checked = append(checked, hash)
		mu.Unlock()
		return hash == "hash-a" && pw == "right-password"
	}
	b, err := New(Options{Store: nopStore{}, CheckPassword: check, Accounts: []Account{
		{ID: "A", Credentials: []Credential{{Username: "alice", PasswordHash: "hash-a"}}},
		{ID: "B", Credentials: []Credential{{Username: "bob", PasswordHash: "hash-b"}}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, account, user, pw string
		want                    error
	}{
		{"unknown user", "A", "mallory", "right-password", ErrUnauthorized},
		{"unknown user, empty password", "A", "mallory", "", ErrUnauthorized},
		{"empty user", "A", "", "x", ErrUnauthorized},
		{"wrong password, same length", "A", "alice", "wrong-password", ErrUnauthorized},
		{"wrong password, shorter", "A", "alice", "w", ErrUnauthorized},
		{"wrong password, much longer", "A", "alice", "right-password-right-password-right-password", ErrUnauthorized},
		{"right password", "A", "alice", "right-password", nil},
		{"another account's credentials", "B", "alice", "right-password", ErrForbidden},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b.auth.init(10, 1) // no cache hits: every case takes the full path
			mu.Lock()
			checked = nil
			mu.Unlock()
			if err := b.Authenticate(c.account, c.user, c.pw); !errors.Is(err, c.want) && err != c.want {
				t.Fatalf("Authenticate = %v, want %v", err, c.want)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(checked) != 1 || (checked[0] != "hash-a" && checked[0] != "hash-b") {
				t.Fatalf("hash checks %v, want exactly one against a configured hash", checked)
			}
		})
	}
}

// TestCredKeyIsKeyedHMAC: the cache key is HMAC-SHA256 under the cache's
// own random key (crypto/hmac agrees with the hand-written one), so two
// caches key the same credential differently and no key is an unsalted
// hash of a password; usernames and passwords cannot trade bytes.
func TestCredKeyIsKeyedHMAC(t *testing.T) {
	var a, b authCache
	a.init(10, 1)
	b.init(10, 1)
	key := make([]byte, 32)
	for i := range key {
		key[i] = a.ipad[i] ^ 0x36
	}
	for _, c := range [][2]string{{"alice", "right-password"}, {"", ""}, {"u", strings.Repeat("p", 300)}} {
		m := hmac.New(sha256.New, key)
		const acct = "9900000"
		m.Write([]byte{0, 0, 0, byte(len(acct))})
		m.Write([]byte(acct))
		u := len(c[0])
		m.Write([]byte{byte(u >> 24), byte(u >> 16), byte(u >> 8), byte(u)})
		m.Write([]byte(c[0] + c[1]))
		if got := a.credKey(acct, c[0], c[1]); !bytes.Equal(got[:], m.Sum(nil)) {
			t.Errorf("credKey(%q, %d-byte password) is not the HMAC-SHA256", c[0], len(c[1]))
		}
		if a.credKey(acct, c[0], c[1]) == b.credKey(acct, c[0], c[1]) {
			t.Errorf("two caches share the key of %q", c[0])
		}
		if a.credKey(acct, c[0], c[1]) == a.credKey("9900001", c[0], c[1]) {
			t.Errorf("two accounts share the key of %q", c[0])
		}
		if plain := sha256.Sum256([]byte(c[0] + "\x00" + c[1])); a.credKey(acct, c[0], c[1]) == plain {
			t.Errorf("credKey of %q is the unsalted hash", c[0])
		}
	}
	if a.credKey("A", "a\x00b", "c") == a.credKey("A", "a", "b\x00c") || a.credKey("A", "ab", "c") == a.credKey("A", "a", "bc") ||
		a.credKey("Aa", "b", "c") == a.credKey("A", "ab", "c") {
		t.Error("account, username and password bytes can be traded")
	}
}

// TestAuthBoundsConcurrentHashes: eight clients with wrong passwords at
// once run at most two password hashes at a time (a cap of two); the
// other six wait for a slot instead of taking more cores.
func TestAuthBoundsConcurrentHashes(t *testing.T) {
	var inflight, most atomic.Int64
	release := make(chan struct{})
	check := func(hash, pw string) bool {
		n := inflight.Add(1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		<-release
		inflight.Add(-1)
		return false
	}
	b, err := New(Options{Store: nopStore{}, CheckPassword: check, Accounts: []Account{
		{ID: "A", Credentials: []Credential{{Username: "alice", PasswordHash: "hash-a"}}}}})
	if err != nil {
		t.Fatal(err)
	}
	b.auth.init(10, 2)
	const clients = 8
	var wg sync.WaitGroup
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := b.Authenticate("A", "alice", fmt.Sprintf("wrong-%d", i)); !errors.Is(err, ErrUnauthorized) {
				t.Errorf("client %d: %v", i, err)
			}
		}()
	}
	deadline := time.Now().Add(20 * time.Second)
	for inflight.Load() < 2 || b.auth.hashWaits.Load() < clients-2 {
		if time.Now().After(deadline) {
			t.Fatalf("%d hashing, %d waiting; want 2 and %d", inflight.Load(), b.auth.hashWaits.Load(), clients-2)
		}
		time.Sleep(time.Millisecond)
	}
	if n := inflight.Load(); n != 2 {
		t.Fatalf("%d hashes at once with every client in, want 2", n)
	}
	close(release)
	wg.Wait()
	if m := most.Load(); m != 2 {
		t.Fatalf("at most %d hashes ran at once, want 2", m)
	}
	if got := hashSlotsFor(1); got != 1 {
		t.Fatalf("one processor: %d slots", got)
	}
	if got := hashSlotsFor(8); got != 4 {
		t.Fatalf("eight processors: %d slots", got)
	}
}

// TestAuthSharedUsername: usernames are unique only within an account, so
// two accounts may both have "api" with the same password; each is let in
// on its own path (the first owner found used to win, and the other got
// 403), and a credential of one account only is still 403 on the other's.
func TestAuthSharedUsername(t *testing.T) {
	check := func(hash, pw string) bool { return hash == "plain:"+pw }
	b, err := New(Options{Store: nopStore{}, CheckPassword: check, Accounts: []Account{
		{ID: "A", Credentials: []Credential{{Username: "api", PasswordHash: "plain:same"}, {Username: "only-a", PasswordHash: "plain:a"}}},
		{ID: "B", Credentials: []Credential{{Username: "api", PasswordHash: "plain:same"}}},
		{ID: "C", Credentials: []Credential{{Username: "api", PasswordHash: "plain:other"}}}}})
	if err != nil {
		t.Fatal(err)
	}
	for range 2 { // the second round answers from the cache
		for _, c := range []struct {
			account, user, pass string
			want                error
		}{
			{"A", "api", "same", nil}, {"B", "api", "same", nil}, {"C", "api", "other", nil},
			{"C", "api", "same", ErrForbidden}, {"A", "api", "other", ErrForbidden},
			{"B", "only-a", "a", ErrForbidden}, {"B", "api", "wrong", ErrUnauthorized},
		} {
			if err := b.Authenticate(c.account, c.user, c.pass); !errors.Is(err, c.want) && !(err == nil && c.want == nil) {
				t.Errorf("%s %s/%s: %v, want %v", c.account, c.user, c.pass, err, c.want)
			}
		}
	}
}
