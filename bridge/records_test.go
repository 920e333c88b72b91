package bridge

import (
	"bufio"
	"encoding/csv"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"smppbridge/store"
)

// fakeRecords serves ExportRows from a slice.
type fakeRecords struct {
	recs []store.Record
	rows []store.ExportRow // recs as rows, made on first use
}

func (f *fakeRecords) SearchRecords(store.RecordQuery) (store.RecordPage, error) {
	return store.RecordPage{}, nil
}

func (f *fakeRecords) ExportRows(_ string, _, _ time.Time, fn func(*store.ExportRow) error) error {
	if f.rows == nil {
		for i := range f.recs {
			f.rows = append(f.rows, store.ExportRowOf(&f.recs[i]))
		}
	}
	for i := range f.rows {
		if err := fn(&f.rows[i]); err != nil {
			return err
		}
	}
	return nil
}

func (f *fakeRecords) DeleteRecordsBefore(time.Time, time.Time, int) (int, bool, error) {
	return 0, false, nil
}

var mdrTime = time.Date(2026, 11, 27, 9, 30, 0, 0, time.UTC)

// TestMDRRows: one row per segment with that part's carrier id, one per
// recipient; fields that need it are quoted (RFC 4180).
func TestMDRRows(t *testing.T) {
	f := &fakeRecords{recs: []store.Record{
		{MessageID: "m1", AccountID: "a", ApplicationID: "app", Direction: "out", From: "+15550001111", To: "+15550002222",
			Carrier: "sim", Segments: 3, Status: store.StatusDelivered, CarrierIDs: []string{"c1", "c2", "c3"}, ReceivedAt: mdrTime,
			SentAt: mdrTime.Add(time.Second), DoneAt: mdrTime.Add(2 * time.Second), Length: 300, Size: 300, Type: "sms", AllTo: []string{"+15550002222"}},
		{MessageID: "m2", AccountID: "a", Direction: "in", From: "Brand, Inc", To: "+15550001111", Carrier: `the "sim"`, Segments: 1,
			Status: store.StatusReceived, ReceivedAt: mdrTime},
		{MessageID: "m3", AccountID: "a", Direction: "out", From: "+15550001111", To: "+15550003333", Segments: 1, Status: store.StatusFailed,
			ErrorCode: 4720, ReceivedAt: mdrTime},
	}}
	e := &MDRExport{rs: f, account: "a"}
	var sb strings.Builder
	w := bufio.NewWriter(&sb)
	if err := e.Write(w); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(strings.NewReader(sb.String())).ReadAll()
	if err != nil {
		t.Fatalf("%v\n%s", err, sb.String())
	}
	if !slices.Equal(rows[0], MDRColumns) || len(rows) != 1+3+1+1 {
		t.Fatalf("rows %q", rows)
	}
	col := func(row []string, name string) string { return row[slices.Index(MDRColumns, name)] }
	for i, row := range rows[1:4] {
		if col(row, "SegmentNumber") != string(rune('1'+i)) || col(row, "CarrierMessageId") != "c"+string(rune('1'+i)) ||
			col(row, "SourceTn") != "15550001111" || col(row, "TimeStamp") != "2026-11-27T09:30:00.000Z" || col(row, "ErrorCode") != "" {
			t.Errorf("row %d: %q", i+1, row)
		}
	}
	if in := rows[4]; col(in, "SourceTn") != "Brand, Inc" || col(in, "CarrierName") != `the "sim"` || col(in, "CallDirection") != "INBOUND" {
		t.Errorf("inbound row %q", in)
	}
	if f := rows[5]; col(f, "ErrorCode") != "4720" || col(f, "MessageStatus") != "FAILED" || col(f, "SendTime") != "" {
		t.Errorf("failed row %q", f)
	}
}

func TestParseTns(t *testing.T) {
	cases := []struct {
		in              string
		exact, prefixes []string
		bad             bool
	}{
		{"+15550001111", nil, []string{"+15550001111"}, false},
		{"+1919", nil, []string{"+1919"}, false},
		{"19195", nil, []string{"19195", "+19195"}, false},
		{"+15550001111,+15550002222", []string{"+15550001111", "+15550002222"}, nil, false},
		{"1234", []string{"1234"}, nil, false},
		{"+1", nil, nil, true},
		{"+15550001111,+1919", nil, nil, true},
		{strings.Repeat("+1555000111,", 11), nil, nil, true},
	}
	for _, c := range cases {
		exact, prefixes, desc := parseTns(c.in)
		if (desc != "") != c.bad || !slices.Equal(exact, c.exact) || !slices.Equal(prefixes, c.prefixes) {
			t.Errorf("%q: %v %v %q", c.in, exact, prefixes, desc)
		}
	}
}

// BenchmarkMDRRows measures CSV formatting alone (rows/s), the bridge's
// share of an MDR export; the store's share is in store's
// BenchmarkRecordsAtScale/export.
func BenchmarkMDRRows(b *testing.B) {
	rec := store.Record{MessageID: "1795771844231ad4qws7xp8535y0x", AccountID: "9900000", ApplicationID: "93de2206-9669-4e07-948d-329f4b722ee2",
		Direction: "out", From: "+15550001111", To: "+15550002222", Carrier: "sim", Segments: 1, Status: store.StatusDelivered,
		CarrierIDs: []string{"1234567890"}, ReceivedAt: mdrTime, SentAt: mdrTime, DoneAt: mdrTime, Length: 40, Size: 40, Type: "sms", AllTo: []string{"x"}}
	f := &fakeRecords{recs: make([]store.Record, 10000)}
	for i := range f.recs {
		f.recs[i] = rec
	}
	e := &MDRExport{rs: f, account: "9900000"}
	w := bufio.NewWriterSize(io.Discard, 64<<10)
	e.Write(w) // makes the rows once
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		if err := e.Write(w); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*len(f.recs))/time.Since(start).Seconds(), "rows/s")
}

// TestMDRTime: the remembered-day formatter agrees with time.Format,
// across midnights, backwards in time and far from the remembered day.
func TestMDRTime(t *testing.T) {
	var f mdrFormatter
	times := []time.Time{mdrTime, mdrTime.Add(14*time.Hour + 29*time.Minute + 59*time.Second + 999*time.Millisecond),
		mdrTime.Add(14*time.Hour + 30*time.Minute), mdrTime.Add(-9*time.Hour - 30*time.Minute), mdrTime.Add(-9*time.Hour - 30*time.Minute - time.Nanosecond),
		time.Date(1999, 12, 31, 23, 59, 59, 999_999_999, time.UTC), time.Date(2026, 2, 28, 12, 0, 0, 5e6, time.FixedZone("x", 3600)), mdrTime}
	for i := 0; i < 200; i++ {
		times = append(times, mdrTime.Add(time.Duration(i*i)*17*time.Minute+time.Duration(i)*time.Millisecond))
	}
	for _, tm := range times {
		got := string(f.appendTime(nil, tm.UnixNano()))
		if want := tm.UTC().Format("2006-01-02T15:04:05.000Z"); got != want {
			t.Fatalf("%v: %s, want %s", tm, got, want)
		}
	}
	if got := f.appendTime(nil, 0); len(got) != 0 {
		t.Fatalf("zero time: %q", got)
	}
}
