package store

import (
	"encoding/binary"
	"encoding/json"
	"errors"
)

// Queue items are stored (in the queue bucket and in the intake log) in a
// compact binary form: JSON encoding was a visible share of the CPU spent
// per accepted message. Byte 0 is queueFormat; items written by earlier
// versions are JSON (they start with '{') and are still read.
const queueFormat = 0x01

var errBadQueueItem = errors.New("store: malformed queue item")

// appendQueueItem appends the binary form of it (everything but Seq).
func appendQueueItem(dst []byte, it *QueueItem) []byte {
	str := func(s string) {
		dst = binary.AppendUvarint(dst, uint64(len(s)))
		dst = append(dst, s...)
	}
	num := func(n int) { dst = binary.AppendVarint(dst, int64(n)) }
	flags := 0
	if it.High {
		flags |= 1
	}
	if it.HasTag {
		flags |= 2
	}
	dst = append(dst, queueFormat)
	num(flags)
	str(it.Carrier)
	str(it.MessageID)
	num(it.Recipient)
	str(it.AccountID)
	str(it.ApplicationID)
	str(it.From)
	num(len(it.To))
	for _, to := range it.To {
		str(to)
	}
	str(it.Text)
	num(len(it.Media))
	for _, m := range it.Media {
		str(m)
	}
	str(it.Tag)
	num(it.Segments)
	dst = binary.AppendUvarint(dst, unixNanos(it.ReceivedAt))
	dst = binary.AppendUvarint(dst, unixNanos(it.Expiration))
	num(it.FailCode)
	str(it.RequestID)
	str(it.Product)
	str(it.CampaignID)
	return dst
}

// queueItemSize bounds the length of appendQueueItem's output, so a
// buffer sized by it never grows: varints take at most 10 bytes.
func queueItemSize(it *QueueItem) int {
	n := 1 + 10*8 + len(it.Carrier) + len(it.MessageID) + len(it.AccountID) + len(it.ApplicationID) + len(it.From) +
		len(it.Text) + len(it.Tag) + len(it.RequestID) + len(it.Product) + len(it.CampaignID) + 10*10
	for _, to := range it.To {
		n += 10 + len(to)
	}
	for _, m := range it.Media {
		n += 10 + len(m)
	}
	return n
}

// decodeQueueItem reads a queue item in either format; Seq is left alone.
// Nothing in it borrows from v.
func decodeQueueItem(v []byte, it *QueueItem) error {
	if len(v) > 0 && v[0] == '{' {
		return json.Unmarshal(v, it)
	}
	if len(v) < 1 || v[0] != queueFormat {
		return errBadQueueItem
	}
	r := recordReader{b: v[1:]}
	seq := it.Seq
	*it = QueueItem{Seq: seq}
	flags := r.int()
	it.High, it.HasTag = flags&1 != 0, flags&2 != 0
	it.Carrier = r.str()
	it.MessageID = r.str()
	it.Recipient = r.int()
	it.AccountID = r.str()
	it.ApplicationID = r.str()
	it.From = r.str()
	it.To = r.strs()
	it.Text = r.str()
	it.Media = r.strs()
	it.Tag = r.str()
	it.Segments = r.int()
	it.ReceivedAt = fromNanos(r.uvarint())
	it.Expiration = fromNanos(r.uvarint())
	it.FailCode = r.int()
	it.RequestID = r.str()
	it.Product = r.str()
	it.CampaignID = r.str()
	if r.err || len(r.b) != 0 {
		return errBadQueueItem
	}
	return nil
}
