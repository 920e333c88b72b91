// Package store is the bridge's embedded durable storage on bbolt: the
// per-carrier outbound queue, message records and the carrier message id
// index. Nothing outside this package sees a bbolt type or a slice that
// lives only inside a transaction: every value is copied out.
package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	bolt "go.etcd.io/bbolt"
	bberrors "go.etcd.io/bbolt/errors"
)

// Buckets, created at Open.
var (
	bucketQueue      = []byte("queue")       // seq (8 bytes BE) -> QueueItem JSON; holds the only copy of message text
	bucketRecords    = []byte("records")     // message id + 0 + recipient index (2 bytes BE) -> Record JSON
	bucketCarrierIDs = []byte("carrier_ids") // carrier + 0 + normalised carrier message id -> record key
	// carrier + 0 + normalised id candidate -> pending receipts JSON: receipts
	// that arrived before their id was known (receipts.go).
	bucketPendingReceipts = []byte("receipts_pending")
	// carrier + 0 + arrival (8 bytes BE ns) + normalised id candidate -> "":
	// pending receipts by age (ExpirePendingReceipts)
	bucketPendingAt = []byte("receipts_pending_at")
	// carrier + 0 + SentAt (8 bytes BE ns) + record key -> "": copies sent
	// and waiting for a terminal receipt (receipts.go, ExpireReceipts).
	bucketAwaiting = []byte("awaiting_receipt")
)

// ErrNotFound is returned for missing records.
var ErrNotFound = errors.New("store: not found")

// Options tunes Open. The zero value is durable and safe.
type Options struct {
	// NoSync skips fsync: faster, and anything accepted may be lost on a
	// power failure. For tests and benchmarks only.
	NoSync bool
	// MaxBatch bounds the writes that share one commit; default 4096.
	MaxBatch int
	// Timeout bounds waiting for the file lock held by another process.
	// Default 1s, so a second daemon on the same file fails instead of hanging.
	Timeout time.Duration
	Logger  *slog.Logger
	// NormalizeID is the form under which carrier message ids are indexed
	// and receipts matched (dlrmap.NormalizeID); nil: ids as given. Keep it
	// the same across restarts of one database.
	NormalizeID func(string) string
	// Aggregate combines the parts' receipt outcomes into the copy's
	// (dlrmap.Aggregate; see receipts.go); nil: delivered when every part
	// is, failed with the first failed part.
	Aggregate func(parts []PartOutcome, total int, mode string) (PartOutcome, bool)
	// WAL makes Enqueue durable through the intake log (wal.go) instead of
	// a bbolt commit. Off by default: on a disk where every sync is costly
	// (this VM: ~1.5 ms, serialised) the log's extra sync competes with
	// bbolt's and nothing is gained (BENCHMARKS.md). Segments left by an
	// earlier run are replayed at Open either way.
	WAL bool
	// WALSegmentSize is the size at which the intake log starts a new
	// segment file; default 64 MB.
	WALSegmentSize int64
	// CommitDelay bounds how long the committer gathers more writes before
	// a commit, only while it is busy (a write was already waiting when the
	// previous commit, of at least commitSiblings writes, ended) and fewer
	// writes wait than last time: more writes per commit, fewer fsyncs. A
	// write that finds the committer idle is never delayed. Zero: never.
	CommitDelay time.Duration
}

// Store is an open database.
//
// Writes go through one committer goroutine that puts every write waiting
// at that moment into a single transaction and fsync: group commit with no
// timer, so a lone write is committed at once and a crowd shares one fsync.
// (bbolt's db.Batch waits a fixed delay before each batch; under the HTTP
// load that delay, not the disk, became the limit.)
type Store struct {
	db  *bolt.DB
	log *slog.Logger

	mu          sync.RWMutex // guards closed against writes racing Close
	closed      bool
	writes      chan writeReq
	maxBatch    int
	commitDelay time.Duration
	done        chan struct{}

	commits, written atomic.Int64
	gathers          atomic.Int64 // commits that waited up to commitDelay
	idleWaits        atomic.Int64 // times the committer found no write waiting (tests)
	commitNanos      atomic.Int64
	commitHist       commitHist

	cbOnce sync.Once
	cb     *callbackClaims // outbox claims (outbox.go)

	hooks     atomic.Pointer[ReceiptHooks] // receipts.go
	normalize func(string) string
	aggregate func(parts []PartOutcome, total int, mode string) (PartOutcome, bool)

	intake *intake               // nil without the intake log
	broken atomic.Pointer[error] // set when the intake log could not be applied: no more writes

	// commitFailed is the latest commit's failure (the disk's, not a
	// write's own error); nil once a commit succeeded after it (Health).
	commitFailed atomic.Pointer[commitFailure]

	// retentionFrom is where the next DeleteRecordsBefore continues (nil:
	// from the start), so that kept (queued) records a call examined are
	// not examined again by the next one, which would never get past them.
	retentionMu   sync.Mutex
	retentionFrom []byte
}

// Stats counts commits: Writes/Commits is the mean group-commit size.
type Stats struct {
	Commits    int64
	Writes     int64
	Gathers    int64         // commits that first waited for more writes (Options.CommitDelay)
	CommitTime time.Duration // total, fsync included
	PageWrites int64         // pwrite calls of page runs (bbolt TxStats.Write)
	WriteTime  time.Duration // in page writes and fsync (bbolt TxStats.WriteTime)
	// The commit-time tail, which a write (a 202) waits for up to twice:
	// the commit under way when it arrives, then its own. CommitP99 is
	// within 19 % above the true value (a histogram bucket's bound).
	CommitP99, CommitMax time.Duration
	MaxWritesPerCommit   int64
}

// Stats returns the write counters.
func (s *Store) Stats() Stats {
	ts := s.db.Stats().TxStats
	return Stats{Commits: s.commits.Load(), Writes: s.written.Load(), Gathers: s.gathers.Load(), CommitTime: time.Duration(s.commitNanos.Load()),
		PageWrites: ts.GetWrite(), WriteTime: ts.GetWriteTime(),
		CommitP99: s.commitHist.quantile(0.99), CommitMax: time.Duration(s.commitHist.max.Load()), MaxWritesPerCommit: s.commitHist.maxBatch.Load()}
}

type writeReq struct {
	fn   func(*bolt.Tx) error // must be idempotent: it may run twice
	done chan error
	// apply, instead of fn and done: intake log entries (wal.go), applied
	// at the start of this and every following transaction until one commits.
	apply []walApply
}

// ErrClosed is returned by writes after Close.
var ErrClosed = errors.New("store: closed")

// ErrLocked is returned by Open when another process holds the file's lock
// for longer than Options.Timeout.
var ErrLocked = errors.New("locked by another process")

// ErrDamaged is returned by Open for a file that is not a bbolt database
// or whose meta pages are damaged.
var ErrDamaged = errors.New("not a store file, or a damaged one")

// openError words a failed bolt.Open for an operator: bbolt's lock timeout
// says only "timeout", and its path errors repeat the path.
func openError(path string, err error) error {
	var pe *fs.PathError
	switch {
	case errors.Is(err, bolt.ErrTimeout):
		err = ErrLocked
	case errors.Is(err, bberrors.ErrInvalid), errors.Is(err, bberrors.ErrVersionMismatch), errors.Is(err, bberrors.ErrChecksum):
		return fmt.Errorf("store: open %s: %w (%v)", path, ErrDamaged, err)
	case errors.As(err, &pe) && pe.Path == path && errors.Is(err, fs.ErrNotExist):
		// The file is created when missing: it is the directory.
		return fmt.Errorf("store: open %s: directory %s does not exist: %w", path, filepath.Dir(path), pe.Err)
	case errors.As(err, &pe) && pe.Path == path:
		err = pe.Err
	}
	return fmt.Errorf("store: open %s: %w", path, err)
}

// Open opens or creates the database file.
func Open(path string, opts Options) (*Store, error) {
	if opts.Timeout <= 0 {
		opts.Timeout = time.Second
	}
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = 4096
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	// NoFreelistSync: the freelist is rebuilt at open (a scan of the page
	// headers) instead of written with every commit, where its pages grow
	// with the free pages of a long-lived file (MessageLifecycle, on a
	// young file, measured no gain from writing it).
	// FreelistMapType: allocation without scanning a sorted array.
	// InitialMmapSize is left at bbolt's default: reserving 1 GB up front
	// changed nothing measurable in MessageLifecycle (remaps are rare; the
	// mapping doubles up to 1 GB).
	db, err := bolt.Open(path, 0o600, &bolt.Options{
		Timeout:        opts.Timeout,
		NoSync:         opts.NoSync,
		NoFreelistSync: true,
		FreelistType:   bolt.FreelistMapType,
	})
	if err != nil {
		return nil, openError(path, err)
	}
	reindex := false
	err = db.Update(func(tx *bolt.Tx) error {
		// Records written before they were indexed get their entries below.
		reindex = tx.Bucket(bucketRecIdx) == nil && tx.Bucket(bucketRecords) != nil
		for _, b := range append(append([][]byte{bucketQueue, bucketRecords, bucketCarrierIDs, bucketPendingReceipts, bucketPendingAt, bucketAwaiting, bucketMOParts, bucketMOMessages, bucketMODeadlines, bucketDirectory}, outboxBuckets...), recordBuckets...) {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil && reindex {
		err = indexOldRecords(db, opts.Logger)
	}
	if err == nil {
		err = migrateOutbox(db)
	}
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("store: init %s: %w", path, err)
	}
	// The intake log is replayed even when it is off now: its entries were
	// acknowledged.
	walDir := path + ".wal"
	var wal *intakeLog
	if _, serr := os.Stat(walDir); opts.WAL || serr == nil {
		wal, err = openIntakeLog(db, walDir, opts.NoSync, opts.WALSegmentSize, opts.Logger)
		if err != nil {
			db.Close()
			return nil, err
		}
		if !opts.WAL {
			wal.f.Close()
			wal = nil
			if err := os.RemoveAll(walDir); err != nil {
				db.Close()
				return nil, fmt.Errorf("store: %w", err)
			}
		}
	}
	st := &Store{db: db, log: opts.Logger, writes: make(chan writeReq, opts.MaxBatch), maxBatch: opts.MaxBatch,
		commitDelay: opts.CommitDelay, done: make(chan struct{}),
		normalize: opts.NormalizeID, aggregate: opts.Aggregate}
	if st.normalize == nil {
		st.normalize = func(id string) string { return id }
	}
	if st.aggregate == nil {
		st.aggregate = aggregateAll
	}
	if wal != nil {
		wal.reqs, wal.done = make(chan *walReq, opts.MaxBatch), make(chan struct{})
		st.intake = &intake{log: wal}
		st.intake.cond = sync.NewCond(&st.intake.mu)
		st.intake.durable.Store(wal.next - 1)
		st.intake.applied.Store(wal.next - 1)
		go st.walLoop()
	}
	go st.commitLoop()
	return st, nil
}

// Close waits for pending writes and closes the database.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	if s.intake != nil {
		close(s.intake.log.reqs)
	}
	s.mu.Unlock()
	if s.intake != nil {
		<-s.intake.log.done // its last entries are in s.writes now
	}
	close(s.writes)
	<-s.done
	return s.db.Close()
}

// write runs fn in a durable write transaction shared with concurrent writes.
func (s *Store) write(fn func(*bolt.Tx) error) error {
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return ErrClosed
	}
	if err := s.brokenErr(); err != nil {
		s.mu.RUnlock()
		return err
	}
	r := writeReq{fn: fn, done: doneChans.Get().(chan error)}
	s.writes <- r
	s.mu.RUnlock()
	err := <-r.done
	doneChans.Put(r.done) // the committer answers a write exactly once: it is empty again
	return err
}

// commitFailure is a commit that failed and when.
type commitFailure struct {
	err error
	at  time.Time
}

// healthWindow is how long a failed commit keeps the store unhealthy
// while no commit succeeds. The daemon's own writes (outcomes, receipts)
// retry on their own, so on a disk that stays full one fails again well
// within it even when readiness has turned traffic away.
const healthWindow = 10 * time.Second

// noteCommit records a commit's result for Health: err with every write's
// function done is the commit's own failure (a full or failing disk).
func (s *Store) noteCommit(err error, fnsDone bool) {
	switch {
	case err == nil:
		if s.commitFailed.Load() != nil {
			s.commitFailed.Store(nil)
		}
	case fnsDone:
		s.commitFailed.Store(&commitFailure{err: err, at: time.Now()})
	}
}

// Health is why the store cannot take writes now, or nil: the intake log
// could not be synced (ErrBroken: a restart is needed), or a commit failed
// within the last 10 s and none has succeeded since (a full or failing
// disk). For readiness probes: it never writes.
func (s *Store) Health() error {
	if err := s.brokenErr(); err != nil {
		return err
	}
	if f := s.commitFailed.Load(); f != nil && time.Since(f.at) < healthWindow {
		return fmt.Errorf("store: the latest commit failed %s ago: %w", time.Since(f.at).Round(time.Millisecond), f.err)
	}
	return nil
}

// doneChans are writeReq.done channels (buffered, 1) for reuse: a write is
// made for nearly every request and message event.
var doneChans = sync.Pool{New: func() any { return make(chan error, 1) }}

// commitSiblings is the number of writes the previous commit must have
// carried for the committer to gather (Options.CommitDelay): below it the
// store is not busy enough for a wait to pay.
const commitSiblings = 4

func (s *Store) commitLoop() {
	defer close(s.done)
	batch := make([]writeReq, 0, s.maxBatch)
	// Intake log entries not yet committed, in log order. Every transaction
	// applies them first, so nothing written about a message can commit
	// before the message itself. They stay here while commits fail (a full
	// disk): writes then fail with them, and the log keeps the entries.
	var unapplied []walApply
	applyUnapplied := func(tx *bolt.Tx) error {
		if len(unapplied) == 0 {
			return nil
		}
		return applyLogTx(tx, unapplied)
	}
	committed := func() {
		if len(unapplied) > 0 {
			s.appliedUpTo(unapplied[len(unapplied)-1].seq)
			unapplied = nil
		}
	}
	// gatherTimer bounds the wait for more writes (Options.CommitDelay);
	// reused across commits.
	var gatherTimer *time.Timer
	open := true
	prev := 0 // writes in the previous commit
	for open {
		// backToBack: a write was already waiting when the last commit
		// ended. Only then is the committer busy; a write that finds it
		// idle is committed at once.
		var r writeReq
		ok, backToBack := true, true
		select {
		case r, ok = <-s.writes:
		default:
			backToBack = false
			s.idleWaits.Add(1)
			r, ok = <-s.writes
		}
		if !ok {
			break
		}
		batch = append(batch[:0], r)
	drain:
		for len(batch) < s.maxBatch {
			select {
			case r, ok := <-s.writes:
				if !ok {
					open = false
					break drain
				}
				batch = append(batch, r)
			default:
				break drain
			}
		}
		// Busy (back to back after a commit of several writes), and fewer
		// waiting than last time: the writers the last commit released are
		// likely on their way back, so let them share this commit's two
		// fsyncs. A write that finds the committer idle never waits.
		if open && backToBack && s.commitDelay > 0 && prev >= commitSiblings && len(batch) < prev {
			if gatherTimer == nil {
				gatherTimer = time.NewTimer(s.commitDelay)
			} else {
				gatherTimer.Reset(s.commitDelay)
			}
		gather:
			for len(batch) < s.maxBatch {
				select {
				case r, ok := <-s.writes:
					if !ok {
						open = false
						break gather
					}
					batch = append(batch, r)
				case <-gatherTimer.C:
					break gather
				}
			}
			gatherTimer.Stop()
			s.gathers.Add(1)
		}
		prev = len(batch)
		// Log entries first: a write queued before them in the channel is
		// about other messages, so committing it after them changes nothing.
		regular := batch[:0]
		for _, r := range batch {
			if r.apply != nil {
				unapplied = append(unapplied, r.apply...)
			} else {
				regular = append(regular, r)
			}
		}
		if err := s.brokenErr(); err != nil {
			for _, r := range regular {
				r.done <- err
			}
			continue
		}
		t0 := time.Now()
		fnsDone := false
		err := s.update(func(tx *bolt.Tx) error {
			if err := applyUnapplied(tx); err != nil {
				return err
			}
			for _, r := range regular {
				if err := r.fn(tx); err != nil {
					return err
				}
			}
			fnsDone = true
			return nil
		})
		s.noteCommit(err, fnsDone)
		took := time.Since(t0)
		s.commitNanos.Add(int64(took))
		s.commitHist.add(took, len(batch))
		s.commits.Add(1)
		s.written.Add(int64(len(batch)))
		if err == nil {
			committed()
			for _, r := range regular {
				r.done <- nil
			}
			if len(regular) >= commitSiblings {
				// Let the writers just released run on this P before the
				// next commit's work: otherwise they wait in its run queue
				// behind the committer (half of all scheduling delay in a
				// trace of smppload) or move to the other P. Measured:
				// ~5 % less CPU per message, throughput unchanged
				// (BENCHMARKS.md, "Session 5").
				runtime.Gosched()
			}
			continue
		}
		if len(unapplied) > 0 && len(regular) > 0 {
			if aerr := s.update(applyUnapplied); aerr != nil {
				s.log.Error("cannot apply accepted messages to the database; they stay in the intake log", "err", aerr)
				for _, r := range regular {
					r.done <- aerr
				}
				continue
			}
			committed()
		} else if len(regular) <= 1 {
			if len(unapplied) > 0 {
				s.log.Error("cannot apply accepted messages to the database; they stay in the intake log", "err", err)
			}
			for _, r := range regular {
				r.done <- err
			}
			continue
		}
		// One failing write must not fail the others: commit them one by one.
		for _, r := range regular {
			fnDone := false
			err := s.update(func(tx *bolt.Tx) error {
				err := r.fn(tx)
				fnDone = err == nil
				return err
			})
			s.noteCommit(err, fnDone)
			r.done <- err
		}
	}
	if len(unapplied) > 0 {
		s.log.Error("accepted messages left in the intake log at close; they are applied at the next start", "entries", len(unapplied))
	}
}

// appendFill is the FillPercent of buckets whose keys arrive in ascending
// order (a sequence, or a time first): bbolt splits a full leaf at
// FillPercent, so with its default (0.5) an append-ordered bucket is left
// with half-full leaves, twice the pages, and every commit that deletes or
// updates recent entries (the queue's head, records just sent, jobs just
// delivered) dirties twice as many of them. Not 1.0: records grow when
// updated, and a full leaf would split again at once.
const appendFill = 0.9

// mixedFill is for buckets whose keys mostly ascend but partly land at
// random places: rec_idx (its destination entries, in real traffic) and
// carrier_ids (ids are sequential at most carriers, UUIDs at some). A high
// fill is bad for random inserts, which leave many small remainder pages
// (measured, random keys 50 per commit: 38 % of leaf space used at 0.9,
// 63 % at 0.7, 69 % at 0.5; page writes per commit +23 % at 0.9, +3 % at
// 0.7); 0.7 keeps most of the gain on the ascending keys (MessageLifecycle
// page writes per message vs 0.5: −12 % with ascending destinations and
// carrier ids, −2 % with random ones; 0.9 here made random ones +3 %).
const mixedFill = 0.7

// fills are the buckets written with a FillPercent other than bbolt's.
var fills = []struct {
	bucket []byte
	fill   float64
}{
	{bucketQueue, appendFill}, {bucketRecords, appendFill}, {bucketAwaiting, appendFill},
	{bucketCBJobs, appendFill}, {bucketCBNew, appendFill},
	{bucketRecIdx, mixedFill}, {bucketCarrierIDs, mixedFill},
}

// update is db.Update with the buckets' fills set (FillPercent is a
// property of the transaction's bucket handles, not stored) and one
// outbox writer for the whole transaction (withGroupWriter).
func (s *Store) update(fn func(*bolt.Tx) error) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		for _, f := range fills {
			if b := tx.Bucket(f.bucket); b != nil {
				b.FillPercent = f.fill
			}
		}
		return withGroupWriter(tx, fn)
	})
}

// pointCursor reads and deletes single keys of one bucket through one
// cursor: bbolt's Bucket.Get and Delete allocate a new cursor and grow its
// stack on every call, which the committer paid several times per message.
// Seek repositions it, so writes to the bucket in between are fine.
type pointCursor struct{ c *bolt.Cursor }

func newPointCursor(b *bolt.Bucket) pointCursor { return pointCursor{b.Cursor()} }

// get is Bucket.Get.
func (p pointCursor) get(key []byte) []byte {
	if k, v := p.c.Seek(key); k != nil && bytes.Equal(k, key) {
		return v
	}
	return nil
}

// delete is Bucket.Delete: a missing key is not an error.
func (p pointCursor) delete(key []byte) error {
	if k, _ := p.c.Seek(key); k != nil && bytes.Equal(k, key) {
		return p.c.Delete()
	}
	return nil
}

// QueueItem is one message copy for one recipient waiting to be sent.
type QueueItem struct {
	Seq           uint64    `json:"-"` // assigned by Enqueue; FIFO order
	Carrier       string    `json:"carrier"`
	High          bool      `json:"high,omitempty"`
	MessageID     string    `json:"id"`
	Recipient     int       `json:"rcpt"`
	AccountID     string    `json:"acct"`
	ApplicationID string    `json:"app"`
	From          string    `json:"from"`
	To            []string  `json:"to"` // every recipient; To[Recipient] is this copy's
	Text          string    `json:"text"`
	Media         []string  `json:"media,omitempty"`
	Tag           string    `json:"tag,omitempty"`
	HasTag        bool      `json:"has_tag,omitempty"`
	Segments      int       `json:"segs"`
	ReceivedAt    time.Time `json:"at"`
	Expiration    time.Time `json:"exp,omitzero"`
	FailCode      int       `json:"fail,omitempty"` // known to fail (e.g. 4420 no route): recorded, never sent
	RequestID     string    `json:"req,omitempty"`
	// Product and CampaignID are the from number's class and A2P campaign
	// at acceptance, for the record.
	Product    string `json:"product,omitempty"`
	CampaignID string `json:"campaign,omitempty"`
}

// Dest is the recipient of this copy.
func (q *QueueItem) Dest() string { return q.To[q.Recipient] }

func seqKey(seq uint64) []byte {
	var k [8]byte
	binary.BigEndian.PutUint64(k[:], seq)
	return k[:]
}

// Enqueue stores items durably (fsync'd unless NoSync) and assigns their
// Seq. Each item's record (status QUEUED, see NewRecord) and its index
// entries are written in the same commit, so a search finds a message from
// the moment it is accepted. Concurrent calls share one commit. Nothing is
// stored on error.
func (s *Store) Enqueue(items []QueueItem) error {
	if len(items) == 0 {
		return nil
	}
	// This runs for every request accepted: one allocation holds every
	// item's value, queue key, record and seq, and one per item the bytes
	// of its value, record and index entries.
	es := make([]enqueued, len(items))
	for i := range items {
		rec := newRecord(&items[i], false) // encoded at once: AllTo may share items' To
		rec.Status = StatusQueued
		buf := make([]byte, 0, queueItemSize(&items[i])+preparedSize(&rec, true))
		buf = appendQueueItem(buf, &items[i])
		es[i].val = buf[:len(buf):len(buf)]
		es[i].rec = prepareRecordIn(buf, &rec, true)
	}
	if s.intake != nil {
		vals, recs := make([][]byte, len(es)), make([]indexedRecord, len(es))
		for i := range es {
			vals[i], recs[i] = es[i].val, es[i].rec
		}
		first, err := s.enqueueLogged(vals, recs)
		if err != nil {
			return fmt.Errorf("store: enqueue: %w", err)
		}
		for i := range items {
			items[i].Seq = first + uint64(i)
		}
		return nil
	}
	err := s.write(func(tx *bolt.Tx) error {
		// Idempotent: it may run again alone; it then assigns fresh seqs.
		b := tx.Bucket(bucketQueue)
		for i := range es {
			e := &es[i]
			seq, err := b.NextSequence()
			if err != nil {
				return err
			}
			e.seq = seq
			binary.BigEndian.PutUint64(e.key[:], seq)
			if err := b.Put(e.key[:], e.val); err != nil {
				return err
			}
			if err := e.rec.putTx(tx); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: enqueue: %w", err)
	}
	for i := range items {
		items[i].Seq = es[i].seq
	}
	return nil
}

// enqueued is one item of an Enqueue call, prepared for the transaction.
type enqueued struct {
	val []byte  // the queue item's value
	key [8]byte // its queue key (seqKey), once assigned
	seq uint64
	rec indexedRecord
}

// NewRecord is the record of a queue item before any outcome: every field
// the item determines, no status.
func NewRecord(it *QueueItem) Record { return newRecord(it, true) }

// newRecord is NewRecord; without copyTo the record's AllTo is it.To
// itself, for a record encoded before it could change.
func newRecord(it *QueueItem, copyTo bool) Record {
	allTo := it.To
	if copyTo {
		allTo = append([]string(nil), it.To...)
	}
	r := Record{
		MessageID: it.MessageID, Recipient: it.Recipient, AccountID: it.AccountID, ApplicationID: it.ApplicationID,
		Direction: "out", From: it.From, To: it.Dest(), Carrier: it.Carrier, Segments: it.Segments,
		ReceivedAt: it.ReceivedAt, Tag: it.Tag, HasTag: it.HasTag, Length: utf8.RuneCountInString(it.Text),
		AllTo: allTo, Type: "sms", Media: len(it.Media), Size: len(it.Text),
		RequestID: it.RequestID, Product: it.Product, CampaignID: it.CampaignID,
	}
	if len(it.Media) > 0 {
		r.Type = "mms"
		r.MediaURLs = it.Media
		if copyTo {
			r.MediaURLs = append([]string(nil), it.Media...)
		}
	}
	return r
}

// LoadQueue calls fn for every queued item in FIFO order (at start-up).
func (s *Store) LoadQueue(fn func(QueueItem) error) error {
	s.awaitIntake()
	return s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketQueue).ForEach(func(k, v []byte) error {
			var it QueueItem
			if err := decodeQueueItem(v, &it); err != nil { // nothing borrows from v
				return fmt.Errorf("store: queue item %x: %w", k, err)
			}
			it.Seq = binary.BigEndian.Uint64(k)
			if it.Recipient < 0 || it.Recipient >= len(it.To) {
				return fmt.Errorf("store: queue item %x: recipient %d of %d", k, it.Recipient, len(it.To))
			}
			return fn(it)
		})
	})
}

// QueueLen counts queued items.
func (s *Store) QueueLen() (int, error) {
	s.awaitIntake()
	n := 0
	err := s.db.View(func(tx *bolt.Tx) error {
		n = tx.Bucket(bucketQueue).Stats().KeyN
		return nil
	})
	return n, err
}

// Record is what is kept about one message copy after it left the queue:
// metadata only, never the text.
type Record struct {
	MessageID     string    `json:"id"`
	Recipient     int       `json:"rcpt"`
	AccountID     string    `json:"acct"`
	ApplicationID string    `json:"app"`
	Direction     string    `json:"dir"` // "out" or "in"
	From          string    `json:"from"`
	To            string    `json:"to"`
	Carrier       string    `json:"carrier,omitempty"`
	Segments      int       `json:"segs"`
	Status        string    `json:"status"` // SENT, FAILED, DELIVERED, …
	ErrorCode     int       `json:"err,omitempty"`
	CarrierIDs    []string  `json:"cids,omitempty"`    // one per part, "" for parts without an id
	Unknown       int       `json:"unknown,omitempty"` // parts whose submit outcome is unknown
	ReceivedAt    time.Time `json:"at"`
	SentAt        time.Time `json:"sent,omitzero"`
	DoneAt        time.Time `json:"done,omitzero"`
	Tag           string    `json:"tag,omitempty"`
	HasTag        bool      `json:"has_tag,omitempty"`
	Length        int       `json:"len,omitempty"` // characters of text
	RequestID     string    `json:"req,omitempty"` // the API request that sent it, for logs
	// AllTo is the message's full recipient list (To is this copy's);
	// absent in records written before receipts were handled.
	AllTo []string `json:"all_to,omitempty"`
	// Parts is each part's receipt outcome so far (index as CarrierIDs);
	// nil until the first receipt.
	Parts []PartOutcome `json:"parts,omitempty"`
	// Type is "sms", or "mms" when the request carried media.
	Type  string `json:"type,omitempty"`
	Media int    `json:"media,omitempty"` // attachment count
	// MediaURLs are the request's media URLs, as sent: status callbacks
	// carry them (v2-api.md §2.4). Absent in records written before.
	MediaURLs []string `json:"media_urls,omitempty"`
	Size      int      `json:"size,omitempty"` // bytes of text (UTF-8)
	// Product is the sending number's class (LOCAL_A2P, P2P, TOLL_FREE,
	// SHORT_CODE_REACH, ALPHA_NUMERIC…) and CampaignID its A2P campaign,
	// when the number management knows them; empty otherwise.
	Product    string `json:"product,omitempty"`
	CampaignID string `json:"campaign,omitempty"`
}

// PartOutcome is what the receipts said about one part of a message copy.
type PartOutcome struct {
	Outcome int `json:"o"`           // OutcomePending, OutcomeDelivered or OutcomeFailed (dlrmap.Outcome's values)
	Code    int `json:"c,omitempty"` // V2 error code when failed
}

// Receipt outcomes, the values of dlrmap.Outcome.
const (
	OutcomePending   = 0
	OutcomeDelivered = 1
	OutcomeFailed    = 2
)

func recordKey(messageID string, recipient int) []byte {
	return appendRecordKey(make([]byte, 0, len(messageID)+3), messageID, recipient)
}

func appendRecordKey(k []byte, messageID string, recipient int) []byte {
	k = append(k, messageID...)
	k = append(k, 0)
	return binary.BigEndian.AppendUint16(k, uint16(recipient))
}

func carrierIDKey(carrier, id string) []byte {
	return appendCarrierIDKey(make([]byte, 0, len(carrier)+1+len(id)), carrier, id)
}

func appendCarrierIDKey(k []byte, carrier, id string) []byte {
	k = append(k, carrier...)
	k = append(k, 0)
	return append(k, id...)
}

// lookupKeyCap is the size of the stack buffers that keys for look-ups
// (Get, Seek: bbolt keeps no reference) are built in on the hot paths;
// a longer key moves to the heap by itself.
const lookupKeyCap = 128

// Completion removes a queue item (and with it the text) and writes its
// record, in one durable step.
type Completion struct {
	Seq    uint64
	Record Record
	// Receipts that came for this copy's ids while its outcome was on its
	// way to the store: applied in the same commit as ApplyReceipt right
	// after it would be — those whose id as sent is one of this record's
	// folded into it before it is written, the others after every outcome
	// of the call (receipts.go). Complete sets ReceiptResults, one per receipt.
	Receipts       []Receipt
	ReceiptResults []ReceiptResult
	// NoReceipt: the copy asked for no receipt (registered_delivery 0), so
	// it waits for none: SENT stays its last status and no receipt wait
	// (awaiting_receipt) is recorded that an expiry could end with 9902.
	NoReceipt bool
}

// Complete applies completions durably; concurrent calls share one commit.
func (s *Store) Complete(cs []Completion) error {
	type prepared struct {
		seq       []byte
		rec       indexedRecord
		queuedKey []byte // the status entry Enqueue wrote (indexedRecord.updateTx)
		key       []byte
		cids      [][]byte
		await     []byte        // awaiting_receipt key; nil when the copy is not waiting
		jobs      []CallbackJob // callbacks of a copy that ends here (failed at submit, or by a receipt folded in)
		folded    Record        // the record with its receipts folded in (foldReceipts)
	}
	hooks := s.hooks.Load()
	rcpts, rcptResults := prepareAttachedReceipts(cs)
	ps := make([]prepared, len(cs))
	nIDs := 0
	for i := range cs {
		nIDs += len(cs[i].Record.CarrierIDs)
	}
	// Every completion's carrier id keys, cut from one slice.
	allCIDs := make([][]byte, 0, nIDs)
	for i, j := 0, 0; i < len(cs); i++ {
		r, terminalAt := &cs[i].Record, -1
		if n := len(cs[i].Receipts); n > 0 {
			// Receipts for its own ids go into the record before it is
			// written (receipts.go).
			r = &ps[i].folded
			terminalAt = s.foldReceipts(&cs[i], r, rcpts[j:j+n], rcptResults[j:j+n])
			if terminalAt >= 0 {
				terminalAt += j
			}
			j += n
		}
		ir := prepareUpdate(r)
		// The queue key, the QUEUED status entry, the awaiting_receipt
		// entry and the carrier ids' keys share one allocation.
		n := 8 + 1 + len(r.AccountID) + 1 + 1 + 4 + 8 + len(ir.key)
		awaits := r.Status == "SENT" && !cs[i].NoReceipt
		if awaits {
			n += len(r.Carrier) + 1 + 8 + len(ir.key)
		}
		for _, id := range r.CarrierIDs {
			n += len(r.Carrier) + 1 + len(id) + 8 // normalize may lengthen an id a little; append copes
		}
		keys := make([]byte, 0, n)
		keys = binary.BigEndian.AppendUint64(keys, cs[i].Seq)
		seq := keys[0:8:8]
		keys = append(keys, idxStatus)
		keys = append(keys, r.AccountID...)
		keys = append(keys, 0, statusCode(StatusQueued), 0, 0, 0, 0)
		keys = appendTimeSuffix(keys, r.ReceivedAt, ir.key)
		p := &ps[i]
		p.seq, p.rec, p.key, p.queuedKey = seq, ir, ir.key, keys[8:len(keys):len(keys)]
		if awaits {
			at := len(keys)
			keys = appendAwaitKey(keys, r.Carrier, r.SentAt, p.key)
			p.await = keys[at:len(keys):len(keys)]
		}
		if (r.Status == "FAILED" || terminalAt >= 0) && hooks != nil && hooks.Callbacks != nil {
			// Failed at submit time (no route, expired, refused by the
			// carrier), or ended by a receipt folded in: its callback
			// goes out in the same commit.
			p.jobs = hooks.Callbacks(r)
			if terminalAt >= 0 {
				rcptResults[terminalAt].Callbacks = len(p.jobs)
			}
		}
		from := len(allCIDs)
		for _, id := range r.CarrierIDs {
			if id = s.normalize(id); id != "" {
				at := len(keys)
				keys = append(keys, r.Carrier...)
				keys = append(keys, 0)
				keys = append(keys, id...)
				allCIDs = append(allCIDs, keys[at:len(keys):len(keys)])
			}
		}
		p.cids = allCIDs[from:len(allCIDs):len(allCIDs)]
	}
	var added int
	err := s.write(func(tx *bolt.Tx) error {
		added = 0 // it may run twice
		recs, ids, pend, awaiting := tx.Bucket(bucketRecords), tx.Bucket(bucketCarrierIDs), tx.Bucket(bucketPendingReceipts), tx.Bucket(bucketAwaiting)
		q, recCur, idxCur := newPointCursor(tx.Bucket(bucketQueue)), newPointCursor(recs), newPointCursor(tx.Bucket(bucketRecIdx))
		// Receipts are rarely pending: an empty bucket spares every
		// completion its look-up.
		pendCur := newPointCursor(pend)
		anyPending := false
		if k, _ := pendCur.c.First(); k != nil {
			anyPending = true
		}
		for _, p := range ps {
			if err := q.delete(p.seq); err != nil {
				return err
			}
			if err := p.rec.updateTx(tx, recs, recCur, idxCur, p.queuedKey); err != nil {
				return err
			}
			for _, c := range p.cids {
				if err := ids.Put(c, p.key); err != nil {
					return err
				}
			}
			if p.await != nil {
				if err := awaiting.Put(p.await, []byte{}); err != nil {
					return err
				}
			}
			if len(p.jobs) > 0 {
				if err := addCallbacksTx(tx, p.jobs); err != nil {
					return err
				}
				added += len(p.jobs)
			}
			// Receipts that came before this submit's id was known.
			for _, c := range p.cids {
				if !anyPending || pendCur.get(c) == nil {
					continue
				}
				n, err := s.applyPendingTx(tx, c, p.key, hooks)
				if err != nil {
					return err
				}
				added += n
			}
		}
		n, err := s.applyAttachedTx(tx, rcpts, rcptResults, hooks)
		added += n
		return err
	})
	if err != nil {
		return fmt.Errorf("store: complete: %w", err)
	}
	setAttachedResults(cs, rcptResults)
	if added > 0 && hooks != nil && hooks.Added != nil {
		hooks.Added()
	}
	return nil
}

// Record returns the record of one message copy.
func (s *Store) Record(messageID string, recipient int) (Record, error) {
	s.awaitIntake()
	var r Record
	err := s.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketRecords).Get(recordKey(messageID, recipient))
		if v == nil {
			return ErrNotFound
		}
		return decodeRecord(v, &r)
	})
	return r, err
}

// RecordByCarrierID finds a record by the id a carrier gave one of its parts.
func (s *Store) RecordByCarrierID(carrier, id string) (Record, error) {
	s.awaitIntake()
	var r Record
	err := s.db.View(func(tx *bolt.Tx) error {
		k := tx.Bucket(bucketCarrierIDs).Get(carrierIDKey(carrier, s.normalize(id)))
		if k == nil {
			return ErrNotFound
		}
		v := tx.Bucket(bucketRecords).Get(k)
		if v == nil {
			return ErrNotFound
		}
		return decodeRecord(v, &r)
	})
	return r, err
}

// TextStored reports whether any queued item still holds text for the
// message: tests use it to show text is gone once sent.
func (s *Store) TextStored(messageID string) (bool, error) {
	s.awaitIntake()
	found := false
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketQueue).ForEach(func(_, v []byte) error {
			var it QueueItem
			if err := decodeQueueItem(v, &it); err != nil {
				return err
			}
			if it.MessageID == messageID && it.Text != "" {
				found = true
			}
			return nil
		})
	})
	return found, err
}
