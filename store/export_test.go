package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// TestExportRows: every record of the range, in order, over several read
// batches, each row equal to the record it comes from (binary and JSON
// records alike); an error from fn stops the export and is returned.
func TestExportRows(t *testing.T) {
	s := openRecords(t)
	seedRecords(t, s, 2*exportChunk+10)
	// A record in the JSON form of an earlier version, inside the range.
	old := Record{MessageID: "old", AccountID: "a1", Direction: "in", From: "+1", To: "+2", Status: StatusReceived,
		ReceivedAt: rt0.Add(1500 * time.Millisecond), CarrierIDs: []string{"x", "y"}, Segments: 2, AllTo: []string{"+2"}}
	err := s.db.Update(func(tx *bolt.Tx) error {
		v, _ := json.Marshal(&old)
		if err := tx.Bucket(bucketRecords).Put(recordKey("old", 0), v); err != nil {
			return err
		}
		return tx.Bucket(bucketRecIdx).Put(appendTimeSuffix(accountPrefix("a1"), old.ReceivedAt, recordKey("old", 0)), nil)
	})
	if err != nil {
		t.Fatal(err)
	}
	var want []ExportRow
	err = s.ExportRecords("a1", rt0.Add(time.Second), time.Time{}, func(r *Record) error {
		row := ExportRowOf(r)
		want = append(want, cloneRow(&row))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var got []ExportRow
	err = s.ExportRows("a1", rt0.Add(time.Second), time.Time{}, func(r *ExportRow) error {
		got = append(got, cloneRow(r))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(want) != 2*exportChunk+10 || len(got) != len(want) {
		t.Fatalf("exported %d rows, ExportRecords %d, want %d", len(got), len(want), 2*exportChunk+10)
	}
	for i := range want {
		if !reflect.DeepEqual(got[i], want[i]) {
			t.Fatalf("row %d:\n got %+v\nwant %+v", i, got[i], want[i])
		}
	}
	if string(got[1].MessageID) != "old" || len(got[1].CarrierIDs) != 2 {
		t.Fatalf("JSON record row: %+v", got[1])
	}

	stop := errors.New("client gone")
	n := 0
	err = s.ExportRows("a1", time.Time{}, time.Time{}, func(*ExportRow) error {
		if n++; n == exportChunk+5 {
			return stop
		}
		return nil
	})
	if err != stop || n != exportChunk+5 {
		t.Fatalf("stopped export: %v after %d rows", err, n)
	}
	// An empty range.
	err = s.ExportRows("a2", rt0.Add(time.Hour), rt0.Add(2*time.Hour), func(*ExportRow) error { return fmt.Errorf("a row") })
	if err != nil {
		t.Fatal(err)
	}
}

func cloneRow(r *ExportRow) ExportRow {
	c := *r
	for _, f := range []*[]byte{&c.MessageID, &c.AccountID, &c.ApplicationID, &c.Direction, &c.Type, &c.Status, &c.From, &c.To,
		&c.Carrier, &c.Product, &c.CampaignID} {
		*f = append([]byte{}, *f...)
	}
	c.CarrierIDs = nil
	for _, id := range r.CarrierIDs {
		c.CarrierIDs = append(c.CarrierIDs, append([]byte{}, id...))
	}
	return c
}
