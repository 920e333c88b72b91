package store

import (
	"bytes"
	"encoding/binary"
	"testing"
	"time"
)

// TestJobCodecRequestID: the request id survives encoding, and records of
// the previous version (no request id) still decode after an upgrade.
func TestJobCodecRequestID(t *testing.T) {
	j := CallbackJob{ApplicationID: "app", Kind: "status", URL: "http://127.0.0.1:9/cb", Body: []byte(`[{"type":"x"}]`),
		Created: time.Unix(100, 0), Attempts: 2, LastError: "HTTP 500", RequestID: "req-1", AcceptsRecord: "mo-1"}
	got, ep, err := decodeJob(7, encodeJob(3, &j))
	if err != nil || ep != 3 || got.RequestID != "req-1" || got.AcceptsRecord != "mo-1" || got.LastError != "HTTP 500" || !bytes.Equal(got.Body, j.Body) || got.Attempts != 2 {
		t.Fatalf("round trip: %+v ep %d err %v", got, ep, err)
	}
	if m := jobAcceptsRecord(encodeJob(3, &j)); m != "mo-1" {
		t.Fatalf("jobAcceptsRecord: %q", m)
	}

	// Version 1, as written before: four strings, then the body.
	v1 := []byte{jobVersion1}
	v1 = binary.BigEndian.AppendUint32(v1, 3)
	v1 = binary.BigEndian.AppendUint64(v1, 0)
	v1 = binary.BigEndian.AppendUint64(v1, unixNanos(j.Created))
	v1 = binary.AppendUvarint(v1, 1)
	for _, s := range []string{"app", "status", "http://127.0.0.1:9/cb", ""} {
		v1 = binary.AppendUvarint(v1, uint64(len(s)))
		v1 = append(v1, s...)
	}
	v1 = append(v1, j.Body...)
	old, ep, err := decodeJob(8, v1)
	if err != nil || ep != 3 || old.ApplicationID != "app" || old.URL != j.URL || old.RequestID != "" || !bytes.Equal(old.Body, j.Body) {
		t.Fatalf("version 1: %+v ep %d err %v", old, ep, err)
	}
	if _, _, err := jobIndex(v1); err != nil {
		t.Fatalf("jobIndex on version 1: %v", err)
	}

	// Version 2: five strings (with the request id), then the body.
	v2 := []byte{jobVersion2}
	v2 = binary.BigEndian.AppendUint32(v2, 3)
	v2 = binary.BigEndian.AppendUint64(v2, 0)
	v2 = binary.BigEndian.AppendUint64(v2, unixNanos(j.Created))
	v2 = binary.AppendUvarint(v2, 1)
	for _, s := range []string{"app", "status", "http://127.0.0.1:9/cb", "", "req-2"} {
		v2 = binary.AppendUvarint(v2, uint64(len(s)))
		v2 = append(v2, s...)
	}
	v2 = append(v2, j.Body...)
	old, ep, err = decodeJob(9, v2)
	if err != nil || ep != 3 || old.RequestID != "req-2" || old.AcceptsRecord != "" || !bytes.Equal(old.Body, j.Body) {
		t.Fatalf("version 2: %+v ep %d err %v", old, ep, err)
	}
	if m := jobAcceptsRecord(v2); m != "" {
		t.Fatalf("jobAcceptsRecord of version 2: %q", m)
	}
	if _, _, err := jobIndex(v2); err != nil {
		t.Fatalf("jobIndex on version 2: %v", err)
	}
}
