package bridge

import (
	"errors"
	"sync"
	"testing"

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
			b.auth.init(10) // no cache hits: every case takes the full path
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
