package store

import (
	"bytes"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// bucketDirectory holds the live directory the bridge manages (accounts
// with their applications, numbers and credentials; blocked numbers; the
// opt-out list): kind + 0 + key -> value. The store does not interpret the
// values: the bridge encodes them, so a different store (JetStream KV) only
// needs the same three operations.
var bucketDirectory = []byte("directory")

// DirectoryEntry is one directory value; a nil Value deletes the key.
type DirectoryEntry struct {
	Kind  string // e.g. "account", "blocked", "optout"; no 0 byte
	Key   string
	Value []byte
}

func directoryKey(kind, key string) []byte {
	k := make([]byte, 0, len(kind)+1+len(key))
	k = append(k, kind...)
	k = append(k, 0)
	return append(k, key...)
}

// PutDirectory writes entries durably in one commit, all or none.
func (s *Store) PutDirectory(entries []DirectoryEntry) error {
	keys := make([][]byte, len(entries))
	for i, e := range entries {
		if e.Kind == "" || bytes.IndexByte([]byte(e.Kind), 0) >= 0 {
			return fmt.Errorf("store: directory kind %q", e.Kind)
		}
		keys[i] = directoryKey(e.Kind, e.Key)
	}
	err := s.write(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketDirectory)
		for i, e := range entries {
			var err error
			if e.Value == nil {
				err = b.Delete(keys[i])
			} else {
				err = b.Put(keys[i], e.Value)
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: directory: %w", err)
	}
	return nil
}

// LoadDirectory calls fn for every directory entry (at start-up). value is
// a copy fn may keep.
func (s *Store) LoadDirectory(fn func(kind, key string, value []byte) error) error {
	return s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketDirectory).ForEach(func(k, v []byte) error {
			kind, key, ok := bytes.Cut(k, []byte{0})
			if !ok {
				return fmt.Errorf("store: directory key %q", k)
			}
			return fn(string(kind), string(key), bytes.Clone(v))
		})
	})
}
