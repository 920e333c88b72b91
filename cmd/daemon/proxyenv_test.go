package daemon_test

import (
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"smppbridge/cmd/daemon"
	"smppbridge/testharness/smsc"
)

// TestIgnoredProxyWarnedAtStart: an HTTPS_PROXY that net/http will drop (a
// bare % in the password) gets one warning at start naming the variable,
// and the log holds neither the password nor the value.
func TestIgnoredProxyWarnedAtStart(t *testing.T) {
	const secret = "pr0xy%pass"
	t.Setenv("HTTPS_PROXY", "http://proxyuser:"+secret+"@proxy.example:3128")
	t.Setenv("https_proxy", "")
	// HTTP_PROXY unset: net/http reads the variables once per process, and
	// a usable proxy seen here would stay for the package's later tests.
	t.Setenv("HTTP_PROXY", "")
	t.Setenv("http_proxy", "")
	logs := &logBuffer{}
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	sim := startSim(t, smsc.Behaviour{})
	cfg := testConfig(t, sim.Addr(), filepath.Join(t.TempDir(), "bridge.db"), "")
	e := startDaemonWith(t, sim, cfg, daemon.Options{Logger: log})
	e.shutdown()

	var warned []map[string]any
	for _, name := range []string{"HTTPS_PROXY", "HTTP_PROXY"} {
		for _, rec := range logs.lines(t, name+" is ignored: callbacks go directly to their endpoints, not through the proxy") {
			warned = append(warned, rec)
		}
	}
	if len(warned) != 1 || warned[0]["variable"] != "HTTPS_PROXY" || warned[0]["level"] != "WARN" {
		t.Fatalf("want one WARN naming HTTPS_PROXY, got %v; logs:\n%s", warned, logs.String())
	}
	if r, _ := warned[0]["reason"].(string); !strings.Contains(r, "%25") {
		t.Errorf("reason %q does not say how to write the %%", r)
	}
	for _, s := range []string{secret, "proxyuser", "proxy.example"} {
		if strings.Contains(logs.String(), s) {
			t.Errorf("the log holds %q:\n%s", s, logs.String())
		}
	}
}
