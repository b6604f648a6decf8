// Package mempool is a validator's pool of pending transactions: what it
// admits from clients and peers, in what order the proposer takes them for a
// block, and what it forgets when a block commits.
//
// # Admission
//
// Add, AddBatch and AddFromPeer apply, in this order (cheapest first, so a
// flood of duplicates or a full pool costs no signature checks):
//
//  1. chain id and size limits (types.ValidateTxStateless without the
//     signature): *types.TxError wrong_chain_id / oversized (malformed for a
//     nil tx);
//  2. dedup by hash: a tx already pending, or committed recently (a bounded
//     set of the last Config.RecentCommitted committed hashes), is refused
//     with ErrDuplicate (ErrCommitted for the committed case; it wraps
//     ErrDuplicate); a tx repeated within one batch is a duplicate too;
//  3. room: a pool that would be at Config.MaxTxs or Config.MaxBytes even
//     after evicting every held tx refuses with ErrFull;
//  4. signature (batch-verified for AddBatch/AddFromPeer, with per-tx results
//     when the batch fails): *types.TxError bad_signature;
//  5. nonce against the committed account nonce and the sender's pending
//     txs (*types.TxError bad_nonce): a nonce at or below the committed one is
//     a replay; a nonce already pending in another tx is a conflict (no
//     replacement: there are no fees to outbid); a nonce more than
//     Config.MaxFutureNonces beyond the next expected one is too far ahead;
//  6. balance: a transfer's amount plus every other pending transfer amount of
//     the same sender must be covered by the committed balance, so two pending
//     txs cannot spend the same funds (*types.TxError insufficient_balance);
//     other types move no funds (see debit, which lists every type);
//  7. the sender's budget: at most Config.MaxSenderTxs pending txs and
//     MaxSenderBytes bytes per sender, ready and held together (ErrSenderLimit);
//     a tx that would be held must also fit the sender's held budget
//     (MaxHeldTxsPerSender, MaxHeldBytesPerSender: ErrSenderLimit) and the
//     pool's (MaxHeldTxs, MaxHeldBytes: ErrHeldFull, which wraps ErrFull);
//  8. room again, exactly, under the lock: a tx that would be ready evicts
//     held txs, oldest first, until it fits; a held one evicts nothing
//     (ErrFull).
//
// Every pending tx has passed its signature check, and a hash fixes the
// signed bytes, so Verified (= Has) can tell block execution which
// signatures it need not check again.
//
// # Ready and held
//
// A sender's pending txs are either ready (nonces committed+1 .. k, with no
// gap: executable in that order) or held (a future nonce past a gap, waiting
// for the missing ones; at most MaxFutureNonces past the ready run). Ready
// txs sit in one FIFO list in the order they became ready: on arrival, or
// when the tx filling a gap arrives (or commits), which makes the held run
// behind it ready in nonce order. So the list is FIFO across senders and
// strictly by nonce within a sender, and every prefix of it is a valid block
// order with no nonce gap. Reap returns such a prefix; it removes nothing
// (the block may not commit).
//
// Held txs cost the network nothing until they can execute, and anyone can
// make them (keys are free and a kv.put needs no balance), so they live on a
// small budget of their own:
//
//   - per sender (MaxHeldTxsPerSender, MaxHeldBytesPerSender) and in total
//     (MaxHeldTxs, MaxHeldBytes), inside the pool's MaxTxs and MaxBytes;
//   - a held tx is dropped once it has been held for Config.HeldTTL (by the
//     clock Config.Now, checked at every admission and Update);
//   - a held tx is never gossiped: it is queued for gossip when it becomes
//     ready, if it was admitted from a client (a peer already gossiped its
//     own);
//   - a ready tx that finds the pool full evicts held txs, the longest held
//     first, so held txs can never make the pool refuse an executable tx.
//
// What bounds a sender that has no balance (there are no fees): its pending
// txs (MaxSenderTxs, MaxSenderBytes) and, behind a gap, its held budget. Its
// ready txs execute in blocks like anyone's, so the pool drains at block
// speed; its held txs expire.
//
// # Commit
//
// Update removes the block's txs by hash (failed ones too: their hash is in
// the chain, so the same bytes can never execute again), remembers their
// hashes, re-reads the committed account of every sender in the block, drops
// that sender's pending txs whose nonce is now at or below the committed one,
// and recomputes its ready run: held txs that became contiguous join the
// ready list (and are gossiped if a client gave them to this node); ready txs
// behind a new gap (a failed tx does not consume its nonce, see
// internal/execute) go back to held, where they may exceed the held budgets
// and expire like any held tx. Apart from commits, a tx a client was told was
// accepted leaves the pool only while held: by expiry, or evicted for a ready
// tx. A ready tx is never evicted; when the pool is full of ready txs it
// refuses new ones.
//
// # Bounds
//
// Pending txs are bounded by count and by encoded bytes (Config.MaxTxs,
// MaxBytes), per sender (MaxSenderTxs, MaxSenderBytes) and, when held, by the
// held budgets; the committed-hash memory by RecentCommitted; the gossip
// queue by GossipQueue batches (a batch that does not fit is dropped, never
// the tx: it is still pending here and will be proposed by this validator).
//
// The pool is safe for concurrent use: API and peer goroutines add while the
// consensus goroutine reaps and updates (Reap and Update are meant for that
// one goroutine; calling them from several is safe but their interleaving is
// the caller's business). Signature checks and state reads run outside the
// pool's lock.
package mempool
