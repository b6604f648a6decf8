package client

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/merkle"
	"github.com/cairn-db/cairn/smt"
	"github.com/cairn-db/cairn/types"
)

// This file holds the proofs of account state, of a transaction's outcome
// and of search hits, and the calls that fetch them. Every Verify trusts
// nothing but its arguments (chain id and validator set): the certificate
// must carry a quorum of valid signatures over the header, and every other
// claim must follow from the header's roots by hashing. The JSON members a
// node repeats for convenience (decoded header, balance, receipt, tx) are
// compared with the proven bytes, so after Verify they can be read.

// AccountProof returns the account's state at height (0: latest) with a
// proof of it, or of its absence for an address never seen. An answer
// about another address or height is an ErrVerify error. Call Verify on
// the result before trusting it.
func (c *Client) AccountProof(ctx context.Context, a crypto.Address, height uint64) (*AccountProof, error) {
	q := heightQuery(height)
	q.Set("prove", "true")
	var p AccountProof
	if _, err := c.do(ctx, http.MethodGet, "/v1/accounts/"+a.String(), q, nil, &p); err != nil {
		return nil, err
	}
	if p.Address != a || (height != 0 && p.Height != height) {
		return nil, verifyErr("asked for account %s at height %d, the node answered for %s at %d", a, height, p.Address, p.Height)
	}
	return &p, nil
}

// TxProof returns a committed (or failed) transaction with the proof of
// its inclusion and of its receipt against its block's certified header
// (GET /v1/txs/{hash}?prove=true). A tx that is pending or unknown has no
// proof; Verify then fails. Call Verify before trusting the answer.
func (c *Client) TxProof(ctx context.Context, h crypto.Hash) (*TxStatus, error) {
	var s TxStatus
	q := map[string][]string{"prove": {"true"}}
	if _, err := c.do(ctx, http.MethodGet, "/v1/txs/"+h.String(), q, nil, &s); err != nil {
		return nil, err
	}
	if s.Hash != h {
		return nil, verifyErr("asked for tx %s, the node answered for %s", h, s.Hash)
	}
	return &s, nil
}

// verifyState checks a state proof: that stateKeyHex is stateKey, that the
// decoded proof is proofHex, and that the proof leads from the value
// (valueHex when found, else absence) to root. It returns the proven value
// (nil when absent).
func verifyState(root crypto.Hash, stateKey []byte, stateKeyHex string, found bool, valueHex string, p *smt.Proof, proofHex string) ([]byte, error) {
	sk, err := decodeHex(stateKeyHex, "state_key_hex")
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(sk, stateKey) {
		return nil, verifyErr("state key %x is not %x", sk, stateKey)
	}
	pb, err := decodeHex(proofHex, "proof_hex")
	if err != nil {
		return nil, err
	}
	proof, err := smt.DecodeProof(pb)
	if err != nil {
		return nil, verifyErr("%v", err)
	}
	if p != nil && !bytes.Equal(p.Encode(), pb) {
		return nil, verifyErr("proof differs from proof_hex")
	}
	var value []byte
	if found {
		if value, err = decodeHex(valueHex, "value_hex"); err != nil {
			return nil, err
		}
		if value == nil {
			value = []byte{}
		}
	} else if valueHex != "" {
		return nil, verifyErr("absence proof carries a value")
	}
	if err := smt.Verify(root, sk, value, proof); err != nil {
		return nil, verifyErr("%v", err)
	}
	return value, nil
}

// Verify checks the proof end to end with nothing but chainID and the
// validator set: the certificate carries a quorum of valid signatures over
// the header, and the sparse Merkle proof leads from the account's state
// value (or its absence) to the header's state root. Balance and Nonce
// must be the proven value's (zero when absent).
func (p *AccountProof) Verify(chainID string, vals *types.ValidatorSet) error {
	fail := func(err error) error { return fmt.Errorf("proof of account %s: %w", p.Address, err) }
	h, err := verifyCertifiedHeader(chainID, vals, p.HeaderHex, p.Certificate)
	if err != nil {
		return fail(err)
	}
	switch {
	case h.Height != p.Height:
		return fail(verifyErr("proof claims height %d, header is %d", p.Height, h.Height))
	case p.Header != nil && *p.Header != *h:
		return fail(verifyErr("decoded header differs from header_hex"))
	}
	value, err := verifyState(h.StateRoot, types.AccountKey(p.Address), p.StateKeyHex, p.Found, p.ValueHex, p.Proof, p.ProofHex)
	if err != nil {
		return fmt.Errorf("proof of account %s at height %d: %w", p.Address, h.Height, err)
	}
	acct := types.Account{}
	if p.Found {
		if acct, err = types.DecodeAccount(value); err != nil {
			return fail(verifyErr("value: %v", err))
		}
	}
	if acct.Balance != p.Balance || acct.Nonce != p.Nonce {
		return fail(verifyErr("answer says balance %d nonce %d, the proven value is balance %d nonce %d", p.Balance, p.Nonce, acct.Balance, acct.Nonce))
	}
	return nil
}

// verifyTxOutcome checks that the tx whose canonical bytes are txHex has
// hash h and sits at index in the block with header hdr (tx proof against
// tx_root), and that the receipt whose canonical bytes are receiptHex is
// that tx's, at the same index (its result hash proven against
// results_root). Both proofs' sizes must be the header's tx_count: the
// receipt count equals the tx count. It returns the decoded tx and receipt.
func verifyTxOutcome(hdr *types.Header, h crypto.Hash, index uint32, txHex string, txProof *merkle.Proof, receiptHex string, receiptProof *merkle.Proof) (*types.Tx, *types.Receipt, error) {
	if txProof == nil || receiptProof == nil {
		return nil, nil, verifyErr("missing tx or receipt inclusion proof")
	}
	raw, err := decodeHex(txHex, "tx bytes")
	if err != nil {
		return nil, nil, err
	}
	if crypto.Sum(raw) != h {
		return nil, nil, verifyErr("tx bytes hash to %s, not %s", crypto.Sum(raw), h)
	}
	tx, err := types.DecodeTx(raw)
	if err != nil {
		return nil, nil, verifyErr("tx bytes: %v", err)
	}
	n := uint64(hdr.TxCount)
	switch {
	case txProof.Size != n:
		return nil, nil, verifyErr("tx proof is for %d leaves, the header has tx_count %d", txProof.Size, n)
	case txProof.Index != uint64(index):
		return nil, nil, verifyErr("tx proof is for index %d, the tx is at %d", txProof.Index, index)
	case receiptProof.Size != n:
		return nil, nil, verifyErr("receipt proof is for %d leaves, the header has tx_count %d", receiptProof.Size, n)
	case receiptProof.Index != uint64(index):
		return nil, nil, verifyErr("receipt proof is for index %d, the tx is at %d", receiptProof.Index, index)
	}
	if err := merkle.Verify(hdr.TxRoot, h[:], *txProof); err != nil {
		return nil, nil, verifyErr("tx inclusion: %v", err)
	}
	rb, err := decodeHex(receiptHex, "receipt bytes")
	if err != nil {
		return nil, nil, err
	}
	rc, err := types.DecodeReceipt(rb)
	if err != nil {
		return nil, nil, verifyErr("receipt bytes: %v", err)
	}
	if rc.TxHash != h {
		return nil, nil, verifyErr("receipt is for tx %s, not %s", rc.TxHash, h)
	}
	rh := rc.ResultHash()
	if err := merkle.Verify(hdr.ResultsRoot, rh[:], *receiptProof); err != nil {
		return nil, nil, verifyErr("receipt inclusion: %v", err)
	}
	return tx, rc, nil
}

// Verify checks a GET /v1/txs/{hash}?prove=true answer end to end with
// nothing but chainID and the validator set: the header is certified, the
// tx's bytes hash to Hash and are included at Index under the header's
// tx_root, and the receipt's bytes are included at Index under its
// results_root. So the tx is committed with the proven outcome: ok, or
// failed with the receipt's code (the reason text is not certified). The
// convenience members (Status, Height, BlockHash, TxRoot, Receipt, Tx,
// Proof, Header) must agree with the proven bytes.
func (t *TxStatus) Verify(chainID string, vals *types.ValidatorSet) error {
	fail := func(err error) error { return fmt.Errorf("tx %s: %w", t.Hash, err) }
	if t.Status != StatusCommitted && t.Status != StatusFailed {
		return fail(verifyErr("status %q: only a committed or failed tx has a proof", t.Status))
	}
	if t.Index == nil || t.HeaderHex == "" {
		return fail(verifyErr("no proof (fetch with ?prove=true)"))
	}
	hdr, err := verifyCertifiedHeader(chainID, vals, t.HeaderHex, t.Certificate)
	if err != nil {
		return fail(err)
	}
	tx, rc, err := verifyTxOutcome(hdr, t.Hash, *t.Index, t.TxBytesHex, t.Proof, t.ReceiptBytesHex, t.ReceiptProof)
	if err != nil {
		return fmt.Errorf("tx %s at height %d: %w", t.Hash, hdr.Height, err)
	}
	switch {
	case hdr.Height != t.Height:
		return fail(verifyErr("answer says height %d, the certified header is %d", t.Height, hdr.Height))
	case t.Header != nil && *t.Header != *hdr:
		return fail(verifyErr("decoded header differs from header_hex"))
	case t.BlockHash != nil && *t.BlockHash != hdr.Hash():
		return fail(verifyErr("answer says block %s, the certified header hashes to %s", t.BlockHash, hdr.Hash()))
	case t.TxRoot != nil && *t.TxRoot != hdr.TxRoot:
		return fail(verifyErr("answer says tx root %s, the certified header has %s", t.TxRoot, hdr.TxRoot))
	case t.Receipt == nil || *t.Receipt != *rc:
		return fail(verifyErr("decoded receipt differs from receipt_bytes_hex"))
	case rc.OK != (t.Status == StatusCommitted):
		return fail(verifyErr("status %q, but the proven receipt says ok=%v", t.Status, rc.OK))
	case t.Tx != nil && !bytes.Equal(t.Tx.Bytes(), tx.Bytes()):
		return fail(verifyErr("decoded tx differs from tx_bytes_hex"))
	}
	return nil
}

// Verify checks, with nothing but chainID and the validator set, that
// every hit of a ?prove=true search page is what it claims: each header in
// Headers is certified; a block hit's hash is its height's certified
// header hash; a transaction hit's bytes hash to its hash, are included at
// its index under its height's tx_root, and its receipt, included at the
// same index under results_root, has the status and code the hit reports.
//
// It cannot show the page is complete: that no committed transaction
// matching the query is missing, or that Total is right. The index is the
// node's own; nothing certifies it.
func (r *SearchResult) Verify(chainID string, vals *types.ValidatorSet) error {
	headers := make(map[uint64]*types.Header, len(r.Headers))
	for i := range r.Headers {
		ch := &r.Headers[i]
		h, err := verifyCertifiedHeader(chainID, vals, ch.HeaderHex, ch.Certificate)
		if err != nil {
			return fmt.Errorf("search header %d: %w", ch.Height, err)
		}
		switch {
		case h.Height != ch.Height:
			return fmt.Errorf("search header %d: %w", ch.Height, verifyErr("certified header is height %d", h.Height))
		case h.Hash() != ch.Hash:
			return fmt.Errorf("search header %d: %w", ch.Height, verifyErr("hash %s, header hashes to %s", ch.Hash, h.Hash()))
		case ch.Header != nil && *ch.Header != *h:
			return fmt.Errorf("search header %d: %w", ch.Height, verifyErr("decoded header differs from header_hex"))
		case headers[h.Height] != nil:
			return fmt.Errorf("search header %d: %w", ch.Height, verifyErr("height listed twice"))
		}
		headers[h.Height] = h
	}
	for i := range r.Hits {
		if err := r.Hits[i].verify(headers); err != nil {
			return fmt.Errorf("search hit %d (%s): %w", i, r.Hits[i].ID, err)
		}
	}
	return nil
}

func (hit *SearchHit) verify(headers map[uint64]*types.Header) error {
	hdr := headers[hit.Height]
	if hdr == nil {
		return verifyErr("no certified header for height %d", hit.Height)
	}
	if hit.Time != "" {
		t, err := time.Parse(time.RFC3339, hit.Time)
		if err != nil || t.UnixMilli() != hdr.Time {
			return verifyErr("hit says time %q, the certified header's is %d ms", hit.Time, hdr.Time)
		}
	}
	if hit.Index == nil { // a block
		if hit.Proof != nil {
			return verifyErr("a block hit with a transaction proof")
		}
		if bh := hdr.Hash(); hit.Hash != bh.String() {
			return verifyErr("block hash %s, the certified header of height %d is %s", hit.Hash, hit.Height, bh)
		}
		return nil
	}
	if hit.Proof == nil {
		return verifyErr("no proof (search with prove)")
	}
	h, err := crypto.ParseHash(hit.Hash)
	if err != nil {
		return verifyErr("hash: %v", err)
	}
	tx, rc, err := verifyTxOutcome(hdr, h, *hit.Index, hit.Proof.TxBytesHex, &hit.Proof.TxProof, hit.Proof.ReceiptBytesHex, &hit.Proof.ReceiptProof)
	if err != nil {
		return err
	}
	if hit.Type != tx.Type().String() {
		return verifyErr("hit says type %q, the proven tx is %q", hit.Type, tx.Type())
	}
	want := "ok"
	if !rc.OK {
		want = "failed"
	}
	if hit.Status != want || hit.Code != string(rc.Code) {
		return verifyErr("hit says status %q code %q, the proven receipt says %q %q", hit.Status, hit.Code, want, rc.Code)
	}
	return nil
}
