// Package events fans committed blocks out from the committing goroutine to
// any number of readers: the API's server-sent event streams and requests
// waiting for their transaction to commit.
//
// Invariants:
//   - Publish never blocks and never allocates per subscriber beyond a
//     channel send: the committer must not be slowed by a reader.
//   - A subscriber whose buffer is full when a block is published is dropped:
//     its channel is closed and Err says why (ErrSlow). It never silently
//     misses a block and keeps going; a reader that must see every block
//     catches up from the ledger and subscribes again.
//   - Events are delivered in publish order, which is commit order.
//   - After Close, every subscription is closed (ErrClosed) and Subscribe
//     returns subscriptions that are already closed.
package events

import (
	"errors"
	"sync"

	"github.com/cairn-db/cairn/types"
)

// BlockEvent is one committed block with its certificate and receipts
// (receipts[i] is the outcome of Block.Txs[i]). Receivers must treat it as
// read-only: the same value goes to every subscriber.
type BlockEvent struct {
	Block       *types.Block
	Certificate *types.Certificate
	Receipts    []*types.Receipt
}

// Height is the block's height.
func (e *BlockEvent) Height() uint64 { return e.Block.Header.Height }

// Why a subscription ended.
var (
	// ErrSlow: the subscriber's buffer was full when a block was published.
	ErrSlow = errors.New("events: subscriber too slow, dropped")
	// ErrClosed: the hub was closed (the node is shutting down).
	ErrClosed = errors.New("events: hub closed")
	// ErrUnsubscribed: the subscriber called Close.
	ErrUnsubscribed = errors.New("events: unsubscribed")
)

// Hub distributes published blocks to subscribers. The zero value is not
// usable; create one with NewHub. Methods are safe for concurrent use.
type Hub struct {
	mu     sync.Mutex
	subs   map[*Subscription]struct{}
	closed bool
	// last is the height of the last published block (0 before any).
	last uint64
}

// NewHub returns an empty hub.
func NewHub() *Hub { return &Hub{subs: make(map[*Subscription]struct{})} }

// Subscription receives published blocks on C until it is dropped, the hub
// closes, or Close is called; then C is closed and Err says why.
type Subscription struct {
	hub *Hub
	c   chan *BlockEvent
	// err is written under hub.mu before c is closed, so a reader that saw
	// the close reads it without a race.
	err error
}

// C returns the channel of events. It is closed when the subscription ends.
func (s *Subscription) C() <-chan *BlockEvent { return s.c }

// Err returns why the subscription ended (ErrSlow, ErrClosed or
// ErrUnsubscribed), or nil while it is live.
func (s *Subscription) Err() error {
	s.hub.mu.Lock()
	defer s.hub.mu.Unlock()
	return s.err
}

// Close ends the subscription. It is safe to call more than once and after
// the hub dropped or closed it.
func (s *Subscription) Close() {
	s.hub.mu.Lock()
	defer s.hub.mu.Unlock()
	s.hub.endLocked(s, ErrUnsubscribed)
}

// Subscribe registers a subscriber with room for buffer undelivered events
// (at least 1).
func (h *Hub) Subscribe(buffer int) *Subscription {
	if buffer < 1 {
		buffer = 1
	}
	s := &Subscription{hub: h, c: make(chan *BlockEvent, buffer)}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		s.err = ErrClosed
		close(s.c)
		return s
	}
	h.subs[s] = struct{}{}
	return s
}

// endLocked removes s (if still registered) and closes its channel.
func (h *Hub) endLocked(s *Subscription, why error) {
	if _, ok := h.subs[s]; !ok {
		return
	}
	delete(h.subs, s)
	s.err = why
	close(s.c)
}

// Publish delivers ev to every subscriber without blocking; subscribers
// with a full buffer are dropped. Publishing after Close does nothing.
func (h *Hub) Publish(ev BlockEvent) {
	e := &ev
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return
	}
	if ev.Block != nil {
		h.last = ev.Block.Header.Height
	}
	for s := range h.subs {
		select {
		case s.c <- e:
		default:
			h.endLocked(s, ErrSlow)
		}
	}
}

// LastHeight returns the height of the last published block (0 before any).
func (h *Hub) LastHeight() uint64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.last
}

// Subscribers returns the number of live subscriptions.
func (h *Hub) Subscribers() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.subs)
}

// Close ends every subscription with ErrClosed; later subscriptions start
// closed. Call it when the node shuts down so long-lived readers (SSE
// streams) finish.
func (h *Hub) Close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return
	}
	h.closed = true
	for s := range h.subs {
		h.endLocked(s, ErrClosed)
	}
}
