package dlrmap

import (
	"testing"
)

func undeliv(err string) Receipt {
	return Receipt{ID: "1", Stat: StatUndeliv, Err: err, NetErr: -1, Sub: -1, Dlvrd: -1}
}

// TestMapDefaults pins every row of "Default mapping onto V2 codes (ours)".
func TestMapDefaults(t *testing.T) {
	stat := func(s string) Receipt { return Receipt{ID: "1", Stat: s, NetErr: -1, Sub: -1, Dlvrd: -1} }
	state := func(n int) Receipt { return Receipt{ID: "1", State: n, NetErr: -1, Sub: -1, Dlvrd: -1} }
	gsm := func(err string, cause int) Receipt {
		r := undeliv(err)
		r.NetErrType, r.NetErr = 3, cause
		return r
	}
	cases := []struct {
		name string
		r    Receipt
		out  Outcome
		code int
		desc string
	}{
		{"DELIVRD", stat("DELIVRD"), Delivered, 0, "delivered"},
		{"state 2", state(2), Delivered, 0, "delivered"},
		{"ENROUTE", stat("ENROUTE"), Pending, 0, "pending"},
		{"state 1", state(1), Pending, 0, "pending"},
		{"ACCEPTD", stat("ACCEPTD"), Pending, 0, "pending"},
		{"state 6", state(6), Pending, 0, "pending"},
		{"EXPIRED", stat("EXPIRED"), Failed, 4702, "destination-subscriber-unavailable"},
		{"state 3", state(3), Failed, 4702, "destination-subscriber-unavailable"},
		{"DELETED", stat("DELETED"), Failed, 4750, "destination-rejected-message"},
		{"state 4", state(4), Failed, 4750, "destination-rejected-message"},
		{"REJECTD", stat("REJECTD"), Failed, 4750, "destination-rejected-message"},
		{"state 8", state(8), Failed, 4750, "destination-rejected-message"},
		{"UNKNOWN", stat("UNKNOWN"), Failed, 9999, "unknown-error"},
		{"state 7", state(7), Failed, 9999, "unknown-error"},
		{"no stat, no state", stat(""), Failed, 9999, "unknown-error"},
		{"stat nobody maps", stat("FAILED"), Failed, 9999, "unknown-error"},
		{"stat nobody maps, state known", Receipt{Stat: "FAILED", State: 2}, Delivered, 0, "delivered"},
		{"stat wins over a hand-built state", Receipt{Stat: "DELIVRD", State: 5}, Delivered, 0, "delivered"},
		{"stat in lower case (hand-built)", stat("expired"), Failed, 4702, "destination-subscriber-unavailable"},
		{"state 5 no err", state(5), Failed, 4750, "destination-rejected-message"},
		{"UNDELIV 001", undeliv("001"), Failed, 4720, "invalid-destination-address"},
		{"UNDELIV 005", undeliv("005"), Failed, 4720, "invalid-destination-address"},
		{"UNDELIV 006", undeliv("006"), Failed, 4702, "destination-subscriber-unavailable"},
		{"UNDELIV 027", undeliv("027"), Failed, 4702, "destination-subscriber-unavailable"},
		{"UNDELIV 009", undeliv("009"), Failed, 4721, "destination-tn-deactivated"},
		{"UNDELIV 011", undeliv("011"), Failed, 4700, "invalid-service-type"},
		{"UNDELIV 021", undeliv("021"), Failed, 4700, "invalid-service-type"},
		{"UNDELIV 012", undeliv("012"), Failed, 4753, "destination-rejected-handset"},
		{"UNDELIV 013", undeliv("013"), Failed, 4772, "rejected-tn-blocked"},
		{"UNDELIV 031", undeliv("031"), Failed, 4702, "destination-subscriber-unavailable"},
		{"UNDELIV 033", undeliv("033"), Failed, 4702, "destination-subscriber-unavailable"},
		{"UNDELIV 032", undeliv("032"), Failed, 5650, "destination-failed"},
		{"UNDELIV 034", undeliv("034"), Failed, 5620, "destination-app-error"},
		{"UNDELIV 035", undeliv("035"), Failed, 4752, "destination-rejected-malformed"},
		{"UNDELIV 036", undeliv("036"), Failed, 4752, "destination-rejected-malformed"},
		{"UNDELIV unpadded 1", undeliv("1"), Failed, 4720, "invalid-destination-address"},
		{"UNDELIV 0034", undeliv("0034"), Failed, 5620, "destination-app-error"},
		{"UNDELIV other 002", undeliv("002"), Failed, 4750, "destination-rejected-message"},
		{"UNDELIV other 099", undeliv("099"), Failed, 4750, "destination-rejected-message"},
		{"UNDELIV err 000", undeliv("000"), Failed, 4750, "destination-rejected-message"},
		{"UNDELIV no err", undeliv(""), Failed, 4750, "destination-rejected-message"},
		{"UNDELIV alphanumeric err", undeliv("B2A"), Failed, 4750, "destination-rejected-message"},
		{"UNDELIV err 1x is not 1", undeliv("1x"), Failed, 4750, "destination-rejected-message"},
		{"UNDELIV GSM cause, err absent", gsm("", 1), Failed, 4720, "invalid-destination-address"},
		{"UNDELIV GSM cause, err zero", gsm("000", 32), Failed, 5650, "destination-failed"},
		{"UNDELIV GSM cause ignored when err given", gsm("006", 32), Failed, 4702, "destination-subscriber-unavailable"},
		{"UNDELIV GSM cause ignored when err alphanumeric", gsm("B2A", 32), Failed, 4750, "destination-rejected-message"},
		{"UNDELIV IS-95 cause ignored", func() Receipt { r := gsm("", 1); r.NetErrType = 2; return r }(), Failed, 4750, "destination-rejected-message"},
		{"DELIVRD with an err is still delivered", func() Receipt { r := stat("DELIVRD"); r.Err = "034"; return r }(), Delivered, 0, "delivered"},
		{"EXPIRED ignores err", func() Receipt { r := stat("EXPIRED"); r.Err = "001"; return r }(), Failed, 4702, "destination-subscriber-unavailable"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, tab := range []*Table{nil, {}} { // an empty table is the defaults
				got := Map(c.r, tab)
				if got != (Result{c.out, c.code, c.desc}) {
					t.Errorf("Map(%+v, %v) = %+v, want %v %d %q", c.r, tab, got, c.out, c.code, c.desc)
				}
			}
		})
	}
}

func TestMapOverrides(t *testing.T) {
	tab := &Table{
		ByStat: map[string]int{
			"UNDELIV": 4701,
			"failed":  5650, // a carrier's own stat, in lower case
			"DELIVRD": 4770, // overrides every row, even delivered
			"EXPIRED": 0,    // 0: delivered
			"REJECTD": -1,   // negative: pending
			"ACCEPTD": 4750, // beats AcceptedIsDelivered
		},
		ByStatErr: map[string]int{
			"UNDELIV:001": 4730,
			"UNDELIV:B2A": 4770,
			"UNDELIV:027": 4785,
			"UNDELIV:1":   4711, // numerically equal to 001: exact match wins
			"UNDELIV:05":  4721,
			"UNDELIV:5":   4790, // tie with 05 on "005": smallest key wins
			"undeliv:077": 4781,
			"DELETED:000": 4775,
		},
		AcceptedIsDelivered: true,
		EnrouteIsDelivered:  true,
	}
	withNet := func(r Receipt, typ, code int) Receipt { r.NetErrType, r.NetErr = typ, code; return r }
	cases := []struct {
		name string
		r    Receipt
		out  Outcome
		code int
	}{
		{"stat:err exact", undeliv("001"), Failed, 4730},
		{"stat:err exact other spelling", undeliv("1"), Failed, 4711},
		{"stat:err numeric", undeliv("01"), Failed, 4730},
		{"stat:err numeric tie broken by key", undeliv("005"), Failed, 4721},
		{"stat:err alphanumeric, any case", undeliv("b2a"), Failed, 4770},
		{"stat:err key in lower case", undeliv("77"), Failed, 4781},
		{"stat:err from the network code when err absent", withNet(undeliv(""), 1, 27), Failed, 4785},
		{"stat:err from the network code when err zero", withNet(undeliv("000"), 3, 27), Failed, 4785},
		{"network code not used when err is set", withNet(undeliv("034"), 3, 27), Failed, 4701},
		{"network code not used when err is alphanumeric", withNet(undeliv("X27"), 3, 27), Failed, 4701},
		{"stat:err miss falls to the stat row", undeliv("034"), Failed, 4701},
		{"stat:err zero err", Receipt{Stat: "DELETED", Err: "0"}, Failed, 4775},
		{"stat row overrides err defaults", undeliv(""), Failed, 4701},
		{"carrier stat", Receipt{Stat: "FAILED"}, Failed, 5650},
		{"DELIVRD overridden", Receipt{Stat: "DELIVRD"}, Failed, 4770},
		{"EXPIRED made delivered", Receipt{Stat: "EXPIRED"}, Delivered, 0},
		{"REJECTD made pending", Receipt{State: 8}, Pending, 0},
		{"ACCEPTD: table beats the option", Receipt{Stat: "ACCEPTD"}, Failed, 4750},
		{"ENROUTE as delivered", Receipt{State: 1}, Delivered, 0},
		{"rows not in the table keep defaults", Receipt{Stat: "UNKNOWN"}, Failed, 9999},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := Map(c.r, tab)
			if got.Outcome != c.out || got.Code != c.code {
				t.Errorf("Map(%+v) = %+v, want %v %d", c.r, got, c.out, c.code)
			}
			if c.code != 0 && got.Description != Name(c.code) {
				t.Errorf("Description = %q, want %q", got.Description, Name(c.code))
			}
		})
	}
	if got := Map(Receipt{Stat: "ACCEPTD"}, &Table{AcceptedIsDelivered: true}); got.Outcome != Delivered {
		t.Errorf("AcceptedIsDelivered: %+v", got)
	}
	if got := Map(Receipt{Stat: "ENROUTE"}, &Table{AcceptedIsDelivered: true}); got.Outcome != Pending {
		t.Errorf("AcceptedIsDelivered must not touch ENROUTE: %+v", got)
	}
}

func TestTableValidate(t *testing.T) {
	good := []*Table{nil, {}, {ByStat: map[string]int{"UNDELIV": 4750, "EXPIRED": 0, "ENROUTE": -1}, ByStatErr: map[string]int{"UNDELIV:001": 4720}}}
	for _, tab := range good {
		if err := tab.Validate(); err != nil {
			t.Errorf("Validate(%+v) = %v", tab, err)
		}
	}
	bad := []*Table{
		{ByStat: map[string]int{"UNDELIV": 4799}},
		{ByStatErr: map[string]int{"UNDELIV:001": 12}},
		{ByStatErr: map[string]int{"UNDELIV": 4750}},
	}
	for _, tab := range bad {
		if err := tab.Validate(); err == nil {
			t.Errorf("Validate(%+v) = nil", tab)
		}
	}
}

func TestAggregate(t *testing.T) {
	d := Result{Outcome: Delivered, Description: "delivered"}
	p := Result{}
	f := func(code int) Result { return result(code) }
	cases := []struct {
		name  string
		parts []Result
		total int
		mode  string
		want  Result
		done  bool
	}{
		{"all: every part delivered", []Result{d, d, d}, 3, "all", d, true},
		{"all: default mode", []Result{d, d}, 2, "", d, true},
		{"all: one part still pending", []Result{d, p, d}, 3, "all", Result{Outcome: Pending, Description: "pending"}, false},
		{"all: a part not reported yet", []Result{d, d}, 3, "all", Result{Outcome: Pending, Description: "pending"}, false},
		{"all: fails as soon as any part fails", []Result{p, f(4702), p}, 3, "all", f(4702), true},
		{"all: first failing part by index, not by arrival", []Result{d, f(4750), f(4720)}, 3, "all", f(4750), true},
		{"all: out-of-order report, last part first", []Result{p, p, d}, 3, "all", Result{Outcome: Pending, Description: "pending"}, false},
		{"all: out-of-order failure of the last part", []Result{p, p, f(5650)}, 3, "all", f(5650), true},
		{"all: mixed delivered and failed", []Result{d, f(4720), d}, 3, "all", f(4720), true},
		{"all: total 0 means len(parts)", []Result{d, d}, 0, "all", d, true},
		{"all: nothing", nil, 0, "all", Result{Outcome: Pending, Description: "pending"}, false},
		{"all: parts beyond total ignored", []Result{d, d, f(4750)}, 2, "all", d, true},
		{"first: first part decides", []Result{d, p, p}, 3, "first", d, true},
		{"first: first part failed", []Result{f(4702), p}, 2, "first", f(4702), true},
		{"first: waiting for the first part", []Result{p, p}, 2, "first", Result{Outcome: Pending, Description: "pending"}, false},
		{"first: designated part beats another", []Result{d, f(4750)}, 2, "First", d, true},
		{"last: last part decides", []Result{p, p, f(4720)}, 3, "last", f(4720), true},
		{"last: last part delivered though an earlier one failed", []Result{f(4750), d}, 2, "last", d, true},
		{"last: not yet reported", []Result{p, p}, 3, "last", Result{Outcome: Pending, Description: "pending"}, false},
		{"last: carrier reported part 1 instead (lesson 5)", []Result{d}, 3, "last", d, true},
		{"last: pending is not terminal", []Result{p, p, p}, 3, "last", Result{Outcome: Pending, Description: "pending"}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, done := Aggregate(c.parts, c.total, c.mode)
			if got != c.want || done != c.done {
				t.Errorf("Aggregate = %+v, %v; want %+v, %v", got, done, c.want, c.done)
			}
		})
	}
}
