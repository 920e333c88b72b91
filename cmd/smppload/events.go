package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
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
	start := p.i
	p.i++
	escaped := false
	for p.i < len(p.b) {
		switch c := p.b[p.i]; {
		case c == '"':
			p.i++
			if !escaped {
				return p.b[start+1 : p.i-1], nil
			}
			var s string
			if err := json.Unmarshal(p.b[start:p.i], &s); err != nil {
				return nil, fmt.Errorf("callback JSON: bad string at offset %d: %w", start, err)
			}
			return []byte(s), nil
		case c == '\\':
			escaped = true
			p.i += 2
		case c < 0x20:
			return nil, p.fail("no control character in a string")
		default:
			p.i++
		}
	}
	return nil, p.fail("end of string")
}

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
	start := p.i
	for p.i < len(p.b) {
		c := p.b[p.i]
		if (c < '0' || c > '9') && c != '-' && c != '+' && c != '.' && c != 'e' && c != 'E' {
			break
		}
		p.i++
	}
	if p.i == start || !json.Valid(p.b[start:p.i]) {
		return p.fail("value")
	}
	return nil
}
