package events

import (
	"errors"
	"sync"
	"testing"

	"github.com/cairn-db/cairn/types"
)

func block(h uint64) BlockEvent {
	return BlockEvent{Block: &types.Block{Header: types.Header{Height: h}}}
}

func TestDeliversInOrder(t *testing.T) {
	h := NewHub()
	a, b := h.Subscribe(10), h.Subscribe(10)
	for i := uint64(1); i <= 5; i++ {
		h.Publish(block(i))
	}
	for _, s := range []*Subscription{a, b} {
		for i := uint64(1); i <= 5; i++ {
			ev := <-s.C()
			if ev.Height() != i {
				t.Fatalf("got height %d, want %d", ev.Height(), i)
			}
		}
		if s.Err() != nil {
			t.Fatalf("live subscription has error %v", s.Err())
		}
	}
	if h.LastHeight() != 5 {
		t.Fatalf("LastHeight = %d, want 5", h.LastHeight())
	}
}

func TestSlowSubscriberDroppedOthersUnaffected(t *testing.T) {
	h := NewHub()
	slow, fast := h.Subscribe(2), h.Subscribe(100)
	for i := uint64(1); i <= 10; i++ {
		h.Publish(block(i)) // must not block although slow never reads
	}
	// The slow one got what fit, then its channel closed.
	n := 0
	for range slow.C() {
		n++
	}
	if n != 2 {
		t.Fatalf("slow subscriber received %d events before the close, want 2", n)
	}
	if !errors.Is(slow.Err(), ErrSlow) {
		t.Fatalf("slow.Err() = %v, want ErrSlow", slow.Err())
	}
	for i := uint64(1); i <= 10; i++ {
		if ev := <-fast.C(); ev.Height() != i {
			t.Fatalf("fast got %d, want %d", ev.Height(), i)
		}
	}
	if h.Subscribers() != 1 {
		t.Fatalf("Subscribers = %d, want 1", h.Subscribers())
	}
}

func TestCloseEndsEverything(t *testing.T) {
	h := NewHub()
	s := h.Subscribe(1)
	h.Close()
	if _, ok := <-s.C(); ok {
		t.Fatal("channel still open after hub Close")
	}
	if !errors.Is(s.Err(), ErrClosed) {
		t.Fatalf("Err = %v, want ErrClosed", s.Err())
	}
	late := h.Subscribe(1)
	if _, ok := <-late.C(); ok || !errors.Is(late.Err(), ErrClosed) {
		t.Fatalf("subscription after Close: open=%v err=%v", ok, late.Err())
	}
	h.Publish(block(1)) // no panic on closed channels
	h.Close()           // idempotent
	s.Close()
}

func TestUnsubscribe(t *testing.T) {
	h := NewHub()
	s := h.Subscribe(1)
	s.Close()
	s.Close()
	if !errors.Is(s.Err(), ErrUnsubscribed) {
		t.Fatalf("Err = %v", s.Err())
	}
	h.Publish(block(1))
	if h.Subscribers() != 0 {
		t.Fatal("unsubscribed subscriber still counted")
	}
}

// TestConcurrent runs publishers' and subscribers' operations together for
// the race detector.
func TestConcurrent(t *testing.T) {
	h := NewHub()
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				s := h.Subscribe(4)
				select {
				case <-s.C():
				default:
				}
				s.Close()
			}
		}()
	}
	for i := uint64(1); i <= 500; i++ {
		h.Publish(block(i))
	}
	wg.Wait()
	h.Close()
}
