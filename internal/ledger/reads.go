package ledger

import (
	"errors"
	"fmt"

	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/internal/store"
	"github.com/cairn-db/cairn/merkle"
	"github.com/cairn-db/cairn/smt"
	"github.com/cairn-db/cairn/types"
)

// ErrNotFound is returned for keys, blocks and transactions that do not exist.
var ErrNotFound = store.ErrNotFound

// Account returns an account's committed balance and nonce (zero for an
// account never seen).
func (l *Ledger) Account(a crypto.Address) (types.Account, error) {
	v, ok, err := l.state.Get(types.AccountKey(a))
	if err != nil || !ok {
		return types.Account{}, err
	}
	return types.DecodeAccount(v)
}

// KV returns the latest live version of a user key; ErrNotFound when the key
// was never written or its latest version is a deletion.
func (l *Ledger) KV(key string) (*types.KVEntry, error) {
	v, ok, err := l.state.Get(types.KVKey(key))
	return liveEntry(key, v, ok, err)
}

// KVAt returns the version of key live at the end of height.
func (l *Ledger) KVAt(key string, height uint64) (*types.KVEntry, error) {
	if height > l.Head().Height {
		return nil, fmt.Errorf("height %d is above the head %d: %w", height, l.Head().Height, ErrNotFound)
	}
	if err := l.checkState(height); err != nil {
		return nil, err
	}
	v, ok, err := l.state.GetAt(types.KVKey(key), height)
	return liveEntry(key, v, ok, err)
}

func liveEntry(key string, v []byte, ok bool, err error) (*types.KVEntry, error) {
	if err != nil {
		return nil, fmt.Errorf("key %q: %w", key, err)
	}
	if !ok {
		return nil, fmt.Errorf("key %q: %w", key, ErrNotFound)
	}
	e, err := types.DecodeKVEntry(v)
	if err != nil {
		return nil, fmt.Errorf("key %q: %w", key, err)
	}
	if e.Deleted {
		return nil, fmt.Errorf("key %q deleted at version %d: %w", key, e.Version, ErrNotFound)
	}
	return e, nil
}

// KVHistory returns every version of key (deletions included), oldest first,
// starting at fromHeight, at most limit.
func (l *Ledger) KVHistory(key string, fromHeight uint64, limit int) ([]*types.KVEntry, error) {
	vs, err := l.state.History(types.KVKey(key), fromHeight, limit)
	if err != nil {
		return nil, fmt.Errorf("history of %q: %w", key, err)
	}
	out := make([]*types.KVEntry, 0, len(vs))
	for _, v := range vs {
		e, err := types.DecodeKVEntry(v.Value)
		if err != nil {
			return nil, fmt.Errorf("history of %q: %w", key, err)
		}
		out = append(out, e)
	}
	return out, nil
}

// KVVersion is one version of a user key and its position in the
// history: the height and the index of the write among the block's state
// writes. (Height, Seq) names the version exactly; Version alone does not
// locate it without reading the versions before it.
type KVVersion struct {
	Entry  *types.KVEntry
	Height uint64
	Seq    uint32
}

// KVHistoryFrom returns at most limit versions of key (deletions
// included), oldest first, starting at the version written at (fromHeight,
// fromSeq) or the first one after it.
func (l *Ledger) KVHistoryFrom(key string, fromHeight uint64, fromSeq uint32, limit int) ([]KVVersion, error) {
	vs, err := l.state.HistoryFrom(types.KVKey(key), fromHeight, fromSeq, limit)
	if err != nil {
		return nil, fmt.Errorf("history of %q from %d:%d: %w", key, fromHeight, fromSeq, err)
	}
	out := make([]KVVersion, 0, len(vs))
	for _, v := range vs {
		e, err := types.DecodeKVEntry(v.Value)
		if err != nil {
			return nil, fmt.Errorf("history of %q at %d:%d: %w", key, v.Height, v.Seq, err)
		}
		out = append(out, KVVersion{Entry: e, Height: v.Height, Seq: v.Seq})
	}
	return out, nil
}

// StateProof is a proof that a state key has a value (or none) at a height,
// against the state root in that height's certified header.
type StateProof struct {
	Height      uint64             `json:"height"`
	Key         []byte             `json:"state_key"` // namespaced state key
	Value       []byte             `json:"value"`     // canonical state value; nil when absent
	Found       bool               `json:"found"`
	Proof       *smt.Proof         `json:"proof"`
	Header      *types.Header      `json:"header"`
	Certificate *types.Certificate `json:"certificate,omitempty"`
	HeaderBytes []byte             `json:"header_bytes"`
}

// Prove returns a proof for a state key at height (height 0 = genesis,
// proven against the genesis state root without a certificate).
func (l *Ledger) Prove(stateKey []byte, height uint64) (*StateProof, error) {
	head := l.Head()
	if height > head.Height {
		return nil, fmt.Errorf("prove at height %d: head is %d: %w", height, head.Height, ErrNotFound)
	}
	if err := l.checkState(height); err != nil {
		return nil, err
	}
	v, found, p, err := l.state.Prove(stateKey, height)
	if err != nil {
		return nil, fmt.Errorf("prove at height %d: %w", height, err)
	}
	sp := &StateProof{Height: height, Key: stateKey, Value: v, Found: found, Proof: p}
	if height > 0 {
		if sp.Header, err = l.store.Header(height); err != nil {
			return nil, err
		}
		sp.HeaderBytes = sp.Header.Encode()
		if sp.Certificate, err = l.store.Certificate(height); err != nil {
			return nil, err
		}
	}
	return sp, nil
}

// VerifyStateProof checks a proof end to end with nothing but the chain id
// and validator set: the certificate signs the header, and the state proof
// leads from the value (or its absence) to the header's state root.
func VerifyStateProof(chainID string, vals *types.ValidatorSet, sp *StateProof) error {
	if sp.Header == nil || sp.Certificate == nil {
		return errors.New("state proof: needs a certified header")
	}
	if sp.Certificate.BlockHash != sp.Header.Hash() || sp.Certificate.Height != sp.Header.Height {
		return errors.New("state proof: certificate is for another block")
	}
	if err := sp.Certificate.Verify(chainID, vals); err != nil {
		return fmt.Errorf("state proof: %w", err)
	}
	var v []byte
	if sp.Found {
		v = sp.Value
	}
	if err := smt.Verify(sp.Header.StateRoot, sp.Key, v, sp.Proof); err != nil {
		return fmt.Errorf("state proof: %w", err)
	}
	return nil
}

// TxInfo is a committed transaction with where it is and what it did.
type TxInfo struct {
	Tx      *types.Tx
	Height  uint64
	Index   uint32
	Receipt *types.Receipt
	// Proof is the inclusion proof of the tx hash against the block's tx root.
	Proof merkle.Proof
}

// Tx returns a committed transaction, its receipt and inclusion proof.
func (l *Ledger) Tx(h crypto.Hash) (*TxInfo, error) {
	tx, loc, err := l.store.Tx(h)
	if errors.Is(err, store.ErrBodyNotStored) {
		b, _ := l.SyncBase()
		return nil, &UnavailableError{What: "transaction", Height: loc.Height, Oldest: b + 1}
	}
	if err != nil {
		return nil, err
	}
	if loc.Height > l.Head().Height {
		// Commit writes the height's batch before it moves the head; until
		// then the tx is not committed as far as readers can tell, so that
		// a status that says committed always comes with a readable height.
		return nil, fmt.Errorf("tx %s: %w", h, store.ErrNotFound)
	}
	rc, err := l.store.Receipt(loc)
	if err != nil {
		return nil, err
	}
	hs, err := l.store.TxHashes(loc.Height)
	if err != nil {
		return nil, err
	}
	p, err := merkle.Prove(hs, int(loc.Index))
	if err != nil {
		return nil, fmt.Errorf("tx %s: %w", h, err)
	}
	return &TxInfo{Tx: tx, Height: loc.Height, Index: loc.Index, Receipt: rc, Proof: p}, nil
}

// Block returns the block at height with its certificate and receipts.
func (l *Ledger) Block(height uint64) (*types.Block, *types.Certificate, []*types.Receipt, error) {
	if height == 0 || height > l.Head().Height {
		return nil, nil, nil, fmt.Errorf("block %d: %w", height, ErrNotFound)
	}
	if err := l.checkBlock(height); err != nil {
		return nil, nil, nil, err
	}
	b, err := l.store.Block(height)
	if err != nil {
		return nil, nil, nil, err
	}
	c, err := l.store.Certificate(height)
	if err != nil {
		return nil, nil, nil, err
	}
	rs, err := l.store.Receipts(height)
	if err != nil {
		return nil, nil, nil, err
	}
	return b, c, rs, nil
}
