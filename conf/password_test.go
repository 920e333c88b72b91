package conf

import (
	"regexp"
	"strings"
	"testing"
)

// fastHash is "correct horse" at 1000 iterations, made by Python's
// hashlib.pbkdf2_hmac, so most cases skip the 600000-iteration cost
// (seconds under -race).
const fastHash = "pbkdf2-sha256$1000$AAECAwQFBgcICQoLDA0ODw$yRTMTwbMbo9G0VfjobWqerzuuxe7BETNTErBbKKumGQ"

func TestHashPassword(t *testing.T) {
	h, err := HashPassword("correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^pbkdf2-sha256\$600000\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$`).MatchString(h) {
		t.Errorf("hash %q is not in the documented format", h)
	}
	if _, err := parseHash(h); err != nil {
		t.Errorf("own hash fails validation: %v", err)
	}
	if !CheckPassword(h, "correct horse") {
		t.Error("CheckPassword rejects the password HashPassword hashed")
	}
	// Wrong passwords are in TestCheckPassword, on a cheaper hash.
	h2, err := HashPassword("correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if h == h2 {
		t.Error("two hashes of one password are equal: the salt is not random")
	}
	if _, err := HashPassword("short"); err == nil {
		t.Error("HashPassword accepted a 5-character password")
	}
}

func TestCheckPassword(t *testing.T) {
	cases := []struct {
		name string
		hash string
		pw   string
		want bool
	}{
		{"right", fastHash, "correct horse", true},
		{"wrong", fastHash, "correct horse!", false},
		{"empty", fastHash, "", false},
		{"case", fastHash, "Correct horse", false},
		{"padded", strings.Replace(fastHash, "Dw$", "Dw==$", 1) + "=", "correct horse", true},
		{"malformed", "pbkdf2-sha256$1000$x", "correct horse", false},
		{"other scheme", strings.Replace(fastHash, "pbkdf2-sha256", "pbkdf2-sha1", 1), "correct horse", false},
		{"too many iterations", strings.Replace(fastHash, "$1000$", "$100000000$", 1), "correct horse", false},
		{"other iterations", strings.Replace(fastHash, "$1000$", "$1001$", 1), "correct horse", false},
		// From another implementation, padded, 12-byte salt: Python's
		// hashlib.pbkdf2_hmac("sha256", b"password", b"saltsaltsalt", 1000).
		{"other tool", "pbkdf2-sha256$1000$c2FsdHNhbHRzYWx0$sYIePhT5IXESDKvnouJXtE5pTJ6Znbmef4vViYmc9Uc=", "password", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := CheckPassword(c.hash, c.pw); got != c.want {
				t.Errorf("CheckPassword = %v, want %v", got, c.want)
			}
		})
	}

	cr := Credential{Username: "api", PasswordHash: fastHash}
	if !cr.Check("correct horse") || cr.Check("wrong horse") {
		t.Error("Credential.Check with a hash is wrong")
	}
	if (&Credential{}).Check("") {
		t.Error("a credential without a password matched the empty password")
	}
}

func TestParseHash(t *testing.T) {
	salt8, key16 := "AAAAAAAAAAA", "AAAAAAAAAAAAAAAAAAAAAA"
	cases := []struct {
		hash string
		want string // error substring; "" for valid
	}{
		{"pbkdf2-sha256$1000$" + salt8 + "$" + key16, ""},
		{"pbkdf2-sha256$999$" + salt8 + "$" + key16, "iterations"},
		{"pbkdf2-sha256$1e6$" + salt8 + "$" + key16, "iterations"},
		{"pbkdf2-sha256$1000$AAAA$" + key16, "salt"},
		{"pbkdf2-sha256$1000$" + salt8 + "$AAAA", "key"},
		{"pbkdf2-sha256$1000$" + salt8 + "$" + strings.Repeat("A", 90), "key"},
		{"pbkdf2-sha256$1000$!!!!!!!!!!!$" + key16, "salt"},
		{"$pbkdf2-sha256$1000$" + salt8 + "$" + key16, "must be"},
		{"pbkdf2-sha256$1000$" + salt8 + "$" + key16 + "$", "must be"},
	}
	for _, c := range cases {
		t.Run(c.hash, func(t *testing.T) {
			_, err := parseHash(c.hash)
			switch {
			case c.want == "" && err != nil:
				t.Errorf("unexpected error %v", err)
			case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
				t.Errorf("error %v, want one about %s", err, c.want)
			}
		})
	}
}
