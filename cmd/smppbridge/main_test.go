package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"smppbridge/conf"
)

func TestCheckConfig(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"-check-config", "../../conf/testdata/example.toml"}, &out, &errb); code != 0 {
		t.Fatalf("valid config: exit %d, %s", code, errb.String())
	}
	if !strings.Contains(out.String(), "ok") {
		t.Fatalf("output %q", out.String())
	}
	out.Reset()
	errb.Reset()
	if code := run([]string{"-check-config", "../../conf/testdata/bad_window_zero.toml"}, &out, &errb); code != 1 {
		t.Fatalf("invalid config: exit %d", code)
	}
	if !strings.Contains(errb.String(), "carrier[0].window") {
		t.Fatalf("error does not name the key: %q", errb.String())
	}
}

// TestCheckConfigReadsFiles: -check-config (the unit's ExecStartPre, and
// what docs/operations.md says to run before a restart) fails on a file the
// configuration names that the start could not read, with its key path.
func TestCheckConfigReadsFiles(t *testing.T) {
	example, err := os.ReadFile("../../conf/testdata/example.toml")
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Replace(string(example), "routes = [", "tls = true\ntls_ca_file = \"missing-ca.pem\"\nroutes = [", 1)
	path := filepath.Join(t.TempDir(), "smppbridge.toml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	code := run([]string{"-check-config", path}, &out, &errb)
	want := path + ": carrier[0].tls_ca_file: open " + filepath.Join(filepath.Dir(path), "missing-ca.pem") + ": no such file or directory"
	if code != 1 || !strings.Contains(errb.String(), want) || out.Len() != 0 {
		t.Fatalf("exit %d, stdout %q, stderr %q; want 1 and %q", code, out.String(), errb.String(), want)
	}
}

// TestUnreadableConfigHint: a configuration the service's user cannot read
// says what to do; other errors pass unchanged. (The tests may run as root,
// which reads any file, so the error is made here; run as another user,
// -check-config on a 0640 root:root file prints it.)
func TestUnreadableConfigHint(t *testing.T) {
	denied := fmt.Errorf("wrapped: %w", &fs.PathError{Op: "open", Path: "/etc/smppbridge/smppbridge.toml", Err: syscall.EACCES})
	got := readHint(denied)
	if !errors.Is(got, fs.ErrPermission) || !strings.Contains(got.Error(), "permission denied: the user smppbridge runs as must be able to read it") {
		t.Errorf("hint: %v", got)
	}
	other := &fs.PathError{Op: "open", Path: "x", Err: syscall.ENOENT}
	if got := readHint(other); got != error(other) {
		t.Errorf("other error changed: %v", got)
	}
	if readHint(nil) != nil {
		t.Error("nil changed")
	}
}

func TestUsage(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"-h"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d", code)
	}
	if !strings.Contains(errb.String(), "-check-config") || !strings.Contains(errb.String(), "SIGTERM") {
		t.Fatalf("usage: %s", errb.String())
	}
	if code := run([]string{"-nope"}, &out, &errb); code != 2 {
		t.Fatalf("unknown flag: exit %d", code)
	}
}

// TestStrayArgument: a file name given without -config (or a second one
// after -check-config), or an empty -config, is a bad command line, not a
// start of the embedded demo on the default ports with the operator's file
// ignored.
func TestStrayArgument(t *testing.T) {
	for _, args := range [][]string{
		{"../../conf/testdata/example.toml"},
		{"-log-level", "debug", "../../conf/testdata/example.toml"},
		{"-check-config", "../../conf/testdata/example.toml", "../../conf/testdata/bad_window_zero.toml"},
		{"-config", ""}, // -config "$UNSET"
		{"-config=", "-log-level", "debug"},
		{"-check-config", ""},
	} {
		var out, errb bytes.Buffer
		code := run(args, &out, &errb)
		if code != 2 || !strings.Contains(errb.String(), "unexpected argument") && !strings.Contains(errb.String(), "need a file name") {
			t.Errorf("%v: exit %d, stderr %q, stdout %q; want exit 2 naming the argument and -config FILE", args, code, errb.String(), out.String())
		}
		if out.Len() != 0 {
			t.Errorf("%v: printed %q on stdout (the demo banner?)", args, out.String())
		}
	}
}

// TestSdNotify sends READY=1 to a real unixgram socket, as systemd reads it.
func TestSdNotify(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notify.sock")
	ln, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	t.Setenv("NOTIFY_SOCKET", path)
	if err := sdNotify("READY=1"); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	ln.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err := ln.Read(buf)
	if err != nil || string(buf[:n]) != "READY=1" {
		t.Fatalf("got %q, %v", buf[:n], err)
	}
	t.Setenv("NOTIFY_SOCKET", "")
	if err := sdNotify("READY=1"); err != nil {
		t.Fatalf("without a socket: %v", err)
	}
}

// TestLogFlags: bad -log-format and -log-level values stop the start with
// a clear message and exit 2, a bad command line (docs/operations.md);
// good ones build the handler asked for.
func TestLogFlags(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-log-format", "xml"}, `log format "xml"`},
		{[]string{"-log-level", "loud"}, `log level "loud"`},
	} {
		var out, errb bytes.Buffer
		args := append(c.args, "-config", "../../conf/testdata/example.toml")
		if code := run(args, &out, &errb); code != 2 || !strings.Contains(errb.String(), c.want) {
			t.Errorf("%v: exit %d, %q; want 2 and %q", c.args, code, errb.String(), c.want)
		}
	}
	var buf bytes.Buffer
	log, err := newLogger(conf.Log{Format: "json", Level: "warn"}, new(slog.LevelVar), &buf)
	if err != nil {
		t.Fatal(err)
	}
	log.Info("hidden")
	log.Warn("shown", "request_id", "r1")
	var rec map[string]any
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil || rec["msg"] != "shown" || rec["request_id"] != "r1" {
		t.Fatalf("json log %q: %v", buf.String(), err)
	}
}

// TestHelpMatchesDocs: -help is the manual page, and every flag it lists
// is documented in docs/operations.md.
func TestHelpMatchesDocs(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"-help"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d", code)
	}
	help := errb.String()
	for _, section := range []string{"NAME", "SYNOPSIS", "DESCRIPTION", "SIGNALS", "SIGHUP", "EXIT STATUS", "FILES", "OPTIONS"} {
		if !strings.Contains(help, section) {
			t.Errorf("-help lacks %s", section)
		}
	}
	doc, err := os.ReadFile("../../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	flags := regexp.MustCompile(`(?m)^  (-[a-z-]+)`).FindAllStringSubmatch(help[strings.Index(help, "OPTIONS"):], -1)
	if len(flags) < 4 {
		t.Fatalf("found %d flags in -help:\n%s", len(flags), help)
	}
	for _, f := range flags {
		if !strings.Contains(string(doc), "`"+f[1]) {
			t.Errorf("flag %s is not documented in docs/operations.md", f[1])
		}
	}
}

// TestVersion: -version prints the build on one line and exits 0 without
// starting anything.
func TestVersion(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"-version"}, &out, &errb); code != 0 || errb.Len() != 0 {
		t.Fatalf("exit %d, stderr %q", code, errb.String())
	}
	line := out.String()
	if !strings.HasPrefix(line, "smppbridge ") || !strings.HasSuffix(line, runtime.Version()+"\n") || strings.Count(line, "\n") != 1 {
		t.Fatalf("-version printed %q", line)
	}
}
