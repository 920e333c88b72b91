package bridge

import (
	"fmt"
	"path/filepath"
	"testing"
)

// BenchmarkSendChecks is what the live directory and the policy checks cost
// per single-recipient send: snapshot load, validation, class, policy
// (with and without opt-outs on record), route. 1000 applications with 10
// numbers each; run in parallel as the HTTP handlers do.
func BenchmarkSendChecks(b *testing.B) {
	var apps []Application
	for i := range 1000 {
		ap := Application{ID: fmt.Sprintf("app-%d", i), CallbackURL: "http://h/"}
		for j := range 10 {
			ap.Numbers = append(ap.Numbers, Number{Number: fmt.Sprintf("+1555%03d%04d", i, j)})
		}
		apps = append(apps, ap)
	}
	st := openTestStore(b, filepath.Join(b.TempDir(), "bench.db"))
	br := newDirBridge(b, st, []Account{{ID: "A", Countries: []string{"1"}, Applications: apps}})
	br.emergency = map[string]bool{"911": true, "112": true}
	req := &SendRequest{AccountID: "A", ApplicationID: "app-500", From: "+15555000003", To: []string{"+16175550000"}, Text: "hello"}
	run := func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				d := br.directory()
				if _, verr := br.validate(d, req); verr != nil {
					b.Fatal(verr)
				}
				class, _ := d.classOf(req.From)
				if br.policyCode(d, d.accounts["A"], req.From, req.To[0]) != 0 || class != ClassP2P {
					b.Fatal("refused")
				}
			}
		})
	}
	b.Run("no opt-outs", run)
	for i := range 1000 {
		br.addOptOut(optOutKey(fmt.Sprintf("+1555%03d0000", i), "+16170000000"))
	}
	b.Run("1000 opt-outs", run)
}

// BenchmarkSendValidate is validation alone, for comparison.
func BenchmarkSendValidate(b *testing.B) {
	st := openTestStore(b, filepath.Join(b.TempDir(), "bench.db"))
	br := newDirBridge(b, st, []Account{{ID: "A", Applications: []Application{{ID: "app", CallbackURL: "http://h/", Numbers: []Number{{Number: "+15555000003"}}}}}})
	req := &SendRequest{AccountID: "A", ApplicationID: "app", From: "+15555000003", To: []string{"+16175550000"}, Text: "hello"}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, verr := br.validate(br.directory(), req); verr != nil {
				b.Fatal(verr)
			}
		}
	})
}

// BenchmarkAssignNumber is one admin change (a number assignment, durable
// with NoSync) in a directory of 1000 accounts with 10 numbers each.
func BenchmarkAssignNumber(b *testing.B) {
	var accounts []Account
	for i := range 1000 {
		ap := Application{ID: fmt.Sprintf("app-%d", i), CallbackURL: "http://h/"}
		for j := range 10 {
			ap.Numbers = append(ap.Numbers, Number{Number: fmt.Sprintf("+1555%03d%04d", i, j)})
		}
		accounts = append(accounts, Account{ID: fmt.Sprintf("acct-%d", i), Applications: []Application{ap}})
	}
	br := newDirBridge(b, openTestStore(b, filepath.Join(b.TempDir(), "bench.db")), accounts)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if _, err := br.AssignNumber(Number{Number: fmt.Sprintf("+1666%07d", i)}, fmt.Sprintf("app-%d", i%1000)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBootstrap is a start-up (or reload) with 100,000 configured
// numbers in 1000 accounts, on a store that already holds them.
func BenchmarkBootstrap(b *testing.B) {
	var accounts []Account
	for i := range 1000 {
		ap := Application{ID: fmt.Sprintf("app-%d", i), CallbackURL: "http://h/"}
		for j := range 100 {
			ap.Numbers = append(ap.Numbers, Number{Number: fmt.Sprintf("+1555%03d%04d", i, j)})
		}
		accounts = append(accounts, Account{ID: fmt.Sprintf("acct-%d", i), Applications: []Application{ap}})
	}
	br := newDirBridge(b, openTestStore(b, filepath.Join(b.TempDir(), "bench.db")), accounts)
	for b.Loop() {
		if err := br.ApplyBootstrap(accounts); err != nil {
			b.Fatal(err)
		}
	}
}
