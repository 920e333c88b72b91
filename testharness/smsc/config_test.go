package smsc_test

import (
	"strings"
	"testing"
	"time"

	"smppbridge/testharness/smsc"
)

func TestConfigValidation(t *testing.T) {
	neg := smsc.Duration(-time.Second)
	for _, tc := range []struct {
		key string // must appear in the error
		mod func(*smsc.Config)
	}{
		{"behaviour.id_format", func(c *smsc.Config) { c.Behaviour.IDFormat = "octal" }},
		{"behaviour.id_width", func(c *smsc.Config) { c.Behaviour.IDWidth = 65 }},
		{"behaviour.window_action", func(c *smsc.Config) { c.Behaviour.WindowAction = "ignore" }},
		{"behaviour.no_response_rate", func(c *smsc.Config) { c.Behaviour.NoResponseRate = 1.5 }},
		{"behaviour.drop_rate", func(c *smsc.Config) { c.Behaviour.DropRate = -0.1 }},
		{"behaviour.receipts.drop_rate", func(c *smsc.Config) { c.Behaviour.Receipts.DropRate = 2 }},
		{"behaviour.max_segments_per_second", func(c *smsc.Config) { c.Behaviour.MaxSegmentsPerSecond = -1 }},
		{"behaviour.window:", func(c *smsc.Config) { c.Behaviour.Window = -1 }},
		{"behaviour.rate_burst", func(c *smsc.Config) { c.Behaviour.RateBurst = -1 }},
		{"behaviour.queue_full_every", func(c *smsc.Config) { c.Behaviour.QueueFullEvery = -1 }},
		{"behaviour.queue_full_burst", func(c *smsc.Config) { c.Behaviour.QueueFullBurst = -1 }},
		{"behaviour.drop_after_pdus", func(c *smsc.Config) { c.Behaviour.DropAfterPDUs = -1 }},
		{"behaviour.deliver_window", func(c *smsc.Config) { c.Behaviour.DeliverWindow = -1 }},
		{"behaviour.response_latency", func(c *smsc.Config) { c.Behaviour.ResponseLatency.Min = neg }},
		{"behaviour.receipts.delay", func(c *smsc.Config) { c.Behaviour.Receipts.Delay.Max = neg }},
		{"behaviour.deliver_retry", func(c *smsc.Config) { c.Behaviour.DeliverRetry = neg }},
		{"behaviour.deliver_timeout", func(c *smsc.Config) { c.Behaviour.DeliverTimeout = neg }},
		{"behaviour.concat_timeout", func(c *smsc.Config) { c.Behaviour.ConcatTimeout = neg }},
		{"behaviour.enquire_link_interval", func(c *smsc.Config) { c.Behaviour.EnquireLinkInterval = neg }},
		{"behaviour.refuse_binds_for", func(c *smsc.Config) { c.Behaviour.RefuseBindsFor = neg }},
		{"behaviour.receipts.format", func(c *smsc.Config) { c.Behaviour.Receipts.Format = "xml" }},
		{"behaviour.receipts.pdu", func(c *smsc.Config) { c.Behaviour.Receipts.PDU = "submit_sm" }},
		{"behaviour.receipts.id_format", func(c *smsc.Config) { c.Behaviour.Receipts.IDFormat = "octal" }},
		{"behaviour.receipts.id_format", func(c *smsc.Config) {
			c.Behaviour.IDFormat, c.Behaviour.Receipts.IDFormat = "uuid", "hex"
		}},
		{"behaviour.receipts.segments", func(c *smsc.Config) { c.Behaviour.Receipts.Segments = "middle" }},
		{"behaviour.receipts.duplicates", func(c *smsc.Config) { c.Behaviour.Receipts.Duplicates = -1 }},
		{"behaviour.receipts.outcomes[1].stat", func(c *smsc.Config) {
			c.Behaviour.Receipts.Outcomes = []smsc.Outcome{{Stat: "DELIVRD", Weight: 1}, {Stat: "LOST", Weight: 1}}
		}},
		{"behaviour.receipts.outcomes[0].weight", func(c *smsc.Config) {
			c.Behaviour.Receipts.Outcomes = []smsc.Outcome{{Stat: "DELIVRD", Weight: -1}, {Stat: "UNDELIV", Weight: 2}}
		}},
		{"behaviour.receipts.outcomes[0].err", func(c *smsc.Config) {
			c.Behaviour.Receipts.Outcomes = []smsc.Outcome{{Stat: "UNDELIV", Err: "1", Weight: 1}}
		}},
		{"behaviour.receipts.outcomes", func(c *smsc.Config) {
			c.Behaviour.Receipts.Outcomes = []smsc.Outcome{{Stat: "DELIVRD", Weight: 0}}
		}},
		{"behaviour.rules[0].dest", func(c *smsc.Config) { c.Behaviour.Rules = []smsc.Rule{{Stat: "DELIVRD"}} }},
		{"behaviour.rules[0].stat", func(c *smsc.Config) { c.Behaviour.Rules = []smsc.Rule{{Dest: "1", Stat: "GONE"}} }},
		{"behaviour.rules[0].err", func(c *smsc.Config) { c.Behaviour.Rules = []smsc.Rule{{Dest: "1", Stat: "UNDELIV", Err: "1234"}} }},
		{"behaviour.rules[0].segment", func(c *smsc.Config) { c.Behaviour.Rules = []smsc.Rule{{Dest: "1", Stat: "UNDELIV", Segment: -1}} }},
		{"accounts[0].system_id", func(c *smsc.Config) { c.Accounts = []smsc.Account{{SystemID: "sixteen-chars-xx"}} }},
		{"accounts[0].system_id", func(c *smsc.Config) { c.Accounts = []smsc.Account{{}} }},
		{"accounts[1].system_id", func(c *smsc.Config) { c.Accounts = []smsc.Account{{SystemID: "a"}, {SystemID: "a"}} }},
		{"accounts[0].password", func(c *smsc.Config) { c.Accounts = []smsc.Account{{SystemID: "a", Password: "ninechars"}} }},
		{"accounts[0].max_binds", func(c *smsc.Config) { c.Accounts = []smsc.Account{{SystemID: "a", MaxBinds: -1}} }},
		{"tls_cert_file", func(c *smsc.Config) { c.TLSCertFile = "cert.pem" }},
	} {
		t.Run(tc.key, func(t *testing.T) {
			var cfg smsc.Config
			tc.mod(&cfg)
			srv, err := smsc.Start(cfg)
			if err == nil {
				srv.Close()
				t.Fatal("Start accepted the configuration")
			}
			if !strings.Contains(err.Error(), tc.key) {
				t.Fatalf("error %q does not name %s", err, tc.key)
			}
		})
	}
}

// TestConfigValidationReportsAll: every problem is reported at once, in a
// stable order, so a user fixes a file in one go.
func TestConfigValidationReportsAll(t *testing.T) {
	cfg := smsc.Config{Behaviour: smsc.Behaviour{IDFormat: "x", WindowAction: "y", NoResponseRate: 2, DropRate: 2,
		Receipts: smsc.Receipts{DropRate: 2}}}
	_, err := smsc.Start(cfg)
	if err == nil {
		t.Fatal("accepted")
	}
	for i := 0; i < 20; i++ {
		_, again := smsc.Start(cfg)
		if again.Error() != err.Error() {
			t.Fatalf("error text varies between runs:\n%v\n%v", err, again)
		}
	}
	for _, key := range []string{"id_format", "window_action", "no_response_rate", "behaviour.drop_rate", "receipts.drop_rate"} {
		if !strings.Contains(err.Error(), key) {
			t.Errorf("%q missing from %v", key, err)
		}
	}
}

func TestSetBehaviourRefusesInvalid(t *testing.T) {
	srv := startSMSC(t, smsc.Config{Behaviour: smsc.Behaviour{Window: 3}})
	err := srv.SetBehaviour(smsc.Behaviour{Receipts: smsc.Receipts{Format: "xml"}})
	if err == nil || !strings.Contains(err.Error(), "receipts.format") {
		t.Fatalf("SetBehaviour: %v", err)
	}
	if b := srv.Behaviour(); b.Window != 3 || b.Receipts.Format != "both" {
		t.Fatalf("behaviour changed by a refused SetBehaviour: %+v", b)
	}
}

func TestConfigDefaults(t *testing.T) {
	srv := startSMSC(t, smsc.Config{})
	b := srv.Behaviour()
	if b.IDFormat != "decimal" || b.IDWidth != 10 || b.WindowAction != "throttle" || b.BindRefuseStatus != stBindFail ||
		b.ConcatTimeout.D() != time.Minute || b.DeliverWindow != 100 || b.DeliverRetry.D() != time.Second ||
		b.DeliverTimeout.D() != 10*time.Second || b.Receipts.Format != "both" || b.Receipts.PDU != "deliver_sm" ||
		b.Receipts.IDFormat != "same" || b.Receipts.Segments != "all" ||
		len(b.Receipts.Outcomes) != 1 || b.Receipts.Outcomes[0] != (smsc.Outcome{Stat: "DELIVRD", Err: "000", Weight: 1}) {
		t.Fatalf("defaults %+v", b)
	}
	if !strings.HasPrefix(srv.Addr(), "127.0.0.1:") || srv.TLSAddr() != "" || srv.TLSCertificate() != nil {
		t.Fatalf("addresses %q %q", srv.Addr(), srv.TLSAddr())
	}
}
