package fanout_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/cairn-db/cairn/internal/api/apitest"
	"github.com/cairn-db/cairn/internal/mempool"
	"github.com/cairn-db/cairn/types"
)

// TestSubscribersSeeTheUpdatedMempool: whoever hears of a commit from the
// hub finds the committed tx gone from the mempool, and its resubmission
// refused as committed, not as a pending duplicate; the index hears of the
// block too. The apitest chain commits through fanout.Targets. (This
// checks the outcome; it would rarely catch a wrong order, which TestOrder
// does.)
func TestSubscribersSeeTheUpdatedMempool(t *testing.T) {
	c := apitest.New(t, apitest.Options{Search: true})
	c.Pause()
	tx := apitest.Tx(c.Users[0], 1, &types.KVPut{Key: "k", Value: "v"})
	if err := c.Mempool.AddBatch([]*types.Tx{tx})[0]; err != nil {
		t.Fatal(err)
	}
	sub := c.Hub.Subscribe(4)
	defer sub.Close()
	seen := make(chan error, 1)
	go func() {
		ev, ok := <-sub.C()
		switch {
		case !ok:
			seen <- errors.New("subscription ended")
		case ev.Height() != 1:
			seen <- errors.New("wrong block")
		default:
			_, pending := c.Mempool.Get(tx.Hash())
			err := c.Mempool.AddBatch([]*types.Tx{tx})[0]
			if pending || !errors.Is(err, mempool.ErrCommitted) {
				seen <- errors.New("the mempool did not know of the block when it was published")
				return
			}
			seen <- nil
		}
	}()
	c.CommitBlock(tx)
	select {
	case err := <-seen:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no event")
	}
	// The index was told too.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Index.WaitIndexed(ctx, 1); err != nil {
		t.Fatal(err)
	}
}
