package conf

import (
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

const (
	hashScheme     = "pbkdf2-sha256"
	hashIterations = 600000 // OWASP's 2023 figure for PBKDF2-HMAC-SHA-256
	hashSaltLen    = 16
	hashKeyLen     = 32

	// Bounds on hashes from elsewhere: below 1000 iterations a hash gives
	// little protection, and above 10M one login costs seconds of CPU.
	minIterations = 1000
	maxIterations = 10000000

	minPassword = 8 // characters, for plaintext bootstrap passwords and HashPassword
)

// HashPassword returns a password_hash for pw in the format of the package
// doc.
func HashPassword(pw string) (string, error) {
	if utf8.RuneCountInString(pw) < minPassword {
		return "", fmt.Errorf("conf: password must be at least %d characters", minPassword)
	}
	salt := make([]byte, hashSaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	key, err := pbkdf2.Key(sha256.New, pw, salt, hashIterations, hashKeyLen)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%s$%d$%s$%s", hashScheme, hashIterations,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key)), nil
}

// CheckPassword reports whether pw matches hash, comparing in constant time.
// A malformed hash matches nothing.
func CheckPassword(hash, pw string) bool {
	h, err := parseHash(hash)
	if err != nil {
		return false
	}
	key, err := pbkdf2.Key(sha256.New, pw, h.salt, h.iterations, len(h.key))
	if err != nil {
		return false
	}
	return subtle.ConstantTimeCompare(key, h.key) == 1
}

type passwordHash struct {
	iterations int
	salt, key  []byte
}

// parseHash checks the shape of a password_hash; its errors say what is
// wrong without quoting the hash, which is a secret too.
func parseHash(s string) (passwordHash, error) {
	var h passwordHash
	parts := strings.Split(s, "$")
	if len(parts) != 4 || parts[0] != hashScheme {
		return h, errors.New(`must be "pbkdf2-sha256$<iterations>$<base64 salt>$<base64 key>"`)
	}
	n, err := strconv.Atoi(parts[1])
	if err != nil || n < minIterations || n > maxIterations {
		return h, fmt.Errorf("iterations must be a number from %d to %d", minIterations, maxIterations)
	}
	h.iterations = n
	if h.salt, err = decodeB64(parts[2]); err != nil || len(h.salt) < 8 {
		return h, errors.New("salt must be base64 of at least 8 bytes")
	}
	if h.key, err = decodeB64(parts[3]); err != nil || len(h.key) < 16 || len(h.key) > 64 {
		return h, errors.New("key must be base64 of 16 to 64 bytes")
	}
	return h, nil
}

// decodeB64 reads standard base64 with or without padding.
func decodeB64(s string) ([]byte, error) {
	return base64.RawStdEncoding.DecodeString(strings.TrimRight(s, "="))
}

// equalSecret compares two secrets in time that depends on neither: hashing
// first hides the length as well as the contents.
func equalSecret(a, b string) bool {
	ha, hb := sha256.Sum256([]byte(a)), sha256.Sum256([]byte(b))
	return subtle.ConstantTimeCompare(ha[:], hb[:]) == 1
}
