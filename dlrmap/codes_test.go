package dlrmap

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
)

const tsvPath = "../../shared/reference/error-codes.tsv"

// TestCodesMatchTSV: the embedded table is error-codes.tsv, row for row.
func TestCodesMatchTSV(t *testing.T) {
	if _, err := os.Stat(tsvPath); err != nil {
		t.Skipf("reference table not here: %v", err)
	}
	data, err := os.ReadFile(tsvPath)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if lines[0] != "code\tname\treported_by\tkind\tbillable\tmeaning" {
		t.Fatalf("header changed: %q", lines[0])
	}
	rows := lines[1:]
	if len(rows) != len(codes) {
		t.Errorf("TSV has %d codes, table %d", len(rows), len(codes))
	}
	for i, l := range rows {
		f := strings.Split(l, "\t")
		if len(f) != 6 {
			t.Errorf("TSV row %d: %d columns", i+1, len(f))
			continue
		}
		n, err := strconv.Atoi(f[0])
		if err != nil || (f[4] != "yes" && f[4] != "no") {
			t.Errorf("TSV row %d unreadable: %q", i+1, l)
			continue
		}
		want := Code{n, f[1], f[2], f[3], f[4] == "yes", f[5]}
		if i >= len(codes) || codes[i] != want {
			t.Errorf("row %d differs; want\n\t{%d, %q, %q, %q, %v, %q},", i+1, want.Code, want.Name, want.ReportedBy, want.Kind, want.Billable, want.Meaning)
		}
	}
}

func TestCodesTable(t *testing.T) {
	seen := map[int]bool{}
	for _, c := range codes {
		if seen[c.Code] {
			t.Errorf("code %d twice", c.Code)
		}
		seen[c.Code] = true
		if got, ok := Lookup(c.Code); !ok || got != c {
			t.Errorf("Lookup(%d) = %+v, %v", c.Code, got, ok)
		}
	}
	if len(codes) != 76 {
		t.Errorf("%d codes, want 76", len(codes))
	}
	if _, ok := Lookup(4799); ok {
		t.Error("Lookup(4799) found a code")
	}
	// Every code this package can return is in the table.
	for _, c := range []int{CodeExpired, CodeNoRoute, CodeSubmitFailed, CodeDestAppError, CodeNotAcknowledged,
		CodeReceiptExpired, CodeUnknown, CodeShutdown, CodeStoreError, CodeInvalidDest, CodeInvalidSource,
		CodeMessageSize, CodeMalformed, CodeRejected, CodeInvalidServiceType, CodeSubscriberUnavailable,
		CodeTNDeactivated, CodeHandsetRejected, CodeTNBlocked, CodeDestFailed} {
		if Name(c) == "" {
			t.Errorf("constant %d not in the table", c)
		}
	}
	if s := fmt.Sprint(Name(4702)); s != "destination-subscriber-unavailable" {
		t.Errorf("Name(4702) = %q", s)
	}
}
