package coding

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

var allModes = []Mode{ModeUDH8, ModeUDH16, ModeSAR, ModePayload}
var allEncodings = []Encoding{GSM7, UCS2, Latin1, IA5}

func TestLimits(t *testing.T) {
	want := map[Encoding][4][2]int{ // per mode: single, part
		GSM7:   {{160, 153}, {160, 152}, {160, 153}, {160, 153}},
		UCS2:   {{70, 67}, {70, 66}, {70, 67}, {70, 67}},
		Latin1: {{140, 134}, {140, 133}, {140, 134}, {140, 134}},
		IA5:    {{140, 134}, {140, 133}, {140, 134}, {140, 134}},
	}
	for enc, byMode := range want {
		for m, w := range byMode {
			if s, p := Limits(enc, Mode(m)); s != w[0] || p != w[1] {
				t.Errorf("Limits(%v, %d) = %d, %d; want %d, %d", enc, m, s, p, w[0], w[1])
			}
		}
	}
}

// oneUnit is a character costing exactly one unit in each encoding.
var oneUnit = map[Encoding]string{GSM7: "a", UCS2: "ж", Latin1: "é", IA5: "a"}

// Every limit: exactly single fits one part; one more spills into parts of exactly the
// part limit; 2*part is two parts, 2*part+1 three.
func TestSplitBoundaries(t *testing.T) {
	for _, enc := range allEncodings {
		for _, mode := range allModes {
			single, part := Limits(enc, mode)
			c := oneUnit[enc]
			for _, tc := range []struct {
				n     int
				parts []int // units per part
			}{
				{0, []int{0}},
				{1, []int{1}},
				{single - 1, []int{single - 1}},
				{single, []int{single}},
				{single + 1, []int{part, single + 1 - part}},
				{2 * part, []int{part, part}},
				{2*part + 1, []int{part, part, 1}},
				{255 * part, nil},
			} {
				s := strings.Repeat(c, tc.n)
				got := Split(s, enc, mode)
				if tc.parts == nil {
					tc.parts = make([]int, 255)
					for i := range tc.parts {
						tc.parts[i] = part
					}
				}
				if len(got) != len(tc.parts) {
					t.Errorf("%v/%d: %d units: %d parts, want %d", enc, mode, tc.n, len(got), len(tc.parts))
					continue
				}
				for i, p := range got {
					if u := Units(p, enc); u != tc.parts[i] {
						t.Errorf("%v/%d: %d units: part %d has %d units, want %d", enc, mode, tc.n, i, u, tc.parts[i])
					}
				}
				if n := Segments(s, enc, mode); n != len(tc.parts) {
					t.Errorf("%v/%d: %d units: Segments = %d, want %d", enc, mode, tc.n, n, len(tc.parts))
				}
			}
		}
	}
}

// Lesson 31 (gosmpp#175, #128): exact GSM7 counting, escapes cost two septets.
func TestSplitGSM7Lesson31(t *testing.T) {
	a := func(n int) string { return strings.Repeat("a", n) }
	for _, tc := range []struct {
		name string
		s    string
		want []string
	}{
		{"159 chars", a(159), []string{a(159)}},
		{"160 chars", a(160), []string{a(160)}},
		{"161 chars", a(161), []string{a(153), a(8)}},
		{"306 chars", a(306), []string{a(153), a(153)}},
		{"307 chars", a(307), []string{a(153), a(153), a(1)}},
		{"158 + { is 160 septets", a(158) + "{", []string{a(158) + "{"}},
		{"159 + { is 161 septets", a(159) + "{", []string{a(153), a(6) + "{"}},
		{"80 { is 160 septets", strings.Repeat("{", 80), []string{strings.Repeat("{", 80)}},
		{"escape ends part", a(151) + "{" + a(10), []string{a(151) + "{", a(10)}},
		{"escape straddles 153", a(152) + "{" + a(10), []string{a(152), "{" + a(10)}},
		{"euro straddles 153", a(152) + "€" + a(10), []string{a(152), "€" + a(10)}},
	} {
		got := Split(tc.s, GSM7, ModeUDH8)
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: parts %v, want %v", tc.name, unitsOf(got, GSM7), unitsOf(tc.want, GSM7))
		}
		if n := Segments(tc.s, GSM7, ModeUDH8); n != len(tc.want) {
			t.Errorf("%s: Segments = %d, want %d", tc.name, n, len(tc.want))
		}
	}
	// 16-bit reference: 152 per part; an escape at 152 moves.
	got := Split(a(151)+"{"+a(10), GSM7, ModeUDH16)
	if !slices.Equal(got, []string{a(151), "{" + a(10)}) {
		t.Errorf("UDH16 escape straddle: %v", unitsOf(got, GSM7))
	}
}

// Lesson 30 (gosmpp#167): an emoji is two UTF-16 units.
func TestSplitUCS2Lesson30(t *testing.T) {
	z := func(n int) string { return strings.Repeat("ж", n) }
	for _, tc := range []struct {
		name string
		s    string
		mode Mode
		want []string
	}{
		{"68 + emoji = 70 units", z(68) + "😀", ModeUDH8, []string{z(68) + "😀"}},
		{"69 + emoji = 71 units", z(69) + "😀", ModeUDH8, []string{z(67), z(2) + "😀"}},
		{"35 emoji = 70 units", strings.Repeat("😀", 35), ModeUDH8, []string{strings.Repeat("😀", 35)}},
		{"36 emoji", strings.Repeat("😀", 36), ModeUDH8, []string{strings.Repeat("😀", 33), strings.Repeat("😀", 3)}},
		{"pair ends part", z(65) + "😀" + z(10), ModeUDH8, []string{z(65) + "😀", z(10)}},
		{"pair straddles 67", z(66) + "😀" + z(10), ModeUDH8, []string{z(66), "😀" + z(10)}},
		{"pair straddles 66", z(65) + "😀" + z(10), ModeUDH16, []string{z(65), "😀" + z(10)}},
	} {
		got := Split(tc.s, UCS2, tc.mode)
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: parts %v, want %v", tc.name, unitsOf(got, UCS2), unitsOf(tc.want, UCS2))
		}
		_, part := Limits(UCS2, tc.mode)
		limit := 140
		if len(got) > 1 {
			limit = 2 * part
		}
		for i, p := range got {
			if n := len(EncodeUCS2(nil, p)); n > limit {
				t.Errorf("%s: part %d encodes to %d octets > %d", tc.name, i, n, limit)
			}
		}
	}
}

// Lesson 39 (go-smpp#105, #114): long UCS2 text is neither garbled nor split into more
// parts than needed.
func TestSplitUCS2Lesson39(t *testing.T) {
	s := strings.Repeat("Привет, мир! ", 51) + "😀" // 663 + 2 units
	parts := Split(s, UCS2, ModeUDH8)
	if len(parts) != 10 { // ceil(665/67); the emoji at unit 664 does not straddle a boundary
		t.Errorf("%d parts, want 10", len(parts))
	}
	var wire []byte
	for i, p := range parts {
		b := EncodeUCS2(nil, p)
		if len(b) > 134 || len(b)%2 != 0 {
			t.Errorf("part %d: %d octets", i, len(b))
		}
		if DecodeUCS2(b) != p { // each part decodes on its own: no pair is cut
			t.Errorf("part %d does not decode alone", i)
		}
		wire = append(wire, b...)
	}
	if DecodeUCS2(wire) != s {
		t.Error("reassembled text differs")
	}
}

// Lesson 32 (gosmpp#89, #50): no empty parts, no panic on text the alphabet lacks.
func TestSplitNoEmptyParts(t *testing.T) {
	if got := Split("", GSM7, ModeUDH8); !slices.Equal(got, []string{""}) {
		t.Errorf("Split(\"\") = %q", got)
	}
	rng := rand.New(rand.NewPCG(7, 8))
	for range 500 {
		s := randText(rng, 1+rng.IntN(400))
		for _, enc := range allEncodings {
			for _, p := range Split(s, enc, ModeUDH8) {
				if p == "" {
					t.Fatalf("empty part for %q / %v", s, enc)
				}
			}
		}
	}
}

func TestSplitInvariants(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	for range 500 {
		s := randText(rng, rng.IntN(700))
		for _, enc := range allEncodings {
			for _, mode := range allModes {
				checkSplit(t, s, enc, mode)
			}
		}
	}
}

// checkSplit verifies Split's contract: the parts rebuild s, each fits its limit, each
// part but the last is as full as it can be, and Segments agrees.
func checkSplit(t testing.TB, s string, enc Encoding, mode Mode) {
	t.Helper()
	parts := Split(s, enc, mode)
	if strings.Join(parts, "") != s {
		t.Fatalf("%v/%d: parts of %q do not rebuild it", enc, mode, s)
	}
	if n := Segments(s, enc, mode); n != len(parts) {
		t.Fatalf("%v/%d: Segments = %d, len(Split) = %d for %q", enc, mode, n, len(parts), s)
	}
	single, part := Limits(enc, mode)
	if len(parts) == 1 {
		if Units(s, enc) > single {
			t.Fatalf("%v/%d: one part of %d units > %d", enc, mode, Units(s, enc), single)
		}
		return
	}
	for i, p := range parts {
		u := Units(p, enc)
		if u > part || p == "" {
			t.Fatalf("%v/%d: part %d has %d units (limit %d)", enc, mode, i, u, part)
		}
		if i+1 < len(parts) {
			next := []rune(parts[i+1])[0]
			if u+cost(next, enc) <= part {
				t.Fatalf("%v/%d: part %d (%d units) could take %q", enc, mode, i, u, next)
			}
		}
	}
}

func TestSplitModesAgree(t *testing.T) {
	s := strings.Repeat("x{", 200)
	a := Split(s, GSM7, ModeUDH8)
	if !slices.Equal(a, Split(s, GSM7, ModeSAR)) || !slices.Equal(a, Split(s, GSM7, ModePayload)) {
		t.Error("SAR and payload must split like UDH8")
	}
}

func TestSegmentsNoAllocs(t *testing.T) {
	s := strings.Repeat("Hello {world} 😀 ", 40)
	for _, enc := range allEncodings {
		if n := testing.AllocsPerRun(50, func() { Segments(s, enc, ModeUDH8) }); n != 0 {
			t.Errorf("Segments(%v): %v allocs", enc, n)
		}
	}
	if n := testing.AllocsPerRun(50, func() { Split(s, UCS2, ModeUDH8) }); n != 1 {
		t.Errorf("Split: %v allocs, want 1", n)
	}
}

func unitsOf(parts []string, enc Encoding) []int {
	u := make([]int, len(parts))
	for i, p := range parts {
		u[i] = Units(p, enc)
	}
	return u
}
