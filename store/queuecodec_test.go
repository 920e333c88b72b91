package store

import "testing"

func TestQueueItemSizeBoundsEncoding(t *testing.T) {
	items := []QueueItem{
		{},
		{Carrier: "sim", MessageID: "m", To: []string{"+1", "+2"}, Text: "hi", Media: []string{"https://x/y"}, Tag: "t",
			Recipient: 1 << 40, Segments: -1 << 40, FailCode: 1 << 50, RequestID: "r", Product: "P", CampaignID: "C", High: true, HasTag: true},
	}
	for i := range items {
		it := &items[i]
		if n, max := len(appendQueueItem(nil, it)), queueItemSize(it); n > max {
			t.Errorf("item %d: %d bytes encoded, bound %d", i, n, max)
		}
	}
}
