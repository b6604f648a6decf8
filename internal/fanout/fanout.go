// Package fanout is what follows a committed block: the one function that
// tells the rest of a validator about it, used by the node and by the API
// test chain (internal/api/apitest), so both do it alike.
//
// Invariants:
//   - Order: the mempool is updated first, then the search index is
//     notified, then the block is published to the events hub. Whoever
//     hears of the commit (an SSE stream, a ?wait=commit request) finds
//     the mempool already without the block's transactions: resubmitting
//     one is refused as a replay, never taken for a duplicate still
//     pending, and the sender's next nonce is admitted.
//   - Nothing here blocks on a reader: the index's Notify and the hub's
//     Publish never wait.
//   - A mempool error does not stop the rest: the block is committed
//     whatever the pool thinks, so the index and the hub still hear of it.
package fanout

import (
	"fmt"

	"github.com/cairn-db/cairn/internal/events"
	"github.com/cairn-db/cairn/internal/mempool"
	"github.com/cairn-db/cairn/internal/search"
)

// Targets are what hears of a commit. A nil Index (search disabled) or
// Hub (a test that publishes by hand) is skipped.
type Targets struct {
	Mempool *mempool.Mempool
	Index   *search.Index
	Hub     *events.Hub
}

// Committed tells the targets, in the package's order, that ev's block
// committed (the ledger has it). The error is the mempool's; the index and
// the hub were told anyway.
func (t Targets) Committed(ev events.BlockEvent) error {
	h := ev.Block.Header.Height
	var s steps
	if t.Mempool != nil {
		s.update = func() error { return t.Mempool.Update(h, ev.Block.Txs) }
	}
	if t.Index != nil {
		s.notify = func() { t.Index.Notify(h) }
	}
	if t.Hub != nil {
		s.publish = func() { t.Hub.Publish(ev) }
	}
	if err := s.run(); err != nil {
		return fmt.Errorf("fanout: mempool update at height %d: %w", h, err)
	}
	return nil
}

// steps are the three calls of Committed (nil: skipped); run holds the
// order, apart from the concrete targets so that a test can watch it.
type steps struct {
	update  func() error
	notify  func()
	publish func()
}

func (s steps) run() error {
	var err error
	if s.update != nil {
		err = s.update()
	}
	if s.notify != nil {
		s.notify()
	}
	if s.publish != nil {
		s.publish()
	}
	return err
}
