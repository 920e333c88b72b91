package store

import (
	"bytes"
	"fmt"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
)

// ExportRow is what one MDR row needs of a record: no text, no receipt
// parts, no tag. Its byte slices borrow from the export's buffers and are
// valid only during the call that receives the row.
type ExportRow struct {
	MessageID, AccountID, ApplicationID []byte
	Direction, Type, Status             []byte
	From, To, Carrier                   []byte
	Product, CampaignID                 []byte
	CarrierIDs                          [][]byte // one per part, as the carrier gave them
	Segments, ErrorCode                 int
	Length, Size                        int
	Recipients                          int // recipients of the whole message
	// Unix nanoseconds; 0 when the event has not happened.
	ReceivedAt, SentAt, DoneAt int64
}

// ExportRowOf is r as an ExportRow (for record sources other than the
// binary form, e.g. test doubles).
func ExportRowOf(r *Record) ExportRow {
	row := ExportRow{
		MessageID: []byte(r.MessageID), AccountID: []byte(r.AccountID), ApplicationID: []byte(r.ApplicationID),
		Direction: []byte(r.Direction), Type: []byte(r.Type), Status: []byte(r.Status),
		From: []byte(r.From), To: []byte(r.To), Carrier: []byte(r.Carrier),
		Product: []byte(r.Product), CampaignID: []byte(r.CampaignID),
		Segments: r.Segments, ErrorCode: r.ErrorCode, Length: r.Length, Size: r.Size, Recipients: len(r.AllTo),
		ReceivedAt: int64(unixNanos(r.ReceivedAt)), SentAt: int64(unixNanos(r.SentAt)), DoneAt: int64(unixNanos(r.DoneAt)),
	}
	for _, id := range r.CarrierIDs {
		row.CarrierIDs = append(row.CarrierIDs, []byte(id))
	}
	return row
}

// exportBatch is one read transaction's worth of an export: the raw
// records copied out of the database and the rows decoded from them.
type exportBatch struct {
	raw  []byte
	ends []int // end offset in raw of each record
	rows []ExportRow
	ids  [][]byte
	// idAt[i] is where row i's carrier ids start in ids (row i+1's, or
	// the end of ids, is where they stop).
	idAt []int
	err  error
}

var exportBatchPool = sync.Pool{New: func() any { return new(exportBatch) }}

// ExportRows calls fn for each record of account received in [since,
// until), in receive-time order, like ExportRecords but decoding only what
// an MDR row needs and without allocating per record. A second goroutine
// reads and decodes the next batch (one short read transaction of
// exportChunk records) while fn consumes the current one, so reading and
// formatting overlap. Records written meanwhile may or may not be seen.
// fn must not keep the row or its slices beyond the call; an error from fn
// stops the export and is returned.
func (s *Store) ExportRows(account string, since, until time.Time, fn func(row *ExportRow) error) error {
	prefix := accountPrefix(account)
	pos := appendTimeSuffix(bytes.Clone(prefix), since, nil)
	end := appendTimeSuffix(bytes.Clone(prefix), until, nil)
	if until.IsZero() {
		end = append(bytes.Clone(prefix), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)
	}
	// Two batches in flight: one being read, one being consumed.
	batches := make(chan *exportBatch, 1)
	stop := make(chan struct{})
	var reader sync.WaitGroup
	reader.Add(1)
	go func() {
		defer reader.Done()
		defer close(batches)
		for {
			select {
			case <-stop: // the consumer has given up: read no further
				return
			default:
			}
			b := exportBatchPool.Get().(*exportBatch)
			more, err := s.readExportBatch(b, prefix, &pos, end)
			b.err = err
			select {
			case batches <- b:
			case <-stop:
				exportBatchPool.Put(b)
				return
			}
			if !more || err != nil {
				return
			}
		}
	}()
	defer func() {
		close(stop)
		for b := range batches { // lets the reader finish
			exportBatchPool.Put(b)
		}
		reader.Wait()
	}()
	for b := range batches {
		if b.err != nil {
			return b.err
		}
		for i := range b.rows {
			if err := fn(&b.rows[i]); err != nil {
				exportBatchPool.Put(b)
				return err
			}
		}
		exportBatchPool.Put(b)
	}
	return nil
}

// readExportBatch reads up to exportChunk index entries after *pos into b
// in one read transaction, then decodes them outside it. more reports that
// the range may continue.
func (s *Store) readExportBatch(b *exportBatch, prefix []byte, pos *[]byte, end []byte) (more bool, err error) {
	b.raw, b.ends, b.rows, b.ids, b.idAt = b.raw[:0], b.ends[:0], b.rows[:0], b.ids[:0], b.idAt[:0]
	scanned := 0
	err = s.db.View(func(tx *bolt.Tx) error {
		recs := tx.Bucket(bucketRecords)
		c := tx.Bucket(bucketRecIdx).Cursor()
		k, _ := c.Seek(*pos)
		if k != nil && bytes.Equal(k, *pos) && len(*pos) > len(prefix)+8 {
			k, _ = c.Next() // resumed: pos was the last one exported
		}
		var last []byte
		for ; k != nil && bytes.Compare(k, end) < 0 && scanned < exportChunk; k, _ = c.Next() {
			scanned++
			last = k
			if v := recs.Get(k[len(prefix)+8:]); v != nil {
				b.raw = append(b.raw, v...)
				b.ends = append(b.ends, len(b.raw))
			}
		}
		if last != nil {
			*pos = append((*pos)[:0], last...)
		}
		return nil
	})
	if err != nil {
		return false, err
	}
	start := 0
	for _, e := range b.ends {
		v := b.raw[start:e]
		start = e
		b.rows = append(b.rows, ExportRow{})
		row := &b.rows[len(b.rows)-1]
		b.idAt = append(b.idAt, len(b.ids))
		if v[0] == '{' { // a JSON record of an earlier version
			var r Record
			if err := decodeRecord(v, &r); err != nil {
				return false, fmt.Errorf("store: record %s: %w", r.MessageID, err)
			}
			*row = ExportRowOf(&r)
			b.ids = append(b.ids, row.CarrierIDs...)
			continue
		}
		if b.ids, err = decodeExportRow(v, row, b.ids); err != nil {
			return false, err
		}
	}
	// The id slices are taken once b.ids has stopped growing.
	b.idAt = append(b.idAt, len(b.ids))
	for i := range b.rows {
		b.rows[i].CarrierIDs = b.ids[b.idAt[i]:b.idAt[i+1]:b.idAt[i+1]]
	}
	return scanned == exportChunk, nil
}

// byteReader reads the binary record form (appendRecord) as views into
// its input.
type byteReader struct {
	recordReader
}

func (r *byteReader) bytes() []byte {
	n := r.uvarint()
	if n > uint64(len(r.b)) {
		r.err, r.b = true, nil
		return nil
	}
	s := r.b[:n:n]
	r.b = r.b[n:]
	return s
}

func (r *byteReader) skip() { r.bytes() }

// decodeExportRow decodes the fields of an MDR row from a binary record;
// the carrier ids are appended to ids (the caller points row.CarrierIDs
// at them once ids stops growing).
func decodeExportRow(v []byte, row *ExportRow, ids [][]byte) ([][]byte, error) {
	if len(v) < 6 || v[0] != recordFormat {
		return ids, errBadRecord
	}
	r := byteReader{recordReader{b: v[6:]}}
	row.MessageID = r.bytes()
	r.int() // recipient index
	row.AccountID = r.bytes()
	row.ApplicationID = r.bytes()
	row.Direction = r.bytes()
	row.From = r.bytes()
	row.To = r.bytes()
	row.Carrier = r.bytes()
	row.Segments = r.int()
	row.Status = r.bytes()
	row.ErrorCode = r.int()
	n := r.count()
	for range n {
		ids = append(ids, r.bytes())
	}
	r.int() // unknown parts
	row.ReceivedAt = int64(r.uvarint())
	row.SentAt = int64(r.uvarint())
	row.DoneAt = int64(r.uvarint())
	r.skip() // tag
	r.int()  // flags
	row.Length = r.int()
	row.Recipients = r.count()
	for range row.Recipients {
		r.skip()
	}
	for range r.count() { // receipt outcomes per part
		r.int()
		r.int()
	}
	row.Type = r.bytes()
	r.int() // media
	row.Size = r.int()
	row.Product = r.bytes()
	row.CampaignID = r.bytes()
	if r.err {
		return ids, errBadRecord
	}
	return ids, nil
}
