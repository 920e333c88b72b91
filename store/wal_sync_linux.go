//go:build linux

package store

import (
	"os"
	"syscall"
)

// syncData makes the file's data (and its size) durable: fdatasync skips
// the inode's timestamps, which a log that only grows does not need.
func syncData(f *os.File) error {
	for {
		err := syscall.Fdatasync(int(f.Fd()))
		if err != syscall.EINTR {
			return err
		}
	}
}
