package daemon_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"smppbridge/cmd/daemon"
	"smppbridge/testharness/smsc"
)

// scrape fetches and parses /metrics from the admin listener.
func scrape(t *testing.T, adminAddr string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get("http://" + adminAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("/metrics: %s", resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parsing /metrics: %v", err)
	}
	return fams
}

// sumOf adds the values of a family's series whose labels include want.
func sumOf(fams map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	f := fams[name]
	if f == nil {
		return -1
	}
	var sum float64
	for _, m := range f.Metric {
		labels := map[string]string{}
		for _, l := range m.Label {
			labels[l.GetName()] = l.GetValue()
		}
		match := true
		for k, v := range want {
			if labels[k] != v {
				match = false
			}
		}
		if !match {
			continue
		}
		switch {
		case m.Counter != nil:
			sum += m.Counter.GetValue()
		case m.Gauge != nil:
			sum += m.Gauge.GetValue()
		case m.Histogram != nil:
			sum += float64(m.Histogram.GetSampleCount())
		}
	}
	return sum
}

// TestMetricsMoveUnderTraffic: after messages, a refused request, receipts
// and callbacks, the scraped series say so.
func TestMetricsMoveUnderTraffic(t *testing.T) {
	var callbacks atomic.Int64
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		callbacks.Add(1)
		w.WriteHeader(204)
	}))
	defer hook.Close()
	sim := startSim(t, smsc.Behaviour{})
	cfg := configWith(t, sim.Addr(), filepath.Join(t.TempDir(), "bridge.db"), configOptions{CallbackURL: hook.URL + "/cb"})
	e := startDaemonWith(t, sim, cfg, daemon.Options{})
	e.waitBinds(2)

	before := scrape(t, e.d.AdminAddr())
	if v := sumOf(before, "smppbridge_queue_capacity_segments", map[string]string{"carrier": "sim"}); v <= 0 {
		t.Fatalf("queue capacity %v", v)
	}
	const sent = 3
	for i := range sent {
		if r := e.send(msgBody([]string{fmt.Sprintf("+1555000300%d", i)}, "metrics", "")); r.status != 202 {
			t.Fatalf("status %d: %s", r.status, r.raw)
		}
	}
	if r := e.post(acct, user, "wrong", "application/json", msgBody([]string{"+15550003009"}, "x", "")); r.status != 401 {
		t.Fatalf("wrong password: status %d", r.status)
	}
	route := "POST /api/v2/users/{accountId}/messages"
	want := []struct {
		name   string
		labels map[string]string
		min    float64
	}{
		{"smppbridge_http_requests_total", map[string]string{"route": route, "code": "202"}, sent},
		{"smppbridge_http_requests_total", map[string]string{"route": route, "code": "401"}, 1},
		{"smppbridge_http_accepted_duration_seconds", nil, sent},
		{"smppbridge_smpp_submits_total", map[string]string{"carrier": "sim", "status": "ok"}, sent},
		{"smppbridge_smpp_submit_response_seconds", map[string]string{"carrier": "sim"}, sent},
		{"smppbridge_smpp_binds_up", map[string]string{"carrier": "sim"}, 2},
		{"smppbridge_receipts_total", map[string]string{"carrier": "sim", "outcome": "delivered", "code": "0"}, sent},
		{"smppbridge_callback_attempts_total", map[string]string{"application": app, "outcome": "success"}, 1},
		{"smppbridge_callback_duration_seconds", map[string]string{"application": app, "outcome": "success"}, 1},
		{"smppbridge_callbacks_delivered_total", nil, sent},
		{"smppbridge_store_size_bytes", nil, 1},
		{"smppbridge_receipts_unmatched", nil, 0}, // present; every receipt is matched in the end (checked below)
		{"smppbridge_store_commits_total", nil, 1},
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		fams := scrape(t, e.d.AdminAddr())
		var missing []string
		for _, w := range want {
			if got := sumOf(fams, w.name, w.labels); got < w.min {
				missing = append(missing, fmt.Sprintf("%s%v = %v, want >= %v", w.name, w.labels, got, w.min))
			}
		}
		if got := sumOf(fams, "smppbridge_receipts_unmatched", nil); got != 0 {
			missing = append(missing, fmt.Sprintf("receipts still unmatched: %v", got))
		}
		if len(missing) == 0 {
			if b, a := sumOf(before, "smppbridge_http_requests_total", nil), sumOf(fams, "smppbridge_http_requests_total", nil); a < b+sent+1 {
				t.Errorf("http_requests_total moved from %v to %v", b, a)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("metrics did not move (callbacks received: %d):\n%v", callbacks.Load(), missing)
		}
		time.Sleep(50 * time.Millisecond) // polling interval, bounded by the deadline
	}
}

var metricName = regexp.MustCompile(`smppbridge_[a-z0-9_]+`)

// documentedMetrics are the metric names of docs/operations.md's table.
func documentedMetrics(t *testing.T) map[string]bool {
	t.Helper()
	doc, err := os.ReadFile("../../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, line := range strings.Split(string(doc), "\n") {
		if strings.HasPrefix(line, "| `smppbridge_") {
			out[metricName.FindString(line)] = true
		}
	}
	if len(out) < 20 {
		t.Fatalf("only %d metrics documented", len(out))
	}
	return out
}

// TestMetricsDocumented: every series the daemon exposes is in the
// operator's table, and the Grafana dashboard uses only those names.
func TestMetricsDocumented(t *testing.T) {
	documented := documentedMetrics(t)
	sim := startSim(t, smsc.Behaviour{})
	e := startDaemon(t, sim, "", "")
	e.waitBinds(2)
	if r := e.send(msgBody([]string{"+15550007001"}, "documented", "")); r.status != 202 {
		t.Fatalf("status %d", r.status)
	}
	for name := range scrape(t, e.d.AdminAddr()) {
		if strings.HasPrefix(name, "smppbridge_") && !documented[name] {
			t.Errorf("%s is exposed but not documented in docs/operations.md", name)
		}
	}
	raw, err := os.ReadFile("../../docs/grafana-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash map[string]any
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatalf("dashboard is not JSON: %v", err)
	}
	used := metricName.FindAllString(string(raw), -1)
	if len(used) < 20 {
		t.Fatalf("dashboard uses only %d metric names", len(used))
	}
	for _, name := range used {
		base := name
		for _, suffix := range []string{"_bucket", "_sum", "_count"} {
			if b, ok := strings.CutSuffix(name, suffix); ok && documented[b] {
				base = b
			}
		}
		if !documented[base] {
			t.Errorf("dashboard uses %s, which is not a documented metric", name)
		}
	}
}

// TestMetricsCountReceiverBinds: with bind_type = "transmitter_receiver"
// receipts and inbound messages arrive only on the receiver binds, so
// smpp_inbound_total must count them there, and smpp_bind_up must show
// whether those binds are up.
func TestMetricsCountReceiverBinds(t *testing.T) {
	e := startReceiptEnv(t, smsc.Behaviour{}, `bind_type = "transmitter_receiver"`, daemon.Options{})
	e.waitBinds(4)
	e.accepted(e.send(msgBody([]string{"+15550008961"}, "receipt over a receiver", "")))
	e.hooks.next(t)
	e.settle(1)
	deadline := time.Now().Add(20 * time.Second)
	for {
		fams := scrape(t, e.d.AdminAddr())
		inbound := sumOf(fams, "smppbridge_smpp_inbound_total", map[string]string{"carrier": "sim"})
		up := sumOf(fams, "smppbridge_smpp_bind_up", map[string]string{"carrier": "sim"})
		if inbound >= 1 && up == 4 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("smpp_inbound_total %v (want >= 1: the receipt came on a receiver bind), smpp_bind_up summed %v (want 4: 2 transmitters, 2 receivers)", inbound, up)
		}
		time.Sleep(50 * time.Millisecond) // polling interval, bounded by the deadline
	}
}

// TestMetricsNameTheMDRRoute: an MDR export is a route of its own in
// smppbridge_http_requests_total, not lumped with unknown paths in "other".
func TestMetricsNameTheMDRRoute(t *testing.T) {
	sim := startSim(t, smsc.Behaviour{})
	e := startDaemon(t, sim, "", "")
	now := time.Now().UTC()
	q := "?from=" + now.Add(-time.Hour).Format(time.RFC3339) + "&to=" + now.Add(time.Hour).Format(time.RFC3339)
	if r := e.get(searchPath+"/mdr.csv"+q, user, pass); r.status != 200 {
		t.Fatalf("MDR export: %d %s", r.status, r.raw)
	}
	if r := e.get(searchPath+"/mdr.csv?from=yesterday", user, pass); r.status != 400 {
		t.Fatalf("bad MDR request: %d %s", r.status, r.raw)
	}
	fams := scrape(t, e.d.AdminAddr())
	route := "GET /api/v2/users/{accountId}/messages/mdr.csv"
	for _, code := range []string{"200", "400"} {
		if got := sumOf(fams, "smppbridge_http_requests_total", map[string]string{"route": route, "code": code}); got != 1 {
			t.Errorf("http_requests_total{route=%q,code=%q} = %v, want 1", route, code, got)
		}
	}
	if got := sumOf(fams, "smppbridge_http_requests_total", map[string]string{"route": "other"}); got > 0 {
		t.Errorf("http_requests_total{route=\"other\"} = %v, want none (no unknown path was requested)", got)
	}
}

// TestMetricsIntermediateReceiptsAreNotUnmatched: an intermediate receipt
// (ENROUTE) for a known message is counted as a pending receipt, not as
// one that matched no message (intermediate receipts are never held or
// matched, so counting them there would make the match rate look bad on
// every carrier that sends them).
func TestMetricsIntermediateReceiptsAreNotUnmatched(t *testing.T) {
	const dest = "+15550008971"
	e := startReceiptEnv(t, smsc.Behaviour{Rules: []smsc.Rule{{Dest: dest, Stat: "ENROUTE"}}}, "", daemon.Options{})
	e.accepted(e.send(msgBody([]string{dest}, "on its way", "")))
	deadline := time.Now().Add(20 * time.Second)
	for {
		fams := scrape(t, e.d.AdminAddr())
		if sumOf(fams, "smppbridge_receipts_total", map[string]string{"carrier": "sim", "outcome": "pending"}) >= 1 {
			if got := sumOf(fams, "smppbridge_receipts_unmatched_on_arrival_total", map[string]string{"carrier": "sim"}); got > 0 {
				t.Fatalf("receipts_unmatched_on_arrival_total = %v after one ENROUTE receipt of a known message, want 0", got)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("no pending receipt counted within 20s")
		}
		time.Sleep(50 * time.Millisecond) // polling interval, bounded by the deadline
	}
}
