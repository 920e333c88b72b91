package admin

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"smppbridge/bridge"
	"smppbridge/store"
)

// memStore is a queue that keeps nothing: these tests use the directory only.
type memStore struct{}

func (memStore) Enqueue([]store.QueueItem) error             { return nil }
func (memStore) Complete([]store.Completion) error           { return nil }
func (memStore) LoadQueue(func(store.QueueItem) error) error { return nil }
func checkPlain(hash, pw string) bool                        { return hash == "plain:"+pw }
func hashPlain(pw string) (string, error)                    { return "plain:" + pw, nil }
func newBridge(t *testing.T, accounts ...bridge.Account) *bridge.Bridge {
	t.Helper()
	b, err := bridge.New(bridge.Options{Store: memStore{}, Accounts: accounts, CheckPassword: checkPlain, HashPassword: hashPlain})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

type answer struct {
	status int
	header http.Header
	raw    string
	obj    map[string]any
}

func call(t *testing.T, srv *httptest.Server, method, path, contentType, body string) answer {
	t.Helper()
	req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.SetBasicAuth("ops", "pw")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	a := answer{status: resp.StatusCode, header: resp.Header, raw: string(raw)}
	json.Unmarshal(raw, &a.obj)
	return a
}

// TestAdminHandler: status codes, the V2 error shape and views without
// secrets, route by route.
func TestAdminHandler(t *testing.T) {
	b := newBridge(t, bridge.Account{ID: "A", Credentials: []bridge.Credential{{Username: "u", PasswordHash: "plain:secret-1"}},
		Applications: []bridge.Application{{ID: "a1", CallbackURL: "http://h/", CallbackUsername: "cb", CallbackPassword: "cb-secret",
			Numbers: []bridge.Number{{Number: "+15550000001", Class: bridge.ClassP2P}}}}})
	srv := httptest.NewServer(Handler(b, Options{Username: "ops", PasswordHash: "plain:pw", CheckPassword: checkPlain}))
	defer srv.Close()
	const js = "application/json"
	cases := []struct {
		name, method, path, ct, body string
		status                       int
		want                         []string // substrings of the body
		not                          []string // must not appear
	}{
		{"unknown account", "GET", "/v1/accounts/nope", "", "", 404, []string{`"type": "object-not-found"`, `"description"`}, nil},
		{"unknown route", "GET", "/v1/nothing", "", "", 404, []string{`"object-not-found"`}, nil},
		{"unknown route, other method", "PUT", "/v1/nothing", "", "", 404, []string{`"object-not-found"`}, nil},
		{"wrong method", "PUT", "/v1/accounts", js, `{}`, 405, []string{`"type": "method-not-allowed"`, "PUT"}, nil},
		{"wrong method, with a variable", "POST", "/v1/accounts/A", js, `{}`, 405, []string{`"method-not-allowed"`}, nil},
		{"unknown field", "POST", "/v1/accounts", js, `{"id":"B","colour":"red"}`, 400, []string{`"request-validation"`, "colour"}, nil},
		{"not JSON", "POST", "/v1/accounts", "text/plain", `id=B`, 415, []string{`"unsupported-content-type"`}, nil},
		{"invalid account", "POST", "/v1/accounts", js, `{"id":"no spaces"}`, 400, []string{`"fieldName": "id"`}, nil},
		{"two JSON values", "POST", "/v1/accounts", js, `{"id":"C"} {"id":"D"}`, 400, []string{`"request-validation"`}, nil},
		{"not created from a body of two values", "GET", "/v1/accounts/C", "", "", 404, nil, nil},
		{"create account", "POST", "/v1/accounts", js, `{"id":"B","countries":["1"]}`, 201, []string{`"id": "B"`, `"origin": "api"`, `"countries": [`}, nil},
		{"duplicate account", "POST", "/v1/accounts", js, `{"id":"B"}`, 409, []string{`"type": "conflict"`}, nil},
		{"account view", "GET", "/v1/accounts/A", "", "", 200, []string{`"callbackPasswordSet": true`, `"username": "u"`, `"origin": "config"`},
			[]string{"cb-secret", "plain:", "secret-1"}},
		{"create application", "POST", "/v1/accounts/B/applications", js,
			`{"id":"b1","inboundCallbackUrl":"https://h/in","callbackUsername":"x","callbackPassword":"y-secret","receiptEvents":[]}`, 201,
			[]string{`"id": "b1"`, `"accountId": "B"`, `"receiptEvents": []`}, []string{"y-secret"}},
		{"application half credentials", "PATCH", "/v1/accounts/B/applications/b1", js, `{"callbackPassword":""}`, 400,
			[]string{`"fieldName": "callbackUsername"`}, nil},
		{"application of another account", "GET", "/v1/accounts/A/applications/b1", "", "", 404, nil, nil},
		{"patch application", "PATCH", "/v1/accounts/B/applications/b1", js, `{"callbackUrl":"https://h/st"}`, 200,
			[]string{`"callbackUrl": "https://h/st"`, `"inboundCallbackUrl": "https://h/in"`}, nil},
		{"bad class", "PUT", "/v1/numbers/+15550000002", js, `{"applicationId":"b1","class":"gold"}`, 400, []string{`"fieldName": "class"`}, nil},
		{"no application", "PUT", "/v1/numbers/+15550000002", js, `{}`, 400, []string{`"fieldName": "applicationId"`}, nil},
		{"assign", "PUT", "/v1/numbers/%2B18005550000", js, `{"applicationId":"b1"}`, 200,
			[]string{`"class": "toll-free"`, `"product": "TOLL_FREE"`, `"accountId": "B"`}, nil},
		{"move", "PUT", "/v1/numbers/+15550000001", js, `{"applicationId":"b1","class":"a2p","campaignId":"C9"}`, 200,
			[]string{`"applicationId": "b1"`, `"campaignId": "C9"`}, nil},
		{"numbers of B", "GET", "/v1/numbers?accountId=B", "", "", 200, []string{"+15550000001", "+18005550000"}, nil},
		{"release unknown", "DELETE", "/v1/numbers/+15550000099", "", "", 404, nil, nil},
		{"release", "DELETE", "/v1/numbers/+18005550000", "", "", 204, nil, nil},
		{"credential", "POST", "/v1/accounts/B/credentials", js, `{"username":"bee"}`, 201, []string{`"username": "bee"`, `"password": "`}, nil},
		{"credentials", "GET", "/v1/accounts/B/credentials", "", "", 200, []string{`"username": "bee"`}, []string{"password", "plain:"}},
		{"revoke", "DELETE", "/v1/accounts/B/credentials/bee", "", "", 204, nil, nil},
		{"revoke again", "DELETE", "/v1/accounts/B/credentials/bee", "", "", 404, nil, nil},
		{"block", "PUT", "/v1/blocked/+15550000007", js, ``, 200, []string{`"direction": "both"`}, nil},
		{"blocked", "GET", "/v1/blocked", "", "", 200, []string{`"+15550000007"`}, nil},
		{"unblock", "DELETE", "/v1/blocked/+15550000007", "", "", 204, nil, nil},
		{"opt out", "PUT", "/v1/optouts/+15550000001/+16170000000", "", "", 200, []string{`"sender": "+16170000000"`}, nil},
		{"opt-outs", "GET", "/v1/optouts?number=%2B15550000001", "", "", 200, []string{`"+16170000000"`}, nil},
		{"bad opt-out", "PUT", "/v1/optouts/+1555%7C1/+16170000000", "", "", 400, []string{`"fieldName": "number"`}, nil},
		{"opt in", "DELETE", "/v1/optouts/+15550000001/+16170000000", "", "", 204, nil, nil},
		{"carriers", "GET", "/v1/carriers", "", "", 200, []string{"[]"}, nil},
		{"disable", "PATCH", "/v1/accounts/A", js, `{"disabled":true}`, 200, []string{`"disabled": true`, `"origin": "api"`}, nil},
		{"delete application", "DELETE", "/v1/accounts/B/applications/b1", "", "", 204, nil, nil},
		{"number gone with it", "GET", "/v1/numbers/+15550000001", "", "", 404, nil, nil},
		{"delete account", "DELETE", "/v1/accounts/B", "", "", 204, nil, nil},
	}
	for _, c := range cases {
		a := call(t, srv, c.method, c.path, c.ct, c.body)
		if a.status != c.status {
			t.Fatalf("%s: %s %s: %d %s, want %d", c.name, c.method, c.path, a.status, a.raw, c.status)
		}
		if allow := map[string]string{"/v1/accounts": "GET, HEAD, POST", "/v1/accounts/A": "GET, HEAD, PATCH, DELETE"}[c.path]; a.status == 405 && a.header.Get("Allow") != allow {
			t.Fatalf("%s: Allow %q, want %q", c.name, a.header.Get("Allow"), allow)
		}
		if a.status >= 400 && (a.obj["type"] == nil || a.obj["description"] == nil) {
			t.Fatalf("%s: error body not in the V2 shape: %s", c.name, a.raw)
		}
		for _, w := range c.want {
			if !strings.Contains(a.raw, w) {
				t.Errorf("%s: body lacks %s: %s", c.name, w, a.raw)
			}
		}
		for _, n := range c.not {
			if strings.Contains(a.raw, n) {
				t.Errorf("%s: body shows %q: %s", c.name, n, a.raw)
			}
		}
	}
	if err := b.Authenticate("A", "u", "secret-1"); err != bridge.ErrForbidden {
		t.Fatalf("disabled account: %v, want ErrForbidden", err)
	}
}

// TestAdminAuthSameWorkForUnknownUser: a wrong admin username costs the same
// password hash as a wrong password, so response times do not tell an
// attacker that a guessed username is the admin's.
func TestAdminAuthSameWorkForUnknownUser(t *testing.T) {
	var checks atomic.Int64
	counting := func(hash, pw string) bool { checks.Add(1); return checkPlain(hash, pw) }
	srv := httptest.NewServer(Handler(newBridge(t), Options{Username: "ops", PasswordHash: "plain:pw", CheckPassword: counting}))
	defer srv.Close()
	for _, c := range []struct{ name, user, pass string }{
		{"wrong password", "ops", "guess"},
		{"unknown user", "root", "guess"},
		{"unknown user, right password", "root", "pw"},
	} {
		before := checks.Load()
		req, _ := http.NewRequest("GET", srv.URL+"/v1/accounts", nil)
		req.SetBasicAuth(c.user, c.pass)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s: status %d, want 401", c.name, resp.StatusCode)
		}
		if n := checks.Load() - before; n != 1 {
			t.Errorf("%s: %d password checks, want 1 (same work as any wrong credential)", c.name, n)
		}
	}
}
