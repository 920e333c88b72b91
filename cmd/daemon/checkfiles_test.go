package daemon_test

import (
	"context"
	"crypto/x509"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"smppbridge/cmd/daemon"
	"smppbridge/testharness/smsc"
)

// TestCheckFiles: the files a configuration names are read as a start
// reads them; every unusable one is reported with its key path, and the
// daemon refuses to start on them before it opens the store.
func TestCheckFiles(t *testing.T) {
	dir := t.TempDir()
	ca := newCA(t)
	caFile := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, ca.pem, 0o600); err != nil {
		t.Fatal(err)
	}
	notPEM := filepath.Join(dir, "not.pem")
	if err := os.WriteFile(notPEM, []byte("not a certificate\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	srvCert, srvKey, _ := ca.issue(t, dir, "api", x509.ExtKeyUsageServerAuth, "localhost")
	cliCert, cliKey, _ := ca.issue(t, dir, "client", x509.ExtKeyUsageClientAuth)
	missing := filepath.Join(dir, "missing.pem")

	sim := startSim(t, smsc.Behaviour{})
	good := testConfig(t, sim.Addr(), filepath.Join(dir, "good.db"), "")
	good.HTTP.TLSCertFile, good.HTTP.TLSKeyFile = srvCert, srvKey
	good.Carriers[0].TLS, good.Carriers[0].TLSCAFile = true, caFile
	good.Carriers[0].TLSCertFile, good.Carriers[0].TLSKeyFile = cliCert, cliKey
	if err := daemon.CheckFiles(good, "smppbridge.toml"); err != nil {
		t.Fatalf("usable files: %v", err)
	}

	dbPath := filepath.Join(dir, "bad.db")
	bad := testConfig(t, sim.Addr(), dbPath, "")
	bad.HTTP.TLSCertFile, bad.HTTP.TLSKeyFile = srvCert, missing
	bad.Carriers[0].TLS, bad.Carriers[0].TLSCAFile = true, notPEM
	err := daemon.CheckFiles(bad, "smppbridge.toml")
	if err == nil {
		t.Fatal("unusable files passed")
	}
	for _, want := range []string{
		"smppbridge.toml: http.tls_cert_file, http.tls_key_file: open " + missing,
		"smppbridge.toml: carrier[0].tls_ca_file: " + notPEM + ": no PEM certificates",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	bad.Carriers[0].TLSCAFile = caFile
	bad.Carriers[0].TLSCertFile, bad.Carriers[0].TLSKeyFile = cliCert, missing
	if err := daemon.CheckFiles(bad, ""); err == nil || !strings.Contains(err.Error(), "carrier[0].tls_cert_file, tls_key_file: open "+missing) {
		t.Errorf("missing client key: %v", err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := daemon.Run(ctx, daemon.Options{Config: bad, Ready: func(*daemon.Daemon) { cancel() }}); err == nil || !strings.Contains(err.Error(), missing) {
		t.Fatalf("start with a missing key: %v", err)
	}
	if _, err := os.Stat(dbPath); !os.IsNotExist(err) {
		t.Errorf("the store was opened (%v) before the files were checked", err)
	}
}
