//go:build linux

package store

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// BenchmarkDiskSync prices what a bbolt commit asks of the disk on this
// machine, in CPU per operation: the fdatasync itself, contiguous against
// scattered dirty pages, and pages in a region the file system has not
// allocated yet (bbolt grows its file with truncate, so a young database
// writes into such regions). The figures explain the store's commit cost
// (BENCHMARKS.md, "Session 5"); nothing in the store depends on them.
//
//	go test -run '^$' -bench DiskSync -benchtime 300x ./store/
func BenchmarkDiskSync(b *testing.B) {
	const pageSize = 4096
	const fileSize = 64 << 20
	page := make([]byte, pageSize)
	const (
		sparse    = iota // truncated: no blocks
		fallocate        // blocks reserved, not yet written (unwritten extents)
		written          // blocks written once
	)
	open := func(b *testing.B, state int) *os.File {
		f, err := os.OpenFile(filepath.Join(b.TempDir(), "sync.db"), os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { f.Close() })
		switch state {
		case written:
			chunk := make([]byte, 1<<20)
			for off := int64(0); off < fileSize; off += int64(len(chunk)) {
				if _, err := f.WriteAt(chunk, off); err != nil {
					b.Fatal(err)
				}
			}
		case fallocate:
			if err := syscall.Fallocate(int(f.Fd()), 0, 0, fileSize); err != nil {
				b.Fatal(err)
			}
		default:
			if err := f.Truncate(fileSize); err != nil {
				b.Fatal(err)
			}
		}
		if err := f.Sync(); err != nil {
			b.Fatal(err)
		}
		return f
	}
	sync := func(b *testing.B, f *os.File) {
		if err := syscall.Fdatasync(int(f.Fd())); err != nil {
			b.Fatal(err)
		}
	}
	write := func(b *testing.B, f *os.File, pg int) {
		if _, err := f.WriteAt(page, int64(pg)*pageSize); err != nil {
			b.Fatal(err)
		}
	}
	const pages = fileSize / pageSize
	// bbolt's commit shape: data pages, sync, meta page, sync, with the
	// data appended past what earlier commits wrote.
	commit := func(b *testing.B, f *os.File, i int) {
		for p := range 32 {
			write(b, f, 2+(i*32+p)%(pages-2))
		}
		sync(b, f)
		write(b, f, i%2)
		sync(b, f)
	}
	cases := []struct {
		name  string
		state int
		op    func(b *testing.B, f *os.File, i int)
	}{
		{"fdatasync_nothing_written", written, func(b *testing.B, f *os.File, i int) { sync(b, f) }},
		{"one_page", written, func(b *testing.B, f *os.File, i int) { write(b, f, rand.IntN(pages)); sync(b, f) }},
		{"32_contiguous_pages", written, func(b *testing.B, f *os.File, i int) {
			start := rand.IntN(pages - 32)
			for p := range 32 {
				write(b, f, start+p)
			}
			sync(b, f)
		}},
		{"32_scattered_pages", written, func(b *testing.B, f *os.File, i int) {
			for range 32 {
				write(b, f, rand.IntN(pages))
			}
			sync(b, f)
		}},
		{"commit_32_appended_pages_unallocated", sparse, commit},
		{"commit_32_appended_pages_fallocated", fallocate, commit},
		{"commit_32_appended_pages_allocated", written, commit},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			f := open(b, c.state)
			b.ResetTimer()
			cpu0, t0 := processCPU(), time.Now()
			for i := 0; b.Loop(); i++ {
				c.op(b, f, i)
			}
			b.ReportMetric(float64(processCPU()-cpu0)/float64(time.Microsecond)/float64(b.N), "cpu-µs/op")
			b.ReportMetric(float64(time.Since(t0))/float64(time.Microsecond)/float64(b.N), "wall-µs/op")
		})
	}
}
