package store

// The callback outbox: every webhook the bridge owes a customer is a durable
// job here before anything depends on it, and stays until a receiver
// answered 2xx (CallbackDone) or it was given up (CallbackDead).
//
// Layout (buckets created at Open). An endpoint is one (application, URL)
// pair, numbered in cb_endpoints; ep below is that number (4 bytes BE).
//
//	cb_jobs       id (8 bytes BE)                  -> job record (encodeJob) of a job waiting to retry
//	cb_new        ep + id                          -> job record of a never-tried job
//	cb_retry      ep + next_at (8 bytes BE ns) + id -> "" (waiting to retry)
//	cb_dead       id                               -> job record; NextAt = when it was given up
//	cb_endpoints  uvarint len(app), app, url       -> ep
//	cb_epnames    ep                               -> uvarint len(app), app, url
//	cb_active     ep                               -> new count (8), retry count (8), earliest
//	                                                  next_at (8); only while a count is > 0
//	cb_meta       "new" | "retry" | "dead" | "dead_total" -> count (8 bytes BE);
//	              "layout" -> 2 (absent: layout 1, migrated at Open)
//
// A never-tried job is one entry: its record in cb_new (a put when it is
// created and a delete when it is done, the common case). Once an attempt
// failed, its record is in cb_jobs and its index entry in cb_retry. (Layout
// 1 kept every record in cb_jobs and an empty cb_new entry beside it: two
// puts and two deletes per callback.) Finding a never-tried job by id needs
// its endpoint: the claims know it for jobs handed out; otherwise each
// endpoint with never-tried jobs is tried (rare: unknown or duplicate ids).
// Within an endpoint's key range the order is the one the design asks for:
// ids come from one sequence (cb_jobs' bucket sequence), so cb_new is FIFO;
// cb_retry is due order, so an endpoint's next due retry is one Seek away. NextCallbacks merges the
// heads of the active endpoints (a heap: by id for never-tried jobs, by
// next_at for retries), which keeps the global order, and passes over a
// saturated endpoint by dropping its head from the heap: its backlog is
// never walked. (A single global index would make every dispatch walk the
// whole backlog of any endpoint at its concurrency limit.) cb_active keeps
// each endpoint's earliest next_at, so endpoints with nothing due cost a
// read of cb_active and no Seek. Cost of a call: one pass over cb_active
// (E endpoints with jobs), O(log n) per endpoint with something due, then
// O(log E) per job taken or claimed job passed.
// Counters live in the same transactions as the data, so CallbackStats is
// O(1) and never drifts. Endpoint numbers are never reused or removed.
//
// Claims (jobs handed out by NextCallbacks and not yet finished) are held
// in memory only: after a crash or restart every unfinished job is simply
// still there and due. Delivery is therefore at least once.

import (
	"bytes"
	"container/heap"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
)

var (
	bucketCBJobs      = []byte("cb_jobs")
	bucketCBNew       = []byte("cb_new")
	bucketCBRetry     = []byte("cb_retry")
	bucketCBDead      = []byte("cb_dead")
	bucketCBEndpoints = []byte("cb_endpoints")
	bucketCBEpNames   = []byte("cb_epnames")
	bucketCBActive    = []byte("cb_active")
	bucketCBMeta      = []byte("cb_meta")

	outboxBuckets = [][]byte{bucketCBJobs, bucketCBNew, bucketCBRetry, bucketCBDead,
		bucketCBEndpoints, bucketCBEpNames, bucketCBActive, bucketCBMeta}

	metaNew       = []byte("new")
	metaRetry     = []byte("retry")
	metaDead      = []byte("dead")
	metaDeadTotal = []byte("dead_total")
	metaLayout    = []byte("layout")
)

const outboxLayout = 2

// CallbackJob is one webhook request body owed to an application's
// endpoint. The store treats Kind and Body as opaque; credentials are not
// stored (the sender looks them up by ApplicationID when it sends).
type CallbackJob struct {
	ID            uint64 // assigned by AddCallbacks; FIFO order
	ApplicationID string
	Kind          string // "status" (CallbackURL) or "inbound" (InboundCallbackURL)
	URL           string // endpoint captured when the job was created
	Body          []byte // a JSON array of events, sent as is
	Created       time.Time
	Attempts      int       // failed attempts so far
	NextAt        time.Time // zero while never tried; for dead jobs, when they were given up
	LastError     string    // of the last failed attempt
	RequestID     string    // the API request that caused it, for logs; "" for inbound messages
	// AcceptsRecord is the message id of the inbound message this job
	// reports: when the job is delivered (CallbackDone), the message's
	// record goes from RECEIVED to ACCEPTED in the same commit. "" for none.
	AcceptsRecord string
}

// CallbackFailure is the outcome of a failed attempt of one job.
type CallbackFailure struct {
	ID uint64
	// At is when to try again (CallbackFailed) or when the job was given up
	// (CallbackDead).
	At    time.Time
	Error string
}

// CallbackCounts are the outbox's durable counters.
type CallbackCounts struct {
	New       int // never tried
	Retry     int // failed at least once, waiting for their next attempt
	Dead      int // in the dead-letter bucket now
	DeadTotal int // ever dead-lettered (not lowered by DeleteDeadCallbacks)
}

// Pending is every live job.
func (c CallbackCounts) Pending() int { return c.New + c.Retry }

// Pick is NextCallbacks' decision about one candidate job.
type Pick int

const (
	// PickTake returns the job.
	PickTake Pick = iota
	// PickSkip passes over the job, and over every later job of the same
	// application and URL for the rest of this call, without asking again
	// and without reading them: the way past a saturated endpoint.
	PickSkip
	// PickStop ends the scan; NextCallbacks returns what it took so far.
	PickStop
)

// ErrBadCallback is returned for jobs without URL or body.
var ErrBadCallback = errors.New("store: callback job needs a URL and a body")

// callbackClaims is the in-memory set of jobs handed out by NextCallbacks.
// mu also serialises scans with claim releases: a release happens after
// its write committed, so no scan can run on a snapshot older than that
// write and still see the job as unclaimed.
//
// newFloor lets a scan of cb_new start past an endpoint's claimed jobs
// instead of stepping over each of them (with a backlog, up to
// ConcurrencyPerEndpoint × MaxBatch map look-ups per endpoint and read):
// every entry of the endpoint in cb_new with an id at or below its floor
// is claimed. Never-tried jobs are claimed in id order and new ones get
// higher ids, so only a claim given back while its entry stays in cb_new
// (ReleaseCallbacks, or a finishing write that failed) lowers it.
type callbackClaims struct {
	mu       sync.Mutex
	claimed  map[uint64]claim
	newFloor map[uint32]uint64 // endpoint -> floor id (absent: 0)
	epNames  map[uint32][2]string
}

// claim is where a claimed job was indexed when it was handed out.
type claim struct {
	ep      uint32
	fromNew bool
}

func (s *Store) claims() *callbackClaims {
	s.cbOnce.Do(func() {
		s.cb = &callbackClaims{claimed: map[uint64]claim{}, newFloor: map[uint32]uint64{}, epNames: map[uint32][2]string{}}
	})
	return s.cb
}

// endpoints returns the endpoint of each claimed id (0 for one not
// claimed): where finishing writes find never-tried jobs.
func (c *callbackClaims) endpoints(ids []uint64) []uint32 {
	eps := make([]uint32, len(ids))
	c.mu.Lock()
	for i, id := range ids {
		eps[i] = c.claimed[id].ep
	}
	c.mu.Unlock()
	return eps
}

func (c *callbackClaims) failureEndpoints(fs []CallbackFailure) []uint32 {
	eps := make([]uint32, len(fs))
	c.mu.Lock()
	for i, f := range fs {
		eps[i] = c.claimed[f.ID].ep
	}
	c.mu.Unlock()
	return eps
}

// release ends the claims of ids; indexed reports that the jobs may still
// be in the index they were handed out from (a finishing write failed, or
// they were given back untouched).
func (c *callbackClaims) release(ids []uint64, indexed bool) {
	c.mu.Lock()
	for _, id := range ids {
		cl, ok := c.claimed[id]
		if !ok {
			continue
		}
		delete(c.claimed, id)
		if indexed && cl.fromNew {
			if f, ok := c.newFloor[cl.ep]; ok && f >= id {
				c.newFloor[cl.ep] = id - 1
			}
		}
	}
	c.mu.Unlock()
}

// --- keys and records ---

func unixNanos(t time.Time) uint64 {
	if t.IsZero() {
		return 0
	}
	n := t.UnixNano()
	if n < 0 {
		return 0
	}
	return uint64(n)
}

func fromNanos(n uint64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, int64(n)).UTC()
}

func epKey(ep uint32) []byte { return binary.BigEndian.AppendUint32(nil, ep) }

// epKeyArray and seqKeyArray are epKey and seqKey by value, for look-ups
// whose key can stay on the stack.
func epKeyArray(ep uint32) (k [4]byte) {
	binary.BigEndian.PutUint32(k[:], ep)
	return k
}

func seqKeyArray(id uint64) (k [8]byte) {
	binary.BigEndian.PutUint64(k[:], id)
	return k
}

func newKey(ep uint32, id uint64) []byte {
	k := make([]byte, newKeyLen)
	putNewKey(k, ep, id)
	return k
}

const newKeyLen = 12 // cb_new keys: endpoint, id

func putNewKey(k []byte, ep uint32, id uint64) {
	binary.BigEndian.PutUint32(k, ep)
	binary.BigEndian.PutUint64(k[4:], id)
}

func retryKey(ep uint32, nextAt, id uint64) []byte {
	k := make([]byte, 20)
	binary.BigEndian.PutUint32(k, ep)
	binary.BigEndian.PutUint64(k[4:], nextAt)
	binary.BigEndian.PutUint64(k[12:], id)
	return k
}

func endpointName(app, url string) []byte {
	return appendEndpointName(make([]byte, 0, binary.MaxVarintLen32+len(app)+len(url)), app, url)
}

func appendEndpointName(v []byte, app, url string) []byte {
	v = binary.AppendUvarint(v, uint64(len(app)))
	v = append(v, app...)
	return append(v, url...)
}

func splitEndpoint(v []byte) (app, url string, err error) {
	n, w := binary.Uvarint(v)
	if w <= 0 || uint64(len(v)-w) < n {
		return "", "", errors.New("store: bad callback endpoint name")
	}
	return string(v[w : w+int(n)]), string(v[w+int(n):]), nil
}

const (
	jobVersion1 = 1 // without the request id; still read
	jobVersion2 = 2 // without AcceptsRecord; still read
	jobVersion  = 3
	jobHeader   = 21 // version, ep (4), next_at (8), created (8)
)

// encodeJob: version, ep, next_at, created, attempts (uvarint), then app,
// kind, url, last error, request id, accepts record (uvarint length + bytes
// each; version 1 has neither of the last two, version 2 no accepts
// record), body (the rest).
// Binary, so the body is stored and sent byte for byte.
func encodeJob(ep uint32, j *CallbackJob) []byte {
	return appendJob(make([]byte, 0, jobSize(j)), ep, j)
}

// jobSize bounds the length of j's record.
func jobSize(j *CallbackJob) int {
	return jobHeader + 7*binary.MaxVarintLen32 + len(j.ApplicationID) + len(j.Kind) + len(j.URL) + len(j.LastError) + len(j.RequestID) +
		len(j.AcceptsRecord) + len(j.Body)
}

func appendJob(v []byte, ep uint32, j *CallbackJob) []byte {
	v = append(v, jobVersion)
	v = binary.BigEndian.AppendUint32(v, ep)
	v = binary.BigEndian.AppendUint64(v, unixNanos(j.NextAt))
	v = binary.BigEndian.AppendUint64(v, unixNanos(j.Created))
	v = binary.AppendUvarint(v, uint64(j.Attempts))
	for _, s := range [...]string{j.ApplicationID, j.Kind, j.URL, j.LastError, j.RequestID, j.AcceptsRecord} {
		v = binary.AppendUvarint(v, uint64(len(s)))
		v = append(v, s...)
	}
	return append(v, j.Body...)
}

func knownJobVersion(v byte) bool { return v == jobVersion || v == jobVersion2 || v == jobVersion1 }

// jobAcceptsRecord reads a job's AcceptsRecord without decoding the rest;
// "" for none or an older version.
func jobAcceptsRecord(v []byte) string {
	if len(v) < jobHeader || v[0] != jobVersion {
		return ""
	}
	_, w := binary.Uvarint(v[jobHeader:]) // attempts
	if w <= 0 {
		return ""
	}
	p := v[jobHeader+w:]
	for i := range 6 {
		n, w := binary.Uvarint(p)
		if w <= 0 || uint64(len(p)-w) < n {
			return ""
		}
		if i == 5 {
			return string(p[w : w+int(n)])
		}
		p = p[w+int(n):]
	}
	return ""
}

// jobIndex reads the endpoint and next_at of a record.
func jobIndex(v []byte) (ep uint32, nextAt uint64, err error) {
	if len(v) < jobHeader || !knownJobVersion(v[0]) {
		return 0, 0, errors.New("bad callback record")
	}
	return binary.BigEndian.Uint32(v[1:5]), binary.BigEndian.Uint64(v[5:13]), nil
}

// decodeJob copies everything out of v (which may be bbolt memory).
func decodeJob(id uint64, v []byte) (CallbackJob, uint32, error) {
	bad := func() (CallbackJob, uint32, error) {
		return CallbackJob{}, 0, fmt.Errorf("store: callback %d: bad record", id)
	}
	if len(v) < jobHeader || !knownJobVersion(v[0]) {
		return bad()
	}
	nStrings := 6
	switch v[0] {
	case jobVersion1:
		nStrings = 4
	case jobVersion2:
		nStrings = 5
	}
	ep := binary.BigEndian.Uint32(v[1:5])
	j := CallbackJob{ID: id, NextAt: fromNanos(binary.BigEndian.Uint64(v[5:13])), Created: fromNanos(binary.BigEndian.Uint64(v[13:21]))}
	p := v[jobHeader:]
	a, w := binary.Uvarint(p)
	if w <= 0 {
		return bad()
	}
	j.Attempts, p = int(a), p[w:]
	// The strings are cut from one copy of their part of the record: one
	// allocation instead of one per string.
	var spans [6][2]int
	off := 0
	for i := range nStrings {
		n, w := binary.Uvarint(p[off:])
		if w <= 0 || uint64(len(p)-off-w) < n {
			return bad()
		}
		spans[i] = [2]int{off + w, off + w + int(n)}
		off += w + int(n)
	}
	all := string(p[:off])
	var ss [6]string
	for i := range nStrings {
		ss[i] = all[spans[i][0]:spans[i][1]]
	}
	j.ApplicationID, j.Kind, j.URL, j.LastError, j.RequestID, j.AcceptsRecord = ss[0], ss[1], ss[2], ss[3], ss[4], ss[5]
	j.Body = append([]byte(nil), p[off:]...)
	return j, ep, nil
}

// --- writes ---

// cbWriter does outbox updates inside one write transaction and keeps the
// counters (global and per endpoint) in step with them.
type cbWriter struct {
	tx *bolt.Tx
	// buckets are the outbox buckets in outboxBuckets' order, each opened
	// on first use: opening one costs a cursor, a bucket and two maps in a
	// write transaction, and most commits touch only a few of the eight.
	buckets [cbMeta + 1]*bolt.Bucket

	d      [4]int64             // new, retry, dead, dead_total
	perEP  map[uint32]*[3]int64 // new, retry, retry index touched (1)
	lookup map[string]uint32
	newCur pointCursor // of new, made on first use
	// shared: the writer of a whole group commit (Store.update); its
	// counters are written once, before the commit, not at each finish.
	shared bool
}

// groupWriters are the outbox writers of the group commits in progress.
// One writer per transaction means the counters in cb_meta and cb_active
// are read and written once per commit instead of once per receipt or
// callback report in it, and an endpoint is looked up once per commit.
// Nearly always a single store is open, so the writer of its transaction
// in progress sits in groupWriter, and groupWriters (a map whose Store
// allocates) holds only those of other stores committing at the same time.
var (
	groupWriter  atomic.Pointer[cbWriter]
	groupWriters sync.Map // *bolt.Tx -> *cbWriter
)

// newCBWriter returns tx's shared writer when it has one, else a writer of
// its own that the caller finishes.
func newCBWriter(tx *bolt.Tx) *cbWriter {
	if w := groupWriter.Load(); w != nil && w.tx == tx {
		return w
	}
	if w, ok := groupWriters.Load(tx); ok {
		return w.(*cbWriter)
	}
	return makeCBWriter(tx)
}

func makeCBWriter(tx *bolt.Tx) *cbWriter { return &cbWriter{tx: tx} }

// Indexes of outboxBuckets.
const (
	cbJobs = iota
	cbNew
	cbRetry
	cbDead
	cbEndpoints
	cbEpNames
	cbActive
	cbMeta
)

func (w *cbWriter) bucket(i int) *bolt.Bucket {
	if w.buckets[i] == nil {
		w.buckets[i] = w.tx.Bucket(outboxBuckets[i])
	}
	return w.buckets[i]
}

func (w *cbWriter) jobs() *bolt.Bucket      { return w.bucket(cbJobs) }
func (w *cbWriter) new() *bolt.Bucket       { return w.bucket(cbNew) }
func (w *cbWriter) retry() *bolt.Bucket     { return w.bucket(cbRetry) }
func (w *cbWriter) dead() *bolt.Bucket      { return w.bucket(cbDead) }
func (w *cbWriter) endpoints() *bolt.Bucket { return w.bucket(cbEndpoints) }
func (w *cbWriter) names() *bolt.Bucket     { return w.bucket(cbEpNames) }
func (w *cbWriter) active() *bolt.Bucket    { return w.bucket(cbActive) }
func (w *cbWriter) meta() *bolt.Bucket      { return w.bucket(cbMeta) }

// withGroupWriter runs fn with one outbox writer shared by everything fn
// does in tx, and writes its counters after fn succeeded.
func withGroupWriter(tx *bolt.Tx, fn func(*bolt.Tx) error) error {
	w := makeCBWriter(tx)
	w.shared = true
	if groupWriter.CompareAndSwap(nil, w) {
		defer groupWriter.Store(nil)
	} else {
		groupWriters.Store(tx, w)
		defer groupWriters.Delete(tx)
	}
	if err := fn(tx); err != nil {
		return err
	}
	return w.flush()
}

// endpoint numbers an (application, URL) pair, registering it when new.
func (w *cbWriter) endpoint(app, url string) (uint32, error) {
	// Looked up for every job added: the name is built on the stack, and
	// copied only for a first look-up in this transaction.
	var scratch [160]byte
	if ep, ok := w.lookup[string(appendEndpointName(scratch[:0], app, url))]; ok {
		return ep, nil
	}
	name := endpointName(app, url)
	var ep uint32
	if v := w.endpoints().Get(name); len(v) == 4 {
		ep = binary.BigEndian.Uint32(v)
	} else {
		seq, err := w.endpoints().NextSequence()
		if err != nil {
			return 0, err
		}
		if seq > 1<<32-1 {
			return 0, errors.New("store: too many callback endpoints")
		}
		ep = uint32(seq)
		if err := w.endpoints().Put(name, epKey(ep)); err != nil {
			return 0, err
		}
		if err := w.names().Put(epKey(ep), name); err != nil {
			return 0, err
		}
	}
	if w.lookup == nil {
		w.lookup = map[string]uint32{}
	}
	w.lookup[string(name)] = ep
	return ep, nil
}

func (w *cbWriter) count(ep uint32, dNew, dRetry int64) {
	c := w.perEP[ep]
	if c == nil {
		if w.perEP == nil {
			w.perEP = map[uint32]*[3]int64{}
		}
		c = new([3]int64)
		w.perEP[ep] = c
	}
	c[0] += dNew
	c[1] += dRetry
	if dRetry != 0 {
		c[2] = 1
	}
	w.d[0] += dNew
	w.d[1] += dRetry
}

// liveJob is where a live job's record is: in cb_new (newKey set) or in
// cb_jobs with its cb_retry entry.
type liveJob struct {
	rec    []byte // borrowed: valid in the transaction only
	ep     uint32
	nextAt uint64
	isNew  bool // in cb_new, under newKey
	newKey [newKeyLen]byte
}

// find locates live job id; hint is its endpoint when known (0: unknown).
// ok is false when there is no such live job.
func (w *cbWriter) find(id uint64, hint uint32) (lj liveJob, ok bool, err error) {
	if w.newCur.c == nil {
		w.newCur = newPointCursor(w.new())
	}
	if hint != 0 {
		var k [newKeyLen]byte // on the stack: a look-up per job reported
		putNewKey(k[:], hint, id)
		if rec := w.newCur.get(k[:]); rec != nil {
			return liveJob{rec: rec, ep: hint, isNew: true, newKey: k}, true, nil
		}
	}
	var jobKey [8]byte
	binary.BigEndian.PutUint64(jobKey[:], id)
	if rec := w.jobs().Get(jobKey[:]); rec != nil {
		ep, at, err := jobIndex(rec)
		if err != nil {
			return lj, false, fmt.Errorf("store: callback %d: %w", id, err)
		}
		return liveJob{rec: rec, ep: ep, nextAt: at}, true, nil
	}
	if hint != 0 {
		return lj, false, nil
	}
	// Never tried and not claimed: ask every endpoint with never-tried jobs
	// (committed ones, and those that got their first in this transaction).
	tried := map[uint32]bool{}
	try := func(ep uint32) []byte {
		if tried[ep] {
			return nil
		}
		tried[ep] = true
		var k [newKeyLen]byte
		putNewKey(k[:], ep, id)
		if rec := w.newCur.get(k[:]); rec != nil {
			lj = liveJob{rec: rec, ep: ep, isNew: true, newKey: k}
			return rec
		}
		return nil
	}
	cur := w.active().Cursor()
	for k, v := cur.First(); k != nil; k, v = cur.Next() {
		if len(k) == 4 && parseActive(0, v).new > 0 && try(binary.BigEndian.Uint32(k)) != nil {
			return lj, true, nil
		}
	}
	for ep, c := range w.perEP {
		if c[0] > 0 && try(ep) != nil {
			return lj, true, nil
		}
	}
	return lj, false, nil
}

// remove deletes a live job's record and index entry and counts it.
func (w *cbWriter) remove(id uint64, lj liveJob) error {
	if lj.isNew {
		w.count(lj.ep, -1, 0)
		return w.newCur.delete(lj.newKey[:])
	}
	w.count(lj.ep, 0, -1)
	if err := w.retry().Delete(retryKey(lj.ep, lj.nextAt, id)); err != nil {
		return err
	}
	return w.jobs().Delete(seqKey(id))
}

// failAttempt takes job f.ID out of the live jobs and counts the failed
// attempt on it; ok is false for an unknown id. The caller decides where
// the job goes next (retry or dead letters).
func (w *cbWriter) failAttempt(f CallbackFailure, hint uint32) (j CallbackJob, ep uint32, ok bool, err error) {
	lj, ok, err := w.find(f.ID, hint)
	if err != nil || !ok {
		return j, 0, false, err
	}
	if j, ep, err = decodeJob(f.ID, lj.rec); err != nil {
		return j, 0, false, err
	}
	if err := w.remove(f.ID, lj); err != nil {
		return j, 0, false, err
	}
	j.Attempts++
	j.NextAt, j.LastError = f.At, f.Error
	return j, ep, true, nil
}

// finish writes the counters, unless the writer is shared: then the group
// commit writes them once for all its writes (withGroupWriter).
func (w *cbWriter) finish() error {
	if w.shared {
		return nil
	}
	return w.flush()
}

func (w *cbWriter) flush() error {
	for i, key := range [...][]byte{metaNew, metaRetry, metaDead, metaDeadTotal} {
		if w.d[i] == 0 {
			continue
		}
		var n int64
		if v := w.meta().Get(key); len(v) == 8 {
			n = int64(binary.BigEndian.Uint64(v))
		}
		if err := w.meta().Put(key, binary.BigEndian.AppendUint64(nil, uint64(max(n+w.d[i], 0)))); err != nil {
			return err
		}
	}
	var cur *bolt.Cursor
	for ep, c := range w.perEP {
		if c[0] == 0 && c[1] == 0 && c[2] == 0 {
			continue
		}
		var a activeEndpoint
		ek := epKeyArray(ep)
		if v := w.active().Get(ek[:]); v != nil {
			a = parseActive(ep, v)
		}
		a.new, a.retry = uint64(max(int64(a.new)+c[0], 0)), uint64(max(int64(a.retry)+c[1], 0))
		if c[2] != 0 { // the retry index changed: find its head again
			if cur == nil {
				cur = w.retry().Cursor()
			}
			a.head = 0
			if k, _ := cur.Seek(ek[:]); len(k) == 20 && binary.BigEndian.Uint32(k) == ep {
				a.head = binary.BigEndian.Uint64(k[4:12])
			}
		}
		var err error
		if a.new == 0 && a.retry == 0 {
			err = w.active().Delete(epKey(ep))
		} else {
			v := binary.BigEndian.AppendUint64(nil, a.new)
			v = binary.BigEndian.AppendUint64(v, a.retry)
			err = w.active().Put(epKey(ep), binary.BigEndian.AppendUint64(v, a.head))
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// AddCallbacks stores jobs durably (fsync'd unless NoSync) and assigns
// their IDs, which are valid only when it returns nil. Concurrent calls
// share one commit. Created defaults to now.
func (s *Store) AddCallbacks(jobs []CallbackJob) error {
	for i := range jobs {
		if jobs[i].URL == "" || len(jobs[i].Body) == 0 {
			return ErrBadCallback
		}
	}
	if err := s.write(func(tx *bolt.Tx) error { return addCallbacksTx(tx, jobs) }); err != nil {
		return fmt.Errorf("store: add callbacks: %w", err)
	}
	return nil
}

// addCallbacksTx adds never-tried jobs inside a write transaction, so other
// store methods can record an event and its callback in one commit. It
// assigns jobs[i].ID (and Created when zero) and may run again on the same
// jobs (group commit retries a failed batch one write at a time): it then
// assigns fresh IDs. The caller wakes the sender after the commit.
func addCallbacksTx(tx *bolt.Tx, jobs []CallbackJob) error {
	w := newCBWriter(tx)
	for i := range jobs {
		j := &jobs[i]
		if j.URL == "" || len(j.Body) == 0 {
			return ErrBadCallback
		}
		if j.Created.IsZero() {
			j.Created = time.Now()
		}
		ep, err := w.endpoint(j.ApplicationID, j.URL)
		if err != nil {
			return err
		}
		id, err := w.jobs().NextSequence()
		if err != nil {
			return err
		}
		j.ID, j.Attempts, j.NextAt, j.LastError = id, 0, time.Time{}, ""
		// Key and record in one allocation.
		kv := make([]byte, newKeyLen, newKeyLen+jobSize(j))
		putNewKey(kv, ep, id)
		if err := w.new().Put(kv[:newKeyLen:newKeyLen], appendJob(kv[newKeyLen:], ep, j)); err != nil {
			return err
		}
		w.count(ep, 1, 0)
	}
	return w.finish()
}

// CallbackDone deletes delivered jobs and releases their claims. Unknown
// ids are ignored, so a duplicate report is harmless.
func (s *Store) CallbackDone(ids []uint64) (err error) {
	defer func() { s.claims().release(ids, err != nil) }()
	hints := s.claims().endpoints(ids)
	err = s.write(func(tx *bolt.Tx) error {
		w := newCBWriter(tx)
		for i, id := range ids {
			lj, ok, err := w.find(id, hints[i])
			if err != nil {
				return err
			}
			if !ok {
				continue
			}
			if msg := jobAcceptsRecord(lj.rec); msg != "" {
				if err := acceptRecordTx(tx, msg); err != nil {
					return err
				}
			}
			if err := w.remove(id, lj); err != nil {
				return err
			}
		}
		return w.finish()
	})
	if err != nil {
		return fmt.Errorf("store: callbacks done: %w", err)
	}
	return nil
}

// CallbackFailed records a failed attempt of each job: attempts+1, the
// error, and its next attempt at f.At (moving it to the retry index). It
// releases the claims. Unknown ids are ignored.
func (s *Store) CallbackFailed(fs []CallbackFailure) (err error) {
	defer func() { s.releaseFailures(fs, err != nil) }()
	hints := s.claims().failureEndpoints(fs)
	err = s.write(func(tx *bolt.Tx) error {
		w := newCBWriter(tx)
		for i, f := range fs {
			j, ep, ok, err := w.failAttempt(f, hints[i])
			if err != nil {
				return err
			}
			if !ok {
				continue
			}
			if unixNanos(j.NextAt) == 0 {
				j.NextAt = time.Unix(0, 1) // zero means never tried
			}
			if err := w.jobs().Put(seqKey(f.ID), encodeJob(ep, &j)); err != nil {
				return err
			}
			if err := w.retry().Put(retryKey(ep, unixNanos(j.NextAt), f.ID), []byte{}); err != nil {
				return err
			}
			w.count(ep, 0, 1)
		}
		return w.finish()
	})
	if err != nil {
		return fmt.Errorf("store: callbacks failed: %w", err)
	}
	return nil
}

// CallbackDead records a last failed attempt of each job and moves it to
// the dead-letter bucket (kept for inspection, counted). It releases the
// claims. Unknown ids are ignored.
func (s *Store) CallbackDead(fs []CallbackFailure) (err error) {
	defer func() { s.releaseFailures(fs, err != nil) }()
	hints := s.claims().failureEndpoints(fs)
	err = s.write(func(tx *bolt.Tx) error {
		w := newCBWriter(tx)
		for i, f := range fs {
			j, ep, ok, err := w.failAttempt(f, hints[i])
			if err != nil {
				return err
			}
			if !ok {
				continue
			}
			if err := w.dead().Put(seqKey(f.ID), encodeJob(ep, &j)); err != nil {
				return err
			}
			w.d[2]++
			w.d[3]++
		}
		return w.finish()
	})
	if err != nil {
		return fmt.Errorf("store: callbacks dead: %w", err)
	}
	return nil
}

func (s *Store) releaseFailures(fs []CallbackFailure, indexed bool) {
	ids := make([]uint64, len(fs))
	for i, f := range fs {
		ids[i] = f.ID
	}
	s.claims().release(ids, indexed)
}

// ReleaseCallbacks gives claimed jobs back untouched (an attempt that was
// cut short by shutdown does not count): they are due again at once.
func (s *Store) ReleaseCallbacks(ids []uint64) { s.claims().release(ids, true) }

// DeleteDeadCallbacks removes dead-lettered jobs after inspection.
func (s *Store) DeleteDeadCallbacks(ids []uint64) error {
	err := s.write(func(tx *bolt.Tx) error {
		w := newCBWriter(tx)
		for _, id := range ids {
			if w.dead().Get(seqKey(id)) == nil {
				continue
			}
			if err := w.dead().Delete(seqKey(id)); err != nil {
				return err
			}
			w.d[2]--
		}
		return w.finish()
	})
	if err != nil {
		return fmt.Errorf("store: delete dead callbacks: %w", err)
	}
	return nil
}

// --- reads ---

// epHead is the first not yet considered index entry of one endpoint.
type epHead struct {
	ep       uint32
	cur      *bolt.Cursor
	key, val []byte // borrowed: valid in the transaction only
}

func (h *epHead) next() bool {
	k, v := h.cur.Next()
	if len(k) < 4 || binary.BigEndian.Uint32(k) != h.ep {
		return false
	}
	h.key, h.val = k, v
	return true
}

// headHeap orders endpoint heads by their key without the endpoint: id in
// cb_new, (next_at, id) in cb_retry.
type headHeap []*epHead

func (h headHeap) Len() int           { return len(h) }
func (h headHeap) Less(i, j int) bool { return bytes.Compare(h[i].key[4:], h[j].key[4:]) < 0 }
func (h headHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *headHeap) Push(x any)        { *h = append(*h, x.(*epHead)) }
func (h *headHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// activeEndpoint is an endpoint with live jobs.
type activeEndpoint struct {
	ep         uint32
	new, retry uint64
	head       uint64 // earliest next_at of its retries
}

func parseActive(ep uint32, v []byte) activeEndpoint {
	if len(v) < 24 {
		return activeEndpoint{ep: ep}
	}
	return activeEndpoint{ep, binary.BigEndian.Uint64(v), binary.BigEndian.Uint64(v[8:]), binary.BigEndian.Uint64(v[16:])}
}

func activeEndpoints(tx *bolt.Tx) []activeEndpoint {
	var out []activeEndpoint
	cur := tx.Bucket(bucketCBActive).Cursor()
	for k, v := cur.First(); k != nil; k, v = cur.Next() {
		if len(k) == 4 {
			out = append(out, parseActive(binary.BigEndian.Uint32(k), v))
		}
	}
	return out
}

// NextCallbacks claims and returns up to limit unclaimed jobs: every
// never-tried job in FIFO order first, then retries due at now in due
// order. pick (nil = take all) is asked about each candidate in that order
// before its record is read; see Pick. Claimed jobs are not returned again
// until CallbackDone, CallbackFailed, CallbackDead or ReleaseCallbacks.
//
// Cost: O(E log n) for E endpoints with jobs, then O(log E + log n) per job
// taken or claimed job passed; a skipped endpoint costs nothing more, and
// nothing beyond the returned jobs is held in memory.
func (s *Store) NextCallbacks(now time.Time, limit int, pick func(appID, url string) Pick) ([]CallbackJob, error) {
	if limit <= 0 {
		return nil, nil
	}
	c := s.claims()
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []CallbackJob
	// through: per endpoint, the last cb_new id this call took or stepped
	// over as claimed, every entry before it (from the floor) likewise.
	through := map[uint32]uint64{}
	err := s.db.View(func(tx *bolt.Tx) error {
		active := activeEndpoints(tx)
		pending := 0
		for _, a := range active {
			pending += int(a.new + a.retry)
		}
		// Sized for the usual read; limit is what the sender has room for
		// in total, far more than one saturated endpoint takes.
		out = make([]CallbackJob, 0, min(limit, pending, 64))
		recs, names := newPointCursor(tx.Bucket(bucketCBJobs)), tx.Bucket(bucketCBEpNames)
		skipped := map[uint32]bool{}
		due := unixNanos(now)
		// scan merges the endpoints' heads in b; it returns true when the
		// call is over (limit reached or Stop).
		scan := func(b *bolt.Bucket, retry bool) (bool, error) {
			var h headHeap
			heads := make([]epHead, 0, len(active))
			for _, a := range active {
				if skipped[a.ep] || (!retry && a.new == 0) || (retry && (a.retry == 0 || a.head > due)) {
					continue
				}
				cur := b.Cursor()
				var k, v []byte
				if f := c.newFloor[a.ep]; !retry && f > 0 {
					var nk [newKeyLen]byte
					putNewKey(nk[:], a.ep, f+1)
					k, v = cur.Seek(nk[:])
				} else {
					ek := epKeyArray(a.ep)
					k, v = cur.Seek(ek[:])
				}
				if len(k) >= 4 && binary.BigEndian.Uint32(k) == a.ep {
					heads = append(heads, epHead{ep: a.ep, cur: cur, key: k, val: v})
					h = append(h, &heads[len(heads)-1])
				}
			}
			heap.Init(&h)
			for h.Len() > 0 {
				top := h[0]
				k := top.key
				if retry && binary.BigEndian.Uint64(k[4:12]) > due {
					return false, nil // the earliest head is not due: none is
				}
				id := binary.BigEndian.Uint64(k[len(k)-8:])
				if _, busy := c.claimed[id]; busy {
					// Claimed jobs sit at the front of their endpoint's
					// range: step over all of them before re-sorting.
					more := top.next()
					for more {
						next := binary.BigEndian.Uint64(top.key[len(top.key)-8:])
						if _, busy = c.claimed[next]; !busy {
							break
						}
						id = next
						more = top.next()
					}
					if !retry {
						through[top.ep] = id
					}
					if more {
						heap.Fix(&h, 0)
					} else {
						heap.Pop(&h)
					}
					continue
				}
				if pick != nil {
					n, ok := c.epNames[top.ep]
					if !ok {
						app, url, err := splitEndpoint(names.Get(epKey(top.ep)))
						if err != nil {
							return false, err
						}
						n = [2]string{app, url}
						if len(c.epNames) >= 100000 {
							clear(c.epNames)
						}
						c.epNames[top.ep] = n // endpoint numbers are never reused
					}
					switch pick(n[0], n[1]) {
					case PickSkip:
						skipped[top.ep] = true
						heap.Pop(&h)
						continue
					case PickStop:
						return true, nil
					}
				}
				rec := top.val // a never-tried job's record is its index entry
				if retry {
					jk := seqKeyArray(id)
					rec = recs.get(jk[:])
				}
				if rec == nil {
					return false, fmt.Errorf("callback %d: indexed without a record", id)
				}
				j, _, err := decodeJob(id, rec)
				if err != nil {
					return false, err
				}
				out = append(out, j)
				c.claimed[id] = claim{ep: top.ep, fromNew: !retry}
				if !retry {
					through[top.ep] = id
				}
				if len(out) >= limit {
					return true, nil
				}
				if top.next() {
					heap.Fix(&h, 0)
				} else {
					heap.Pop(&h)
				}
			}
			return false, nil
		}
		if over, err := scan(tx.Bucket(bucketCBNew), false); over || err != nil {
			return err
		}
		_, err := scan(tx.Bucket(bucketCBRetry), true)
		return err
	})
	if err != nil {
		for i := range out {
			delete(c.claimed, out[i].ID)
		}
		return nil, fmt.Errorf("store: next callbacks: %w", err)
	}
	if len(c.newFloor) >= 100000 {
		clear(c.newFloor) // bounded; scans step over claims until it is back
	}
	for ep, id := range through {
		c.newFloor[ep] = max(c.newFloor[ep], id)
	}
	return out, nil
}

// NextCallbackDue returns the earliest next attempt time of a retry that
// is due strictly after after (the zero time: the earliest of all): a pass
// over cb_active, plus a Seek for each endpoint whose earliest retry is
// already due. ok is false when there is none.
// Never-tried jobs are always due and are not reported here.
func (s *Store) NextCallbackDue(after time.Time) (at time.Time, ok bool, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		from := unixNanos(after) + 1
		cur := tx.Bucket(bucketCBRetry).Cursor()
		var best uint64
		for _, a := range activeEndpoints(tx) {
			if a.retry == 0 {
				continue
			}
			t := a.head
			if t < from { // its head is due already: seek past it
				k, _ := cur.Seek(retryKey(a.ep, from, 0))
				if len(k) != 20 || binary.BigEndian.Uint32(k) != a.ep {
					continue
				}
				t = binary.BigEndian.Uint64(k[4:12])
			}
			if !ok || t < best {
				best, ok = t, true
			}
		}
		at = fromNanos(best)
		return nil
	})
	if err != nil {
		return time.Time{}, false, fmt.Errorf("store: next callback due: %w", err)
	}
	return at, ok, nil
}

// CallbackStats returns the durable counters in O(1).
func (s *Store) CallbackStats() (CallbackCounts, error) {
	var c CallbackCounts
	err := s.db.View(func(tx *bolt.Tx) error {
		m := tx.Bucket(bucketCBMeta)
		get := func(k []byte) int {
			if v := m.Get(k); len(v) == 8 {
				return int(binary.BigEndian.Uint64(v))
			}
			return 0
		}
		c = CallbackCounts{New: get(metaNew), Retry: get(metaRetry), Dead: get(metaDead), DeadTotal: get(metaDeadTotal)}
		return nil
	})
	return c, err
}

// Callback returns one job, live or dead (dead reports whether it was
// dead-lettered).
func (s *Store) Callback(id uint64) (j CallbackJob, dead bool, err error) {
	hint := s.claims().endpoints([]uint64{id})[0]
	err = s.db.View(func(tx *bolt.Tx) error {
		lj, ok, err := makeCBWriter(tx).find(id, hint)
		if err != nil {
			return err
		}
		v := lj.rec
		if !ok {
			if v = tx.Bucket(bucketCBDead).Get(seqKey(id)); v == nil {
				return ErrNotFound
			}
			dead = true
		}
		j, _, err = decodeJob(id, v)
		return err
	})
	return j, dead, err
}

// DeadCallbacks returns up to limit dead-lettered jobs with ids above
// afterID, in id order: page with the last id returned.
func (s *Store) DeadCallbacks(afterID uint64, limit int) ([]CallbackJob, error) {
	var out []CallbackJob
	err := s.db.View(func(tx *bolt.Tx) error {
		cur := tx.Bucket(bucketCBDead).Cursor()
		for k, v := cur.Seek(seqKey(afterID + 1)); k != nil && len(out) < limit; k, v = cur.Next() {
			j, _, err := decodeJob(binary.BigEndian.Uint64(k), v)
			if err != nil {
				return err
			}
			out = append(out, j)
		}
		return nil
	})
	return out, err
}

// RequeueDeadCallbacks gives dead-lettered jobs another life: each becomes
// a never-tried job again (a new id, attempts cleared, created now, so
// with a new retry period; its body and endpoint as they were), in one
// commit. Unknown ids are ignored; it
// returns how many were requeued.
func (s *Store) RequeueDeadCallbacks(ids []uint64) (int, error) {
	n := 0
	err := s.write(func(tx *bolt.Tx) error {
		n = 0
		w := newCBWriter(tx)
		var jobs []CallbackJob
		for _, id := range ids {
			v := w.dead().Get(seqKey(id))
			if v == nil {
				continue
			}
			j, _, err := decodeJob(id, v)
			if err != nil {
				return err
			}
			if err := w.dead().Delete(seqKey(id)); err != nil {
				return err
			}
			w.d[2]--
			j.Body = bytes.Clone(j.Body) // v is only valid in the transaction
			// A new callback gets a new retry period: the old one is over,
			// so one more failure would dead-letter it again at once.
			j.Created = time.Time{}
			jobs = append(jobs, j)
		}
		if err := w.finish(); err != nil {
			return err
		}
		n = len(jobs)
		if n == 0 {
			return nil
		}
		return addCallbacksTx(tx, jobs)
	})
	if err != nil {
		return 0, fmt.Errorf("store: requeue dead callbacks: %w", err)
	}
	if n > 0 {
		if h := s.hooks.Load(); h != nil && h.Added != nil {
			h.Added()
		}
	}
	return n, nil
}

// ExpireDeadCallbacks deletes dead-lettered jobs given up before cutoff,
// oldest id first, examining at most limit jobs per call so no commit
// holds the writer long; more reports that it stopped at the limit. Jobs
// die in roughly id order (each after the same retry period), so the
// sweep stops at the first one still within retention.
func (s *Store) ExpireDeadCallbacks(cutoff time.Time, limit int) (deleted int, more bool, err error) {
	if limit <= 0 {
		limit = 1000
	}
	err = s.write(func(tx *bolt.Tx) error {
		deleted, more = 0, false
		w := newCBWriter(tx)
		var expired [][]byte
		cur := w.dead().Cursor()
		examined := 0
		for k, v := cur.First(); k != nil; k, v = cur.Next() {
			if examined == limit {
				more = true
				break
			}
			examined++
			j, _, err := decodeJob(binary.BigEndian.Uint64(k), v)
			if err != nil {
				return err
			}
			if !j.NextAt.Before(cutoff) {
				break
			}
			expired = append(expired, bytes.Clone(k))
		}
		for _, k := range expired {
			if err := w.dead().Delete(k); err != nil {
				return err
			}
			w.d[2]--
		}
		deleted = len(expired)
		return w.finish()
	})
	if err != nil {
		return 0, false, fmt.Errorf("store: expire dead callbacks: %w", err)
	}
	return deleted, more, nil
}

// migrateOutbox moves a layout 1 outbox to layout 2: each never-tried
// job's record goes from cb_jobs into its cb_new entry. It works in
// bounded transactions and may stop anywhere: an entry that already holds
// its record is passed over, and the layout mark is written last.
var migrateChunk = 10000 // jobs per transaction; a variable for tests

func migrateOutbox(db *bolt.DB) error {
	var done bool
	if err := db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketCBMeta).Get(metaLayout)
		done = len(v) == 1 && v[0] >= outboxLayout
		return nil
	}); err != nil || done {
		return err
	}
	var from []byte
	for {
		var next []byte
		err := db.Update(func(tx *bolt.Tx) error {
			w := makeCBWriter(tx)
			var moves, dangling [][]byte
			cur := w.new().Cursor()
			k, v := cur.First()
			if from != nil {
				k, v = cur.Seek(from)
			}
			for ; k != nil; k, v = cur.Next() {
				if len(moves)+len(dangling) == migrateChunk {
					next = bytes.Clone(k)
					break
				}
				if len(v) > 0 || len(k) != 12 {
					continue // moved already
				}
				if w.jobs().Get(k[4:]) == nil {
					dangling = append(dangling, bytes.Clone(k))
				} else {
					moves = append(moves, bytes.Clone(k))
				}
			}
			for _, k := range moves {
				rec := bytes.Clone(w.jobs().Get(k[4:]))
				if err := w.new().Put(k, rec); err != nil {
					return err
				}
				if err := w.jobs().Delete(k[4:]); err != nil {
					return err
				}
			}
			// An index entry without its record could never be sent
			// (layout 1 reported "indexed without a record"): drop it.
			for _, k := range dangling {
				if err := w.new().Delete(k); err != nil {
					return err
				}
				w.count(binary.BigEndian.Uint32(k), -1, 0)
			}
			if next == nil {
				if err := w.meta().Put(metaLayout, []byte{outboxLayout}); err != nil {
					return err
				}
			}
			return w.flush()
		})
		if err != nil {
			return fmt.Errorf("store: migrate callback outbox: %w", err)
		}
		if next == nil {
			return nil
		}
		from = next
	}
}
