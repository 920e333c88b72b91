package store

import (
	"bytes"
	"container/heap"
	"encoding/binary"
	"maps"
	"slices"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// RecordQuery selects records of one account. Empty fields do not filter.
type RecordQuery struct {
	AccountID  string
	MessageID  string
	To, From   []string // exact numbers, any of
	ToPrefix   []string // partial numbers: the numbers that start with one of them
	FromPrefix []string
	Status     string
	Direction  string // "in" or "out"
	Type       string // "sms" or "mms"
	ErrorCode  *int
	Carrier    string
	CampaignID string
	Since      time.Time // receive time ≥ Since
	Until      time.Time // receive time < Until
	Ascending  bool      // oldest first; default newest first
	Limit      int       // default 100
	// After continues a search from a position of an earlier page
	// (RecordPage.Next or Prev); Backward walks from it towards the start.
	After    []byte
	Backward bool
	// CountLimit caps Total (default 10000): counting is a scan.
	CountLimit int
}

// RecordPage is one page of a search.
type RecordPage struct {
	Records []Record
	// Next is the position after the last record, set when more records
	// may follow; Prev the position of the first record. Both are opaque.
	Next, Prev []byte
	// Total counts the matches of the whole query (not only this page),
	// at most CountLimit; TotalCapped reports that counting stopped there
	// (or at the scan budget) so more may match.
	Total       int
	TotalCapped bool
}

// Bounds of a search's work, so one query cannot hold a read transaction
// long: entries examined per page and per count, and how many distinct
// numbers a partial number may expand into before it becomes a filter.
const (
	scanBudget        = 100_000
	countBudget       = 50_000
	defaultCountLimit = 10_000
)

// maxPrefixNumbers is a variable for tests.
var maxPrefixNumbers = 1000

// posLen is the length of a position: time (8) + record key.
func validPosition(p []byte) bool { return len(p) >= 8+1+1+2 }

// stream is one index range in time order (ascending or descending).
type stream struct {
	c      *bolt.Cursor
	prefix []byte
	asc    bool
	lo, hi []byte // suffix bounds: lo inclusive, hi exclusive; nil: open
	cur    []byte // current suffix (time + record key); nil: exhausted
	val    []byte // current value: a summary in the time and status indexes
}

var maxSuffix = bytes.Repeat([]byte{0xff}, 9)

func (st *stream) check(k, v []byte) {
	st.cur, st.val = nil, v
	if k == nil || !bytes.HasPrefix(k, st.prefix) || len(k) < len(st.prefix)+8 {
		return
	}
	suf := k[len(st.prefix):]
	if st.lo != nil && bytes.Compare(suf, st.lo) < 0 {
		return
	}
	if st.hi != nil && bytes.Compare(suf, st.hi) >= 0 {
		return
	}
	st.cur = suf
}

// start positions the stream at its first entry strictly after pos (in its
// direction) or at the start of its range.
func (st *stream) start(pos []byte) {
	if st.asc {
		from := st.lo
		if pos != nil && (from == nil || bytes.Compare(pos, from) >= 0) {
			from = pos
		}
		k, v := st.c.Seek(append(bytes.Clone(st.prefix), from...))
		if pos != nil && k != nil && bytes.Equal(k[min(len(k), len(st.prefix)):], pos) && bytes.HasPrefix(k, st.prefix) {
			k, v = st.c.Next()
		}
		st.check(k, v)
		return
	}
	upper := st.hi // exclusive
	if pos != nil && (upper == nil || bytes.Compare(pos, upper) < 0) {
		upper = pos
	}
	if upper == nil {
		upper = maxSuffix
	}
	k, v := st.c.Seek(append(bytes.Clone(st.prefix), upper...))
	if k == nil {
		k, v = st.c.Last()
	} else {
		k, v = st.c.Prev() // Seek found the first key ≥ upper: step below it
	}
	st.check(k, v)
}

func (st *stream) next() {
	var k, v []byte
	if st.asc {
		k, v = st.c.Next()
	} else {
		k, v = st.c.Prev()
	}
	st.check(k, v)
}

// merged yields the entries of several streams in one time order.
type merged struct {
	ss  []*stream
	asc bool
}

func (m *merged) Len() int { return len(m.ss) }
func (m *merged) Less(i, j int) bool {
	c := bytes.Compare(m.ss[i].cur, m.ss[j].cur)
	if m.asc {
		return c < 0
	}
	return c > 0
}
func (m *merged) Swap(i, j int) { m.ss[i], m.ss[j] = m.ss[j], m.ss[i] }
func (m *merged) Push(x any)    { m.ss = append(m.ss, x.(*stream)) }
func (m *merged) Pop() any {
	x := m.ss[len(m.ss)-1]
	m.ss = m.ss[:len(m.ss)-1]
	return x
}

// open starts every stream at pos and drops the empty ones.
func newMerged(ss []*stream, asc bool, pos []byte) *merged {
	m := &merged{asc: asc}
	for _, st := range ss {
		st.asc = asc
		st.start(pos)
		if st.cur != nil {
			m.ss = append(m.ss, st)
		}
	}
	heap.Init(m)
	return m
}

// head is the current smallest (or largest) suffix; nil at the end.
func (m *merged) head() []byte {
	if len(m.ss) == 0 {
		return nil
	}
	return m.ss[0].cur
}

// headVal is the value of the current entry.
func (m *merged) headVal() []byte { return m.ss[0].val }

func (m *merged) advance() {
	st := m.ss[0]
	st.next()
	if st.cur == nil {
		heap.Pop(m)
		return
	}
	heap.Fix(m, 0)
}

// plan is how a query is answered: the index streams to merge, and
// whether records must be read to apply the remaining filters.
type plan struct {
	streams    func(tx *bolt.Tx) []*stream
	needFilter bool
	// freshSummary: the streams' summaries hold the current status and
	// error code (the status index); the time index's do not.
	freshSummary bool
}

func (q *RecordQuery) timeBounds() (lo, hi []byte) {
	if !q.Since.IsZero() {
		lo = binary.BigEndian.AppendUint64(nil, unixNanos(q.Since))
	}
	if !q.Until.IsZero() {
		hi = binary.BigEndian.AppendUint64(nil, unixNanos(q.Until))
	}
	return lo, hi
}

// numberStreams are the streams of the exact numbers, or of every number
// starting with prefix (nil when there are more than maxPrefixNumbers).
func numberStreams(b *bolt.Bucket, kind byte, account string, exact []string, prefixes []string, lo, hi []byte) []*stream {
	if len(exact) > 0 {
		var ss []*stream
		for i, n := range exact {
			if slices.Contains(exact[:i], n) {
				continue // a number listed twice: its entries would come twice
			}
			ss = append(ss, &stream{c: b.Cursor(), prefix: numberPrefix(kind, account, n), lo: lo, hi: hi})
		}
		return ss
	}
	ss := []*stream{}
	acct := kindPrefix(kind, account)
	c := b.Cursor()
	for _, prefix := range prefixes {
		want := append(bytes.Clone(acct), prefix...)
		seek := want
		for k, _ := c.Seek(seek); k != nil && bytes.HasPrefix(k, want); k, _ = c.Seek(seek) {
			end := bytes.IndexByte(k[len(acct):], 0)
			if end < 0 {
				break
			}
			num := string(k[len(acct) : len(acct)+end])
			if len(ss) == maxPrefixNumbers {
				return nil
			}
			ss = append(ss, &stream{c: b.Cursor(), prefix: numberPrefix(kind, account, num), lo: lo, hi: hi})
			// Skip this number's entries: the next key after number+0 is number+1.
			seek = append(append(bytes.Clone(acct), num...), 1)
		}
	}
	return ss
}

// statusStreams are the streams of the statuses with error code code, or
// with any error code when code is nil.
func statusStreams(b *bolt.Bucket, account string, statuses []byte, code *int, lo, hi []byte) []*stream {
	// Never nil: nil means "too many numbers, filter the time index"
	// (numberStreams); a status nothing has is simply no streams.
	ss := []*stream{}
	c := b.Cursor()
	for _, st := range statuses {
		if code != nil {
			ss = append(ss, &stream{c: b.Cursor(), prefix: statusPrefix(account, st, errorCode32(*code)), lo: lo, hi: hi})
			continue
		}
		prefix := statusOnlyPrefix(account, st)
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix) && len(k) >= len(prefix)+4; {
			ec := binary.BigEndian.Uint32(k[len(prefix):])
			ss = append(ss, &stream{c: b.Cursor(), prefix: statusPrefix(account, st, ec), lo: lo, hi: hi})
			if ec == ^uint32(0) || len(ss) > 100_000 {
				break
			}
			k, _ = c.Seek(statusPrefix(account, st, ec+1))
		}
	}
	return ss
}

// choosePlan picks the most selective index: exact numbers, then partial
// numbers, then status, then time alone; everything else is a filter.
func (q *RecordQuery) choosePlan() plan {
	lo, hi := q.timeBounds()
	acct := q.AccountID
	others := func(skip string) bool {
		f := map[string]bool{
			"to": len(q.To) > 0 || len(q.ToPrefix) > 0, "from": len(q.From) > 0 || len(q.FromPrefix) > 0,
			"status": q.Status != "", "code": q.ErrorCode != nil,
			"other": q.Direction != "" || q.Type != "" || q.Carrier != "" || q.CampaignID != "",
		}
		for _, k := range strings.Split(skip, ",") {
			delete(f, k)
		}
		for _, v := range f {
			if v {
				return true
			}
		}
		return false
	}
	timeOnly := func(tx *bolt.Tx) []*stream {
		return []*stream{{c: tx.Bucket(bucketRecIdx).Cursor(), prefix: accountPrefix(acct), lo: lo, hi: hi}}
	}
	switch {
	case len(q.To) > 0 || len(q.From) > 0 || len(q.ToPrefix) > 0 || len(q.FromPrefix) > 0:
		useTo := len(q.To) > 0 || (len(q.From) == 0 && len(q.ToPrefix) > 0)
		skip := "from"
		if useTo {
			skip = "to"
		}
		need := others(skip)
		return plan{needFilter: need, streams: func(tx *bolt.Tx) []*stream {
			// nil: a partial number matches too many numbers (see SearchRecords).
			if useTo {
				return numberStreams(tx.Bucket(bucketRecIdx), idxTo, acct, q.To, q.ToPrefix, lo, hi)
			}
			return numberStreams(tx.Bucket(bucketRecIdx), idxFrom, acct, q.From, q.FromPrefix, lo, hi)
		}}
	case q.Status != "" || q.ErrorCode != nil:
		// The status index is keyed by status and error code: a status
		// alone merges its codes, a code alone every status with it.
		statuses := []byte{statusCode(q.Status)}
		if q.Status == "" {
			statuses = slices.Collect(maps.Values(statusCodes))
		}
		return plan{needFilter: others("status,code"), freshSummary: true, streams: func(tx *bolt.Tx) []*stream {
			return statusStreams(tx.Bucket(bucketRecIdx), acct, statuses, q.ErrorCode, lo, hi)
		}}
	default:
		return plan{needFilter: others(""), streams: timeOnly}
	}
}

func (q *RecordQuery) match(r *Record) bool {
	if r.AccountID != q.AccountID {
		return false
	}
	if q.MessageID != "" && r.MessageID != q.MessageID {
		return false
	}
	if len(q.To) > 0 && !slices.Contains(q.To, r.To) {
		return false
	}
	if len(q.From) > 0 && !slices.Contains(q.From, r.From) {
		return false
	}
	if len(q.ToPrefix) > 0 && !hasAnyPrefix(r.To, q.ToPrefix) {
		return false
	}
	if len(q.FromPrefix) > 0 && !hasAnyPrefix(r.From, q.FromPrefix) {
		return false
	}
	if q.Status != "" && r.Status != q.Status {
		return false
	}
	if q.Direction != "" && r.Direction != q.Direction {
		return false
	}
	if q.Type != "" && r.Type != q.Type && !(q.Type == "sms" && r.Type == "") {
		return false
	}
	if q.ErrorCode != nil && r.ErrorCode != *q.ErrorCode {
		return false
	}
	if q.Carrier != "" && !strings.EqualFold(r.Carrier, q.Carrier) {
		return false
	}
	if q.CampaignID != "" && r.CampaignID != q.CampaignID {
		return false
	}
	if !q.Since.IsZero() && r.ReceivedAt.Before(q.Since) {
		return false
	}
	if !q.Until.IsZero() && !r.ReceivedAt.Before(q.Until) {
		return false
	}
	return true
}

// SearchRecords answers a query from the indexes (see records.go): it
// merges the chosen index's ranges in time order and reads each candidate
// record only when filters remain. Work per call is bounded by scanBudget
// entries; a page cut short by it still carries Next, so a client simply
// continues. Positions are stable under concurrent inserts: a new record
// sorts by its own receive time and never shifts a position.
func (s *Store) SearchRecords(q RecordQuery) (RecordPage, error) {
	s.awaitIntake() // a message is findable from its 202 on
	if q.Limit <= 0 {
		q.Limit = 100
	}
	if q.CountLimit <= 0 {
		q.CountLimit = defaultCountLimit
	}
	if q.After != nil && !validPosition(q.After) {
		q.After = nil
	}
	var page RecordPage
	err := s.db.View(func(tx *bolt.Tx) error {
		recs := tx.Bucket(bucketRecords)
		if q.MessageID != "" {
			return s.searchByID(tx, &q, &page)
		}
		p := q.choosePlan()
		streams := p.streams
		if ss := streams(tx); ss == nil {
			// The partial number matches too many numbers: walk the
			// account's time index and filter instead.
			p.needFilter, p.freshSummary = true, false // the time index's summaries have the status at insertion
			lo, hi := q.timeBounds()
			streams = func(tx *bolt.Tx) []*stream {
				return []*stream{{c: tx.Bucket(bucketRecIdx).Cursor(), prefix: accountPrefix(q.AccountID), lo: lo, hi: hi}}
			}
		}
		var rec Record
		bySummary := p.freshSummary || (q.Status == "" && q.ErrorCode == nil)
		numbers := q.numberFilters()
		matches := func(suf, val []byte) (bool, error) {
			if !p.needFilter {
				return true, nil
			}
			if bySummary {
				if sm, ok := parseSummary(val); ok && (sm.hasNumbers || !numbers) {
					return q.matchSummary(&sm), nil
				}
			}
			v := recs.Get(suf[8:])
			if v == nil {
				return false, nil
			}
			if err := decodeRecord(v, &rec); err != nil {
				return false, nil // unreadable: skipped rather than failing the search
			}
			return q.match(&rec), nil
		}
		// The page.
		asc := q.Ascending != q.Backward
		m := newMerged(streams(tx), asc, q.After)
		examined := 0
		var last []byte
		for h := m.head(); h != nil; h = m.head() {
			if examined == scanBudget {
				page.Next = bytes.Clone(last)
				break
			}
			examined++
			ok, err := matches(h, m.headVal())
			if err != nil {
				return err
			}
			if ok {
				if len(page.Records) == q.Limit {
					page.Next = bytes.Clone(last) // one more match exists
					break
				}
				v := recs.Get(h[8:])
				if v != nil {
					var r Record
					if err := decodeRecord(v, &r); err == nil {
						page.Records = append(page.Records, r)
						if page.Prev == nil {
							page.Prev = bytes.Clone(h)
						}
					}
				}
			}
			last = bytes.Clone(h)
			m.advance()
		}
		if q.After == nil {
			page.Prev = nil // the first page has nothing before it
		} else if page.Prev == nil && !q.Backward {
			// An empty page after a token (the match the token promised
			// changed or went, or the scan budget ran out): walking back
			// from right after the token's position gives the page before.
			page.Prev = positionAfter(q.After, q.Ascending)
		}
		if q.Backward {
			// Walked towards the start: put the page back in query order,
			// and what was "next" backwards is the previous page.
			slices.Reverse(page.Records)
			more, cut := page.Next != nil, page.Next
			page.Next, page.Prev = nil, nil
			if n := len(page.Records); n > 0 {
				page.Next = positionOf(&page.Records[n-1])
				if more {
					page.Prev = positionOf(&page.Records[0])
				}
			} else if q.After != nil {
				// Empty (its matches went meanwhile, or the scan budget ran
				// out): Next leads forward to where the walk started, Prev
				// on back from where it stopped.
				page.Next, page.Prev = positionAfter(q.After, !q.Ascending), cut
			}
		}
		// The count, from the start of the query's range.
		mc := newMerged(streams(tx), q.Ascending, nil)
		examined = 0
		for h := mc.head(); h != nil; h = mc.head() {
			if page.Total == q.CountLimit || examined == countBudget {
				page.TotalCapped = true
				break
			}
			examined++
			ok, err := matches(h, mc.headVal())
			if err != nil {
				return err
			}
			if ok {
				page.Total++
			}
			mc.advance()
		}
		return nil
	})
	return page, err
}

// numberFilters: the query filters by number, which summaries written
// before they held numbers lack.
func (q *RecordQuery) numberFilters() bool {
	return len(q.To) > 0 || len(q.From) > 0 || len(q.ToPrefix) > 0 || len(q.FromPrefix) > 0
}

// matchSummary applies the filters a summary holds (the index key already
// fixed account and time).
func (q *RecordQuery) matchSummary(sm *summary) bool {
	if q.Status != "" && sm.status != statusCode(q.Status) {
		return false
	}
	if q.Direction != "" && string(sm.dir) != q.Direction {
		return false
	}
	if q.Type != "" && string(sm.typ) != q.Type && !(q.Type == "sms" && len(sm.typ) == 0) {
		return false
	}
	if q.ErrorCode != nil && sm.code != uint64(max(*q.ErrorCode, 0)) {
		return false
	}
	if q.Carrier != "" && !strings.EqualFold(string(sm.carrier), q.Carrier) {
		return false
	}
	if q.CampaignID != "" && string(sm.campaign) != q.CampaignID {
		return false
	}
	if sm.hasNumbers {
		if !matchNumber(sm.to, q.To, q.ToPrefix) || !matchNumber(sm.from, q.From, q.FromPrefix) {
			return false
		}
	}
	return true
}

func matchNumber(n []byte, exact, prefixes []string) bool {
	if len(exact) > 0 {
		for _, e := range exact {
			if string(n) == e {
				return true
			}
		}
		return false
	}
	if len(prefixes) > 0 {
		for _, p := range prefixes {
			if bytes.HasPrefix(n, []byte(p)) {
				return true
			}
		}
		return false
	}
	return true
}

func hasAnyPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// positionAfter is a position that comes right after pos in a walk in
// the asc order, with no index entry between them: walking back from it
// starts at pos itself. Ascending: pos followed by a 0 byte. Descending:
// just below pos bytewise (its last non-zero byte lowered, cut there and
// followed by 0xff bytes), where no position of a record falls.
func positionAfter(pos []byte, asc bool) []byte {
	if asc {
		return append(bytes.Clone(pos), 0)
	}
	j := len(pos) - 1
	for j > 0 && pos[j] == 0 {
		j--
	}
	p := append(bytes.Clone(pos[:j]), pos[j]-1)
	return append(p, bytes.Repeat([]byte{0xff}, 16)...)
}

// positionOf is a record's position: receive time and record key.
func positionOf(r *Record) []byte {
	return appendTimeSuffix(nil, r.ReceivedAt, recordKey(r.MessageID, r.Recipient))
}

// searchByID answers a query naming a message id from the records bucket
// (a message has at most a group's recipients).
func (s *Store) searchByID(tx *bolt.Tx, q *RecordQuery, page *RecordPage) error {
	prefix := append([]byte(q.MessageID), 0)
	var all []Record
	c := tx.Bucket(bucketRecords).Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix) && len(all) < 10_000; k, v = c.Next() {
		var r Record
		if decodeRecord(v, &r) == nil && q.match(&r) {
			all = append(all, r)
		}
	}
	slices.SortFunc(all, func(a, b Record) int { return bytes.Compare(positionOf(&a), positionOf(&b)) })
	if !q.Ascending {
		slices.Reverse(all)
	}
	page.Total = len(all)
	start, end := 0, len(all)
	if q.After != nil {
		i := slices.IndexFunc(all, func(r Record) bool { return bytes.Equal(positionOf(&r), q.After) })
		if q.Backward {
			if i >= 0 {
				end = i
			}
			start = max(0, end-q.Limit)
		} else {
			start = i + 1
		}
	}
	if !q.Backward {
		end = min(len(all), start+q.Limit)
	}
	if start > end {
		start = end
	}
	page.Records = all[start:end]
	if end < len(all) && end > start {
		page.Next = positionOf(&all[end-1])
	}
	if start > 0 && end > start {
		page.Prev = positionOf(&all[start])
	}
	return nil
}
