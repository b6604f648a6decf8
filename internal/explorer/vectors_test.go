package explorer_test

import (
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/internal/api/apitest"
	"github.com/cairn-db/cairn/internal/txfixtures"
	"github.com/cairn-db/cairn/merkle"
	"github.com/cairn-db/cairn/smt"
	"github.com/cairn-db/cairn/types"
)

// vectorCase is one check the browser's verifier must decide as the Go
// reference implementation does.
type vectorCase struct {
	Name string `json:"name"`
	Kind string `json:"kind"` // "inclusion" or "state"
	Want bool   `json:"want"`
	// inclusion
	Leaf  string   `json:"leaf,omitempty"`
	Index uint64   `json:"index"`
	Size  uint64   `json:"size"`
	Path  []string `json:"path"`
	// state
	Key   string          `json:"key,omitempty"`
	Value *string         `json:"value,omitempty"`
	Proof json.RawMessage `json:"proof,omitempty"`
	Root  string          `json:"root"`
}

// inclusionCases: every leaf of trees of 1..9 leaves, as merkle.Prove makes
// them, and for each a wrong index, a wrong size and a damaged path, judged by
// merkle.Verify.
func inclusionCases(t *testing.T) []vectorCase {
	var out []vectorCase
	for n := 1; n <= 9; n++ {
		var leaves []crypto.Hash
		for i := 0; i < n; i++ {
			leaves = append(leaves, crypto.Sum([]byte(fmt.Sprintf("tx %d", i))))
		}
		root := merkle.RootOfHashes(leaves)
		for i := 0; i < n; i++ {
			p, err := merkle.Prove(leaves, i)
			if err != nil {
				t.Fatal(err)
			}
			add := func(name string, leaf crypto.Hash, q merkle.Proof) {
				c := vectorCase{Name: fmt.Sprintf("n=%d i=%d %s", n, i, name), Kind: "inclusion", Leaf: leaf.String(),
					Index: q.Index, Size: q.Size, Root: root.String(), Path: []string{},
					Want: merkle.Verify(root, leaf[:], q) == nil}
				for _, h := range q.Path {
					c.Path = append(c.Path, h.String())
				}
				out = append(out, c)
			}
			add("valid", leaves[i], p)
			add("other leaf", leaves[(i+1)%n], p)
			q := p
			q.Size = uint64(n + 1)
			add("size+1", leaves[i], q)
			if len(p.Path) > 0 {
				q = p
				q.Path = append([]crypto.Hash(nil), p.Path...)
				q.Path[0][0] ^= 1
				add("damaged path", leaves[i], q)
				q.Path = p.Path[:len(p.Path)-1]
				add("short path", leaves[i], q)
			}
			if i+1 < n {
				q = p
				q.Index = uint64(i + 1)
				add("index+1", leaves[i], q)
			}
		}
	}
	return out
}

// smtNode is a subtree of the reference tree built here from the rules of
// package smt (compressed: a lone leaf sits as high as it can).
type smtLeaf struct{ path, valueHash crypto.Hash }

func smtRoot(ls []smtLeaf, depth int) crypto.Hash {
	switch len(ls) {
	case 0:
		return crypto.Hash{}
	case 1:
		return smt.LeafHash(ls[0].path, ls[0].valueHash)
	}
	var l, r []smtLeaf
	for _, x := range ls {
		if smt.Bit(&x.path, depth) == 0 {
			l = append(l, x)
		} else {
			r = append(r, x)
		}
	}
	return smt.InternalHash(smtRoot(l, depth+1), smtRoot(r, depth+1))
}

func smtProve(ls []smtLeaf, path crypto.Hash) *smt.Proof {
	p := &smt.Proof{}
	for depth := 0; ; depth++ {
		if len(ls) == 0 {
			return p
		}
		if len(ls) == 1 {
			if ls[0].path != path {
				p.Leaf = &smt.ProofLeaf{KeyHash: ls[0].path, ValueHash: ls[0].valueHash}
			}
			return p
		}
		var mine, other []smtLeaf
		for _, x := range ls {
			if smt.Bit(&x.path, depth) == smt.Bit(&path, depth) {
				mine = append(mine, x)
			} else {
				other = append(other, x)
			}
		}
		p.Siblings = append(p.Siblings, smtRoot(other, depth+1))
		ls = mine
	}
}

// stateCases: proofs of presence and absence over a small tree, and damaged
// ones, judged by smt.Verify.
func stateCases(t *testing.T) []vectorCase {
	values := map[string]string{}
	var ls []smtLeaf
	for i := 0; i < 12; i++ {
		k, v := fmt.Sprintf("k%d", i), fmt.Sprintf("value %d", i)
		values[k] = v
		ls = append(ls, smtLeaf{smt.Path([]byte(k)), crypto.Sum([]byte(v))})
	}
	root := smtRoot(ls, 0)
	var out []vectorCase
	add := func(name, key string, value *string, p *smt.Proof) {
		var vb []byte
		if value != nil {
			vb = []byte(*value)
		}
		pj, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		var hv *string
		if value != nil {
			s := hex.EncodeToString(vb)
			hv = &s
		}
		out = append(out, vectorCase{Name: name + " " + key, Kind: "state", Key: hex.EncodeToString([]byte(key)), Value: hv,
			Proof: pj, Root: root.String(), Want: smt.Verify(root, []byte(key), vb, p) == nil})
	}
	for i := 0; i < 16; i++ {
		k := fmt.Sprintf("k%d", i)
		p := smtProve(ls, smt.Path([]byte(k)))
		if v, ok := values[k]; ok {
			add("present", k, &v, p)
			wrong := v + "!"
			add("wrong value", k, &wrong, p)
			add("claimed absent", k, nil, p)
			if len(p.Siblings) > 0 {
				q := &smt.Proof{Siblings: append([]crypto.Hash(nil), p.Siblings...)}
				q.Siblings[0][31] ^= 0x80
				add("damaged sibling", k, &v, q)
				q = &smt.Proof{Siblings: p.Siblings[:len(p.Siblings)-1]}
				add("short proof", k, &v, q)
			}
		} else {
			add("absent", k, nil, p)
			claimed := "x"
			add("claimed present", k, &claimed, p)
			if p.Leaf != nil {
				q := &smt.Proof{Siblings: p.Siblings}
				add("absent without its leaf", k, nil, q)
			}
		}
	}
	return out
}

// TestVerifierVectors runs the explorer's verifier (web/verify.js) in
// Chromium on known vectors of docs/encoding.md (RFC 6962, the worked
// transaction, the receipt example) and checks that it decides every
// inclusion and state proof, valid or damaged, exactly as the Go reference
// packages merkle and smt do.
func TestVerifierVectors(t *testing.T) {
	b := newBrowser(t)
	c := apitest.New(t, apitest.Options{})
	b.open(c.URL + "/api")

	// A contract call's receipt: its contract section is inside the result
	// bytes (docs/encoding.md 5).
	cr := &types.Receipt{TxHash: crypto.Sum([]byte("invoke")), Code: "out_of_gas", Reason: "used all 7",
		Contract: &types.ContractResult{GasUsed: 7, Events: []types.Event{{Contract: "voucher", Name: "issued", Data: []byte("{}")}}}}
	crHex := hex.EncodeToString(cr.Encode())
	fixed := get(b, "fixed vectors", chromedp.Evaluate[map[string]any](`(async () => {
		const v = await import('/ui/verify.js');
		const c = await import('/ui/codec.js');
		const out = {};
		// RFC 6962 / Certificate Transparency (docs/encoding.md 4.3).
		const ct = ['', '00', '10', '2021', '3031', '40414243', '5051525354555657', '606162636465666768696a6b6c6d6e6f'].map((x) => c.unhex(x));
		out.ct_root = c.hex(await v.merkleRoot(ct));
		out.empty_root = c.hex(await v.merkleRoot([]));
		// The worked transaction (docs/encoding.md 8).
		const tx = c.unhex('01000a636169726e2d74657374018a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c00000000000000010000018bcfe568006a3803d5f059902a1c6dafbc9ba4729212f7caac00000000000000fab5f7b6543b440ad823544a38b41a13f8d2c576438659dc748b302f3bb9050d4de064ea6b1cde21e553b104fdaa17dfe8d6197e278feb379c4c1aa117ff35fe0f');
		const d = c.decodeTx(tx);
		out.tx_hash = c.hex(await v.sha256(tx));
		out.tx_sig = await v.ed25519Verify(d.sender, c.txSignBytes(d.unsigned), d.signature);
		const bad = tx.slice(); bad[60] ^= 1;
		const db = c.decodeTx(bad);
		out.tx_sig_damaged = await v.ed25519Verify(db.sender, c.txSignBytes(db.unsigned), db.signature);
		out.tx_to = d.payload.to; out.tx_amount = String(d.payload.amount);
		out.sender_address = c.hex((await v.sha256(c.unhex(d.sender))).subarray(0, 20));
		// Receipts (docs/encoding.md 5).
		const th = '1862b92b53c35703a574d77a82d37845556567b20b144fa20c6a3f20b1ed3f71';
		const failed = c.decodeReceipt(c.unhex(th + '00' + '0014' + '696e73756666696369656e745f62616c616e6365' + '0017' + '62616c616e636520302c207472616e7366657220323530' + '0000000000000000'));
		const ok = c.decodeReceipt(c.unhex(th + '01' + '0000' + '0000' + '0000000000000000'));
		out.result_hash = c.hex(await v.sha256(failed.result));
		out.reason = failed.reason;
		out.results_root = c.hex(await v.merkleRoot([await v.sha256(ok.result), await v.sha256(failed.result)]));
		const cr = c.decodeReceipt(c.unhex('`+crHex+`'));
		out.contract_result_hash = c.hex(await v.sha256(cr.result));
		const ev = cr.contract.events[0];
		out.contract_event = [ev.contract, ev.name, ev.data_hex, String(cr.contract.gas_used), cr.reason].join('/');
		try { c.decodeReceipt(c.unhex('`+crHex+`00')); out.contract_trailing = 'accepted'; } catch { out.contract_trailing = 'refused'; }
		// Quorum (docs/encoding.md 6.4).
		out.quorum = [1, 4, 8, 10].map((n) => String(c.quorum(n))).join(',');
		// 64-bit integers stay exact.
		out.big = String(c.parseJSON('{"n": 18446744073709551615}').n);
		return out;
	})()`, chromedp.EvalAwaitPromise))
	want := map[string]any{
		"ct_root":              "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
		"empty_root":           "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
		"tx_hash":              "1862b92b53c35703a574d77a82d37845556567b20b144fa20c6a3f20b1ed3f71",
		"tx_sig":               true,
		"tx_sig_damaged":       false,
		"tx_to":                "6a3803d5f059902a1c6dafbc9ba4729212f7caac",
		"tx_amount":            "250",
		"sender_address":       "34750f98bd59fcfc946da45aaabe933be154a4b5",
		"result_hash":          "ac21887894b15ed9ee3db57f5669dd1e2249d2259f50e600d9e4170ac7ffafc1",
		"reason":               "balance 0, transfer 250",
		"results_root":         "5e732032786533e4cb8224a8396af8fabe00f388b04799640d7fe81abdb2da88",
		"quorum":               "1,3,6,7",
		"big":                  "18446744073709551615",
		"contract_result_hash": cr.ResultHash().String(),
		"contract_event":       "voucher/issued/7b7d/7/used all 7",
		"contract_trailing":    "refused",
	}
	for k, w := range want {
		if fixed[k] != w {
			t.Errorf("%s: browser says %v, want %v", k, fixed[k], w)
		}
	}

	cases := append(inclusionCases(t), stateCases(t)...)
	js, err := json.Marshal(cases)
	if err != nil {
		t.Fatal(err)
	}
	got := get(b, "proof vectors", chromedp.Evaluate[[]bool](`(async () => {
		const v = await import('/ui/verify.js');
		const c = await import('/ui/codec.js');
		const cases = `+string(mustJSONString(t, string(js)))+`;
		const out = [];
		for (const k of JSON.parse(cases)) {
			try {
				if (k.kind === 'inclusion') {
					out.push(c.hex(await v.inclusionRoot(c.unhex(k.leaf), k.index, k.size, k.path)) === k.root);
				} else {
					const r = new v.Report('state');
					await v.verifyStateProof(r, { stateKey: c.unhex(k.key), value: k.value === null || k.value === undefined ? null : c.unhex(k.value), proof: k.proof, root: k.root });
					out.push(r.ok);
				}
			} catch (e) { out.push(false); }
		}
		return out;
	})()`, chromedp.EvalAwaitPromise))
	if len(got) != len(cases) {
		t.Fatalf("browser judged %d cases of %d", len(got), len(cases))
	}
	valid, invalid := 0, 0
	for i, k := range cases {
		if got[i] != k.Want {
			t.Errorf("%s %s: browser says %v, Go says %v", k.Kind, k.Name, got[i], k.Want)
		}
		if k.Want {
			valid++
		} else {
			invalid++
		}
	}
	if valid < 40 || invalid < 40 {
		t.Fatalf("too few vectors: %d valid, %d invalid", valid, invalid)
	}
	t.Logf("%d proof vectors (%d valid, %d invalid) decided as Go decides them", len(cases), valid, invalid)
}

// codecCase is one byte string the browser's codec must read as Go does:
// decode it (or refuse it) and, when it decodes, produce the JSON form Go
// serves for it.
type codecCase struct {
	Name string `json:"name"`
	Kind string `json:"kind"` // "tx" or "field"
	Hex  string `json:"hex"`
	// OK is whether Go's decoder accepts the bytes; JSON is Go's JSON form
	// of them then (a transaction, or a field entry).
	OK   bool            `json:"ok"`
	JSON json.RawMessage `json:"json,omitempty"`
	Hash string          `json:"hash,omitempty"`
	// ID and Key: the field's id and Go's state key for it.
	ID  string `json:"id,omitempty"`
	Key string `json:"key,omitempty"`
}

// codecCases: one signed sample per registered transaction type
// (internal/txfixtures: transfer to field.close), field entries in every
// status and kind of pending close, and damaged variants of each (cut
// short, a trailing byte, a list over its limit, an unknown status or
// kind), with Go's verdict and JSON.
func codecCases(t *testing.T) []codecCase {
	var out []codecCase
	addTx := func(name string, b []byte) {
		c := codecCase{Name: name, Kind: "tx", Hex: hex.EncodeToString(b)}
		if tx, err := types.DecodeTx(b); err == nil {
			c.OK, c.Hash = true, tx.Hash().String()
			if c.JSON, err = json.Marshal(tx); err != nil {
				t.Fatal(err)
			}
		}
		out = append(out, c)
	}
	k := apitest.Key('u', 0)
	for _, tx := range txfixtures.Txs(t, apitest.ChainID, k, 1) {
		b := tx.Bytes()
		name := tx.Type().String()
		addTx(name, b)
		addTx(name+" cut short", b[:len(b)-1])
		addTx(name+" trailing byte", append(append([]byte(nil), b...), 0))
		if tx.Type() == types.TxFieldOpen {
			// The member count sits after version, chain id, type, sender,
			// nonce, timestamp, field id and leader. (The bytes also run
			// short of 65 members, so this is refused either way.)
			at := 1 + 2 + len(tx.ChainID) + 1 + 32 + 8 + 8 + 32 + 32
			over := append([]byte(nil), b...)
			binary.BigEndian.PutUint16(over[at:], types.MaxFieldMembers+1)
			addTx(name+" 65 members", over)
		}
	}
	id := crypto.Sum([]byte("vector field"))
	m := []types.FieldMember{{Key: apitest.Key('u', 1).Public(), Deposit: 600}, {Key: apitest.Key('u', 2).Public(), Deposit: 400}}
	terms := types.FieldTerms{FieldID: id, Leader: m[0].Key, Members: m, ChallengePeriod: 4, Expiry: 1 << 40, Penalty: 50}
	pending := func(kind string, sub uint16, tx crypto.Hash) *types.FieldPending {
		return &types.FieldPending{Kind: kind, State: 7, Root: crypto.Sum([]byte("root")), Balances: []uint64{530, 470}, Submitter: sub,
			Height: 12, TxHash: tx, Deadline: 16}
	}
	fields := map[string]*types.Field{
		"open": {FieldTerms: terms, Status: types.FieldOpenStatus, OpenedAt: 3, OpenTx: crypto.Sum([]byte("open")), Due: 1<<40 + 1, Penalties: []types.FieldPenalty{}},
		"closing, unilateral": {FieldTerms: terms, Status: types.FieldClosingStatus, OpenedAt: 3, OpenTx: crypto.Sum([]byte("open")), Due: 17,
			Pending: pending(types.CloseUnilateral, 1, crypto.Sum([]byte("close"))), Penalties: []types.FieldPenalty{}},
		"closing, expiry": {FieldTerms: terms, Status: types.FieldClosingStatus, OpenedAt: 3, OpenTx: crypto.Sum([]byte("open")), Due: 17,
			Pending: pending(types.CloseExpiry, types.NoMember, crypto.Hash{}), Penalties: []types.FieldPenalty{}},
		"settled, penalties": {FieldTerms: terms, Status: types.FieldSettledStatus, OpenedAt: 3, OpenTx: crypto.Sum([]byte("open")), Due: 0,
			Pending:   pending(types.CloseDispute, 0, crypto.Sum([]byte("dispute"))),
			Penalties: []types.FieldPenalty{{From: 1, To: 0, Amount: 50, Reason: "stale_state"}, {From: 0, To: 1, Amount: 50, Reason: "wrong_balances"}},
			Final:     []uint64{530, 470}, SettledAt: 17},
	}
	for _, kind := range []string{types.CloseCooperative, types.CloseChallenge} {
		f := *fields["closing, unilateral"]
		f.Pending = pending(kind, 0, crypto.Sum([]byte(kind)))
		fields["closing, "+kind] = &f
	}
	addField := func(name string, b []byte) {
		c := codecCase{Name: "field " + name, Kind: "field", Hex: hex.EncodeToString(b), ID: id.String(), Key: hex.EncodeToString(types.FieldKey(id))}
		if f, err := types.DecodeField(b); err == nil {
			c.OK = true
			if c.JSON, err = json.Marshal(f); err != nil {
				t.Fatal(err)
			}
		}
		out = append(out, c)
	}
	statusAt := 32 + 32 + 2 + 40*len(m) + 24
	for name, f := range fields {
		b := f.Encode()
		addField(name, b)
		addField(name+" cut short", b[:len(b)-1])
		addField(name+" trailing byte", append(append([]byte(nil), b...), 0))
		bad := append([]byte(nil), b...)
		bad[statusAt] = 3
		addField(name+" status 3", bad)
		if f.Pending != nil {
			bad = append([]byte(nil), b...)
			bad[statusAt+1+8+32+8+1] = 5 // the close kind, after status, opened_at, open_tx, due, has_pending
			addField(name+" close kind 5", bad)
		}
	}
	return out
}

// TestCodecVectors runs the explorer's codec (web/codec.js) in Chromium on
// every transaction type's sample and on payment field entries, and checks
// that it accepts and refuses exactly the bytes Go's decoders do, that what
// it decodes is Go's JSON form of them (compared as the block and
// transaction pages' Verify compare them), that each sample's hash and
// signature check, and that the field state key is Go's.
func TestCodecVectors(t *testing.T) {
	b := newBrowser(t)
	c := apitest.New(t, apitest.Options{})
	b.open(c.URL + "/api")
	cases := codecCases(t)
	js, err := json.Marshal(cases)
	if err != nil {
		t.Fatal(err)
	}
	type verdict struct {
		OK     bool   `json:"ok"`
		Detail string `json:"detail"`
	}
	got := get(b, "codec vectors", chromedp.Evaluate[[]verdict](`(async () => {
		const v = await import('/ui/verify.js');
		const c = await import('/ui/codec.js');
		const out = [];
		for (const k of JSON.parse(`+string(mustJSONString(t, string(js)))+`)) {
			const b = c.unhex(k.hex);
			let d;
			try { d = k.kind === 'tx' ? c.decodeTx(b) : c.decodeField(b); } catch (e) { out.push({ ok: false, detail: e.message }); continue; }
			const want = k.json === undefined ? null : c.parseJSON(JSON.stringify(k.json));
			const why = [];
			if (k.kind === 'tx') {
				why.push(...v.txDiffers(want, d));
				if (c.hex(await v.sha256(b)) !== k.hash) why.push('hash');
				if (!(await v.ed25519Verify(d.sender, c.txSignBytes(d.unsigned), d.signature))) why.push('signature');
			} else {
				if (c.canonical(d) !== c.canonical(want)) why.push('decoded ' + c.canonical(d) + ' want ' + c.canonical(want));
				if (c.hex(c.fieldStateKey(k.id)) !== k.key) why.push('state key');
			}
			out.push({ ok: true, detail: why.join('; ') });
		}
		return out;
	})()`, chromedp.EvalAwaitPromise))
	if len(got) != len(cases) {
		t.Fatalf("browser judged %d cases of %d", len(got), len(cases))
	}
	types16 := map[string]bool{}
	accepted, refused := 0, 0
	for i, k := range cases {
		switch {
		case got[i].OK != k.OK:
			t.Errorf("%s: browser decodes %v (%s), Go %v", k.Name, got[i].OK, got[i].Detail, k.OK)
		case k.OK && got[i].Detail != "":
			t.Errorf("%s: browser's decoding differs from Go's: %s", k.Name, got[i].Detail)
		}
		if k.OK {
			accepted++
			if k.Kind == "tx" {
				types16[k.Name] = true
			}
		} else {
			refused++
		}
	}
	for _, info := range types.TxTypes() {
		if !types16[info.Name] {
			t.Errorf("no vector decodes a %s transaction", info.Name)
		}
	}
	t.Logf("%d byte strings (%d accepted, %d refused) read as Go reads them", len(cases), accepted, refused)
}

func mustJSONString(t *testing.T, s string) []byte {
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
