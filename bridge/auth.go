package bridge

import (
	"crypto/sha256"
	"sync"
)

// authCache remembers credentials already verified, keyed by a SHA-256 of
// what was presented: the slow password hash then costs once per client
// and credential, not once per request. It holds no plaintext.
type authCache struct {
	mu  sync.Mutex
	ok  map[[32]byte]string // -> account id
	max int
}

func (c *authCache) init(max int) {
	c.ok = make(map[[32]byte]string)
	c.max = max
}

func credKey(username, password string) [32]byte {
	h := sha256.New()
	h.Write([]byte(username))
	h.Write([]byte{0})
	h.Write([]byte(password))
	var k [32]byte
	h.Sum(k[:0])
	return k
}

// Authenticate checks HTTP Basic credentials for an account: ErrForbidden
// when they are valid for another account only.
func (b *Bridge) Authenticate(accountID, username, password string) error {
	key := credKey(username, password)
	b.auth.mu.Lock()
	owner, cached := b.auth.ok[key]
	b.auth.mu.Unlock()
	if !cached {
		for _, c := range b.creds[username] {
			if b.opts.CheckPassword(c.hash, password) {
				owner = c.accountID
				if c.accountID == accountID {
					break
				}
			}
		}
		if owner == "" {
			return ErrUnauthorized
		}
		b.auth.mu.Lock()
		if len(b.auth.ok) >= b.auth.max {
			clear(b.auth.ok) // crude but bounded; verified clients re-verify once
		}
		b.auth.ok[key] = owner
		b.auth.mu.Unlock()
	}
	if owner != accountID {
		return ErrForbidden
	}
	return nil
}
