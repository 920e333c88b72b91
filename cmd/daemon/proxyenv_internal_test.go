package daemon

import (
	"context"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// proxyValues: settings operators write, with whether net/http drops them.
var proxyValues = []struct {
	value   string
	ignored bool
}{
	{"http://proxy.example:3128", false},
	{"proxy.example:3128", false},                        // no scheme: net/http puts http:// in front
	{"http://alice:p%40ss@proxy.example:3128", false},    // @ in the password, encoded
	{"http://alice:p%ss@proxy.example:3128", true},       // a bare % in the password
	{"http://alice:secret@proxy.example:3128\r", true},   // a line end from an edited file
	{"http://alice:secret@proxy.example:3128\t", true},   // a tab
	{"http://alice:100%@proxy.example:3128", true},       // a % at the end of the password
	{"http://alice:s3cret@proxy.example:3128/%zz", true}, // a bad escape in the path
}

// TestIgnoredProxyReason: the values net/http drops are found, with a reason
// that holds no piece of the value.
func TestIgnoredProxyReason(t *testing.T) {
	for _, c := range proxyValues {
		reason := ignoredProxyReason(c.value)
		if (reason != "") != c.ignored {
			t.Errorf("%q: reason %q, want ignored=%v", c.value, reason, c.ignored)
		}
		for _, secret := range []string{"secret", "s3cret", "p%ss", "alice"} {
			if strings.Contains(reason, secret) {
				t.Errorf("%q: the reason %q holds %q", c.value, reason, secret)
			}
		}
	}
	if ignoredProxyReason("") != "" {
		t.Error("unset: reported as ignored")
	}
}

const proxyEnvChild = "SMPPBRIDGE_PROXYENV_CHILD"

// TestIgnoredProxyMatchesNetHTTP runs each value through net/http's own
// ProxyFromEnvironment, in a child process each (it reads the environment
// once per process): a value ignoredProxyReason flags is one net/http drops
// without an error, sending the request directly; the others it uses.
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
		direct := strings.Contains(string(out), "PROXY=direct")
		used := strings.Contains(string(out), "PROXY=used")
		if direct == used {
			t.Fatalf("%q: child said neither or both:\n%s", c.value, out)
		}
		if direct != c.ignored {
			t.Errorf("%q: net/http goes direct=%v, the table says ignored=%v", c.value, direct, c.ignored)
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
		t.Log("PROXY=used")
	default:
		t.Logf("PROXY=error %v", err)
	}
}
