package main

import (
	"bytes"
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
	for _, want := range []string{"accepted (202): 200 ", "recipients 240", "reached the SMSC: 240 of 240 recipients", "202 latency: p50"} {
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
