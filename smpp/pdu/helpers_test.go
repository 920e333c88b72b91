package pdu

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// hx assembles a frame from hex pieces, one piece per field, so each field
// can carry its own comment in the tables. Spaces are ignored.
func hx(pieces ...string) []byte {
	s := strings.ReplaceAll(strings.Join(pieces, ""), " ", "")
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(fmt.Sprintf("bad hex in test table: %v", err))
	}
	return b
}

// cs is the hex of a C-Octet String: the ASCII text and its NUL.
func cs(s string) string { return hex.EncodeToString([]byte(s)) + "00" }

// oct is the hex of an Octet String, no terminator.
func oct(s string) string { return hex.EncodeToString([]byte(s)) }

// b is shorthand for []byte in PDU literals.
func b(s string) []byte { return []byte(s) }

// dump renders every field of p, one per line, so two PDUs can be compared
// and diffed field by field. Byte slices print with %q, so nil and empty are
// the same value (a decoded empty C-string is an empty slice, a literal
// leaves it nil). command_length is left out: tests check it against the
// frame size themselves, and re-encoding may legitimately change it.
func dump(p *PDU) string {
	var sb strings.Builder
	dumpValue(&sb, reflect.ValueOf(*p), "")
	return sb.String()
}

func dumpValue(sb *strings.Builder, v reflect.Value, path string) {
	switch v.Kind() {
	case reflect.Struct:
		t := v.Type()
		for i := 0; i < v.NumField(); i++ {
			f := t.Field(i)
			if f.Name == "Length" && t == reflect.TypeOf(Header{}) {
				continue
			}
			dumpValue(sb, v.Field(i), path+"."+f.Name)
		}
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			fmt.Fprintf(sb, "%s=%q\n", path, v.Bytes())
			return
		}
		fmt.Fprintf(sb, "%s.len=%d\n", path, v.Len())
		for i := 0; i < v.Len(); i++ {
			dumpValue(sb, v.Index(i), fmt.Sprintf("%s[%d]", path, i))
		}
	case reflect.Uint8, reflect.Uint16, reflect.Uint32:
		fmt.Fprintf(sb, "%s=%#x\n", path, v.Uint())
	default:
		fmt.Fprintf(sb, "%s=%v\n", path, v.Interface())
	}
}

// diffPDU returns "" when want and got agree, else the differing lines.
func diffPDU(want, got *PDU) string {
	w, g := strings.Split(dump(want), "\n"), strings.Split(dump(got), "\n")
	if strings.Join(w, "\n") == strings.Join(g, "\n") {
		return ""
	}
	set := func(lines []string) map[string]bool {
		m := make(map[string]bool, len(lines))
		for _, l := range lines {
			m[l] = true
		}
		return m
	}
	ws, gs := set(w), set(g)
	var sb strings.Builder
	for _, l := range w {
		if !gs[l] {
			fmt.Fprintf(&sb, "\n  - want %s", l)
		}
	}
	for _, l := range g {
		if !ws[l] {
			fmt.Fprintf(&sb, "\n  + got  %s", l)
		}
	}
	if sb.Len() == 0 {
		return "\n  (same fields, different order)"
	}
	return sb.String()
}

// checkLength fails when a hand-assembled frame's command_length does not
// match its size, which catches arithmetic slips in the tables before they
// are blamed on the codec.
func checkLength(t testing.TB, frame []byte) {
	t.Helper()
	if len(frame) < HeaderLen {
		t.Fatalf("test frame has %d bytes", len(frame))
	}
	if n := binary.BigEndian.Uint32(frame); int(n) != len(frame) {
		t.Fatalf("test table error: command_length %d but %d bytes assembled", n, len(frame))
	}
}

// withLength returns a copy of frame with command_length set to its size,
// for building malformed bodies that still frame correctly.
func withLength(frame []byte) []byte {
	c := append([]byte(nil), frame...)
	binary.BigEndian.PutUint32(c, uint32(len(c)))
	return c
}
