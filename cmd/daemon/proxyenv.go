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
// whose value net/http will silently drop: it then sends those callbacks
// directly to their endpoints, which an operator who set a proxy (a
// firewall that only lets the proxy out) sees only as callbacks failing
// with connection errors, or worse, not failing. The value is never logged:
// it may hold the proxy's credentials.
func warnIgnoredProxies(log *slog.Logger, getenv func(string) string) {
	for _, names := range proxyVariables {
		name, value := names[0], getenv(names[0])
		if value == "" {
			name, value = names[1], getenv(names[1])
		}
		if reason := ignoredProxyReason(value); reason != "" {
			log.Warn(name+" is ignored: callbacks go directly to their endpoints, not through the proxy",
				"variable", name, "reason", reason)
		}
	}
}

// ignoredProxyReason says why net/http ignores a proxy setting, or "" when
// it uses it. It mirrors golang.org/x/net/http/httpproxy's parseProxy (as
// vendored in net/http): a value that fails url.Parse, and still fails with
// "http://" put in front, is dropped without an error. The reason names the
// kind of mistake, never a piece of the value.
func ignoredProxyReason(value string) string {
	if value == "" {
		return ""
	}
	u, err := url.Parse(value)
	if err == nil && u.Scheme != "" && u.Host != "" {
		return ""
	}
	if _, err2 := url.Parse("http://" + value); err2 == nil || err == nil {
		return ""
	}
	switch {
	case strings.ContainsFunc(value, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return "it holds a control character (a line end or tab copied into it?)"
	case badPercent(value):
		return "it is not a URL: a % must start a percent-encoded byte (write % in a user name or password as %25)"
	}
	return "it is not a URL (percent-encode special characters in the user name and password)"
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
