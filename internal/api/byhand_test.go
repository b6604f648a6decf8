package api_test

// These tests follow docs/api.md's "How to audit a block by hand" and "How
// to verify a state proof" literally, on the raw JSON, with nothing but the
// standard library's SHA-256 and Ed25519 — no Cairn code — so the
// documentation stays sufficient for an independent verifier.

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"testing"
	"time"

	"github.com/cairn-db/cairn/internal/api/apitest"
	"github.com/cairn-db/cairn/types"
)

func sum(parts ...[]byte) []byte {
	h := sha256.New()
	for _, p := range parts {
		h.Write(p)
	}
	return h.Sum(nil)
}

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatalf("hex %q: %v", s, err)
	}
	return b
}

// mth is RFC 6962's Merkle Tree Hash over leaves.
func mth(leaves [][]byte) []byte {
	switch len(leaves) {
	case 0:
		return sum()
	case 1:
		return sum([]byte{0}, leaves[0])
	}
	k := 1
	for k*2 < len(leaves) {
		k *= 2
	}
	return sum([]byte{1}, mth(leaves[:k]), mth(leaves[k:]))
}

// resultBytes drops the reason from canonical receipt bytes (api.md step 5):
// [32] tx_hash ‖ u8 ok ‖ u16 len ‖ code ‖ u16 len ‖ reason ‖ u64 version
// becomes [32] tx_hash ‖ u8 ok ‖ u16 len ‖ code ‖ u64 version.
func resultBytes(t *testing.T, rb []byte) []byte {
	t.Helper()
	if len(rb) < 32+1+2+2+8 {
		t.Fatalf("receipt of %d bytes", len(rb))
	}
	codeEnd := 32 + 1 + 2 + int(binary.BigEndian.Uint16(rb[33:35]))
	if len(rb) < codeEnd+2+8 {
		t.Fatalf("receipt of %d bytes, code ends at %d", len(rb), codeEnd)
	}
	reasonEnd := codeEnd + 2 + int(binary.BigEndian.Uint16(rb[codeEnd:codeEnd+2]))
	if len(rb) != reasonEnd+8 {
		t.Fatalf("receipt of %d bytes, reason ends at %d", len(rb), reasonEnd)
	}
	out := append([]byte(nil), rb[:codeEnd]...)
	return append(out, rb[reasonEnd:]...)
}

// header is the fields an auditor needs, read from the canonical bytes.
type header struct {
	chainID                                  string
	height                                   uint64
	round                                    uint32
	txCount                                  uint32
	txRoot, resultsRoot, stateRoot, valsHash []byte
}

func parseHeader(t *testing.T, b []byte) header {
	t.Helper()
	if b[0] != 2 {
		t.Fatalf("header version %d", b[0])
	}
	n := int(binary.BigEndian.Uint16(b[1:3]))
	h := header{chainID: string(b[3 : 3+n])}
	o := 3 + n
	h.height = binary.BigEndian.Uint64(b[o:])
	h.round = binary.BigEndian.Uint32(b[o+8:])
	o += 8 + 4 + 8 + 32 + 32 // height, round, time, proposer, parent_hash
	h.txCount = binary.BigEndian.Uint32(b[o:])
	o += 4
	h.txRoot, h.resultsRoot, h.stateRoot, h.valsHash = b[o:o+32], b[o+32:o+64], b[o+64:o+96], b[o+96:o+128]
	// next_validators_hash and last_commit_hash follow.
	if len(b) != o+192 {
		t.Fatalf("header is %d bytes, want %d", len(b), o+192)
	}
	return h
}

type rawValidator struct {
	Name      string `json:"name"`
	PublicKey string `json:"public_key"`
	Power     uint64 `json:"power"`
}

type rawCert struct {
	Height     uint64 `json:"height"`
	Round      uint32 `json:"round"`
	BlockHash  string `json:"block_hash"`
	Signatures []struct {
		ValidatorIndex int    `json:"validator_index"`
		PublicKey      string `json:"public_key"`
		Signature      string `json:"signature"`
		SignBytesHex   string `json:"sign_bytes_hex"`
	} `json:"signatures"`
}

// checkCertified verifies that headerBytes is certified by cert for the
// validators (as listed by a trusted source) of chainID.
func checkCertified(t *testing.T, chainID string, vals []rawValidator, headerBytes []byte, cert rawCert) header {
	t.Helper()
	h := parseHeader(t, headerBytes)
	hash := sum(headerBytes)
	if hex.EncodeToString(hash) != cert.BlockHash || cert.Height != h.height || h.chainID != chainID {
		t.Fatalf("certificate does not name this header")
	}
	// validators hash = SHA-256(u16 n || (public key || u64 power)...)
	vh := binary.BigEndian.AppendUint16(nil, uint16(len(vals)))
	var total uint64
	for _, v := range vals {
		vh = append(vh, unhex(t, v.PublicKey)...)
		vh = binary.BigEndian.AppendUint64(vh, v.Power)
		total += v.Power
	}
	if !bytes.Equal(sum(vh), h.valsHash) {
		t.Fatalf("validators hash mismatch")
	}
	// precommit sign bytes: 0x0d "cairn/vote/v1" u16(len chain) chain 0x02 u64 height u32 round hash
	sb := append([]byte{13}, "cairn/vote/v1"...)
	sb = binary.BigEndian.AppendUint16(sb, uint16(len(chainID)))
	sb = append(sb, chainID...)
	sb = append(sb, 2)
	sb = binary.BigEndian.AppendUint64(sb, cert.Height)
	sb = binary.BigEndian.AppendUint32(sb, cert.Round)
	sb = append(sb, hash...)
	var power uint64
	last := -1
	for _, s := range cert.Signatures {
		if !bytes.Equal(unhex(t, s.SignBytesHex), sb) {
			t.Fatalf("sign_bytes_hex differs from the documented layout")
		}
		if s.ValidatorIndex >= len(vals) || s.ValidatorIndex <= last {
			t.Fatalf("signature of validator %d: index out of range or not strictly ascending", s.ValidatorIndex)
		}
		last = s.ValidatorIndex
		v := vals[s.ValidatorIndex]
		if v.PublicKey != s.PublicKey {
			t.Fatalf("signature %d: wrong key", s.ValidatorIndex)
		}
		if !ed25519.Verify(unhex(t, v.PublicKey), sb, unhex(t, s.Signature)) {
			t.Fatalf("signature of validator %d does not verify", s.ValidatorIndex)
		}
		power += v.Power
	}
	if power < total*2/3+1 {
		t.Fatalf("signers hold %d of %d", power, total)
	}
	return h
}

func rawGet(t *testing.T, url string, out any) {
	t.Helper()
	getJSON(t, url, 200, out)
}

func TestAuditBlockByHand(t *testing.T) {
	c := apitest.New(t, apitest.Options{})
	cl := c.Client()
	ctx := context.Background()
	c.Pause()
	var txs []*types.Tx
	for i := 1; i <= 5; i++ {
		txs = append(txs, apitest.Tx(c.Users[0], uint64(i), &types.KVPut{Key: "k", Value: "v", ExpectVersion: u64p(uint64(i - 1))}))
	}
	txs = append(txs, apitest.Tx(c.Users[1], 1, &types.KVPut{Key: "k", Value: "late", ExpectVersion: u64p(0)})) // fails: version conflict
	if _, err := cl.SubmitBatch(ctx, txs); err != nil {
		t.Fatal(err)
	}
	c.Resume()
	c.WaitHeight(1)

	var status struct {
		ChainID    string         `json:"chain_id"`
		Validators []rawValidator `json:"validators"`
	}
	rawGet(t, c.URL+"/v1/status", &status)
	var blk struct {
		Height    uint64 `json:"height"`
		Hash      string `json:"hash"`
		HeaderHex string `json:"header_hex"`
		Txs       []struct {
			Hash     string `json:"hash"`
			BytesHex string `json:"bytes_hex"`
		} `json:"txs"`
		Receipts []struct {
			OK       bool   `json:"ok"`
			BytesHex string `json:"bytes_hex"`
		} `json:"receipts"`
		Certificate rawCert `json:"certificate"`
	}
	rawGet(t, c.URL+"/v1/blocks/1", &blk)

	hb := unhex(t, blk.HeaderHex)
	if hex.EncodeToString(sum(hb)) != blk.Hash {
		t.Fatal("hash is not SHA-256(header_hex)")
	}
	h := checkCertified(t, status.ChainID, status.Validators, hb, blk.Certificate)
	var txLeaves, rcLeaves [][]byte
	for i, tx := range blk.Txs {
		th := sum(unhex(t, tx.BytesHex))
		if hex.EncodeToString(th) != tx.Hash {
			t.Fatalf("tx %d: hash is not SHA-256(bytes_hex)", i)
		}
		txLeaves = append(txLeaves, th)
		rcLeaves = append(rcLeaves, sum(resultBytes(t, unhex(t, blk.Receipts[i].BytesHex))))
	}
	if int(h.txCount) != len(blk.Txs) || !bytes.Equal(mth(txLeaves), h.txRoot) {
		t.Fatal("tx root does not match")
	}
	if !bytes.Equal(mth(rcLeaves), h.resultsRoot) {
		t.Fatal("results root does not match")
	}
	if len(blk.Txs) != 6 || blk.Receipts[5].OK {
		t.Fatalf("expected 6 txs with the last failed: %+v", blk.Receipts)
	}

	// A transaction's inclusion proof, by RFC 9162 2.1.3.2.
	var tx struct {
		Hash  string `json:"hash"`
		Proof struct {
			Index, Size uint64
			Path        []string
		} `json:"proof"`
	}
	rawGet(t, c.URL+"/v1/txs/"+blk.Txs[4].Hash, &tx)
	fn, sn := tx.Proof.Index, tx.Proof.Size-1
	if tx.Proof.Size != uint64(h.txCount) {
		t.Fatal("proof size is not the header's tx_count")
	}
	r := sum([]byte{0}, unhex(t, tx.Hash))
	for _, p := range tx.Proof.Path {
		pb := unhex(t, p)
		if fn%2 == 1 || fn == sn {
			r = sum([]byte{1}, pb, r)
			for fn%2 == 0 && fn != 0 {
				fn, sn = fn>>1, sn>>1
			}
		} else {
			r = sum([]byte{1}, r, pb)
		}
		fn, sn = fn>>1, sn>>1
	}
	if sn != 0 || !bytes.Equal(r, h.txRoot) {
		t.Fatal("inclusion proof does not lead to the tx root")
	}
}

func TestVerifyStateProofByHand(t *testing.T) {
	c := apitest.New(t, apitest.Options{Users: 8})
	cl := c.Client()
	ctx := context.Background()
	// Enough keys that proofs have depth.
	var txs []*types.Tx
	for u := 0; u < 8; u++ {
		for i := 1; i <= 8; i++ {
			txs = append(txs, apitest.Tx(c.Users[u], uint64(i), &types.KVPut{Key: string(rune('a'+u)) + string(rune('0'+i)), Value: "val"}))
		}
	}
	if r, err := cl.SubmitBatchWait(ctx, txs, 10*time.Second); err != nil || r.Accepted != len(txs) {
		t.Fatalf("setup: %v", err)
	}
	var status struct {
		ChainID    string         `json:"chain_id"`
		Validators []rawValidator `json:"validators"`
	}
	rawGet(t, c.URL+"/v1/status", &status)

	for _, key := range []string{"c5", "zz-absent", "h8", "nothing"} {
		var p struct {
			Key         string `json:"key"`
			Found       bool   `json:"found"`
			StateKeyHex string `json:"state_key_hex"`
			ValueHex    string `json:"value_hex"`
			Proof       struct {
				Siblings []string `json:"siblings"`
				Leaf     *struct {
					KeyHash   string `json:"key_hash"`
					ValueHash string `json:"value_hash"`
				} `json:"leaf"`
			} `json:"proof"`
			HeaderHex   string  `json:"header_hex"`
			Certificate rawCert `json:"certificate"`
		}
		rawGet(t, c.URL+"/v1/kv/"+key+"?prove=true", &p)
		h := checkCertified(t, status.ChainID, status.Validators, unhex(t, p.HeaderHex), p.Certificate)

		sk := append([]byte{'k'}, key...)
		if !bytes.Equal(unhex(t, p.StateKeyHex), sk) {
			t.Fatalf("%s: state key is not 'k' || key", key)
		}
		path := sum(sk)
		depth := len(p.Proof.Siblings)
		var cur []byte
		switch {
		case p.Found:
			v := unhex(t, p.ValueHex)
			cur = sum([]byte{0}, path, sum(v))
			// value = u64 version || u64 height || [32] tx hash || bool deleted || u32 len || value
			n := binary.BigEndian.Uint32(v[49:53])
			if v[48] != 0 || string(v[53:53+n]) != "val" {
				t.Fatalf("%s: entry does not decode as documented", key)
			}
		case p.Proof.Leaf != nil:
			kh := unhex(t, p.Proof.Leaf.KeyHash)
			if bytes.Equal(kh, path) {
				t.Fatalf("%s: absence proof ends at the key itself", key)
			}
			for i := 0; i < depth; i++ { // the other key shares the path walked
				if bit(kh, i) != bit(path, i) {
					t.Fatalf("%s: proof leaf is off the path", key)
				}
			}
			cur = sum([]byte{0}, kh, unhex(t, p.Proof.Leaf.ValueHash))
		default:
			cur = make([]byte, 32) // an empty subtree
		}
		for i := depth - 1; i >= 0; i-- {
			s := unhex(t, p.Proof.Siblings[i])
			if bit(path, i) == 0 {
				cur = sum([]byte{1}, cur, s)
			} else {
				cur = sum([]byte{1}, s, cur)
			}
		}
		if !bytes.Equal(cur, h.stateRoot) {
			t.Fatalf("%s: proof does not lead to the state root", key)
		}
		if depth == 0 {
			t.Fatalf("%s: expected a proof with depth", key)
		}
	}
}

// bit returns bit i of b, most significant bit of b[0] first.
func bit(b []byte, i int) byte { return b[i/8] >> (7 - uint(i%8)) & 1 }
