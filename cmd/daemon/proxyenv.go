package daemon

import (
	"log/slog"
	"net/url"
	"strings"
)

// proxyVariables are the environment variables net/http reads for callbacks
// sent through a proxy, in the order it reads them: for each scheme the
// upper-case name wins when both are set.
var proxyVariables = [][2]string{{"HTTP_PROXY", "http_proxy"}, {"HTTPS_PROXY", "https_proxy"}}

// warnIgnoredProxies logs one warning for each proxy variable in effect
// whose value url.Parse refuses. net/http then either drops it silently
// and sends those callbacks directly to their endpoints (an operator whose
// firewall only lets the proxy out sees only connection errors, or worse,
// nothing), or reads it with "http://" put in front, which for a value
// that had a scheme names a proxy host after the scheme, so every
// callback through it fails with a puzzling "lookup http". The value is
// never logged: it may hold the proxy's credentials.
func warnIgnoredProxies(log *slog.Logger, getenv func(string) string) {
	for _, names := range proxyVariables {
		name, value := names[0], getenv(names[0])
		if value == "" {
			name, value = names[1], getenv(names[1])
		}
		switch effect, reason := proxyProblem(value); effect {
		case proxyIgnored:
			log.Warn(name+" is ignored: callbacks go directly to their endpoints, not through the proxy",
				"variable", name, "reason", reason)
		case proxyMisread:
			log.Warn(name+" is not a valid URL: Go reads it as a proxy on a host named after its scheme, so callbacks through it fail",
				"variable", name, "reason", reason)
		}
	}
}

// What net/http makes of a proxy variable's value.
const (
	proxyUsed    = iota // as written (or with "http://" put in front of a bare host:port)
	proxyIgnored        // dropped without an error: no proxy
	proxyMisread        // a different, broken proxy URL
)

// proxyProblem says what net/http does with value, and for a value it does
// not use as written why, naming the kind of mistake and never a piece of
// the value. It mirrors golang.org/x/net/http/httpproxy's parseProxy (as
// vendored in net/http): a value that fails url.Parse is tried again with
// "http://" in front, and dropped when that fails too.
func proxyProblem(value string) (effect int, reason string) {
	if value == "" {
		return proxyUsed, ""
	}
	if _, err := url.Parse(value); err == nil {
		return proxyUsed, ""
	}
	_, err := url.Parse("http://" + value)
	switch {
	case err != nil:
		effect = proxyIgnored
	case strings.Contains(value, "://"):
		effect = proxyMisread // "http://http://…": the host is "http:"
	default:
		return proxyUsed, "" // "[::1]:3128" and the like: read as meant
	}
	switch {
	case strings.ContainsFunc(value, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return effect, "it holds a control character (a line end or tab copied into it?)"
	case badPercent(value):
		return effect, "it is not a URL: a % must start a percent-encoded byte (write % in a user name or password as %25)"
	case strings.Contains(value, " "):
		return effect, "it holds a space (at its end, or in the user name or password: write it as %20)"
	}
	return effect, "it is not a URL (percent-encode special characters in the user name and password)"
}

// badPercent reports a % not followed by two hex digits.
func badPercent(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			continue
		}
		if i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
			return true
		}
		i += 2
	}
	return false
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}
