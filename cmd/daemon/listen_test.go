package daemon_test

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"smppbridge/cmd/daemon"
	"smppbridge/testharness/smsc"
)

// TestListenerInUse: a listen address another process holds stops the
// start with the key to change and the likely cause, before the store is
// opened or any carrier bound (a restart loop under systemd would bind and
// unbind the carrier every two seconds).
func TestListenerInUse(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	sim := startSim(t, smsc.Behaviour{})
	for _, key := range []string{"http.listen", "admin.listen"} {
		dbPath := filepath.Join(t.TempDir(), "bridge.db")
		cfg := testConfig(t, sim.Addr(), dbPath, "")
		if key == "http.listen" {
			cfg.HTTP.Listen = busy.Addr().String()
		} else {
			cfg.Admin.Listen = busy.Addr().String()
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		err := daemon.Run(ctx, daemon.Options{Config: cfg, Ready: func(*daemon.Daemon) { cancel() }})
		cancel()
		if err == nil {
			t.Fatalf("%s: started on a port in use", key)
		}
		if n := sim.Stats().Binds; n != 0 {
			t.Errorf("%s: the carrier saw %d binds from a start that could not listen", key, n)
		}
		if _, err := os.Stat(dbPath); !os.IsNotExist(err) {
			t.Errorf("%s: the store was opened (%v)", key, err)
		}
		for _, want := range []string{key + ": ", busy.Addr().String(), "address already in use", "another process listens there", "choose another " + key} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%s: error %q lacks %q", key, err, want)
			}
		}
	}
}
