package dlrmap

import (
	"slices"
	"testing"
)

func TestNormalizeID(t *testing.T) {
	cases := []struct{ in, want string }{
		{"12107289", "12107289"},
		{"0012107289", "12107289"},
		{"00B8BE19", "b8be19"}, // jasmin #1129: both sides meet
		{"B8BE19", "b8be19"},
		{"b8be19", "b8be19"},
		{"0", "0"},
		{"0000", "0"},
		{"", ""},
		{" \x00 ", ""},
		{"  0123 \x00\x00", "123"},
		{"\t42\r\n", "42"},
		{"0A1B2C3D-4E5F-6789-ABCD-EF0123456789", "a1b2c3d-4e5f-6789-abcd-ef0123456789"}, // jasmin #643
		{"a1b2c3d-4e5f-6789-abcd-ef0123456789", "a1b2c3d-4e5f-6789-abcd-ef0123456789"},
		{"0001234567890123456789012345678901234567890", "1234567890123456789012345678901234567890"},
		{"Msg-XYZ", "Msg-XYZ"}, // not hex-like: case kept
		{"msg-xyz", "msg-xyz"},
		{"00AbZ", "AbZ"},
		{"\xff0", "\xff0"},
	}
	for _, c := range cases {
		if got := NormalizeID(c.in); got != c.want {
			t.Errorf("NormalizeID(%q) = %q, want %q", c.in, got, c.want)
		}
		if got := NormalizeID(NormalizeID(c.in)); got != c.want {
			t.Errorf("NormalizeID not idempotent on %q: %q", c.in, got)
		}
	}
}

func TestConvertID(t *testing.T) {
	cases := []struct {
		in   string
		f    IDFormat
		want string
		ok   bool
	}{
		{"00B8BE19", IDHex, "12107289", true},
		{"b8be19", IDHex, "12107289", true},
		{"12107289", IDDecimal, "b8be19", true},
		{"0012107289", IDDecimal, "b8be19", true},
		{"18446744073709551615", IDDecimal, "ffffffffffffffff", true},
		{"18446744073709551616", IDDecimal, "", false}, // 2^64
		{"FFFFFFFFFFFFFFFF", IDHex, "18446744073709551615", true},
		{"10000000000000000", IDHex, "", false},
		{"xyz", IDHex, "", false},
		{"12a", IDDecimal, "", false},
		{"-1", IDDecimal, "", false},
		{"+1", IDDecimal, "", false},
		{"0x1F", IDHex, "", false},
		{"1_0", IDDecimal, "", false},
		{"00B8BE19", IDAuto, "b8be19", true},
		{"00B8BE19", IDSame, "b8be19", true},
	}
	for _, c := range cases {
		got, ok := ConvertID(c.in, c.f)
		if got != c.want || ok != c.ok {
			t.Errorf("ConvertID(%q, %d) = %q, %v; want %q, %v", c.in, c.f, got, ok, c.want, c.ok)
		}
	}
}

func TestCandidates(t *testing.T) {
	uuid := "0a1b2c3d-4e5f-6789-abcd-ef0123456789"
	forty := "1234567890123456789012345678901234567890"
	cases := []struct {
		name string
		in   string
		f    IDFormat
		want []string
	}{
		{"auto decimal digits: as sent, hex of it, decimal of it as hex", "12107289", IDAuto, []string{"12107289", "b8be19", "303067785"}},
		{"auto hex with letters", "00B8BE19", IDAuto, []string{"b8be19", "12107289"}},
		{"auto leading zeros", "000123", IDAuto, []string{"123", "7b", "291"}},
		{"auto zero", "000", IDAuto, []string{"0"}},
		{"auto UUID only as a string", uuid, IDAuto, []string{"a1b2c3d-4e5f-6789-abcd-ef0123456789"}},
		{"auto 40 digits only as a string", forty, IDAuto, []string{forty}},
		{"auto 17 hex digits only as a string", "1FFFFFFFFFFFFFFFF", IDAuto, []string{"1ffffffffffffffff"}},
		{"auto non-numeric", "msg-XYZ", IDAuto, []string{"msg-XYZ"}},
		{"hex receipt, decimal submit (jsmpp #56)", "00B8BE19", IDHex, []string{"12107289"}},
		{"hex receipt all digits is still hex", "10", IDHex, []string{"16"}},
		{"decimal receipt, hex submit (smscsim #4)", "12107289", IDDecimal, []string{"b8be19"}},
		{"decimal receipt with leading zeros", "0012107289", IDDecimal, []string{"b8be19"}},
		{"decimal format, UUID compared as sent", uuid, IDDecimal, []string{"a1b2c3d-4e5f-6789-abcd-ef0123456789"}},
		{"hex format, 40 digits compared as sent", forty, IDHex, []string{forty}},
		{"same format never converts", "0012107289", IDSame, []string{"12107289"}},
		{"empty", " \x00", IDAuto, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := Candidates(c.in, c.f); !slices.Equal(got, c.want) {
				t.Errorf("Candidates(%q, %d) = %q, want %q", c.in, c.f, got, c.want)
			}
		})
	}
}

// TestCandidatesMatchSubmit is the correlation the bridge does: index the
// submit_sm_resp id with NormalizeID, look the receipt id up by Candidates.
func TestCandidatesMatchSubmit(t *testing.T) {
	cases := []struct {
		submit, receipt string
		f               IDFormat
	}{
		{"00B8BE19", "12107289", IDDecimal},
		{"12107289", "00B8BE19", IDHex},
		{"00B8BE19", "B8BE19", IDSame},
		{"00B8BE19", "b8be19", IDAuto},
		{"00B8BE19", "12107289", IDAuto},
		{"12107289", "b8be19", IDAuto},
		{"0a1b2c3d-4e5f-6789-abcd-ef0123456789", "A1B2C3D-4E5F-6789-ABCD-EF0123456789", IDAuto},
		{"0001234567890123456789012345678901234567890", "1234567890123456789012345678901234567890", IDDecimal},
		{"0123456789", "123456789", IDSame},
	}
	for _, c := range cases {
		if !slices.Contains(Candidates(c.receipt, c.f), NormalizeID(c.submit)) {
			t.Errorf("receipt %q (format %d) does not find submit %q: %q", c.receipt, c.f, c.submit, Candidates(c.receipt, c.f))
		}
	}
	// A configured format must not fall back on the string as sent: with
	// decimal submit ids and hex receipts, receipt "10" is message 16, and
	// message 10 must not be found.
	if slices.Contains(Candidates("10", IDHex), "10") {
		t.Error("IDHex: receipt 10 would match message 10")
	}
}

// FuzzCandidates: never panics, at most three forms, each normalised,
// non-empty and no longer than the id (or 20, a uint64 in decimal).
func FuzzCandidates(f *testing.F) {
	for _, s := range []string{"12107289", "00B8BE19", "0", "", " \x00", "0a1b2c3d-4e5f-6789-abcd-ef0123456789",
		"1234567890123456789012345678901234567890", "FFFFFFFFFFFFFFFF", "18446744073709551616", "-1", "0x1f"} {
		for fm := range 4 {
			f.Add(s, uint8(fm))
		}
	}
	f.Fuzz(func(t *testing.T, id string, fm uint8) {
		got := Candidates(id, IDFormat(fm%5)) // 4 is out of range: treated as auto
		if len(got) > 3 {
			t.Fatalf("%d candidates: %q", len(got), got)
		}
		if (len(got) == 0) != (NormalizeID(id) == "") {
			t.Fatalf("Candidates(%q) = %q", id, got)
		}
		for _, c := range got {
			if c == "" || len(c) > max(len(id), 20) || NormalizeID(c) != c {
				t.Fatalf("Candidates(%q) = %q", id, got)
			}
		}
		if u := slices.Compact(slices.Sorted(slices.Values(got))); len(u) != len(got) {
			t.Fatalf("Candidates(%q) = %q: duplicates", id, got)
		}
		if n := NormalizeID(id); n != NormalizeID(n) || len(n) > len(id) {
			t.Fatalf("NormalizeID(%q) = %q", id, n)
		}
	})
}
