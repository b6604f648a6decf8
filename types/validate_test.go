package types

import (
	"errors"
	"testing"

	"github.com/cairn-db/cairn/crypto"
)

// TestSmallOrderSenderRefused: under ZIP-215 the identity point "verifies"
// a trivial signature for any message, so an account with that key could be
// spent by anyone. Such senders are refused before any signature check.
func TestSmallOrderSenderRefused(t *testing.T) {
	var identity crypto.PublicKey
	identity[0] = 1 // y = 1, x = 0: the identity point
	var sig [crypto.SignatureSize]byte
	sig[0] = 1 // R = identity, S = 0
	tx := &Tx{ChainID: "c", Sender: identity, Nonce: 1, Timestamp: 1, Payload: &Transfer{To: crypto.Address{1}, Amount: 5}, Signature: sig}
	if err := tx.VerifySignature(); err != nil {
		t.Logf("signature rejected by verifier too: %v", err)
	}
	err := ValidateTxStateless(tx, "c", DefaultParams(), true)
	if !errors.Is(err, ErrBadSignature) {
		t.Fatalf("small-order sender: %v", err)
	}
	k, _ := crypto.KeyFromSeed(make([]byte, 32))
	if k.Public().SmallOrder() {
		t.Fatal("an ordinary key reported as small order")
	}
}
