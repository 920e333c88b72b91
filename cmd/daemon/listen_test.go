package daemon_test

import (
	"context"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"smppbridge/cmd/daemon"
	"smppbridge/testharness/smsc"
)

// TestListenerInUse: a listen address another process holds stops the
// start with the key to change and the likely cause.
func TestListenerInUse(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	sim := startSim(t, smsc.Behaviour{})
	for _, key := range []string{"http.listen", "admin.listen"} {
		cfg := testConfig(t, sim.Addr(), filepath.Join(t.TempDir(), "bridge.db"), "")
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
		for _, want := range []string{key + ": ", busy.Addr().String(), "address already in use", "another process listens there", "choose another " + key} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%s: error %q lacks %q", key, err, want)
			}
		}
	}
}
