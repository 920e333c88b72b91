package bridge

import (
	"crypto/sha256"
	"sync"
)

// authCache remembers credentials already verified, keyed by a SHA-256 of
// what was presented: the slow password hash then costs once per client
// and credential, not once per request. It holds no plaintext. Concurrent
// first requests with the same credential share one verification.
type authCache struct {
	mu       sync.Mutex
	ok       map[[32]byte]string // -> account id ("" = verified wrong)
	inflight map[[32]byte]chan struct{}
	max      int
}

func (c *authCache) init(max int) {
	c.ok = make(map[[32]byte]string)
	c.inflight = make(map[[32]byte]chan struct{})
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
	owner, known := b.lookupCred(key, username, password)
	switch {
	case !known || owner == "":
		return ErrUnauthorized
	case owner != accountID:
		return ErrForbidden
	}
	return nil
}

func (b *Bridge) lookupCred(key [32]byte, username, password string) (owner string, known bool) {
	c := &b.auth
	for {
		c.mu.Lock()
		if owner, ok := c.ok[key]; ok {
			c.mu.Unlock()
			return owner, true
		}
		wait, busy := c.inflight[key]
		if !busy {
			wait = make(chan struct{})
			c.inflight[key] = wait
			c.mu.Unlock()
			break
		}
		c.mu.Unlock()
		<-wait
	}
	refs := b.creds[username]
	if len(refs) == 0 && b.anyHash != "" {
		// An unknown username costs the same hash as a wrong password, so
		// response times do not tell which usernames exist.
		b.opts.CheckPassword(b.anyHash, password)
	}
	for _, cr := range refs {
		if b.opts.CheckPassword(cr.hash, password) {
			owner = cr.accountID
			break
		}
	}
	c.mu.Lock()
	if len(c.ok) >= c.max {
		clear(c.ok) // bounded; verified clients verify again once
	}
	if owner != "" {
		c.ok[key] = owner // wrong passwords are not cached: guessing stays slow
	}
	close(c.inflight[key])
	delete(c.inflight, key)
	c.mu.Unlock()
	return owner, true
}
