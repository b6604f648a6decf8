package node

import (
	"time"

	"github.com/cairn-db/cairn/internal/consensus"
	"github.com/cairn-db/cairn/types"
)

// On a DPoS chain (docs/staking.md) a validator turns the double-vote
// evidence its own engine records into an evidence.submit transaction,
// signed with its consensus key: the chain then slashes and jails the
// validator that equivocated. The transaction pays no fee (types.FeeOf),
// so the key needs no balance; it goes through this node's mempool and
// gossip like any transaction. Several validators may submit the same
// piece; the chain punishes it once and the later ones fail with code
// bad_evidence, changing nothing. Both kinds are submitted: double votes
// and conflicting proposals.
//
// The nonce is the key's committed nonce plus one; when another of its
// transactions already holds that nonce in the mempool, the next few
// nonces are tried in turn.
const evidenceNonceTries = 8

// submitEvidence submits ev as an evidence.submit, off the caller's
// goroutine.
func (n *Node) submitEvidence(ev consensus.Evidence) {
	switch ev.(type) {
	case *consensus.DuplicateVote, *consensus.ConflictingProposal:
	default:
		return
	}
	if !n.genesis.Params.DPoS() || n.pool == nil || n.key == nil {
		return
	}
	k := ev.Key()
	if int(k.Validator) >= n.vals.Len() {
		return
	}
	offender := n.vals.Validators[k.Validator].PublicKey
	p := &types.EvidenceSubmit{Validator: offender, Evidence: ev.Encode()}
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		acct, err := n.ledger.Account(n.key.Public().Address())
		if err != nil {
			n.log.Error("evidence.submit: read own account", "err", err)
			return
		}
		var last error
		for i := uint64(1); i <= evidenceNonceTries; i++ {
			tx := &types.Tx{ChainID: n.genesis.ChainID, Nonce: acct.Nonce + i, Timestamp: time.Now().UnixMilli(), Payload: p}
			tx.Sign(n.key)
			if last = n.pool.Add(tx); last == nil {
				n.log.Info("submitted equivocation evidence", "offender", offender, "height", k.Height, "tx", tx.Hash())
				return
			}
		}
		n.log.Warn("evidence.submit refused by the mempool", "offender", offender, "height", k.Height, "err", last)
	}()
}
