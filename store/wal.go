package store

// The intake log: why an accepted message is durable before bbolt has it.
// Used with Options.WAL (store.wal), off by default: on a disk whose syncs
// are slow and serialised its extra sync only competes with bbolt's
// (BENCHMARKS.md, "Intake write-ahead log").
//
// bbolt syncs twice per commit and commits are serial, so a 202 that waited
// for a bbolt commit cost one whole commit (~1–3 ms, growing with the
// records and index entries each message adds) and the committer was the
// daemon's wall. Instead, Enqueue appends its queue items to an append-only
// segment file; every Enqueue waiting at that moment shares one write and
// one fdatasync (group commit, no timer). Enqueue returns — and the 202 may
// be sent — only once that sync has returned.
//
// After the sync, and before any Enqueue of the group returns, the items are
// handed in log order to the bbolt committer without waiting for its
// commit. Everything the bridge later writes about them (Complete, receipts)
// is therefore queued behind them and lands in the same or a later bbolt
// transaction. Each item carries its queue sequence number, assigned here in
// log order; the transaction that applies an item also raises the queue
// bucket's sequence to it, so "queue sequence ≥ n" in bbolt means "every log
// entry up to n is applied and committed" (commits apply entries in order).
//
// At Open, every entry with a sequence above the bucket's is applied before
// anything else runs, in log order and in the same transaction as the new
// bucket sequence: an entry is applied exactly once, so a message whose
// Complete was committed is never queued (and sent) again. A frame that fails
// its length or CRC32C check at the end of the newest segment is a write
// torn by the crash (its Enqueue never returned): the segment is truncated
// there. Anywhere else it is corruption and Open refuses to start.
//
// A segment is deleted once bbolt has committed its last entry; the current
// one is rotated at Options.WALSegmentSize. If a bbolt commit fails (a full
// disk), the committer keeps the entries and puts them first into every
// later transaction, so no write about them commits before them; the log
// still has them should the process end. A failed write to the log is cut
// off again and that Enqueue fails (nothing acknowledged); a failed
// fdatasync leaves the file's state unknown, so the store then stops taking
// writes (ErrBroken) until a restart replays the log.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
)

// ErrBroken is returned by writes after the intake log could not be
// synced; restart to recover.
var ErrBroken = errors.New("store: intake log could not be synced; restart to recover")

const (
	walFrameHeader  = 8 // body length (uint32 BE) + CRC32C of the body
	walSuffix       = ".log"
	walDefaultSize  = 64 << 20
	walReplayPerTx  = 2048
	walMaxGroupReqs = 4096
	// walMaxUnapplied bounds accepted entries waiting for bbolt (it cannot
	// commit, e.g. its disk is full): beyond it Enqueue fails.
	walMaxUnapplied = 200_000
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

type walSegment struct {
	path string
	last uint64 // highest sequence written to it
}

type walReq struct {
	vals  [][]byte // encoded queue items
	recs  []indexedRecord
	first uint64 // sequence of vals[0], set by the log
	done  chan error
}

// walApply is one log entry on its way to bbolt.
type walApply struct {
	seq uint64
	val []byte
	rec indexedRecord
}

// intakeLog is owned by Store.walLoop after Open; nothing else touches its
// fields.
type intakeLog struct {
	dir      string
	noSync   bool
	maxSize  int64
	f        *os.File
	size     int64
	cur      walSegment
	old      []walSegment // rotated, waiting for bbolt to commit their entries
	next     uint64       // sequence of the next entry
	buf      []byte
	reqs     chan *walReq
	done     chan struct{}
	replayed int
}

// intake is the Store's side of the log: progress counters readers wait on.
type intake struct {
	log     *intakeLog
	durable atomic.Uint64 // highest sequence synced to the log
	applied atomic.Uint64 // highest sequence committed in bbolt
	mu      sync.Mutex
	cond    *sync.Cond // signalled when applied moves or the store breaks
}

func segmentName(first uint64) string { return fmt.Sprintf("%016x%s", first, walSuffix) }

func listSegments(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range ents {
		n := e.Name()
		if !strings.HasSuffix(n, walSuffix) {
			continue
		}
		if _, err := strconv.ParseUint(strings.TrimSuffix(n, walSuffix), 16, 64); err != nil {
			continue
		}
		names = append(names, n)
	}
	sort.Strings(names) // fixed-width hex: name order is sequence order
	return names, nil
}

// readFrame checks the frame at off: its body, or ok false when the length
// or CRC does not match.
func readFrame(data []byte, off int) (body []byte, ok bool) {
	if len(data)-off < walFrameHeader {
		return nil, false
	}
	n := int(binary.BigEndian.Uint32(data[off:]))
	if n < 8 || n > len(data)-off-walFrameHeader {
		return nil, false
	}
	body = data[off+walFrameHeader : off+walFrameHeader+n]
	if crc32.Checksum(body, crcTable) != binary.BigEndian.Uint32(data[off+4:]) {
		return nil, false
	}
	return body, true
}

// intactAfter reports whether a valid frame follows the bad one at off (as
// far as its length field can be trusted): then the damage is not a torn
// tail.
func intactAfter(data []byte, off int) bool {
	if len(data)-off < walFrameHeader {
		return false
	}
	n := int(binary.BigEndian.Uint32(data[off:]))
	next := off + walFrameHeader + n
	if n < 8 || next >= len(data) {
		return false
	}
	_, ok := readFrame(data, next)
	return ok
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// openIntakeLog replays dir's segments into db (entries above the queue
// bucket's sequence), deletes them and starts a new segment.
func openIntakeLog(db *bolt.DB, dir string, noSync bool, maxSize int64, log *slog.Logger) (*intakeLog, error) {
	if maxSize <= 0 {
		maxSize = walDefaultSize
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("store: intake log: %w", err)
	}
	names, err := listSegments(dir)
	if err != nil {
		return nil, fmt.Errorf("store: intake log: %w", err)
	}
	var applied uint64
	if err := db.View(func(tx *bolt.Tx) error {
		applied = tx.Bucket(bucketQueue).Sequence()
		return nil
	}); err != nil {
		return nil, err
	}
	var pending []walApply
	flush := func() error {
		if len(pending) == 0 {
			return nil
		}
		err := db.Update(func(tx *bolt.Tx) error { return applyLogTx(tx, pending) })
		pending = pending[:0]
		return err
	}
	w := &intakeLog{dir: dir, noSync: noSync, maxSize: maxSize}
	var prev uint64
	for i, name := range names {
		path := filepath.Join(dir, name)
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("store: intake log: %w", err)
		}
		for off := 0; off < len(data); {
			body, ok := readFrame(data, off)
			if !ok {
				if i != len(names)-1 || intactAfter(data, off) {
					return nil, fmt.Errorf("store: intake log %s is corrupt at offset %d (not a torn tail); "+
						"refusing to start: move the file away only if losing its messages is acceptable", path, off)
				}
				log.Warn("intake log: torn tail truncated", "segment", path, "offset", off, "bytes", len(data)-off)
				if err := os.Truncate(path, int64(off)); err != nil {
					return nil, fmt.Errorf("store: intake log: %w", err)
				}
				break
			}
			seq := binary.BigEndian.Uint64(body)
			if prev != 0 && seq != prev+1 {
				return nil, fmt.Errorf("store: intake log %s: sequence %d follows %d", path, seq, prev)
			}
			prev = seq
			off += walFrameHeader + len(body)
			if seq <= applied {
				continue
			}
			var it QueueItem
			if err := decodeQueueItem(body[8:], &it); err != nil || it.Recipient < 0 || it.Recipient >= len(it.To) {
				return nil, fmt.Errorf("store: intake log %s: entry %d cannot be decoded", path, seq)
			}
			rec := NewRecord(&it)
			rec.Status = StatusQueued
			pending = append(pending, walApply{seq: seq, val: body[8:], rec: prepareIndexed(&rec)})
			w.replayed++
			if len(pending) >= walReplayPerTx {
				if err := flush(); err != nil {
					return nil, fmt.Errorf("store: intake log replay: %w", err)
				}
			}
		}
		if err := flush(); err != nil {
			return nil, fmt.Errorf("store: intake log replay: %w", err)
		}
	}
	// Everything in the segments is committed in bbolt now.
	for _, name := range names {
		if err := os.Remove(filepath.Join(dir, name)); err != nil {
			return nil, fmt.Errorf("store: intake log: %w", err)
		}
	}
	if err := db.View(func(tx *bolt.Tx) error {
		w.next = tx.Bucket(bucketQueue).Sequence() + 1
		return nil
	}); err != nil {
		return nil, err
	}
	if err := w.startSegment(w.next); err != nil {
		return nil, err
	}
	if w.replayed > 0 {
		log.Info("intake log replayed", "entries", w.replayed)
	}
	return w, nil
}

// startSegment creates the segment whose first entry will be first.
func (w *intakeLog) startSegment(first uint64) error {
	path := filepath.Join(w.dir, segmentName(first))
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("store: intake log: %w", err)
	}
	if !w.noSync {
		// The new name must survive a crash along with what is written to it.
		if err := syncDir(w.dir); err != nil {
			f.Close()
			return fmt.Errorf("store: intake log: %w", err)
		}
	}
	w.f, w.size, w.cur = f, 0, walSegment{path: path, last: first - 1}
	return nil
}

// appendFrame adds one entry to w.buf.
func (w *intakeLog) appendFrame(seq uint64, val []byte) {
	at := len(w.buf)
	w.buf = binary.BigEndian.AppendUint32(w.buf, uint32(8+len(val)))
	w.buf = append(w.buf, 0, 0, 0, 0)
	w.buf = binary.BigEndian.AppendUint64(w.buf, seq)
	w.buf = append(w.buf, val...)
	body := w.buf[at+walFrameHeader:]
	binary.BigEndian.PutUint32(w.buf[at+4:], crc32.Checksum(body, crcTable))
}

// rotate starts a new segment; the current one, complete and synced,
// waits in w.old for bbolt.
func (w *intakeLog) rotate(first uint64) error {
	f, cur := w.f, w.cur
	if err := w.startSegment(first); err != nil {
		return err // still writing to f
	}
	f.Close()
	w.old = append(w.old, cur)
	return nil
}

// writeSync writes w.buf (entries up to last) durably, rotating first when
// the current segment is full. Every segment but the newest is complete
// and synced. synced is false when the data may be on disk or not (a
// failed fdatasync): the log cannot be trusted after that.
func (w *intakeLog) writeSync(first, last uint64) (trusted bool, err error) {
	if w.size > 0 && w.size+int64(len(w.buf)) > w.maxSize {
		if err := w.rotate(first); err != nil {
			return true, err
		}
	}
	before := w.size
	n, err := w.f.Write(w.buf)
	w.size += int64(n)
	if err != nil {
		// Cut a partial write off so the next group follows whole frames.
		if terr := w.f.Truncate(before); terr != nil {
			return false, err
		}
		w.size = before
		return true, err
	}
	if !w.noSync {
		if err := syncData(w.f); err != nil {
			return false, err
		}
	}
	w.cur.last = last
	return true, nil
}

// removeApplied deletes the rotated segments bbolt has fully committed.
func (w *intakeLog) removeApplied(applied uint64, log *slog.Logger) {
	for len(w.old) > 0 && w.old[0].last <= applied {
		if err := os.Remove(w.old[0].path); err != nil {
			log.Error("intake log: cannot delete an applied segment", "segment", w.old[0].path, "err", err)
			return
		}
		w.old = w.old[1:]
	}
}

// applyLogTx puts log entries into the queue and their records, and raises the
// queue sequence to the last one. Idempotent.
func applyLogTx(tx *bolt.Tx, entries []walApply) error {
	if f := applyFault.Load(); f != nil {
		return *f
	}
	q := tx.Bucket(bucketQueue)
	for i := range entries {
		e := &entries[i]
		if err := q.Put(seqKey(e.seq), e.val); err != nil {
			return err
		}
		if err := e.rec.putTx(tx); err != nil {
			return err
		}
	}
	if last := entries[len(entries)-1].seq; q.Sequence() < last {
		return q.SetSequence(last)
	}
	return nil
}

// applyFault, set by tests, makes applying log entries fail.
var applyFault atomic.Pointer[error]

// walLoop is the log's group commit: it takes every Enqueue waiting, writes
// and syncs them at once, hands them to the bbolt committer in log order
// and only then lets the Enqueues return.
func (s *Store) walLoop() {
	w := s.intake.log
	defer close(w.done)
	batch := make([]*walReq, 0, 64)
	for r := range w.reqs {
		batch = append(batch[:0], r)
	drain:
		for len(batch) < walMaxGroupReqs {
			select {
			case r, ok := <-w.reqs:
				if !ok {
					break drain
				}
				batch = append(batch, r)
			default:
				break drain
			}
		}
		if err := s.brokenErr(); err != nil {
			for _, r := range batch {
				r.done <- err
			}
			continue
		}
		if s.intake.durable.Load()-s.intake.applied.Load() > walMaxUnapplied {
			for _, r := range batch {
				r.done <- errors.New("store: too many accepted messages wait for the database")
			}
			continue
		}
		w.buf = w.buf[:0]
		n := 0
		for _, r := range batch {
			n += len(r.vals)
		}
		entries := make([]walApply, 0, n)
		for _, r := range batch {
			r.first = w.next
			for i, v := range r.vals {
				w.appendFrame(w.next, v)
				entries = append(entries, walApply{seq: w.next, val: v, rec: r.recs[i]})
				w.next++
			}
		}
		first, last := batch[0].first, w.next-1
		trusted, err := w.writeSync(first, last)
		if err != nil && trusted && w.size > 0 && s.intake.applied.Load() >= w.cur.last {
			// Out of space, perhaps for want of what bbolt already has:
			// give the applied segment back and try once more.
			if w.rotate(first) == nil {
				w.removeApplied(s.intake.applied.Load(), s.log)
				trusted, err = w.writeSync(first, last)
			}
		}
		if err != nil {
			err = fmt.Errorf("store: intake log write: %w", err)
			if !trusted {
				s.setBroken(err)
			}
			w.next = first // nothing of this group was acknowledged
			for _, r := range batch {
				r.done <- err
			}
			continue
		}
		s.intake.durable.Store(last)
		s.writes <- writeReq{apply: entries}
		for _, r := range batch {
			r.done <- nil
		}
		w.removeApplied(s.intake.applied.Load(), s.log)
	}
	if w.f != nil {
		w.f.Close()
	}
}

// appliedUpTo runs in the committer after the transaction that applied log
// entries up to last.
func (s *Store) appliedUpTo(last uint64) {
	s.intake.mu.Lock()
	s.intake.applied.Store(last)
	s.intake.cond.Broadcast()
	s.intake.mu.Unlock()
}

// awaitIntake waits until every Enqueue that has returned is committed in
// bbolt, so a read after a 202 sees the message (a few ms at most). While
// bbolt cannot commit (full disk) it gives up after awaitIntakeMax and the
// read may miss the newest messages.
func (s *Store) awaitIntake() {
	if s.intake == nil {
		return
	}
	target := s.intake.durable.Load()
	if s.intake.applied.Load() >= target {
		return
	}
	timeout := time.AfterFunc(awaitIntakeMax, func() {
		s.intake.mu.Lock()
		s.intake.cond.Broadcast()
		s.intake.mu.Unlock()
	})
	defer timeout.Stop()
	deadline := time.Now().Add(awaitIntakeMax)
	s.intake.mu.Lock()
	for s.intake.applied.Load() < target && s.brokenErr() == nil && time.Now().Before(deadline) {
		s.intake.cond.Wait()
	}
	s.intake.mu.Unlock()
}

const awaitIntakeMax = 2 * time.Second

func (s *Store) brokenErr() error {
	if p := s.broken.Load(); p != nil {
		return *p
	}
	return nil
}

func (s *Store) setBroken(err error) {
	err = fmt.Errorf("%w: %w", ErrBroken, err)
	if s.broken.CompareAndSwap(nil, &err) {
		s.log.Error("store stopped taking writes", "err", err)
	}
	if s.intake != nil {
		s.intake.mu.Lock()
		s.intake.cond.Broadcast()
		s.intake.mu.Unlock()
	}
}

// enqueueLogged is Enqueue through the intake log.
func (s *Store) enqueueLogged(vals [][]byte, recs []indexedRecord) (first uint64, err error) {
	r := &walReq{vals: vals, recs: recs, done: make(chan error, 1)}
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return 0, ErrClosed
	}
	if err := s.brokenErr(); err != nil {
		s.mu.RUnlock()
		return 0, err
	}
	s.intake.log.reqs <- r
	s.mu.RUnlock()
	if err := <-r.done; err != nil {
		return 0, err
	}
	return r.first, nil
}
