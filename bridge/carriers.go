package bridge

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"smppbridge/store"
)

// carrierSet is the carriers and routes in force: immutable, replaced as a
// whole by SetCarriers, read without locks on every Send.
type carrierSet struct {
	list   []*carrierQueue
	byName map[string]*carrierQueue
	routes []route // longest prefix first
}

func newCarrierSet(cs []Carrier, queues []*carrierQueue) *carrierSet {
	s := &carrierSet{list: queues, byName: map[string]*carrierQueue{}}
	for i, q := range queues {
		s.byName[q.name] = q
		c := cs[i]
		for _, p := range c.Routes {
			s.routes = append(s.routes, route{prefix: p, carrier: q, accounts: c.RouteAccounts, from: c.RouteFrom, classes: c.RouteClasses})
		}
	}
	// Longest prefix first; ties keep configuration order.
	sort.SliceStable(s.routes, func(i, j int) bool { return len(s.routes[i].prefix) > len(s.routes[j].prefix) })
	return s
}

// newQueue builds a carrier's queue; with class rates its lanes classify
// from numbers through the live directory.
func (b *Bridge) newQueue(c Carrier) *carrierQueue {
	q := newCarrierQueue(c)
	if q.lanes != nil {
		q.classify = func(from string) string { class, _ := b.directory().classOf(from); return class }
	}
	return q
}

// queueFor returns the named carrier's queue, or nil.
func (b *Bridge) queueFor(name string) *carrierQueue { return b.set.Load().byName[name] }

// SetCarriers replaces the carriers and routes (a configuration reload).
// A carrier whose name and Sender are unchanged keeps its queue and senders;
// its rate, queue size and routes take effect at once. A carrier with a new
// Sender (its connection settings changed) gets a new queue: what was
// queued for the old one moves over, in order. A carrier no longer listed
// is stopped: messages still queued for it fail with 4420 (no route), as
// they would after a restart; those it sent still end with 9902 after its
// receipt wait (orphans.go). It returns once the senders of replaced and
// removed carriers have stopped, so their pools can then be closed.
func (b *Bridge) SetCarriers(cs []Carrier) error {
	names := map[string]bool{}
	for _, c := range cs {
		if c.Sender == nil {
			return fmt.Errorf("bridge: carrier %s has no sender", c.Name)
		}
		if names[c.Name] {
			return fmt.Errorf("bridge: carrier %s listed twice", c.Name)
		}
		names[c.Name] = true
	}
	b.carrierMu.Lock()
	defer b.carrierMu.Unlock()
	b.mu.Lock()
	closing := b.closing
	b.mu.Unlock()
	if closing {
		return errors.New("bridge: closing")
	}
	old := b.set.Load()
	queues := make([]*carrierQueue, len(cs))
	var fresh []*carrierQueue
	retired := map[*carrierQueue]*carrierQueue{} // old -> its replacement (nil: removed)
	for i, c := range cs {
		if q := old.byName[c.Name]; q != nil && q.Sender == c.Sender {
			q.setLimits(c)
			queues[i] = q
			continue
		}
		q := b.newQueue(c)
		q.ctx, q.cancel = context.WithCancel(b.runCtx)
		queues[i] = q
		fresh = append(fresh, q)
		if prev := old.byName[c.Name]; prev != nil {
			retired[prev] = q
		}
	}
	for _, q := range old.list {
		if !names[q.name] {
			retired[q] = nil
		}
	}
	// New Sends route to the new set from here on; a Send that routed to a
	// retired queue just before pushes into it and is handed on below.
	b.set.Store(newCarrierSet(cs, queues))
	if b.started {
		for _, q := range fresh {
			b.startQueue(q)
		}
	}
	for q, next := range retired {
		q.close()
		q.cancel()
		q.wg.Wait()
		b.handOver(q, next)
		if b.started && b.expires(q) && !b.expires(next) {
			// Its sent messages still end with 9902 when no receipt comes,
			// after its own wait (a restart uses RemovedCarrierReceiptWait).
			b.startOrphan(q.name, q.ReceiptWait)
		}
	}
	return nil
}

// handOver moves what is left in a retired queue to its replacement, or
// fails it with 4420 when the carrier was removed.
func (b *Bridge) handOver(q, next *carrierQueue) {
	q.mu.Lock()
	items := q.takeAllLocked()
	q.mu.Unlock()
	if next == nil {
		if len(items) > 0 {
			b.log.Warn("carrier removed: its queued messages fail with no route", "carrier", q.name, "count", len(items))
		}
		for _, it := range items {
			b.fail(it, codeNoRoute)
		}
		return
	}
	for _, it := range items {
		next.mu.Lock()
		next.segments += it.Segments // moved, not reserved anew: never refused
		next.mu.Unlock()
		if !next.push(it) {
			next.release(it.Segments)
			b.push(next, it)
		}
	}
}

// push queues a copy on the queue it was routed and reserved on. When a
// reload retired that queue in the meantime, it goes to the carrier's new
// queue, counted there without a reservation (it was accepted: never
// refused now), or fails with 4420 when the carrier is gone.
func (b *Bridge) push(q *carrierQueue, it *store.QueueItem) {
	if q.push(it) {
		return
	}
	for range 100 { // each turn means another reload just retired the queue
		next := b.queueFor(it.Carrier)
		if next == nil || next == q {
			break
		}
		next.mu.Lock()
		next.segments += it.Segments
		next.mu.Unlock()
		if next.push(it) {
			return
		}
		next.release(it.Segments)
		q = next
	}
	b.mu.Lock()
	closing := b.closing
	b.mu.Unlock()
	if closing {
		return // stopping: it stays queued in the store
	}
	b.fail(it, codeNoRoute)
}
