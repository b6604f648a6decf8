package types

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/cairn-db/cairn/crypto"
)

// The worked example of docs/encoding.md: sampleTransfer's canonical bytes,
// split by field. If this test fails the encoding changed, and every stored
// block and every signature with it.
const (
	exampleTxHex = "01" + // version
		"000a" + "636169726e2d74657374" + // chain_id "cairn-test"
		"01" + // type transfer
		"8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c" + // sender
		"0000000000000001" + // nonce 1
		"0000018bcfe56800" + // timestamp 1700000000000
		"6a3803d5f059902a1c6dafbc9ba4729212f7caac" + // to
		"00000000000000fa" + // amount 250
		"b5f7b6543b440ad823544a38b41a13f8d2c576438659dc748b302f3bb9050d4d" + // signature
		"e064ea6b1cde21e553b104fdaa17dfe8d6197e278feb379c4c1aa117ff35fe0f"
	exampleTxHash = "1862b92b53c35703a574d77a82d37845556567b20b144fa20c6a3f20b1ed3f71"
	exampleTxJSON = `{"chain_id":"cairn-test","type":"transfer",` +
		`"sender":"8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c",` +
		`"nonce":1,"timestamp":1700000000000,` +
		`"payload":{"to":"6a3803d5f059902a1c6dafbc9ba4729212f7caac","amount":250},` +
		`"signature":"b5f7b6543b440ad823544a38b41a13f8d2c576438659dc748b302f3bb9050d4de064ea6b1cde21e553b104fdaa17dfe8d6197e278feb379c4c1aa117ff35fe0f"}`
)

func TestWorkedExample(t *testing.T) {
	tx := sampleTransfer()
	if got := hex.EncodeToString(tx.Bytes()); got != exampleTxHex {
		t.Fatalf("transfer encoding changed:\n got %s\nwant %s", got, exampleTxHex)
	}
	if got := tx.Hash().String(); got != exampleTxHash {
		t.Fatalf("hash %s, want %s", got, exampleTxHash)
	}
	j, err := json.Marshal(tx)
	if err != nil {
		t.Fatal(err)
	}
	if string(j) != exampleTxJSON {
		t.Fatalf("JSON changed:\n got %s\nwant %s", j, exampleTxJSON)
	}
	// Sign bytes: one length byte, the domain, the unsigned encoding.
	b := tx.Bytes()
	want := append([]byte{byte(len(crypto.DomainTx))}, crypto.DomainTx...)
	want = append(want, b[:len(b)-crypto.SignatureSize]...)
	if !bytes.Equal(tx.SignBytes(), want) {
		t.Fatalf("SignBytes = %x, want %x", tx.SignBytes(), want)
	}
	if !crypto.VerifyRaw(tx.Sender, tx.SignBytes(), tx.Signature[:]) {
		t.Fatal("signature does not verify over SignBytes")
	}
}

func TestTxRoundTrip(t *testing.T) {
	for _, n := range append(sampleTxs(), sampleContractTxs()...) {
		t.Run(n.name, func(t *testing.T) {
			b := n.tx.Bytes()
			d, err := DecodeTx(b)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(d.Payload, n.tx.Payload) || d.ChainID != n.tx.ChainID || d.Sender != n.tx.Sender ||
				d.Nonce != n.tx.Nonce || d.Timestamp != n.tx.Timestamp || d.Signature != n.tx.Signature {
				t.Fatalf("decoded %+v, want %+v", d, n.tx)
			}
			if got := cloneTx(d).Bytes(); !bytes.Equal(got, b) {
				t.Fatalf("re-encoding differs:\n got %x\nwant %x", got, b)
			}
			if d.Type() != n.tx.Type() || d.Size() != len(b) {
				t.Fatalf("type %v size %d", d.Type(), d.Size())
			}
			if err := d.VerifySignature(); err != nil {
				t.Fatal(err)
			}
			// Decoding copies: changing the input afterwards changes nothing.
			bc := append([]byte(nil), b...)
			d2, _ := DecodeTx(bc)
			bc[len(bc)-1] ^= 1
			if !bytes.Equal(d2.Bytes(), b) {
				t.Fatal("decoded tx aliases its input")
			}
		})
	}
}

func TestTxHash(t *testing.T) {
	seen := map[crypto.Hash]string{}
	for _, n := range sampleTxs() {
		h := n.tx.Hash()
		if h != sha256.Sum256(n.tx.Bytes()) || h != crypto.Sum(cloneTx(n.tx).Bytes()) {
			t.Fatalf("%s: hash is not SHA-256 of the canonical bytes", n.name)
		}
		if prev, dup := seen[h]; dup {
			t.Fatalf("%s and %s have the same hash", n.name, prev)
		}
		seen[h] = n.name
	}
	// The signature is part of the hashed bytes.
	tx := cloneTx(sampleTransfer())
	h := tx.Hash()
	other := cloneTx(tx)
	other.Signature[0] ^= 1
	if other.Hash() == h {
		t.Fatal("hash does not cover the signature")
	}
	// Sign resets the cache.
	tx2 := &Tx{ChainID: testChain, Nonce: 1, Timestamp: 1, Payload: &Transfer{Amount: 1}}
	before := tx2.Hash()
	tx2.Sign(testKey(1))
	if tx2.Hash() == before || tx2.Hash() != crypto.Sum(tx2.Bytes()) {
		t.Fatal("Sign did not refresh the cached encoding")
	}
}

// signedBytes signs a tx built by mod from a valid transfer, and returns its
// canonical encoding: the bytes are well-signed, so a decoder that rejects
// them does so for the reason the test means.
func signedBytes(mod func(tx *Tx)) []byte {
	tx := &Tx{ChainID: testChain, Nonce: 1, Timestamp: 5, Payload: &Transfer{Amount: 1}}
	mod(tx)
	tx.Sign(testKey(1))
	return tx.Bytes()
}

func set(b []byte, i int, v byte) []byte {
	c := append([]byte(nil), b...)
	c[i] = v
	return c
}

// Offsets into the encoding of a tx on testChain.
const (
	offChainLen = 1
	offType     = 1 + 2 + len(testChain)
	offPayload  = offType + 1 + 32 + 8 + 8
)

func TestDecodeTxRejects(t *testing.T) {
	txs := sampleTxs()
	put := txs[2].tx.Bytes()  // kv.put without expect_version
	del := txs[5].tx.Bytes()  // kv.delete without expect_version
	xfer := txs[0].tx.Bytes() // transfer
	sigAt := func(b []byte) int { return len(b) - crypto.SignatureSize }

	cases := []struct {
		name string
		b    []byte
		want error
	}{
		{"empty", nil, ErrMalformed},
		{"trailing byte", append(append([]byte(nil), xfer...), 0), ErrMalformed},
		{"trailing signature", append(append([]byte(nil), xfer...), xfer[sigAt(xfer):]...), ErrMalformed},
		{"version 0", set(xfer, 0, 0), ErrMalformed},
		{"version 2", set(xfer, 0, 2), ErrMalformed},
		{"type 0", set(xfer, offType, 0), ErrUnknownType},
		{"type 5", set(xfer, offType, 5), ErrUnknownType},
		{"type 255", set(xfer, offType, 255), ErrUnknownType},
		{"type says kv.put, body is a transfer", set(xfer, offType, byte(TxKVPut)), ErrMalformed},
		{"kv.put expect flag 2", set(put, sigAt(put)-1, 2), ErrMalformed},
		{"kv.put expect flag 0xff", set(put, sigAt(put)-1, 0xff), ErrMalformed},
		{"kv.delete expect flag 2", set(del, sigAt(del)-1, 2), ErrMalformed},
		{"kv.put expect flag 1 without version", set(put, sigAt(put)-1, 1), ErrMalformed},
		{"chain id length too large", set(xfer, offChainLen+1, 200), ErrMalformed},
		// One byte too short: the last chain id byte ('t') is read as the type.
		{"chain id length short", set(xfer, offChainLen+1, byte(len(testChain)-1)), ErrUnknownType},
		{"empty chain id", signedBytes(func(tx *Tx) { tx.ChainID = "" }), ErrMalformed},
		{"chain id 65 bytes", signedBytes(func(tx *Tx) { tx.ChainID = strings.Repeat("c", 65) }), ErrMalformed},
		{"chain id not UTF-8", signedBytes(func(tx *Tx) { tx.ChainID = "bad\xff" }), ErrMalformed},
		{"zero nonce", signedBytes(func(tx *Tx) { tx.Nonce = 0 }), ErrMalformed},
		{"negative timestamp", signedBytes(func(tx *Tx) { tx.Timestamp = -1 }), ErrMalformed},
		{"zero amount", signedBytes(func(tx *Tx) { tx.Payload = &Transfer{Amount: 0} }), ErrMalformed},
		{"empty key", signedBytes(func(tx *Tx) { tx.Payload = &KVPut{Key: "", Value: "v"} }), ErrMalformed},
		{"key 1025 bytes", signedBytes(func(tx *Tx) { tx.Payload = &KVPut{Key: strings.Repeat("k", 1025), Value: "v"} }), ErrMalformed},
		{"key not UTF-8", signedBytes(func(tx *Tx) { tx.Payload = &KVPut{Key: "k\xc3", Value: "v"} }), ErrMalformed},
		{"delete key not UTF-8", signedBytes(func(tx *Tx) { tx.Payload = &KVDelete{Key: "\xff"} }), ErrMalformed},
		{"value not UTF-8", signedBytes(func(tx *Tx) { tx.Payload = &KVPut{Key: "k", Value: "\xed\xa0\x80"} }), ErrMalformed},
		{"record with whitespace", signedBytes(func(tx *Tx) { tx.Payload = &Record{Document: json.RawMessage(`{"a": 1}`)} }), ErrMalformed},
		{"record with trailing newline", signedBytes(func(tx *Tx) { tx.Payload = &Record{Document: json.RawMessage("{\"a\":1}\n")} }), ErrMalformed},
		{"record with raw <", signedBytes(func(tx *Tx) { tx.Payload = &Record{Document: json.RawMessage(`{"a":"<b>"}`)} }), ErrMalformed},
		{"record with raw &", signedBytes(func(tx *Tx) { tx.Payload = &Record{Document: json.RawMessage(`"x&y"`)} }), ErrMalformed},
		{"record with raw U+2028", signedBytes(func(tx *Tx) { tx.Payload = &Record{Document: json.RawMessage("\"\u2028\"")} }), ErrMalformed},
		{"record not JSON", signedBytes(func(tx *Tx) { tx.Payload = &Record{Document: json.RawMessage(`{"a":}`)} }), ErrMalformed},
		{"record two values", signedBytes(func(tx *Tx) { tx.Payload = &Record{Document: json.RawMessage(`1 2`)} }), ErrMalformed},
		{"record empty", signedBytes(func(tx *Tx) { tx.Payload = &Record{} }), ErrMalformed},
		{"record not UTF-8", signedBytes(func(tx *Tx) { tx.Payload = &Record{Document: json.RawMessage("\"\xff\"")} }), ErrMalformed},
		{"oversized", make([]byte, MaxTxBytesHard+1), ErrOversized},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tx, err := DecodeTx(c.b)
			if err == nil {
				t.Fatalf("accepted: %+v", tx)
			}
			if !errors.Is(err, c.want) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
			if !errors.Is(err, ErrNonCanonical) {
				t.Fatalf("err = %v does not wrap ErrNonCanonical", err)
			}
			var te *TxError
			if !errors.As(err, &te) || te.Code != c.want.(*TxError).Code {
				t.Fatalf("err = %#v, want a *TxError with code %s", err, c.want.(*TxError).Code)
			}
		})
	}
}

// Every strict prefix of a valid encoding is rejected.
func TestDecodeTxTruncated(t *testing.T) {
	for _, n := range append(sampleTxs(), sampleContractTxs()...) {
		b := n.tx.Bytes()
		for i := 0; i < len(b); i++ {
			if _, err := DecodeTx(b[:i]); !errors.Is(err, ErrMalformed) || !errors.Is(err, ErrNonCanonical) {
				t.Fatalf("%s truncated to %d of %d bytes: err = %v", n.name, i, len(b), err)
			}
		}
	}
}

func TestCanonicalJSON(t *testing.T) {
	cases := []struct{ in, want string }{
		{`{"a": 1}`, `{"a":1}`},
		{" [ 1 , 2 ]\n", `[1,2]`},
		{`{"h":"<b>&</b>"}`, `{"h":"\u003cb\u003e\u0026\u003c/b\u003e"}`},
		{"\"a\u2028b\u2029c\"", `"a\u2028b\u2029c"`},
		{`"\u003c"`, `"\u003c"`},   // already escaped: unchanged
		{`"\u00e9é"`, `"\u00e9é"`}, // other escapes and raw UTF-8 kept as given
		{`{"b":1,"a":2}`, `{"b":1,"a":2}`},
		{`1.50E+3`, `1.50E+3`},                     // numbers are kept verbatim
		{`[{"a":1},{"a":2}]`, `[{"a":1},{"a":2}]`}, // one name in two objects
		{`{"a":{"a":1}}`, `{"a":{"a":1}}`},
	}
	for _, c := range cases {
		got, err := CanonicalJSON([]byte(c.in))
		if err != nil {
			t.Fatalf("%q: %v", c.in, err)
		}
		if string(got) != c.want {
			t.Errorf("CanonicalJSON(%q) = %q, want %q", c.in, got, c.want)
		}
		again, _ := CanonicalJSON(got)
		if !bytes.Equal(again, got) {
			t.Errorf("not idempotent on %q", got)
		}
		// It is what encoding/json emits when re-encoding a RawMessage.
		re, _ := json.Marshal(json.RawMessage(c.in))
		if !bytes.Equal(re, got) {
			t.Errorf("json.Marshal(RawMessage(%q)) = %q, CanonicalJSON %q", c.in, re, got)
		}
	}
	for _, bad := range []string{"", "{", `{"a":}`, "1 2", "\"\xff\"", "nul", "\"\x01\"", `{"a":1,"a":2}`} {
		if _, err := CanonicalJSON([]byte(bad)); err == nil {
			t.Errorf("CanonicalJSON(%q) accepted", bad)
		}
	}
}

func TestTxJSONRoundTrip(t *testing.T) {
	for _, n := range append(sampleTxs(), sampleContractTxs()...) {
		t.Run(n.name, func(t *testing.T) {
			j, err := json.Marshal(n.tx)
			if err != nil {
				t.Fatal(err)
			}
			var indented bytes.Buffer
			if err := json.Indent(&indented, j, "", "    "); err != nil {
				t.Fatal(err)
			}
			for _, form := range [][]byte{j, indented.Bytes()} {
				var back Tx
				if err := json.Unmarshal(form, &back); err != nil {
					t.Fatalf("%s: %v", form, err)
				}
				if !bytes.Equal(back.Bytes(), n.tx.Bytes()) || back.Hash() != n.tx.Hash() {
					t.Fatalf("JSON round trip changed the tx:\n got %x\nwant %x", back.Bytes(), n.tx.Bytes())
				}
				if err := back.VerifySignature(); err != nil {
					t.Fatalf("signature after JSON round trip: %v", err)
				}
				j2, _ := json.Marshal(&back)
				if !bytes.Equal(j2, j) {
					t.Fatalf("re-marshalled JSON differs:\n%s\n%s", j2, j)
				}
			}
		})
	}
}

// A record document may arrive in any JSON spelling; the tx carries (and the
// sender signs) its canonical form, so a signature made over the canonical
// form verifies whatever spelling the client sent.
func TestRecordJSONCanonicalises(t *testing.T) {
	tx := sampleTxs()[7].tx // record with "<tag>&" and non-ASCII text
	j, _ := json.Marshal(tx)
	if bytes.Contains(j, []byte("<")) || bytes.Contains(j, []byte("&")) {
		t.Fatalf("HTML characters not escaped in %s", j)
	}
	if !bytes.Contains(j, []byte(`\u003ctag\u003e\u0026`)) || !bytes.Contains(j, []byte("héllo ☃ 😀")) {
		t.Fatalf("unexpected record JSON %s", j)
	}
	// The client sends the document pretty-printed with raw '<', '&' and
	// U+2028: the decoded tx is the same transaction.
	var m map[string]json.RawMessage
	if err := json.Unmarshal(j, &m); err != nil {
		t.Fatal(err)
	}
	m["payload"] = json.RawMessage("{ \"document\" : {\n  \"html\": \"<tag>&</tag>\",\n  \"text\": \"héllo ☃ 😀\",\n" +
		"  \"n\": [ 1, 2.5, -3e10, true, null ],\n  \"sep\": \"a\u2028b\"\n} }")
	var buf bytes.Buffer
	buf.WriteString("{")
	for i, k := range []string{"chain_id", "type", "sender", "nonce", "timestamp", "payload", "signature"} {
		if i > 0 {
			buf.WriteString(",\n")
		}
		buf.WriteString(`"` + k + `": `)
		buf.Write(m[k])
	}
	buf.WriteString("}")
	var back Tx
	if err := back.UnmarshalJSON(buf.Bytes()); err != nil {
		t.Fatalf("%s: %v", buf.Bytes(), err)
	}
	if back.Hash() != tx.Hash() {
		t.Fatal("re-spelled record document gives a different transaction")
	}
	if err := back.VerifySignature(); err != nil {
		t.Fatal(err)
	}
}

// jsonWith returns the JSON form of tx with edit applied to its top-level
// object and (when payloadEdit is set) its payload object.
func jsonWith(t *testing.T, tx *Tx, edit func(m map[string]json.RawMessage), payloadEdit func(m map[string]json.RawMessage)) []byte {
	t.Helper()
	j, err := json.Marshal(tx)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(j, &m); err != nil {
		t.Fatal(err)
	}
	if payloadEdit != nil {
		var p map[string]json.RawMessage
		if err := json.Unmarshal(m["payload"], &p); err != nil {
			t.Fatal(err)
		}
		payloadEdit(p)
		m["payload"], _ = json.Marshal(p)
	}
	if edit != nil {
		edit(m)
	}
	out, _ := json.Marshal(m)
	return out
}

func TestTxJSONRejects(t *testing.T) {
	txs := sampleTxs()
	xfer, put, del, rec := txs[0].tx, txs[3].tx, txs[6].tx, txs[7].tx
	raw := func(s string) json.RawMessage { return json.RawMessage(s) }
	type tc struct {
		name string
		b    []byte
		want error
	}
	var cases []tc
	add := func(name string, tx *Tx, want error, edit, pedit func(m map[string]json.RawMessage)) {
		cases = append(cases, tc{name, jsonWith(t, tx, edit, pedit), want})
	}
	// Unknown fields, top level and in each payload.
	for _, tx := range []*Tx{xfer, put, del, rec} {
		add(tx.Type().String()+" unknown field", tx, ErrMalformed, func(m map[string]json.RawMessage) { m["memo"] = raw(`"hi"`) }, nil)
		add(tx.Type().String()+" unknown payload field", tx, ErrMalformed, nil, func(m map[string]json.RawMessage) { m["memo"] = raw(`"hi"`) })
	}
	// Every required field missing in turn.
	for _, f := range []string{"chain_id", "type", "sender", "nonce", "timestamp", "payload", "signature"} {
		want := ErrMalformed
		add("missing "+f, xfer, want, func(m map[string]json.RawMessage) { delete(m, f) }, nil)
	}
	required := map[*Tx][]string{xfer: {"to", "amount"}, put: {"key", "value"}, del: {"key"}, rec: {"document"}}
	for tx, fields := range required {
		for _, f := range fields {
			add(tx.Type().String()+" missing payload "+f, tx, ErrMalformed, nil, func(m map[string]json.RawMessage) { delete(m, f) })
		}
	}
	// Wrong hex.
	sender := xfer.Sender.String()
	sig := hex.EncodeToString(xfer.Signature[:])
	to := xfer.Payload.(*Transfer).To.String()
	for name, v := range map[string]string{
		"sender upper case": strings.ToUpper(sender),
		"sender short":      sender[:62],
		"sender long":       sender + "00",
		"sender odd":        sender[:63],
		"sender not hex":    "zz" + sender[2:],
		"sender 0x":         "0x" + sender,
	} {
		add(name, xfer, ErrMalformed, func(m map[string]json.RawMessage) { m["sender"], _ = json.Marshal(v) }, nil)
	}
	for name, v := range map[string]string{
		"signature upper case": strings.ToUpper(sig),
		"signature short":      sig[:126],
		"signature long":       sig + "00",
		"signature not hex":    "zz" + sig[2:],
		"signature empty":      "",
	} {
		add(name, xfer, ErrMalformed, func(m map[string]json.RawMessage) { m["signature"], _ = json.Marshal(v) }, nil)
	}
	for name, v := range map[string]string{
		"to upper case": strings.ToUpper(to),
		"to short":      to[:38],
		"to long":       to + "00",
	} {
		add(name, xfer, ErrMalformed, nil, func(m map[string]json.RawMessage) { m["to"], _ = json.Marshal(v) })
	}
	// Wrong types and values.
	add("unknown type", xfer, ErrUnknownType, func(m map[string]json.RawMessage) { m["type"] = raw(`"mint"`) }, nil)
	add("type mismatch", xfer, ErrMalformed, func(m map[string]json.RawMessage) { m["type"] = raw(`"kv.put"`) }, nil)
	add("payload null", xfer, ErrMalformed, func(m map[string]json.RawMessage) { m["payload"] = raw(`null`) }, nil)
	add("payload array", xfer, ErrMalformed, func(m map[string]json.RawMessage) { m["payload"] = raw(`[]`) }, nil)
	add("nonce zero", xfer, ErrMalformed, func(m map[string]json.RawMessage) { m["nonce"] = raw(`0`) }, nil)
	add("nonce string", xfer, ErrMalformed, func(m map[string]json.RawMessage) { m["nonce"] = raw(`"1"`) }, nil)
	add("nonce negative", xfer, ErrMalformed, func(m map[string]json.RawMessage) { m["nonce"] = raw(`-1`) }, nil)
	add("nonce fraction", xfer, ErrMalformed, func(m map[string]json.RawMessage) { m["nonce"] = raw(`1.5`) }, nil)
	add("nonce too big", xfer, ErrMalformed, func(m map[string]json.RawMessage) { m["nonce"] = raw(`18446744073709551616`) }, nil)
	add("timestamp negative", xfer, ErrMalformed, func(m map[string]json.RawMessage) { m["timestamp"] = raw(`-5`) }, nil)
	add("amount zero", xfer, ErrMalformed, nil, func(m map[string]json.RawMessage) { m["amount"] = raw(`0`) })
	add("empty chain id", xfer, ErrMalformed, func(m map[string]json.RawMessage) { m["chain_id"] = raw(`""`) }, nil)
	add("empty key", put, ErrMalformed, nil, func(m map[string]json.RawMessage) { m["key"] = raw(`""`) })
	add("expect_version negative", put, ErrMalformed, nil, func(m map[string]json.RawMessage) { m["expect_version"] = raw(`-1`) })
	add("document not JSON text", rec, ErrMalformed, func(m map[string]json.RawMessage) { m["payload"] = raw(`{"document":}`) }, nil)
	cases = append(cases,
		tc{"not JSON", []byte(`{"chain_id":`), ErrMalformed},
		tc{"array", []byte(`[]`), ErrMalformed},
		tc{"trailing value", append(jsonWith(t, xfer, nil, nil), []byte(` {}`)...), ErrMalformed},
		tc{"trailing bracket", append(jsonWith(t, xfer, nil, nil), ']'), ErrMalformed},
		tc{"oversized value", jsonWith(t, put, nil, func(m map[string]json.RawMessage) {
			m["value"], _ = json.Marshal(strings.Repeat("v", MaxTxBytesHard))
		}), ErrOversized},
	)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var tx Tx
			err := tx.UnmarshalJSON(c.b)
			if err == nil {
				t.Fatalf("accepted %.300s", c.b)
			}
			if !errors.Is(err, c.want) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
		})
	}
	// The unchanged JSON is accepted (the edits above are what fail).
	for _, tx := range []*Tx{xfer, put, del, rec} {
		var back Tx
		if err := back.UnmarshalJSON(jsonWith(t, tx, nil, nil)); err != nil {
			t.Fatalf("%s: %v", tx.Type(), err)
		}
	}
}

// UnmarshalJSON never verifies the signature: a tampered but well-formed tx
// decodes, and VerifySignature is what catches it.
func TestTxJSONDoesNotVerify(t *testing.T) {
	j := jsonWith(t, sampleTransfer(), nil, func(m map[string]json.RawMessage) { m["amount"] = json.RawMessage(`251`) })
	var tx Tx
	if err := json.Unmarshal(j, &tx); err != nil {
		t.Fatal(err)
	}
	if err := tx.VerifySignature(); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("VerifySignature = %v, want bad_signature", err)
	}
}

func TestTxTypeNames(t *testing.T) {
	for typ, name := range map[TxType]string{TxTransfer: "transfer", TxKVPut: "kv.put", TxKVDelete: "kv.delete", TxRecord: "record"} {
		if typ.String() != name {
			t.Errorf("%d.String() = %q", typ, typ.String())
		}
		if got, err := ParseTxType(name); err != nil || got != typ {
			t.Errorf("ParseTxType(%q) = %v, %v", name, got, err)
		}
	}
	if _, err := ParseTxType("Transfer"); !errors.Is(err, ErrUnknownType) {
		t.Errorf("ParseTxType is case-insensitive: %v", err)
	}
	if TxType(9).String() != "type(9)" {
		t.Error(TxType(9).String())
	}
	if (&Tx{}).Type() != 0 {
		t.Error("empty tx has a type")
	}
}

func TestVerifySignature(t *testing.T) {
	tx := cloneTx(sampleTransfer())
	if err := tx.VerifySignature(); err != nil {
		t.Fatal(err)
	}
	bad := cloneTx(tx)
	bad.Signature[5] ^= 1
	if err := bad.VerifySignature(); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("tampered signature: %v", err)
	}
	other := cloneTx(tx)
	other.Sender = testKey(2).Public()
	if err := other.VerifySignature(); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("wrong sender: %v", err)
	}
	// Batch verification agrees, with the bad ones in the middle.
	txs := []*Tx{tx, bad, cloneTx(sampleTxs()[2].tx), other, cloneTx(sampleTxs()[7].tx)}
	bv := crypto.NewBatchVerifier(len(txs))
	for _, x := range txs {
		x.AddToBatch(bv)
	}
	ok, valid := bv.Verify()
	if ok {
		t.Fatal("batch with bad signatures verified")
	}
	for i, x := range txs {
		if valid[i] != (x.VerifySignature() == nil) {
			t.Fatalf("tx %d: batch %v, single %v", i, valid[i], x.VerifySignature())
		}
	}
}

func TestValidateTxStateless(t *testing.T) {
	p := DefaultParams()
	good := sampleTransfer()
	if err := ValidateTxStateless(good, testChain, p, true); err != nil {
		t.Fatal(err)
	}
	bad := cloneTx(good)
	bad.Signature[0] ^= 1
	rec := sampleTxs()[7].tx
	small := p
	small.MaxTxBytes = good.Size() - 1
	tinyRecord := p
	tinyRecord.MaxRecordBytes = len(rec.Payload.(*Record).Document) - 1
	cases := []struct {
		name     string
		tx       *Tx
		chain    string
		p        Params
		checkSig bool
		want     error
	}{
		{"wrong chain", good, "other-chain", p, true, ErrWrongChain},
		{"oversized", good, testChain, small, true, ErrOversized},
		{"record too large", rec, testChain, tinyRecord, true, ErrOversized},
		{"bad signature", bad, testChain, p, true, ErrBadSignature},
		{"bad signature unchecked", bad, testChain, p, false, nil},
		{"exactly at the limit", good, testChain, Params{MaxBlockTxs: 1, MaxBlockBytes: good.Size(), MaxTxBytes: good.Size(), MaxRecordBytes: 1}, true, nil},
	}
	for _, c := range cases {
		err := ValidateTxStateless(c.tx, c.chain, c.p, c.checkSig)
		if c.want == nil {
			if err != nil {
				t.Errorf("%s: %v", c.name, err)
			}
			continue
		}
		if !errors.Is(err, c.want) {
			t.Errorf("%s: err = %v, want %v", c.name, err, c.want)
		}
	}
	g := &Genesis{ChainID: testChain, Params: p}
	if err := g.ValidateTx(good); err != nil {
		t.Fatal(err)
	}
	if err := g.ValidateTx(bad); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("Genesis.ValidateTx(bad) = %v", err)
	}
}

func TestTxErrors(t *testing.T) {
	err := Errf(CodeBadNonce, "nonce %d, expected %d", 3, 2)
	if err.Error() != "bad_nonce: nonce 3, expected 2" {
		t.Fatalf("Error() = %q", err.Error())
	}
	wrapped := errors.Join(errors.New("context"), err)
	if !errors.Is(wrapped, ErrBadNonce) || errors.Is(wrapped, ErrMalformed) {
		t.Fatal("errors.Is does not match on code")
	}
	var te *TxError
	if !errors.As(wrapped, &te) || te.Code != CodeBadNonce {
		t.Fatal("errors.As does not find the *TxError")
	}
	if ErrMalformed.Error() != "malformed" {
		t.Fatal(ErrMalformed.Error())
	}
	if errors.Is(err, ErrNonCanonical) {
		t.Fatal("a plain TxError claims to wrap ErrNonCanonical")
	}
}
