package conf

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/BurntSushi/toml"
)

// Load reads and validates the configuration file at path. Relative file
// paths in it (store.path, including its default, and the TLS files) are
// resolved against the file's directory, so the daemon does not depend on
// its working directory. Every error returned names the file.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	c, errs := decode(data)
	if c != nil {
		c.resolvePaths(filepath.Dir(path))
		errs = append(errs, c.validate()...)
	}
	if len(errs) > 0 {
		for _, e := range errs {
			if ce, ok := e.(*Error); ok {
				ce.File = path
			}
		}
		return nil, errors.Join(errs...)
	}
	return c, nil
}

// Parse decodes and validates a configuration, leaving file paths as
// written.
func Parse(data []byte) (*Config, error) {
	c, errs := decode(data)
	if c != nil {
		errs = append(errs, c.validate()...)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return c, nil
}

func (c *Config) resolvePaths(dir string) {
	abs := func(p *string) {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(dir, *p)
		}
	}
	abs(&c.Store.Path)
	abs(&c.HTTP.TLSCertFile)
	abs(&c.HTTP.TLSKeyFile)
	for i := range c.Carriers {
		abs(&c.Carriers[i].TLSCAFile)
		abs(&c.Carriers[i].TLSCertFile)
		abs(&c.Carriers[i].TLSKeyFile)
	}
}

// decode turns TOML into a Config with defaults for absent keys. It returns
// a nil Config when the errors make decoding impossible (syntax or type
// errors); unknown keys alone do not, so they are reported together with the
// validation errors.
func decode(data []byte) (*Config, []error) {
	// The generic decode gives syntax errors with a position, and the tree
	// the strict check and the defaults need: it knows which keys are
	// present, with their array indexes.
	var raw map[string]any
	if _, err := toml.Decode(string(data), &raw); err != nil {
		return nil, []error{syntaxError(data, err)}
	}
	errs, typeErrs := checkTree(raw, reflect.TypeFor[Config](), "")
	if typeErrs {
		return nil, errs
	}
	c := new(Config)
	md, err := toml.Decode(string(data), c)
	if err != nil {
		// checkTree should have caught whatever the decoder rejects.
		return nil, append(errs, &Error{Msg: err.Error()})
	}
	// A safety net under checkTree, which sees more (wrong-case keys, which
	// the decoder accepts) and adds indexes to the paths.
	seen := make(map[string]bool, len(errs))
	for _, e := range errs {
		seen[indexRE.ReplaceAllString(e.(*Error).Key, "")] = true
	}
	for _, k := range md.Undecoded() {
		if !seen[k[:len(k)-1].String()] && !seen[k.String()] {
			errs = append(errs, &Error{Key: k.String(), Msg: "unknown key"})
		}
		seen[k.String()] = true // hides its subkeys; Undecoded lists parents first
	}
	fillDefaults(reflect.ValueOf(c).Elem(), reflect.ValueOf(Defaults()).Elem(), raw, true)
	return c, errs
}

var indexRE = regexp.MustCompile(`\[\d+\]`)

func syntaxError(data []byte, err error) error {
	var pe toml.ParseError
	if !errors.As(err, &pe) {
		return &Error{Msg: err.Error()}
	}
	// Count line and column from the byte offset, which the library always
	// sets: its own column is one too far when the error starts a line, and
	// its line is one short for errors at the end of input. The offset
	// counts from after any byte order mark.
	src := data
	for _, bom := range []string{"\xff\xfe", "\xfe\xff", "\xef\xbb\xbf"} {
		if bytes.HasPrefix(src, []byte(bom)) {
			src = src[len(bom):]
			break
		}
	}
	off := min(max(pe.Position.Start, 0), len(src))
	// Some spans begin with the blank before the bad token.
	for end := min(off+pe.Position.Len-1, len(src)); off < end && (src[off] == ' ' || src[off] == '\t'); off++ {
	}
	lineStart := bytes.LastIndexByte(src[:off], '\n') + 1
	line := 1 + bytes.Count(src[:off], []byte{'\n'})
	col := 1 + utf8.RuneCount(src[lineStart:off])
	msg := pe.Message
	lineText, _, _ := bytes.Cut(src[lineStart:], []byte{'\n'})
	if secretLine(lineText) {
		msg = quotedRE.ReplaceAllString(msg, "<value hidden>")
	}
	return &Error{Line: line, Column: col, Msg: msg}
}

// quotedRE matches what the TOML library's messages quote: the text it
// stopped at, in Go's %q form.
var quotedRE = regexp.MustCompile(`"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'`)

// secretLine reports whether a line sets a password or password hash: a
// syntax error there must not quote the value (an unquoted password, or
// one with a backslash read as a bad escape), as errors go to the journal.
func secretLine(line []byte) bool {
	key, _, ok := bytes.Cut(line, []byte{'='})
	if !ok {
		return false
	}
	k := strings.ToLower(strings.Trim(string(key), " \t\"'"))
	return strings.HasSuffix(k, "password") || strings.HasSuffix(k, "password_hash")
}

var durationType = reflect.TypeFor[Duration]()

// checkTree compares the generic tree with the schema t, reporting unknown
// keys and values of the wrong type with their indexed key paths. typeErrs
// is whether any error would stop the typed decoder.
func checkTree(tree map[string]any, t reflect.Type, path string) (errs []error, typeErrs bool) {
	fields := tomlFields(t)
	keys := make([]string, 0, len(tree))
	for k := range tree {
		keys = append(keys, k)
	}
	slices.Sort(keys) // maps have no order; errors should
	for _, k := range keys {
		key := joinKey(path, k)
		f, ok := fields[k]
		if !ok {
			errs = append(errs, &Error{Key: key, Msg: "unknown key" + suggest(k, fields)})
			// The decoder matches keys case-insensitively, so it would
			// still decode this one, and fail on a wrong type.
			for name, f := range fields {
				if strings.EqualFold(name, k) {
					if _, te := checkValue(tree[k], f.Type, key); te {
						typeErrs = true
					}
				}
			}
			continue
		}
		e, te := checkValue(tree[k], f.Type, key)
		errs = append(errs, e...)
		typeErrs = typeErrs || te
	}
	return errs, typeErrs
}

func checkValue(v any, t reflect.Type, key string) ([]error, bool) {
	bad := func(want string) ([]error, bool) {
		return []error{&Error{Key: key, Msg: fmt.Sprintf("must be %s, not %s", want, tomlType(v))}}, true
	}
	switch {
	case t == durationType:
		s, ok := v.(string)
		if !ok {
			return bad(`a duration string such as "30s"`)
		}
		if _, err := time.ParseDuration(s); err != nil {
			return []error{&Error{Key: key, Msg: fmt.Sprintf("invalid duration %q: use a number with a unit, such as \"30s\"", s)}}, true
		}
	case t.Kind() == reflect.String:
		if _, ok := v.(string); !ok {
			return bad("a string")
		}
	case t.Kind() == reflect.Bool:
		if _, ok := v.(bool); !ok {
			return bad("true or false")
		}
	case t.Kind() == reflect.Int:
		if _, ok := v.(int64); !ok {
			return bad("an integer")
		}
	case t.Kind() == reflect.Float64:
		switch n := v.(type) {
		case int64:
			// The decoder refuses integers a float64 cannot hold exactly.
			if n > 1<<53-1 || n < -(1<<53-1) {
				return bad("a number of at most 2^53")
			}
		case float64:
		default:
			return bad("a number")
		}
	case t.Kind() == reflect.Struct:
		m, ok := v.(map[string]any)
		if !ok {
			return bad("a table")
		}
		return checkTree(m, t, key)
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Struct:
		items, ok := tableItems(v)
		if !ok {
			return bad("an array of tables ([[" + key + "]])")
		}
		var errs []error
		var typeErrs bool
		for i, m := range items {
			e, te := checkTree(m, t.Elem(), fmt.Sprintf("%s[%d]", key, i))
			errs = append(errs, e...)
			typeErrs = typeErrs || te
		}
		return errs, typeErrs
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.String:
		list, ok := v.([]any)
		if !ok {
			return bad("a list of strings")
		}
		var errs []error
		for i, s := range list {
			if _, ok := s.(string); !ok {
				errs = append(errs, &Error{Key: fmt.Sprintf("%s[%d]", key, i), Msg: "must be a string, not " + tomlType(s)})
			}
		}
		return errs, len(errs) > 0
	case t.Kind() == reflect.Map && t.Key().Kind() == reflect.String:
		m, ok := v.(map[string]any)
		if !ok {
			return bad("a table")
		}
		var errs []error
		var typeErrs bool
		for _, k := range slices.Sorted(maps.Keys(m)) {
			e, te := checkValue(m[k], t.Elem(), key+"."+k)
			errs = append(errs, e...)
			typeErrs = typeErrs || te
		}
		return errs, typeErrs
	default:
		panic("conf: no check for field type " + t.String())
	}
	return nil, false
}

// tableItems returns the tables of an array of tables, written either as
// [[key]] sections or as an inline array of inline tables.
func tableItems(v any) ([]map[string]any, bool) {
	switch a := v.(type) {
	case []map[string]any:
		return a, true
	case []any:
		items := make([]map[string]any, len(a))
		for i, e := range a {
			m, ok := e.(map[string]any)
			if !ok {
				return nil, false
			}
			items[i] = m
		}
		return items, true
	}
	return nil, false
}

func tomlType(v any) string {
	switch v.(type) {
	case string:
		return "a string"
	case int64:
		return "an integer"
	case float64:
		return "a float"
	case bool:
		return "a boolean"
	case map[string]any:
		return "a table"
	case []map[string]any, []any:
		return "an array"
	case time.Time:
		return "a date or time"
	}
	return fmt.Sprintf("%T", v)
}

// tomlFields maps the TOML keys of struct type t to its fields.
func tomlFields(t reflect.Type) map[string]reflect.StructField {
	m := make(map[string]reflect.StructField, t.NumField())
	for i := range t.NumField() {
		f := t.Field(i)
		if name := tomlName(f); name != "" {
			m[name] = f
		}
	}
	return m
}

func tomlName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
	if name == "-" {
		return ""
	}
	return name
}

// joinKey appends k to a key path, quoted as TOML would need it.
func joinKey(path, k string) string {
	bare := k != ""
	for _, r := range k {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			bare = false
			break
		}
	}
	if !bare {
		k = strconv.Quote(k)
	}
	if path == "" {
		return k
	}
	return path + "." + k
}

// suggest names the known key the operator probably meant.
func suggest(k string, fields map[string]reflect.StructField) string {
	best, bestDist := "", 3
	for name := range fields {
		d := editDistance(strings.ToLower(k), name)
		if d < bestDist || d == bestDist && best != "" && name < best {
			best, bestDist = name, d
		}
	}
	if best == "" || bestDist > 0 && len(k) <= bestDist {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return math.MaxInt // not a typo; and keeps fuzzed input cheap
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
