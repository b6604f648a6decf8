package client_test

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cairn-db/cairn/client"
	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/internal/api/apitest"
	"github.com/cairn-db/cairn/smt"
	"github.com/cairn-db/cairn/types"
)

var updateKit = flag.Bool("conformance.update", false, "record the conformance kit (testdata/conformance) again from a fresh four-validator test chain")

// kitGen records answers and derives tampered variants.
type kitGen struct {
	t     *testing.T
	url   string
	cases []kitCase
	files map[string][]byte
}

func (g *kitGen) get(path string) []byte {
	g.t.Helper()
	resp, err := http.Get(g.url + path)
	if err != nil {
		g.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		g.t.Fatalf("GET %s: %d %s %v", path, resp.StatusCode, b, err)
	}
	return bytes.TrimSpace(b)
}

// record adds a valid case: the answer to path, as served.
func (g *kitGen) record(c kitCase) []byte {
	g.t.Helper()
	raw := g.get(c.Request)
	c.File = "answers/" + c.Name + ".json"
	g.files[c.File] = raw
	g.cases = append(g.cases, c)
	return raw
}

// tamper adds a reject case: the valid answer raw of base with edit
// applied to its JSON (numbers kept exact).
func (g *kitGen) tamper(base kitCase, raw []byte, name, what string, convenience bool, edit func(m map[string]any)) {
	g.t.Helper()
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		g.t.Fatal(err)
	}
	edit(m)
	out, err := json.Marshal(m)
	if err != nil {
		g.t.Fatal(err)
	}
	c := base // the request and what the answer must be about
	c.Name, c.File, c.Verdict, c.Tamper, c.ConvenienceOnly = name, "answers/"+name+".json", verdictReject, what, convenience
	g.files[c.File] = out
	g.cases = append(g.cases, c)
}

// JSON path helpers over decoded answers.
func obj(v any, path ...any) map[string]any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			v = v.(map[string]any)[k]
		case int:
			v = v.([]any)[k]
		}
	}
	return v.(map[string]any)
}

func arr(m map[string]any, k string) []any { return m[k].([]any) }

// flipHex flips the low bit of byte i of a hex string.
func flipHex(s string, i int) string {
	b, _ := hex.DecodeString(s)
	b[i] ^= 1
	return hex.EncodeToString(b)
}

func jsonNum(n uint64) json.Number { return json.Number(fmt.Sprint(n)) }

func num(v any) uint64 {
	var n uint64
	fmt.Sscan(string(v.(json.Number)), &n)
	return n
}

// tamperSibling flips a byte of the deepest sibling of a state proof, in
// both proof_hex and proof, so only the hashing can tell.
func tamperSibling(t *testing.T, m map[string]any) {
	b, _ := hex.DecodeString(m["proof_hex"].(string))
	p, err := smt.DecodeProof(b)
	if err != nil || len(p.Siblings) == 0 {
		t.Fatalf("tamper sibling: %v (%d siblings)", err, len(p.Siblings))
	}
	p.Siblings[len(p.Siblings)-1][31] ^= 1
	m["proof_hex"] = hex.EncodeToString(p.Encode())
	sib := arr(obj(m, "proof"), "siblings")
	sib[len(sib)-1] = p.Siblings[len(p.Siblings)-1].String()
}

// TestGenerateConformanceKit records the kit from a four-validator test
// chain (a quorum of three signs each certificate, a different validator
// missing each height): blocks, tx and receipt proofs, key and account
// proofs at several heights, proofs of absence, search hits with proofs,
// and tampered variants of each. Without -conformance.update it only
// checks that a fresh recording verifies as the kit says (the recorded
// files themselves change with block times).
func TestGenerateConformanceKit(t *testing.T) {
	c := apitest.New(t, apitest.Options{Validators: 4, Search: true, Users: 3})
	c.Pause()
	alice, bob, carol := c.Users[0], c.Users[1], c.Users[2]
	stranger := apitest.Key('s', 1) // never funded, never seen
	put := func(k *crypto.PrivateKey, n uint64, key, v string, expect *uint64) *types.Tx {
		return apitest.Tx(k, n, &types.KVPut{Key: key, Value: v, ExpectVersion: expect})
	}
	one := uint64(1)
	// Height 1: three successes. Height 2: a success and two failures
	// (a stale compare-and-set, an overdraft). Height 3: a deletion and a
	// record. Height 4: one transfer (a one-leaf tx tree).
	h1 := []*types.Tx{
		put(alice, 1, "fruit/apple", "red apples", nil),
		apitest.Tx(alice, 2, &types.Transfer{To: bob.Public().Address(), Amount: 250}),
		put(bob, 1, "fruit/banana", "yellow", nil),
	}
	h2 := []*types.Tx{
		put(alice, 3, "fruit/apple", "green apples", &one),
		put(bob, 2, "fruit/apple", "stale apples", &one),                                       // version_conflict
		apitest.Tx(carol, 1, &types.Transfer{To: alice.Public().Address(), Amount: 5_000_000}), // insufficient_balance
	}
	h3 := []*types.Tx{
		apitest.Tx(bob, 2, &types.KVDelete{Key: "fruit/banana"}),
		apitest.Tx(carol, 1, &types.Record{Document: []byte(`{"note":"apples for the market","crates":12}`)}),
	}
	h4 := []*types.Tx{apitest.Tx(carol, 2, &types.Transfer{To: bob.Public().Address(), Amount: 7})}
	for _, txs := range [][]*types.Tx{h1, h2, h3, h4} {
		c.CommitBlock(txs...)
	}
	c.WaitIndexed()

	g := &kitGen{t: t, url: c.URL, files: map[string][]byte{}}
	// Blocks.
	for _, h := range []uint64{1, 2, 4} {
		bc := kitCase{Name: fmt.Sprintf("block-%d", h), Kind: "block", Request: fmt.Sprintf("/v1/blocks/%d", h), Verdict: verdictCertified, Height: h}
		raw := g.record(bc)
		if h != 2 {
			continue
		}
		g.tamper(bc, raw, "block-2-signature", "one byte of the first certificate signature flipped", false, func(m map[string]any) {
			s := obj(m, "certificate", "signatures", 0)
			s["signature"] = flipHex(s["signature"].(string), 5)
		})
		g.tamper(bc, raw, "block-2-receipt-ok-json", "receipts[1].ok set to true in the JSON; its bytes still say failed", true, func(m map[string]any) {
			r := obj(m, "receipts", 1)
			r["ok"] = true
			delete(r, "code")
			delete(r, "reason")
		})
		g.tamper(bc, raw, "block-2-receipt-bytes", "receipts[1]: the ok byte of bytes_hex set to 1 (and the JSON to match)", false, func(m map[string]any) {
			r := obj(m, "receipts", 1)
			r["bytes_hex"] = flipHex(r["bytes_hex"].(string), 32)
			r["ok"] = true
		})
		g.tamper(bc, raw, "block-2-header", "one byte of the state root in header_hex flipped", false, func(m map[string]any) {
			m["header_hex"] = flipHex(m["header_hex"].(string), len(m["header_hex"].(string))/2-40)
		})
		g.tamper(bc, raw, "block-2-tx-dropped", "the last transaction and its receipt removed", false, func(m map[string]any) {
			txs, rs := arr(m, "txs"), arr(m, "receipts")
			m["txs"], m["receipts"] = txs[:len(txs)-1], rs[:len(rs)-1]
		})
	}
	// Transactions with receipt proofs.
	txCase := func(name string, tx *types.Tx, verdict, code string) (kitCase, []byte) {
		tc := kitCase{Name: name, Kind: "tx", Request: "/v1/txs/" + tx.Hash().String() + "?prove=true", Verdict: verdict, Hash: tx.Hash().String(), Code: code}
		return tc, g.record(tc)
	}
	okc, okRaw := txCase("tx-committed", h1[1], verdictCommitted, "")
	txCase("tx-committed-single", h4[0], verdictCommitted, "")
	failc, failRaw := txCase("tx-failed", h2[1], verdictFailed, "version_conflict")
	txCase("tx-failed-overdraft", h2[2], verdictFailed, "insufficient_balance")
	g.tamper(failc, failRaw, "tx-failed-status-json", "status \"committed\" and receipt.ok true in the JSON; the receipt bytes say failed", true, func(m map[string]any) {
		m["status"] = "committed"
		r := obj(m, "receipt")
		r["ok"] = true
		delete(r, "code")
		delete(r, "reason")
	})
	g.tamper(failc, failRaw, "tx-failed-receipt-bytes", "the ok byte of receipt_bytes_hex set to 1, JSON to match", false, func(m map[string]any) {
		m["receipt_bytes_hex"] = flipHex(m["receipt_bytes_hex"].(string), 32)
		m["status"] = "committed"
		obj(m, "receipt")["ok"] = true
	})
	g.tamper(okc, okRaw, "tx-receipt-proof", "one byte of receipt_proof.path[0] flipped", false, func(m map[string]any) {
		p := arr(obj(m, "receipt_proof"), "path")
		p[0] = flipHex(p[0].(string), 0)
	})
	g.tamper(okc, okRaw, "tx-nonce-json", "tx.nonce changed in the JSON; tx_bytes_hex intact", true, func(m map[string]any) {
		tx := obj(m, "tx")
		tx["nonce"] = jsonNum(num(tx["nonce"]) + 1)
	})
	g.tamper(okc, okRaw, "tx-proof-size", "proof.size and receipt_proof.size one larger than the header's tx_count", false, func(m map[string]any) {
		for _, k := range []string{"proof", "receipt_proof"} {
			p := obj(m, k)
			p["size"] = jsonNum(num(p["size"]) + 1)
		}
	})
	g.tamper(okc, okRaw, "tx-other-index", "index, proof.index and receipt_proof.index moved to the next position", false, func(m map[string]any) {
		m["index"] = jsonNum(num(m["index"]) + 1)
		for _, k := range []string{"proof", "receipt_proof"} {
			p := obj(m, k)
			p["index"] = jsonNum(num(p["index"]) + 1)
		}
	})
	g.tamper(okc, okRaw, "tx-certificate", "one byte of a certificate signature flipped", false, func(m map[string]any) {
		s := obj(m, "certificate", "signatures", 2)
		s["signature"] = flipHex(s["signature"].(string), 60)
	})
	// Keys, at several heights.
	kvCase := func(name, key string, height uint64, verdict string, version uint64) (kitCase, []byte) {
		kc := kitCase{Name: name, Kind: "kv", Request: fmt.Sprintf("/v1/kv/%s?prove=true&height=%d", strings.ReplaceAll(key, "/", "%2F"), height),
			Verdict: verdict, Key: key, Height: height, Version: version}
		return kc, g.record(kc)
	}
	k1c, k1 := kvCase("kv-apple-1", "fruit/apple", 1, verdictPresent, 1)
	kvCase("kv-apple-2", "fruit/apple", 2, verdictPresent, 2)
	kvCase("kv-banana-deleted-3", "fruit/banana", 3, verdictDeleted, 2)
	// Absent keys: one whose path ends at an empty subtree, one whose path
	// ends at another key's leaf.
	flavours := map[bool]bool{}
	for i := 0; len(flavours) < 2 && i < 500; i++ {
		key := fmt.Sprintf("absent-%d", i)
		var peek struct {
			Proof struct {
				Leaf *json.RawMessage `json:"leaf"`
			} `json:"proof"`
		}
		if err := json.Unmarshal(g.get(fmt.Sprintf("/v1/kv/%s?prove=true&height=4", key)), &peek); err != nil {
			t.Fatal(err)
		}
		atLeaf := peek.Proof.Leaf != nil
		if flavours[atLeaf] {
			continue
		}
		flavours[atLeaf] = true
		name := "kv-absent-empty-subtree"
		if atLeaf {
			name = "kv-absent-other-leaf"
		}
		kc, raw := kvCase(name, key, 4, verdictAbsent, 0)
		g.tamper(kc, raw, name+"-sibling", "one byte of the deepest sibling flipped (proof and proof_hex)", false, func(m map[string]any) { tamperSibling(t, m) })
		if atLeaf {
			g.tamper(kc, raw, name+"-leaf", "one byte of proof.leaf.value_hash flipped (proof and proof_hex)", false, func(m map[string]any) {
				b, _ := hex.DecodeString(m["proof_hex"].(string))
				p, err := smt.DecodeProof(b)
				if err != nil {
					t.Fatal(err)
				}
				p.Leaf.ValueHash[0] ^= 1
				m["proof_hex"] = hex.EncodeToString(p.Encode())
				obj(m, "proof", "leaf")["value_hash"] = p.Leaf.ValueHash.String()
			})
		}
	}
	if len(flavours) < 2 {
		t.Fatalf("found only one flavour of absence proof: %v", flavours)
	}
	g.tamper(k1c, k1, "kv-sibling", "one byte of the deepest sibling flipped (proof and proof_hex)", false, func(m map[string]any) { tamperSibling(t, m) })
	g.tamper(k1c, k1, "kv-value", "one byte of the value in value_hex changed, entry.value to match", false, func(m map[string]any) {
		m["value_hex"] = flipHex(m["value_hex"].(string), len(m["value_hex"].(string))/2-1)
		e := obj(m, "entry")
		v := []byte(e["value"].(string))
		v[len(v)-1] ^= 1
		e["value"] = string(v)
	})
	g.tamper(k1c, k1, "kv-claims-absent", "found false, entry and value_hex removed, over a membership proof", false, func(m map[string]any) {
		m["found"] = false
		delete(m, "entry")
		delete(m, "value_hex")
	})
	g.tamper(k1c, k1, "kv-entry-json", "entry.version changed in the JSON; value_hex intact", true, func(m map[string]any) {
		e := obj(m, "entry")
		e["version"] = jsonNum(num(e["version"]) + 1)
	})
	// Accounts, at several heights; a never-seen address.
	acCase := func(name string, k *crypto.PrivateKey, height uint64, verdict string) (kitCase, []byte) {
		ac := kitCase{Name: name, Kind: "account", Request: fmt.Sprintf("/v1/accounts/%s?prove=true&height=%d", hexAddress(k), height),
			Verdict: verdict, Address: hexAddress(k), Height: height}
		raw := g.record(ac)
		var p struct{ Balance, Nonce uint64 }
		if err := json.Unmarshal(raw, &p); err != nil {
			t.Fatal(err)
		}
		last := &g.cases[len(g.cases)-1]
		last.Balance, last.Nonce = p.Balance, p.Nonce
		return *last, raw
	}
	a1c, a1 := acCase("account-alice-1", alice, 1, verdictPresent)
	acCase("account-alice-2", alice, 2, verdictPresent)
	acCase("account-bob-4", bob, 4, verdictPresent)
	sc, sraw := acCase("account-never-seen", stranger, 4, verdictAbsent)
	g.tamper(a1c, a1, "account-balance-json", "balance raised in the JSON; value_hex intact", true, func(m map[string]any) {
		m["balance"] = jsonNum(num(m["balance"]) + 1_000)
	})
	g.tamper(a1c, a1, "account-value", "the balance in value_hex raised, balance to match", false, func(m map[string]any) {
		m["value_hex"] = flipHex(m["value_hex"].(string), 4)
		b, _ := hex.DecodeString(m["value_hex"].(string))
		a, _ := types.DecodeAccount(b)
		m["balance"] = jsonNum(a.Balance)
	})
	g.tamper(a1c, a1, "account-sibling", "one byte of the deepest sibling flipped (proof and proof_hex)", false, func(m map[string]any) { tamperSibling(t, m) })
	g.tamper(sc, sraw, "account-never-seen-claims-funds", "found true with a value of balance 1000 over the proof of absence", false, func(m map[string]any) {
		m["found"] = true
		m["value_hex"] = hex.EncodeToString(types.Account{Balance: 1000}.Encode())
		m["balance"] = jsonNum(1000)
	})
	// Search hits with proofs.
	srCase := func(name, q string) (kitCase, []byte) {
		raw := g.get("/v1/search?q=" + q + "&prove=true&limit=20")
		var r struct{ Hits []any }
		if err := json.Unmarshal(raw, &r); err != nil {
			t.Fatal(err)
		}
		sc := kitCase{Name: name, Kind: "search", Request: "/v1/search?q=" + q + "&prove=true&limit=20", Verdict: verdictHits, Hits: len(r.Hits)}
		return sc, g.record(sc)
	}
	sac, sa := srCase("search-apples", "apples")
	srCase("search-failed", "status:failed")
	srCase("search-none", "zebra")
	g.tamper(sac, sa, "search-hit-hash", "hits[0].hash replaced by another transaction's hash", false, func(m map[string]any) {
		obj(m, "hits", 0)["hash"] = h1[1].Hash().String() // a transfer: not a hit
	})
	g.tamper(sac, sa, "search-hit-tx-proof", "one byte of hits[0].proof.tx_proof.path[0] flipped", false, func(m map[string]any) {
		p := arr(obj(m, "hits", 0, "proof", "tx_proof"), "path")
		p[0] = flipHex(p[0].(string), 3)
	})
	g.tamper(sac, sa, "search-header-missing", "headers[0] removed", false, func(m map[string]any) {
		m["headers"] = arr(m, "headers")[1:]
	})
	g.tamper(sac, sa, "search-hit-status", "a failed hit reported as ok (status and code); its receipt says failed", true, func(m map[string]any) {
		for _, h := range arr(m, "hits") {
			if hm := h.(map[string]any); hm["status"] == "failed" {
				hm["status"] = "ok"
				delete(hm, "code")
				return
			}
		}
		t.Fatal("search-apples has no failed hit")
	})

	man := kitManifest{
		Description: "Cairn conformance kit: recorded API answers of a four-validator test chain and the verdict a verifier must reach on each. See README.md.",
		ChainID:     c.Genesis.ChainID, Validators: c.Genesis.Validators, Cases: g.cases,
	}
	mb, err := json.MarshalIndent(man, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	// A fresh recording must verify as the kit says, whether written or not.
	vals, err := types.NewValidatorSet(man.Validators)
	if err != nil {
		t.Fatal(err)
	}
	for _, kc := range g.cases {
		got, err := runKitCase(man.ChainID, vals, kc, g.files[kc.File])
		if kc.Verdict == verdictReject {
			if !errors.Is(err, client.ErrVerify) {
				t.Errorf("%s: tampered answer not refused by verification: %q %v", kc.Name, got, err)
			}
		} else if err != nil || got != kc.Verdict {
			t.Errorf("%s: verdict %q %v, want %q", kc.Name, got, err, kc.Verdict)
		}
	}
	if !*updateKit || t.Failed() {
		return
	}
	if err := os.RemoveAll(filepath.Join(kitDir, "answers")); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(kitDir, "answers"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, b := range g.files {
		if err := os.WriteFile(filepath.Join(kitDir, name), append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(kitDir, "manifest.json"), append(mb, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %d cases to %s", len(g.cases), kitDir)
}
