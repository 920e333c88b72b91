package daemon_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"testing"
	"time"

	"smppbridge/cmd/daemon"
	"smppbridge/conf"
)

// BenchmarkMDRExportHTTP measures the MDR export end to end: the daemon
// serves mdr.csv from a store holding records of account 9900000 and a
// client reads the whole body over HTTP (127.0.0.1), counting rows.
//
// It needs a filled store: RECORDS_BENCH_DB as kept by store's
// BenchmarkRecordsAtScale (records from 2026-11-01 over 14 days), e.g.
//
//	RECORDS_BENCH_N=10000000 RECORDS_BENCH_DB=/tmp/r10m.db go test -run '^$' -bench 'RecordsAtScale/message_id' -benchtime 1x ./store/
//	RECORDS_BENCH_DB=/tmp/r10m.db MDR_BENCH_HOURS=36 go test -run '^$' -bench MDRExportHTTP -benchtime 3x ./cmd/daemon/
//
// MDR_BENCH_HOURS is the length of the exported window from the first
// record (default 36: about 1.2 million rows at 10 million records).
func BenchmarkMDRExportHTTP(b *testing.B) {
	path := os.Getenv("RECORDS_BENCH_DB")
	if path == "" {
		b.Skip("RECORDS_BENCH_DB names no filled store (see the comment)")
	}
	hours := 36
	if v := os.Getenv("MDR_BENCH_HOURS"); v != "" {
		hours, _ = strconv.Atoi(v)
	}
	const account, user, pass = "9900000", "bench", "bench-password"
	toml := fmt.Sprintf(`
[http]
listen = "127.0.0.1:0"
write_timeout = "30s"
[admin]
listen = "127.0.0.1:0"
[store]
path = %q
record_retention = "87600h"
[[carrier]]
name = "sim"
address = "127.0.0.1:9"
system_id = "bridge"
password = "secret"
routes = ["+1"]
segments_per_second = 100
[[account]]
id = %q
  [[account.credential]]
  username = %q
  password_hash = %q
  [[account.application]]
  id = "app"
  callback_url = "http://127.0.0.1:9/callbacks"
  numbers = ["+19195550000"]
`, path, account, user, fastHash(b, pass))
	cfg, err := conf.Parse([]byte(toml))
	if err != nil {
		b.Fatal(err)
	}
	ready := make(chan *daemon.Daemon, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	t0 := time.Now()
	go func() {
		done <- daemon.Run(ctx, daemon.Options{Config: cfg, Logger: slog.New(slog.DiscardHandler), Ready: func(d *daemon.Daemon) { ready <- d }})
	}()
	var d *daemon.Daemon
	select {
	case d = <-ready:
	case err := <-done:
		b.Fatalf("daemon did not start: %v", err)
	case <-time.After(10 * time.Minute):
		b.Fatal("daemon did not start within 10 minutes")
	}
	defer func() {
		cancel()
		if err := <-done; err != nil {
			b.Errorf("daemon stopped with %v", err)
		}
	}()
	b.Logf("daemon ready on %s in %s", path, time.Since(t0).Round(time.Millisecond))
	from := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	to := from.Add(time.Duration(hours) * time.Hour)
	u := "http://" + d.HTTPAddr() + "/api/v2/users/" + account + "/messages/mdr.csv?from=" +
		url.QueryEscape(from.Format(time.RFC3339)) + "&to=" + url.QueryEscape(to.Format(time.RFC3339))
	buf := make([]byte, 256<<10)
	rows, size := 0, 0
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		req, _ := http.NewRequest("GET", u, nil)
		req.SetBasicAuth(user, pass)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		if resp.StatusCode != 200 {
			raw, _ := io.ReadAll(resp.Body)
			b.Fatalf("mdr.csv: %d %s", resp.StatusCode, raw)
		}
		for {
			n, err := resp.Body.Read(buf)
			rows += bytes.Count(buf[:n], []byte{'\n'})
			size += n
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
		}
		resp.Body.Close()
		rows-- // the header
	}
	el := time.Since(start).Seconds()
	if rows < b.N {
		b.Fatalf("%d rows: the store holds no records of account %s in [%s, %s)", rows, account, from, to)
	}
	b.ReportMetric(float64(rows)/el, "rows/s")
	b.ReportMetric(float64(size)/el/1e6, "MB/s")
	b.ReportMetric(float64(rows)/float64(b.N), "rows/export")
}
