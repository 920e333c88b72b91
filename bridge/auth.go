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
	// gen counts forget calls: a verification that started before one
	// does not enter its result, so a revoked credential cannot come back.
	gen uint64
}

// forget drops the verified credentials of these accounts (after their
// credentials were revoked or changed). Other accounts' clients keep theirs:
// re-verifying every client after each admin change would cost a slow hash
// per client at once.
func (c *authCache) forget(accounts map[string]bool) {
	if len(accounts) == 0 {
		return
	}
	c.mu.Lock()
	for k, owner := range c.ok {
		if accounts[owner] {
			delete(c.ok, k)
		}
	}
	c.gen++
	c.mu.Unlock()
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
	if acc := b.directory().accounts[accountID]; acc == nil || acc.Disabled {
		return ErrForbidden
	}
	return nil
}

func (b *Bridge) lookupCred(key [32]byte, username, password string) (owner string, known bool) {
	c := &b.auth
	var gen uint64
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
			gen = c.gen
			c.mu.Unlock()
			break
		}
		c.mu.Unlock()
		<-wait
	}
	dir := b.directory()
	refs := dir.creds[username]
	if len(refs) == 0 {
		if h := b.decoyHash(dir); h != "" {
			// An unknown username costs the same hash as a wrong password, so
			// response times do not tell which usernames exist.
			b.opts.CheckPassword(h, password)
		}
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
	if owner != "" && gen == c.gen {
		c.ok[key] = owner // wrong passwords are not cached: guessing stays slow
	}
	close(c.inflight[key])
	delete(c.inflight, key)
	c.mu.Unlock()
	return owner, true
}

// decoyHash is a stored password hash to check unknown usernames against
// (any will do: the result is ignored, only the cost matters).
func (b *Bridge) decoyHash(dir *directory) string {
	if h := b.anyHash.Load(); h != nil {
		return *h
	}
	for _, refs := range dir.creds {
		if len(refs) > 0 {
			h := refs[0].hash
			b.anyHash.Store(&h)
			return h
		}
	}
	return ""
}
