package ledger

import (
	"bytes"
	"errors"
	"fmt"
	"sort"

	"github.com/cockroachdb/pebble/v2"

	"github.com/cairn-db/cairn/canon"
	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/internal/execute"
	"github.com/cairn-db/cairn/types"
)

// The validator set of every height (docs/consensus.md, "Validator set
// changes"): the state after block h holds, under NextValidatorsKey, the
// set of height h+2; genesis (state version 0) holds the genesis set,
// which also certifies height 1. The ledger keeps the key's history
// (never pruned: keepHistory) and an in-memory index of where the set
// changed, so ValidatorsAt is a lookup.

// setChange is a set in force from height from on (until the next change).
type setChange struct {
	from uint64
	vs   *types.ValidatorSet
}

// keepHistory names the state keys whose history pruning never removes:
// contracts read their keys' history, and the validator set of any height
// is read from NextValidatorsKey's.
func keepHistory(key []byte) bool {
	return types.IsContractKey(key) || bytes.Equal(key, types.NextValidatorsKey())
}

// loadValidators rebuilds the index from the state's history of
// NextValidatorsKey (Open, Rollback). A state without the key (a chain
// whose genesis predates it cannot exist: genesis writes it) uses the
// genesis set throughout.
func (l *Ledger) loadValidators() error {
	changes := []setChange{{from: 1, vs: l.vals}}
	vers, err := l.state.HistoryNewest(types.NextValidatorsKey(), 1<<30)
	if err != nil {
		return fmt.Errorf("validator history: %w", err)
	}
	for i := len(vers) - 1; i >= 0; i-- {
		v := vers[i]
		vals, err := types.DecodeValidators(v.Value)
		if err != nil {
			return fmt.Errorf("validator set written at height %d: %w", v.Height, err)
		}
		vs, err := l.genesis.Params.ValidatorSet(vals) // slotted on a DPoS chain
		if err != nil {
			return fmt.Errorf("validator set written at height %d: %w", v.Height, err)
		}
		changes = addChange(changes, setChange{from: v.Height + 2, vs: vs})
	}
	if l.synced == nil {
		if l.synced, err = l.readSynced(); err != nil {
			return err
		}
	}
	if len(l.synced) > 0 {
		// A state-synced ledger has the key's history from its snapshot
		// on: its sets below base+2 are the ones it verified while
		// syncing (SetSyncedValidators).
		changes = l.withSynced(changes)
	}
	l.valMu.Lock()
	l.valsets = changes
	l.valMu.Unlock()
	return nil
}

// addChange appends c unless it repeats the set in force before it.
func addChange(cs []setChange, c setChange) []setChange {
	if n := len(cs); n > 0 && cs[n-1].vs.Hash() == c.vs.Hash() {
		return cs
	}
	if n := len(cs); n > 0 && cs[n-1].from >= c.from {
		cs = cs[:sort.Search(n, func(i int) bool { return cs[i].from >= c.from })]
	}
	return append(cs, c)
}

// ValidatorsAt returns the validator set of height h (1 <= h <= head+2):
// the one that certifies block h and whose hash its header carries.
func (l *Ledger) ValidatorsAt(h uint64) (*types.ValidatorSet, error) {
	if h == 0 {
		return nil, fmt.Errorf("validators at height 0: heights start at 1")
	}
	if head := l.head.Load(); head != nil && h > head.Height+2 {
		return nil, fmt.Errorf("validators at height %d: not decided yet (head %d fixes heights up to %d)", h, head.Height, head.Height+2)
	}
	return l.lookupValidators(h)
}

// lookupValidators is the set in force at h by the changes known, without
// ValidatorsAt's bound: for a snapshot's height, checked before any block
// (statesync.go), the sets the caller gave SetSyncedValidators.
func (l *Ledger) lookupValidators(h uint64) (*types.ValidatorSet, error) {
	l.valMu.RLock()
	defer l.valMu.RUnlock()
	i := sort.Search(len(l.valsets), func(i int) bool { return l.valsets[i].from > h })
	if i == 0 {
		return nil, fmt.Errorf("validators at height %d: below what this ledger knows", h)
	}
	return l.valsets[i-1].vs, nil
}

// SetChange is one change of the validator set: the first height it is in
// force.
type SetChange struct {
	From uint64
	Set  *types.ValidatorSet
}

// ValidatorChanges lists the set changes from genesis (From 1) on.
func (l *Ledger) ValidatorChanges() []SetChange {
	l.valMu.RLock()
	defer l.valMu.RUnlock()
	out := make([]SetChange, len(l.valsets))
	for i, c := range l.valsets {
		out[i] = SetChange{From: c.from, Set: c.vs}
	}
	return out
}

// validatorsAt is ValidatorsAt for heights the ledger always knows
// (head+1, head+2).
func (l *Ledger) validatorsAt(h uint64) (*types.ValidatorSet, error) {
	vs, err := l.ValidatorsAt(h)
	if err != nil {
		return nil, fmt.Errorf("ledger: %w", err)
	}
	return vs, nil
}

// noteValidators records the set a committed block h wrote for h+2.
func (l *Ledger) noteValidators(h uint64, ws []execute.Write) {
	var last []byte
	for _, w := range ws {
		if bytes.Equal(w.Key, types.NextValidatorsKey()) {
			last = w.Value
		}
	}
	if last == nil {
		return
	}
	vals, err := types.DecodeValidators(last)
	if err != nil {
		return // execute wrote it from a valid set; cannot happen
	}
	vs, err := l.genesis.Params.ValidatorSet(vals) // slotted on a DPoS chain
	if err != nil {
		return
	}
	l.valMu.Lock()
	l.valsets = addChange(l.valsets, setChange{from: h + 2, vs: vs})
	l.valMu.Unlock()
}

// checkLastCommit checks a block's last commit: none at height 1; above,
// the certificate of the parent (CheckTxs checked the height, block hash
// and LastCommitHash) verified against the set of the parent's height.
func (l *Ledger) checkLastCommit(b *types.Block) error {
	h := b.Header.Height
	if h == 1 {
		if b.LastCommit != nil {
			return fmt.Errorf("block 1: carries a last commit")
		}
		return nil
	}
	if b.LastCommit == nil {
		return fmt.Errorf("block %d: no last commit", h)
	}
	vs, err := l.ValidatorsAt(h - 1)
	if err != nil {
		// A state-synced ledger's first block: the parent's set may be
		// unknown; its certificate was checked when the snapshot was.
		return nil
	}
	if err := b.LastCommit.Verify(l.genesis.ChainID, vs); err != nil {
		return fmt.Errorf("block %d: last commit: %w", h, err)
	}
	return nil
}

// env is the execution environment of block h: its time and proposer,
// and the signers of its last commit with the set of h-1.
func (l *Ledger) env(h uint64, timeMs int64, proposer crypto.PublicKey, last *types.Certificate) (execute.Env, error) {
	env := execute.Env{Height: h, TimeMs: timeMs, Proposer: proposer}
	if h == 1 || last == nil {
		return env, nil
	}
	vs, err := l.ValidatorsAt(h - 1)
	if err != nil {
		return env, nil // see checkLastCommit
	}
	env.LastValidators = vs.Validators
	for _, s := range last.Sigs {
		if int(s.Validator) < vs.Len() {
			env.LastSigners = append(env.LastSigners, vs.Validators[s.Validator].PublicKey)
		}
	}
	return env, nil
}

// withSynced puts the sets a state-synced ledger learned for the heights
// up to its snapshot's next (SetSyncedValidators) in place of the genesis
// entry: its state history starts at the snapshot, so the sets in force
// before are only known from what it verified while syncing.
func (l *Ledger) withSynced(changes []setChange) []setChange {
	if len(l.synced) == 0 {
		return changes
	}
	out := append([]setChange(nil), l.synced...)
	last := out[len(out)-1].from
	for _, c := range changes[1:] {
		if c.from > last {
			out = addChange(out, c)
		}
	}
	return out
}

// SetSyncedValidators tells a state-synced ledger the sets in force up to
// its snapshot's next height, which its state history does not hold: each
// change as the first height it was in force, verified by the caller by
// walking the headers' NextValidatorsHash from genesis (internal/snapshot).
func (l *Ledger) SetSyncedValidators(changes []SetChange) error {
	var cs []setChange
	for _, c := range changes {
		if c.Set == nil {
			return fmt.Errorf("synced validators: no set from height %d", c.From)
		}
		vs := c.Set
		if p := l.genesis.Params; p.DPoS() {
			vs = vs.WithSlots(p.Staking().SlotBlocks) // as every set of a DPoS chain
		}
		cs = addChange(cs, setChange{from: c.From, vs: vs})
	}
	if len(cs) == 0 || cs[0].from != 1 {
		return fmt.Errorf("synced validators: the list must start at height 1")
	}
	e := canon.Encoder{}
	e.U16(uint16(len(cs)))
	for _, c := range cs {
		e.U64(c.from)
		e.Bytes32(types.EncodeValidators(c.vs.Validators))
	}
	if err := l.db.Set(keySyncedValidators, e.B, pebble.Sync); err != nil {
		return fmt.Errorf("synced validators: %w", err)
	}
	l.synced = cs
	return l.loadValidators()
}

// keySyncedValidators holds the sets SetSyncedValidators was given, so a
// reopened state-synced ledger knows them.
var keySyncedValidators = []byte("Mledger/synced-validators")

func (l *Ledger) readSynced() ([]setChange, error) {
	v, closer, err := l.db.Get(keySyncedValidators)
	if errors.Is(err, pebble.ErrNotFound) {
		return []setChange{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("synced validators: %w", err)
	}
	defer closer.Close()
	d := canon.NewDecoder(v, "synced validators", types.ErrNonCanonical)
	n := int(d.U16("count"))
	var cs []setChange
	for i := 0; i < n && d.Err() == nil; i++ {
		from := d.U64("from")
		raw := d.Bytes32("validators", 1<<26)
		if d.Err() != nil {
			break
		}
		vals, err := types.DecodeValidators(raw)
		if err != nil {
			return nil, fmt.Errorf("synced validators: %w", err)
		}
		vs, err := types.NewValidatorSet(vals)
		if err != nil {
			return nil, fmt.Errorf("synced validators: %w", err)
		}
		cs = append(cs, setChange{from: from, vs: vs})
	}
	if err := d.Finish(); err != nil {
		return nil, err
	}
	return cs, nil
}
