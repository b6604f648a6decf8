package txfixtures

import (
	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/merkle"
	"github.com/cairn-db/cairn/types"
)

// FieldDeposit is what the field samples lock from the sender.
const FieldDeposit uint64 = 100

// FieldPeer is the key of the second member of the sample field (it
// deposits nothing).
func FieldPeer() *crypto.PrivateKey { return Key(1001) }

// FieldID is the sample field's id for a sender.
func FieldID(sender crypto.PublicKey) crypto.Hash {
	return crypto.Sum(append([]byte("txfixtures field "), sender[:]...))
}

type fieldSamples struct {
	open       *types.FieldOpen
	unilateral *types.FieldCloseUnilateral
	challenge  *types.FieldChallenge
	dispute    *types.FieldDispute
	close      *types.FieldClose
}

// sampleField builds the sample field's life: two payments (0 pays 1 30,
// then 1 pays 0 10), the states after each, and the five transactions.
func sampleField(chainID string, k *crypto.PrivateKey) fieldSamples {
	keys := []*crypto.PrivateKey{k, FieldPeer()}
	terms := types.FieldTerms{FieldID: FieldID(k.Public()), Leader: k.Public(),
		Members:         []types.FieldMember{{Key: keys[0].Public(), Deposit: FieldDeposit}, {Key: keys[1].Public(), Deposit: 0}},
		ChallengePeriod: 10, Expiry: 1000, Penalty: 5}
	var out fieldSamples
	join := types.JoinSignBytes(chainID, &terms)
	out.open = &types.FieldOpen{FieldTerms: terms}
	for _, kk := range keys {
		out.open.Joins = append(out.open.Joins, kk.Sign(crypto.DomainFieldJoin, join))
	}
	pay := func(seq uint64, from, to uint16, amount uint64, bal []uint64) types.FieldPayment {
		return types.FieldPayment{Seq: seq, From: from, To: to, Amount: amount, PayerSeq: 1, Balances: bal,
			PayerSig: keys[from].Sign(crypto.DomainFieldPayment, types.PaymentSignBytes(chainID, terms.FieldID, from, to, amount, 1))}
	}
	p1 := pay(1, 0, 1, 30, []uint64{70, 30})
	p2 := pay(2, 1, 0, 10, []uint64{80, 20})
	leaves := []crypto.Hash{p1.LeafHash(), p2.LeafHash()}
	state := func(n uint64, bal []uint64) types.FieldStateClaim {
		root := merkle.RootOfHashes(leaves[:n])
		cm := types.Commitment(chainID, terms.FieldID, n, root, terms.MembersHash())
		c := types.FieldStateClaim{FieldID: terms.FieldID, State: n, Root: root, Balances: bal}
		for _, kk := range keys {
			c.Signatures = append(c.Signatures, kk.Sign(crypto.DomainFieldState, types.StateSignBytes(cm)))
		}
		return c
	}
	out.unilateral = &types.FieldCloseUnilateral{FieldStateClaim: state(1, []uint64{70, 30})}
	out.challenge = &types.FieldChallenge{FieldStateClaim: state(2, []uint64{FieldDeposit, 0})}
	proof, err := merkle.Prove(leaves, 1)
	if err != nil {
		panic(err) // two leaves: index 1 is in range
	}
	out.dispute = &types.FieldDispute{FieldID: terms.FieldID, Payment: p2, Proof: proof}
	c := state(2, []uint64{80, 20})
	cm := types.Commitment(chainID, terms.FieldID, 2, c.Root, terms.MembersHash())
	for i, kk := range keys {
		c.Signatures[i] = kk.Sign(crypto.DomainFieldClose, types.CloseSignBytes(cm, c.Balances))
	}
	out.close = &types.FieldClose{FieldStateClaim: c}
	return out
}
