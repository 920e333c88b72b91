package store

import (
	"bytes"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

var bucketMOParts = []byte("mo_parts") // message key + 0 + seq (1 byte) -> decoded text of that part

// MOPart is one part of a concatenated inbound message.
type MOPart struct {
	// Key names the message: carrier, from, to, reference and total parts,
	// so two long messages in flight never mix.
	Key   string
	Seq   int // 1..Total
	Total int
	Text  string
}

// AddMOPart stores a part durably. When it completes the message, the
// parts are removed and build turns their texts (in order) into the
// callback jobs and the message's record (nil: none), written in the same
// commit: acknowledging the last part to the SMSC is then safe. build runs
// inside the write and may run twice; it must be pure. A part that arrives
// twice replaces the first copy.
func (s *Store) AddMOPart(p MOPart, build func(texts []string) ([]CallbackJob, *Record)) (complete bool, err error) {
	if p.Seq < 1 || p.Seq > p.Total || p.Total > 255 {
		return false, fmt.Errorf("store: MO part %d of %d", p.Seq, p.Total)
	}
	prefix := append([]byte(p.Key), 0)
	key := append(bytes.Clone(prefix), byte(p.Seq))
	var added int
	err = s.write(func(tx *bolt.Tx) error {
		complete, added = false, 0
		b := tx.Bucket(bucketMOParts)
		if err := b.Put(key, []byte(p.Text)); err != nil {
			return err
		}
		texts := make([]string, p.Total)
		n := 0
		c := b.Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix) && len(k) == len(prefix)+1; k, v = c.Next() {
			if seq := int(k[len(prefix)]); seq >= 1 && seq <= p.Total {
				texts[seq-1] = string(v)
				n++
			}
		}
		if n < p.Total {
			return nil
		}
		for seq := 1; seq <= p.Total; seq++ {
			if err := b.Delete(append(bytes.Clone(prefix), byte(seq))); err != nil {
				return err
			}
		}
		complete = true
		jobs, rec := build(texts)
		if rec != nil {
			ir := prepareIndexed(rec)
			if err := ir.putTx(tx); err != nil {
				return err
			}
		}
		if len(jobs) > 0 {
			if err := addCallbacksTx(tx, jobs); err != nil {
				return err
			}
			added = len(jobs)
		}
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("store: MO part: %w", err)
	}
	if added > 0 {
		if h := s.hooks.Load(); h != nil && h.Added != nil {
			h.Added()
		}
	}
	return complete, nil
}

// MOPartsPending counts stored parts of incomplete inbound messages.
func (s *Store) MOPartsPending() (int, error) {
	n := 0
	err := s.db.View(func(tx *bolt.Tx) error {
		n = tx.Bucket(bucketMOParts).Stats().KeyN
		return nil
	})
	return n, err
}
