//go:build linux && (amd64 || arm64)

package store

import (
	"os"
	"syscall"
)

// evictPages drops the store file's pages from this process's mapping and
// from the page cache, so that the next reads come from the disk: the cold
// case of a store larger than memory. Linux only; best effort.
func (s *Store) evictPages() error {
	fi, err := os.Stat(s.db.Path())
	if err != nil {
		return err
	}
	// Mapped pages stay cached: unmap them from this process first.
	const madvDontNeed, fadvDontNeed = 4, 4
	if _, _, e := syscall.Syscall(syscall.SYS_MADVISE, s.db.Info().Data, uintptr(fi.Size()), madvDontNeed); e != 0 {
		return e
	}
	f, err := os.Open(s.db.Path())
	if err != nil {
		return err
	}
	defer f.Close()
	if _, _, e := syscall.Syscall6(syscall.SYS_FADVISE64, f.Fd(), 0, 0, fadvDontNeed, 0, 0); e != 0 {
		return e
	}
	return nil
}
