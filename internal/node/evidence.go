package node

import (
	"fmt"
	"time"

	"github.com/cairn-db/cairn/internal/consensus"
	"github.com/cairn-db/cairn/internal/p2p"
	"github.com/cairn-db/cairn/internal/store"
)

// Evidence of misbehaviour (double votes, conflicting proposals) is stored
// once per (height, round, kind, validator) and gossiped on chEvidence, so
// that every validator holds what any one of them saw. A validator stores
// and forwards a piece it did not hold yet, after verifying its
// signatures; what a faulty peer can make it do is bounded:
//
//   - each message is at most consensus.MaxEvidenceEncoding bytes, and a
//     peer's messages beyond maxEvidencePerPeerSecond in a second, or
//     beyond the ingest queue, are dropped (counted);
//   - evidence is kept only for heights from maxEvidenceAge below this
//     validator's head to maxEvidenceAhead above it, and at most
//     maxEvidencePerValidatorHeight pieces per validator and height: one
//     proof of equivocation is enough to act on, and a faulty validator
//     that signs conflicting messages for every round cannot fill the disk.
const (
	maxEvidencePerPeerSecond      = 32
	maxEvidenceQueue              = 64
	maxEvidenceAge                = 10_000
	maxEvidenceAhead              = 64
	maxEvidencePerValidatorHeight = 4
)

// evidenceGate counts each peer's evidence messages in the current second.
// Only the consensus goroutine (onMessage) uses it.
type evidenceGate struct {
	second int64
	counts []int
}

func (g *evidenceGate) admit(from int, now time.Time) bool {
	if s := now.Unix(); s != g.second {
		g.second = s
		clear(g.counts)
	}
	if from < 0 || from >= len(g.counts) || g.counts[from] >= maxEvidencePerPeerSecond {
		return false
	}
	g.counts[from]++
	return true
}

func storeKey(k consensus.EvidenceKey) store.EvidenceKey {
	return store.EvidenceKey{Height: k.Height, Round: k.Round, Kind: uint8(k.Kind), Validator: k.Validator}
}

// recordEvidence stores evidence the engine observed and gossips it.
func (n *Node) recordEvidence(ev consensus.Evidence) {
	n.m.evidence.Inc()
	k := ev.Key()
	name := "?"
	if int(k.Validator) < n.vals.Len() {
		name = n.vals.Validators[k.Validator].Name
	}
	n.log.Warn("equivocation evidence", "validator", name, "height", k.Height, "round", k.Round, "kind", k.Kind.String())
	stored, err := n.storeEvidence(ev)
	if err != nil {
		n.log.Error("store evidence", "err", err)
		return
	}
	if stored && n.net != nil {
		n.net.Broadcast(chEvidence, ev.Encode())
	}
	if stored {
		n.submitEvidence(ev) // a DPoS chain punishes it (stakeevidence.go)
	}
}

// storeEvidence keeps ev unless it is outside the height window, already
// held, or over its validator's budget at that height. It reports whether
// ev was stored now.
func (n *Node) storeEvidence(ev consensus.Evidence) (bool, error) {
	k := ev.Key()
	head := n.ledger.Head().Height
	if k.Height > head+maxEvidenceAhead || k.Height+maxEvidenceAge < head {
		return false, nil
	}
	n.evidenceMu.Lock()
	defer n.evidenceMu.Unlock()
	st := n.ledger.Store()
	if has, err := st.HasEvidence(storeKey(k)); err != nil || has {
		return false, err
	}
	if c, err := st.CountEvidence(k.Height, k.Validator, maxEvidencePerValidatorHeight); err != nil || c >= maxEvidencePerValidatorHeight {
		return false, err
	}
	if err := n.ledger.RecordEvidence(storeKey(k), ev.Encode()); err != nil {
		return false, err
	}
	return true, nil
}

// evidenceIn admits evidence that peers gossiped, off the consensus
// goroutine (each piece costs two signature checks and a synced write).
func (n *Node) evidenceIn(done <-chan struct{}) {
	defer n.wg.Done()
	for {
		select {
		case <-done:
			return
		case m := <-n.evidenceQ:
			n.admitEvidence(m)
		}
	}
}

// admitEvidence verifies, stores and forwards one gossiped piece.
func (n *Node) admitEvidence(m p2p.Message) {
	result, err := n.admitEvidenceErr(m)
	n.m.evidenceGossip.WithLabelValues(result).Inc()
	if err != nil {
		n.log.Debug("gossiped evidence refused", "err", err)
	}
}

func (n *Node) admitEvidenceErr(m p2p.Message) (string, error) {
	if len(m.Payload) > consensus.MaxEvidenceEncoding {
		return "invalid", fmt.Errorf("evidence of %d bytes", len(m.Payload))
	}
	ev, err := consensus.DecodeEvidence(m.Payload)
	if err != nil {
		return "invalid", err
	}
	// Evidence is checked against the set of its own height.
	vs, err := n.ledger.ValidatorsAt(ev.Key().Height)
	if err != nil {
		return "invalid", err
	}
	if err := ev.Verify(n.genesis.ChainID, vs); err != nil {
		return "invalid", err
	}
	stored, err := n.storeEvidence(ev)
	if err != nil {
		return "error", err
	}
	if !stored {
		return "ignored", nil
	}
	n.m.evidence.Inc()
	n.net.Broadcast(chEvidence, m.Payload) // peers that hold it ignore it
	return "stored", nil
}
