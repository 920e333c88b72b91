package daemon

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// proxyValues: settings operators write, with what net/http makes of them.
var proxyValues = []struct {
	value  string
	effect int
}{
	{"http://proxy.example:3128", proxyUsed},
	{"proxy.example:3128", proxyUsed},                          // no scheme: net/http puts http:// in front
	{"[::1]:3128", proxyUsed},                                  // url.Parse refuses it; with http:// it is right
	{"http://alice:p%40ss@proxy.example:3128", proxyUsed},      // @ in the password, encoded
	{"http://alice:p%ss@proxy.example:3128", proxyIgnored},     // a bare % in the password
	{"http://alice:secret@proxy.example:3128\r", proxyIgnored}, // a line end from an edited file
	{"http://alice:secret@proxy.example:3128\t", proxyIgnored}, // a tab
	{"http://alice:100%@proxy.example:3128", proxyIgnored},     // a % at the end of the password
	{"http://alice:s3cret@proxy.example:3128/%zz", proxyIgnored},
	{"http://alice:secret@proxy.example:3128 ", proxyMisread}, // a trailing space
	{"http://al ice:secret@proxy.example:3128", proxyMisread}, // a space in the user name
}

// TestProxyProblem: the values net/http does not use as written are found,
// with a reason that holds no piece of the value.
func TestProxyProblem(t *testing.T) {
	for _, c := range proxyValues {
		effect, reason := proxyProblem(c.value)
		if effect != c.effect || (reason != "") != (c.effect != proxyUsed) {
			t.Errorf("%q: effect %d, reason %q; want effect %d", c.value, effect, reason, c.effect)
		}
		for _, secret := range []string{"secret", "s3cret", "p%ss", "alice", "proxy.example"} {
			if strings.Contains(reason, secret) {
				t.Errorf("%q: the reason %q holds %q", c.value, reason, secret)
			}
		}
	}
	if effect, reason := proxyProblem(""); effect != proxyUsed || reason != "" {
		t.Error("unset: reported")
	}
}

const proxyEnvChild = "SMPPBRIDGE_PROXYENV_CHILD"

// TestIgnoredProxyMatchesNetHTTP runs each value through net/http's own
// ProxyFromEnvironment, in a child process each (it reads the environment
// once per process): a value proxyProblem calls ignored is one net/http
// drops without an error, sending the request directly; one it calls
// misread gets a proxy on the host "http:"; the others the proxy meant.
func TestIgnoredProxyMatchesNetHTTP(t *testing.T) {
	if os.Getenv(proxyEnvChild) != "" {
		return // the child's work is in TestIgnoredProxyChild
	}
	for _, c := range proxyValues {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestIgnoredProxyChild$", "-test.v=true")
		cmd.Env = append(os.Environ(), proxyEnvChild+"=1", "HTTP_PROXY="+c.value, "http_proxy=", "NO_PROXY=", "no_proxy=", "REQUEST_METHOD=")
		out, err := cmd.CombinedOutput()
		cancel()
		if err != nil {
			t.Fatalf("%q: child: %v\n%s", c.value, err, out)
		}
		m := regexp.MustCompile(`PROXY=(direct|used host=(\S*))`).FindStringSubmatch(string(out))
		if m == nil {
			t.Fatalf("%q: child said neither direct nor used:\n%s", c.value, out)
		}
		got := proxyUsed
		switch {
		case m[1] == "direct":
			got = proxyIgnored
		case m[2] == "http:":
			got = proxyMisread
		}
		if got != c.effect {
			t.Errorf("%q: net/http: %s, so effect %d; proxyProblem's table says %d", c.value, m[0], got, c.effect)
		}
	}
}

// TestIgnoredProxyChild reports what net/http does with this process's
// HTTP_PROXY for a URL that is not loopback (loopback is never proxied).
func TestIgnoredProxyChild(t *testing.T) {
	if os.Getenv(proxyEnvChild) == "" {
		t.Skip("runs as the child of TestIgnoredProxyMatchesNetHTTP")
	}
	u, _ := url.Parse("http://callbacks.example/cb")
	p, err := http.ProxyFromEnvironment(&http.Request{URL: u})
	switch {
	case p == nil && err == nil:
		t.Log("PROXY=direct")
	case p != nil && err == nil:
		t.Logf("PROXY=used host=%s", p.Host)
	default:
		t.Logf("PROXY=error %v", err)
	}
}

// TestWarnNamesTheVariableInEffect: net/http reads HTTPS_PROXY before
// https_proxy; the warning names the one it reads, once per scheme.
func TestWarnNamesTheVariableInEffect(t *testing.T) {
	for _, c := range []struct {
		env  map[string]string
		want []string
	}{
		{map[string]string{"https_proxy": "http://a:p%ss@proxy.example:1"}, []string{"https_proxy"}},
		{map[string]string{"HTTPS_PROXY": "http://proxy.example:1", "https_proxy": "http://a:p%ss@proxy.example:1"}, nil},
		{map[string]string{"HTTP_PROXY": "http://a:p%ss@proxy.example:1", "http_proxy": "http://proxy.example:1"}, []string{"HTTP_PROXY"}},
		{map[string]string{"HTTP_PROXY": "http://proxy.example:1 ", "https_proxy": "http://proxy.example:1\r"}, []string{"HTTP_PROXY", "https_proxy"}},
	} {
		var buf bytes.Buffer
		warnIgnoredProxies(slog.New(slog.NewJSONHandler(&buf, nil)), func(k string) string { return c.env[k] })
		var got []string
		for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
			var rec struct{ Variable string }
			if line != "" && json.Unmarshal([]byte(line), &rec) == nil {
				got = append(got, rec.Variable)
			}
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("%v: warned about %v, want %v", c.env, got, c.want)
		}
		if strings.Contains(buf.String(), "p%ss") || strings.Contains(buf.String(), "proxy.example") {
			t.Errorf("%v: the log holds the value: %s", c.env, buf.String())
		}
	}
}
