package blobstore

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/cairn-db/cairn/types"
)

// maxSeen bounds the remembered present blobs (about 80 bytes each).
const maxSeen = 1 << 16

// Checker answers whether the blobs transactions reference are in a store,
// for the three places a node asks: mempool admission, the proposer's
// choice of transactions, and the validation of a proposal before its
// prevote. Every check of one call shares one deadline, so a store that
// does not answer delays consensus by at most Timeout. Blobs are
// immutable, so a blob once found with its size is remembered as present.
type Checker struct {
	store   Store
	timeout time.Duration

	mu   sync.Mutex
	seen map[Ref]struct{}
}

// NewChecker checks against s, each call bounded by timeout.
func NewChecker(s Store, timeout time.Duration) *Checker {
	return &Checker{store: s, timeout: timeout, seen: map[Ref]struct{}{}}
}

// Store returns the store checked (nil for a nil Checker).
func (c *Checker) Store() Store {
	if c == nil {
		return nil
	}
	return c.store
}

// errNoStore answers for a nil Checker: without a store no blob can be
// confirmed, so no transaction that references one is admitted or voted
// for; every other transaction is unaffected.
var errNoStore = fmt.Errorf("no blob store: %w", ErrUnavailable)

func (c *Checker) known(r Ref) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.seen[r]
	return ok
}

func (c *Checker) remember(r Ref) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.seen) >= maxSeen {
		clear(c.seen) // forgetting costs one lookup again, never a wrong answer
	}
	c.seen[r] = struct{}{}
}

func (c *Checker) check(ctx context.Context, refs []Ref) error {
	for _, r := range refs {
		if c.known(r) {
			continue
		}
		if err := Has(ctx, c.store, r); err != nil {
			return err
		}
		c.remember(r)
	}
	return nil
}

// AdmitTx is the mempool's rule (mempool.Config.Admit): a blob.record is
// refused unless each of its blobs is in the store with its size. A
// missing blob is a *types.TxError not_found, a wrong size one invalid; a
// store that cannot answer an error wrapping ErrUnavailable.
func (c *Checker) AdmitTx(tx *types.Tx) error {
	refs := types.BlobRefs(tx)
	if len(refs) == 0 {
		return nil
	}
	if c == nil {
		return errNoStore
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	err := c.check(ctx, refs)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrNotFound):
		return types.Errf(types.CodeNotFound, "%v: upload the blob first (PUT /v1/blobs)", err)
	case errors.Is(err, ErrSizeMismatch):
		return types.Errf(types.CodeInvalid, "%v", err)
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("blob store did not answer within %v: %w", c.timeout, ErrUnavailable)
	}
	return err
}

// CheckBlock returns nil when every blob that txs reference is present
// with its size, else why not (a proposal with such txs is not prevoted).
func (c *Checker) CheckBlock(txs []*types.Tx) error {
	var ctx context.Context
	for _, tx := range txs {
		if refs := types.BlobRefs(tx); len(refs) > 0 {
			if c == nil {
				return fmt.Errorf("tx %s references a blob: %w", tx.Hash(), errNoStore)
			}
			if ctx == nil {
				// The clock starts at the first reference: a block without
				// any never waits on the store.
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(context.Background(), c.timeout)
				defer cancel()
			}
			if err := c.check(ctx, refs); err != nil {
				return fmt.Errorf("tx %s references a blob not available here: %w", tx.Hash(), err)
			}
		}
	}
	return nil
}

// Filter returns txs without those whose blobs are not present (or cannot
// be checked now), for the proposer; the rest keep their order.
func (c *Checker) Filter(txs []*types.Tx) (kept []*types.Tx, dropped int) {
	var ctx context.Context
	kept = txs[:0:0]
	for _, tx := range txs {
		refs := types.BlobRefs(tx)
		if len(refs) > 0 && c != nil && ctx == nil {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(context.Background(), c.timeout)
			defer cancel()
		}
		if len(refs) > 0 && (c == nil || c.check(ctx, refs) != nil) {
			dropped++
			continue
		}
		kept = append(kept, tx)
	}
	return kept, dropped
}
