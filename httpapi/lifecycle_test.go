package httpapi

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"smppbridge/bridge"
)

// serveTCP starts s on 127.0.0.1:0 and returns its base URL.
func serveTCP(t *testing.T, s *Server, scheme string) (string, <-chan error) {
	t.Helper()
	if err := s.Listen(); err != nil {
		t.Fatalf("Listen: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve() }()
	return scheme + "://" + s.Addr(), done
}

func postGood(client *http.Client, url string) (*http.Response, []byte, error) {
	req, err := http.NewRequest("POST", url+testPath, strings.NewReader(goodBody))
	if err != nil {
		return nil, nil, err
	}
	req.SetBasicAuth(testUser, testPass)
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	resp, err := client.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp, body, err
}

// TestTCP runs the real server on a TCP port with net/http's client.
func TestTCP(t *testing.T) {
	s := New(&fakeCore{}, Options{Addr: "127.0.0.1:0"})
	url, done := serveTCP(t, s, "http")
	if strings.HasSuffix(s.Addr(), ":0") {
		t.Fatalf("Addr() = %s, want the bound port", s.Addr())
	}
	client := &http.Client{Timeout: 5 * time.Second}
	for i := range 3 { // keep-alive reuse
		resp, body, err := postGood(client, url)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != 202 {
			t.Fatalf("request %d: status %d %s", i, resp.StatusCode, body)
		}
		jsonEqual(t, body, goodResp)
		if resp.Header.Get("Content-Type") != "application/json" || resp.Header.Get("X-Request-Id") == "" {
			t.Errorf("headers %v", resp.Header)
		}
	}
	// A non-POST through net/http too.
	resp, err := client.Get(url + "/users/1/messages")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 405 {
		t.Errorf("GET status %d", resp.StatusCode)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if err := <-done; err != nil {
		t.Fatalf("Serve: %v", err)
	}
	if _, err := net.DialTimeout("tcp", s.Addr(), time.Second); err == nil {
		t.Error("still accepting connections after Shutdown")
	}
	if err := s.Serve(); !errors.Is(err, ErrServerClosed) {
		t.Errorf("Serve after Shutdown = %v", err)
	}
	if err := s.Listen(); !errors.Is(err, ErrServerClosed) {
		t.Errorf("Listen after Shutdown = %v", err)
	}
}

// TestShutdownWaitsForInFlight checks the drain: Shutdown returns only once
// the request inside Core.Send has been answered, and that answer is a 202.
func TestShutdownWaitsForInFlight(t *testing.T) {
	entered := make(chan struct{})
	release := make(chan struct{})
	core := &fakeCore{send: func(ctx context.Context, req *bridge.SendRequest) (*bridge.Message, error) {
		close(entered)
		<-release
		return echo(ctx, req)
	}}
	s := New(core, Options{Addr: "127.0.0.1:0"})
	url, done := serveTCP(t, s, "http")

	type result struct {
		status int
		err    error
	}
	res := make(chan result, 1)
	go func() {
		resp, _, err := postGood(&http.Client{Timeout: 10 * time.Second}, url)
		if err != nil {
			res <- result{err: err}
			return
		}
		res <- result{status: resp.StatusCode}
	}()
	<-entered

	shut := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		shut <- s.Shutdown(ctx)
	}()
	select {
	case err := <-shut:
		t.Fatalf("Shutdown returned %v while a request was in flight", err)
	case <-time.After(300 * time.Millisecond):
	}
	if err := <-done; err != nil { // Serve returns as soon as shutdown starts
		t.Fatalf("Serve: %v", err)
	}
	close(release)
	if r := <-res; r.err != nil || r.status != 202 {
		t.Fatalf("in-flight request: status %d err %v", r.status, r.err)
	}
	if err := <-shut; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
}

// TestShutdownTimeoutCancelsSend: when the drain budget runs out, Shutdown
// returns the context error and the request's context is cancelled, so the
// client gets a 503 instead of a hang.
func TestShutdownTimeoutCancelsSend(t *testing.T) {
	entered := make(chan struct{})
	core := &fakeCore{send: func(ctx context.Context, req *bridge.SendRequest) (*bridge.Message, error) {
		close(entered)
		<-ctx.Done()
		return nil, ctx.Err()
	}}
	s := New(core, Options{Addr: "127.0.0.1:0"})
	url, done := serveTCP(t, s, "http")
	type result struct {
		status int
		body   []byte
		err    error
	}
	res := make(chan result, 1)
	go func() {
		resp, body, err := postGood(&http.Client{Timeout: 10 * time.Second}, url)
		if err != nil {
			res <- result{err: err}
			return
		}
		res <- result{status: resp.StatusCode, body: body}
	}()
	<-entered
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if err := s.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown = %v, want deadline exceeded", err)
	}
	r := <-res
	if r.err != nil || r.status != 503 {
		t.Fatalf("status %d err %v", r.status, r.err)
	}
	jsonEqual(t, r.body, resp503)
	<-done
}

func TestShutdownBeforeServe(t *testing.T) {
	s := New(&fakeCore{}, Options{Addr: "127.0.0.1:0"})
	if err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	addr := s.Addr()
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if err := s.Serve(); !errors.Is(err, ErrServerClosed) {
		t.Fatalf("Serve = %v", err)
	}
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Error("listener still open")
	}
	// Shutdown of a server that never listened is fine too.
	if err := New(&fakeCore{}, Options{}).Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestListenErrors(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name string
		opts Options
		want string
	}{
		{"cert without key", Options{Addr: "127.0.0.1:0", TLSCertFile: filepath.Join(dir, "c.pem")}, "both a certificate and a key"},
		{"missing files", Options{Addr: "127.0.0.1:0", TLSCertFile: filepath.Join(dir, "c.pem"), TLSKeyFile: filepath.Join(dir, "k.pem")}, "loading TLS key pair"},
		{"bad address", Options{Addr: "127.0.0.1:99999"}, "listen"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := New(&fakeCore{}, tc.opts).Listen()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Listen = %v, want %q", err, tc.want)
			}
		})
	}
	s := New(&fakeCore{}, Options{Addr: "127.0.0.1:0"})
	if err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown(context.Background())
	if err := s.Listen(); err == nil {
		t.Error("second Listen succeeded")
	}
}

func TestTLS(t *testing.T) {
	certFile, keyFile, pool := selfSigned(t)
	s := New(&fakeCore{}, Options{Addr: "127.0.0.1:0", TLSCertFile: certFile, TLSKeyFile: keyFile})
	url, done := serveTCP(t, s, "https")
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, body, err := postGood(client, url)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 202 || resp.TLS == nil {
		t.Fatalf("status %d tls %v: %s", resp.StatusCode, resp.TLS != nil, body)
	}
	jsonEqual(t, body, goodResp)
	client.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	<-done
}

// selfSigned writes a certificate for 127.0.0.1 and its key.
func selfSigned(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:         true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}
