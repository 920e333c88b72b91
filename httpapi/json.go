package httpapi

import (
	"encoding/binary"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"smppbridge/bridge"
)

// Limits of the request decoder. The body size is already capped by
// Options.MaxBodyBytes; these bound the work and the recursion a hostile body
// can cause inside that size.
const (
	maxJSONDepth     = 32   // nested objects/arrays, the top-level object being 1
	maxArrayElements = 1000 // per array, known field or not
)

// decodeError is a body that cannot become a SendRequest: a 400
// request-validation with one field error. field is "" when the problem
// cannot be pinned on a known field.
type decodeError struct {
	field string
	desc  string
}

func (e *decodeError) Error() string {
	if e.field == "" {
		return "httpapi: " + e.desc
	}
	return "httpapi: " + e.field + ": " + e.desc
}

// decodeSendRequest fills req from a JSON body. Every string it stores is a
// copy (all of them slices of one allocation, see parser.keep), so req stays
// valid after the fasthttp handler returns.
//
// The decoder is hand-written rather than encoding/json because it has to
// report which field is wrong, accept "to" as a string or an array, enforce
// nesting and array limits, reject invalid UTF-8 instead of replacing it, and
// run in the ~1 µs budget of the hot path. Field names match exactly, as
// Jackson does by default (encoding/json would match them case-insensitively).
// Unknown fields are skipped, but still checked for syntax and the limits.
//
// scratch, if not nil, is a reusable buffer for unescaping strings.
func decodeSendRequest(body []byte, req *bridge.SendRequest, scratch *[]byte) *decodeError {
	ab := arenaPool.Get().(*arenaBuffers)
	defer ab.put()
	p := parser{b: body, arena: ab.arena[:0], fixups: ab.fixups[:0]}
	defer func() { ab.arena, ab.fixups = p.arena, p.fixups }() // keep what they grew to
	if scratch != nil {
		p.scratch = (*scratch)[:0]
		defer func() { *scratch = p.scratch[:0] }() // keep what it grew to
	}
	p.ws()
	if p.i == len(p.b) {
		return &decodeError{desc: "The request body is empty; it must be a JSON object"}
	}
	if p.b[p.i] != '{' {
		return &decodeError{desc: "The request body must be a JSON object"}
	}
	if err := p.object(req); err != nil {
		return err
	}
	p.ws()
	if p.i != len(p.b) {
		return p.syntax("unexpected data after the JSON object")
	}
	p.finish()
	return nil
}

// Field names of the V2 MessageRequest.
const (
	fApplicationID = "applicationId"
	fTo            = "to"
	fFrom          = "from"
	fText          = "text"
	fMedia         = "media"
	fTag           = "tag"
	fPriority      = "priority"
	fExpiration    = "expiration"
)

type parser struct {
	b       []byte
	i       int
	depth   int
	field   string // known top-level field being decoded, for error attribution
	scratch []byte // unescaped string; valid until the next string is read

	// The strings kept are gathered in arena and become one string at the
	// end, their fields slices of it: one allocation instead of one per
	// field and recipient.
	arena  []byte
	fixups []fixup
}

// arenaBuffers are a parser's arena and fixups, pooled: the parser's own
// would escape to the heap at every request.
type arenaBuffers struct {
	arena  []byte
	fixups []fixup
}

var arenaPool = sync.Pool{New: func() any {
	return &arenaBuffers{arena: make([]byte, 0, 1024), fixups: make([]fixup, 0, 16)}
}}

func (ab *arenaBuffers) put() {
	if cap(ab.arena) > 64<<10 || cap(ab.fixups) > 1024 {
		return // let an outsized buffer go rather than pin it
	}
	clear(ab.fixups[:cap(ab.fixups)]) // they point into the request
	arenaPool.Put(ab)
}

// fixup is a string field to set to arena[off:off+n] once the arena is final.
type fixup struct {
	dst    *string
	off, n int
}

// keep arranges for *dst to become a copy of s when finish runs. A field
// that comes twice is set twice, in order: the last one wins.
func (p *parser) keep(dst *string, s []byte) {
	p.arena = append(p.arena, s...)
	p.fixups = append(p.fixups, fixup{dst, len(p.arena) - len(s), len(s)})
}

// finish copies the arena once and sets every kept field.
func (p *parser) finish() {
	all := string(p.arena)
	for _, f := range p.fixups {
		*f.dst = all[f.off : f.off+f.n]
	}
}

func (p *parser) ws() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *parser) fail(desc string) *decodeError {
	return &decodeError{field: p.field, desc: desc}
}

// syntax reports malformed JSON with its byte offset, so a client can find
// the spot in what it sent.
func (p *parser) syntax(what string) *decodeError {
	if p.i >= len(p.b) {
		return p.fail("Malformed JSON: unexpected end of input")
	}
	return p.fail("Malformed JSON at byte offset " + strconv.Itoa(p.i) + ": " + what)
}

func (p *parser) unexpected() *decodeError {
	if p.i >= len(p.b) {
		return p.syntax("")
	}
	c := p.b[p.i]
	if c >= 0x20 && c < 0x7f {
		return p.syntax("unexpected character '" + string(rune(c)) + "'")
	}
	return p.syntax("unexpected byte 0x" + strconv.FormatUint(uint64(c), 16))
}

func (p *parser) typeError(want string) *decodeError {
	return p.fail("'" + p.field + "' must be " + want)
}

func (p *parser) enter() *decodeError {
	p.depth++
	if p.depth > maxJSONDepth {
		return p.fail("JSON nesting is deeper than " + strconv.Itoa(maxJSONDepth) + " levels")
	}
	return nil
}

// object decodes the top-level object, at '{'.
func (p *parser) object(req *bridge.SendRequest) *decodeError {
	if err := p.enter(); err != nil {
		return err
	}
	p.i++
	p.ws()
	if p.i < len(p.b) && p.b[p.i] == '}' {
		p.i++
		p.depth--
		return nil
	}
	for {
		if p.i >= len(p.b) || p.b[p.i] != '"' {
			return p.unexpected()
		}
		key, err := p.str()
		if err != nil {
			return err
		}
		p.ws()
		if p.i >= len(p.b) || p.b[p.i] != ':' {
			return p.unexpected()
		}
		p.i++
		p.ws()
		// switch on string(key) compiles to a comparison without a copy.
		switch string(key) {
		case fApplicationID:
			p.field = fApplicationID
			err = p.stringField(&req.ApplicationID, nil)
		case fTo:
			p.field = fTo
			err = p.toField(req)
		case fFrom:
			p.field = fFrom
			err = p.stringField(&req.From, nil)
		case fText:
			p.field = fText
			err = p.stringField(&req.Text, nil)
		case fMedia:
			p.field = fMedia
			err = p.mediaField(req)
		case fTag:
			p.field = fTag
			err = p.stringField(&req.Tag, &req.HasTag)
		case fPriority:
			p.field = fPriority
			err = p.stringField(&req.Priority, nil)
		case fExpiration:
			p.field = fExpiration
			err = p.expirationField(req)
		default:
			p.field = ""
			err = p.skip()
		}
		if err != nil {
			return err
		}
		p.field = ""
		if done, err := p.objectNext(); done || err != nil {
			return err
		}
	}
}

// null consumes a JSON null. A null known field is treated as absent, as
// Jackson leaves the Java field unset.
func (p *parser) null() bool {
	if len(p.b)-p.i >= 4 && string(p.b[p.i:p.i+4]) == "null" {
		p.i += 4
		return true
	}
	return false
}

func (p *parser) stringField(dst *string, present *bool) *decodeError {
	if p.null() {
		return nil
	}
	if p.i >= len(p.b) || p.b[p.i] != '"' {
		return p.typeError("a string")
	}
	s, err := p.str()
	if err != nil {
		return err
	}
	p.keep(dst, s)
	if present != nil {
		*present = true
	}
	return nil
}

func (p *parser) toField(req *bridge.SendRequest) *decodeError {
	if p.null() {
		req.To = nil
		return nil
	}
	if p.i < len(p.b) && p.b[p.i] == '"' {
		s, err := p.str()
		if err != nil {
			return err
		}
		req.To = make([]string, 1) // the older bare-string form
		p.keep(&req.To[0], s)
		return nil
	}
	if p.i >= len(p.b) || p.b[p.i] != '[' {
		return p.typeError("an array of strings or a string")
	}
	to, err := p.stringArray("an array of strings or a string")
	req.To = to
	return err
}

func (p *parser) mediaField(req *bridge.SendRequest) *decodeError {
	if p.null() {
		req.Media = nil
		return nil
	}
	if p.i >= len(p.b) || p.b[p.i] != '[' {
		return p.typeError("an array of strings")
	}
	media, err := p.stringArray("an array of strings")
	req.Media = media
	return err
}

// stringArray decodes an array of strings, at '['.
func (p *parser) stringArray(want string) ([]string, *decodeError) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	p.i++
	p.ws()
	if p.i < len(p.b) && p.b[p.i] == ']' {
		p.i++
		p.depth--
		return nil, nil
	}
	// The elements go to the arena; the slice is made once their number is
	// known, and its elements become fixups then.
	type span struct{ off, n int }
	var spanBuf [8]span
	spans := spanBuf[:0]
	for {
		if len(spans) == maxArrayElements {
			return nil, p.fail("'" + p.field + "' has more than " + strconv.Itoa(maxArrayElements) + " elements")
		}
		if p.i >= len(p.b) {
			return nil, p.syntax("")
		}
		if p.b[p.i] != '"' {
			return nil, p.typeError(want)
		}
		s, err := p.str()
		if err != nil {
			return nil, err
		}
		p.arena = append(p.arena, s...)
		spans = append(spans, span{len(p.arena) - len(s), len(s)})
		p.ws()
		if p.i >= len(p.b) {
			return nil, p.syntax("")
		}
		switch p.b[p.i] {
		case ',':
			p.i++
			p.ws()
		case ']':
			p.i++
			p.depth--
			out := make([]string, len(spans))
			for k, sp := range spans {
				p.fixups = append(p.fixups, fixup{&out[k], sp.off, sp.n})
			}
			return out, nil
		default:
			return nil, p.unexpected()
		}
	}
}

func (p *parser) expirationField(req *bridge.SendRequest) *decodeError {
	if p.null() {
		req.Expiration = nil
		return nil
	}
	if p.i >= len(p.b) || p.b[p.i] != '"' {
		return p.typeError("an RFC 3339 date-time string")
	}
	s, err := p.str()
	if err != nil {
		return err
	}
	// time.Parse with RFC3339 also accepts fractional seconds. The parsed
	// value holds no reference to s.
	t, perr := time.Parse(time.RFC3339, string(s))
	if perr != nil {
		return p.fail("'expiration' must be an RFC 3339 date-time such as 2025-01-02T15:04:05Z")
	}
	t = t.UTC()
	req.Expiration = &t
	return nil
}

// str reads a JSON string at '"' and returns its value. The result aliases
// either the body or p.scratch; callers copy it before reading on.
func (p *parser) str() ([]byte, *decodeError) {
	start := p.i + 1
	b := p.b
	i := start
	// Plain bytes eight at a time, then one by one up to the special one;
	// seen gathers their bits, so pure ASCII skips the UTF-8 check.
	var seen uint64
	for i+8 <= len(b) {
		x := binary.LittleEndian.Uint64(b[i:])
		if bridge.JSONStringSpecial8(x) {
			break
		}
		seen |= x
		i += 8
	}
	for i < len(b) && !strSpecial[b[i]] {
		seen |= uint64(b[i])
		i++
	}
	switch {
	case i == len(p.b):
		p.i = i
		return nil, p.syntax("")
	case p.b[i] == '\\':
		return p.strEscaped(start, i)
	case p.b[i] != '"':
		p.i = i
		return nil, p.syntax("control character in a string")
	}
	s := p.b[start:i]
	if seen&0x8080808080808080 != 0 && !utf8.Valid(s) {
		p.i = start
		return nil, p.invalidUTF8()
	}
	p.i = i + 1
	return s, nil
}

// strSpecial marks the bytes that end the plain scan of a string.
var strSpecial = func() (t [256]bool) {
	for c := range 0x20 {
		t[c] = true
	}
	t['"'], t['\\'] = true, true
	return t
}()

func (p *parser) invalidUTF8() *decodeError {
	if p.field == "" {
		return p.fail("The request contains a string that is not valid UTF-8")
	}
	return p.fail("'" + p.field + "' is not valid UTF-8")
}

// strEscaped finishes a string that contains escapes, unescaping into
// p.scratch. b[start:i] is the escape-free prefix already scanned; i is at
// the first backslash.
func (p *parser) strEscaped(start, i int) ([]byte, *decodeError) {
	if !utf8.Valid(p.b[start:i]) {
		p.i = start
		return nil, p.invalidUTF8()
	}
	out := append(p.scratch[:0], p.b[start:i]...)
	run := i // start of the literal run not yet copied to out
	for i < len(p.b) {
		c := p.b[i]
		if c != '"' && c != '\\' {
			if c < 0x20 {
				p.i = i
				return nil, p.syntax("control character in a string")
			}
			i++
			continue
		}
		// Literal runs are validated as a whole: escapes only ever add
		// valid UTF-8, so checking the runs checks the string.
		if !utf8.Valid(p.b[run:i]) {
			p.i = run
			return nil, p.invalidUTF8()
		}
		out = append(out, p.b[run:i]...)
		if c == '"' {
			p.i = i + 1
			p.scratch = out
			return out, nil
		}
		if i+1 >= len(p.b) {
			p.i = len(p.b)
			return nil, p.syntax("")
		}
		switch e := p.b[i+1]; e {
		case '"', '\\', '/':
			out = append(out, e)
			i += 2
		case 'b':
			out = append(out, '\b')
			i += 2
		case 'f':
			out = append(out, '\f')
			i += 2
		case 'n':
			out = append(out, '\n')
			i += 2
		case 'r':
			out = append(out, '\r')
			i += 2
		case 't':
			out = append(out, '\t')
			i += 2
		case 'u':
			r, ok := hex4(p.b, i+2)
			if !ok {
				p.i = i
				return nil, p.syntax("invalid \\u escape")
			}
			if r >= 0xD800 && r < 0xDC00 {
				// A high surrogate must be followed by an escaped low one.
				r2, ok := hex4(p.b, i+8)
				if !ok || p.b[i+6] != '\\' || p.b[i+7] != 'u' || r2 < 0xDC00 || r2 > 0xDFFF {
					p.i = i
					return nil, p.syntax("unpaired UTF-16 surrogate in a \\u escape")
				}
				r = 0x10000 + (r-0xD800)<<10 + (r2 - 0xDC00)
				i += 6
			} else if r >= 0xDC00 && r <= 0xDFFF {
				p.i = i
				return nil, p.syntax("unpaired UTF-16 surrogate in a \\u escape")
			}
			out = utf8.AppendRune(out, r)
			i += 6
		default:
			p.i = i
			return nil, p.syntax("invalid escape sequence")
		}
		run = i
	}
	p.scratch = out
	p.i = len(p.b)
	return nil, p.syntax("")
}

func hex4(b []byte, at int) (rune, bool) {
	if at+4 > len(b) {
		return 0, false
	}
	var r rune
	for _, c := range b[at : at+4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// skip checks and skips any JSON value: the value of an unknown field.
func (p *parser) skip() *decodeError {
	if p.i >= len(p.b) {
		return p.syntax("")
	}
	switch c := p.b[p.i]; {
	case c == '"':
		_, err := p.str()
		return err
	case c == '{':
		return p.skipObject()
	case c == '[':
		return p.skipArray()
	case c == '-' || (c >= '0' && c <= '9'):
		return p.number()
	case c == 't':
		return p.literal("true")
	case c == 'f':
		return p.literal("false")
	case c == 'n':
		return p.literal("null")
	default:
		return p.unexpected()
	}
}

func (p *parser) literal(lit string) *decodeError {
	if len(p.b)-p.i >= len(lit) && string(p.b[p.i:p.i+len(lit)]) == lit {
		p.i += len(lit)
		return nil
	}
	return p.unexpected()
}

func (p *parser) number() *decodeError {
	if p.b[p.i] == '-' {
		p.i++
	}
	if p.i >= len(p.b) {
		return p.syntax("")
	}
	switch c := p.b[p.i]; {
	case c == '0':
		p.i++
	case c >= '1' && c <= '9':
		p.digits()
	default:
		return p.unexpected()
	}
	if p.i < len(p.b) && p.b[p.i] == '.' {
		p.i++
		if p.digits() == 0 {
			return p.unexpected()
		}
	}
	if p.i < len(p.b) && (p.b[p.i] == 'e' || p.b[p.i] == 'E') {
		p.i++
		if p.i < len(p.b) && (p.b[p.i] == '+' || p.b[p.i] == '-') {
			p.i++
		}
		if p.digits() == 0 {
			return p.unexpected()
		}
	}
	return nil
}

func (p *parser) digits() int {
	n := 0
	for p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9' {
		p.i++
		n++
	}
	return n
}

func (p *parser) skipObject() *decodeError {
	if err := p.enter(); err != nil {
		return err
	}
	p.i++
	p.ws()
	if p.i < len(p.b) && p.b[p.i] == '}' {
		p.i++
		p.depth--
		return nil
	}
	for {
		if p.i >= len(p.b) || p.b[p.i] != '"' {
			return p.unexpected()
		}
		if _, err := p.str(); err != nil {
			return err
		}
		p.ws()
		if p.i >= len(p.b) || p.b[p.i] != ':' {
			return p.unexpected()
		}
		p.i++
		p.ws()
		if err := p.skip(); err != nil {
			return err
		}
		if done, err := p.objectNext(); done || err != nil {
			return err
		}
	}
}

func (p *parser) skipArray() *decodeError {
	if err := p.enter(); err != nil {
		return err
	}
	p.i++
	p.ws()
	if p.i < len(p.b) && p.b[p.i] == ']' {
		p.i++
		p.depth--
		return nil
	}
	for n := 1; ; n++ {
		if n > maxArrayElements {
			return p.fail("The request contains an array with more than " + strconv.Itoa(maxArrayElements) + " elements")
		}
		if err := p.skip(); err != nil {
			return err
		}
		p.ws()
		if p.i >= len(p.b) {
			return p.syntax("")
		}
		switch p.b[p.i] {
		case ',':
			p.i++
			p.ws()
		case ']':
			p.i++
			p.depth--
			return nil
		default:
			return p.unexpected()
		}
	}
}

// --- encoding ---

// timeLayout is V2's timestamp form: UTC, milliseconds, 'Z'.
const timeLayout = "2006-01-02T15:04:05.000Z"

// appendMessage renders the 202 body (v2-api.md §1.3) in the documented field
// order. Unset optional fields are omitted, never null. Hand-rolled because
// it is on every accepted request and has no reflection or allocation.
func appendMessage(dst []byte, m *bridge.Message) []byte {
	dst = append(dst, `{"id":`...)
	dst = bridge.AppendJSONString(dst, m.ID)
	dst = append(dst, `,"owner":`...)
	dst = bridge.AppendJSONString(dst, m.Owner)
	dst = append(dst, `,"applicationId":`...)
	dst = bridge.AppendJSONString(dst, m.ApplicationID)
	dst = append(dst, `,"time":"`...)
	dst = bridge.AppendV2Time(dst, m.Time)
	dst = append(dst, `","segmentCount":`...)
	dst = strconv.AppendInt(dst, int64(m.SegmentCount), 10)
	dst = append(dst, `,"direction":`...)
	dir := m.Direction
	if dir == "" {
		dir = "out" // every message this API creates is outbound
	}
	dst = bridge.AppendJSONString(dst, dir)
	dst = append(dst, `,"to":`...)
	dst = bridge.AppendJSONStrings(dst, m.To) // always an array, even when empty
	dst = append(dst, `,"from":`...)
	dst = bridge.AppendJSONString(dst, m.From)
	if len(m.Media) > 0 {
		dst = append(dst, `,"media":`...)
		dst = bridge.AppendJSONStrings(dst, m.Media)
	}
	dst = append(dst, `,"text":`...)
	dst = bridge.AppendJSONString(dst, m.Text)
	if m.HasTag {
		dst = append(dst, `,"tag":`...)
		dst = bridge.AppendJSONString(dst, m.Tag)
	}
	prio := m.Priority
	if prio == "" {
		prio = "default" // V2 reports the default explicitly
	}
	dst = append(dst, `,"priority":`...)
	dst = bridge.AppendJSONString(dst, prio)
	if m.Expiration != nil {
		dst = append(dst, `,"expiration":"`...)
		dst = bridge.AppendV2Time(dst, *m.Expiration)
		dst = append(dst, '"')
	}
	return append(dst, '}')
}

// appendErrorBody renders {type, description}.
func appendErrorBody(dst []byte, typ, desc string) []byte {
	dst = append(dst, `{"type":`...)
	dst = bridge.AppendJSONString(dst, typ)
	dst = append(dst, `,"description":`...)
	dst = bridge.AppendJSONString(dst, desc)
	return append(dst, '}')
}

// appendValidationBody renders the 400 body. fieldErrors is omitted when
// empty; fieldName is omitted when the error is not tied to a field.
func appendValidationBody(dst []byte, desc string, fields []bridge.FieldError) []byte {
	dst = append(dst, `{"type":"`+typeValidation+`","description":`...)
	dst = bridge.AppendJSONString(dst, desc)
	if len(fields) > 0 {
		dst = append(dst, `,"fieldErrors":[`...)
		for i, f := range fields {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = append(dst, '{')
			if f.FieldName != "" {
				dst = append(dst, `"fieldName":`...)
				dst = bridge.AppendJSONString(dst, f.FieldName)
				dst = append(dst, ',')
			}
			dst = append(dst, `"description":`...)
			dst = bridge.AppendJSONString(dst, f.Description)
			dst = append(dst, '}')
		}
		dst = append(dst, ']')
	}
	return append(dst, '}')
}

// appendNotFoundBody renders the Spring Boot style 404 that Bandwidth
// answers for unknown paths. path is the request's path as sent, like
// Spring's request URI.
func appendNotFoundBody(dst []byte, now time.Time, path []byte) []byte {
	dst = append(dst, `{"timestamp":"`...)
	dst = bridge.AppendV2Time(dst, now)
	dst = append(dst, `","status":404,"error":"Not Found","message":"No message available","path":`...)
	dst = bridge.AppendJSONString(dst, string(path)) // the compiler avoids copying here
	return append(dst, '}')
}

const hexDigits = "0123456789abcdef"

// objectNext reads what follows a member value: ',' (another member) or
// '}' (the object ends; done).
func (p *parser) objectNext() (done bool, err *decodeError) {
	p.ws()
	if p.i >= len(p.b) {
		return false, p.syntax("")
	}
	switch p.b[p.i] {
	case ',':
		p.i++
		p.ws()
		return false, nil
	case '}':
		p.i++
		p.depth--
		return true, nil
	default:
		return false, p.unexpected()
	}
}
