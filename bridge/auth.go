package bridge

import (
	"crypto/rand"
	"crypto/sha256"
	"sync"
	"sync/atomic"
)

// authCache remembers credentials already verified, keyed by an HMAC-SHA256
// of what was presented under a random key of this cache: the slow password
// hash then costs once per client and credential, not once per request. It
// holds no plaintext, and its keys are no unsalted fast hashes of passwords
// that a memory dump could be searched against offline. Concurrent first
// requests with the same credential share one verification.
type authCache struct {
	// ipad and opad are the random HMAC key of this cache XORed with
	// HMAC's pads (RFC 2104), ready to prefix.
	ipad, opad [sha256.BlockSize]byte

	mu       sync.Mutex
	ok       map[[32]byte]string // -> account id ("" = verified wrong)
	inflight map[[32]byte]chan struct{}
	max      int
	// gen counts forget calls: a verification that started before one
	// does not enter its result, so a revoked credential cannot come back.
	gen uint64

	// hashSlots bounds the slow password hashes running at once. Wrong
	// passwords are never cached, so without it clients that send wrong
	// ones (~120 ms of CPU each here) could fill every core; with it they
	// fill half, and requests with verified credentials (cache hits) and
	// the rest of the daemon keep the other half. Waiting for a slot is the
	// back-pressure; the HTTP timeouts bound it.
	hashSlots chan struct{}
	hashWaits atomic.Int64 // waiting for a slot now (tests)
}

// hashSlotsFor is how many password hashes may run at once on procs
// processors: half of them, at least one.
func hashSlotsFor(procs int) int { return max(1, procs/2) }

// checkSlow runs one slow password check in a slot.
func (c *authCache) checkSlow(check func(hash, password string) bool, hash, password string) bool {
	c.hashWaits.Add(1)
	c.hashSlots <- struct{}{}
	c.hashWaits.Add(-1)
	defer func() { <-c.hashSlots }()
	return check(hash, password)
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

func (c *authCache) init(max, hashSlots int) {
	c.hashSlots = make(chan struct{}, hashSlots)
	c.ok = make(map[[32]byte]string)
	c.inflight = make(map[[32]byte]chan struct{})
	c.max = max
	var key [32]byte
	rand.Read(key[:]) // never fails (crypto/rand panics rather than return weak bytes)
	for i := range c.ipad {
		c.ipad[i], c.opad[i] = 0x36, 0x5c
	}
	for i, k := range key {
		c.ipad[i] ^= k
		c.opad[i] ^= k
	}
}

// credKey is the cache key of a credential presented for an account:
// HMAC-SHA256 of the account's length and id, the username's length, the
// username and the password (lengths first, so no two triples share an
// input). The account is part of it because a username is unique only
// within an account: two accounts may hold the same username and password.
// Written out with sha256.Sum256 on stack buffers: crypto/hmac allocates
// and costs four times as much per request.
func (c *authCache) credKey(account, username, password string) [32]byte {
	var stack [256]byte
	n := len(c.ipad) + 8 + len(account) + len(username) + len(password)
	in := stack[:0]
	if n > len(stack) {
		in = make([]byte, 0, n)
	}
	in = append(in, c.ipad[:]...)
	a := len(account)
	in = append(in, byte(a>>24), byte(a>>16), byte(a>>8), byte(a))
	in = append(in, account...)
	u := len(username)
	in = append(in, byte(u>>24), byte(u>>16), byte(u>>8), byte(u))
	in = append(in, username...)
	in = append(in, password...)
	inner := sha256.Sum256(in)
	var outer [sha256.BlockSize + sha256.Size]byte
	copy(outer[:], c.opad[:])
	copy(outer[sha256.BlockSize:], inner[:])
	clear(in) // the password does not linger on the stack
	return sha256.Sum256(outer[:])
}

// Authenticate checks HTTP Basic credentials for an account: ErrForbidden
// when they are valid for another account only.
func (b *Bridge) Authenticate(accountID, username, password string) error {
	key := b.auth.credKey(accountID, username, password)
	owner, known := b.lookupCred(key, accountID, username, password)
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

func (b *Bridge) lookupCred(key [32]byte, accountID, username, password string) (owner string, known bool) {
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
			c.checkSlow(b.opts.CheckPassword, h, password)
		}
	}
	// The account asked for first: the same username and password may be
	// another account's too, and must not then be refused here.
	for pass := range 2 {
		for _, cr := range refs {
			if (cr.accountID == accountID) != (pass == 0) {
				continue
			}
			if c.checkSlow(b.opts.CheckPassword, cr.hash, password) {
				owner = cr.accountID
				break
			}
		}
		if owner != "" {
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
