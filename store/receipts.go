package store

// Delivery receipts. A receipt names one part of a sent message copy by the
// id the carrier gave it; ApplyReceipt finds the record through the
// carrier_ids index, notes the part's outcome, combines the parts with
// Options.Aggregate (dlrmap.Aggregate in the daemon) and, the first time the copy becomes terminal, sets its
// status and adds the callback job, all in one write transaction. A copy is
// terminal once: a duplicate or later receipt changes nothing and adds no
// callback.
//
// Most receipts come right after their submit_sm_resp, before the outcome
// that indexes the id is written: the bridge hands those to Complete with
// the outcome (Completion.Receipts). One for the copy's own id is folded
// into its record before the write (foldReceipts: one record write, its
// callback built outside the transaction); any other is applied in the
// same transaction after the outcomes, as ApplyReceipt would be.
//
// A receipt can come before the submit_sm_resp that carries its id (or on
// another bind, before this bind's response was written). Such a receipt is
// kept in receipts_pending under every candidate form of its id, and
// Complete, in the transaction that indexes the new ids, applies and removes
// it. Pending receipts whose id never becomes known are removed by
// ExpirePendingReceipts, found through receipts_pending_at without a scan;
// each key keeps at most maxPendingPerKey receipts.

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
)

// V2 codes the store itself assigns (dlrmap.CodeReceiptExpired,
// dlrmap.CodeNotAcknowledged).
const (
	codeReceiptExpired  = 9902 // delivery-receipt-expired
	codeNotAcknowledged = 5630 // message-not-acknowledged
)

// aggregateAll is the default Options.Aggregate: dlrmap.Aggregate's "all".
func aggregateAll(parts []PartOutcome, total int, _ string) (PartOutcome, bool) {
	if total <= 0 {
		total = len(parts)
	}
	if total == 0 {
		return PartOutcome{}, false
	}
	delivered := 0
	for i := 0; i < total && i < len(parts); i++ {
		switch parts[i].Outcome {
		case OutcomeFailed:
			return parts[i], true
		case OutcomeDelivered:
			delivered++
		}
	}
	if delivered == total {
		return PartOutcome{Outcome: OutcomeDelivered}, true
	}
	return PartOutcome{}, false
}

const maxPendingPerKey = 8

// ReceiptHooks connects receipts to the callback outbox.
type ReceiptHooks struct {
	// Callbacks returns the jobs owed for a record that has just become
	// terminal through a receipt (Status DELIVERED or FAILED). It runs inside
	// the write transaction, possibly more than once: it must be pure and
	// quick. nil: no callbacks.
	Callbacks func(rec *Record) []CallbackJob
	// Added is called after a commit that added callback jobs, to wake the
	// sender.
	Added func()
}

// SetReceiptHooks sets the hooks used by ApplyReceipt and Complete.
func (s *Store) SetReceiptHooks(h ReceiptHooks) { s.hooks.Store(&h) }

// Receipt is one carrier receipt, already mapped onto a V2 outcome.
type Receipt struct {
	Carrier string
	// Candidates are the normalised forms its id may have in the
	// submit_sm_resp, most likely first (dlrmap.Candidates), each in the
	// form of Options.NormalizeID.
	Candidates []string
	Outcome    int       // OutcomePending, OutcomeDelivered, OutcomeFailed
	Code       int       // V2 code when failed
	Mode       string    // the carrier's receipts_per_segment: "all" (default), "first", "last"
	At         time.Time // when it arrived; zero: now
}

// ReceiptResult is what ApplyReceipt did.
type ReceiptResult struct {
	Matched   bool   // a record was found; false: kept until its id is known (or a pending-only receipt)
	Terminal  bool   // this receipt made the copy terminal
	Callbacks int    // callback jobs added
	Record    Record // the record after the receipt, when Matched
}

type pendingReceipt struct {
	Cands   []string  `json:"cands"`
	Outcome int       `json:"o"`
	Code    int       `json:"c,omitempty"`
	Mode    string    `json:"mode,omitempty"`
	At      time.Time `json:"at"`
}

func (p *pendingReceipt) same(o *pendingReceipt) bool {
	if p.Outcome != o.Outcome || p.Code != o.Code || p.Mode != o.Mode || !p.At.Equal(o.At) || len(p.Cands) != len(o.Cands) {
		return false
	}
	for i := range p.Cands {
		if p.Cands[i] != o.Cands[i] {
			return false
		}
	}
	return true
}

// ApplyReceipt records a receipt durably (one group-committed write). A
// receipt that is not terminal (OutcomePending) changes nothing and is not
// written. After a commit that added callbacks, ReceiptHooks.Added is called.
func (s *Store) ApplyReceipt(r Receipt) (ReceiptResult, error) {
	if len(r.Candidates) == 0 {
		return ReceiptResult{}, errors.New("store: receipt without id")
	}
	if r.Outcome == OutcomePending {
		return ReceiptResult{}, nil
	}
	if r.At.IsZero() {
		r.At = time.Now()
	}
	pr := pendingReceipt{Cands: r.Candidates, Outcome: r.Outcome, Code: r.Code, Mode: r.Mode, At: r.At.UTC()}
	hooks := s.hooks.Load()
	var res ReceiptResult
	err := s.write(func(tx *bolt.Tx) error {
		var err error
		res, err = s.receiptTx(tx, r.Carrier, &pr, hooks) // it may run twice: res is replaced
		return err
	})
	if err != nil {
		return ReceiptResult{}, fmt.Errorf("store: apply receipt: %w", err)
	}
	if res.Callbacks > 0 && hooks != nil && hooks.Added != nil {
		hooks.Added()
	}
	return res, nil
}

// receiptTx applies a receipt to the record its id names or, when no
// record has the id yet, keeps it pending under each candidate.
func (s *Store) receiptTx(tx *bolt.Tx, carrier string, pr *pendingReceipt, hooks *ReceiptHooks) (ReceiptResult, error) {
	ids := tx.Bucket(bucketCarrierIDs)
	var kb [lookupKeyCap]byte
	for _, c := range pr.Cands {
		key := ids.Get(appendCarrierIDKey(kb[:0], carrier, c))
		if key == nil {
			continue
		}
		rec, ok, term, n, err := s.applyTx(tx, bytes.Clone(key), c, pr, hooks)
		if err != nil {
			return ReceiptResult{}, err
		}
		if !ok {
			continue
		}
		return ReceiptResult{Matched: true, Terminal: term, Callbacks: n, Record: rec}, nil
	}
	pend := tx.Bucket(bucketPendingReceipts)
	for _, c := range pr.Cands {
		k := carrierIDKey(carrier, c)
		var list []pendingReceipt
		if v := pend.Get(k); v != nil {
			if err := json.Unmarshal(v, &list); err != nil {
				return ReceiptResult{}, fmt.Errorf("store: pending receipt %q: %w", k, err)
			}
		}
		if len(list) >= maxPendingPerKey {
			list = list[len(list)-maxPendingPerKey+1:]
		}
		v, err := json.Marshal(append(list, *pr))
		if err != nil {
			return ReceiptResult{}, err
		}
		if err := pend.Put(k, v); err != nil {
			return ReceiptResult{}, err
		}
		if err := tx.Bucket(bucketPendingAt).Put(pendingAtKey(carrier, pr.At, c), nil); err != nil {
			return ReceiptResult{}, err
		}
	}
	return ReceiptResult{}, nil
}

// attachedReceipt is a receipt handed to Complete with its copy's outcome
// (Completion.Receipts).
type attachedReceipt struct {
	carrier string
	pr      pendingReceipt
	skip    bool // not terminal or without id: ApplyReceipt would not write it either
	folded  bool // applied to its completion's record before the write (foldReceipts)
}

// prepareAttachedReceipts collects the completions' receipts in order,
// with a result slot each.
func prepareAttachedReceipts(cs []Completion) ([]attachedReceipt, []ReceiptResult) {
	n := 0
	for i := range cs {
		n += len(cs[i].Receipts)
	}
	if n == 0 {
		return nil, nil
	}
	out := make([]attachedReceipt, 0, n)
	now := time.Now()
	for i := range cs {
		for _, r := range cs[i].Receipts {
			if r.At.IsZero() {
				r.At = now
			}
			out = append(out, attachedReceipt{carrier: r.Carrier, skip: len(r.Candidates) == 0 || r.Outcome == OutcomePending,
				pr: pendingReceipt{Cands: r.Candidates, Outcome: r.Outcome, Code: r.Code, Mode: r.Mode, At: r.At.UTC()}})
		}
	}
	return out, make([]ReceiptResult, n)
}

// applyAttachedTx applies the attached receipts after the outcomes, as
// ApplyReceipt would. It returns the callback jobs added.
func (s *Store) applyAttachedTx(tx *bolt.Tx, rs []attachedReceipt, results []ReceiptResult, hooks *ReceiptHooks) (int, error) {
	added := 0
	for i := range rs {
		if rs[i].skip || rs[i].folded {
			continue // its result is set
		}
		res, err := s.receiptTx(tx, rs[i].carrier, &rs[i].pr, hooks)
		if err != nil {
			return 0, err
		}
		results[i] = res
		added += res.Callbacks
	}
	return added, nil
}

// foldReceipts applies to a copy of c's record, written to rec, the
// receipts handed with it whose id as sent (their first candidate) is one
// of the record's own parts: exactly what ApplyReceipt right after the
// commit would do, since that id then names this record. The record is
// then written once, SENT never indexed and never awaiting. It returns the
// index in rs of the receipt that made it terminal, or -1. Other receipts
// are left to applyAttachedTx.
func (s *Store) foldReceipts(c *Completion, rec *Record, rs []attachedReceipt, results []ReceiptResult) int {
	*rec = c.Record // a copy: Complete may be called again with c
	// The parts' outcomes for the record and for each result folded in,
	// in one allocation: nearly always one receipt for a one-part copy.
	nParts := max(len(rec.Parts), len(rec.CarrierIDs))
	parts := make([]PartOutcome, nParts*(1+len(rs)))
	rec.Parts = append(parts[:0:nParts], rec.Parts...)
	parts = parts[nParts:]
	terminalAt, folded := -1, false
	for i := range rs {
		r := &rs[i]
		if r.skip || r.carrier != rec.Carrier {
			continue
		}
		part := -1
		for p, id := range rec.CarrierIDs {
			if id != "" && s.normalize(id) == r.pr.Cands[0] {
				part = p
				break
			}
		}
		if part < 0 {
			continue
		}
		r.folded, folded = true, true
		_, terminal := s.applyToRecord(rec, part, &r.pr) // a duplicate changes nothing
		if terminal {
			terminalAt = i
		}
		results[i] = ReceiptResult{Matched: true, Terminal: terminal, Record: *rec}
		snapshot := append(parts[:0:len(rec.Parts)], rec.Parts...)
		parts = parts[len(snapshot):]
		results[i].Record.Parts = snapshot
	}
	if !folded {
		rec.Parts = c.Record.Parts // unchanged, and nil stays nil
	}
	return terminalAt
}

// setAttachedResults hands the results of a committed Complete back to
// its completions.
func setAttachedResults(cs []Completion, results []ReceiptResult) {
	j := 0
	for i := range cs {
		if n := len(cs[i].Receipts); n > 0 {
			cs[i].ReceiptResults = results[j : j+n : j+n]
			j += n
		}
	}
}

// applyTx applies one receipt for the part whose normalised id is cid to
// the record under key. ok is false when the record or the part is not
// there (a dangling index entry).
func (s *Store) applyTx(tx *bolt.Tx, key []byte, cid string, pr *pendingReceipt, hooks *ReceiptHooks) (rec Record, ok, terminal bool, added int, err error) {
	recs := tx.Bucket(bucketRecords)
	v := recs.Get(key)
	if v == nil {
		return rec, false, false, 0, nil
	}
	if err := decodeRecord(v, &rec); err != nil {
		return rec, false, false, 0, fmt.Errorf("store: record %q: %w", key, err)
	}
	part := -1
	for i, id := range rec.CarrierIDs {
		if id != "" && s.normalize(id) == cid {
			part = i
			break
		}
	}
	if part < 0 {
		return rec, false, false, 0, nil
	}
	dup, terminal := s.applyToRecord(&rec, part, pr)
	if dup {
		return rec, true, false, 0, nil // the part's first terminal receipt stands
	}
	if terminal {
		var kb [lookupKeyCap]byte
		if err := newPointCursor(tx.Bucket(bucketAwaiting)).delete(appendAwaitKey(kb[:0], rec.Carrier, rec.SentAt, key)); err != nil {
			return rec, false, false, 0, err
		}
		if err := reindexStatusTx(tx, &rec, key, StatusSent); err != nil {
			return rec, false, false, 0, err
		}
		if hooks != nil && hooks.Callbacks != nil {
			if jobs := hooks.Callbacks(&rec); len(jobs) > 0 {
				if err := addCallbacksTx(tx, jobs); err != nil {
					return rec, false, false, 0, err
				}
				added = len(jobs)
			}
		}
	}
	nv, err := encodeRecord(&rec)
	if err != nil {
		return rec, false, false, 0, err
	}
	if err := recs.Put(key, nv); err != nil {
		return rec, false, false, 0, err
	}
	return rec, true, terminal, added, nil
}

// applyToRecord notes a receipt for part in rec and, when the parts'
// outcomes make a SENT copy terminal, its status, code and DoneAt. dup: the
// part already had its terminal receipt, which stands (rec unchanged).
func (s *Store) applyToRecord(rec *Record, part int, pr *pendingReceipt) (dup, terminal bool) {
	for len(rec.Parts) < len(rec.CarrierIDs) {
		rec.Parts = append(rec.Parts, PartOutcome{})
	}
	if rec.Parts[part].Outcome != OutcomePending {
		return true, false
	}
	rec.Parts[part] = PartOutcome{Outcome: pr.Outcome, Code: pr.Code}
	if rec.Status != "SENT" {
		return false, false
	}
	agg, done := s.aggregate(rec.Parts, len(rec.CarrierIDs), pr.Mode)
	if !done {
		return false, false
	}
	rec.DoneAt = pr.At
	if rec.DoneAt.Before(rec.SentAt) { // an early receipt
		rec.DoneAt = rec.SentAt
	}
	if agg.Outcome == OutcomeDelivered {
		rec.Status, rec.ErrorCode = "DELIVERED", 0
	} else {
		rec.Status, rec.ErrorCode = "FAILED", agg.Code
	}
	return false, true
}

// applyPendingTx applies the receipts kept under pendKey (carrier + 0 +
// id) to the record under recKey and removes them, from every key they
// were kept under. It returns the callback jobs added.
func (s *Store) applyPendingTx(tx *bolt.Tx, pendKey, recKey []byte, hooks *ReceiptHooks) (int, error) {
	pend := tx.Bucket(bucketPendingReceipts)
	v := pend.Get(pendKey)
	if v == nil {
		return 0, nil
	}
	var list []pendingReceipt
	if err := json.Unmarshal(v, &list); err != nil {
		return 0, fmt.Errorf("store: pending receipt %q: %w", pendKey, err)
	}
	i := bytes.IndexByte(pendKey, 0)
	carrier, cid := string(pendKey[:i]), string(pendKey[i+1:])
	added := 0
	for j := range list {
		pr := &list[j]
		_, _, _, n, err := s.applyTx(tx, recKey, cid, pr, hooks)
		if err != nil {
			return 0, err
		}
		added += n
		for _, c := range pr.Cands {
			if c == cid {
				continue
			}
			if err := removePending(pend, carrierIDKey(carrier, c), pr); err != nil {
				return 0, err
			}
		}
	}
	return added, pend.Delete(pendKey)
}

func removePending(pend *bolt.Bucket, k []byte, pr *pendingReceipt) error {
	v := pend.Get(k)
	if v == nil {
		return nil
	}
	var list []pendingReceipt
	if err := json.Unmarshal(v, &list); err != nil {
		return fmt.Errorf("store: pending receipt %q: %w", k, err)
	}
	keep := list[:0]
	for j := range list {
		if !list[j].same(pr) {
			keep = append(keep, list[j])
		}
	}
	if len(keep) == 0 {
		return pend.Delete(k)
	}
	nv, err := json.Marshal(keep)
	if err != nil {
		return err
	}
	return pend.Put(k, nv)
}

// KnowsCarrierID reports whether a record is indexed under one of the
// candidate ids (read-only; no commit). The bridge asks it before holding
// back a receipt whose id it has not seen in an outcome yet.
func (s *Store) KnowsCarrierID(carrier string, candidates []string) (bool, error) {
	known := false
	err := s.db.View(func(tx *bolt.Tx) error {
		ids := tx.Bucket(bucketCarrierIDs)
		var kb [lookupKeyCap]byte
		for _, c := range candidates {
			if ids.Get(appendCarrierIDKey(kb[:0], carrier, c)) != nil {
				known = true
				return nil
			}
		}
		return nil
	})
	return known, err
}

// PendingReceipts counts the keys of receipts still waiting for their id
// (each receipt is kept under up to three id forms).
func (s *Store) PendingReceipts() (int, error) {
	n := 0
	err := s.db.View(func(tx *bolt.Tx) error {
		n = tx.Bucket(bucketPendingReceipts).Stats().KeyN
		return nil
	})
	return n, err
}

func awaitKey(carrier string, sentAt time.Time, recKey []byte) []byte {
	return appendAwaitKey(make([]byte, 0, len(carrier)+9+len(recKey)), carrier, sentAt, recKey)
}

func appendAwaitKey(k []byte, carrier string, sentAt time.Time, recKey []byte) []byte {
	k = append(k, carrier...)
	k = append(k, 0)
	k = binary.BigEndian.AppendUint64(k, unixNanos(sentAt))
	return append(k, recKey...)
}

// ExpireReceipts ends the wait of up to limit copies sent through carrier
// before sentBefore that still have no terminal outcome: FAILED with 5630
// (message-not-acknowledged) when a part's submit outcome stayed unknown,
// else 9902 (delivery-receipt-expired), DoneAt now, and their callbacks,
// in one write. It seeks the carrier's oldest waiting copies, never scans
// the records. It returns how many it ended, and more when it stopped at
// limit index entries (call again).
func (s *Store) ExpireReceipts(carrier string, sentBefore, now time.Time, limit int) (ended int, more bool, err error) {
	hooks := s.hooks.Load()
	prefix := append([]byte(carrier), 0)
	end := binary.BigEndian.AppendUint64(bytes.Clone(prefix), unixNanos(sentBefore))
	var n, added int
	err = s.write(func(tx *bolt.Tx) error {
		n, added, more = 0, 0, false // it may run twice
		aw, recs := tx.Bucket(bucketAwaiting), tx.Bucket(bucketRecords)
		var done [][]byte
		c := aw.Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix) && bytes.Compare(k, end) < 0; k, _ = c.Next() {
			if len(done) == limit {
				more = true
				break
			}
			done = append(done, bytes.Clone(k))
			recKey := k[len(prefix)+8:]
			v := recs.Get(recKey)
			if v == nil {
				continue
			}
			var rec Record
			if err := decodeRecord(v, &rec); err != nil {
				return fmt.Errorf("store: record %q: %w", recKey, err)
			}
			if rec.Status != "SENT" {
				continue
			}
			n++
			rec.Status, rec.ErrorCode, rec.DoneAt = "FAILED", codeReceiptExpired, now
			if rec.Unknown > 0 {
				rec.ErrorCode = codeNotAcknowledged
			}
			if hooks != nil && hooks.Callbacks != nil {
				if jobs := hooks.Callbacks(&rec); len(jobs) > 0 {
					if err := addCallbacksTx(tx, jobs); err != nil {
						return err
					}
					added += len(jobs)
				}
			}
			nv, err := encodeRecord(&rec)
			if err != nil {
				return err
			}
			if err := reindexStatusTx(tx, &rec, recKey, StatusSent); err != nil {
				return err
			}
			if err := recs.Put(bytes.Clone(recKey), nv); err != nil {
				return err
			}
		}
		for _, k := range done {
			if err := aw.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, false, fmt.Errorf("store: expire receipts: %w", err)
	}
	if added > 0 && hooks != nil && hooks.Added != nil {
		hooks.Added()
	}
	return n, more, nil
}

func pendingAtKey(carrier string, at time.Time, cand string) []byte {
	k := make([]byte, 0, len(carrier)+9+len(cand))
	k = append(k, carrier...)
	k = append(k, 0)
	k = binary.BigEndian.AppendUint64(k, unixNanos(at))
	return append(k, cand...)
}

// ExpirePendingReceipts removes the carrier's receipts that arrived before
// arrivedBefore and are still waiting for their id: past the carrier's
// receipt wait their message has ended (9902 or 5630) and they can no
// longer change anything. removed counts kept copies: a receipt is kept
// under each of its id candidates. It visits at most limit index entries, oldest
// first; more reports that it stopped there (call again). An entry whose
// receipt was matched meanwhile is just dropped.
func (s *Store) ExpirePendingReceipts(carrier string, arrivedBefore time.Time, limit int) (removed int, more bool, err error) {
	if limit <= 0 {
		limit = 1000
	}
	prefix := append([]byte(carrier), 0)
	end := binary.BigEndian.AppendUint64(bytes.Clone(prefix), unixNanos(arrivedBefore))
	cut := arrivedBefore.UTC()
	err = s.write(func(tx *bolt.Tx) error {
		removed, more = 0, false // it may run twice
		idx, pend := tx.Bucket(bucketPendingAt), tx.Bucket(bucketPendingReceipts)
		var done [][]byte
		c := idx.Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix) && bytes.Compare(k, end) < 0; k, _ = c.Next() {
			if len(done) == limit {
				more = true
				break
			}
			done = append(done, bytes.Clone(k))
		}
		for _, k := range done {
			if err := idx.Delete(k); err != nil {
				return err
			}
			pk := carrierIDKey(carrier, string(k[len(prefix)+8:]))
			v := pend.Get(pk)
			if v == nil {
				continue
			}
			var list []pendingReceipt
			if err := json.Unmarshal(v, &list); err != nil {
				return fmt.Errorf("store: pending receipt %q: %w", pk, err)
			}
			keep := list[:0]
			for _, pr := range list {
				if pr.At.Before(cut) {
					removed++
					continue
				}
				keep = append(keep, pr)
			}
			if len(keep) == 0 {
				if err := pend.Delete(pk); err != nil {
					return err
				}
				continue
			}
			if len(keep) < len(list) {
				nv, err := json.Marshal(keep)
				if err != nil {
					return err
				}
				if err := pend.Put(pk, nv); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return 0, false, fmt.Errorf("store: expire pending receipts: %w", err)
	}
	return removed, more, nil
}

// AwaitingCarriers lists, sorted, the carriers that have sent copies
// waiting for receipts (awaiting_receipt) or receipts waiting for their id
// (receipts_pending_at): the carriers whose receipt expiry still has work.
// At start the bridge runs the expiry for those no longer configured, which
// nothing else would. Both indexes are keyed carrier 0 …: it seeks from one
// carrier to the next (carrier 1 is past all of carrier's keys and before
// any longer name), so it reads one key per carrier, not the entries.
func (s *Store) AwaitingCarriers() ([]string, error) {
	var names []string
	err := s.db.View(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{bucketAwaiting, bucketPendingAt} {
			c := tx.Bucket(name).Cursor()
			k, _ := c.First()
			for k != nil {
				i := bytes.IndexByte(k, 0)
				if i < 0 { // no carrier name: not a key this store writes
					k, _ = c.Next()
					continue
				}
				names = append(names, string(k[:i]))
				k, _ = c.Seek(append(bytes.Clone(k[:i]), 1))
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: awaiting carriers: %w", err)
	}
	slices.Sort(names)
	return slices.Compact(names), nil
}
