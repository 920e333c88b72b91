package bridge

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"smppbridge/store"
)

// groupBatchesPlain is groupBatches written the obvious way (a batch per
// endpoint until full, jobs copied): the reference the shared-array
// version must agree with.
func groupBatchesPlain(jobs []store.CallbackJob, maxBatch int) []batch {
	var out []*batch
	open := map[endpointID]*batch{}
	for _, j := range jobs {
		key := endpointID{j.ApplicationID, j.URL}
		b := open[key]
		if b == nil || len(b.jobs) >= max(maxBatch, 1) {
			b = &batch{app: j.ApplicationID, url: j.URL}
			open[key] = b
			out = append(out, b)
		}
		b.jobs = append(b.jobs, j)
	}
	res := make([]batch, len(out))
	for i, b := range out {
		res[i] = *b
	}
	return res
}

// TestGroupBatches: in order, per endpoint, at most maxBatch jobs each,
// every job once; for one endpoint, interleaved ones and runs of each, and
// appending to a batch never overwrites another's jobs.
func TestGroupBatches(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 400 {
		n := rng.IntN(300)
		endpoints := 1 + rng.IntN(5)
		maxBatch := rng.IntN(12) // 0 counts as 1
		runs := rng.IntN(2) == 0 // runs of one endpoint, or any order
		jobs := make([]store.CallbackJob, n)
		ep := 0
		for i := range jobs {
			if !runs || rng.IntN(8) == 0 {
				ep = rng.IntN(endpoints)
			}
			jobs[i] = store.CallbackJob{ID: uint64(i + 1), ApplicationID: fmt.Sprint("app", ep%3), URL: fmt.Sprint("http://h/", ep)}
		}
		got := groupBatches(jobs, maxBatch)
		want := groupBatchesPlain(jobs, maxBatch)
		if len(got) != len(want) {
			t.Fatalf("round %d: %d batches, want %d", round, len(got), len(want))
		}
		for i := range got {
			g, w := got[i], want[i]
			if g.app != w.app || g.url != w.url || len(g.jobs) != len(w.jobs) {
				t.Fatalf("round %d batch %d: %s %s %d jobs, want %s %s %d", round, i, g.app, g.url, len(g.jobs), w.app, w.url, len(w.jobs))
			}
			for k := range g.jobs {
				if g.jobs[k].ID != w.jobs[k].ID {
					t.Fatalf("round %d batch %d job %d: id %d, want %d", round, i, k, g.jobs[k].ID, w.jobs[k].ID)
				}
			}
		}
		for i := range got {
			got[i].jobs = append(got[i].jobs, store.CallbackJob{ID: 1 << 40})
		}
		for i := range got {
			for k, j := range got[i].jobs[:len(want[i].jobs)] {
				if j.ID != want[i].jobs[k].ID {
					t.Fatalf("round %d: an append overwrote batch %d job %d", round, i, k)
				}
			}
		}
	}
}

// BenchmarkGroupBatches: one dispatch's worth of jobs (64 requests of 10)
// from one endpoint, and from 16 interleaved ones.
func BenchmarkGroupBatches(b *testing.B) {
	for _, endpoints := range []int{1, 16} {
		b.Run(fmt.Sprint("endpoints=", endpoints), func(b *testing.B) {
			jobs := make([]store.CallbackJob, 640)
			for i := range jobs {
				ep := i % endpoints
				jobs[i] = store.CallbackJob{ID: uint64(i), ApplicationID: fmt.Sprint("app", ep), URL: fmt.Sprint("http://127.0.0.1:9/cb/", ep)}
			}
			b.ReportAllocs()
			for b.Loop() {
				if bs := groupBatches(jobs, 10); len(bs) != 64 {
					b.Fatal(len(bs))
				}
			}
		})
	}
}
