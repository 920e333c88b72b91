package main

import (
	"bytes"
	"context"
	"encoding"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
	gopdu "github.com/fiorix/go-smpp/smpp/pdu"
	"github.com/fiorix/go-smpp/smpp/pdu/pdufield"

	"smppbridge/testharness/smsc"
)

const waitTime = 10 * time.Second

// syncBuffer collects log output written from several goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
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

// bindOnce binds a transceiver over raw TCP with go-smpp's codec and
// returns the connection and the bind_transceiver_resp status.
func bindOnce(t *testing.T, addr, user, pass string) (net.Conn, gopdu.Status) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, waitTime)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	b := gopdu.NewBindTransceiver()
	b.Fields().Set(pdufield.SystemID, user)
	b.Fields().Set(pdufield.Password, pass)
	b.Fields().Set(pdufield.InterfaceVersion, 0x34)
	b.Header().Seq = 1
	if err := b.SerializeTo(c); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(waitTime))
	resp, err := gopdu.Decode(c)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Header().ID != gopdu.BindTransceiverRespID || resp.Header().Seq != 1 {
		t.Fatalf("bind answered with %v seq %d", resp.Header().ID, resp.Header().Seq)
	}
	return c, resp.Header().Status
}

func TestServe(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type started struct {
		srv *smsc.Server
		api string
	}
	ready := make(chan started, 1)
	done := make(chan int, 1)
	var logs syncBuffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	cfg := smsc.Config{SMPPAddr: "127.0.0.1:0", Accounts: []smsc.Account{{SystemID: "bridge", Password: "pw"}}}
	go func() {
		done <- serve(ctx, cfg, "127.0.0.1:0", log, func(s *smsc.Server, api string) { ready <- started{s, api} })
	}()
	var st started
	select {
	case st = <-ready:
	case code := <-done:
		t.Fatalf("serve returned %d before it was ready; log:\n%s", code, logs.String())
	case <-time.After(waitTime):
		t.Fatal("serve never became ready")
	}
	if st.api == "" || st.srv == nil {
		t.Fatalf("ready got %+v", st)
	}

	// Both listeners are up when ready is called.
	conn, status := bindOnce(t, st.srv.Addr(), "bridge", "pw")
	if status != 0 {
		t.Fatalf("bind status %v", status)
	}
	resp, err := http.Get("http://" + st.api + "/stats")
	if err != nil {
		t.Fatal(err)
	}
	var stats smsc.Stats
	err = json.NewDecoder(resp.Body).Decode(&stats)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK || stats.BindsActive != 1 {
		t.Fatalf("GET /stats: %d %v %+v", resp.StatusCode, err, stats.Counters)
	}

	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("serve returned %d after cancel", code)
		}
	case <-time.After(waitTime):
		t.Fatal("serve did not return after its context ended")
	}
	// Everything is shut: the bind is closed and the API gone.
	conn.SetReadDeadline(time.Now().Add(waitTime))
	if _, err := gopdu.Decode(conn); err == nil {
		t.Error("bind still open after serve returned")
	}
	if _, err := http.Get("http://" + st.api + "/stats"); err == nil {
		t.Error("control API still answering after serve returned")
	}
	if !strings.Contains(logs.String(), "shutting down") {
		t.Errorf("log lacks the shutdown line:\n%s", logs.String())
	}
}

func TestServeWithoutAPI(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	ready := make(chan string, 1)
	go func() {
		done <- serve(ctx, smsc.Config{}, "", slog.New(slog.DiscardHandler), func(_ *smsc.Server, api string) { ready <- api })
	}()
	select {
	case api := <-ready:
		if api != "" {
			t.Errorf("API address %q with the API disabled", api)
		}
	case <-time.After(waitTime):
		t.Fatal("not ready")
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("serve returned %d", code)
	}
}

func TestServeFailures(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	for name, tc := range map[string]struct {
		cfg  smsc.Config
		http string
		log  string
	}{
		"invalid behaviour": {smsc.Config{Behaviour: smsc.Behaviour{WindowAction: "explode"}}, "", "window_action"},
		"API port taken":    {smsc.Config{}, busy.Addr().String(), "control API"},
		"SMPP port taken":   {smsc.Config{SMPPAddr: busy.Addr().String()}, "", "listen"},
	} {
		t.Run(name, func(t *testing.T) {
			var logs syncBuffer
			called := false
			code := serve(context.Background(), tc.cfg, tc.http, slog.New(slog.NewTextHandler(&logs, nil)),
				func(*smsc.Server, string) { called = true })
			if code != 1 || called {
				t.Fatalf("serve returned %d, ready called %v", code, called)
			}
			if !strings.Contains(logs.String(), tc.log) {
				t.Fatalf("log does not mention %q:\n%s", tc.log, logs.String())
			}
		})
	}
}

func writeFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "smscsim.toml")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadConfigStrict(t *testing.T) {
	if cfg, err := loadConfig(""); err != nil || !reflect.DeepEqual(cfg, smsc.Config{}) {
		t.Fatalf("no file: %+v %v", cfg, err)
	}
	for name, tc := range map[string]struct{ body, want string }{
		"unknown key":          {"[behaviour]\nwindw = 3\n", "behaviour.windw"},
		"unknown nested key":   {"[behaviour.receipts]\nformats = \"tlv\"\n", "behaviour.receipts.formats"},
		"unknown top-level":    {"smpp_address = \"x\"\n", "smpp_address"},
		"unknown account key":  {"[[accounts]]\nsystem_id = \"a\"\npasswd = \"b\"\n", "accounts.passwd"},
		"wrong type":           {"[behaviour]\nwindow = \"three\"\n", "window"},
		"bad duration":         {"[behaviour]\ndeliver_retry = \"soon\"\n", "soon"},
		"syntax error":         {"[behaviour\n", "smscsim.toml"},
		"unknown key in rules": {"[[behaviour.rules]]\ndest = \"1\"\nstatus = 3\n", "behaviour.rules.status"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := loadConfig(writeFile(t, tc.body))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v does not mention %q", err, tc.want)
			}
		})
	}
	if _, err := loadConfig(filepath.Join(t.TempDir(), "missing.toml")); err == nil {
		t.Fatal("missing file accepted")
	}
}

func TestExampleConfig(t *testing.T) {
	const path = "testdata/example.toml"
	cfg, err := loadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	b := cfg.Behaviour
	if cfg.SystemID != "carrier-sim" || len(cfg.Accounts) != 2 || cfg.Accounts[0].MaxBinds != 4 ||
		b.IDFormat != "padded-hex" || b.ResponseLatency.Max.D() != 40*time.Millisecond ||
		b.Receipts.Delay.Min.D() != time.Second || len(b.Receipts.Outcomes) != 3 || b.Receipts.Outcomes[2].Err != "027" ||
		len(b.Rules) != 3 || b.Rules[1].SubmitStatus != 0x0B || b.Rules[2].Segment != 2 || b.DeliverTimeout.D() != 15*time.Second {
		t.Fatalf("decoded %+v", cfg)
	}

	// Every key of the configuration appears, so the file documents them all.
	var probe smsc.Config
	md, err := toml.DecodeFile(path, &probe)
	if err != nil {
		t.Fatal(err)
	}
	present := map[string]bool{}
	for _, k := range md.Keys() {
		present[k.String()] = true
	}
	keys := tomlKeys(reflect.TypeOf(smsc.Config{}), "")
	if len(keys) < 50 {
		t.Fatalf("only %d keys found by reflection: %v", len(keys), keys)
	}
	for _, key := range keys {
		if !present[key] {
			t.Errorf("example.toml lacks %s", key)
		}
	}

	// And it starts, on free ports.
	cfg.SMPPAddr, cfg.TLSAddr = "127.0.0.1:0", "127.0.0.1:0"
	cfg.Logger = slog.New(slog.DiscardHandler)
	srv, err := smsc.Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	if srv.TLSAddr() == "" {
		t.Error("no TLS listener")
	}
	if _, status := bindOnce(t, srv.Addr(), "bridge", "secret"); status != 0 {
		t.Fatalf("bind with the example account: status %v", status)
	}
}

// tomlKeys lists the dotted TOML keys of a configuration type's leaves.
func tomlKeys(typ reflect.Type, prefix string) []string {
	textType := reflect.TypeFor[encoding.TextUnmarshaler]()
	var keys []string
	for i := 0; i < typ.NumField(); i++ {
		f := typ.Field(i)
		name := strings.Split(f.Tag.Get("toml"), ",")[0]
		if name == "-" || name == "" {
			continue
		}
		key := prefix + name
		ft := f.Type
		if ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct {
			ft = ft.Elem()
		}
		if ft.Kind() == reflect.Struct && !reflect.PointerTo(ft).Implements(textType) {
			keys = append(keys, tomlKeys(ft, key+".")...)
			continue
		}
		keys = append(keys, key)
	}
	return keys
}

func TestRunUsageAndFlagErrors(t *testing.T) {
	var buf bytes.Buffer
	if code := run([]string{"-h"}, &buf); code != 0 {
		t.Fatalf("-h: exit %d", code)
	}
	for _, want := range []string{"Usage:", "smscsim", "-smpp", "-http", "-config", "-log-format", "-log-level", "GET /stats"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("usage lacks %q:\n%s", want, buf.String())
		}
	}
	bad := writeFile(t, "[behaviour]\nwindow_action = \"explode\"\n")
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"-bogus"}, 2, "bogus"},
		{[]string{"extra-arg"}, 2, `unexpected arguments [extra-arg]`},
		{[]string{"-log-level", "loud"}, 2, "-log-level"},
		{[]string{"-log-format", "xml"}, 2, "-log-format"},
		{[]string{"-config", filepath.Join(t.TempDir(), "missing.toml")}, 2, "cannot load configuration"},
		{[]string{"-config", bad, "-smpp", "127.0.0.1:0", "-http", ""}, 1, "window_action"},
	} {
		var out bytes.Buffer
		if code := run(tc.args, &out); code != tc.code || !strings.Contains(out.String(), tc.want) {
			t.Errorf("run %v: exit %d, output %q; want %d mentioning %q", tc.args, code, out.String(), tc.code, tc.want)
		}
	}
}

func TestParseFlagsSMPPOverride(t *testing.T) {
	o, err := parseFlags(nil, &bytes.Buffer{})
	if err != nil || o.smppSet || o.smppAddr != "127.0.0.1:2775" || o.httpAddr != "127.0.0.1:2776" {
		t.Fatalf("defaults %+v %v", o, err)
	}
	o, err = parseFlags([]string{"-smpp", "127.0.0.1:9"}, &bytes.Buffer{})
	if err != nil || !o.smppSet || o.smppAddr != "127.0.0.1:9" {
		t.Fatalf("-smpp %+v %v", o, err)
	}
}
