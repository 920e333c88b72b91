package store

import (
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// LateSubmit is a submit_sm_resp that came after the carrier's response
// timeout, once its copy's outcome had been given with the part unknown
// (Record.Unknown): the carrier answered after all.
type LateSubmit struct {
	Carrier   string
	MessageID string
	Recipient int
	Part      int    // index in Record.CarrierIDs
	CarrierID string // the id the carrier gave the part; "" with Code
	Code      int    // V2 code when the carrier refused the part (dlrmap.SubmitStatus); 0: accepted
	At        time.Time
}

// LateSubmitResult is what ApplyLateSubmit did.
type LateSubmitResult struct {
	// NotYet: the copy's outcome is not recorded yet (its Complete is on its
	// way): call again after the next Complete.
	NotYet bool
	// Applied: the part's outcome was unknown and now is known. False (and
	// not NotYet): too late — the copy already ended (5630, 9902, failed
	// by another part) or the part is known; nothing changed.
	Applied   bool
	Terminal  bool   // the copy ended with it (a refusal, or receipts kept for the id)
	Callbacks int    // callback jobs added
	Record    Record // the record after it, unless NotYet
}

// ApplyLateSubmit records a late submit_sm_resp in one write. Accepted:
// the part gets its carrier id, Unknown drops by one, the id is indexed as
// Complete does, and receipts kept for that id (they came first) are
// applied, adding the callback when they end the copy. Refused: the copy
// fails with l.Code, with its callback. A copy that is no longer SENT is
// left alone: it already had its one terminal callback.
func (s *Store) ApplyLateSubmit(l LateSubmit) (LateSubmitResult, error) {
	if l.At.IsZero() {
		l.At = time.Now()
	}
	hooks := s.hooks.Load()
	key := recordKey(l.MessageID, l.Recipient)
	var res LateSubmitResult
	err := s.write(func(tx *bolt.Tx) error {
		var err error
		res, err = s.lateSubmitTx(tx, key, &l, hooks) // it may run twice: res is replaced
		return err
	})
	if err != nil {
		return LateSubmitResult{}, fmt.Errorf("store: late submit response: %w", err)
	}
	if res.Callbacks > 0 && hooks != nil && hooks.Added != nil {
		hooks.Added()
	}
	return res, nil
}

func (s *Store) lateSubmitTx(tx *bolt.Tx, key []byte, l *LateSubmit, hooks *ReceiptHooks) (LateSubmitResult, error) {
	recs := tx.Bucket(bucketRecords)
	v := recs.Get(key)
	if v == nil {
		return LateSubmitResult{NotYet: true}, nil
	}
	var rec Record
	if err := decodeRecord(v, &rec); err != nil {
		return LateSubmitResult{}, fmt.Errorf("record %q: %w", key, err)
	}
	if rec.Status == StatusQueued {
		return LateSubmitResult{NotYet: true}, nil
	}
	if rec.Status != StatusSent || rec.Carrier != l.Carrier || rec.Unknown <= 0 ||
		l.Part < 0 || l.Part >= len(rec.CarrierIDs) || rec.CarrierIDs[l.Part] != "" || (l.Code == 0 && l.CarrierID == "") {
		return LateSubmitResult{Record: rec}, nil
	}
	rec.Unknown--
	if l.Code != 0 {
		rec.Status, rec.ErrorCode, rec.DoneAt = "FAILED", l.Code, l.At
		if rec.DoneAt.Before(rec.SentAt) {
			rec.DoneAt = rec.SentAt
		}
		var kb [lookupKeyCap]byte
		if err := newPointCursor(tx.Bucket(bucketAwaiting)).delete(appendAwaitKey(kb[:0], rec.Carrier, rec.SentAt, key)); err != nil {
			return LateSubmitResult{}, err
		}
		if err := reindexStatusTx(tx, &rec, key, StatusSent); err != nil {
			return LateSubmitResult{}, err
		}
		added := 0
		if hooks != nil && hooks.Callbacks != nil {
			if jobs := hooks.Callbacks(&rec); len(jobs) > 0 {
				if err := addCallbacksTx(tx, jobs); err != nil {
					return LateSubmitResult{}, err
				}
				added = len(jobs)
			}
		}
		if err := putRecordTx(recs, key, &rec); err != nil {
			return LateSubmitResult{}, err
		}
		return LateSubmitResult{Applied: true, Terminal: true, Callbacks: added, Record: rec}, nil
	}
	rec.CarrierIDs[l.Part] = l.CarrierID
	if err := putRecordTx(recs, key, &rec); err != nil {
		return LateSubmitResult{}, err
	}
	res := LateSubmitResult{Applied: true, Record: rec}
	cid := s.normalize(l.CarrierID)
	if cid == "" {
		return res, nil
	}
	idKey := carrierIDKey(rec.Carrier, cid)
	if err := tx.Bucket(bucketCarrierIDs).Put(idKey, key); err != nil {
		return LateSubmitResult{}, err
	}
	// Receipts that came while the id was unknown were kept for it.
	n, err := s.applyPendingTx(tx, idKey, key, hooks)
	if err != nil {
		return LateSubmitResult{}, err
	}
	if err := decodeRecord(recs.Get(key), &res.Record); err != nil { // as the receipts left it
		return LateSubmitResult{}, fmt.Errorf("record %q: %w", key, err)
	}
	res.Callbacks, res.Terminal = n, res.Record.Status != StatusSent
	return res, nil
}

func putRecordTx(recs *bolt.Bucket, key []byte, rec *Record) error {
	v, err := encodeRecord(rec)
	if err != nil {
		return err
	}
	return recs.Put(key, v)
}
