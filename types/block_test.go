package types

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/merkle"
)

func TestHeaderRoundTrip(t *testing.T) {
	for _, h := range []Header{
		sampleBlock(allSampleTxs()).Header,
		{ChainID: testChain, Height: 1}, // genesis child: zero parent, empty roots
		{ChainID: "x", Height: ^uint64(0), Round: ^uint32(0), Time: 1<<63 - 1, TxCount: ^uint32(0)},
	} {
		b := h.Encode()
		wantLen := 1 + 2 + len(h.ChainID) + 8 + 4 + 8 + 32 + 32 + 4 + 6*32
		if len(b) != wantLen {
			t.Fatalf("header is %d bytes, want %d", len(b), wantLen)
		}
		d, err := DecodeHeader(b)
		if err != nil {
			t.Fatal(err)
		}
		if *d != h {
			t.Fatalf("decoded %+v, want %+v", *d, h)
		}
		if !bytes.Equal(d.Encode(), b) {
			t.Fatal("re-encoding differs")
		}
		if h.Hash() != crypto.Sum(b) {
			t.Fatal("header hash is not SHA-256 of its bytes")
		}
	}
}

func TestHeaderLayout(t *testing.T) {
	h := sampleBlock(nil).Header
	b := h.Encode()
	off := 0
	next := func(n int) []byte { v := b[off : off+n]; off += n; return v }
	if next(1)[0] != 2 {
		t.Fatal("version")
	}
	if binary.BigEndian.Uint16(next(2)) != uint16(len(testChain)) || string(next(len(testChain))) != testChain {
		t.Fatal("chain_id")
	}
	if binary.BigEndian.Uint64(next(8)) != h.Height || binary.BigEndian.Uint32(next(4)) != h.Round ||
		int64(binary.BigEndian.Uint64(next(8))) != h.Time {
		t.Fatal("height/round/time")
	}
	for _, want := range [][]byte{h.Proposer[:], h.ParentHash[:]} {
		if !bytes.Equal(next(32), want) {
			t.Fatal("proposer/parent")
		}
	}
	if binary.BigEndian.Uint32(next(4)) != h.TxCount {
		t.Fatal("tx_count")
	}
	for _, want := range [][]byte{h.TxRoot[:], h.ResultsRoot[:], h.StateRoot[:], h.ValidatorsHash[:], h.NextValidatorsHash[:], h.LastCommitHash[:]} {
		if !bytes.Equal(next(32), want) {
			t.Fatal("roots")
		}
	}
	if off != len(b) {
		t.Fatal("extra bytes")
	}
}

func TestDecodeHeaderRejects(t *testing.T) {
	good := sampleBlock(nil).Header.Encode()
	neg := sampleBlock(nil).Header
	neg.Time = -1
	long := sampleBlock(nil).Header
	long.ChainID = string(make([]byte, MaxChainIDBytes+1))
	cases := map[string][]byte{
		"trailing byte":   append(append([]byte(nil), good...), 0),
		"version 0":       set(good, 0, 0),
		"version 1":       set(good, 0, 1),
		"version 3":       set(good, 0, 3),
		"negative time":   neg.Encode(),
		"chain id 65":     long.Encode(),
		"length too long": set(good, 2, byte(len(testChain)+1)),
	}
	for i := 0; i < len(good); i++ {
		cases["truncated to "+strconv.Itoa(i)] = good[:i]
	}
	for name, b := range cases {
		if _, err := DecodeHeader(b); !errors.Is(err, ErrNonCanonical) {
			t.Errorf("%s: err = %v, want ErrNonCanonical", name, err)
		}
	}
}

func TestBlockRoundTrip(t *testing.T) {
	for _, txs := range [][]*Tx{nil, allSampleTxs()[:1], allSampleTxs()} {
		blk := sampleBlock(txs)
		b := blk.Encode()
		d, err := DecodeBlock(b)
		if err != nil {
			t.Fatalf("%d txs: %v", len(txs), err)
		}
		if d.Header != blk.Header || len(d.Txs) != len(txs) {
			t.Fatalf("decoded header %+v, %d txs", d.Header, len(d.Txs))
		}
		fresh := &Block{Header: d.Header}
		for i, tx := range d.Txs {
			if tx.Hash() != txs[i].Hash() {
				t.Fatalf("tx %d differs", i)
			}
			fresh.Txs = append(fresh.Txs, cloneTx(tx))
		}
		if !bytes.Equal(fresh.Encode(), b) {
			t.Fatal("re-encoding differs")
		}
		if d.Hash() != blk.Header.Hash() {
			t.Fatal("block hash is not the header hash")
		}
		if err := d.CheckTxs(); err != nil {
			t.Fatal(err)
		}
		// The tx root is the RFC 6962 root over tx hashes, in block order.
		if blk.Header.TxRoot != merkle.RootOfHashes(blk.TxHashes()) {
			t.Fatal("tx root")
		}
		if len(txs) > 1 {
			p, err := merkle.Prove(blk.TxHashes(), 1)
			if err != nil {
				t.Fatal(err)
			}
			h := txs[1].Hash()
			if err := merkle.Verify(blk.Header.TxRoot, h[:], p); err != nil {
				t.Fatal("tx inclusion proof against the header:", err)
			}
		}
	}
	// The empty block's tx root is SHA-256("").
	if sampleBlock(nil).Header.TxRoot != crypto.Sum(nil) {
		t.Fatal("empty tx root")
	}
}

func TestBlockLayout(t *testing.T) {
	txs := allSampleTxs()[:2]
	blk := sampleBlock(txs)
	b := blk.Encode()
	hb := blk.Header.Encode()
	var want []byte
	want = binary.BigEndian.AppendUint32(want, uint32(len(hb)))
	want = append(want, hb...)
	want = binary.BigEndian.AppendUint32(want, 2)
	for _, tx := range txs {
		want = binary.BigEndian.AppendUint32(want, uint32(tx.Size()))
		want = append(want, tx.Bytes()...)
	}
	want = binary.BigEndian.AppendUint32(want, 0) // no last commit
	if !bytes.Equal(b, want) {
		t.Fatal("block layout differs from docs/encoding.md")
	}
	// With a last commit: its certificate bytes behind a u32 length, and
	// the header commits to them.
	last := &Certificate{Height: 1, BlockHash: blk.Header.ParentHash, Sigs: []CommitSig{{Validator: 1}}}
	blk.LastCommit, blk.Header.LastCommitHash = last, LastCommitHash(last)
	b = blk.Encode()
	cb := last.Encode()
	if !bytes.HasSuffix(b, append(binary.BigEndian.AppendUint32(nil, uint32(len(cb))), cb...)) {
		t.Fatal("last commit layout differs from docs/encoding.md")
	}
	d, err := DecodeBlock(b)
	if err != nil || d.LastCommit == nil || LastCommitHash(d.LastCommit) != blk.Header.LastCommitHash {
		t.Fatalf("block with a last commit: %v", err)
	}
	// A last commit the header does not commit to is refused.
	blk.Header.LastCommitHash = crypto.Hash{}
	if _, err := DecodeBlock(blk.Encode()); err == nil {
		t.Fatal("a last commit outside the header's hash was accepted")
	}
}

func TestDecodeBlockRejects(t *testing.T) {
	txs := allSampleTxs()[:3]
	good := sampleBlock(txs).Encode()

	wrongRoot := sampleBlock(txs)
	wrongRoot.Header.TxRoot[0] ^= 1
	wrongCount := sampleBlock(txs)
	wrongCount.Header.TxCount = 2
	reordered := sampleBlock(txs)
	reordered.Txs = []*Tx{txs[1], txs[0], txs[2]}
	badTx := sampleBlock(txs)
	badTxBytes := badTx.Encode()
	// Corrupt the first tx's version byte (after the 4-byte header length,
	// the header, the 4-byte count and the first tx's 4-byte length).
	hl := len(badTx.Header.Encode())
	badTxBytes[4+hl+4+4] = 9

	hugeCount := append([]byte(nil), good...)
	binary.BigEndian.PutUint32(hugeCount[4+hl:], 1<<31)

	cases := map[string][]byte{
		"trailing byte":       append(append([]byte(nil), good...), 0),
		"tx root mismatch":    wrongRoot.Encode(),
		"tx count mismatch":   wrongCount.Encode(),
		"txs reordered":       reordered.Encode(),
		"malformed tx":        badTxBytes,
		"count exceeds input": hugeCount,
		"empty":               nil,
	}
	for name, b := range cases {
		if _, err := DecodeBlock(b); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	for i := 0; i < len(good); i++ {
		if _, err := DecodeBlock(good[:i]); err == nil {
			t.Fatalf("block truncated to %d of %d bytes accepted", i, len(good))
		}
	}
	if _, err := DecodeBlock(badTxBytes); !errors.Is(err, ErrMalformed) || !errors.Is(err, ErrNonCanonical) {
		t.Errorf("malformed tx in block: err = %v, want malformed wrapping ErrNonCanonical", err)
	}
}

func TestCheckTxs(t *testing.T) {
	blk := sampleBlock(allSampleTxs())
	if err := blk.CheckTxs(); err != nil {
		t.Fatal(err)
	}
	blk.Txs = blk.Txs[1:]
	if err := blk.CheckTxs(); err == nil {
		t.Fatal("dropped tx not detected")
	}
}

func TestReceiptRoundTrip(t *testing.T) {
	for _, r := range append(sampleReceipts(), &Receipt{}) {
		b := r.Encode()
		if len(b) != 32+1+2+len(r.Code)+2+len(r.Reason)+8 {
			t.Fatalf("receipt is %d bytes", len(b))
		}
		d, err := DecodeReceipt(b)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(d, r) {
			t.Fatalf("decoded %+v, want %+v", d, r)
		}
		if !bytes.Equal(d.Encode(), b) {
			t.Fatal("re-encoding differs")
		}
		// The result bytes are the receipt bytes without the reason field.
		reasonAt := 32 + 1 + 2 + len(r.Code)
		without := append(append([]byte(nil), b[:reasonAt]...), b[reasonAt+2+len(r.Reason):]...)
		if !bytes.Equal(r.ResultBytes(), without) || r.ResultHash() != crypto.Sum(without) {
			t.Fatalf("result bytes %x, want %x", r.ResultBytes(), without)
		}
	}
}

func TestDecodeReceiptRejects(t *testing.T) {
	r := sampleReceipts()[2]
	good := r.Encode()
	cases := map[string][]byte{
		"ok byte 2":     set(good, 32, 2),
		"ok byte 0xff":  set(good, 32, 0xff),
		"trailing byte": append(append([]byte(nil), good...), 0),
		"code too long": (&Receipt{Code: Code(make([]byte, 65))}).Encode(),
	}
	for i := 0; i < len(good); i++ {
		cases["truncated "+strconv.Itoa(i)] = good[:i]
	}
	for name, b := range cases {
		if _, err := DecodeReceipt(b); !errors.Is(err, ErrNonCanonical) {
			t.Errorf("%s: err = %v, want ErrNonCanonical", name, err)
		}
	}
}

func TestResultsRoot(t *testing.T) {
	rs := sampleReceipts()
	hs := make([]crypto.Hash, len(rs))
	for i, r := range rs {
		hs[i] = crypto.Sum(r.ResultBytes())
	}
	if ResultsRoot(rs) != merkle.RootOfHashes(hs) {
		t.Fatal("results root is not the RFC 6962 root over receipt result hashes")
	}
	if ResultsRoot(nil) != crypto.Sum(nil) {
		t.Fatal("empty results root")
	}
	// Order matters.
	rs[0], rs[1] = rs[1], rs[0]
	if ResultsRoot(rs) == merkle.RootOfHashes(hs) {
		t.Fatal("results root ignores order")
	}
}

// The results root commits to what a transaction did (tx hash, ok, code,
// version written), not to the human-readable reason: a reworded message
// or a Go upgrade that changes an error's text cannot split validators.
func TestResultsRootIgnoresReason(t *testing.T) {
	base := []*Receipt{
		{TxHash: crypto.Sum([]byte("a")), OK: true, Version: 3},
		{TxHash: crypto.Sum([]byte("b")), Code: CodeInsufficientBalance, Reason: "insufficient_balance: has 1, needs 2"},
	}
	root := ResultsRoot(base)
	clone := func(edit func(r *Receipt)) []*Receipt {
		out := []*Receipt{}
		for _, r := range base {
			c := *r
			out = append(out, &c)
		}
		edit(out[1])
		return out
	}
	for name, edit := range map[string]func(r *Receipt){
		"reworded": func(r *Receipt) { r.Reason = "insufficient_balance: balance 1 < 2" },
		"empty":    func(r *Receipt) { r.Reason = "" },
		"long":     func(r *Receipt) { r.Reason = strings.Repeat("why ", 1000) },
	} {
		if ResultsRoot(clone(edit)) != root {
			t.Errorf("reason %s: results root changed", name)
		}
	}
	for name, edit := range map[string]func(r *Receipt){
		"tx hash": func(r *Receipt) { r.TxHash[0] ^= 1 },
		"ok":      func(r *Receipt) { r.OK = true },
		"code":    func(r *Receipt) { r.Code = CodeBadNonce },
		"version": func(r *Receipt) { r.Version = 1 },
	} {
		if ResultsRoot(clone(edit)) == root {
			t.Errorf("%s changed, results root did not", name)
		}
	}
}

// The receipt worked example of docs/encoding.md section 5. If this test
// fails the results root changed, and every stored header with it.
func TestReceiptWorkedExample(t *testing.T) {
	const (
		receiptHex = "1862b92b53c35703a574d77a82d37845556567b20b144fa20c6a3f20b1ed3f71" + // tx_hash
			"00" + // ok false
			"0014" + "696e73756666696369656e745f62616c616e6365" + // code "insufficient_balance"
			"0017" + "62616c616e636520302c207472616e7366657220323530" + // reason "balance 0, transfer 250"
			"0000000000000000" // version 0
		resultHex = "1862b92b53c35703a574d77a82d37845556567b20b144fa20c6a3f20b1ed3f71" +
			"00" + "0014" + "696e73756666696369656e745f62616c616e6365" + "0000000000000000"
		resultHash = "ac21887894b15ed9ee3db57f5669dd1e2249d2259f50e600d9e4170ac7ffafc1"
		okHex      = "1862b92b53c35703a574d77a82d37845556567b20b144fa20c6a3f20b1ed3f71" + "01" + "0000" + "0000000000000000"
		root2      = "5e732032786533e4cb8224a8396af8fabe00f388b04799640d7fe81abdb2da88" // [ok, failed]
	)
	failed := &Receipt{TxHash: sampleTransfer().Hash(), Code: CodeInsufficientBalance, Reason: "balance 0, transfer 250"}
	ok := &Receipt{TxHash: sampleTransfer().Hash(), OK: true}
	if got := hex.EncodeToString(failed.Encode()); got != receiptHex {
		t.Errorf("receipt bytes\n got %s\nwant %s", got, receiptHex)
	}
	if got := hex.EncodeToString(failed.ResultBytes()); got != resultHex {
		t.Errorf("result bytes\n got %s\nwant %s", got, resultHex)
	}
	if got := failed.ResultHash().String(); got != resultHash {
		t.Errorf("result hash %s, want %s", got, resultHash)
	}
	if got := hex.EncodeToString(ok.ResultBytes()); got != okHex {
		t.Errorf("ok result bytes\n got %s\nwant %s", got, okHex)
	}
	if got := ResultsRoot([]*Receipt{ok, failed}).String(); got != root2 {
		t.Errorf("results root %s, want %s", got, root2)
	}
}
