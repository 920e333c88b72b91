package daemon_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"smppbridge/cmd/daemon"
	"smppbridge/store"
	"smppbridge/testharness/smsc"
)

// TestStoreOpenErrorsSayWhatToDo: the start-up errors an operator meets
// with store.path name the key and the likely cause instead of bbolt's
// bare "timeout" or a path given twice.
func TestStoreOpenErrorsSayWhatToDo(t *testing.T) {
	sim := startSim(t, smsc.Behaviour{})
	dir := t.TempDir()
	locked := filepath.Join(dir, "locked.db")
	other, err := store.Open(locked, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	garbage := filepath.Join(dir, "garbage.db")
	if err := os.WriteFile(garbage, bytes.Repeat([]byte("not a database "), 1000), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		path string
		want []string
	}{
		{garbage, []string{"store.path", "not a store file, or a damaged one", "restore it from a backup"}},
		{locked, []string{"store.path", locked, "locked by another process", "another smppbridge"}},
		{filepath.Join(dir, "missing", "bridge.db"), []string{"store.path", "directory " + filepath.Join(dir, "missing") + " does not exist"}},
	} {
		cfg := testConfig(t, sim.Addr(), c.path, "")
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		err := daemon.Run(ctx, daemon.Options{Config: cfg, Ready: func(*daemon.Daemon) { cancel() }})
		cancel()
		if err == nil {
			t.Fatalf("%s: the daemon started", c.path)
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q does not say %q", c.path, err, w)
			}
		}
		if strings.Count(err.Error(), c.path) > 1 {
			t.Errorf("error %q names the path more than once", err)
		}
	}
}
