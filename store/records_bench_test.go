package store

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// BenchmarkRecordsAtScale fills a store with RECORDS_BENCH_N records (default
// 200,000; the figure is 10,000,000) of one account over 14 days —
// 100,000 destinations, 100 sources, 90 % DELIVERED, 8 % FAILED over 8
// error codes, 2 % SENT, 10 % of them 2 or 3 segments — and then measures
// each indexed search (a page of 100 plus totalCount) and the export rate
// (about 200,000 records per export, decoded, without CSV formatting; see
// bridge's BenchmarkMDRRows for that).
// The fill writes large NoSync transactions directly, not through the
// group commit; it is the search side that is measured. Each sub-benchmark
// reports p50 and p99 latency in ms.
//
// RECORDS_BENCH_DB names a file to keep the filled store in (the 10M fill
// takes minutes): a later run with the same path and N reuses it instead of
// filling again. Delete it when done.
func BenchmarkRecordsAtScale(b *testing.B) {
	n := 200_000
	if v := os.Getenv("RECORDS_BENCH_N"); v != "" {
		n, _ = strconv.Atoi(v)
	}
	path := os.Getenv("RECORDS_BENCH_DB")
	if path == "" {
		path = filepath.Join(b.TempDir(), "scale.db")
	}
	// The marker is written after a complete fill, so an interrupted fill
	// is never reused.
	marker := path + ".filled"
	reuse := false
	if m, err := os.ReadFile(marker); err == nil && string(m) == strconv.Itoa(n) {
		reuse = true
	} else {
		os.Remove(marker)
		os.Remove(path)
	}
	t0 := time.Now()
	s, err := Open(path, Options{NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	start := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	span := 14 * 24 * time.Hour
	step := span / time.Duration(n)
	const dests, srcs = 100_000, 100
	rng := rand.New(rand.NewPCG(1, 2))
	var ids []string // a sample for messageId queries
	for i := 0; i < n; i += n/1000 + 1 {
		ids = append(ids, fmt.Sprintf("%013d%016d", start.Add(time.Duration(i)*step).UnixMilli(), i))
	}
	if reuse {
		b.Logf("reusing %s (%d records), opened in %s", path, n, time.Since(t0).Round(time.Millisecond))
	}
	// RECORDS_BENCH_FILL sets bbolt's FillPercent for the fill (default
	// 0.5, as the daemon writes): how full a leaf is left when it splits.
	fill := bolt.DefaultFillPercent
	if v := os.Getenv("RECORDS_BENCH_FILL"); v != "" && !reuse {
		if fill, err = strconv.ParseFloat(v, 64); err != nil {
			b.Fatal(err)
		}
	}
	const perTx = 50_000
	for i := 0; i < n && !reuse; {
		err := s.db.Update(func(tx *bolt.Tx) error {
			tx.Bucket(bucketRecords).FillPercent = fill
			tx.Bucket(bucketRecIdx).FillPercent = fill
			for end := min(n, i+perTx); i < end; i++ {
				at := start.Add(time.Duration(i) * step)
				r := Record{MessageID: fmt.Sprintf("%013d%016d", at.UnixMilli(), i), AccountID: "9900000", ApplicationID: "app",
					Direction: "out", From: fmt.Sprintf("+1919555%04d", rng.IntN(srcs)), To: fmt.Sprintf("+1555%07d", rng.IntN(dests)),
					Carrier: "sim", Segments: 1, Status: StatusDelivered, ReceivedAt: at, SentAt: at, DoneAt: at.Add(time.Second),
					Length: 40, Size: 40, Type: "sms", AllTo: []string{"x"}}
				if rng.IntN(10) == 0 {
					r.Segments = 2 + rng.IntN(2)
				}
				r.CarrierIDs = make([]string, r.Segments)
				for p := range r.CarrierIDs {
					r.CarrierIDs[p] = strconv.Itoa(i*4 + p)
				}
				switch x := rng.IntN(100); {
				case x < 8:
					r.Status, r.ErrorCode = StatusFailed, 4700+rng.IntN(8)
				case x < 10:
					r.Status = StatusSent
				}
				ir := prepareIndexed(&r)
				if err := ir.putTx(tx); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	if !reuse {
		fi, _ := os.Stat(path)
		b.Logf("filled %d records in %s (%.0f/s), file %d MB, fill percent %.2f", n, time.Since(t0).Round(time.Second), float64(n)/time.Since(t0).Seconds(), fi.Size()>>20, fill)
		if err := os.WriteFile(marker, []byte(strconv.Itoa(n)), 0o600); err != nil {
			b.Fatal(err)
		}
	}
	// The fill's writes are not synced (NoSync): flush them now, or the
	// queries would run during the kernel's writeback of gigabytes.
	if err := s.db.Sync(); err != nil {
		b.Fatal(err)
	}
	// Queries draw from their own generator, the same whether the store
	// was filled now or reused.
	rng = rand.New(rand.NewPCG(3, 4))
	// RECORDS_BENCH_COLD=1 evicts the file's pages from memory before each
	// query kind, so that its queries read from the disk as they would in
	// a store larger than memory (Linux).
	cold := os.Getenv("RECORDS_BENCH_COLD") == "1"

	code := 4703
	queries := []struct {
		name string
		q    func(i int) RecordQuery
	}{
		{"latest", func(i int) RecordQuery { return RecordQuery{} }},
		{"window", func(i int) RecordQuery {
			from := start.Add(time.Duration(rng.Int64N(int64(span - time.Hour))))
			return RecordQuery{Since: from, Until: from.Add(time.Hour)}
		}},
		{"destination", func(i int) RecordQuery { return RecordQuery{To: []string{fmt.Sprintf("+1555%07d", rng.IntN(dests))}} }},
		{"destination_partial", func(i int) RecordQuery {
			return RecordQuery{ToPrefix: []string{fmt.Sprintf("+1555%05d", rng.IntN(dests/100))}}
		}},
		{"source", func(i int) RecordQuery {
			return RecordQuery{From: []string{fmt.Sprintf("+1919555%04d", rng.IntN(srcs))}}
		}},
		{"status_failed", func(i int) RecordQuery { return RecordQuery{Status: StatusFailed} }},
		{"status_window", func(i int) RecordQuery {
			from := start.Add(time.Duration(rng.Int64N(int64(span - 24*time.Hour))))
			return RecordQuery{Status: StatusSent, Since: from, Until: from.Add(24 * time.Hour)}
		}},
		{"message_id", func(i int) RecordQuery { return RecordQuery{MessageID: ids[rng.IntN(len(ids))]} }},
		{"status_and_error_code", func(i int) RecordQuery { return RecordQuery{Status: StatusFailed, ErrorCode: &code} }},
		{"error_code_only", func(i int) RecordQuery { return RecordQuery{ErrorCode: &code} }},
	}
	for _, qc := range queries {
		b.Run(qc.name, func(b *testing.B) {
			if cold {
				if err := s.evictPages(); err != nil {
					b.Fatal(err)
				}
			}
			lat := make([]time.Duration, 0, b.N)
			for i := 0; i < b.N; i++ {
				q := qc.q(i)
				q.AccountID, q.Limit = "9900000", 100
				t := time.Now()
				if _, err := s.SearchRecords(q); err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(t))
			}
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
		})
	}
	b.Run("export", func(b *testing.B) {
		if cold {
			if err := s.evictPages(); err != nil {
				b.Fatal(err)
			}
		}
		// A window of about 200,000 records per export.
		window := span
		if n > 200_000 {
			window = time.Duration(float64(span) * 200_000 / float64(n))
		}
		rows, recs := 0, 0
		t := time.Now()
		for i := 0; i < b.N; i++ {
			from := start.Add(time.Duration(rng.Int64N(int64(span-window) + 1)))
			err := s.ExportRecords("9900000", from, from.Add(window), func(r *Record) error {
				recs++
				rows += max(r.Segments, 1)
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
		}
		el := time.Since(t).Seconds()
		b.ReportMetric(float64(recs)/el, "records/s")
		b.ReportMetric(float64(rows)/el, "rows/s")
	})
	// export_rows: the MDR path (ExportRows: only the MDR fields, the next
	// batch read while this one is consumed), same windows.
	b.Run("export_rows", func(b *testing.B) {
		if cold {
			if err := s.evictPages(); err != nil {
				b.Fatal(err)
			}
		}
		window := span
		if n > 200_000 {
			window = time.Duration(float64(span) * 200_000 / float64(n))
		}
		rows, recs := 0, 0
		t := time.Now()
		for i := 0; i < b.N; i++ {
			from := start.Add(time.Duration(rng.Int64N(int64(span-window) + 1)))
			err := s.ExportRows("9900000", from, from.Add(window), func(r *ExportRow) error {
				recs++
				rows += max(r.Segments, 1)
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
		}
		el := time.Since(t).Seconds()
		b.ReportMetric(float64(recs)/el, "records/s")
		b.ReportMetric(float64(rows)/el, "rows/s")
	})
}
