package types

import (
	"bytes"
	"errors"
	"reflect"
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
