package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"smppbridge/conf"
)

// verifyUnit runs systemd-analyze verify on a unit text whose ExecStart
// binary is replaced by an existing executable (verify checks that it
// exists). Anything it prints counts as a failure: unknown keys and bad
// values are only warnings to systemd.
func verifyUnit(t *testing.T, analyze, unit string) (string, bool) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "smppbridge.service")
	if err := os.WriteFile(path, []byte(strings.ReplaceAll(unit, "/usr/local/bin/smppbridge", exe)), 0o644); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	cmd := exec.Command(analyze, "verify", path)
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.Env = append(os.Environ(), "SYSTEMD_LOG_COLOR=0")
	err = cmd.Run()
	return out.String(), err == nil && strings.TrimSpace(out.String()) == ""
}

// TestUnitFileVerifies: the shipped unit passes systemd-analyze verify
// without a warning, keeps its hardening, and gives SIGTERM more time than
// the drain budget.
func TestUnitFileVerifies(t *testing.T) {
	raw, err := os.ReadFile("smppbridge.service")
	if err != nil {
		t.Fatal(err)
	}
	unit := string(raw)
	for _, want := range []string{"Type=notify", "DynamicUser=yes", "ProtectSystem=strict", "ReadWritePaths=/var/lib/smppbridge",
		"NoNewPrivileges=yes", "Restart=on-failure", "ExecReload=/bin/kill -HUP $MAINPID", "-check-config"} {
		if !strings.Contains(unit, want) {
			t.Errorf("unit lacks %q", want)
		}
	}
	var stop time.Duration
	for _, line := range strings.Split(unit, "\n") {
		if v, ok := strings.CutPrefix(line, "TimeoutStopSec="); ok {
			if stop, err = time.ParseDuration(v); err != nil {
				t.Fatalf("TimeoutStopSec=%s: %v", v, err)
			}
		}
	}
	if drain := conf.Defaults().API.ShutdownTimeout.Std(); stop < drain+5*time.Second {
		t.Errorf("TimeoutStopSec %v is not above the drain budget %v with a margin", stop, drain)
	}

	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		// .ci/run installs systemd; only a machine without it gets here.
		t.Skip("systemd-analyze not installed (apt-get install systemd): unit file not verified")
	}
	if out, ok := verifyUnit(t, analyze, unit); !ok {
		t.Fatalf("systemd-analyze verify:\n%s", out)
	}
	// The check is not vacuous: a misspelt key fails it.
	if out, ok := verifyUnit(t, analyze, strings.Replace(unit, "ProtectSystem=strict", "ProtectSystem=strict\nProtectSystm=yes", 1)); ok {
		t.Fatalf("a unit with an unknown key passed verify: %q", out)
	}
}
