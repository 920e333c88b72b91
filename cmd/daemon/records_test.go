package daemon_test

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"smppbridge/cmd/daemon"
	"smppbridge/store"
	"smppbridge/testharness/smsc"
)

// get sends an authenticated GET to the API.
func (e *env) get(path, username, password string) response {
	e.t.Helper()
	req, err := http.NewRequest("GET", e.base+path, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	req.SetBasicAuth(username, password)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := response{status: resp.StatusCode, raw: string(raw)}
	json.Unmarshal(raw, &r.body)
	return r
}

const searchPath = "/api/v2/users/" + acct + "/messages"

// search GETs the search with params and wants a 200.
func (e *env) search(params string) (msgs []map[string]any, total int, pageInfo map[string]any) {
	e.t.Helper()
	r := e.get(searchPath+"?"+params, user, pass)
	if r.status != 200 {
		e.t.Fatalf("search %s: status %d: %s", params, r.status, r.raw)
	}
	for _, m := range r.body["messages"].([]any) {
		msgs = append(msgs, m.(map[string]any))
	}
	return msgs, int(r.body["totalCount"].(float64)), r.body["pageInfo"].(map[string]any)
}

func msgIDs(ms []map[string]any) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m["messageId"].(string)+"/"+m["destinationTn"].(string))
	}
	return out
}

// TestMessageSearchAndMDR: single, group, long and failing messages and an
// inbound one, each findable through the search API by every filter, paged
// through with tokens, and in the MDR CSV one row per segment, no text.
func TestMessageSearchAndMDR(t *testing.T) {
	e := startReceiptEnv(t, smsc.Behaviour{Rules: []smsc.Rule{{Dest: "15550002009", Stat: "UNDELIV", Err: "001"}}}, "", daemon.Options{})
	single := e.accepted(e.send(msgBody([]string{"+15550002001"}, "single secret text", "")))
	group := e.accepted(e.send(msgBody([]string{"+15550002002", "+15550002003", "+15550002004"}, "group secret text", "")))
	longText := strings.Repeat("long secret text ", 20) // 340 GSM-7 characters: 3 parts
	long := e.accepted(e.send(msgBody([]string{"+15550002005"}, longText, "")))
	failed := e.accepted(e.send(msgBody([]string{"+15550002009"}, "failing secret text", "")))
	if _, err := e.sim.InjectMO(smsc.MO{From: "+15550007001", To: num, Text: "inbound secret text"}); err != nil {
		t.Fatal(err)
	}
	e.hooks.next(t)         // the inbound callback: its record is written in the same commit
	e.settle(1 + 3 + 3 + 1) // receipts: one per part of each copy
	// The inbound callback was acknowledged, so its record becomes ACCEPTED
	// (polled: nothing notifies).
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if msgs, _, _ := e.search("messageDirection=INBOUND"); len(msgs) == 1 && msgs[0]["messageStatus"] == "ACCEPTED" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("inbound record not ACCEPTED within 10s of its acknowledged callback")
		}
	}
	for _, r := range []struct {
		id   string
		rcpt int
	}{{single, 0}, {group, 2}, {long, 0}, {failed, 0}} {
		if rec := e.waitRecord(r.id, r.rcpt); rec.Status != store.StatusDelivered && rec.Status != store.StatusFailed {
			t.Fatalf("%s/%d is %s after its receipts", r.id, r.rcpt, rec.Status)
		}
	}

	t.Run("message id: one record per recipient, contract fields", func(t *testing.T) {
		msgs, total, info := e.search("messageId=" + group)
		if total != 3 || len(msgs) != 3 || len(info) != 0 {
			t.Fatalf("total %d, %v, pageInfo %v", total, msgIDs(msgs), info)
		}
		m := msgs[0]
		want := map[string]any{"messageId": group, "accountId": acct, "sourceTn": num, "messageStatus": "DELIVERED",
			"messageDirection": "OUTBOUND", "messageType": "sms", "segmentCount": 1.0, "errorCode": 0.0,
			"carrierName": "sim", "messageLength": 17.0, "messageSize": 17.0, "recipientCount": 3.0}
		for k, v := range want {
			if m[k] != v {
				t.Errorf("%s = %v (%T), want %v", k, m[k], m[k], v)
			}
		}
		if !v2TimeRE.MatchString(m["receiveTime"].(string)) {
			t.Errorf("receiveTime %v", m["receiveTime"])
		}
		for _, absent := range []string{"attachmentCount", "campaignId", "campaignClass", "text"} {
			if _, ok := m[absent]; ok {
				t.Errorf("%s present: %v", absent, m)
			}
		}
	})
	t.Run("filters", func(t *testing.T) {
		cases := []struct {
			params string
			want   []string
		}{
			{"destinationTn=%2B15550002001", []string{single + "/+15550002001"}},
			{"destinationTn=%2B15550002001,%2B15550002005", []string{long + "/+15550002005", single + "/+15550002001"}},
			{"destinationTn=+15550002005", []string{long + "/+15550002005"}}, // unencoded + read as +
			{"destinationTn=%2B155500020&messageDirection=OUTBOUND&limit=2", []string{failed + "/+15550002009", long + "/+15550002005"}},
			{"destinationTn=155500020&messageStatus=FAILED", []string{failed + "/+15550002009"}},
			{"messageStatus=FAILED", []string{failed + "/+15550002009"}},
			{"errorCode=4720", []string{failed + "/+15550002009"}},
			{"messageDirection=INBOUND", []string{"/" + num}},
			{"sourceTn=%2B15550007001", []string{"/" + num}},
			{"messageStatus=ACCEPTED", []string{"/" + num}},
			{"messageStatus=RECEIVED", nil},
			{"carrierName=nowhere", nil},
			{"messageType=mms", nil},
		}
		for _, c := range cases {
			msgs, total, _ := e.search(c.params)
			got := msgIDs(msgs)
			for i := range got {
				if strings.HasSuffix(got[i], "/"+num) {
					got[i] = "/" + num // the inbound id is not known to the test
				}
			}
			if !slices.Equal(got, c.want) || (total != len(c.want) && !strings.Contains(c.params, "limit")) {
				t.Errorf("%s: %v (total %d), want %v", c.params, got, total, c.want)
			}
		}
	})
	t.Run("inbound record", func(t *testing.T) {
		msgs, _, _ := e.search("messageDirection=INBOUND")
		m := msgs[0]
		if m["messageStatus"] != "ACCEPTED" || m["sourceTn"] != "+15550007001" || m["segmentCount"] != 1.0 || m["carrierName"] != "sim" {
			t.Fatalf("inbound %v", m)
		}
	})
	t.Run("paging", func(t *testing.T) {
		all, total, _ := e.search("sort=receiveTime:asc&limit=1000")
		if total != 7 || len(all) != 7 {
			t.Fatalf("all: total %d, %d messages", total, len(all))
		}
		var got []map[string]any
		params := "sort=receiveTime:asc&limit=2"
		var prevTok string
		for page := 0; ; page++ {
			if page > 10 {
				t.Fatal("paging does not end")
			}
			msgs, total, info := e.search(params)
			if total != 7 {
				t.Fatalf("page %d: totalCount %d", page, total)
			}
			got = append(got, msgs...)
			if page > 0 && (info["prevPageToken"] == nil || !strings.Contains(info["prevPage"].(string), "pageToken=")) {
				t.Fatalf("page %d: pageInfo %v", page, info)
			}
			next, _ := info["nextPageToken"].(string)
			if next == "" {
				if len(msgs) == 0 {
					t.Fatal("empty last page")
				}
				break
			}
			if u, _ := info["nextPage"].(string); !strings.HasPrefix(u, "http://") || !strings.Contains(u, url.QueryEscape(next)) {
				t.Fatalf("nextPage %q", u)
			}
			prevTok, _ = info["prevPageToken"].(string)
			params = "sort=receiveTime:asc&limit=2&pageToken=" + url.QueryEscape(next)
		}
		if !slices.Equal(msgIDs(got), msgIDs(all)) {
			t.Fatalf("pages %v, want %v", msgIDs(got), msgIDs(all))
		}
		// A token is bound to its query and account.
		_, _, info := e.search("sort=receiveTime:asc&limit=2")
		tok := url.QueryEscape(info["nextPageToken"].(string))
		wantValidation(t, e.get(searchPath+"?sort=receiveTime:desc&limit=2&pageToken="+tok, user, pass),
			"pageToken", "pageToken is not a token of this search; start again without it")
		wantValidation(t, e.get("/api/v2/users/"+acct2+"/messages?sort=receiveTime:asc&limit=2&pageToken="+tok, user2, pass),
			"pageToken", "pageToken is not a token of this search; start again without it")
		if prevTok == "" {
			t.Fatal("no prevPageToken seen")
		}
		// Newest first by default.
		desc, _, _ := e.search("limit=1")
		if desc[0]["messageId"] != all[6]["messageId"] {
			t.Fatalf("default order: first %v, want newest %v", desc[0]["messageId"], all[6]["messageId"])
		}
	})
	t.Run("errors", func(t *testing.T) {
		r := e.get(searchPath, user, pass)
		if r.status != 400 || r.body["type"] != "request-validation" {
			t.Fatalf("no parameters: %d %s", r.status, r.raw)
		}
		for _, c := range []struct{ params, field string }{
			{"limit=0", "limit"}, {"limit=1001", "limit"}, {"limit=x", "limit"},
			{"messageStatus=LOST", "messageStatus"}, {"messageDirection=UP", "messageDirection"},
			{"fromDateTime=yesterday", "fromDateTime"}, {"errorCode=abc", "errorCode"},
			{"sort=sourceTn:desc", "sort"}, {"destinationTn=%2B1", "destinationTn"}, {"bogus=1", "bogus"},
			{"pageToken=AAAA", "pageToken"},
			{"fromDateTime=2026-11-02T00:00:00Z&toDateTime=2026-11-01T00:00:00Z", "toDateTime"},
		} {
			r := e.get(searchPath+"?"+c.params, user, pass)
			fe, _ := r.body["fieldErrors"].([]any)
			if r.status != 400 || len(fe) != 1 || fe[0].(map[string]any)["fieldName"] != c.field {
				t.Errorf("%s: %d %s", c.params, r.status, r.raw)
			}
		}
		if r := e.get(searchPath+"?limit=1", user2, pass); r.status != 403 {
			t.Errorf("another account's credentials: %d %s", r.status, r.raw)
		}
		if r := e.get(searchPath+"?limit=1", user, "wrong"); r.status != 401 {
			t.Errorf("wrong password: %d %s", r.status, r.raw)
		}
		if r := e.get("/users/"+acct+"/messages?limit=1", user, pass); r.status != 200 {
			t.Errorf("without /api/v2: %d %s", r.status, r.raw)
		}
	})
	t.Run("another account sees none of them", func(t *testing.T) {
		// Account 2's own search, given account 1's message ids or a page
		// token cut from account 1's results, finds nothing.
		other := "/api/v2/users/" + acct2 + "/messages?"
		first := e.get(searchPath+"?sort=receiveTime:asc&limit=1", user, pass)
		token, _ := first.body["pageInfo"].(map[string]any)["nextPageToken"].(string)
		if token == "" {
			t.Fatalf("no next page token in %s", first.raw)
		}
		for _, params := range []string{"messageId=" + single, "messageId=" + group, "limit=100",
			"sort=receiveTime:asc&limit=100&pageToken=" + url.QueryEscape(token)} {
			r := e.get(other+params, user2, pass)
			refused := r.status == 400 && strings.Contains(params, "pageToken") // a token of another search
			if !refused && (r.status != 200 || r.body["totalCount"] != 0.0) || strings.Contains(r.raw, acct+`"`) {
				t.Errorf("%s: %d %s", params, r.status, r.raw)
			}
		}
	})
	t.Run("time window", func(t *testing.T) {
		future := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
		if msgs, total, _ := e.search("fromDateTime=" + url.QueryEscape(future)); len(msgs) != 0 || total != 0 {
			t.Fatalf("future window: %v", msgIDs(msgs))
		}
		past := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
		if _, total, _ := e.search("fromDateTime=" + url.QueryEscape(past) + "&toDateTime=" + url.QueryEscape(future)); total != 7 {
			t.Fatalf("window around the test: total %d", total)
		}
	})
	t.Run("mdr", func(t *testing.T) {
		from := url.QueryEscape(time.Now().Add(-time.Hour).UTC().Format(time.RFC3339))
		to := url.QueryEscape(time.Now().Add(time.Hour).UTC().Format(time.RFC3339))
		r := e.get(searchPath+"/mdr.csv?from="+from+"&to="+to, user, pass)
		if r.status != 200 {
			t.Fatalf("mdr: %d %s", r.status, r.raw)
		}
		if strings.Contains(r.raw, "secret") {
			t.Fatalf("MDR contains message text:\n%s", r.raw)
		}
		rows, err := csv.NewReader(strings.NewReader(r.raw)).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		head := rows[0]
		col := func(name string) int { return slices.Index(head, name) }
		if head[0] != "AccountId" || col("SegmentNumber") < 0 || col("CarrierMessageId") < 0 {
			t.Fatalf("header %v", head)
		}
		byMsg := map[string][][]string{}
		for _, row := range rows[1:] {
			byMsg[row[col("MessageID")]] = append(byMsg[row[col("MessageID")]], row)
		}
		// 1 + 3 (group) + 3 (long: one per segment) + 1 + 1 inbound.
		if len(rows)-1 != 9 || len(byMsg[long]) != 3 || len(byMsg[group]) != 3 {
			t.Fatalf("%d rows: %v", len(rows)-1, rows)
		}
		cids := map[string]bool{}
		for i, row := range byMsg[long] {
			if row[col("SegmentNumber")] != string(rune('1'+i)) || row[col("SegmentCount")] != "3" || row[col("DestinationTn")] != "15550002005" ||
				row[col("MessageStatus")] != "DELIVERED" || row[col("CallDirection")] != "OUTBOUND" || row[col("CarrierMessageId")] == "" {
				t.Errorf("long segment %d: %v", i+1, row)
			}
			cids[row[col("CarrierMessageId")]] = true
		}
		if len(cids) != 3 {
			t.Errorf("long message parts share carrier ids: %v", cids)
		}
		var dests []string
		for _, row := range byMsg[group] {
			dests = append(dests, row[col("DestinationTn")])
			if row[col("RecipientCount")] != "3" || row[col("SegmentCount")] != "1" {
				t.Errorf("group row %v", row)
			}
		}
		slices.Sort(dests)
		if !slices.Equal(dests, []string{"15550002002", "15550002003", "15550002004"}) {
			t.Errorf("group rows to %v", dests)
		}
		if row := byMsg[failed][0]; row[col("ErrorCode")] != "4720" || row[col("MessageStatus")] != "FAILED" {
			t.Errorf("failed row %v", row)
		}
		wantValidation(t, e.get(searchPath+"/mdr.csv?from="+from, user, pass), "to", "to is required (ISO 8601 date-time)")
		if r := e.get(searchPath+"/mdr.csv?from="+from+"&to="+to, user2, pass); r.status != 403 {
			t.Errorf("MDR of another account: %d", r.status)
		}
	})
}

// TestRecordRetention: with a short retention, a delivered message's
// record (and its index entries: the search no longer finds it) is
// deleted by the background sweep.
func TestRecordRetention(t *testing.T) {
	sim := startSim(t, smsc.Behaviour{})
	cfg := configWith(t, sim.Addr(), filepath.Join(t.TempDir(), "bridge.db"), configOptions{})
	cfg.Store.RecordRetention = 1e9 // 1s
	e := startDaemonWith(t, sim, cfg, daemon.Options{RetentionInterval: 50 * time.Millisecond})
	e.waitBinds(2)
	id := e.accepted(e.send(msgBody([]string{"+15550002101"}, "short lived", "")))
	e.waitRecord(id, 0)
	deadline := time.Now().Add(20 * time.Second)
	for {
		_, err := e.d.Store.Record(id, 0)
		if errors.Is(err, store.ErrNotFound) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("record still there after 20s: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if msgs, total, _ := e.search("messageId=" + id); len(msgs) != 0 || total != 0 {
		t.Fatalf("search still finds %v", msgIDs(msgs))
	}
	if msgs, _, _ := e.search("destinationTn=%2B15550002101"); len(msgs) != 0 {
		t.Fatalf("destination index still lists %v", msgIDs(msgs))
	}
}

// TestRecordRetentionKeepsSentRecords: a record older than the retention
// whose message is still waiting for its receipt (SENT) is kept: deleting
// it would lose the message's one terminal callback (here the 9902 at the
// end of receipt_wait, longer than the retention). A delivered message of
// the same age is deleted in the same sweep. The bridge runs on a stopped
// clock the test moves.
func TestRecordRetentionKeepsSentRecords(t *testing.T) {
	const silent = "+15550002111" // the simulator sends no receipt for it
	base := time.Now()
	var ahead atomic.Int64
	clock := func() time.Time { return base.Add(time.Duration(ahead.Load())) }
	sim := startSim(t, smsc.Behaviour{Rules: []smsc.Rule{{Dest: silent, NoReceipt: true}}})
	hooks := newHookReceiver(t)
	cfg := configWith(t, sim.Addr(), filepath.Join(t.TempDir(), "bridge.db"),
		configOptions{CarrierExtra: `receipt_wait = "10s"`, CallbackURL: hooks.srv.URL + "/status"})
	cfg.Store.RecordRetention = 1e9 // 1s
	e := startDaemonWith(t, sim, cfg, daemon.Options{Clock: clock, RetentionInterval: 20 * time.Millisecond,
		CallbackPollInterval: 20 * time.Millisecond})
	e.waitBinds(2)
	delivered := e.accepted(e.send(msgBody([]string{"+15550002110"}, "delivered", "")))
	if ev := oneEvent(t, hooks.next(t)); ev["type"] != "message-delivered" {
		t.Fatalf("event %v", ev)
	}
	waiting := e.accepted(e.send(msgBody([]string{silent}, "no receipt", "")))
	if r := e.waitRecord(waiting, 0); r.Status != store.StatusSent {
		t.Fatalf("record %s, want SENT", r.Status)
	}
	ahead.Store(int64(5 * time.Second)) // both older than the retention; the receipt wait still runs
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, err := e.d.Store.Record(delivered, 0); errors.Is(err, store.ErrNotFound) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the delivered record was not deleted within 20s")
		}
		time.Sleep(20 * time.Millisecond) // polling the store; nothing notifies a deletion
	}
	if _, err := e.d.Store.Record(waiting, 0); err != nil {
		t.Fatalf("the record of a message waiting for its receipt was deleted: %v", err)
	}
	ahead.Store(int64(30 * time.Second)) // past receipt_wait
	ev := oneEvent(t, hooks.next(t))
	if m, _ := ev["message"].(map[string]any); ev["type"] != "message-failed" || ev["errorCode"] != 9902.0 || m["id"] != waiting {
		t.Fatalf("event %v, want message-failed 9902 for %s", ev, waiting)
	}
}
