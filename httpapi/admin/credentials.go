package admin

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"sync/atomic"
)

// Credentials are the admin credentials that both admin surfaces check: the
// management API under /v1/ and the admin listener's health and metrics
// endpoints. Set replaces them, so a reload rotates a leaked admin password
// without a restart.
type Credentials struct {
	check func(hash, password string) bool
	// macKey is random per process: what passed is remembered as an HMAC
	// under it, not as a plain hash a memory dump could be searched against.
	macKey [32]byte
	cur    atomic.Pointer[credState]
}

type credState struct {
	username, hash string
	verified       atomic.Pointer[[32]byte] // the last credentials that passed
}

// NewCredentials holds username and hash (conf's password hash format),
// checked with check. Empty ones: not configured.
func NewCredentials(username, hash string, check func(hash, password string) bool) *Credentials {
	c := &Credentials{check: check}
	rand.Read(c.macKey[:]) // never fails (crypto/rand panics rather than return weak bytes)
	c.cur.Store(&credState{username: username, hash: hash})
	return c
}

// Set replaces the credentials and reports whether they changed; clients
// verified before verify again.
func (c *Credentials) Set(username, hash string) bool {
	if s := c.cur.Load(); s.username == username && s.hash == hash {
		return false
	}
	c.cur.Store(&credState{username: username, hash: hash})
	return true
}

// Configured reports whether admin credentials are set.
func (c *Credentials) Configured() bool {
	s := c.cur.Load()
	return s.username != "" && s.hash != "" && c.check != nil
}

// Verify reports whether r carries the admin credentials. The slow password
// hash runs once per admin client (what passed is then remembered), and for
// a wrong username as for a wrong password, so the time taken does not tell
// the username; usernames are compared as hashes (fixed length), so neither
// does their length.
func (c *Credentials) Verify(r *http.Request) bool {
	s := c.cur.Load()
	user, pass, ok := r.BasicAuth()
	if !ok || s.username == "" || s.hash == "" || c.check == nil {
		return false
	}
	m := hmac.New(sha256.New, c.macKey[:])
	n := len(user)
	m.Write([]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)})
	m.Write([]byte(user))
	m.Write([]byte(pass))
	var key [32]byte
	m.Sum(key[:0])
	if v := s.verified.Load(); v != nil && subtle.ConstantTimeCompare(v[:], key[:]) == 1 {
		return true
	}
	userHash, wantHash := sha256.Sum256([]byte(user)), sha256.Sum256([]byte(s.username))
	userOK := subtle.ConstantTimeCompare(userHash[:], wantHash[:]) == 1
	if passOK := c.check(s.hash, pass); !userOK || !passOK {
		return false
	}
	s.verified.Store(&key)
	return true
}
