package main

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestLoadInProcess runs the whole loop small: daemon and simulator
// in-process, every request accepted and every recipient at the SMSC.
func TestLoadInProcess(t *testing.T) {
	var out, errb bytes.Buffer
	code := run([]string{"-n", "200", "-c", "4", "-duration", "60s"}, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d: %s %s", code, out.String(), errb.String())
	}
	s := out.String()
	// The mix sends 10 % groups of 3: 200 requests are 240 recipients.
	for _, want := range []string{"accepted (202): 200 ", "recipients 240", "reached the SMSC: 240 of 240 recipients", "202 latency: p50",
		"warm-up: 1 request (202 in", "at the SMSC true, callback true) before the clock starts", "full loop (202 → submit → receipt → callback): 240 of 240 callbacks"} {
		if !strings.Contains(s, want) {
			t.Errorf("output lacks %q:\n%s", want, s)
		}
	}
	if regexp.MustCompile(`not accepted|transport errors`).MatchString(s) {
		t.Errorf("errors in the run:\n%s", s)
	}
}

func TestFlagsRefused(t *testing.T) {
	cases := [][]string{
		{"-mix", "single=50"},
		{"-mix", "bogus=100"},
		{"-url", "http://192.0.2.1:8080", "-n", "1"},
	}
	for _, args := range cases {
		var out, errb bytes.Buffer
		if code := run(args, &out, &errb); code == 0 {
			t.Errorf("%v accepted: %s", args, out.String())
		}
	}
}

// TestBodyRendering: the hand-built request bodies are valid JSON with the
// recipients and texts of each kind.
func TestBodyRendering(t *testing.T) {
	o := options{app: "app-1", from: "+15550001111"}
	for _, i := range []int64{0, 1, 42, 1234567, 99999999} {
		for _, k := range []string{"single", "group", "long", "ucs2"} {
			b, n := body([]byte("stale")[:0], o, k, i)
			var req struct {
				ApplicationID, From, Text string
				To                        []string
			}
			if err := json.Unmarshal(b, &req); err != nil {
				t.Fatalf("%s %d: %v: %s", k, i, err, b)
			}
			if int64(len(req.To)) != n || req.ApplicationID != o.app || req.From != o.from {
				t.Errorf("%s %d: %s", k, i, b)
			}
			for j, to := range req.To {
				if want := fmt.Sprintf("+1555%07d", (i*7+int64(j))%10000000); to != want {
					t.Errorf("%s %d: to %q, want %q", k, i, to, want)
				}
			}
			var want string
			switch k {
			case "single":
				want = fmt.Sprintf("Your verification code is %d", 100000+i%900000)
			case "ucs2":
				want = fmt.Sprintf("Ваш код: %d 👍", i%10000)
			case "long":
				want = longText
			default:
				want = req.Text
			}
			if req.Text != want {
				t.Errorf("%s %d: text %q, want %q", k, i, req.Text, want)
			}
		}
	}
}

// TestMemProfile: -memprofile writes a gzipped pprof profile that carries
// the whole-run allocation sample types.
func TestMemProfile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mem.pprof")
	var out, errb bytes.Buffer
	if code := run([]string{"-n", "50", "-c", "2", "-duration", "60s", "-memprofile", path}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s %s", code, out.String(), errb.String())
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	// The profile's string table names its sample types and the functions
	// of the sampled stacks.
	for _, want := range []string{"alloc_space", "alloc_objects", "smppbridge/"} {
		if !bytes.Contains(raw, []byte(want)) {
			t.Errorf("profile lacks %q", want)
		}
	}
}
