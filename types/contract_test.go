package types

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/cairn-db/cairn/crypto"
)

func TestCheckContractName(t *testing.T) {
	for _, ok := range []string{"a", "voucher", "gift-cards.v2", "x_1", string(bytes.Repeat([]byte("n"), 64))} {
		if err := CheckContractName(ok); err != nil {
			t.Errorf("CheckContractName(%q) = %v, want nil", ok, err)
		}
	}
	for _, bad := range []string{"", "1abc", "-a", "Voucher", "a b", "a/b", "é", "a\x00", string(bytes.Repeat([]byte("n"), 65))} {
		if err := CheckContractName(bad); !errors.Is(err, ErrMalformed) {
			t.Errorf("CheckContractName(%q) = %v, want malformed", bad, err)
		}
	}
}

func TestContractKeys(t *testing.T) {
	// One contract's name being a prefix of another's must not mix their
	// namespaces: the length byte separates them.
	a, ab := ContractKeyPrefix("a"), ContractKeyPrefix("ab")
	if bytes.HasPrefix(ab, a) || bytes.HasPrefix(a, ab) {
		t.Fatalf("prefixes %x and %x overlap", a, ab)
	}
	if got := ContractKey("ab", []byte("k")); !bytes.Equal(got, []byte("c\x02abk")) {
		t.Fatalf("ContractKey = %q", got)
	}
	start, end := ContractKeyRange("ab", nil, nil)
	for _, k := range [][]byte{ContractKey("ab", nil), ContractKey("ab", []byte{0}), ContractKey("ab", bytes.Repeat([]byte{0xff}, 1024))} {
		if bytes.Compare(k, start) < 0 || bytes.Compare(k, end) >= 0 {
			t.Errorf("key %x outside [%x, %x)", k, start, end)
		}
	}
	for _, k := range [][]byte{ContractKey("a", []byte("b")), ContractKey("ac", nil), ContractKey("abc", nil), ContractInfoKey("ab")} {
		if bytes.Compare(k, start) >= 0 && bytes.Compare(k, end) < 0 {
			t.Errorf("foreign key %x inside [%x, %x)", k, start, end)
		}
	}
	start, end = ContractKeyRange("ab", []byte("k1"), []byte("k5"))
	if !bytes.Equal(start, []byte("c\x02abk1")) || !bytes.Equal(end, []byte("c\x02abk5")) {
		t.Fatalf("ContractKeyRange(k1, k5) = %q, %q", start, end)
	}
	var h crypto.Hash
	h[0] = 7
	if k := ContractCodeKey(h); len(k) != 33 || k[0] != 'w' || k[1] != 7 {
		t.Fatalf("ContractCodeKey = %x", k)
	}
}

func TestContractStateRoundTrip(t *testing.T) {
	info := &ContractInfo{Name: "voucher", Owner: crypto.Address{1, 2}, Created: 5, Updated: 9}
	info.CodeHash[31] = 0xaa
	got, err := DecodeContractInfo(info.Encode())
	if err != nil || !reflect.DeepEqual(got, info) {
		t.Fatalf("ContractInfo round trip = %+v, %v", got, err)
	}
	for _, e := range []*ContractEntry{
		{Height: 3, TxHash: crypto.Hash{9}, Value: []byte(`{"a":1}`)},
		{Height: 4, Deleted: true, Value: []byte{}},
	} {
		got, err := DecodeContractEntry(e.Encode())
		if err != nil || !reflect.DeepEqual(got, e) {
			t.Fatalf("ContractEntry round trip = %+v, %v; want %+v", got, err, e)
		}
	}
	bad := [][]byte{
		append((&ContractEntry{Value: []byte("v")}).Encode(), 0),     // trailing byte
		(&ContractEntry{Deleted: true, Value: []byte("v")}).Encode(), // tombstone with a value
		(&ContractEntry{}).Encode()[:10],                             // truncated
		(&ContractInfo{Name: "Bad"}).Encode(),                        // invalid name
		append((&ContractInfo{Name: "ok"}).Encode(), 1),              // trailing byte
	}
	for i, b := range bad {
		_, err1 := DecodeContractEntry(b)
		_, err2 := DecodeContractInfo(b)
		if !errors.Is(err1, ErrNonCanonical) || !errors.Is(err2, ErrNonCanonical) {
			t.Errorf("case %d: decode = %v / %v, want non-canonical", i, err1, err2)
		}
	}
}

func contractReceipts() []*Receipt {
	h := crypto.Sum([]byte("invoke"))
	return []*Receipt{
		{TxHash: h, OK: true, Contract: &ContractResult{GasUsed: 163_000, Events: []Event{
			{Contract: "voucher", Name: "issued", Data: []byte(`{"id":"g1"}`)},
			{Contract: "escrow", Name: "x", Data: []byte{}},
		}}},
		{TxHash: h, Code: "out_of_gas", Reason: "used 1000 of 1000", Contract: &ContractResult{GasUsed: 1000, Events: []Event{}}},
	}
}

// A contract receipt is the plain receipt followed by its contract
// section; the result bytes are still the receipt bytes without the reason,
// so gas and events are in the results root, and a receipt without a
// section is byte for byte what it was before contracts.
func TestContractReceipt(t *testing.T) {
	for _, r := range contractReceipts() {
		b := r.Encode()
		plain := *r
		plain.Contract = nil
		if !bytes.HasPrefix(b, plain.Encode()) || b[len(plain.Encode())] != 1 {
			t.Fatalf("contract receipt %x does not extend %x with section 1", b, plain.Encode())
		}
		d, err := DecodeReceipt(b)
		if err != nil || !reflect.DeepEqual(d, r) {
			t.Fatalf("round trip: %+v, %v; want %+v", d, err, r)
		}
		reasonAt := 32 + 1 + 2 + len(r.Code)
		without := append(append([]byte(nil), b[:reasonAt]...), b[reasonAt+2+len(r.Reason):]...)
		if !bytes.Equal(r.ResultBytes(), without) {
			t.Fatalf("result bytes %x, want %x", r.ResultBytes(), without)
		}
		if r.ResultHash() == plain.ResultHash() {
			t.Fatal("the contract section is outside the result hash")
		}
	}
	base := contractReceipts()[0]
	root := ResultsRoot([]*Receipt{base})
	for name, edit := range map[string]func(c *ContractResult){
		"gas":        func(c *ContractResult) { c.GasUsed++ },
		"event data": func(c *ContractResult) { c.Events[0].Data = []byte(`{"id":"g2"}`) },
		"event name": func(c *ContractResult) { c.Events[1].Name = "y" },
		"order":      func(c *ContractResult) { c.Events[0], c.Events[1] = c.Events[1], c.Events[0] },
		"dropped":    func(c *ContractResult) { c.Events = c.Events[:1] },
	} {
		c := *base.Contract
		c.Events = append([]Event(nil), c.Events...)
		edit(&c)
		r := *base
		r.Contract = &c
		if ResultsRoot([]*Receipt{&r}) == root {
			t.Errorf("%s changed, results root did not", name)
		}
	}
}

func TestDecodeContractReceiptRejects(t *testing.T) {
	good := contractReceipts()[0].Encode()
	plainLen := len((&Receipt{TxHash: contractReceipts()[0].TxHash, OK: true}).Encode())
	many := &Receipt{Contract: &ContractResult{}}
	for i := 0; i <= MaxReceiptEvents; i++ {
		many.Contract.Events = append(many.Contract.Events, Event{Contract: "c", Name: "e"})
	}
	cases := map[string][]byte{
		"unknown section":   set(good, plainLen, 2),
		"trailing byte":     append(append([]byte(nil), good...), 0),
		"too many events":   many.Encode(),
		"bad contract name": (&Receipt{Contract: &ContractResult{Events: []Event{{Contract: "Bad", Name: "e"}}}}).Encode(),
		"empty event name":  (&Receipt{Contract: &ContractResult{Events: []Event{{Contract: "c"}}}}).Encode(),
		"event too large":   (&Receipt{Contract: &ContractResult{Events: []Event{{Contract: "c", Name: "e", Data: make([]byte, MaxEventBytes)}}}}).Encode(),
	}
	for i := plainLen + 1; i < len(good); i++ {
		cases["truncated "+strconv.Itoa(i)] = good[:i]
	}
	for name, b := range cases {
		if _, err := DecodeReceipt(b); !errors.Is(err, ErrNonCanonical) {
			t.Errorf("%s: err = %v, want ErrNonCanonical", name, err)
		}
	}
	// Events of the maximum size decode.
	max := &Receipt{Contract: &ContractResult{Events: []Event{{Contract: "c", Name: "e", Data: make([]byte, MaxEventBytes-1)}}}}
	if _, err := DecodeReceipt(max.Encode()); err != nil {
		t.Fatalf("largest event: %v", err)
	}
}

func TestContractReceiptJSON(t *testing.T) {
	r := contractReceipts()[0]
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"tx_hash":"` + r.TxHash.String() + `","ok":true,"contract":{"gas_used":163000,"events":[{"contract":"voucher","name":"issued","data_hex":"7b226964223a226731227d"},{"contract":"escrow","name":"x","data_hex":""}]}}`
	if string(b) != want {
		t.Fatalf("JSON %s\nwant %s", b, want)
	}
	var back Receipt
	if err := json.Unmarshal(b, &back); err != nil || !reflect.DeepEqual(&back, r) {
		t.Fatalf("JSON round trip %+v, %v", back, err)
	}
	failed := &Receipt{TxHash: r.TxHash, Code: "out_of_gas", Contract: &ContractResult{GasUsed: 5}}
	if b, _ := json.Marshal(failed); !strings.Contains(string(b), `"contract":{"gas_used":5,"events":[]}`) {
		t.Fatalf("no events: %s", b)
	}
}

// The contract transactions' chain limits: a deploy is bounded by
// max_code_bytes rather than max_tx_bytes, gas limits by max_tx_gas.
func TestContractTxLimits(t *testing.T) {
	k := testKey(1)
	mk := func(p Payload) *Tx {
		tx := &Tx{ChainID: testChain, Nonce: 1, Timestamp: 1, Payload: p}
		tx.Sign(k)
		return tx
	}
	p := DefaultParams()
	p.MaxTxBytes, p.MaxRecordBytes = 1000, 100
	big := mk(&ContractDeploy{Code: make([]byte, 5000)})
	if err := ValidateTxStateless(big, testChain, p, true); err != nil {
		t.Fatalf("deploy of 5000 bytes under max_tx_bytes 1000: %v", err)
	}
	p.MaxCodeBytes = 4999
	if err := ValidateTxStateless(big, testChain, p, true); !errors.Is(err, &TxError{Code: CodeOversized}) {
		t.Fatalf("deploy over max_code_bytes: %v", err)
	}
	p.MaxTxGas = 10
	if err := ValidateTxStateless(mk(&ContractInvoke{Name: "c", Function: "f", GasLimit: 10}), testChain, p, true); err != nil {
		t.Fatal(err)
	}
	for _, pl := range []Payload{&ContractInvoke{Name: "c", Function: "f", GasLimit: 11}, &ContractInstantiate{Name: "c", GasLimit: 11}} {
		if err := ValidateTxStateless(mk(pl), testChain, p, true); !errors.Is(err, &TxError{Code: CodeOversized}) {
			t.Fatalf("%T over max_tx_gas: %v", pl, err)
		}
	}
	// A genesis without the contract parameters reads as the defaults, and
	// writes them back absent.
	var q Params
	if err := json.Unmarshal([]byte(`{"max_block_txs":1,"max_block_bytes":16777216,"max_tx_bytes":1000,"max_record_bytes":10}`), &q); err != nil {
		t.Fatal(err)
	}
	if code, gas := q.ContractParams(); code != DefaultMaxCodeBytes || gas != DefaultMaxTxGas || q.Check() != nil {
		t.Fatalf("defaults %d %d, check %v", code, gas, q.Check())
	}
	if b, _ := json.Marshal(q); strings.Contains(string(b), "code") || strings.Contains(string(b), "gas") {
		t.Fatalf("absent contract params written back: %s", b)
	}
}
