package daemon_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"smppbridge/cmd/daemon"
	"smppbridge/testharness/smsc"
)

// testCA issues certificates for the TLS tests.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

var serials struct {
	sync.Mutex
	n int64
}

func nextSerial() *big.Int {
	serials.Lock()
	defer serials.Unlock()
	serials.n++
	return big.NewInt(serials.n)
}

func newCA(t *testing.T) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: nextSerial(), Subject: pkix.Name{CommonName: "smppbridge test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true,
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &testCA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// issue writes a certificate and key signed by ca into dir as name.crt and
// name.key, and returns their paths and the certificate's serial.
func (ca *testCA) issue(t *testing.T, dir, name string, usage x509.ExtKeyUsage, dns ...string) (certFile, keyFile string, serial int64) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sn := nextSerial()
	tmpl := &x509.Certificate{SerialNumber: sn, Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
		DNSNames: dns, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile, sn.Int64()
}

// tlsFront terminates TLS in front of the simulator's plain listener and,
// like carriers that use client certificates, refuses clients without one
// signed by ca.
func tlsFront(t *testing.T, ca *testCA, certFile, keyFile, backend string) string {
	t.Helper()
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca.cert)
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert},
		ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool, MinVersion: tls.VersionTLS12})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				if err := c.(*tls.Conn).Handshake(); err != nil {
					return
				}
				b, err := net.Dial("tcp", backend)
				if err != nil {
					return
				}
				defer b.Close()
				done := make(chan struct{}, 2)
				go func() { io.Copy(b, c); b.(*net.TCPConn).CloseWrite(); done <- struct{}{} }()
				go func() { io.Copy(c, b); c.Close(); done <- struct{}{} }()
				<-done
				<-done
			}()
		}
	}()
	return ln.Addr().String()
}

// TestCarrierTLS: a carrier reached over TLS with a private CA, a server
// name and a client certificate binds and carries messages; with the
// client certificate missing it does not bind and /readyz says so.
func TestCarrierTLS(t *testing.T) {
	dir := t.TempDir()
	ca := newCA(t)
	caFile := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, ca.pem, 0o600); err != nil {
		t.Fatal(err)
	}
	srvCert, srvKey, _ := ca.issue(t, dir, "smsc", x509.ExtKeyUsageServerAuth, "smsc.test")
	cliCert, cliKey, _ := ca.issue(t, dir, "client", x509.ExtKeyUsageClientAuth)
	sim := startSim(t, smsc.Behaviour{})
	front := tlsFront(t, ca, srvCert, srvKey, sim.Addr())

	tlsKeys := fmt.Sprintf("tls = true\ntls_server_name = \"smsc.test\"\ntls_ca_file = %q\ntls_cert_file = %q\ntls_key_file = %q", caFile, cliCert, cliKey)
	cfg := configWith(t, front, filepath.Join(dir, "bridge.db"), configOptions{CarrierExtra: tlsKeys})
	e := startDaemonWith(t, sim, cfg, daemon.Options{})
	e.waitBinds(2)
	if r := e.send(msgBody([]string{"+15550004001"}, "over TLS", "")); r.status != 202 {
		t.Fatalf("status %d: %s", r.status, r.raw)
	}
	waitMessages(t, sim, 1)
	e.shutdown()

	// Without the client certificate the front refuses the handshake.
	noClient := fmt.Sprintf("tls = true\ntls_server_name = \"smsc.test\"\ntls_ca_file = %q", caFile)
	cfg = configWith(t, front, filepath.Join(dir, "bridge2.db"), configOptions{CarrierExtra: noClient})
	e = startDaemonWith(t, sim, cfg, daemon.Options{})
	deadline := time.Now().Add(20 * time.Second)
	for e.d.CurrentPools()[0].Stats().Binds[0].LastError == "" {
		if time.Now().After(deadline) {
			t.Fatal("no bind error recorded")
		}
		time.Sleep(20 * time.Millisecond) // polling, bounded by the deadline
	}
	resp, err := http.Get("http://" + e.d.AdminAddr() + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 503 || !strings.Contains(string(body), "sim") || !strings.Contains(string(body), "certificate") {
		t.Fatalf("/readyz %d %q: want 503 naming the carrier and the TLS failure", resp.StatusCode, body)
	}
	if got := sim.Stats().BindsActive; got != 0 {
		t.Fatalf("%d binds without a client certificate", got)
	}
}

// TestHTTPSAndCertificateReload: the API serves HTTPS from the configured
// files; after new files are written a reload serves the new certificate
// to new connections, and a reload with a broken key file is refused.
func TestHTTPSAndCertificateReload(t *testing.T) {
	dir := t.TempDir()
	ca := newCA(t)
	certFile, keyFile, serial1 := ca.issue(t, dir, "api", x509.ExtKeyUsageServerAuth, "localhost")
	sim := startSim(t, smsc.Behaviour{})
	cfg := configWith(t, sim.Addr(), filepath.Join(dir, "bridge.db"), configOptions{})
	cfg.HTTP.TLSCertFile, cfg.HTTP.TLSKeyFile = certFile, keyFile
	e := startDaemonWith(t, sim, cfg, daemon.Options{})
	e.waitBinds(2)

	roots := x509.NewCertPool()
	roots.AddCert(ca.cert)
	get := func() (int64, int) {
		t.Helper()
		client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
			TLSClientConfig: &tls.Config{RootCAs: roots}, DisableKeepAlives: true}}
		req, _ := http.NewRequest("POST", "https://"+e.d.HTTPAddr()+"/api/v2/users/"+acct+"/messages",
			strings.NewReader(msgBody([]string{"+15550005001"}, "over HTTPS", "")))
		req.SetBasicAuth(user, pass)
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		return resp.TLS.PeerCertificates[0].SerialNumber.Int64(), resp.StatusCode
	}
	if sn, status := get(); sn != serial1 || status != 202 {
		t.Fatalf("serial %d status %d, want %d 202", sn, status, serial1)
	}

	_, _, serial2 := ca.issue(t, dir, "api", x509.ExtKeyUsageServerAuth, "localhost") // renewed in place
	next := configWith(t, sim.Addr(), cfg.Store.Path, configOptions{})
	next.HTTP.TLSCertFile, next.HTTP.TLSKeyFile = certFile, keyFile
	if err := e.d.Reload(next); err != nil {
		t.Fatal(err)
	}
	if sn, status := get(); sn != serial2 || status != 202 {
		t.Fatalf("after reload: serial %d status %d, want %d 202", sn, status, serial2)
	}

	broken := configWith(t, sim.Addr(), cfg.Store.Path, configOptions{})
	broken.HTTP.TLSCertFile, broken.HTTP.TLSKeyFile = certFile, filepath.Join(dir, "missing.key")
	if err := e.d.Reload(broken); err == nil {
		t.Fatal("reload with a missing key file accepted")
	}
	if sn, _ := get(); sn != serial2 {
		t.Fatalf("refused reload changed the certificate: serial %d", sn)
	}
}

// TestCarrierTLSToSimulator: the simulator's own TLS listener, trusted
// through tls_ca_file with its self-signed certificate, carries the binds
// and the messages.
func TestCarrierTLSToSimulator(t *testing.T) {
	sim, err := smsc.Start(smsc.Config{TLSAddr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	dir := t.TempDir()
	caFile := filepath.Join(dir, "smsc.pem")
	der := sim.TLSCertificate().Certificate[0]
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := configWith(t, sim.TLSAddr(), filepath.Join(dir, "bridge.db"), configOptions{CarrierExtra: fmt.Sprintf("tls = true\ntls_ca_file = %q", caFile)})
	e := startDaemonWith(t, sim, cfg, daemon.Options{})
	e.waitBinds(2)
	for _, b := range sim.Binds() {
		if !b.TLS {
			t.Fatalf("bind %+v is not over TLS", b)
		}
	}
	if r := e.send(msgBody([]string{"+15550004002"}, "over the simulator's TLS", "")); r.status != 202 {
		t.Fatalf("status %d: %s", r.status, r.raw)
	}
	waitMessages(t, sim, 1)
}
