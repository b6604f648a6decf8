package client

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/types"
)

// NewTx builds and signs a transaction of key for chainID with the given
// nonce (the sender's committed nonce + 1 for the next one) and the current
// time as its timestamp.
func NewTx(chainID string, key *crypto.PrivateKey, nonce uint64, p types.Payload) *types.Tx {
	tx := &types.Tx{ChainID: chainID, Nonce: nonce, Timestamp: time.Now().UnixMilli(), Payload: p}
	tx.Sign(key)
	return tx
}

// Signer signs a sequence of transactions for one key with consecutive
// nonces. It learns the chain id and the account's committed nonce from the
// node on first use, then counts locally, so many transactions can be in
// flight at once. After a refused or failed transaction, call Resync: the
// nonce it would have used is still free. Safe for concurrent use.
type Signer struct {
	c   *Client
	key *crypto.PrivateKey

	mu      sync.Mutex
	chainID string
	next    uint64 // nonce of the next tx; 0 = ask the node
}

// NewSigner returns a signer for key that talks to c. chainID may be ""
// to ask the node.
func (c *Client) NewSigner(key *crypto.PrivateKey, chainID string) *Signer {
	return &Signer{c: c, key: key, chainID: chainID}
}

// Key returns the signing key.
func (s *Signer) Key() *crypto.PrivateKey { return s.key }

// Address returns the signer's account address.
func (s *Signer) Address() crypto.Address { return s.key.Public().Address() }

// Resync makes the next Sign fetch the committed nonce from the node again.
func (s *Signer) Resync() {
	s.mu.Lock()
	s.next = 0
	s.mu.Unlock()
}

// SetNonce makes the next Sign use nonce n.
func (s *Signer) SetNonce(n uint64) {
	s.mu.Lock()
	s.next = n
	s.mu.Unlock()
}

// ChainID returns the chain id, asking the node if it is not known yet.
func (s *Signer) ChainID(ctx context.Context) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.loadLocked(ctx, false); err != nil {
		return "", err
	}
	return s.chainID, nil
}

func (s *Signer) loadLocked(ctx context.Context, nonce bool) error {
	if s.chainID == "" {
		st, err := s.c.Status(ctx)
		if err != nil {
			return fmt.Errorf("signer: chain id: %w", err)
		}
		s.chainID = st.ChainID
	}
	if nonce && s.next == 0 {
		a, err := s.c.Account(ctx, s.Address())
		if err != nil {
			return fmt.Errorf("signer: nonce of %s: %w", s.Address(), err)
		}
		s.next = a.Nonce + 1
	}
	return nil
}

// Sign builds and signs a transaction with payload p and the next nonce.
func (s *Signer) Sign(ctx context.Context, p types.Payload) (*types.Tx, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.loadLocked(ctx, true); err != nil {
		return nil, err
	}
	tx := NewTx(s.chainID, s.key, s.next, p)
	s.next++
	return tx, nil
}

// Transfer signs a transfer of amount to to.
func (s *Signer) Transfer(ctx context.Context, to crypto.Address, amount uint64) (*types.Tx, error) {
	return s.Sign(ctx, &types.Transfer{To: to, Amount: amount})
}

// Put signs a kv.put; expect, when non-nil, makes it a compare-and-set.
func (s *Signer) Put(ctx context.Context, key, value string, expect *uint64) (*types.Tx, error) {
	return s.Sign(ctx, &types.KVPut{Key: key, Value: value, ExpectVersion: expect})
}

// Delete signs a kv.delete; expect as for Put.
func (s *Signer) Delete(ctx context.Context, key string, expect *uint64) (*types.Tx, error) {
	return s.Sign(ctx, &types.KVDelete{Key: key, ExpectVersion: expect})
}

// BlobRecord signs a blob.record: the JSON document doc (canonicalized
// first) referencing blobs already uploaded (PutBlob).
func (s *Signer) BlobRecord(ctx context.Context, doc []byte, blobs ...types.BlobRef) (*types.Tx, error) {
	c, err := types.CanonicalJSON(doc)
	if err != nil {
		return nil, fmt.Errorf("blob.record document: %w", err)
	}
	return s.Sign(ctx, &types.BlobRecord{Document: c, Blobs: blobs})
}

// Record signs a record of the JSON document doc (canonicalized first).
func (s *Signer) Record(ctx context.Context, doc []byte) (*types.Tx, error) {
	c, err := types.CanonicalJSON(doc)
	if err != nil {
		return nil, fmt.Errorf("record document: %w", err)
	}
	return s.Sign(ctx, &types.Record{Document: c})
}
