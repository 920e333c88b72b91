package daemon

import (
	"strings"
	"testing"

	"smppbridge/conf"
	"smppbridge/dlrmap"
)

// TestReceiptTable: receipt_map entries become dlrmap.Table rows under the
// canonical stat; two spellings of the same receipts are refused.
func TestReceiptTable(t *testing.T) {
	tb, err := receiptTable([]conf.ReceiptMapEntry{
		{Stat: "delivered", Err: "5", Outcome: conf.OutcomeFailed, Code: 4720},
		{MessageState: 1, Outcome: conf.OutcomeDelivered},
		{Stat: "UNDELIV", NetworkErrorCode: 34, Outcome: conf.OutcomePending},
	})
	if err != nil {
		t.Fatal(err)
	}
	if tb.ByStatErr["DELIVRD:5"] != 4720 || tb.ByStat["ENROUTE"] != 0 || tb.ByStatErr["UNDELIV:34"] != -1 || len(tb.ByStat) != 1 {
		t.Fatalf("table %+v", tb)
	}
	if r := dlrmap.Map(dlrmap.Receipt{ID: "1", Stat: "ENROUTE"}, tb); r.Outcome != dlrmap.Delivered {
		t.Fatalf("ENROUTE mapped to %+v", r)
	}
	for _, dup := range [][]conf.ReceiptMapEntry{
		{{Stat: "DELIVERED", Outcome: conf.OutcomeDelivered}, {Stat: "DELIVRD", Outcome: conf.OutcomePending}},
		{{Stat: "UNDELIV", Err: "13", Outcome: conf.OutcomeFailed, Code: 4772}, {MessageState: 5, NetworkErrorCode: 13, Outcome: conf.OutcomeFailed, Code: 4750}},
	} {
		if _, err := receiptTable(dup); err == nil || !strings.Contains(err.Error(), "matches the same receipts as receipt_map[0]") {
			t.Errorf("%+v: err %v", dup, err)
		}
	}
	if tb, err := receiptTable(nil); tb != nil || err != nil {
		t.Fatalf("no entries: %v, %v", tb, err)
	}
}
