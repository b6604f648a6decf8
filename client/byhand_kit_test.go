package client_test

// This file is a second verifier of the conformance kit, written from
// docs/api.md and docs/encoding.md alone, as an implementer in another
// language would: it decodes the raw JSON into plain maps and uses only the
// standard library (SHA-256, Ed25519, hex) — no Cairn package, not even for
// the JSON shapes. It reads every value it reports from the proven bytes,
// and compares the convenience copies docs/api.md lists with them. If the
// docs left out a step, this verifier and the kit would disagree.
//
// One deliberate shortcut: it checks signatures with Go's crypto/ed25519,
// a strict RFC 8032 verifier, which accepts every honestly made signature
// (all the kit has); a production verifier must use ZIP-215 (encoding.md 2).

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

type hm = map[string]any

func hsum(parts ...[]byte) []byte {
	h := sha256.New()
	for _, p := range parts {
		h.Write(p)
	}
	return h.Sum(nil)
}

// hand collects the first error of a verification.
type hand struct{ err error }

func (h *hand) fail(format string, args ...any) {
	if h.err == nil {
		h.err = fmt.Errorf(format, args...)
	}
}

func (h *hand) hex(v any, what string) []byte {
	s, ok := v.(string)
	if !ok {
		h.fail("%s: not a string", what)
		return nil
	}
	b, err := hex.DecodeString(s)
	if err != nil || strings.ToLower(s) != s {
		h.fail("%s: bad hex", what)
	}
	return b
}

func (h *hand) u64(v any, what string) uint64 {
	n, ok := v.(json.Number)
	if !ok {
		h.fail("%s: not a number", what)
		return 0
	}
	x, err := strconv.ParseUint(string(n), 10, 64)
	if err != nil {
		h.fail("%s: %v", what, err)
	}
	return x
}

func (h *hand) obj(v any, what string) hm {
	m, ok := v.(hm)
	if !ok {
		h.fail("%s: not an object", what)
		return hm{}
	}
	return m
}

func (h *hand) list(v any, what string) []any {
	l, ok := v.([]any)
	if !ok {
		h.fail("%s: not an array", what)
	}
	return l
}

// bheader is what a verifier reads from canonical header bytes (encoding.md 4.1).
type bheader struct {
	chainID                                  string
	height                                   uint64
	time                                     int64
	txCount                                  uint64
	txRoot, resultsRoot, stateRoot, valsHash []byte
	hash                                     []byte
}

func (h *hand) header(b []byte) *bheader {
	if len(b) < 3 || b[0] != 2 {
		h.fail("header: bad version")
		return &bheader{}
	}
	n := int(binary.BigEndian.Uint16(b[1:3]))
	if len(b) != 283+n {
		h.fail("header: %d bytes, want %d", len(b), 283+n)
		return &bheader{}
	}
	o := 3 + n
	hd := &bheader{chainID: string(b[3:o]), hash: hsum(b)}
	hd.height = binary.BigEndian.Uint64(b[o:])
	hd.time = int64(binary.BigEndian.Uint64(b[o+12:]))
	o += 8 + 4 + 8 + 32 + 32
	hd.txCount = uint64(binary.BigEndian.Uint32(b[o:]))
	o += 4
	hd.txRoot, hd.resultsRoot, hd.stateRoot, hd.valsHash = b[o:o+32], b[o+32:o+64], b[o+64:o+96], b[o+96:o+128]
	return hd
}

type kitVal struct {
	pub   []byte
	power uint64
}

// certified is api.md "How to audit a block by hand", steps 1-3.
func (h *hand) certified(chainID string, vals []kitVal, headerHex any, cert hm) *bheader {
	hd := h.header(h.hex(headerHex, "header_hex"))
	if h.err != nil {
		return hd
	}
	if hd.chainID != chainID || h.u64(cert["height"], "certificate.height") != hd.height ||
		!bytes.Equal(h.hex(cert["block_hash"], "block_hash"), hd.hash) {
		h.fail("certificate does not name this header")
	}
	vh := binary.BigEndian.AppendUint16(nil, uint16(len(vals)))
	var total uint64
	for _, v := range vals {
		vh = binary.BigEndian.AppendUint64(append(vh, v.pub...), v.power)
		total += v.power
	}
	if !bytes.Equal(hsum(vh), hd.valsHash) {
		h.fail("validators_hash is not the trusted set's")
	}
	round := h.u64(cert["round"], "certificate.round") // the certificate's round, not the header's
	sb := append([]byte{0x0d}, "cairn/vote/v1"...)
	sb = binary.BigEndian.AppendUint16(sb, uint16(len(chainID)))
	sb = append(append(sb, chainID...), 2)
	sb = binary.BigEndian.AppendUint64(sb, hd.height)
	sb = binary.BigEndian.AppendUint32(sb, uint32(round))
	sb = append(sb, hd.hash...)
	var power uint64
	last := -1
	for i, sv := range h.list(cert["signatures"], "signatures") {
		s := h.obj(sv, "signature")
		idx := int(h.u64(s["validator_index"], "validator_index"))
		if idx >= len(vals) || idx <= last {
			h.fail("signature %d: index %d out of range or not strictly ascending", i, idx)
			return hd
		}
		last = idx
		if !ed25519.Verify(vals[idx].pub, sb, h.hex(s["signature"], "signature")) {
			h.fail("signature %d (validator %d) does not verify", i, idx)
		}
		power += vals[idx].power
	}
	if power < total*2/3+1 {
		h.fail("signers hold power %d of %d", power, total)
	}
	return hd
}

// inclusion is RFC 9162 2.1.3.2 (encoding.md 4.3) with size and index
// given by the caller, not taken from the proof.
func (h *hand) inclusion(root, leaf []byte, proof hm, index, size uint64) {
	if h.u64(proof["size"], "proof.size") != size || h.u64(proof["index"], "proof.index") != index || index >= size {
		h.fail("proof size or index is not the header's tx_count or the tx's position")
		return
	}
	fn, sn := index, size-1
	r := hsum([]byte{0}, leaf)
	for _, pv := range h.list(proof["path"], "proof.path") {
		p := h.hex(pv, "path")
		if sn == 0 {
			h.fail("inclusion: path too long")
			return
		}
		if fn&1 == 1 || fn == sn {
			r = hsum([]byte{1}, p, r)
			for fn&1 == 0 && fn != 0 {
				fn >>= 1
				sn >>= 1
			}
		} else {
			r = hsum([]byte{1}, r, p)
		}
		fn >>= 1
		sn >>= 1
	}
	if sn != 0 || !bytes.Equal(r, root) {
		h.fail("inclusion proof does not lead to the root")
	}
}

// receipt decodes canonical receipt bytes (encoding.md 5).
type breceipt struct {
	txHash  []byte
	ok      bool
	code    string
	version uint64
	result  []byte // the result bytes
}

func (h *hand) receipt(b []byte) *breceipt {
	if len(b) < 32+1+2+2+8 || b[32] > 1 {
		h.fail("receipt bytes malformed")
		return &breceipt{}
	}
	codeEnd := 35 + int(binary.BigEndian.Uint16(b[33:35]))
	if len(b) < codeEnd+2+8 {
		h.fail("receipt bytes truncated")
		return &breceipt{}
	}
	reasonEnd := codeEnd + 2 + int(binary.BigEndian.Uint16(b[codeEnd:]))
	if len(b) != reasonEnd+8 {
		h.fail("receipt bytes: wrong length")
		return &breceipt{}
	}
	r := &breceipt{txHash: b[:32], ok: b[32] == 1, code: string(b[35:codeEnd]), version: binary.BigEndian.Uint64(b[reasonEnd:])}
	r.result = append(append([]byte(nil), b[:codeEnd]...), b[reasonEnd:]...)
	return r
}

// txNonceType reads type and nonce from signed tx bytes (encoding.md 3.1).
func (h *hand) txNonceType(b []byte) (string, uint64) {
	if len(b) < 3 {
		h.fail("tx bytes too short")
		return "", 0
	}
	o := 3 + int(binary.BigEndian.Uint16(b[1:3]))
	if len(b) < o+1+32+8 {
		h.fail("tx bytes too short")
		return "", 0
	}
	types := map[byte]string{1: "transfer", 2: "kv.put", 3: "kv.delete", 4: "record"}
	return types[b[o]], binary.BigEndian.Uint64(b[o+33:])
}

// outcome is api.md "How to verify a transaction's outcome", steps 2-4.
func (h *hand) outcome(hd *bheader, hash []byte, index uint64, txHex any, txProof hm, rcHex any, rcProof hm) (*breceipt, []byte) {
	raw := h.hex(txHex, "tx bytes")
	if !bytes.Equal(hsum(raw), hash) {
		h.fail("tx bytes do not hash to the tx hash")
	}
	h.inclusion(hd.txRoot, hash, txProof, index, hd.txCount)
	rc := h.receipt(h.hex(rcHex, "receipt bytes"))
	if !bytes.Equal(rc.txHash, hash) {
		h.fail("receipt is for another tx")
	}
	h.inclusion(hd.resultsRoot, hsum(rc.result), rcProof, index, hd.txCount)
	return rc, raw
}

func bitAt(p []byte, i int) byte { return (p[i/8] >> (7 - uint(i%8))) & 1 }

// state is encoding.md 7.2-7.3: decode proof_hex and verify it.
func (h *hand) state(root, key []byte, value []byte, found bool, proofHex any) {
	b := h.hex(proofHex, "proof_hex")
	if h.err != nil || len(b) < 3 || b[0]&^1 != 0 {
		h.fail("proof_hex: bad header")
		return
	}
	depth := int(binary.BigEndian.Uint16(b[1:3]))
	nb := (depth + 7) / 8
	if depth > 256 || len(b) < 3+nb {
		h.fail("proof_hex: bad depth")
		return
	}
	bm, rest := b[3:3+nb], b[3+nb:]
	if depth%8 != 0 && bm[nb-1]&(0xff>>uint(depth%8)) != 0 {
		h.fail("proof_hex: padding bits set")
		return
	}
	sib := make([][]byte, depth)
	zero := make([]byte, 32)
	for i := range sib {
		sib[i] = zero
		if bm[i/8]&(0x80>>uint(i%8)) != 0 {
			if len(rest) < 32 || bytes.Equal(rest[:32], zero) {
				h.fail("proof_hex: bad sibling")
				return
			}
			sib[i], rest = rest[:32], rest[32:]
		}
	}
	var leaf []byte
	if b[0]&1 == 1 {
		if len(rest) < 64 {
			h.fail("proof_hex: truncated leaf")
			return
		}
		leaf, rest = rest[:64], rest[64:]
	}
	if len(rest) != 0 || (depth > 0 && bytes.Equal(sib[depth-1], zero)) {
		h.fail("proof_hex: trailing bytes or empty deepest sibling")
		return
	}
	P := hsum(key)
	var cur []byte
	switch {
	case found:
		if leaf != nil {
			h.fail("membership claimed over a proof of absence")
			return
		}
		cur = hsum([]byte{0}, P, hsum(value))
	case leaf != nil:
		if bytes.Equal(leaf[:32], P) {
			h.fail("proof leaf is the key itself")
			return
		}
		for i := 0; i < depth; i++ {
			if bitAt(leaf, i) != bitAt(P, i) {
				h.fail("proof leaf is not on the key's path")
				return
			}
		}
		cur = hsum([]byte{0}, leaf)
	default:
		cur = zero
	}
	for i := depth - 1; i >= 0; i-- {
		if bitAt(P, i) == 0 {
			cur = hsum([]byte{1}, cur, sib[i])
		} else {
			cur = hsum([]byte{1}, sib[i], cur)
		}
	}
	if !bytes.Equal(cur, root) {
		h.fail("state proof does not lead to the state root")
	}
}

// byHand verifies one kit answer and returns the verdict and the values
// it proves, read from bytes.
func byHand(chainID string, vals []kitVal, c kitCase, raw []byte) (string, error) {
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var m hm
	if err := d.Decode(&m); err != nil {
		return "", err
	}
	h := &hand{}
	verdict := ""
	switch c.Kind {
	case "block":
		hd := h.certified(chainID, vals, m["header_hex"], h.obj(m["certificate"], "certificate"))
		if c.Height != 0 && hd.height != c.Height {
			h.fail("block of another height")
		}
		txs, rcs := h.list(m["txs"], "txs"), h.list(m["receipts"], "receipts")
		if uint64(len(txs)) != hd.txCount || len(rcs) != len(txs) {
			h.fail("%d txs and %d receipts for tx_count %d", len(txs), len(rcs), hd.txCount)
		}
		var txLeaves, rcLeaves [][]byte
		for i := range txs {
			if i >= len(rcs) {
				break
			}
			tx, rm := h.obj(txs[i], "tx"), h.obj(rcs[i], "receipt")
			th := hsum(h.hex(tx["bytes_hex"], "tx bytes"))
			rc := h.receipt(h.hex(rm["bytes_hex"], "receipt bytes"))
			if !bytes.Equal(rc.txHash, th) {
				h.fail("receipt %d is for another tx", i)
			}
			// Convenience copies must match the bytes.
			if rm["ok"] != rc.ok || (rm["code"] != nil && rm["code"] != rc.code) || (rm["code"] == nil && rc.code != "") {
				h.fail("receipt %d: JSON ok/code differ from its bytes", i)
			}
			txLeaves, rcLeaves = append(txLeaves, th), append(rcLeaves, hsum(rc.result))
		}
		if !bytes.Equal(handMTH(txLeaves), hd.txRoot) || !bytes.Equal(handMTH(rcLeaves), hd.resultsRoot) {
			h.fail("tx or results root mismatch")
		}
		verdict = verdictCertified
	case "tx":
		hd := h.certified(chainID, vals, m["header_hex"], h.obj(m["certificate"], "certificate"))
		hash := h.hex(m["hash"], "hash")
		if hex.EncodeToString(hash) != c.Hash {
			h.fail("answer about another tx")
		}
		rc, txb := h.outcome(hd, hash, h.u64(m["index"], "index"), m["tx_bytes_hex"], h.obj(m["proof"], "proof"), m["receipt_bytes_hex"], h.obj(m["receipt_proof"], "receipt_proof"))
		if h.err != nil {
			break
		}
		verdict = verdictCommitted
		if !rc.ok {
			verdict = verdictFailed
			if rc.code != c.Code {
				h.fail("failed with %q, kit says %q", rc.code, c.Code)
			}
		}
		r := h.obj(m["receipt"], "receipt")
		_, nonce := h.txNonceType(txb)
		if (m["status"] == "committed") != rc.ok || r["ok"] != rc.ok || h.u64(h.obj(m["tx"], "tx")["nonce"], "tx.nonce") != nonce {
			h.fail("status, receipt.ok or tx.nonce differ from the bytes")
		}
	case "kv", "account":
		hd := h.certified(chainID, vals, m["header_hex"], h.obj(m["certificate"], "certificate"))
		var key []byte
		if c.Kind == "kv" {
			key = append([]byte{'k'}, c.Key...)
		} else {
			key = append([]byte{'a'}, h.hex(c.Address, "address")...)
		}
		if !bytes.Equal(h.hex(m["state_key_hex"], "state_key_hex"), key) || (c.Height != 0 && hd.height != c.Height) {
			h.fail("answer about another key or height")
		}
		found, _ := m["found"].(bool)
		var value []byte
		if found {
			value = h.hex(m["value_hex"], "value_hex")
		} else if m["value_hex"] != nil {
			h.fail("absence with a value")
		}
		h.state(hd.stateRoot, key, value, found, m["proof_hex"])
		if h.err != nil {
			break
		}
		switch {
		case !found:
			verdict = verdictAbsent
			if c.Kind == "account" && (h.u64(m["balance"], "balance") != 0 || h.u64(m["nonce"], "nonce") != 0) {
				h.fail("absent account with a balance or nonce")
			}
		case c.Kind == "account":
			if len(value) != 16 {
				h.fail("account value of %d bytes", len(value))
				break
			}
			bal, non := binary.BigEndian.Uint64(value), binary.BigEndian.Uint64(value[8:])
			if bal != c.Balance || non != c.Nonce || h.u64(m["balance"], "balance") != bal || h.u64(m["nonce"], "nonce") != non {
				h.fail("balance/nonce: bytes %d/%d, JSON %v/%v, kit %d/%d", bal, non, m["balance"], m["nonce"], c.Balance, c.Nonce)
			}
			verdict = verdictPresent
		default:
			// KV entry: u64 version ‖ u64 height ‖ [32] tx_hash ‖ bool deleted ‖ bytes32 value
			if len(value) < 53 {
				h.fail("kv entry too short")
				break
			}
			version, deleted := binary.BigEndian.Uint64(value), value[48] == 1
			if version != c.Version || h.u64(h.obj(m["entry"], "entry")["version"], "entry.version") != version {
				h.fail("version: bytes %d, kit %d", version, c.Version)
			}
			verdict = verdictPresent
			if deleted {
				verdict = verdictDeleted
			}
		}
	case "search":
		headers := map[uint64]*bheader{}
		for _, hv := range h.list(m["headers"], "headers") {
			ch := h.obj(hv, "header")
			hd := h.certified(chainID, vals, ch["header_hex"], h.obj(ch["certificate"], "certificate"))
			headers[hd.height] = hd
		}
		hits := h.list(m["hits"], "hits")
		for i, hv := range hits {
			hit := h.obj(hv, "hit")
			hd := headers[h.u64(hit["height"], "hit.height")]
			if hd == nil {
				h.fail("hit %d: no certified header for its height", i)
				break
			}
			if ts, err := time.Parse(time.RFC3339, fmt.Sprint(hit["time"])); err != nil || ts.UnixMilli() != hd.time {
				h.fail("hit %d: time is not the header's", i)
			}
			hash := h.hex(hit["hash"], "hit.hash")
			if hit["index"] == nil {
				if !bytes.Equal(hash, hd.hash) {
					h.fail("block hit %d: not the certified header's hash", i)
				}
				continue
			}
			p := h.obj(hit["proof"], "hit.proof")
			rc, txb := h.outcome(hd, hash, h.u64(hit["index"], "hit.index"), p["tx_bytes_hex"], h.obj(p["tx_proof"], "tx_proof"), p["receipt_bytes_hex"], h.obj(p["receipt_proof"], "receipt_proof"))
			typ, _ := h.txNonceType(txb)
			status, code := "ok", ""
			if !rc.ok {
				status, code = "failed", rc.code
			}
			hc, _ := hit["code"].(string)
			if hit["status"] != status || hc != code || hit["type"] != typ {
				h.fail("hit %d: status, code or type differ from the proven bytes", i)
			}
		}
		if len(hits) != c.Hits {
			h.fail("%d hits, kit says %d", len(hits), c.Hits)
		}
		verdict = verdictHits
	default:
		h.fail("unknown kind %q", c.Kind)
	}
	if h.err != nil {
		return "", h.err
	}
	return verdict, nil
}

func handMTH(leaves [][]byte) []byte {
	switch len(leaves) {
	case 0:
		return hsum()
	case 1:
		return hsum([]byte{0}, leaves[0])
	}
	k := 1
	for k*2 < len(leaves) {
		k *= 2
	}
	return hsum([]byte{1}, handMTH(leaves[:k]), handMTH(leaves[k:]))
}

// TestConformanceKitByHand runs the from-the-docs verifier over the kit:
// it must reach every verdict the manifest states and reject every
// tampered answer.
func TestConformanceKitByHand(t *testing.T) {
	for _, dir := range kitDirs(t) {
		t.Run(filepath.Base(dir), func(t *testing.T) { checkKitByHand(t, dir) })
	}
}

func checkKitByHand(t *testing.T, dir string) {
	var m struct {
		ChainID    string `json:"chain_id"`
		Validators []struct {
			PublicKey string `json:"public_key"`
			Power     uint64 `json:"power"`
		} `json:"validators"`
		Cases []kitCase `json:"cases"`
	}
	b, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	var vals []kitVal
	for _, v := range m.Validators {
		pub, err := hex.DecodeString(v.PublicKey)
		if err != nil {
			t.Fatal(err)
		}
		vals = append(vals, kitVal{pub: pub, power: v.Power})
	}
	for _, c := range m.Cases {
		raw, err := os.ReadFile(filepath.Join(dir, c.File))
		if err != nil {
			t.Fatal(err)
		}
		got, err := byHand(m.ChainID, vals, c, raw)
		if c.Verdict == verdictReject {
			if err == nil {
				t.Errorf("%s: tampered answer (%s) accepted by hand as %q", c.Name, c.Tamper, got)
			}
			continue
		}
		if err != nil || got != c.Verdict {
			t.Errorf("%s: by hand %q %v, kit says %q", c.Name, got, err, c.Verdict)
		}
	}
}
