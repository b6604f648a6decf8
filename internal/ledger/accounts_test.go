package ledger

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/internal/store"
	"github.com/cairn-db/cairn/types"
)

// TestAccountIndexOffOnAndBackfill: a ledger that does not keep the
// account index writes none and says so; tools that open it change
// nothing; turned on, it indexes new blocks at once and builds the older
// ones downwards, batch by batch, lowering its mark, which a rollback
// lowers too; built, every listing equals what a ledger that always kept
// the index lists; turned off again, new blocks go unindexed.
func TestAccountIndexOffOnAndBackfill(t *testing.T) {
	n := newNet(3, 1_000_000)
	u, v, w := n.users[0], n.users[1], n.users[2]
	fs := vfs.NewMem()
	open := func(mode AccountIndexMode, step bool) *Ledger {
		t.Helper()
		l, err := Open(Options{Dir: "a", FS: fs, CacheBytes: 8 << 20, AccountIndex: mode, stepBackfill: step}, n.g)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	// want lists, per address, every committed tx location involving it,
	// newest first, from the blocks themselves.
	type loc = store.TxLocation
	want := map[crypto.Address][]loc{}
	commit := func(l *Ledger, i int) {
		t.Helper()
		blk, _ := n.commit(t, l,
			n.tx(u, &types.KVPut{Key: fmt.Sprint("k", i), Value: "v"}),
			n.tx(v, &types.Transfer{To: w.Public().Address(), Amount: 1}))
		if len(blk.Txs) != 2 {
			t.Fatalf("block %d holds %d txs, want 2", blk.Header.Height, len(blk.Txs))
		}
		h := blk.Header.Height
		for i, k := range []*crypto.PrivateKey{u, v, w} {
			a := k.Public().Address()
			// A rollback's heights are committed again.
			want[a] = slices.DeleteFunc(want[a], func(x loc) bool { return x.Height >= h })
			want[a] = append([]loc{{Height: h, Index: uint32(min(i, 1))}}, want[a]...)
		}
	}
	listed := func(l *Ledger, k *crypto.PrivateKey) []loc {
		t.Helper()
		got, err := l.Store().AccountTxs(k.Public().Address(), nil, 1000)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	checkFrom := func(l *Ledger, wantFrom uint64) {
		t.Helper()
		if from, _ := l.AccountIndex(); from != wantFrom {
			t.Fatalf("account index complete from %d, want %d", from, wantFrom)
		}
	}
	above := func(ls []loc, h uint64) []loc {
		return slices.DeleteFunc(slices.Clone(ls), func(x loc) bool { return x.Height < h })
	}

	l := open(AccountIndexOff, false)
	for i := 0; i < 6; i++ {
		commit(l, i)
	}
	checkFrom(l, store.AccountIndexOff)
	if got := listed(l, u); len(got) != 0 {
		t.Fatalf("off: %d entries", len(got))
	}
	l.Close()

	// A tool opening the data changes nothing.
	l = open(AccountIndexAsStored, false)
	checkFrom(l, store.AccountIndexOff)
	commit(l, 6)
	if got := listed(l, u); len(got) != 0 {
		t.Fatalf("as stored, off: %d entries", len(got))
	}
	l.Close()

	// On: complete from the next block; the older ones wait for the backfill.
	l = open(AccountIndexOn, true)
	checkFrom(l, 8)
	commit(l, 7)
	if got := listed(l, u); !slices.Equal(got, above(want[u.Public().Address()], 8)) {
		t.Fatalf("on, before the backfill: %v", got)
	}
	// Two blocks of two txs each reach 3 txs: the mark goes down by two.
	if done, err := l.backfillAccounts(3); err != nil || done {
		t.Fatalf("backfill step: done %v, %v", done, err)
	}
	checkFrom(l, 6)
	if got := listed(l, v); !slices.Equal(got, above(want[v.Public().Address()], 6)) {
		t.Fatalf("after a step: %v, want %v", got, above(want[v.Public().Address()], 6))
	}
	// A rollback below the mark lowers it: blocks at or under the new head
	// are not indexed.
	if _, err := l.Rollback(4); err != nil {
		t.Fatal(err)
	}
	n.nonce[u.Public()], n.nonce[v.Public()] = 4, 4 // one tx each per block
	l.Close()
	l = open(AccountIndexOn, true)
	checkFrom(l, 5)
	commit(l, 10)
	commit(l, 11)
	if got := listed(l, u); !slices.Equal(got, above(want[u.Public().Address()], 5)) {
		t.Fatalf("after the rollback: %v, want %v", got, above(want[u.Public().Address()], 5))
	}
	for i := 0; ; i++ {
		done, err := l.backfillAccounts(1)
		if err != nil {
			t.Fatal(err)
		}
		if done {
			break
		}
		if i > 10 {
			t.Fatal("the backfill does not end")
		}
	}
	checkFrom(l, 1)
	for _, k := range n.users {
		if got := listed(l, k); !slices.Equal(got, want[k.Public().Address()]) {
			t.Fatalf("built: %v, want %v", got, want[k.Public().Address()])
		}
	}
	l.Close()

	// Off again: new blocks go unindexed.
	l = open(AccountIndexOff, false)
	checkFrom(l, store.AccountIndexOff)
	commit(l, 12)
	if got := listed(l, u); !slices.Equal(got, above(want[u.Public().Address()], 0)[1:]) {
		t.Fatalf("off again: %v", got)
	}
	l.Close()

	// On, with the backfill in the background: it ends complete.
	l = open(AccountIndexOn, false)
	defer l.Close()
	deadline := time.Now().Add(30 * time.Second)
	for {
		from, building := l.AccountIndex()
		if from == 1 && !building {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("backfill: complete from %d, building %v after 30 s", from, building)
		}
		time.Sleep(5 * time.Millisecond)
	}
	for _, k := range n.users {
		if got := listed(l, k); !slices.Equal(got, want[k.Public().Address()]) {
			t.Fatalf("built in the background: %v, want %v", got, want[k.Public().Address()])
		}
	}
}
