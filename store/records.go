package store

// Message records and their secondary indexes.
//
// Every message copy (one per recipient) and every inbound message has one
// record in the records bucket, keyed by message id + 0 + recipient. Four
// indexes make searches a cursor seek instead of a scan. They share one
// bucket, rec_idx (one B-tree: fewer pages rewritten per commit than four),
// told apart by their first byte; their keys are binary and end in the
// receive time (8 bytes big-endian ns) and the record key, so within one
// account and value the entries are in time order and a position in a
// result is just that suffix:
//
//	by time:   't' account 0 | time | record key
//	by to:     'd' account 0 | to 0 | time | record key
//	by from:   'f' account 0 | from 0 | time | record key
//	by status: 's' account 0 | status byte | error code (4 bytes) | time | record key
//
// The receive time never changes, so only the status entry moves when a
// record is updated; time, to and from entries are written once. The time
// and status entries carry a summary of the record's filterable fields
// (see appendSummary), so a search that walks them and filters by
// direction, type, carrier or campaign (and, in the status index, error
// code) does not read the records. The status entry is rewritten with each
// update; the time entry is not (one write less per update on the intake
// path), so its status and error code are those at insertion and are not
// used. A search by message id uses the records bucket itself.

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"log/slog"
	"time"

	bolt "go.etcd.io/bbolt"
)

var (
	bucketRecIdx  = []byte("rec_idx")
	recordBuckets = [][]byte{bucketRecIdx}
)

// Index kinds, the first byte of a rec_idx key.
const (
	idxTime   = 't'
	idxTo     = 'd'
	idxFrom   = 'f'
	idxStatus = 's'
)

func appendTimeSuffix(k []byte, at time.Time, recKey []byte) []byte {
	k = binary.BigEndian.AppendUint64(k, unixNanos(at))
	return append(k, recKey...)
}

func kindPrefix(kind byte, account string) []byte {
	k := make([]byte, 0, 2+len(account)+16+8+32)
	k = append(k, kind)
	k = append(k, account...)
	return append(k, 0)
}

// accountPrefix starts an account's entries in the time index.
func accountPrefix(account string) []byte { return kindPrefix(idxTime, account) }

func numberPrefix(kind byte, account, number string) []byte {
	k := kindPrefix(kind, account)
	k = append(k, number...)
	return append(k, 0)
}

// statusPrefix starts the entries of one status and error code;
// statusOnlyPrefix those of one status, any error code.
func statusPrefix(account string, status byte, code uint32) []byte {
	return binary.BigEndian.AppendUint32(statusOnlyPrefix(account, status), code)
}

func statusOnlyPrefix(account string, status byte) []byte {
	return append(kindPrefix(idxStatus, account), status)
}

// appendSummary encodes what filters need besides time: status code,
// direction, type, error code, carrier, campaign, to, from.
func appendSummary(dst []byte, r *Record) []byte {
	dst = append(dst, statusCode(r.Status))
	dst = append(dst, r.Direction...)
	dst = append(dst, 0)
	dst = append(dst, r.Type...)
	dst = append(dst, 0)
	dst = binary.AppendUvarint(dst, uint64(max(r.ErrorCode, 0)))
	dst = binary.AppendUvarint(dst, uint64(len(r.Carrier)))
	dst = append(dst, r.Carrier...)
	dst = binary.AppendUvarint(dst, uint64(len(r.CampaignID)))
	dst = append(dst, r.CampaignID...)
	dst = binary.AppendUvarint(dst, uint64(len(r.To)))
	dst = append(dst, r.To...)
	dst = binary.AppendUvarint(dst, uint64(len(r.From)))
	return append(dst, r.From...)
}

// summary is a decoded appendSummary; its strings borrow from the value.
type summary struct {
	status            byte
	dir, typ          []byte
	code              uint64
	carrier, campaign []byte
	to, from          []byte
	hasNumbers        bool // to and from are there (older summaries lack them)
}

func parseSummary(v []byte) (sm summary, ok bool) {
	if len(v) < 1 {
		return sm, false
	}
	sm.status, v = v[0], v[1:]
	var found bool
	if sm.dir, v, found = bytes.Cut(v, []byte{0}); !found {
		return sm, false
	}
	if sm.typ, v, found = bytes.Cut(v, []byte{0}); !found {
		return sm, false
	}
	str := func() []byte {
		n, k := binary.Uvarint(v)
		if k <= 0 || n > uint64(len(v)-k) {
			ok = false
			return nil
		}
		b := v[k : k+int(n)]
		v = v[k+int(n):]
		return b
	}
	n, k := binary.Uvarint(v)
	if k <= 0 {
		return sm, false
	}
	sm.code, v = n, v[k:]
	ok = true
	sm.carrier = str()
	sm.campaign = str()
	if ok && len(v) > 0 {
		sm.to = str()
		sm.from = str()
		sm.hasNumbers = ok
	}
	return sm, ok
}

// indexedRecord is a record encoded with its keys, prepared outside the
// write transaction so the committer only copies bytes.
type indexedRecord struct {
	key, val                  []byte
	byTime, byTo, byFrom, byS []byte
	sum                       []byte
	account                   string
	at                        time.Time
	status                    byte
	// src is the record prepared by prepareUpdate, which leaves out the
	// entries that never move (byTime, byTo, byFrom): updateTx prepares
	// them from src in the rare case that the record is not there yet.
	src *Record
}

func prepareIndexed(r *Record) indexedRecord { return prepareRecord(r, true) }

// prepareUpdate prepares a record for updateTx: the record, its summary
// and its status entry, which is all an update writes.
func prepareUpdate(r *Record) indexedRecord {
	ir := prepareRecord(r, false)
	ir.src = r
	return ir
}

// prepareRecord keeps no pointer to r, so a record on the caller's stack
// stays there.
func prepareRecord(r *Record, all bool) indexedRecord { return prepareRecordIn(nil, r, all) }

// preparedSize is about the bytes prepareRecord(r, all) fills.
func preparedSize(r *Record, all bool) int {
	n := len(r.MessageID) + 3 // recordKey
	suffix := 8 + n
	acct := 2 + len(r.AccountID)
	keys := 4*n + 4*acct + 2*(len(r.To)+len(r.From)) + 8 + 4*suffix
	if !all {
		keys = acct + 5 + suffix
	}
	return n + 200 + len(r.MessageID) + 8*len(r.AllTo) + keys
}

// prepareRecordIn is prepareRecord in the free capacity of buf when that
// is at least preparedSize.
func prepareRecordIn(buf []byte, r *Record, all bool) indexedRecord {
	// One allocation holds the record's key, the record, its summary and
	// its index keys: this runs for every message accepted.
	if size := preparedSize(r, all); cap(buf)-len(buf) < size {
		buf = make([]byte, 0, size)
	} else {
		buf = buf[len(buf):len(buf)]
	}
	cut := func(from int) []byte { return buf[from:len(buf):len(buf)] }
	buf = appendRecordKey(buf, r.MessageID, r.Recipient)
	key := cut(0)
	at := len(buf)
	buf = appendRecord(buf, r)
	val := cut(at)
	at = len(buf)
	buf = appendSummary(buf, r)
	sum := cut(at)
	index := func(kind byte, extra string, code byte, status bool) []byte {
		at := len(buf)
		buf = append(buf, kind)
		buf = append(buf, r.AccountID...)
		buf = append(buf, 0)
		if status {
			buf = append(buf, code)
			buf = binary.BigEndian.AppendUint32(buf, errorCode32(r.ErrorCode))
		} else if kind != idxTime {
			buf = append(buf, extra...)
			buf = append(buf, 0)
		}
		buf = appendTimeSuffix(buf, r.ReceivedAt, key)
		return cut(at)
	}
	ir := indexedRecord{key: key, val: val, sum: sum, account: r.AccountID, at: r.ReceivedAt, status: statusCode(r.Status)}
	if all {
		ir.byTime = index(idxTime, "", 0, false)
		ir.byTo = index(idxTo, r.To, 0, false)
		ir.byFrom = index(idxFrom, r.From, 0, false)
	}
	ir.byS = index(idxStatus, "", ir.status, true)
	return ir
}

// putTx writes a new record and all its index entries.
func (ir *indexedRecord) putTx(tx *bolt.Tx) error {
	if err := tx.Bucket(bucketRecords).Put(ir.key, ir.val); err != nil {
		return err
	}
	idx := tx.Bucket(bucketRecIdx)
	for i, k := range [][]byte{ir.byTime, ir.byTo, ir.byFrom, ir.byS} {
		var v []byte
		if i == 0 || i == 3 {
			v = ir.sum
		}
		if err := idx.Put(k, v); err != nil {
			return err
		}
	}
	return nil
}

// updateTx replaces a record, moving its status entry; a record that is
// not there yet (queued before records were indexed) gets every entry.
// recCur and idxCur are cursors of the records and rec_idx buckets.
//
// queuedKey, when not nil, is the record's status entry as Enqueue wrote it
// (QUEUED, code 0), what nearly every update replaces: found there, it is
// moved without reading the old record (one seek less per completion).
func (ir *indexedRecord) updateTx(tx *bolt.Tx, recs *bolt.Bucket, recCur, idxCur pointCursor, queuedKey []byte) error {
	if queuedKey != nil {
		if k, _ := idxCur.c.Seek(queuedKey); k != nil && bytes.Equal(k, queuedKey) {
			if !bytes.Equal(queuedKey, ir.byS) {
				if err := idxCur.c.Delete(); err != nil {
					return err
				}
			}
			if err := tx.Bucket(bucketRecIdx).Put(ir.byS, ir.sum); err != nil {
				return err
			}
			return recs.Put(ir.key, ir.val)
		}
	}
	old := recCur.get(ir.key)
	if old == nil {
		if ir.src != nil {
			full := prepareIndexed(ir.src)
			return full.putTx(tx)
		}
		return ir.putTx(tx)
	}
	oldStatus, oldCode, ok := recordStatusCode(old)
	if !ok {
		var r Record
		if err := decodeRecord(old, &r); err != nil {
			return fmt.Errorf("store: record %q: %w", ir.key, err)
		}
		oldStatus, oldCode = statusCode(r.Status), errorCode32(r.ErrorCode)
	}
	st := tx.Bucket(bucketRecIdx)
	if oldKey := appendTimeSuffix(statusPrefix(ir.account, oldStatus, oldCode), ir.at, ir.key); !bytes.Equal(oldKey, ir.byS) {
		if err := idxCur.delete(oldKey); err != nil {
			return err
		}
	}
	if err := st.Put(ir.byS, ir.sum); err != nil {
		return err
	}
	return recs.Put(ir.key, ir.val)
}

// reindexStatusTx moves the status entry of a record that was SENT (error
// code 0) to its new status and code, with a fresh summary (the caller
// writes the record itself).
func reindexStatusTx(tx *bolt.Tx, rec *Record, key []byte, old string) error {
	st := tx.Bucket(bucketRecIdx)
	// The old entry's key only seeks (on the stack); the new one and its
	// summary share one allocation. This runs for every receipt that ends
	// a copy after its outcome was written.
	var kb [lookupKeyCap]byte
	oldKey := appendStatusKey(kb[:0], rec.AccountID, statusCode(old), 0, rec.ReceivedAt, key)
	n := 1 + len(rec.AccountID) + 1 + 1 + 4 + 8 + len(key)
	buf := make([]byte, 0, n+32+len(rec.Direction)+len(rec.Type)+len(rec.Carrier)+len(rec.CampaignID)+len(rec.To)+len(rec.From))
	buf = appendStatusKey(buf, rec.AccountID, statusCode(rec.Status), errorCode32(rec.ErrorCode), rec.ReceivedAt, key)
	newKey := buf[:len(buf):len(buf)]
	sum := appendSummary(buf[len(buf):], rec)
	if !bytes.Equal(oldKey, newKey) {
		if err := newPointCursor(st).delete(oldKey); err != nil {
			return err
		}
	}
	return st.Put(newKey, sum)
}

// appendStatusKey appends a status entry's key: statusPrefix, then
// appendTimeSuffix.
func appendStatusKey(k []byte, account string, status byte, code uint32, at time.Time, recKey []byte) []byte {
	k = append(k, idxStatus)
	k = append(k, account...)
	k = append(k, 0, status)
	k = binary.BigEndian.AppendUint32(k, code)
	return appendTimeSuffix(k, at, recKey)
}

// acceptRecordTx marks the inbound message messageID ACCEPTED (its
// message-received callback was acknowledged), moving its status entry.
// A record that is gone (retention) or not RECEIVED is left alone.
func acceptRecordTx(tx *bolt.Tx, messageID string) error {
	recs := tx.Bucket(bucketRecords)
	key := recordKey(messageID, 0)
	v := recs.Get(key)
	if v == nil {
		return nil
	}
	var rec Record
	if err := decodeRecord(v, &rec); err != nil {
		return fmt.Errorf("store: record %q: %w", key, err)
	}
	if rec.Status != StatusReceived {
		return nil
	}
	rec.Status = StatusAccepted
	if err := reindexStatusTx(tx, &rec, key, StatusReceived); err != nil {
		return err
	}
	return recs.Put(key, appendRecord(nil, &rec))
}

// deleteRecordTx removes a record and everything that points at it.
func (s *Store) deleteRecordTx(tx *bolt.Tx, rec *Record, key []byte) error {
	k := bytes.Clone(key)
	idx := tx.Bucket(bucketRecIdx)
	for _, ik := range [][]byte{
		appendTimeSuffix(accountPrefix(rec.AccountID), rec.ReceivedAt, k),
		appendTimeSuffix(numberPrefix(idxTo, rec.AccountID, rec.To), rec.ReceivedAt, k),
		appendTimeSuffix(numberPrefix(idxFrom, rec.AccountID, rec.From), rec.ReceivedAt, k),
		appendTimeSuffix(statusPrefix(rec.AccountID, statusCode(rec.Status), errorCode32(rec.ErrorCode)), rec.ReceivedAt, k),
	} {
		if err := idx.Delete(ik); err != nil {
			return err
		}
	}
	ids := tx.Bucket(bucketCarrierIDs)
	for _, id := range rec.CarrierIDs {
		if id = s.normalize(id); id != "" {
			ck := carrierIDKey(rec.Carrier, id)
			if v := ids.Get(ck); v != nil && bytes.Equal(v, k) {
				if err := ids.Delete(ck); err != nil {
					return err
				}
			}
		}
	}
	if rec.Status == StatusSent {
		if err := tx.Bucket(bucketAwaiting).Delete(awaitKey(rec.Carrier, rec.SentAt, k)); err != nil {
			return err
		}
	}
	return tx.Bucket(bucketRecords).Delete(k)
}

// indexOldRecords gives records written before records were indexed
// (JSON, no index entries) their binary form and index entries, 10,000
// per transaction. It runs once, at the Open that creates rec_idx.
func indexOldRecords(db *bolt.DB, log *slog.Logger) error {
	var pos []byte
	total := 0
	for {
		n := 0
		err := db.Update(func(tx *bolt.Tx) error {
			c := tx.Bucket(bucketRecords).Cursor()
			k, v := c.First()
			if pos != nil {
				k, v = c.Seek(pos)
				if k != nil && bytes.Equal(k, pos) {
					k, v = c.Next()
				}
			}
			var recs []Record
			for ; k != nil && len(recs) < 10_000; k, v = c.Next() {
				var r Record
				if err := decodeRecord(v, &r); err != nil {
					return fmt.Errorf("store: record %q: %w", k, err)
				}
				recs = append(recs, r)
				pos = bytes.Clone(k)
			}
			for i := range recs {
				ir := prepareIndexed(&recs[i])
				if err := ir.putTx(tx); err != nil {
					return err
				}
			}
			n = len(recs)
			return nil
		})
		if err != nil {
			return err
		}
		total += n
		if n < 10_000 {
			if total > 0 {
				log.Info("message records indexed", "count", total)
			}
			return nil
		}
	}
}

// AddInbound stores the record of an inbound message (Direction "in",
// Status RECEIVED) and its callback jobs in one durable commit.
func (s *Store) AddInbound(rec Record, jobs []CallbackJob) error {
	ir := prepareIndexed(&rec)
	err := s.write(func(tx *bolt.Tx) error {
		if err := ir.putTx(tx); err != nil {
			return err
		}
		if len(jobs) > 0 {
			return addCallbacksTx(tx, jobs)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: inbound message: %w", err)
	}
	if len(jobs) > 0 {
		if h := s.hooks.Load(); h != nil && h.Added != nil {
			h.Added()
		}
	}
	return nil
}

// DeleteRecordsBefore removes up to limit records received before cutoff,
// with their index entries, in one write: the retention sweep calls it
// repeatedly so that no single commit holds the writer long. Records still
// QUEUED are kept (their message is still waiting to be sent), and so are
// records still SENT that were sent at or after waitSince: their receipt
// wait may still be running, and the record is what the receipt, or the
// 9902 at the end of the wait, turns into the message's callback. more reports
// that it stopped at the limit (call again): the next call continues after
// what this one examined, and a call that reaches the end starts the next
// one from the beginning. At most 4×limit index entries are examined per
// call.
func (s *Store) DeleteRecordsBefore(cutoff, waitSince time.Time, limit int) (deleted int, more bool, err error) {
	if limit <= 0 {
		limit = 1000
	}
	end := unixNanos(cutoff)
	s.retentionMu.Lock()
	defer s.retentionMu.Unlock()
	start := []byte{idxTime}
	if s.retentionFrom != nil {
		start = s.retentionFrom
	}
	var resume []byte
	err = s.write(func(tx *bolt.Tx) error {
		deleted, more, resume = 0, false, nil // it may run twice
		type victim struct {
			key []byte
			rec Record
		}
		var victims []victim
		recs := tx.Bucket(bucketRecords)
		c := tx.Bucket(bucketRecIdx).Cursor()
		examined := 0
		// Skip from account to account: each account's entries are in time
		// order, so its expired ones are at its start.
		for k, _ := c.Seek(start); k != nil && k[0] == idxTime; {
			i := bytes.IndexByte(k, 0)
			if i < 0 || len(k) < i+9 {
				k, _ = c.Next()
				continue
			}
			prefix := bytes.Clone(k[:i+1])
			for ; k != nil && bytes.HasPrefix(k, prefix) && len(k) >= i+9; k, _ = c.Next() {
				if binary.BigEndian.Uint64(k[i+1:]) >= end {
					break
				}
				if len(victims) == limit || examined == 4*limit {
					more, resume = true, bytes.Clone(k)
					break
				}
				examined++
				rk := k[i+9:]
				v := recs.Get(rk)
				if v == nil {
					victims = append(victims, victim{key: bytes.Clone(rk), rec: Record{AccountID: string(prefix[1:i]), ReceivedAt: fromNanos(binary.BigEndian.Uint64(k[i+1:]))}})
					continue
				}
				if st, _, ok := recordStatusCode(v); ok && st == statusCode(StatusQueued) {
					continue
				}
				var rec Record
				if err := decodeRecord(v, &rec); err != nil {
					return fmt.Errorf("store: record %q: %w", rk, err)
				}
				if rec.Status == StatusQueued || (rec.Status == StatusSent && !rec.SentAt.Before(waitSince)) {
					continue
				}
				victims = append(victims, victim{key: bytes.Clone(rk), rec: rec})
			}
			if more {
				break
			}
			// Next account: seek past every key of this one.
			next := bytes.Clone(prefix)
			next[len(next)-1] = 1
			k, _ = c.Seek(next)
		}
		for i := range victims {
			v := &victims[i]
			if v.rec.MessageID == "" { // dangling index entry: only the time entry is known
				if err := tx.Bucket(bucketRecIdx).Delete(appendTimeSuffix(accountPrefix(v.rec.AccountID), v.rec.ReceivedAt, v.key)); err != nil {
					return err
				}
				continue
			}
			if err := s.deleteRecordTx(tx, &v.rec, v.key); err != nil {
				return err
			}
			deleted++
		}
		return nil
	})
	if err != nil {
		return 0, false, fmt.Errorf("store: delete old records: %w", err)
	}
	s.retentionFrom = resume
	return deleted, more, nil
}

// RecordCount counts stored records.
func (s *Store) RecordCount() (int, error) {
	s.awaitIntake()
	n := 0
	err := s.db.View(func(tx *bolt.Tx) error {
		n = tx.Bucket(bucketRecords).Stats().KeyN
		return nil
	})
	return n, err
}

// exportChunk bounds how many records one read transaction of
// ExportRecords covers: a long read transaction keeps bbolt from reusing
// pages freed by writes.
const exportChunk = 4096

// ExportRecords calls fn for each record of account received in [since,
// until) in receive-time order. It reads in chunks of short transactions,
// so records written meanwhile may or may not be seen. fn must not keep
// rec beyond the call. An error from fn stops the export and is returned.
func (s *Store) ExportRecords(account string, since, until time.Time, fn func(rec *Record) error) error {
	s.awaitIntake()
	prefix := accountPrefix(account)
	pos := appendTimeSuffix(bytes.Clone(prefix), since, nil)
	end := appendTimeSuffix(bytes.Clone(prefix), until, nil)
	if until.IsZero() {
		end = append(bytes.Clone(prefix), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)
	}
	var batch []Record
	for {
		batch = batch[:0]
		scanned := 0
		err := s.db.View(func(tx *bolt.Tx) error {
			recs := tx.Bucket(bucketRecords)
			c := tx.Bucket(bucketRecIdx).Cursor()
			k, _ := c.Seek(pos)
			if k != nil && bytes.Equal(k, pos) && len(pos) > len(prefix)+8 {
				k, _ = c.Next() // resumed: pos was the last one exported
			}
			for ; k != nil && bytes.Compare(k, end) < 0 && scanned < exportChunk; k, _ = c.Next() {
				scanned++
				pos = bytes.Clone(k)
				v := recs.Get(k[len(prefix)+8:])
				if v == nil {
					continue
				}
				batch = append(batch, Record{})
				if err := decodeRecord(v, &batch[len(batch)-1]); err != nil {
					return fmt.Errorf("store: record %q: %w", k[len(prefix)+8:], err)
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		for i := range batch {
			if err := fn(&batch[i]); err != nil {
				return err
			}
		}
		if scanned < exportChunk {
			return nil
		}
	}
}
