package crypto

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// testKey derives a deterministic key from a one-byte seed pattern.
func testKey(b byte) *PrivateKey {
	var seed [SeedSize]byte
	for i := range seed {
		seed[i] = b
	}
	return MustKeyFromSeed(seed)
}

func TestSignVerify(t *testing.T) {
	k := testKey(1)
	msg := []byte("hello cairn")
	sig := k.Sign(DomainTx, msg)
	if !Verify(k.Public(), DomainTx, msg, sig[:]) {
		t.Fatal("valid signature rejected")
	}
	// Any change to message, signature or key must fail.
	if Verify(k.Public(), DomainTx, []byte("hello cairm"), sig[:]) {
		t.Error("signature verified for a different message")
	}
	bad := sig
	bad[10] ^= 1
	if Verify(k.Public(), DomainTx, msg, bad[:]) {
		t.Error("tampered signature verified")
	}
	if Verify(testKey(2).Public(), DomainTx, msg, sig[:]) {
		t.Error("signature verified under another key")
	}
	if Verify(k.Public(), DomainTx, msg, sig[:63]) || Verify(k.Public(), DomainTx, msg, append(sig[:], 0)) {
		t.Error("signature of the wrong length verified")
	}
	// Ed25519 is deterministic: the same key and message give the same bytes.
	if again := k.Sign(DomainTx, msg); again != sig {
		t.Error("signing is not deterministic")
	}
}

func TestSignRawMatchesSign(t *testing.T) {
	k := testKey(3)
	msg := []byte{0, 1, 2, 3}
	sig := k.Sign(DomainVote, msg)
	raw := k.SignRaw(SignBytes(DomainVote, msg))
	if sig != raw {
		t.Fatal("SignRaw(SignBytes(d, m)) differs from Sign(d, m)")
	}
	if !VerifyRaw(k.Public(), SignBytes(DomainVote, msg), sig[:]) {
		t.Fatal("VerifyRaw rejects a valid signature")
	}
	if VerifyRaw(k.Public(), msg, sig[:]) {
		t.Fatal("VerifyRaw accepted the message without its domain prefix")
	}
}

func TestSignBytesLayout(t *testing.T) {
	got := SignBytes("ab", []byte{0xff})
	want := []byte{2, 'a', 'b', 0xff}
	if !bytes.Equal(got, want) {
		t.Fatalf("SignBytes = %x, want %x", got, want)
	}
	if got := SignBytes(DomainTx, nil); !bytes.Equal(got, append([]byte{byte(len(DomainTx))}, DomainTx...)) {
		t.Fatalf("SignBytes(DomainTx, nil) = %x", got)
	}
}

// A signature made for one purpose never verifies for another, even over
// identical message bytes, and the sign bytes of two domains never coincide.
func TestDomainSeparation(t *testing.T) {
	k := testKey(4)
	domains := []string{DomainTx, DomainVote, DomainMsg}
	msg := []byte("same bytes, different purpose")
	for _, signed := range domains {
		sig := k.Sign(signed, msg)
		for _, checked := range domains {
			got := Verify(k.Public(), checked, msg, sig[:])
			if got != (signed == checked) {
				t.Errorf("signed under %q, Verify under %q = %v", signed, checked, got)
			}
		}
	}
	// The length prefix makes domains prefix-free: "cairn/tx/v1" followed by
	// message bytes that spell the rest of another domain still differs.
	a := SignBytes(DomainTx, []byte("x"))
	b := SignBytes(DomainTx+"x", nil)
	if bytes.Equal(a, b) {
		t.Fatal("length prefix does not separate domain from message")
	}
	for i, d := range domains {
		for _, e := range domains[i+1:] {
			if d == e || len(d) > maxDomainBytes {
				t.Fatalf("domains %q and %q must be distinct and short", d, e)
			}
		}
	}
}

func TestBatchVerifyAgreesWithSingle(t *testing.T) {
	const n = 9
	type item struct {
		pub PublicKey
		dom string
		msg []byte
		sig []byte
	}
	items := make([]item, n)
	for i := range items {
		k := testKey(byte(10 + i))
		msg := []byte{byte(i), 'm'}
		s := k.Sign(DomainTx, msg)
		items[i] = item{k.Public(), DomainTx, msg, s[:]}
	}
	// Break the one in the middle three different ways in three batches.
	breakers := map[string]func(it *item){
		"flipped bit":   func(it *item) { it.sig = append([]byte(nil), it.sig...); it.sig[0] ^= 0x80 },
		"wrong domain":  func(it *item) { it.dom = DomainVote },
		"short sig":     func(it *item) { it.sig = it.sig[:SignatureSize-1] },
		"wrong message": func(it *item) { it.msg = []byte("other") },
		// S >= group order: non-canonical, rejected by ZIP-215 in both paths.
		"non-canonical S": func(it *item) {
			it.sig = append([]byte(nil), it.sig...)
			for j := 32; j < 64; j++ {
				it.sig[j] = 0xff
			}
		},
	}
	for name, brk := range breakers {
		t.Run(name, func(t *testing.T) {
			batch := append([]item(nil), items...)
			brk(&batch[n/2])
			bv := NewBatchVerifier(n)
			for _, it := range batch {
				bv.Add(it.pub, it.dom, it.msg, it.sig)
			}
			if bv.Len() != n {
				t.Fatalf("Len = %d, want %d", bv.Len(), n)
			}
			ok, valid := bv.Verify()
			if ok {
				t.Fatal("batch with a bad signature verified")
			}
			if len(valid) != n {
				t.Fatalf("valid has %d entries, want %d", len(valid), n)
			}
			for i, it := range batch {
				single := Verify(it.pub, it.dom, it.msg, it.sig)
				if valid[i] != single {
					t.Errorf("entry %d: batch says %v, single says %v", i, valid[i], single)
				}
				if want := i != n/2; single != want {
					t.Errorf("entry %d: single verify = %v, want %v", i, single, want)
				}
			}
		})
	}
	t.Run("all good", func(t *testing.T) {
		bv := NewBatchVerifier(n)
		for _, it := range items {
			bv.AddRaw(it.pub, SignBytes(it.dom, it.msg), it.sig)
		}
		ok, valid := bv.Verify()
		if !ok || len(valid) != n {
			t.Fatalf("Verify = %v, %v", ok, valid)
		}
		for i, v := range valid {
			if !v {
				t.Errorf("entry %d marked invalid", i)
			}
		}
	})
	t.Run("empty", func(t *testing.T) {
		if ok, valid := NewBatchVerifier(0).Verify(); !ok || valid != nil {
			t.Fatalf("empty batch: %v %v", ok, valid)
		}
	})
}

// ZIP-215 edge case: the identity point as public key with R = identity and
// S = 0 satisfies the cofactored equation for every message. What matters for
// consensus is that the single and batch verifiers give the same answer.
func TestSmallOrderKeyAgreement(t *testing.T) {
	var pub PublicKey
	pub[0] = 1 // encoding of the identity point (y = 1)
	sig := make([]byte, SignatureSize)
	sig[0] = 1 // R = identity, S = 0
	msg := []byte("anything")
	single := Verify(pub, DomainTx, msg, sig)
	bv := NewBatchVerifier(2)
	k := testKey(7)
	good := k.Sign(DomainTx, msg)
	bv.Add(k.Public(), DomainTx, msg, good[:])
	bv.Add(pub, DomainTx, msg, sig)
	_, valid := bv.Verify()
	if valid[1] != single {
		t.Fatalf("small-order key: batch %v, single %v", valid[1], single)
	}
	if !valid[0] {
		t.Fatal("good signature next to the small-order key was rejected")
	}
}

func TestAddressDerivation(t *testing.T) {
	k := testKey(5)
	pub := k.Public()
	sum := sha256.Sum256(pub[:])
	addr := pub.Address()
	if !bytes.Equal(addr[:], sum[:AddressSize]) {
		t.Fatalf("address %x is not the first 20 bytes of SHA-256(pub) %x", addr, sum)
	}
	if Sum([]byte("abc")).String() != "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" {
		t.Fatal("Sum is not SHA-256")
	}
}

func TestKeyFromSeed(t *testing.T) {
	if _, err := KeyFromSeed(make([]byte, 31)); err == nil {
		t.Error("31-byte seed accepted")
	}
	if _, err := KeyFromSeed(make([]byte, 33)); err == nil {
		t.Error("33-byte seed accepted")
	}
	// RFC 8032 section 7.1, TEST 1: the seed determines the public key.
	seed, _ := hex.DecodeString("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
	k, err := KeyFromSeed(seed)
	if err != nil {
		t.Fatal(err)
	}
	if got := k.Public().String(); got != "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a" {
		t.Fatalf("public key %s does not match RFC 8032", got)
	}
	if !bytes.Equal(k.Seed(), seed) {
		t.Fatal("Seed() does not return the seed")
	}
	pub := k.Public()
	if std, ok := k.Std().Public().(ed25519.PublicKey); !ok || !bytes.Equal(std, pub[:]) {
		t.Fatal("Std() is not the same ed25519 key")
	}
	g1, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	g2, _ := GenerateKey()
	if g1.Public() == g2.Public() {
		t.Fatal("two generated keys are equal")
	}
}

func TestHexParsing(t *testing.T) {
	k := testKey(6)
	pub := k.Public()
	addr := pub.Address()
	h := Sum([]byte("x"))

	if p, err := ParsePublicKey(pub.String()); err != nil || p != pub {
		t.Fatalf("ParsePublicKey round trip: %v", err)
	}
	if a, err := ParseAddress(addr.String()); err != nil || a != addr {
		t.Fatalf("ParseAddress round trip: %v", err)
	}
	if g, err := ParseHash(h.String()); err != nil || g != h {
		t.Fatalf("ParseHash round trip: %v", err)
	}

	parsers := map[string]struct {
		parse func(string) error
		good  string
	}{
		"public key": {func(s string) error { _, err := ParsePublicKey(s); return err }, pub.String()},
		"address":    {func(s string) error { _, err := ParseAddress(s); return err }, addr.String()},
		"hash":       {func(s string) error { _, err := ParseHash(s); return err }, h.String()},
	}
	for name, p := range parsers {
		upper := strings.ToUpper(p.good)
		if upper == p.good {
			t.Fatalf("%s fixture has no letters", name)
		}
		bad := []string{
			"",
			p.good[:len(p.good)-2], // one byte short
			p.good + "00",          // one byte long
			p.good[:len(p.good)-1], // odd length
			upper,                  // upper case
			"0x" + p.good[2:],      // prefix
			p.good[:len(p.good)-1] + "g",
			" " + p.good[1:],
		}
		for _, s := range bad {
			if err := p.parse(s); err == nil {
				t.Errorf("%s: %q accepted", name, s)
			}
		}
	}

	// The text forms used in JSON obey the same rules.
	var a Address
	if err := json.Unmarshal([]byte(`"`+strings.ToUpper(addr.String())+`"`), &a); err == nil {
		t.Error("JSON address in upper case accepted")
	}
	b, _ := json.Marshal(struct {
		P PublicKey
		A Address
		H Hash
	}{pub, addr, h})
	want := `{"P":"` + pub.String() + `","A":"` + addr.String() + `","H":"` + h.String() + `"}`
	if string(b) != want {
		t.Fatalf("JSON = %s, want %s", b, want)
	}
	var back struct {
		P PublicKey
		A Address
		H Hash
	}
	if err := json.Unmarshal(b, &back); err != nil || back.P != pub || back.A != addr || back.H != h {
		t.Fatalf("JSON round trip: %v", err)
	}
	if !(Hash{}).IsZero() || h.IsZero() {
		t.Fatal("IsZero wrong")
	}
}

func TestSaveLoadKey(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "node.key")
	k := testKey(0x8c) // seed hex has letters, so its upper case differs
	if err := SaveKey(path, k); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v, want 0600", st.Mode().Perm())
	}
	got, err := LoadKey(path)
	if err != nil {
		t.Fatal(err)
	}
	if got.Public() != k.Public() || !bytes.Equal(got.Seed(), k.Seed()) {
		t.Fatal("loaded key differs from saved key")
	}
	msg := []byte("m")
	sig := got.Sign(DomainMsg, msg)
	if !Verify(k.Public(), DomainMsg, msg, sig[:]) {
		t.Fatal("loaded key signs differently")
	}

	orig, _ := os.ReadFile(path)
	var f map[string]string
	if err := json.Unmarshal(orig, &f); err != nil {
		t.Fatal(err)
	}
	other := testKey(9).Public()
	corrupt := map[string]func(m map[string]string){
		"seed changed":    func(m map[string]string) { m["seed"] = strings.Repeat("ab", SeedSize) },
		"seed short":      func(m map[string]string) { m["seed"] = m["seed"][:62] },
		"seed upper":      func(m map[string]string) { m["seed"] = strings.ToUpper(m["seed"]) },
		"seed not hex":    func(m map[string]string) { m["seed"] = strings.Repeat("zz", SeedSize) },
		"seed missing":    func(m map[string]string) { delete(m, "seed") },
		"public key":      func(m map[string]string) { m["public_key"] = other.String() },
		"address":         func(m map[string]string) { m["address"] = other.Address().String() },
		"address missing": func(m map[string]string) { delete(m, "address") },
	}
	for name, mutate := range corrupt {
		m := map[string]string{}
		for k, v := range f {
			m[k] = v
		}
		mutate(m)
		b, _ := json.Marshal(m)
		p := filepath.Join(dir, strings.ReplaceAll(name, " ", "_"))
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := LoadKey(p)
		var ke *KeyFileError
		if !errors.As(err, &ke) || !strings.Contains(err.Error(), p+" is not a Cairn key file") {
			t.Errorf("%s: want %q, got %v", name, p+" is not a Cairn key file", err)
		}
	}
	// Truncated file and missing file.
	p := filepath.Join(dir, "truncated")
	if err := os.WriteFile(p, orig[:len(orig)/2], 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadKey(p); err == nil || !strings.Contains(err.Error(), "is not a Cairn key file") {
		t.Errorf("truncated key file: %v", err)
	}
	// Any other file, e.g. a genesis or a signed transaction.
	p = filepath.Join(dir, "tx.json")
	if err := os.WriteFile(p, []byte(`{"chain_id": "x", "nonce": 1}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadKey(p); err == nil || err.Error() != p+` is not a Cairn key file (no "seed")` {
		t.Errorf("other JSON file: %v", err)
	}
	var ke *KeyFileError
	if _, err := LoadKey(filepath.Join(dir, "absent")); err == nil || errors.As(err, &ke) || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing key file: %v", err)
	}
}

func BenchmarkVerify(b *testing.B) {
	k := testKey(1)
	msg := make([]byte, 200)
	sig := k.Sign(DomainTx, msg)
	pub := k.Public()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if !Verify(pub, DomainTx, msg, sig[:]) {
			b.Fatal("bad")
		}
	}
}

func BenchmarkBatchVerify1000(b *testing.B) {
	const n = 1000
	pubs := make([]PublicKey, n)
	msgs := make([][]byte, n)
	sigs := make([][SignatureSize]byte, n)
	for i := range pubs {
		k := testKey(byte(i))
		pubs[i] = k.Public()
		msgs[i] = []byte{byte(i), byte(i >> 8)}
		sigs[i] = k.Sign(DomainTx, msgs[i])
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		bv := NewBatchVerifier(n)
		for j := range pubs {
			bv.Add(pubs[j], DomainTx, msgs[j], sigs[j][:])
		}
		if ok, _ := bv.Verify(); !ok {
			b.Fatal("bad")
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/sig")
}
