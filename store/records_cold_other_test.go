//go:build !(linux && (amd64 || arm64))

package store

import "errors"

func (s *Store) evictPages() error {
	return errors.New("evicting cached pages is only implemented on Linux")
}
