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

// kitScenario is what a recording needs to know about the chain it runs
// against: which answers to record and what each must prove.
type kitScenario struct {
	dir, description string
	chainID          string
	validators       []types.Validator
	// blocks to record; failBlock holds a failed receipt at failIdx.
	blocks    []uint64
	failBlock uint64
	failIdx   int
	// okTx is committed ok in a block of two or more txs; failTx failed
	// with failCode. txs are further tx cases.
	okTx, failTx *types.Tx
	failCode     string
	txs          []kitCase
	kvs          []kitCase // key, height, verdict, version set
	absentHeight uint64
	accounts     []kitCase // address, height, verdict set
	stranger     crypto.Address
	searches     [][2]string // name, query; the first has a failed hit
	notAHit      crypto.Hash // a committed tx the first search does not find
}

// recordKit records sc's answers from the API at url, derives the
// tampered variants, checks a fresh recording against its verdicts, and
// with -conformance.update writes it to testdata/conformance/sc.dir.
func recordKit(t *testing.T, url string, sc kitScenario) {
	g := &kitGen{t: t, url: url, files: map[string][]byte{}}
	for _, h := range sc.blocks {
		bc := kitCase{Name: fmt.Sprintf("block-%d", h), Kind: "block", Request: fmt.Sprintf("/v1/blocks/%d", h), Verdict: verdictCertified, Height: h}
		raw := g.record(bc)
		if h != sc.failBlock {
			continue
		}
		fi := sc.failIdx
		g.tamper(bc, raw, bc.Name+"-signature", "one byte of the first certificate signature flipped", false, func(m map[string]any) {
			s := obj(m, "certificate", "signatures", 0)
			s["signature"] = flipHex(s["signature"].(string), 5)
		})
		g.tamper(bc, raw, bc.Name+"-receipt-ok-json", fmt.Sprintf("receipts[%d].ok set to true in the JSON; its bytes still say failed", fi), true, func(m map[string]any) {
			r := obj(m, "receipts", fi)
			r["ok"] = true
			delete(r, "code")
			delete(r, "reason")
		})
		g.tamper(bc, raw, bc.Name+"-receipt-bytes", fmt.Sprintf("receipts[%d]: the ok byte of bytes_hex set to 1 (and the JSON to match)", fi), false, func(m map[string]any) {
			r := obj(m, "receipts", fi)
			r["bytes_hex"] = flipHex(r["bytes_hex"].(string), 32)
			r["ok"] = true
		})
		g.tamper(bc, raw, bc.Name+"-header", "one byte of the state root in header_hex flipped", false, func(m map[string]any) {
			m["header_hex"] = flipHex(m["header_hex"].(string), len(m["header_hex"].(string))/2-40)
		})
		g.tamper(bc, raw, bc.Name+"-tx-dropped", "the last transaction and its receipt removed", false, func(m map[string]any) {
			txs, rs := arr(m, "txs"), arr(m, "receipts")
			m["txs"], m["receipts"] = txs[:len(txs)-1], rs[:len(rs)-1]
		})
	}
	// Transactions with receipt proofs.
	txCase := func(name string, tx *types.Tx, verdict, code string) (kitCase, []byte) {
		tc := kitCase{Name: name, Kind: "tx", Request: "/v1/txs/" + tx.Hash().String() + "?prove=true", Verdict: verdict, Hash: tx.Hash().String(), Code: code}
		return tc, g.record(tc)
	}
	okc, okRaw := txCase("tx-committed", sc.okTx, verdictCommitted, "")
	failc, failRaw := txCase("tx-failed", sc.failTx, verdictFailed, sc.failCode)
	for _, tc := range sc.txs {
		g.record(tc)
	}
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
	g.tamper(okc, okRaw, "tx-other-index", "index, proof.index and receipt_proof.index moved to another position", false, func(m map[string]any) {
		i := num(m["index"])
		j := i + 1
		if i > 0 {
			j = i - 1
		}
		m["index"] = jsonNum(j)
		for _, k := range []string{"proof", "receipt_proof"} {
			obj(m, k)["index"] = jsonNum(j)
		}
	})
	g.tamper(okc, okRaw, "tx-certificate", "one byte of the last certificate signature flipped", false, func(m map[string]any) {
		sigs := arr(obj(m, "certificate"), "signatures")
		s := sigs[len(sigs)-1].(map[string]any)
		s["signature"] = flipHex(s["signature"].(string), 60)
	})
	// Keys, at several heights.
	kvRequest := func(key string, height uint64) string {
		return fmt.Sprintf("/v1/kv/%s?prove=true&height=%d", strings.ReplaceAll(key, "/", "%2F"), height)
	}
	var k1c kitCase
	var k1 []byte
	for i, kc := range sc.kvs {
		kc.Kind, kc.Request = "kv", kvRequest(kc.Key, kc.Height)
		raw := g.record(kc)
		if i == 0 {
			k1c, k1 = kc, raw
		}
	}
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
		if err := json.Unmarshal(g.get(kvRequest(key, sc.absentHeight)), &peek); err != nil {
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
		kc := kitCase{Name: name, Kind: "kv", Request: kvRequest(key, sc.absentHeight), Verdict: verdictAbsent, Key: key, Height: sc.absentHeight}
		raw := g.record(kc)
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
	acRecord := func(ac kitCase) (kitCase, []byte) {
		ac.Kind = "account"
		ac.Request = fmt.Sprintf("/v1/accounts/%s?prove=true&height=%d", ac.Address, ac.Height)
		raw := g.get(ac.Request)
		var p struct{ Balance, Nonce uint64 }
		if err := json.Unmarshal(raw, &p); err != nil {
			t.Fatal(err)
		}
		ac.Balance, ac.Nonce = p.Balance, p.Nonce
		return ac, g.record(ac)
	}
	var a1c kitCase
	var a1 []byte
	for i, ac := range sc.accounts {
		c, raw := acRecord(ac)
		if i == 0 {
			a1c, a1 = c, raw
		}
	}
	strc, sraw := acRecord(kitCase{Name: "account-never-seen", Address: sc.stranger.String(), Height: sc.absentHeight, Verdict: verdictAbsent})
	g.tamper(a1c, a1, "account-balance-json", "balance raised in the JSON; value_hex intact", true, func(m map[string]any) {
		m["balance"] = jsonNum(num(m["balance"]) + 1_000)
	})
	g.tamper(a1c, a1, "account-value", "the balance in value_hex changed, balance to match", false, func(m map[string]any) {
		m["value_hex"] = flipHex(m["value_hex"].(string), 4)
		b, _ := hex.DecodeString(m["value_hex"].(string))
		a, _ := types.DecodeAccount(b)
		m["balance"] = jsonNum(a.Balance)
	})
	g.tamper(a1c, a1, "account-sibling", "one byte of the deepest sibling flipped (proof and proof_hex)", false, func(m map[string]any) { tamperSibling(t, m) })
	g.tamper(strc, sraw, "account-never-seen-claims-funds", "found true with a value of balance 1000 over the proof of absence", false, func(m map[string]any) {
		m["found"] = true
		m["value_hex"] = hex.EncodeToString(types.Account{Balance: 1000}.Encode())
		m["balance"] = jsonNum(1000)
	})
	// Search hits with proofs.
	var sac kitCase
	var sa []byte
	searches := append(sc.searches, [2]string{"search-blocks", "type:block"})
	for i, q := range searches {
		req := "/v1/search?q=" + q[1] + "&prove=true&limit=20"
		var r struct{ Hits []any }
		if err := json.Unmarshal(g.get(req), &r); err != nil {
			t.Fatal(err)
		}
		c := kitCase{Name: q[0], Kind: "search", Request: req, Verdict: verdictHits, Hits: len(r.Hits)}
		raw := g.record(c)
		if i == 0 {
			sac, sa = c, raw
		}
		if q[0] == "search-blocks" {
			if len(r.Hits) == 0 {
				t.Fatal("type:block found no blocks")
			}
			g.tamper(c, raw, "search-block-hash", "hits[0] (a block) with one byte of its hash flipped", false, func(m map[string]any) {
				h := obj(m, "hits", 0)
				h["hash"] = flipHex(h["hash"].(string), 0)
			})
		}
	}
	g.tamper(sac, sa, "search-hit-hash", "hits[0].hash replaced by the hash of a committed transaction that is not a hit", false, func(m map[string]any) {
		obj(m, "hits", 0)["hash"] = sc.notAHit.String()
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
		t.Fatalf("search %s has no failed hit", sac.Name)
	})

	man := kitManifest{Description: sc.description, ChainID: sc.chainID, Validators: sc.validators, Cases: g.cases}
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
	dir := filepath.Join(kitDir, sc.dir)
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "answers"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, b := range g.files {
		if err := os.WriteFile(filepath.Join(dir, name), append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "manifest.json"), append(mb, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %d cases to %s", len(g.cases), dir)
}

// TestGenerateConformanceKit records the kit of a four-validator test
// chain (internal/api/apitest: the real ledger and API, blocks cut by the
// test; a quorum of three signs each certificate, a different validator
// missing each height) into testdata/conformance/testchain: blocks, tx
// and receipt proofs, key and account proofs at several heights, proofs of
// absence, search hits with proofs, and tampered variants of each. Without
// -conformance.update it only checks that a fresh recording verifies as
// the kit says (the recorded files change with block times).
func TestGenerateConformanceKit(t *testing.T) {
	c := apitest.New(t, apitest.Options{Validators: 4, Search: true, Users: 3})
	c.Pause()
	alice, bob, carol := c.Users[0], c.Users[1], c.Users[2]
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
	tx := func(name string, tx *types.Tx, verdict, code string) kitCase {
		return kitCase{Name: name, Kind: "tx", Request: "/v1/txs/" + tx.Hash().String() + "?prove=true", Verdict: verdict, Hash: tx.Hash().String(), Code: code}
	}
	recordKit(t, c.URL, kitScenario{
		dir:         "testchain",
		description: "Cairn conformance kit: recorded API answers of a four-validator test chain (the real ledger and API; blocks cut by the test, certified by a quorum of three) and the verdict a verifier must reach on each. See ../README.md.",
		chainID:     c.Genesis.ChainID, validators: c.Genesis.Validators,
		blocks: []uint64{1, 2, 4}, failBlock: 2, failIdx: 1,
		okTx: h1[1], failTx: h2[1], failCode: "version_conflict",
		txs: []kitCase{
			tx("tx-committed-single", h4[0], verdictCommitted, ""),
			tx("tx-failed-overdraft", h2[2], verdictFailed, "insufficient_balance"),
		},
		kvs: []kitCase{
			{Name: "kv-apple-1", Key: "fruit/apple", Height: 1, Verdict: verdictPresent, Version: 1},
			{Name: "kv-apple-2", Key: "fruit/apple", Height: 2, Verdict: verdictPresent, Version: 2},
			{Name: "kv-banana-deleted-3", Key: "fruit/banana", Height: 3, Verdict: verdictDeleted, Version: 2},
		},
		absentHeight: 4,
		accounts: []kitCase{
			{Name: "account-alice-1", Address: hexAddress(alice), Height: 1, Verdict: verdictPresent},
			{Name: "account-alice-2", Address: hexAddress(alice), Height: 2, Verdict: verdictPresent},
			{Name: "account-bob-4", Address: hexAddress(bob), Height: 4, Verdict: verdictPresent},
		},
		stranger: apitest.Key('s', 1).Public().Address(),
		searches: [][2]string{{"search-apples", "apples"}, {"search-failed", "status:failed"}, {"search-none", "zebra"}},
		notAHit:  h1[1].Hash(),
	})
}
