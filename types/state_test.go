package types

import (
	"bytes"
	"encoding/binary"
	"errors"
	"path/filepath"
	"reflect"
	"strconv"
	"testing"
)

func TestStateKeys(t *testing.T) {
	addr := testKey(1).Public().Address()
	ak := AccountKey(addr)
	if len(ak) != 21 || ak[0] != 'a' || !bytes.Equal(ak[1:], addr[:]) {
		t.Fatalf("AccountKey = %x", ak)
	}
	kk := KVKey("users/alice")
	if string(kk) != "kusers/alice" {
		t.Fatalf("KVKey = %q", kk)
	}
	// A user key spelling an account key still lands in the 'k' namespace.
	if bytes.Equal(KVKey(string(ak)), ak) || KVKey(string(ak))[0] != 'k' {
		t.Fatal("user key collides with an account key")
	}
	// The returned slices are fresh: appending to one does not touch another.
	k1 := KVKey("a")
	k2 := KVKey("b")
	_ = append(k1, 'x')
	if string(k2) != "kb" {
		t.Fatal("KVKey slices alias")
	}
}

func TestAccountRoundTrip(t *testing.T) {
	for _, a := range []Account{{}, {Balance: 1000, Nonce: 3}, {Balance: ^uint64(0), Nonce: ^uint64(0)}} {
		b := a.Encode()
		want := binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(nil, a.Balance), a.Nonce)
		if !bytes.Equal(b, want) {
			t.Fatalf("Account.Encode = %x, want %x", b, want)
		}
		d, err := DecodeAccount(b)
		if err != nil || d != a {
			t.Fatalf("DecodeAccount = %+v, %v", d, err)
		}
	}
	good := Account{Balance: 5, Nonce: 1}.Encode()
	for _, b := range [][]byte{nil, good[:15], append(append([]byte(nil), good...), 0)} {
		if _, err := DecodeAccount(b); !errors.Is(err, ErrNonCanonical) {
			t.Errorf("%d-byte account: err = %v", len(b), err)
		}
	}
}

func TestKVEntryRoundTrip(t *testing.T) {
	for _, e := range sampleKVEntries() {
		b := e.Encode()
		if len(b) != 8+8+32+1+4+len(e.Value) {
			t.Fatalf("kv entry is %d bytes", len(b))
		}
		d, err := DecodeKVEntry(b)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(d, e) || !bytes.Equal(d.Encode(), b) {
			t.Fatalf("decoded %+v, want %+v", d, e)
		}
	}
}

func TestDecodeKVEntryRejects(t *testing.T) {
	good := sampleKVEntries()[0].Encode()
	const delAt = 8 + 8 + 32
	longLen := append([]byte(nil), good...)
	binary.BigEndian.PutUint32(longLen[delAt+1:], uint32(MaxValueBytesHard+1))
	cases := map[string][]byte{
		"deleted byte 2":   set(good, delAt, 2),
		"trailing byte":    append(append([]byte(nil), good...), 0),
		"length too large": longLen,
	}
	for i := 0; i < len(good); i++ {
		cases["truncated "+strconv.Itoa(i)] = good[:i]
	}
	for name, b := range cases {
		if _, err := DecodeKVEntry(b); !errors.Is(err, ErrNonCanonical) {
			t.Errorf("%s: err = %v, want ErrNonCanonical", name, err)
		}
	}
}

func TestGenesis(t *testing.T) {
	_, vs := testValidators(4)
	g := &Genesis{
		ChainID:     testChain,
		GenesisTime: 1700000000000,
		Validators:  vs.Validators,
		Balances:    []Balance{{Address: testKey(1).Public().Address(), Amount: 1000}},
		Params:      DefaultParams(),
	}
	if err := g.Check(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "genesis.json")
	if err := g.Save(path); err != nil {
		t.Fatal(err)
	}
	back, err := LoadGenesis(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, g) {
		t.Fatalf("genesis round trip: %+v", back)
	}
	vs2, err := back.ValidatorSet()
	if err != nil || vs2.Hash() != vs.Hash() {
		t.Fatal("genesis validator set differs")
	}

	bad := func(f func(g *Genesis)) *Genesis {
		c := *g
		c.Balances = append([]Balance(nil), g.Balances...)
		f(&c)
		return &c
	}
	for name, b := range map[string]*Genesis{
		"no chain id":       bad(func(g *Genesis) { g.ChainID = "" }),
		"no validators":     bad(func(g *Genesis) { g.Validators = nil }),
		"duplicate balance": bad(func(g *Genesis) { g.Balances = append(g.Balances, g.Balances[0]) }),
		"zero max txs":      bad(func(g *Genesis) { g.Params.MaxBlockTxs = 0 }),
		"tx above hard cap": bad(func(g *Genesis) { g.Params.MaxTxBytes = MaxTxBytesHard + 1 }),
		"block below tx":    bad(func(g *Genesis) { g.Params.MaxBlockBytes = g.Params.MaxTxBytes - 1 }),
		"record above tx":   bad(func(g *Genesis) { g.Params.MaxRecordBytes = g.Params.MaxTxBytes + 1 }),
	} {
		if err := b.Check(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := LoadGenesis(filepath.Join(t.TempDir(), "absent.json")); err == nil {
		t.Error("missing genesis file accepted")
	}
}
