package api

import (
	"encoding/hex"
	"net/http"
	"strconv"

	"github.com/cairn-db/cairn/client"
	"github.com/cairn-db/cairn/internal/ledger"
	"github.com/cairn-db/cairn/types"
)

// certificateJSON renders a certificate with, for each signature, the
// validator's name and key and the exact bytes it signed, so an auditor
// needs nothing but Ed25519.
// valsAt is the validator set of height h, which certifies its block (the
// next height's when h is not known: never for a committed height).
func valsAt(l *ledger.Ledger, h uint64) *types.ValidatorSet {
	if vs, err := l.ValidatorsAt(h); err == nil {
		return vs
	}
	return l.Validators()
}

func certificateJSON(c *types.Certificate, chainID string, vals *types.ValidatorSet) *client.Certificate {
	sb := hex.EncodeToString(c.SignBytes(chainID))
	out := &client.Certificate{Height: c.Height, Round: c.Round, BlockHash: c.BlockHash, Signatures: make([]client.CertSignature, len(c.Sigs))}
	for i, sig := range c.Sigs {
		cs := client.CertSignature{ValidatorIndex: sig.Validator, Signature: hex.EncodeToString(sig.Signature[:]), SignBytesHex: sb}
		if int(sig.Validator) < vals.Len() {
			v := vals.Validators[sig.Validator]
			cs.Validator, cs.PublicKey = v.Name, v.PublicKey
		}
		out.Signatures[i] = cs
	}
	return out
}

func blockJSON(b *types.Block, c *types.Certificate, rs []*types.Receipt, chainID string, vals *types.ValidatorSet, decode bool) *client.Block {
	out := &client.Block{
		Height: b.Header.Height, Hash: b.Hash(), HeaderHex: hex.EncodeToString(b.Header.Encode()), Header: b.Header,
		Txs: make([]client.BlockTx, len(b.Txs)), Receipts: make([]client.Receipt, len(rs)),
		Certificate: *certificateJSON(c, chainID, vals),
	}
	for i, tx := range b.Txs {
		bt := client.BlockTx{Hash: tx.Hash(), BytesHex: hex.EncodeToString(tx.Bytes())}
		if decode {
			bt.Tx = tx
		}
		out.Txs[i] = bt
	}
	for i, r := range rs {
		out.Receipts[i] = client.Receipt{Receipt: *r, BytesHex: hex.EncodeToString(r.Encode())}
	}
	return out
}

// boolParam reads an optional boolean query parameter.
func boolParam(r *http.Request, name string) (bool, error) {
	switch v := r.URL.Query().Get(name); v {
	case "", "false", "0":
		return false, nil
	case "true", "1":
		return true, nil
	default:
		return false, badRequest("%s must be true or false, got %q", name, v)
	}
}

// uintParam reads an optional unsigned query parameter.
func uintParam(r *http.Request, name string) (uint64, bool, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return 0, false, nil
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return 0, false, badRequest("%s must be a non-negative integer, got %q", name, v)
	}
	return n, true, nil
}

// getBlock is GET /v1/blocks/{height} and /v1/blocks/latest.
func (s *Server) getBlock(w http.ResponseWriter, r *http.Request) error {
	decode, err := boolParam(r, "decode")
	if err != nil {
		return err
	}
	l := s.cfg.Backend.Ledger()
	var h uint64
	if p := r.PathValue("height"); p == "latest" {
		h = l.Head().Height
		if h == 0 {
			return notFound("no block has been committed yet")
		}
	} else if h, err = strconv.ParseUint(p, 10, 64); err != nil {
		return badRequest("height must be a positive integer or \"latest\", got %q", p)
	}
	if h == 0 {
		return notFound("height 0 is the genesis state, not a block; blocks start at 1")
	}
	b, c, rs, err := l.Block(h)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, blockJSON(b, c, rs, l.Genesis().ChainID, valsAt(l, c.Height), decode))
}
