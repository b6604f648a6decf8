package sim

// Lies aimed at catch-up: a Byzantine validator that claims heights it
// does not have, answers block requests with blocks that must not be
// committed, and signs votes for rounds and heights far ahead. Each lie is
// something a real peer can send over the wire; an honest validator must
// neither commit a bad block, nor stall chasing a false height, nor hold
// more than its documented bounds because of it.

import (
	"math"

	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/internal/consensus"
	"github.com/cairn-db/cairn/merkle"
	"github.com/cairn-db/cairn/types"
)

// lies reports whether nd tells lie (its behaviour, or Liar for all).
func lies(nd *replica, lie string) bool { return nd.behaviour == lie || nd.behaviour == Liar }

func isLiar(b string) bool {
	return b == FalseHeight || b == BadBlocks || b == FutureVotes || b == Liar
}

// lie sends m, rewritten or accompanied by lies.
func (a *adversary) lie(nd *replica, targets []int, m consensus.Message) {
	s := a.s
	if st, ok := m.(*consensus.Status); ok && lies(nd, FalseHeight) {
		m = &consensus.Status{Height: a.falseHeight(nd), Round: st.Round}
	}
	s.transmit(nd.id, targets, m)
	if lies(nd, FalseHeight) && s.rng.IntN(3) == 0 {
		// Repeat the claim often, so that it is never forgotten for
		// being stale: only the refusal to serve should discredit it.
		s.transmit(nd.id, targets, &consensus.Status{Height: a.falseHeight(nd), Round: uint32(s.rng.IntN(4))})
	}
	if v, ok := m.(*consensus.VoteMessage); ok && lies(nd, FutureVotes) && int(v.Vote.Validator) == nd.id {
		a.futureVotes(nd, targets, v.Vote)
	}
	if lies(nd, BadBlocks) && s.rng.IntN(4) == 0 {
		// Unsolicited: a bad block for a height the target is about to
		// need, so that it may sit in the target's fetch window.
		for _, t := range targets {
			if s.nodes[t].role != byzantine {
				a.sendBadBlock(nd, t, s.nodes[t].height()+1+uint64(s.rng.IntN(3)))
			}
		}
	}
}

// falseHeight is a committed height nd does not have: a little ahead
// (inside a catch-up window), far ahead, or at the very top.
func (a *adversary) falseHeight(nd *replica) uint64 {
	s := a.s
	switch s.rng.IntN(3) {
	case 0:
		return nd.height() + 1 + uint64(s.rng.IntN(8))
	case 1:
		return nd.height() + 100 + uint64(s.rng.IntN(1_000_000))
	default:
		return math.MaxUint64 - uint64(s.rng.IntN(2))
	}
}

// futureVotes signs votes like v for far rounds of its height, a burst for
// the next height (which peers buffer before verifying), and votes for far
// heights (which claim those heights).
func (a *adversary) futureVotes(nd *replica, targets []int, v types.Vote) {
	s := a.s
	send := func(h uint64, r uint32) {
		w := types.SignVote(nd.key, ChainID, v.Type, h, r, v.BlockHash, uint16(nd.id))
		s.transmit(nd.id, targets, &consensus.VoteMessage{Vote: w})
	}
	send(v.Height, v.Round+5+uint32(s.rng.IntN(1000)))
	send(v.Height, math.MaxUint32-uint32(s.rng.IntN(3)))
	if s.rng.IntN(4) == 0 {
		for k := 0; k < 12; k++ {
			send(v.Height+1, uint32(s.rng.IntN(1<<20)))
		}
	}
	send(v.Height+2+uint64(s.rng.IntN(1_000_000)), uint32(s.rng.IntN(3)))
}

// serveBad answers a block request with a bad block.
func (a *adversary) serveBad(nd *replica, sv consensus.ServeRequest) {
	a.sendBadBlock(nd, sv.To, sv.Height)
}

// sendBadBlock sends to a block response for height h that must be
// refused: the wrong height, a block its certificate does not certify, a
// forged or short certificate, tampered transactions, a fabricated block,
// or bytes that do not decode.
func (a *adversary) sendBadBlock(nd *replica, to int, h uint64) {
	s := a.s
	if h == 0 {
		h = 1
	}
	var blk *types.Block
	var cert *types.Certificate
	if h <= nd.height() {
		blk, cert = nd.chain[h-1], nd.certs[h-1]
	} else {
		blk, cert = a.fabricate(nd, h)
	}
	switch s.rng.IntN(7) {
	case 0: // another height's block, correctly certified for that height
		if h >= 2 && h-1 <= nd.height() {
			blk, cert = nd.chain[h-2], nd.certs[h-2]
		} else {
			blk, cert = a.fabricate(nd, h+1)
		}
	case 1: // a block its certificate does not certify
		alt := *blk
		alt.Header.Time++
		blk = &alt
	case 2: // a forged signature
		c := *cert
		c.Sigs = append([]types.CommitSig(nil), cert.Sigs...)
		if len(c.Sigs) > 0 {
			c.Sigs[s.rng.IntN(len(c.Sigs))].Signature[s.rng.IntN(crypto.SignatureSize)] ^= 1
		}
		cert = &c
	case 3: // the block is fine, the certificate is for another height
		c := *cert
		c.Height = h + 1
		cert = &c
	case 4: // a tampered transaction list under the original header
		if len(blk.Txs) > 0 {
			src := blk.Txs[0]
			forged := &types.Tx{ChainID: src.ChainID, Sender: src.Sender, Nonce: src.Nonce + 7,
				Timestamp: src.Timestamp, Payload: src.Payload, Signature: src.Signature}
			txs := append([]*types.Tx{forged}, blk.Txs[1:]...)
			// The wire decoder itself refuses a tx list that does not
			// match its header's root: send the bytes as they are.
			s.transmitRaw(nd.id, to, consensus.Encode(&consensus.BlockResponse{
				Block: &types.Block{Header: blk.Header, Txs: txs, LastCommit: blk.LastCommit}, Cert: cert}))
			return
		} else {
			blk, cert = a.fabricate(nd, h)
		}
	case 5: // fabricated: a fresh block certified by the liar alone
		blk, cert = a.fabricate(nd, h)
	default: // bytes that do not decode, or a bit-flipped valid answer
		b := consensus.Encode(&consensus.BlockResponse{Block: blk, Cert: cert})
		if s.rng.IntN(2) == 0 {
			b = make([]byte, 1+s.rng.IntN(300))
			for i := range b {
				b[i] = byte(s.rng.Uint32())
			}
			b[0] = byte(consensus.MsgBlockResponse)
		} else {
			for k := 0; k < 1+s.rng.IntN(3); k++ {
				b[s.rng.IntN(len(b))] ^= byte(1 << s.rng.IntN(8))
			}
		}
		s.transmitRaw(nd.id, to, b)
		return
	}
	s.transmit(nd.id, []int{to}, &consensus.BlockResponse{Block: blk, Cert: cert})
}

// fabricate makes a well-formed block for height h (linked to nd's tip
// when h is the next height) with a certificate signed by nd alone, which
// holds less than a quorum of power.
func (a *adversary) fabricate(nd *replica, h uint64) (*types.Block, *types.Certificate) {
	s := a.s
	var parent crypto.Hash
	if h == nd.height()+1 && h >= 2 {
		parent = nd.chain[h-2].Hash()
	} else {
		parent = crypto.Sum([]byte{byte(s.rng.Uint32()), 3})
	}
	b := &types.Block{Header: types.Header{ChainID: ChainID, Height: h, Time: s.ms(), Proposer: nd.key.Public(),
		ParentHash: parent, ValidatorsHash: s.vs.Hash()}}
	b.Header.TxRoot = merkle.RootOfHashes(nil)
	b.Header.StateRoot = stateRoot(nd.stateRoot(), b.Header.TxRoot)
	v := types.SignVote(nd.key, ChainID, types.Precommit, h, 0, b.Hash(), uint16(nd.id))
	return b, types.NewCertificate(h, 0, b.Hash(), []types.Vote{v})
}
