package node

import (
	"fmt"

	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/internal/p2p"
	"github.com/cairn-db/cairn/types"
)

// Validator set changes on the node's side (docs/consensus.md, "Validator
// set changes"). The ledger knows the set of every height up to head+2;
// after each commit the run goroutine
//
//   - gives the engine the set of the height it enters (SetValidators),
//     which also decides whether this node votes there: a node whose key
//     is not in the set follows the chain through the engine's catch-up
//     without voting or proposing, and starts voting at the first height
//     whose set includes it (`cairn node --join`);
//   - updates the transport: admitted are the validators of the next two
//     heights and of the target (so a joining validator can connect and
//     catch up as soon as the change is committed, before it votes),
//     dialled are those of them whose address the node knows (its config's
//     peers, else the validator's ValidatorInfoKey in the state); a
//     validator in none of these sets is dropped.
//
// A key admitted but not in the current height's set is served blocks as a
// follower is (onFollowerMessage); none of its other messages count.

// refreshValidators runs after a commit (run goroutine).
func (n *Node) refreshValidators() error {
	vs := n.ledger.Validators()
	if vs.Hash() != n.vals.Hash() {
		if n.engine != nil {
			if err := n.engine.SetValidators(vs); err != nil {
				return fmt.Errorf("node: %w", err)
			}
		}
		was := n.vals.IndexOf(n.key.Public()) >= 0
		n.vals = vs
		n.self = vs.IndexOf(n.key.Public())
		n.evidenceGate.counts = make([]int, vs.Len())
		n.log.Info("validator set changed", "height", n.ledger.Head().Height+1, "validators", vs.Len(),
			"total_power", vs.TotalPower(), "set_hash", vs.Hash(), "voting", n.self >= 0)
		if now := n.self >= 0; now != was && !n.cfg.IsFollower() {
			if now {
				n.log.Info("this node is a validator from this height on: voting", "height", n.ledger.Head().Height+1)
			} else {
				n.log.Info("this node left the validator set: following without voting", "height", n.ledger.Head().Height+1)
			}
		}
	}
	n.updatePeers()
	return nil
}

// peerSets returns the validators to admit (sets of head+1 and head+2 and
// the target) and, of them, those to dial with their addresses.
func (n *Node) peerSets() (allowed []crypto.PublicKey, dial []p2p.Peer) {
	head := n.ledger.Head().Height
	seen := map[crypto.PublicKey]bool{}
	add := func(vals []types.Validator) {
		for _, v := range vals {
			if !seen[v.PublicKey] {
				seen[v.PublicKey] = true
				allowed = append(allowed, v.PublicKey)
			}
		}
	}
	for _, h := range []uint64{head + 1, head + 2} {
		if vs, err := n.ledger.ValidatorsAt(h); err == nil {
			add(vs.Validators)
		}
	}
	if raw, ok, err := n.ledger.Get(types.TargetValidatorsKey()); err == nil && ok {
		if target, err := types.DecodeValidators(raw); err == nil {
			add(target)
		}
	}
	if !seen[n.key.Public()] {
		// Not (yet) a validator: the configured peers are how this node
		// reaches the network (a joining node's NETWORK.json).
		for _, p := range n.cfg.Peers {
			if !seen[p.PublicKey] {
				seen[p.PublicKey] = true
				allowed = append(allowed, p.PublicKey)
			}
		}
	}
	configured := map[crypto.PublicKey]string{}
	for _, p := range n.cfg.Peers {
		configured[p.PublicKey] = p.Addr
	}
	for _, k := range allowed {
		addr := configured[k]
		if addr == "" {
			if raw, ok, err := n.ledger.Get(types.ValidatorInfoKey(k)); err == nil && ok {
				if info, err := types.DecodeValidatorInfo(raw); err == nil {
					addr = info.Addr
				}
			}
		}
		if addr != "" {
			dial = append(dial, p2p.Peer{PublicKey: k, Addr: addr})
		}
	}
	// Validators of earlier sets are still admitted, though no longer
	// dialled: one that left the set keeps following the chain as a
	// replica that does not vote, rather than being cut off mid-height.
	for _, c := range n.ledger.ValidatorChanges() {
		add(c.Set.Validators)
	}
	return allowed, dial
}

// updatePeers hands the transport the current peer sets when they changed.
func (n *Node) updatePeers() {
	allowed, dial := n.peerSets()
	sig := crypto.Sum(peerSignature(allowed, dial))
	if sig == n.peersSig {
		return
	}
	n.peersSig = sig
	n.candidates = map[crypto.PublicKey]bool{}
	for _, k := range allowed {
		n.candidates[k] = true
	}
	n.net.SetValidators(dial, allowed)
}

func peerSignature(allowed []crypto.PublicKey, dial []p2p.Peer) []byte {
	var b []byte
	for _, k := range allowed {
		b = append(b, k[:]...)
	}
	b = append(b, 0)
	for _, p := range dial {
		b = append(append(b, p.PublicKey[:]...), p.Addr...)
		b = append(b, 0)
	}
	return b
}

// isValidatorPeer reports whether k is a validator this node follows or
// may follow: in a set the ledger knows (from genesis on), or a configured
// peer.
func (n *Node) isValidatorPeer(k crypto.PublicKey) bool {
	if n.candidates[k] {
		return true
	}
	for _, c := range n.ledger.ValidatorChanges() {
		if c.Set.IndexOf(k) >= 0 {
			return true
		}
	}
	for _, p := range n.cfg.Peers {
		if p.PublicKey == k {
			return true
		}
	}
	return false
}
