package main

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"

	"smppbridge/bridge"
)

// scanEvents walks a callback body, a JSON array of V2 events, and calls
// fn with each event's type, to and message.id: all the sink counts. It
// checks the JSON's structure and skips every other value without
// decoding it, which costs a fraction of encoding/json's Unmarshal.
// Strings with escapes are unescaped (ids and numbers have none). A
// missing field is passed as empty.
func scanEvents(body []byte, fn func(typ, to, id []byte)) error {
	p := &jsonScan{b: body}
	if err := p.expect('['); err != nil {
		return err
	}
	if p.next() == ']' {
		p.i++
		return p.end()
	}
	for {
		if err := p.event(fn); err != nil {
			return err
		}
		switch p.next() {
		case ',':
			p.i++
		case ']':
			p.i++
			return p.end()
		default:
			return p.fail("',' or ']' after an event")
		}
	}
}

type jsonScan struct {
	b []byte
	i int
}

var errScanDepth = errors.New("callback JSON nested too deeply")

func (p *jsonScan) fail(want string) error {
	return fmt.Errorf("callback JSON: %s expected at offset %d", want, p.i)
}

// next skips white space and returns the next byte (0 at the end).
func (p *jsonScan) next() byte {
	for p.i < len(p.b) {
		switch c := p.b[p.i]; c {
		case ' ', '\t', '\r', '\n':
			p.i++
		default:
			return c
		}
	}
	return 0
}

func (p *jsonScan) expect(c byte) error {
	if p.next() != c {
		return p.fail(fmt.Sprintf("%q", c))
	}
	p.i++
	return nil
}

func (p *jsonScan) end() error {
	if p.next() != 0 {
		return p.fail("end of body")
	}
	return nil
}

// event reads one event object.
func (p *jsonScan) event(fn func(typ, to, id []byte)) error {
	var typ, to, id []byte
	err := p.object(func(key []byte) (err error) {
		switch string(key) {
		case "type":
			typ, err = p.str()
		case "to":
			to, err = p.str()
		case "message":
			if p.next() != '{' {
				return p.fail("message object")
			}
			err = p.object(func(key []byte) (err error) {
				if string(key) == "id" {
					id, err = p.str()
					return err
				}
				return p.skip(1)
			})
		default:
			err = p.skip(0)
		}
		return err
	})
	if err != nil {
		return err
	}
	fn(typ, to, id)
	return nil
}

// object reads an object, calling member for each key with the scanner at
// the member's value, which member must consume.
func (p *jsonScan) object(member func(key []byte) error) error {
	if err := p.expect('{'); err != nil {
		return err
	}
	if p.next() == '}' {
		p.i++
		return nil
	}
	for {
		key, err := p.str()
		if err != nil {
			return err
		}
		if err := p.expect(':'); err != nil {
			return err
		}
		if err := member(key); err != nil {
			return err
		}
		switch p.next() {
		case ',':
			p.i++
		case '}':
			p.i++
			return nil
		default:
			return p.fail("',' or '}'")
		}
	}
}

// str reads a string and returns its contents: a slice of the body when it
// has no escapes, else a fresh unescaped copy.
func (p *jsonScan) str() ([]byte, error) {
	if p.next() != '"' {
		return nil, p.fail("string")
	}
	// Locals, not p.b and p.i: the loops then run in registers.
	b, start := p.b, p.i
	i := start + 1
	escaped := false
	for {
		// Most of a body is string contents: skip plain bytes eight at a
		// time, then one at a time up to the special one.
		for i+8 <= len(b) && !bridge.JSONStringSpecial8(binary.LittleEndian.Uint64(b[i:])) {
			i += 8
		}
		for i < len(b) && !strSpecial[b[i]] {
			i++
		}
		if i >= len(b) {
			p.i = len(b)
			return nil, p.fail("end of string")
		}
		switch c := b[i]; {
		case c == '"':
			p.i = i + 1
			if !escaped {
				return b[start+1 : i], nil
			}
			var s string
			if err := json.Unmarshal(b[start:i+1], &s); err != nil {
				return nil, fmt.Errorf("callback JSON: bad string at offset %d: %w", start, err)
			}
			return []byte(s), nil
		case c == '\\':
			escaped = true
			i += 2
		default: // below 0x20
			p.i = i
			return nil, p.fail("no control character in a string")
		}
	}
}

// strSpecial marks the bytes that end or escape a string, or may not
// appear in one.
var strSpecial = func() (t [256]bool) {
	for c := range 0x20 {
		t[c] = true
	}
	t['"'], t['\\'] = true, true
	return t
}()

// skip consumes any value; depth bounds nesting.
func (p *jsonScan) skip(depth int) error {
	if depth > 64 {
		return errScanDepth
	}
	switch c := p.next(); {
	case c == '"':
		_, err := p.str()
		return err
	case c == '{':
		return p.object(func([]byte) error { return p.skip(depth + 1) })
	case c == '[':
		p.i++
		if p.next() == ']' {
			p.i++
			return nil
		}
		for {
			if err := p.skip(depth + 1); err != nil {
				return err
			}
			switch p.next() {
			case ',':
				p.i++
			case ']':
				p.i++
				return nil
			default:
				return p.fail("',' or ']'")
			}
		}
	default:
		return p.literal()
	}
}

// literal consumes true, false, null or a number.
func (p *jsonScan) literal() error {
	for _, lit := range [...]string{"true", "false", "null"} {
		if bytes.HasPrefix(p.b[p.i:], []byte(lit)) {
			p.i += len(lit)
			return nil
		}
	}
	if !p.number() {
		return p.fail("value")
	}
	return nil
}

// number consumes a JSON number: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
func (p *jsonScan) number() bool {
	if p.i < len(p.b) && p.b[p.i] == '-' {
		p.i++
	}
	switch {
	case p.i < len(p.b) && p.b[p.i] == '0':
		p.i++
	case p.digits() == 0:
		return false
	}
	if p.i < len(p.b) && p.b[p.i] == '.' {
		p.i++
		if p.digits() == 0 {
			return false
		}
	}
	if p.i < len(p.b) && (p.b[p.i] == 'e' || p.b[p.i] == 'E') {
		p.i++
		if p.i < len(p.b) && (p.b[p.i] == '+' || p.b[p.i] == '-') {
			p.i++
		}
		if p.digits() == 0 {
			return false
		}
	}
	// A number ends where a structural character or white space does:
	// "01" or "1x" are not numbers.
	if p.i < len(p.b) {
		switch p.b[p.i] {
		case ',', '}', ']', ' ', '\t', '\r', '\n':
		default:
			return false
		}
	}
	return true
}

func (p *jsonScan) digits() int {
	start := p.i
	for p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9' {
		p.i++
	}
	return p.i - start
}
