package daemon_test

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"smppbridge/cmd/daemon"
)

// TestEmbeddedPasswordsFreshPerRun: each run of the embedded default
// prints new random API and admin passwords, and on the same store file
// the previous run's passwords no longer open anything (a banner copied
// into a ticket or a shell history is not a lasting key). The files the
// daemon writes are readable by its user only.
func TestEmbeddedPasswordsFreshPerRun(t *testing.T) {
	dir := t.TempDir()
	run := func() (daemon.Demo, *daemon.Daemon, func()) {
		t.Helper()
		opts, demo, err := daemon.Embedded()
		if err != nil {
			t.Fatal(err)
		}
		opts.Config.HTTP.Listen, opts.Config.Admin.Listen = "127.0.0.1:0", "127.0.0.1:0"
		opts.Config.Store.Path = filepath.Join(dir, "smppbridge.db")
		ready := make(chan *daemon.Daemon, 1)
		done := make(chan error, 1)
		ctx, cancel := context.WithCancel(context.Background())
		opts.Ready = func(d *daemon.Daemon) { ready <- d }
		go func() { done <- daemon.Run(ctx, opts) }()
		var d *daemon.Daemon
		select {
		case d = <-ready:
		case err := <-done:
			cancel()
			t.Fatalf("embedded daemon did not start: %v", err)
		case <-time.After(60 * time.Second):
			cancel()
			t.Fatal("embedded daemon did not start within 60s")
		}
		stopped := false
		stop := func() {
			if stopped {
				return
			}
			stopped = true
			cancel()
			if err := <-done; err != nil {
				t.Errorf("embedded daemon stopped with %v", err)
			}
		}
		t.Cleanup(stop)
		return demo, d, stop
	}
	status := func(url, user, password string) int {
		t.Helper()
		req, _ := http.NewRequest("GET", url, nil)
		req.SetBasicAuth(user, password)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	search := func(d *daemon.Daemon) string {
		return "http://" + d.HTTPAddr() + "/api/v2/users/" + daemon.DemoAccount + "/messages?limit=1"
	}
	health := func(d *daemon.Daemon) string { return "http://" + d.AdminAddr() + "/healthz" }

	first, _, stop := run()
	stop()
	second, d, _ := run()
	if first.Password == second.Password || first.AdminPassword == second.AdminPassword || second.Password == second.AdminPassword {
		t.Fatalf("passwords repeat: first %+v, second %+v", first, second)
	}
	if len(second.Password) < 16 || len(second.AdminPassword) < 16 {
		t.Errorf("short passwords: %+v", second)
	}
	if s := status(search(d), daemon.DemoUsername, first.Password); s != http.StatusUnauthorized {
		t.Errorf("the previous run's API password: %d, want 401", s)
	}
	if s := status(search(d), daemon.DemoUsername, second.Password); s != http.StatusOK {
		t.Errorf("this run's API password: %d, want 200", s)
	}
	if s := status(health(d), daemon.DemoAdminUser, first.AdminPassword); s != http.StatusUnauthorized {
		t.Errorf("the previous run's admin password: %d, want 401", s)
	}
	if s := status(health(d), daemon.DemoAdminUser, second.AdminPassword); s != http.StatusOK {
		t.Errorf("this run's admin password: %d, want 200", s)
	}

	err := filepath.Walk(dir, func(path string, fi os.FileInfo, err error) error {
		if err != nil || path == dir {
			return err
		}
		if perm := fi.Mode().Perm(); perm&0o077 != 0 {
			t.Errorf("%s has mode %v: readable by others than the daemon's user", path, perm)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
