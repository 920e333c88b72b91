package smsc_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"smppbridge/testharness/smsc"
)

// doJSON sends a request to the control API, checks the status and decodes
// the JSON answer into out (when not nil).
func doJSON(t testing.TB, method, url, body string, wantStatus int, out any) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != wantStatus {
		t.Fatalf("%s %s: status %d, want %d; body %s", method, url, resp.StatusCode, wantStatus, raw)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("%s %s: Content-Type %q", method, url, ct)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s %s: %v in %s", method, url, err, raw)
		}
	}
}

func TestHTTPStatsAndBinds(t *testing.T) {
	srv := startSMSC(t, smsc.Config{Accounts: testAccounts})
	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()
	e := bound(t, srv, idBindTRX, "acme", "secret")
	e.submitOK(t, sm{src: "1", dst: "2", text: gsm7("x")})
	e.submitOK(t, sm{src: "1", dst: "3", text: gsm7("y")})

	var st smsc.Stats
	doJSON(t, http.MethodGet, hs.URL+"/stats", "", http.StatusOK, &st)
	if st.SubmitSM != 2 || st.Messages != 2 || st.BindsActive != 1 || st.Accounts["acme"].SubmitSM != 2 {
		t.Errorf("GET /stats %+v", st)
	}
	var raw map[string]any // the JSON names are an interface too
	doJSON(t, http.MethodGet, hs.URL+"/stats", "", http.StatusOK, &raw)
	for _, key := range []string{"submit_sm", "messages", "queued_deliveries", "throttled", "accounts"} {
		if _, ok := raw[key]; !ok {
			t.Errorf("GET /stats lacks %q: %v", key, raw)
		}
	}

	var binds []smsc.Bind
	doJSON(t, http.MethodGet, hs.URL+"/binds", "", http.StatusOK, &binds)
	if len(binds) != 1 || binds[0].SystemID != "acme" || binds[0].Type != "bind_transceiver" || binds[0].Remote != e.conn.LocalAddr().String() || binds[0].TLS {
		t.Errorf("GET /binds %+v", binds)
	}
}

func TestHTTPMessages(t *testing.T) {
	srv := startSMSC(t, smsc.Config{Accounts: testAccounts})
	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()
	a := bound(t, srv, idBindTX, "acme", "secret")
	b := bound(t, srv, idBindTX, "limited", "pw")
	a.submitOK(t, sm{src: "100", dst: "15550000001", text: gsm7("first")})
	a.submitOK(t, sm{src: "200", dst: "15550000002", text: gsm7("second")})
	b.submitOK(t, sm{src: "100", dst: "15550000001", text: gsm7("third")})
	if _, err := srv.WaitMessages(testCtx(t), 3); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		query string
		want  []string // texts, newest first
	}{
		{"", []string{"third", "second", "first"}},
		{"?to=15550000001", []string{"third", "first"}},
		{"?to=%2B15550000001", []string{"third", "first"}}, // "+" ignored
		{"?from=200", []string{"second"}},
		{"?system_id=acme", []string{"second", "first"}},
		{"?system_id=acme&to=15550000001", []string{"first"}},
		{"?limit=2", []string{"third", "second"}},
		{"?to=19999999999", []string{}},
	} {
		var got []smsc.Message
		doJSON(t, http.MethodGet, hs.URL+"/messages"+tc.query, "", http.StatusOK, &got)
		texts := []string{}
		for _, m := range got {
			texts = append(texts, m.Text)
		}
		if !slices.Equal(texts, tc.want) {
			t.Errorf("GET /messages%s: %v, want %v", tc.query, texts, tc.want)
		}
	}
	for _, bad := range []string{"?limit=0", "?limit=-1", "?limit=ten"} {
		doJSON(t, http.MethodGet, hs.URL+"/messages"+bad, "", http.StatusBadRequest, nil)
	}
}

func TestHTTPMO(t *testing.T) {
	srv := startSMSC(t, smsc.Config{Accounts: testAccounts})
	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()
	rx := bound(t, srv, idBindRX, "acme", "secret")
	var got map[string]int
	doJSON(t, http.MethodPost, hs.URL+"/mo", `{"system_id":"acme","from":"+15551234567","to":"12345","text":"Grüße 😀","concat":"udh16"}`, http.StatusAccepted, &got)
	if got["parts"] != 1 {
		t.Fatalf("POST /mo: %v", got)
	}
	if m := decodeMO(t, rx.expect(t, idDeliverSM), false); m.text != "Grüße 😀" || m.in.dc != 8 {
		t.Fatalf("MO %q dc %d", m.text, m.in.dc)
	}
	for name, body := range map[string]string{
		"bad JSON":      `{"from":`,
		"unknown field": `{"from":"1","to":"2","text":"x","colour":"red"}`,
		"wrong type":    `{"from":1,"to":"2","text":"x"}`,
		"invalid MO":    `{"to":"2","text":"x"}`,
		"bad encoding":  `{"from":"1","to":"2","text":"x","encoding":"morse"}`,
	} {
		var e map[string]string
		doJSON(t, http.MethodPost, hs.URL+"/mo", body, http.StatusBadRequest, &e)
		if e["error"] == "" {
			t.Errorf("%s: no error message", name)
		}
	}
	rx.sync(t)
	if st := srv.Stats(); st.MOSent != 1 {
		t.Errorf("MOSent %d", st.MOSent)
	}
}

func TestHTTPBehaviour(t *testing.T) {
	cfgBeh := smsc.Behaviour{Window: 7, IDFormat: "padded-hex", Receipts: smsc.Receipts{
		Format: "tlv", Outcomes: []smsc.Outcome{{Stat: "DELIVRD", Weight: 3}, {Stat: "UNDELIV", Err: "001", Weight: 1}}},
		Rules: []smsc.Rule{{Dest: "1555*", Stat: "EXPIRED"}}}
	srv := startSMSC(t, smsc.Config{Behaviour: cfgBeh})
	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()
	var b smsc.Behaviour
	doJSON(t, http.MethodGet, hs.URL+"/behaviour", "", http.StatusOK, &b)
	if b.Window != 7 || b.IDFormat != "padded-hex" || b.WindowAction != "throttle" || len(b.Receipts.Outcomes) != 2 {
		t.Fatalf("GET /behaviour %+v", b)
	}
	original := deepCopy(t, srv.Behaviour()) // a copy: aliasing is one of the bugs looked for

	// A partial update replaces what it names and keeps the rest.
	doJSON(t, http.MethodPut, hs.URL+"/behaviour", `{"id_format":"hex","receipts":{"delay":{"min":"250ms"}}}`, http.StatusOK, &b)
	now := srv.Behaviour()
	if now.IDFormat != "hex" || now.Receipts.Delay.Min.D() != 250*time.Millisecond || b.IDFormat != "hex" {
		t.Fatalf("after PUT: %+v", now)
	}
	if now.Window != 7 || now.Receipts.Format != "tlv" || len(now.Receipts.Outcomes) != 2 || len(now.Rules) != 1 {
		t.Fatalf("PUT lost fields it did not name: %+v", now)
	}

	// Refused updates change nothing, not even through shared slices.
	before := deepCopy(t, srv.Behaviour())
	for name, body := range map[string]struct {
		body   string
		status int
		key    string
	}{
		"bad value":       {`{"window_action":"explode"}`, http.StatusUnprocessableEntity, "window_action"},
		"bad outcome":     {`{"receipts":{"outcomes":[{"stat":"BOGUS","weight":1}]}}`, http.StatusUnprocessableEntity, "receipts.outcomes[0].stat"},
		"bad rule":        {`{"rules":[{"dest":"","stat":"DELIVRD"}]}`, http.StatusUnprocessableEntity, "rules[0].dest"},
		"bad duration":    {`{"deliver_retry":"soon"}`, http.StatusBadRequest, ""},
		"unknown field":   {`{"windw":3}`, http.StatusBadRequest, ""},
		"not JSON":        {`window=3`, http.StatusBadRequest, ""},
		"negative window": {`{"window":-1}`, http.StatusUnprocessableEntity, "window"},
	} {
		var e map[string]string
		doJSON(t, http.MethodPut, hs.URL+"/behaviour", body.body, body.status, &e)
		if !strings.Contains(e["error"], body.key) {
			t.Errorf("%s: error %q does not name %q", name, e["error"], body.key)
		}
		if got := srv.Behaviour(); !reflect.DeepEqual(got, before) {
			t.Fatalf("%s: behaviour changed by a refused PUT:\n%+v\nwas\n%+v", name, got, before)
		}
	}

	// The configuration is untouched by any of it: reset restores it.
	doJSON(t, http.MethodPost, hs.URL+"/reset", "", http.StatusOK, nil)
	if got := srv.Behaviour(); !reflect.DeepEqual(got, original) {
		t.Fatalf("after reset:\n%+v\nwant the configured\n%+v", got, original)
	}
}

// deepCopy copies a Behaviour through JSON, sharing no slices with it.
func deepCopy(t testing.TB, b smsc.Behaviour) smsc.Behaviour {
	t.Helper()
	raw, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	var c smsc.Behaviour
	if err := json.Unmarshal(raw, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestBehaviourNotAliased: the Behaviour a caller gets is a copy; changing
// its slices does not reach the simulator.
func TestBehaviourNotAliased(t *testing.T) {
	rules := []smsc.Rule{{Dest: "1*", Stat: "UNDELIV"}}
	srv := startSMSC(t, smsc.Config{Behaviour: smsc.Behaviour{Rules: rules}})
	b := srv.Behaviour()
	b.Rules[0].Stat = "EXPIRED"
	b.Receipts.Outcomes[0].Stat = "REJECTD"
	rules[0].Dest = "9*"
	if got := srv.Behaviour(); got.Rules[0].Stat != "UNDELIV" || got.Rules[0].Dest != "1*" || got.Receipts.Outcomes[0].Stat != "DELIVRD" {
		t.Fatalf("behaviour changed through a copy: %+v", got)
	}
	set := smsc.Behaviour{Rules: []smsc.Rule{{Dest: "2*", Stat: "UNDELIV"}}}
	if err := srv.SetBehaviour(set); err != nil {
		t.Fatal(err)
	}
	set.Rules[0].Dest = "3*"
	if got := srv.Behaviour(); got.Rules[0].Dest != "2*" {
		t.Fatalf("behaviour changed through the slice given to SetBehaviour: %+v", got.Rules)
	}
}

func TestHTTPReset(t *testing.T) {
	srv := startSMSC(t, smsc.Config{Accounts: testAccounts})
	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()
	tx := bound(t, srv, idBindTX, "acme", "secret")
	tx.submitOK(t, sm{src: "1", dst: "2", regDlv: 1, text: gsm7("x")}) // its receipt waits: no receiver
	waitFor(t, srv, "the receipt queued", func(s smsc.Stats) bool { return s.QueuedDeliver == 1 })
	var got map[string]bool
	doJSON(t, http.MethodPost, hs.URL+"/reset", "", http.StatusOK, &got)
	if !got["reset"] {
		t.Fatalf("POST /reset: %v", got)
	}
	st := srv.Stats()
	if st.SubmitSM != 0 || st.Messages != 0 || st.QueuedDeliver != 0 || st.BindsActive != 1 || len(srv.Messages()) != 0 {
		t.Fatalf("after reset: %+v, %d messages", st.Counters, len(srv.Messages()))
	}
	// The bind survived and works; the forgotten receipt is not delivered.
	tx.submitOK(t, sm{src: "1", dst: "2", text: gsm7("after")})
	bound(t, srv, idBindRX, "acme", "secret").sync(t)
	if st := srv.Stats(); st.SubmitSM != 1 || st.ReceiptsSent != 0 {
		t.Fatalf("after reset and a submit: %+v", st.Counters)
	}
}

func TestHTTPDrop(t *testing.T) {
	srv := startSMSC(t, smsc.Config{Accounts: testAccounts})
	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()
	a := bound(t, srv, idBindTRX, "acme", "secret")
	b := bound(t, srv, idBindTRX, "limited", "pw")
	var got map[string]int
	doJSON(t, http.MethodPost, hs.URL+"/drop?system_id=acme", "", http.StatusOK, &got)
	if got["dropped"] != 1 {
		t.Fatalf("POST /drop: %v", got)
	}
	a.expectClosed(t) // no unbind: the network failed
	b.sync(t)
	st := waitFor(t, srv, "the bind gone", func(s smsc.Stats) bool { return s.BindsActive == 1 })
	if st.Drops != 1 {
		t.Errorf("Drops %d", st.Drops)
	}
	doJSON(t, http.MethodPost, hs.URL+"/drop", "", http.StatusOK, &got)
	b.expectClosed(t)
}

func TestHTTPMethods(t *testing.T) {
	srv := startSMSC(t, smsc.Config{})
	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()
	for _, c := range []struct{ method, path string }{
		{http.MethodPost, "/stats"}, {http.MethodGet, "/mo"}, {http.MethodGet, "/reset"}, {http.MethodDelete, "/behaviour"},
	} {
		req, _ := http.NewRequest(c.method, hs.URL+c.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("%s %s: %d", c.method, c.path, resp.StatusCode)
		}
	}
}

// TestHTTPBehaviourKeepsRefusal: a PUT that does not name refuse_binds_for
// does not start another refusal period.
func TestHTTPBehaviourKeepsRefusal(t *testing.T) {
	srv := startSMSC(t, smsc.Config{})
	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()
	doJSON(t, http.MethodPut, hs.URL+"/behaviour", `{"refuse_binds_for":"100ms"}`, http.StatusOK, nil)
	e := dial(t, srv.Addr())
	if p := e.bindAs(t, idBindTRX, "a", "b"); p.Status != stBindFail {
		t.Fatalf("bind during the refusal: %#x", p.Status)
	}
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(waitTime)
	for e.bindAs(t, idBindTRX, "a", "b").Status != stOK { // rebind at a steady pace until accepted
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatal("binds still refused")
		}
	}
	doJSON(t, http.MethodPut, hs.URL+"/behaviour", `{"window":5}`, http.StatusOK, nil)
	if p := dial(t, srv.Addr()).bindAs(t, idBindTRX, "a", "b"); p.Status != stOK {
		t.Fatalf("bind refused again after an unrelated PUT: %#x", p.Status)
	}
	// Naming it starts a new period.
	doJSON(t, http.MethodPut, hs.URL+"/behaviour", `{"refuse_binds_for":"1h"}`, http.StatusOK, nil)
	if p := dial(t, srv.Addr()).bindAs(t, idBindTRX, "a", "b"); p.Status != stBindFail {
		t.Fatalf("bind accepted right after refuse_binds_for was set: %#x", p.Status)
	}
}

func TestHTTPBindsEmpty(t *testing.T) {
	srv := startSMSC(t, smsc.Config{})
	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()
	resp, err := http.Get(hs.URL + "/binds")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if strings.TrimSpace(string(raw)) != "[]" {
		t.Fatalf("GET /binds with none bound: %s, want []", raw)
	}
}
