package ledger

import (
	"runtime"
	"sync"

	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/internal/execute"
	"github.com/cairn-db/cairn/types"
)

// Replay checks are a point read per transaction for a key that is almost
// never there (the tx index, keyed by random hashes): a few microseconds
// each through every memtable and level's filter, and together the larger
// part of executing a block of transfers. They depend on nothing the block
// itself writes (a repeat within the block is caught by the executor), so
// they are read for the whole block at once, on every core, before the
// executor runs; its answers are the same, only sooner. Once the store's
// in-memory tx filter is loaded (internal/store txfilter.go), it answers
// nearly every check in well under a microsecond and the read-ahead is
// skipped.

// minPrefetch is the block size below which the reads are left to the
// executor (goroutines would cost more than they save).
const minPrefetch = 64

// replayReader is the ledger as execution reads it, with the replay
// answers for one block's transactions read ahead. Every other method is
// the ledger's.
type replayReader struct {
	*Ledger
	committed map[crypto.Hash]bool
}

// TxCommitted answers from the prefetched set, else from the store.
func (r replayReader) TxCommitted(h crypto.Hash) (bool, error) {
	if v, ok := r.committed[h]; ok {
		return v, nil
	}
	return r.Ledger.TxCommitted(h)
}

// withReplays returns the reader execution uses for txs: the ledger itself
// for small blocks, else the ledger with the replay answers read ahead. A
// read that fails is left out, so the executor reads it again and reports
// the error.
func (l *Ledger) withReplays(txs []*types.Tx) execute.Reader {
	if len(txs) < minPrefetch || l.store.TxFilterReady() {
		return l
	}
	workers := min(runtime.GOMAXPROCS(0), len(txs)/minPrefetch)
	found := make([]int8, len(txs)) // 0 unknown, 1 no, 2 yes
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(txs); i += workers {
				switch ok, err := l.TxCommitted(txs[i].Hash()); {
				case err != nil:
				case ok:
					found[i] = 2
				default:
					found[i] = 1
				}
			}
		}()
	}
	wg.Wait()
	m := make(map[crypto.Hash]bool, len(txs))
	for i, f := range found {
		if f != 0 {
			m[txs[i].Hash()] = f == 2
		}
	}
	return replayReader{Ledger: l, committed: m}
}
