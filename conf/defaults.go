package conf

import (
	"reflect"
	"slices"
	"time"
)

// Defaults returns the configuration of a file with no keys: every default,
// and no carriers or accounts (so it does not validate on its own).
func Defaults() *Config {
	return &Config{
		HTTP: HTTP{
			Listen:         "127.0.0.1:8080",
			MaxBodyBytes:   256 << 10,
			MaxHeaderBytes: 8 << 10,
			ReadTimeout:    Duration(10 * time.Second),
			WriteTimeout:   Duration(10 * time.Second),
			IdleTimeout:    Duration(60 * time.Second),
		},
		Admin: Admin{Listen: "127.0.0.1:8081"},
		Store: Store{Path: "smppbridge.db", RecordRetention: Duration(14 * 24 * time.Hour), CommitDelay: Duration(300 * time.Microsecond)},
		Log:   Log{Format: "text", Level: "info"},
		API: API{
			GroupLimit:      10,
			MaxTextLength:   2048,
			ShutdownTimeout: Duration(20 * time.Second),
			ListRateLimit:   3500, // v2-api.md §4.1: 3 500 per 5 minutes per IP
			ListRateWindow:  Duration(5 * time.Minute),
		},
		Callbacks: Callbacks{
			Timeout:                Duration(10 * time.Second),
			RetryFor:               Duration(24 * time.Hour),
			DeadLetterRetention:    Duration(7 * 24 * time.Hour),
			MaxBatch:               1,
			ConcurrencyPerEndpoint: 4,
		},
		Policy: Policy{EmergencyNumbers: []string{"911", "112", "999", "000", "110", "119", "118", "100", "101", "102", "108"}},
	}
}

// DefaultReceiptWait is a carrier's default receipt_wait; the daemon also
// ends the waits of carriers no longer configured after it.
const DefaultReceiptWait = 2 * time.Hour

// defaultCarrier holds the defaults of a [[carrier]] table.
func defaultCarrier() Carrier {
	return Carrier{
		BindType:            BindTransceiver,
		Binds:               1,
		Window:              10,
		QueueSeconds:        900,
		DataCoding:          DataCodingGSM7,
		LongMessage:         LongUDH8,
		ReceiptWait:         Duration(DefaultReceiptWait),
		Media:               MediaReject,
		ReceiptsPerSegment:  ReceiptsAll,
		ReceiptIDFormat:     ReceiptIDAuto,
		EnquireLinkInterval: Duration(30 * time.Second),
		ResponseTimeout:     Duration(10 * time.Second),
		ReconnectMin:        Duration(500 * time.Millisecond),
		ReconnectMax:        Duration(30 * time.Second),
		ThrottlePause:       Duration(time.Second),
		ShortCodeTON:        3,
		ShortCodeNPI:        0,
		MOConcatTimeout:     Duration(5 * time.Minute),
	}
}

// defaultApplication holds the defaults of an [[account.application]] table.
func defaultApplication() Application {
	return Application{ReceiptEvents: []string{EventDelivered, EventFailed}}
}

// tableDefault is the default element of each array of tables.
func tableDefault(t reflect.Type) reflect.Value {
	switch t {
	case reflect.TypeFor[Carrier]():
		return reflect.ValueOf(defaultCarrier())
	case reflect.TypeFor[Application]():
		return reflect.ValueOf(defaultApplication())
	case reflect.TypeFor[ReceiptMapEntry]():
		return reflect.ValueOf(ReceiptMapEntry{Outcome: OutcomeFailed})
	}
	return reflect.New(t).Elem()
}

// ApplyDefaults sets every field that holds its zero value (a nil list, for
// lists) to its default, in c and in each carrier and application. It is for
// configurations built in code; Load and Parse instead default the keys
// absent from the file, so that an explicit zero is kept and validated.
// Note that short_code_ton is the one key whose zero is valid and whose
// default is not: ApplyDefaults turns 0 into 3.
func (c *Config) ApplyDefaults() {
	fillDefaults(reflect.ValueOf(c).Elem(), reflect.ValueOf(Defaults()).Elem(), nil, false)
}

// fillDefaults copies fields of def into v. With byTree it fills the fields
// whose key is absent from tree (the decoded file); without, the fields that
// are zero. Arrays of tables are filled element by element from
// tableDefault, so the schema and Defaults are the only lists of keys.
func fillDefaults(v, def reflect.Value, tree map[string]any, byTree bool) {
	t := v.Type()
	for i := range t.NumField() {
		f, d := v.Field(i), def.Field(i)
		sub, present := tree[tomlName(t.Field(i))]
		if !byTree {
			present = !f.IsZero()
		}
		switch {
		case f.Kind() == reflect.Struct:
			m, _ := sub.(map[string]any)
			fillDefaults(f, d, m, byTree)
		case f.Kind() == reflect.Slice && f.Type().Elem().Kind() == reflect.Struct:
			items, _ := tableItems(sub)
			ed := tableDefault(f.Type().Elem())
			for j := range f.Len() {
				var m map[string]any
				if j < len(items) {
					m = items[j]
				}
				fillDefaults(f.Index(j), ed, m, byTree)
			}
		case !present:
			if f.Kind() == reflect.Slice && !d.IsNil() {
				// Each element gets its own copy of a default list.
				f.Set(reflect.ValueOf(slices.Clone(d.Interface().([]string))))
			} else {
				f.Set(d)
			}
		}
	}
}
