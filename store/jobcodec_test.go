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
		Created: time.Unix(100, 0), Attempts: 2, LastError: "HTTP 500", RequestID: "req-1"}
	got, ep, err := decodeJob(7, encodeJob(3, &j))
	if err != nil || ep != 3 || got.RequestID != "req-1" || got.LastError != "HTTP 500" || !bytes.Equal(got.Body, j.Body) || got.Attempts != 2 {
		t.Fatalf("round trip: %+v ep %d err %v", got, ep, err)
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
}
