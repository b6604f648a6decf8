package client

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/merkle"
	"github.com/cairn-db/cairn/types"
)

// ErrVerify is wrapped by every verification failure in this package: the
// node's answer does not prove what it claims.
var ErrVerify = errors.New("verification failed")

func verifyErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrVerify, fmt.Sprintf(format, args...))
}

func decodeHex(s, what string) ([]byte, error) {
	b, err := hex.DecodeString(s)
	if err != nil {
		return nil, verifyErr("%s: %v", what, err)
	}
	return b, nil
}

// Decode converts the certificate to its canonical type, checking that
// each signature's public key and sign bytes are what chainID and vals say
// they must be (the JSON repeats them for human auditors; a node that lies
// about them is caught here).
func (c *Certificate) Decode(chainID string, vals *types.ValidatorSet) (*types.Certificate, error) {
	tc := &types.Certificate{Height: c.Height, Round: c.Round, BlockHash: c.BlockHash}
	want := tc.SignBytes(chainID)
	for i, s := range c.Signatures {
		if int(s.ValidatorIndex) >= vals.Len() {
			return nil, verifyErr("certificate signature %d: validator index %d out of range", i, s.ValidatorIndex)
		}
		if vals.Validators[s.ValidatorIndex].PublicKey != s.PublicKey {
			return nil, verifyErr("certificate signature %d: public key %s is not validator %d's", i, s.PublicKey, s.ValidatorIndex)
		}
		sb, err := decodeHex(s.SignBytesHex, "sign_bytes_hex")
		if err != nil {
			return nil, err
		}
		if !bytes.Equal(sb, want) {
			return nil, verifyErr("certificate signature %d: sign bytes are not the precommit of this block", i)
		}
		sig, err := decodeHex(s.Signature, "signature")
		if err != nil {
			return nil, err
		}
		if len(sig) != crypto.SignatureSize {
			return nil, verifyErr("certificate signature %d: %d bytes", i, len(sig))
		}
		cs := types.CommitSig{Validator: s.ValidatorIndex}
		copy(cs.Signature[:], sig)
		tc.Sigs = append(tc.Sigs, cs)
	}
	return tc, nil
}

// verifyCertifiedHeader checks that headerHex is the canonical header of a
// block of chainID with validator set vals, certified by c, and returns it.
func verifyCertifiedHeader(chainID string, vals *types.ValidatorSet, headerHex string, c *Certificate) (*types.Header, error) {
	if c == nil {
		return nil, verifyErr("no certificate")
	}
	hb, err := decodeHex(headerHex, "header_hex")
	if err != nil {
		return nil, err
	}
	h, err := types.DecodeHeader(hb)
	if err != nil {
		return nil, verifyErr("header: %v", err)
	}
	switch {
	case h.ChainID != chainID:
		return nil, verifyErr("header is for chain %q, want %q", h.ChainID, chainID)
	case h.ValidatorsHash != vals.Hash():
		return nil, verifyErr("header names validator set %s, the given set is %s", h.ValidatorsHash, vals.Hash())
	case crypto.Sum(hb) != c.BlockHash:
		return nil, verifyErr("certificate is for block %s, the header hashes to %s", c.BlockHash, crypto.Sum(hb))
	case c.Height != h.Height:
		return nil, verifyErr("certificate is for height %d, the header is %d", c.Height, h.Height)
	}
	tc, err := c.Decode(chainID, vals)
	if err != nil {
		return nil, err
	}
	if err := tc.Verify(chainID, vals); err != nil {
		return nil, verifyErr("%v", err)
	}
	return h, nil
}

// Verify checks the proof end to end with nothing but chainID and the
// validator set: the certificate carries a quorum of valid signatures over
// the header's hash, and the sparse Merkle proof leads from the key's state
// entry (or its absence) to the header's state root. It also checks that
// the decoded fields (Entry, Header, Proof) say what the hex fields prove.
func (p *KVProof) Verify(chainID string, vals *types.ValidatorSet) error {
	h, err := verifyCertifiedHeader(chainID, vals, p.HeaderHex, p.Certificate)
	if err != nil {
		return fmt.Errorf("proof of %q: %w", p.Key, err)
	}
	if h.Height != p.Height {
		return fmt.Errorf("proof of %q: %w", p.Key, verifyErr("proof claims height %d, header is %d", p.Height, h.Height))
	}
	if p.Header != nil && *p.Header != *h {
		return fmt.Errorf("proof of %q: %w", p.Key, verifyErr("decoded header differs from header_hex"))
	}
	value, err := verifyState(h.StateRoot, types.KVKey(p.Key), p.StateKeyHex, p.Found, p.ValueHex, p.Proof, p.ProofHex)
	if err != nil {
		return fmt.Errorf("proof of %q at height %d: %w", p.Key, h.Height, err)
	}
	if p.Found {
		e, err := types.DecodeKVEntry(value)
		if err != nil {
			return fmt.Errorf("proof of %q: %w", p.Key, verifyErr("value: %v", err))
		}
		if p.Entry == nil || *p.Entry != *e {
			return fmt.Errorf("proof of %q: %w", p.Key, verifyErr("decoded entry differs from value_hex"))
		}
	} else if p.Entry != nil {
		return fmt.Errorf("proof of %q: %w", p.Key, verifyErr("absence proof carries an entry"))
	}
	return nil
}

// Live reports whether the proven entry is a live value (found and not a
// deletion tombstone). Meaningful after Verify.
func (p *KVProof) Live() bool { return p.Found && p.Entry != nil && !p.Entry.Deleted }

// Verify audits the block with nothing but chainID and the validator set:
// header_hex is the canonical header whose SHA-256 is Hash and which the
// certificate's quorum signed; every tx's bytes hash to its hash and those
// hashes form the header's tx root; every receipt's outcome (its bytes
// without the reason, which is not certified) hashes into the results root;
// the decoded header, txs (with ?decode=true) and receipts match the
// bytes.
func (b *Block) Verify(chainID string, vals *types.ValidatorSet) error {
	h, err := verifyCertifiedHeader(chainID, vals, b.HeaderHex, &b.Certificate)
	if err != nil {
		return fmt.Errorf("block %d: %w", b.Height, err)
	}
	fail := func(format string, args ...any) error {
		return fmt.Errorf("block %d: %w", b.Height, verifyErr(format, args...))
	}
	switch {
	case h.Hash() != b.Hash:
		return fail("hash %s, header hashes to %s", b.Hash, h.Hash())
	case h.Height != b.Height:
		return fail("header is height %d", h.Height)
	case *h != b.Header:
		return fail("decoded header differs from header_hex")
	case int(h.TxCount) != len(b.Txs):
		return fail("header tx_count %d, block lists %d txs", h.TxCount, len(b.Txs))
	case len(b.Receipts) != len(b.Txs):
		return fail("%d receipts for %d txs", len(b.Receipts), len(b.Txs))
	}
	hashes := make([]crypto.Hash, len(b.Txs))
	rhashes := make([]crypto.Hash, len(b.Receipts))
	for i, t := range b.Txs {
		raw, err := decodeHex(t.BytesHex, "tx bytes_hex")
		if err != nil {
			return err
		}
		hashes[i] = crypto.Sum(raw)
		if hashes[i] != t.Hash {
			return fail("tx %d: bytes hash to %s, listed as %s", i, hashes[i], t.Hash)
		}
		if t.Tx != nil && !bytes.Equal(t.Tx.Bytes(), raw) {
			return fail("tx %d: decoded tx differs from its bytes", i)
		}
		rb, err := decodeHex(b.Receipts[i].BytesHex, "receipt bytes_hex")
		if err != nil {
			return err
		}
		r, err := types.DecodeReceipt(rb)
		if err != nil {
			return fail("receipt %d: %v", i, err)
		}
		if *r != b.Receipts[i].Receipt {
			return fail("receipt %d: decoded receipt differs from its bytes", i)
		}
		if r.TxHash != t.Hash {
			return fail("receipt %d is for tx %s, not %s", i, r.TxHash, t.Hash)
		}
		rhashes[i] = r.ResultHash() // the reason is outside the root
	}
	if r := merkle.RootOfHashes(hashes); r != h.TxRoot {
		return fail("tx root %s, transactions give %s", h.TxRoot, r)
	}
	if r := merkle.RootOfHashes(rhashes); r != h.ResultsRoot {
		return fail("results root %s, receipts give %s", h.ResultsRoot, r)
	}
	return nil
}

// VerifyInclusion checks that the committed tx's bytes hash to Hash and
// that the inclusion proof leads from Hash to TxRoot. It does not check
// that TxRoot is certified: fetch the block at Height and Verify it for
// that.
func (t *TxStatus) VerifyInclusion() error {
	if t.Proof == nil || t.TxRoot == nil {
		return fmt.Errorf("tx %s: %w", t.Hash, verifyErr("no inclusion proof (status %s)", t.Status))
	}
	raw, err := decodeHex(t.TxBytesHex, "tx_bytes_hex")
	if err != nil {
		return err
	}
	if crypto.Sum(raw) != t.Hash {
		return fmt.Errorf("tx %s: %w", t.Hash, verifyErr("bytes hash to %s", crypto.Sum(raw)))
	}
	if t.Index == nil || t.Proof.Index != uint64(*t.Index) {
		return fmt.Errorf("tx %s: %w", t.Hash, verifyErr("proof is for index %d, not the tx's index", t.Proof.Index))
	}
	if err := merkle.Verify(*t.TxRoot, t.Hash[:], *t.Proof); err != nil {
		return fmt.Errorf("tx %s: %w", t.Hash, verifyErr("%v", err))
	}
	return nil
}

// VerifyIn checks the committed tx against a block that was itself
// verified (Block.Verify): same height, the block's tx root, the proof's
// tree size equal to the header's tx_count (the root alone does not fix
// the size, see docs/encoding.md 4.3), and VerifyInclusion.
func (t *TxStatus) VerifyIn(b *Block) error {
	switch {
	case t.TxRoot == nil || t.Proof == nil:
		return fmt.Errorf("tx %s: %w", t.Hash, verifyErr("no inclusion proof (status %s)", t.Status))
	case b.Height != t.Height:
		return fmt.Errorf("tx %s: %w", t.Hash, verifyErr("tx is at height %d, block is %d", t.Height, b.Height))
	case b.Header.TxRoot != *t.TxRoot:
		return fmt.Errorf("tx %s: %w", t.Hash, verifyErr("tx root %s is not the block's %s", t.TxRoot, b.Header.TxRoot))
	case t.Proof.Size != uint64(b.Header.TxCount):
		return fmt.Errorf("tx %s: %w", t.Hash, verifyErr("proof is for %d leaves, the block has %d txs", t.Proof.Size, b.Header.TxCount))
	}
	return t.VerifyInclusion()
}
