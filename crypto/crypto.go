// Package crypto holds Cairn's keys and signatures: Ed25519 with domain
// separation, so a signature made for one purpose (a transaction, a vote) can
// never be replayed as another, and batch verification for blocks.
//
// Invariant: single and batch verification accept exactly the same set of
// signatures. Both use ZIP-215 rules from curve25519-voi, which are defined so
// that batch and single verification agree; mixing stdlib verification with a
// batch verifier would let a crafted signature pass one and fail the other, and
// validators could then disagree about a block.
package crypto

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync"

	"github.com/oasisprotocol/curve25519-voi/curve"
	voi "github.com/oasisprotocol/curve25519-voi/primitives/ed25519"
)

// Sizes of keys, signatures and addresses in bytes.
const (
	PublicKeySize  = ed25519.PublicKeySize
	SignatureSize  = ed25519.SignatureSize
	SeedSize       = ed25519.SeedSize
	AddressSize    = 20
	HashSize       = sha256.Size
	maxDomainBytes = 64
)

// Signing domains. Each is prefixed to the message before signing; they
// differ in their text so no byte string is valid under two domains.
const (
	DomainTx   = "cairn/tx/v1"
	DomainVote = "cairn/vote/v1"
	DomainMsg  = "cairn/p2p/v1"
	// DomainProposal signs consensus block proposals.
	DomainProposal = "cairn/proposal/v1"
	// Payment fields (docs/payment-fields.md): a member's join, a co-signed
	// state commitment, a cooperative close, a payer's payment, and a
	// message between members on the field's channel.
	DomainFieldJoin    = "cairn/field/join/v1"
	DomainFieldState   = "cairn/field/state/v1"
	DomainFieldClose   = "cairn/field/settle/v1"
	DomainFieldPayment = "cairn/field/payment/v1"
	DomainFieldMsg     = "cairn/field/msg/v1"
	// DomainGovernance signs a governor's approval of a governance
	// transaction (types.ApprovalSignBytes).
	DomainGovernance = "cairn/gov/v1"
	// DomainStake signs a consensus key's consent to its registration as
	// a staking candidate by an operator (types.RegisterSignBytes).
	DomainStake = "cairn/stake/register/v1"
)

// PublicKey is an Ed25519 public key.
type PublicKey [PublicKeySize]byte

// Address is the account identifier derived from a public key: the first 20
// bytes of SHA-256(public key).
type Address [AddressSize]byte

// Hash is a SHA-256 digest.
type Hash [HashSize]byte

// Sum returns SHA-256(b).
func Sum(b []byte) Hash { return sha256.Sum256(b) }

func (h Hash) String() string { return hex.EncodeToString(h[:]) }

// IsZero reports whether h is all zero bytes.
func (h Hash) IsZero() bool { return h == Hash{} }

// MarshalText encodes the hash as lower-case hex.
func (h Hash) MarshalText() ([]byte, error) { return []byte(h.String()), nil }

// UnmarshalText decodes a 64-character hex hash.
func (h *Hash) UnmarshalText(b []byte) error { return decodeHexInto(h[:], string(b), "hash") }

// ParseHash decodes a hex-encoded hash.
func ParseHash(s string) (Hash, error) {
	var h Hash
	err := decodeHexInto(h[:], s, "hash")
	return h, err
}

func (p PublicKey) String() string { return hex.EncodeToString(p[:]) }

// Address returns the account address of p.
func (p PublicKey) Address() Address {
	s := sha256.Sum256(p[:])
	var a Address
	copy(a[:], s[:AddressSize])
	return a
}

// MarshalText encodes the key as lower-case hex.
func (p PublicKey) MarshalText() ([]byte, error) { return []byte(p.String()), nil }

// UnmarshalText decodes a 64-character hex public key.
func (p *PublicKey) UnmarshalText(b []byte) error {
	return decodeHexInto(p[:], string(b), "public key")
}

// ParsePublicKey decodes a hex-encoded public key.
func ParsePublicKey(s string) (PublicKey, error) {
	var p PublicKey
	err := decodeHexInto(p[:], s, "public key")
	return p, err
}

func (a Address) String() string { return hex.EncodeToString(a[:]) }

// MarshalText encodes the address as lower-case hex.
func (a Address) MarshalText() ([]byte, error) { return []byte(a.String()), nil }

// UnmarshalText decodes a 40-character hex address.
func (a *Address) UnmarshalText(b []byte) error { return decodeHexInto(a[:], string(b), "address") }

// ParseAddress decodes a hex-encoded address.
func ParseAddress(s string) (Address, error) {
	var a Address
	err := decodeHexInto(a[:], s, "address")
	return a, err
}

func decodeHexInto(dst []byte, s, what string) error {
	if len(s) != 2*len(dst) {
		return fmt.Errorf("%s: want %d hex characters, got %d", what, 2*len(dst), len(s))
	}
	if _, err := hex.Decode(dst, []byte(s)); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	// Only lower-case hex is canonical, so that one key has one spelling.
	if hex.EncodeToString(dst) != s {
		return fmt.Errorf("%s: must be lower-case hex", what)
	}
	return nil
}

// PrivateKey is an Ed25519 signing key.
type PrivateKey struct {
	key ed25519.PrivateKey
	pub PublicKey
}

// GenerateKey returns a new random key.
func GenerateKey() (*PrivateKey, error) {
	seed := make([]byte, SeedSize)
	if _, err := rand.Read(seed); err != nil {
		return nil, fmt.Errorf("generate key: %w", err)
	}
	return KeyFromSeed(seed)
}

// KeyFromSeed derives a key from a 32-byte seed (deterministic; used by tests
// and the simulator).
func KeyFromSeed(seed []byte) (*PrivateKey, error) {
	if len(seed) != SeedSize {
		return nil, fmt.Errorf("key seed: want %d bytes, got %d", SeedSize, len(seed))
	}
	k := ed25519.NewKeyFromSeed(seed)
	var pub PublicKey
	copy(pub[:], k[SeedSize:])
	return &PrivateKey{key: k, pub: pub}, nil
}

// MustKeyFromSeed is KeyFromSeed for test fixtures whose seed is a constant.
func MustKeyFromSeed(seed [SeedSize]byte) *PrivateKey {
	k, err := KeyFromSeed(seed[:])
	if err != nil {
		panic(err) // unreachable: the array has the right length
	}
	return k
}

// Public returns the public key.
func (k *PrivateKey) Public() PublicKey { return k.pub }

// Seed returns the 32-byte seed the key derives from.
func (k *PrivateKey) Seed() []byte { return k.key.Seed() }

// Std returns the key as a standard-library ed25519 key (for TLS certificates).
func (k *PrivateKey) Std() ed25519.PrivateKey { return k.key }

// Sign signs msg under domain.
func (k *PrivateKey) Sign(domain string, msg []byte) [SignatureSize]byte {
	var sig [SignatureSize]byte
	copy(sig[:], ed25519.Sign(k.key, SignBytes(domain, msg)))
	return sig
}

// SignRaw signs bytes that already carry their domain prefix (as returned
// by SignBytes or a type's SignBytes method).
func (k *PrivateKey) SignRaw(signBytes []byte) [SignatureSize]byte {
	var sig [SignatureSize]byte
	copy(sig[:], ed25519.Sign(k.key, signBytes))
	return sig
}

// SignBytes returns what is actually signed for msg under domain:
// len(domain) as one byte, the domain, then msg.
func SignBytes(domain string, msg []byte) []byte {
	if len(domain) > maxDomainBytes {
		panic("crypto: domain too long") // domains are package constants
	}
	b := make([]byte, 0, 1+len(domain)+len(msg))
	b = append(b, byte(len(domain)))
	b = append(b, domain...)
	return append(b, msg...)
}

var verifyOpts = &voi.Options{Verify: voi.VerifyOptionsZIP_215}

// Verify reports whether sig is pub's signature of msg under domain.
func Verify(pub PublicKey, domain string, msg, sig []byte) bool {
	if len(sig) != SignatureSize {
		return false
	}
	return VerifyRaw(pub, SignBytes(domain, msg), sig)
}

// VerifyRaw verifies a signature over bytes that already carry their domain
// prefix (as returned by SignBytes).
func VerifyRaw(pub PublicKey, signBytes, sig []byte) bool {
	if len(sig) != SignatureSize {
		return false
	}
	if ki := lookupKey(pub); ki.expanded != nil {
		return voi.VerifyExpandedWithOptions(ki.expanded, signBytes, sig, verifyOpts)
	}
	return voi.VerifyWithOptions(pub[:], signBytes, sig, verifyOpts)
}

// BatchVerifier verifies many signatures at once, about twice as fast per
// signature as one by one for large batches.
type BatchVerifier struct {
	v *voi.BatchVerifier
	n int
}

// NewBatchVerifier returns an empty batch with room for n signatures.
func NewBatchVerifier(n int) *BatchVerifier {
	return &BatchVerifier{v: voi.NewBatchVerifierWithCapacity(n)}
}

// Add queues pub's signature sig of msg under domain.
func (b *BatchVerifier) Add(pub PublicKey, domain string, msg, sig []byte) {
	b.AddRaw(pub, SignBytes(domain, msg), sig)
}

// AddRaw queues a signature over bytes that already carry their domain prefix.
func (b *BatchVerifier) AddRaw(pub PublicKey, signBytes, sig []byte) {
	if ki := lookupKey(pub); ki.expanded != nil {
		b.v.AddExpandedWithOptions(ki.expanded, signBytes, sig, verifyOpts)
	} else {
		b.v.AddWithOptions(pub[:], signBytes, sig, verifyOpts)
	}
	b.n++
}

// Len returns the number of queued signatures.
func (b *BatchVerifier) Len() int { return b.n }

// Verify checks every queued signature. ok is true when all are valid; valid
// reports each one in the order added.
func (b *BatchVerifier) Verify() (ok bool, valid []bool) {
	if b.n == 0 {
		return true, nil
	}
	return b.v.Verify(rand.Reader)
}

// keyFile is the on-disk form of a private key.
type keyFile struct {
	PublicKey PublicKey `json:"public_key"`
	Address   Address   `json:"address"`
	Seed      string    `json:"seed"`
}

// SaveKey writes k to path as JSON, readable only by its owner.
func SaveKey(path string, k *PrivateKey) error {
	b, err := json.MarshalIndent(keyFile{PublicKey: k.pub, Address: k.pub.Address(), Seed: hex.EncodeToString(k.Seed())}, "", "  ")
	if err != nil {
		return fmt.Errorf("encode key: %w", err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("write key %s: %w", path, err)
	}
	return nil
}

// KeyFileError says that a file could be read but is not a key file
// written by SaveKey (not JSON, no seed, or a seed that does not match the
// public key and address beside it).
type KeyFileError struct {
	Path string
	Err  error
}

func (e *KeyFileError) Error() string {
	return fmt.Sprintf("%s is not a Cairn key file (%v)", e.Path, e.Err)
}

func (e *KeyFileError) Unwrap() error { return e.Err }

// LoadKey reads a key written by SaveKey. A file that is not one is a
// *KeyFileError.
func LoadKey(path string) (*PrivateKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read key: %w", err)
	}
	var f keyFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, &KeyFileError{path, err}
	}
	if f.Seed == "" {
		return nil, &KeyFileError{path, errors.New("no \"seed\"")}
	}
	var seed [SeedSize]byte
	if err := decodeHexInto(seed[:], f.Seed, "seed"); err != nil {
		return nil, &KeyFileError{path, err}
	}
	k, err := KeyFromSeed(seed[:])
	if err != nil {
		return nil, &KeyFileError{path, err}
	}
	// The public key and address are redundant with the seed; a mismatch in
	// either means the file was damaged or edited, so refuse it rather than
	// sign as an identity the operator did not expect.
	if k.pub != f.PublicKey {
		return nil, &KeyFileError{path, errors.New("public key does not match seed")}
	}
	if k.pub.Address() != f.Address {
		return nil, &KeyFileError{path, errors.New("address does not match public key")}
	}
	return k, nil
}

// keyCache memoises per-key work: point decompression and the small-order
// check. Accounts sign many transactions, and decompressing a key costs
// several microseconds, a large share of verifying a signature in a batch.
// Bounded: cleared when it grows past maxCachedKeys.
var (
	keyMu    sync.Mutex
	keyCache = map[PublicKey]keyInfo{}
)

const maxCachedKeys = 1 << 18

type keyInfo struct {
	expanded *voi.ExpandedPublicKey // nil: not a curve point
	weak     bool
}

func lookupKey(p PublicKey) keyInfo {
	keyMu.Lock()
	ki, ok := keyCache[p]
	keyMu.Unlock()
	if ok {
		return ki
	}
	var c curve.CompressedEdwardsY
	copy(c[:], p[:])
	pt, err := curve.NewEdwardsPoint().SetCompressedY(&c)
	ki.weak = err != nil || pt.IsSmallOrder()
	if err == nil {
		ki.expanded, _ = voi.NewExpandedPublicKey(p[:])
	}
	keyMu.Lock()
	if len(keyCache) >= maxCachedKeys {
		clear(keyCache)
	}
	keyCache[p] = ki
	keyMu.Unlock()
	return ki
}

// SmallOrder reports whether p is not a usable signing key: it does not
// decode to a curve point, or the point has small order. ZIP-215 accepts
// signatures by such keys that anyone can forge (for the identity point,
// any message), so accounts with these keys must not be able to send.
func (p PublicKey) SmallOrder() bool { return lookupKey(p).weak }
