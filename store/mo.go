package store

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

var (
	bucketMOParts = []byte("mo_parts") // message key + 0 + seq (1 byte) -> decoded text of that part
	// message key + 0 -> moMeta JSON, written with the message's first part
	bucketMOMessages = []byte("mo_messages")
	// deadline (8 bytes BE unix ns) + message key + 0 -> "": incomplete
	// messages in the order they are given up (ExpireMOParts)
	bucketMODeadlines = []byte("mo_deadlines")
)

// moMeta is what the store keeps about an incomplete message besides its
// parts.
type moMeta struct {
	Deadline int64  `json:"d,omitempty"` // unix ns; 0: never given up
	Info     string `json:"i,omitempty"`
	Total    int    `json:"t"`
}

// MOPart is one part of a concatenated inbound message.
type MOPart struct {
	// Key names the message: carrier, from, to, reference and total parts,
	// so two long messages in flight never mix.
	Key   string
	Seq   int // 1..Total
	Total int
	Text  string
	// Deadline is when the message, still incomplete, is handed to
	// ExpireMOParts with the parts that arrived. The first part's counts;
	// zero: never.
	Deadline time.Time
	// Info is the caller's description of the message (who sent it to
	// whom), kept from the first part and handed back by ExpireMOParts.
	Info string
}

// IncompleteMO is a message whose deadline passed before all its parts
// arrived.
type IncompleteMO struct {
	Key   string
	Info  string
	Total int
	Seqs  []int    // the parts that arrived, ascending
	Texts []string // their texts, in the same order
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
		meta, err := moMetaTx(tx, prefix)
		if err != nil {
			return err
		}
		if meta == nil {
			meta = &moMeta{Info: p.Info, Total: p.Total}
			if !p.Deadline.IsZero() {
				meta.Deadline = p.Deadline.UnixNano()
			}
			if err := putMOMetaTx(tx, prefix, meta); err != nil {
				return err
			}
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
		if err := deleteMOMetaTx(tx, prefix, meta); err != nil {
			return err
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

func moMetaTx(tx *bolt.Tx, prefix []byte) (*moMeta, error) {
	v := tx.Bucket(bucketMOMessages).Get(prefix)
	if v == nil {
		return nil, nil
	}
	m := new(moMeta)
	if err := json.Unmarshal(v, m); err != nil {
		return nil, fmt.Errorf("inbound message %q: %w", prefix, err)
	}
	return m, nil
}

func moDeadlineKey(deadline int64, prefix []byte) []byte {
	return append(binary.BigEndian.AppendUint64(nil, uint64(deadline)), prefix...)
}

func putMOMetaTx(tx *bolt.Tx, prefix []byte, m *moMeta) error {
	v, err := json.Marshal(m)
	if err != nil {
		return err
	}
	if err := tx.Bucket(bucketMOMessages).Put(prefix, v); err != nil {
		return err
	}
	if m.Deadline != 0 {
		return tx.Bucket(bucketMODeadlines).Put(moDeadlineKey(m.Deadline, prefix), nil)
	}
	return nil
}

func deleteMOMetaTx(tx *bolt.Tx, prefix []byte, m *moMeta) error {
	if err := tx.Bucket(bucketMOMessages).Delete(prefix); err != nil {
		return err
	}
	if m != nil && m.Deadline != 0 {
		return tx.Bucket(bucketMODeadlines).Delete(moDeadlineKey(m.Deadline, prefix))
	}
	return nil
}

// ExpireMOParts gives up on at most limit incomplete inbound messages whose
// deadline is not after now, oldest deadline first: their parts are
// removed and build turns what arrived into callback jobs and the
// message's record (nil: none), written in the same commit, so a crash either keeps the parts or has the jobs. build
// runs inside the write and may run twice; it must be pure. more reports
// that limit was reached and others may be due.
func (s *Store) ExpireMOParts(now time.Time, limit int, build func(m IncompleteMO) ([]CallbackJob, *Record)) (expired int, more bool, err error) {
	if limit <= 0 {
		limit = 1000
	}
	added := 0
	err = s.write(func(tx *bolt.Tx) error {
		expired, more, added = 0, false, 0
		// Collected first: deleting while a cursor walks can skip keys.
		var due [][]byte
		c := tx.Bucket(bucketMODeadlines).Cursor()
		for k, _ := c.First(); k != nil && len(k) > 8; k, _ = c.Next() {
			if int64(binary.BigEndian.Uint64(k)) > now.UnixNano() {
				break
			}
			if len(due) == limit {
				more = true
				break
			}
			due = append(due, bytes.Clone(k))
		}
		parts := tx.Bucket(bucketMOParts)
		for _, dk := range due {
			prefix := dk[8:]
			meta, err := moMetaTx(tx, prefix)
			if err != nil {
				return err
			}
			if err := tx.Bucket(bucketMODeadlines).Delete(dk); err != nil {
				return err
			}
			if meta == nil {
				continue // cannot happen: written together
			}
			m := IncompleteMO{Key: string(prefix[:len(prefix)-1]), Info: meta.Info, Total: meta.Total}
			var keys [][]byte
			pc := parts.Cursor()
			for k, v := pc.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix) && len(k) == len(prefix)+1; k, v = pc.Next() {
				m.Seqs = append(m.Seqs, int(k[len(prefix)]))
				m.Texts = append(m.Texts, string(v))
				keys = append(keys, bytes.Clone(k))
			}
			for _, k := range keys {
				if err := parts.Delete(k); err != nil {
					return err
				}
			}
			if err := tx.Bucket(bucketMOMessages).Delete(prefix); err != nil {
				return err
			}
			expired++
			if len(m.Seqs) == 0 {
				continue
			}
			jobs, rec := build(m)
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
				added += len(jobs)
			}
		}
		return nil
	})
	if err != nil {
		return 0, false, fmt.Errorf("store: expire MO parts: %w", err)
	}
	if added > 0 {
		if h := s.hooks.Load(); h != nil && h.Added != nil {
			h.Added()
		}
	}
	return expired, more, nil
}
