package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"smppbridge/cmd/daemon"
	"smppbridge/conf"
	"smppbridge/testharness/smsc"
)

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestReloadLoop: what SIGHUP triggers. An invalid file is refused and
// logged with its error and the running configuration stays; a valid one
// with a new rate is applied.
func TestReloadLoop(t *testing.T) {
	sim, err := smsc.Start(smsc.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	dir := t.TempDir()
	path := filepath.Join(dir, "smppbridge.toml")
	logLevel := "info"
	write := func(rate string) {
		t.Helper()
		toml := fmt.Sprintf(`
[http]
listen = "127.0.0.1:0"
[admin]
listen = "127.0.0.1:0"
[store]
path = %q
[log]
level = %q
[[carrier]]
name = "sim"
address = %q
system_id = "bridge"
password = "secret"
segments_per_second = %s
routes = ["+1"]
[[account]]
id = "9900000"
  [[account.credential]]
  username = "api"
  password_hash = "pbkdf2-sha256$1000$MDEyMzQ1Njc4OWFiY2RlZg==$0000000000000000000000000000000000000000000="
  [[account.application]]
  id = "app-1"
  callback_url = "http://127.0.0.1:9/callbacks"
  numbers = ["+15550001111"]
`, filepath.Join(dir, "bridge.db"), logLevel, sim.Addr(), rate)
		if err := os.WriteFile(path, []byte(toml), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("100")
	cfg, err := conf.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	level := new(slog.LevelVar)
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: level}))
	ctx, cancel := context.WithCancel(context.Background())
	running := make(chan *daemon.Daemon, 1)
	done := make(chan error, 1)
	go func() {
		done <- daemon.Run(ctx, daemon.Options{Config: cfg, Logger: log, Ready: func(d *daemon.Daemon) { running <- d }})
	}()
	defer func() { cancel(); <-done }()
	var d *daemon.Daemon
	select {
	case d = <-running:
	case err := <-done:
		t.Fatalf("daemon: %v", err)
	}
	loopRunning := make(chan *daemon.Daemon, 1)
	loopRunning <- d
	reloads := make(chan struct{}, 1)
	go reloadLoop(ctx, path, loopRunning, reloads, log, level)

	rate := func() float64 { return d.CurrentPools()[0].Stats().Rate }
	waitLog := func(what string) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for !strings.Contains(logs.String(), what) {
			if time.Now().After(deadline) {
				t.Fatalf("no %q in the log:\n%s", what, logs.String())
			}
			time.Sleep(10 * time.Millisecond) // polling, bounded by the deadline
		}
	}

	write("-5") // invalid: a negative rate
	reloads <- struct{}{}
	waitLog("configuration not reloaded")
	if !strings.Contains(logs.String(), "segments_per_second") {
		t.Fatalf("the refusal does not name the key:\n%s", logs.String())
	}
	if got := rate(); got != 100 {
		t.Fatalf("rate %v after a refused reload, want 100", got)
	}

	logLevel = "warn"
	write("250")
	reloads <- struct{}{}
	waitLog("configuration reloaded")
	if got := rate(); got != 250 {
		t.Fatalf("rate %v after reload, want 250", got)
	}
	// The level applies after the reload logged its success at info.
	deadline := time.Now().Add(20 * time.Second)
	for level.Level() != slog.LevelWarn {
		if time.Now().After(deadline) {
			t.Fatalf("log level %v after reload, want WARN", level.Level())
		}
		time.Sleep(10 * time.Millisecond) // polling, bounded by the deadline
	}
}
