package consensus

import (
	"errors"
	"testing"

	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/types"
)

func TestCommitsWithVerifiableCertificates(t *testing.T) {
	for _, n := range []int{1, 4, 7} {
		h := newHarness(t, n, testCut())
		for k := 0; k < 5; k++ {
			h.submit(testTx(t, uint64(k*3+1)), testTx(t, uint64(k*3+2)), testTx(t, uint64(k*3+3)))
			want := k + 1
			h.run(h.now+10_000, func() bool { return h.minHeight() >= want })
		}
		if h.minHeight() < 5 {
			t.Fatalf("n=%d: committed %d heights, want 5", n, h.minHeight())
		}
		h.checkAgreement()
		seen := map[crypto.Hash]bool{}
		for _, c := range h.chains[0] {
			if c.Cert.Round != 0 {
				t.Errorf("n=%d: height %d decided in round %d on a perfect network", n, c.Block.Header.Height, c.Cert.Round)
			}
			for _, tx := range c.Block.Txs {
				if seen[tx.Hash()] {
					t.Fatalf("n=%d: tx committed twice", n)
				}
				seen[tx.Hash()] = true
			}
		}
		if len(seen) != 15 {
			t.Fatalf("n=%d: committed %d distinct txs, want 15", n, len(seen))
		}
	}
}

func TestIdleChainIsSilent(t *testing.T) {
	h := newHarness(t, 4, testCut())
	h.run(60_000, nil)
	if h.q.Len() != 0 {
		t.Fatalf("idle chain still has %d events queued", h.q.Len())
	}
	// Start announces each validator's status once; after that nothing.
	if h.sent != 4*3 || h.timers != 0 {
		t.Fatalf("idle chain sent %d messages and set %d timers, want 12 status messages and no timers", h.sent, h.timers)
	}
	if h.minHeight() != 0 {
		t.Fatalf("idle chain committed %d blocks", h.minHeight())
	}
	sent := h.sent
	h.submit(testTx(t, 1))
	h.run(h.now+10_000, func() bool { return h.minHeight() >= 1 })
	if h.minHeight() != 1 {
		t.Fatal("a pending tx was not committed")
	}
	h.run(h.now+60_000, nil)
	if h.q.Len() != 0 || h.minHeight() != 1 {
		t.Fatalf("after committing the only tx: %d events queued, height %d", h.q.Len(), h.minHeight())
	}
	// One height: a proposal, a prevote and a precommit from each to each.
	if got := h.sent - sent; got != 3+4*3*2 {
		t.Errorf("one height took %d messages, want %d", got, 3+4*3*2)
	}
}

func TestEmptyBlockInterval(t *testing.T) {
	cut := testCut()
	cut.EmptyBlockInterval = 200
	h := newHarness(t, 4, cut)
	h.run(5_000, func() bool { return h.minHeight() >= 3 })
	if h.minHeight() < 3 {
		t.Fatalf("with an empty-block interval, committed %d blocks", h.minHeight())
	}
	if n := len(h.chains[0][0].Block.Txs); n != 0 {
		t.Fatalf("empty block has %d txs", n)
	}
	h.checkAgreement()
}

func TestMaxTxsCutsAtOnce(t *testing.T) {
	cut := testCut()
	cut.MaxDelay = 1_000_000 // never by delay
	h := newHarness(t, 4, cut)
	var txs []*types.Tx
	for i := 1; i <= cut.MaxTxs; i++ {
		txs = append(txs, testTx(t, uint64(i)))
	}
	h.submit(txs[:cut.MaxTxs-1]...)
	h.run(10_000, nil)
	if h.minHeight() != 0 {
		t.Fatal("proposer cut a block below max txs before max delay")
	}
	h.submit(txs[cut.MaxTxs-1])
	h.run(h.now+10_000, func() bool { return h.minHeight() >= 1 })
	if h.minHeight() != 1 || len(h.chains[0][0].Block.Txs) != cut.MaxTxs {
		t.Fatalf("at max txs: height %d", h.minHeight())
	}
}

func TestSilentProposerIsSkipped(t *testing.T) {
	h := newHarness(t, 4, testCut())
	silent := h.vs.Proposer(1, 0)
	h.drop = func(from, to int, m Message) bool { return from == silent }
	h.submit(testTx(t, 1))
	h.run(10_000, func() bool { return len(h.chains[(silent+1)%4]) >= 1 })
	c := h.chains[(silent+1)%4]
	if len(c) < 1 {
		t.Fatal("validators did not move past a silent proposer")
	}
	if c[0].Cert.Round == 0 || c[0].Block.Header.Proposer == h.keys[silent].Public() {
		t.Fatalf("height 1 decided in round %d by the silent proposer", c[0].Cert.Round)
	}
	h.checkAgreement()
}

func TestLaggingValidatorCatchesUp(t *testing.T) {
	h := newHarness(t, 4, testCut())
	h.drop = func(from, to int, m Message) bool { return from == 3 || to == 3 }
	for k := 1; k <= 5; k++ {
		h.submit(testTx(t, uint64(k)))
		want := k
		h.run(h.now+10_000, func() bool { return len(h.chains[0]) >= want })
	}
	if len(h.chains[3]) != 0 || len(h.chains[0]) != 5 {
		t.Fatalf("setup: node 3 at %d, node 0 at %d", len(h.chains[3]), len(h.chains[0]))
	}
	h.drop = nil
	h.submit(testTx(t, 100))
	h.run(h.now+20_000, func() bool { return len(h.chains[3]) >= 6 })
	if len(h.chains[3]) < 6 {
		t.Fatalf("node 3 caught up to %d, want 6", len(h.chains[3]))
	}
	h.checkAgreement()
	fetched := 0
	for _, c := range h.chains[3][:5] {
		if c.CatchUp {
			fetched++
		}
	}
	if fetched == 0 {
		t.Fatal("node 3 committed no block through catch-up")
	}
}

func TestCatchUpRejectsBadCertificate(t *testing.T) {
	h := newHarness(t, 4, testCut())
	h.submit(testTx(t, 1))
	h.run(10_000, func() bool { return h.minHeight() >= 1 })
	good := h.chains[0][0]

	e, err := New(h.config(3), StartPoint{})
	if err != nil {
		t.Fatal(err)
	}
	e.Start(h.now)
	// A certificate with a quorum of signatures, one of them forged.
	forged := *good.Cert
	forged.Sigs = append([]types.CommitSig(nil), good.Cert.Sigs...)
	forged.Sigs[0].Signature[5] ^= 1
	// A certificate signed by too few validators.
	short := *good.Cert
	short.Sigs = good.Cert.Sigs[:1]
	for _, c := range []*types.Certificate{&forged, &short} {
		e.Step(h.now, Receive{From: 0, Msg: &Status{Height: 1}})
		rd := e.Step(h.now, Receive{From: 0, Msg: &BlockResponse{Block: good.Block, Cert: c}})
		if len(rd.Commits) != 0 {
			t.Fatal("committed a block with a bad certificate")
		}
	}
	if e.Stats().BadCatchUp != 2 {
		t.Fatalf("BadCatchUp = %d, want 2", e.Stats().BadCatchUp)
	}
	rd := e.Step(h.now, Receive{From: 0, Msg: &BlockResponse{Block: good.Block, Cert: good.Cert}})
	if len(rd.Commits) != 1 || !rd.Commits[0].CatchUp || e.Height() != 2 {
		t.Fatal("did not commit a block with a good certificate")
	}
}

// A block response from a peer that was not asked for that height is
// dropped: a junk block sent ahead of the honest answer must not take the
// height's slot (before, it did, the honest answer was then dropped as a
// duplicate, and catch-up stalled at that height until a re-request).
func TestCatchUpIgnoresUnsolicitedBlocks(t *testing.T) {
	h := newHarness(t, 4, testCut())
	for k := 1; k <= 2; k++ {
		h.submit(testTx(t, uint64(k)))
		want := k
		h.run(h.now+10_000, func() bool { return h.minHeight() >= want })
	}
	b1, b2 := h.chains[0][0], h.chains[0][1]
	e, err := New(h.config(3), StartPoint{})
	if err != nil {
		t.Fatal(err)
	}
	e.Start(h.now)
	rd := e.Step(h.now, Receive{From: 0, Msg: &Status{Height: 2}})
	if got := requestsOf(rd)[0]; len(got) != 2 {
		t.Fatalf("want requests for heights 1 and 2 to peer 0, got %v", requestsOf(rd))
	}
	forged := *b2.Cert
	forged.Sigs = append([]types.CommitSig(nil), b2.Cert.Sigs...)
	forged.Sigs[0].Signature[5] ^= 1
	// Peer 2 was not asked: neither its junk nor a good block of its is taken.
	e.Step(h.now, Receive{From: 2, Msg: &BlockResponse{Block: b2.Block, Cert: &forged}})
	e.Step(h.now, Receive{From: 2, Msg: &BlockResponse{Block: b1.Block, Cert: b1.Cert}})
	if st := e.Stats(); st.Unsolicited != 2 || e.Height() != 1 {
		t.Fatalf("unsolicited responses: Unsolicited = %d, height %d; want 2 and 1", st.Unsolicited, e.Height())
	}
	e.Step(h.now, Receive{From: 0, Msg: &BlockResponse{Block: b2.Block, Cert: b2.Cert}})
	e.Step(h.now, Receive{From: 0, Msg: &BlockResponse{Block: b1.Block, Cert: b1.Cert}})
	e.Step(h.now, Receive{From: 0, Msg: &Status{Height: 2}}) // the step after a commit applies the next fetched block
	if e.Height() != 3 {
		t.Fatalf("height %d after the asked peer's answers, want 3 (BadCatchUp %d)", e.Height(), e.Stats().BadCatchUp)
	}
}

// proposalFor builds and signs a valid proposal for (height 1, round) from
// its proposer.
func proposalFor(h *harness, round uint32, nonce uint64) *Proposal {
	p := h.vs.Proposer(1, round)
	req := &BuildRequest{Height: 1, Round: round, Proposer: h.keys[p].Public(), ValidatorsHash: h.vs.Hash(), Time: 1000, MaxTxs: 10}
	b := buildBlock(req, []*types.Tx{testTx(h.t, nonce)})
	return SignProposal(h.keys[p], testChain, 1, round, -1, b)
}

func votesOf(rd Ready) []types.Vote {
	var vs []types.Vote
	for _, m := range rd.Messages {
		if v, ok := m.Msg.(*VoteMessage); ok {
			vs = append(vs, v.Vote)
		}
	}
	return vs
}

func TestRestartNeverSignsAConflictingVote(t *testing.T) {
	h := newHarness(t, 4, testCut())
	me := (h.vs.Proposer(1, 0) + 1) % 4
	e := h.engines[me]
	a, b := proposalFor(h, 0, 1), proposalFor(h, 0, 2) // an equivocating proposer
	rd := e.Step(10, Receive{From: h.vs.Proposer(1, 0), Msg: a})
	vs := votesOf(rd)
	if len(vs) != 1 || vs[0].BlockHash != a.BlockHash() || vs[0].Type != types.Prevote {
		t.Fatalf("want one prevote for A, got %+v", vs)
	}
	if len(rd.WAL) != 1 || rd.WAL[0].Kind != RecordVote {
		t.Fatalf("prevote not in the WAL: %+v", rd.WAL)
	}
	// Restart from the WAL (through its encoding) and show it B first.
	var recs []WALRecord
	for _, r := range rd.WAL {
		got, err := DecodeWALRecord(r.Encode())
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, got)
	}
	e2, err := New(h.config(me), StartPoint{WAL: recs})
	if err != nil {
		t.Fatal(err)
	}
	start := e2.Start(20)
	if v := votesOf(start); len(v) != 1 || v[0] != vs[0] {
		t.Fatalf("restart did not re-send the signed prevote: %+v", v)
	}
	rd = e2.Step(30, Receive{From: h.vs.Proposer(1, 0), Msg: b})
	for _, v := range votesOf(rd) {
		if v.Type == types.Prevote && v.Round == 0 && v.BlockHash != a.BlockHash() {
			t.Fatal("restarted validator signed a second, different prevote")
		}
	}
	// Its propose timeout must not produce a nil prevote either.
	rd = e2.Step(10_000, Timeout{Timer: Timer{Kind: TimerPropose, Height: 1, Round: 0, At: 10_000}})
	for _, v := range votesOf(rd) {
		if v.Type == types.Prevote && v.Round == 0 && v != vs[0] {
			t.Fatal("restarted validator prevoted again after a timeout")
		}
	}
}

func TestLockSurvivesRestart(t *testing.T) {
	h := newHarness(t, 4, testCut())
	me := 0 // not the proposer of round 0 or 1
	for me == h.vs.Proposer(1, 0) || me == h.vs.Proposer(1, 1) {
		me++
	}
	e := h.engines[me]
	a := proposalFor(h, 0, 1)
	var wal []WALRecord
	rd := e.Step(10, Receive{From: h.vs.Proposer(1, 0), Msg: a})
	wal = append(wal, rd.WAL...)
	// Two more prevotes for A: a quorum of 3 with ours; we lock and precommit.
	for _, i := range []int{(me + 1) % 4, (me + 2) % 4} {
		v := types.SignVote(h.keys[i], testChain, types.Prevote, 1, 0, a.BlockHash(), uint16(i))
		rd = e.Step(11, Receive{From: i, Msg: &VoteMessage{Vote: v}})
		wal = append(wal, rd.WAL...)
	}
	var locked, precommitted bool
	for _, r := range wal {
		locked = locked || (r.Kind == RecordLock && r.Block.Hash() == a.BlockHash())
		precommitted = precommitted || (r.Kind == RecordVote && r.Vote.Type == types.Precommit && r.Vote.BlockHash == a.BlockHash())
	}
	if !locked || !precommitted {
		t.Fatalf("want a lock record and a precommit for A, got %+v", wal)
	}
	e2, err := New(h.config(me), StartPoint{WAL: wal})
	if err != nil {
		t.Fatal(err)
	}
	e2.Start(20)
	// Round 1: a new proposal without proof of lock. A locked validator
	// prevotes nil.
	var rd2 Ready
	for _, i := range []int{(me + 1) % 4, (me + 2) % 4} {
		v := types.SignVote(h.keys[i], testChain, types.Precommit, 1, 1, crypto.Hash{}, uint16(i))
		e2.Step(30, Receive{From: i, Msg: &VoteMessage{Vote: v}}) // f+1 in round 1: skip there
	}
	if e2.Round() != 1 {
		t.Fatalf("f+1 messages of round 1 did not move the validator there (round %d)", e2.Round())
	}
	b := proposalFor(h, 1, 2)
	rd2 = e2.Step(31, Receive{From: h.vs.Proposer(1, 1), Msg: b})
	vs := votesOf(rd2)
	if len(vs) != 1 || vs[0].Type != types.Prevote || !vs[0].BlockHash.IsZero() {
		t.Fatalf("locked validator should prevote nil on a new block, got %+v", vs)
	}
}

func TestDuplicateVoteIsEvidence(t *testing.T) {
	h := newHarness(t, 4, testCut())
	e := h.engines[0]
	a := types.SignVote(h.keys[2], testChain, types.Prevote, 1, 0, crypto.Sum([]byte("a")), 2)
	b := types.SignVote(h.keys[2], testChain, types.Prevote, 1, 0, crypto.Sum([]byte("b")), 2)
	e.Step(1, Receive{From: 2, Msg: &VoteMessage{Vote: a}})
	rd := e.Step(2, Receive{From: 3, Msg: &VoteMessage{Vote: b}}) // forwarded by someone else
	if len(rd.Evidence) != 1 {
		t.Fatalf("want 1 evidence, got %d", len(rd.Evidence))
	}
	if err := rd.Evidence[0].Verify(testChain, h.vs); err != nil {
		t.Fatal(err)
	}
	rd = e.Step(3, Receive{From: 2, Msg: &VoteMessage{Vote: b}})
	if len(rd.Evidence) != 0 {
		t.Fatal("same equivocation reported twice")
	}
	forged := b
	forged.BlockHash = crypto.Sum([]byte("c"))
	rd = e.Step(4, Receive{From: 2, Msg: &VoteMessage{Vote: forged}})
	if len(rd.Evidence) != 0 || e.Stats().BadSignature != 1 {
		t.Fatalf("forged vote: evidence %d, bad signatures %d", len(rd.Evidence), e.Stats().BadSignature)
	}
}

func TestBadMessagesAreDroppedAndCounted(t *testing.T) {
	h := newHarness(t, 4, testCut())
	me := (h.vs.Proposer(1, 0) + 1) % 4
	e := h.engines[me]
	good := proposalFor(h, 0, 1)
	notProposer := (h.vs.Proposer(1, 0) + 2) % 4

	// Signed by a validator that is not the round's proposer.
	wrong := SignProposal(h.keys[notProposer], testChain, 1, 0, -1, good.Block)
	// For another chain.
	other := *good.Block
	other.Header.ChainID = "other-chain"
	otherChain := SignProposal(h.keys[h.vs.Proposer(1, 0)], "other-chain", 1, 0, -1, &other)
	// A vote with a broken signature.
	bad := types.SignVote(h.keys[notProposer], testChain, types.Prevote, 1, 0, good.BlockHash(), uint16(notProposer))
	bad.Signature[0] ^= 1
	// A vote signed for another chain.
	foreign := types.SignVote(h.keys[notProposer], "other-chain", types.Prevote, 1, 0, good.BlockHash(), uint16(notProposer))
	// A vote naming a validator that does not exist.
	ghost := types.SignVote(h.keys[notProposer], testChain, types.Prevote, 1, 0, good.BlockHash(), 99)

	for _, m := range []Message{wrong, otherChain, &VoteMessage{Vote: bad}, &VoteMessage{Vote: foreign}, &VoteMessage{Vote: ghost}} {
		rd := e.Step(1, Receive{From: notProposer, Msg: m})
		if len(votesOf(rd)) != 0 {
			t.Fatalf("validator reacted to a bad %s", m.Type())
		}
	}
	s := e.Stats()
	if s.WrongProposer != 1 || s.WrongChain != 1 || s.BadSignature != 2 || s.Malformed != 1 {
		t.Fatalf("stats %+v", s)
	}
}

func TestInvalidBlockIsNotPrevoted(t *testing.T) {
	h := newHarness(t, 4, testCut())
	me := (h.vs.Proposer(1, 0) + 1) % 4
	p := proposalFor(h, 0, 1)
	h.apps[me].reject[p.BlockHash()] = true
	rd := h.engines[me].Step(1, Receive{From: h.vs.Proposer(1, 0), Msg: p})
	vs := votesOf(rd)
	if len(vs) != 1 || !vs[0].BlockHash.IsZero() {
		t.Fatalf("want a nil prevote for an invalid block, got %+v", vs)
	}
	// A block the engine itself can judge: wrong parent.
	req := &BuildRequest{Height: 1, Round: 1, Proposer: h.keys[h.vs.Proposer(1, 1)].Public(), ValidatorsHash: h.vs.Hash(), ParentHash: crypto.Sum([]byte("x")), MaxTxs: 10}
	if err := h.engines[me].checkBlock(buildBlock(req, nil)); err == nil {
		t.Fatal("block with a wrong parent passed checkBlock")
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	h := newHarness(t, 4, testCut())
	c := h.config(0)
	c.Cut.MaxTxs = 0
	if _, err := New(c, StartPoint{}); err == nil {
		t.Fatal("accepted max txs 0")
	}
	// A WAL vote of another validator is refused, not silently trusted.
	v := types.SignVote(h.keys[1], testChain, types.Prevote, 1, 0, crypto.Hash{}, 1)
	if _, err := New(h.config(0), StartPoint{WAL: []WALRecord{{Kind: RecordVote, Height: 1, Vote: v}}}); err == nil {
		t.Fatal("accepted another validator's vote in the WAL")
	}
}

func TestDecodeErrorsWrapErrMalformed(t *testing.T) {
	for _, b := range [][]byte{nil, {0}, {9}, {byte(MsgStatus), 1}, {byte(MsgVote), 1, 2}} {
		if _, err := Decode(b); !errors.Is(err, ErrMalformed) {
			t.Errorf("Decode(%x) = %v, want ErrMalformed", b, err)
		}
	}
}

func requestsOf(rd Ready) map[int][]uint64 {
	out := map[int][]uint64{}
	for _, m := range rd.Messages {
		if r, ok := m.Msg.(*BlockRequest); ok {
			out[m.To] = append(out[m.To], r.Height)
		}
	}
	return out
}

func TestCatchUpForgetsUnansweredClaims(t *testing.T) {
	h := newHarness(t, 4, testCut())
	e := h.engines[0]
	// Peer 1 claims height 5 and never answers.
	rd := e.Step(1000, Receive{From: 1, Msg: &Status{Height: 5}})
	if got := requestsOf(rd)[1]; len(got) != 5 || got[0] != 1 {
		t.Fatalf("want requests for heights 1..5 to peer 1, got %v", requestsOf(rd))
	}
	var tick Timer
	for _, tm := range rd.Timers {
		if tm.Kind == TimerTick {
			tick = tm
		}
	}
	if tick.Kind == 0 {
		t.Fatal("no tick armed while catching up")
	}
	rd = e.Step(tick.At, Timeout{Timer: tick})
	if len(requestsOf(rd)) != 0 {
		t.Fatalf("kept asking a peer that never answered: %v", requestsOf(rd))
	}
	// An honest peer that claims height 1 is asked at once.
	rd = e.Step(tick.At+1, Receive{From: 2, Msg: &Status{Height: 1}})
	if got := requestsOf(rd)[2]; len(got) != 1 || got[0] != 1 {
		t.Fatalf("want a request for height 1 to peer 2, got %v", requestsOf(rd))
	}
}

// TestIdleLaggardCatchesUpOnPeerConnected: a validator that missed blocks
// and rejoins an idle chain hears nothing (idle engines are silent); the
// driver's PeerConnected makes it announce itself, the peers answer, and it
// catches up without any new transaction.
func TestIdleLaggardCatchesUpOnPeerConnected(t *testing.T) {
	h := newHarness(t, 4, testCut())
	h.drop = func(from, to int, m Message) bool { return from == 3 || to == 3 }
	for k := 1; k <= 3; k++ {
		h.submit(testTx(t, uint64(k)))
		want := k
		h.run(h.now+10_000, func() bool { return len(h.chains[0]) >= want })
	}
	// Restart it with an empty mempool while its links are still down: the
	// status it broadcasts at start is lost, as when a restarted node
	// speaks before its connections are up.
	h.pending[3] = nil
	h.wals[3] = nil // it was down, not voting, while the others went on
	h.start(3)
	h.run(h.now+1_000, func() bool { return false })
	h.drop = nil
	h.run(h.now+20_000, func() bool { return false }) // idle: nothing happens
	target := len(h.chains[0])
	if len(h.chains[3]) != 0 {
		t.Fatalf("setup: idle laggard committed %d blocks on its own", len(h.chains[3]))
	}
	for p := 0; p < 3; p++ {
		h.push(h.now+1, 3, PeerConnected{Peer: p})
	}
	h.run(h.now+20_000, func() bool { return len(h.chains[3]) >= target })
	if len(h.chains[3]) != target {
		t.Fatalf("laggard at %d after PeerConnected, want %d", len(h.chains[3]), target)
	}
	h.checkAgreement()
}

// A proposal without a proof of lock must carry a block built for its own
// round: a proposer may not pass off a block as another round's (and so
// as another proposer's). With a proof of lock the block was built in an
// earlier round, at or before the POL round.
func TestHeaderRoundMustMatchProposal(t *testing.T) {
	h := newHarness(t, 4, testCut())
	p1 := h.vs.Proposer(1, 1)
	me := (p1 + 1) % 4
	if me == h.vs.Proposer(1, 0) {
		me = (me + 1) % 4
	}
	e := h.engines[me]
	// Move me to round 1: f+1 precommits of round 1 from others.
	for _, i := range []int{(me + 1) % 4, (me + 2) % 4} {
		v := types.SignVote(h.keys[i], testChain, types.Precommit, 1, 1, crypto.Hash{}, uint16(i))
		e.Step(10, Receive{From: i, Msg: &VoteMessage{Vote: v}})
	}
	if e.Round() != 1 {
		t.Fatalf("not in round 1 (round %d)", e.Round())
	}
	// Round 1's proposer signs a block whose header claims round 0 (and
	// round 0's proposer), with no proof of lock.
	old := proposalFor(h, 0, 1).Block
	stale := SignProposal(h.keys[p1], testChain, 1, 1, -1, old)
	rd := e.Step(11, Receive{From: p1, Msg: stale})
	for _, v := range votesOf(rd) {
		if v.Type == types.Prevote && v.BlockHash == old.Hash() {
			t.Fatal("prevoted a block whose header round is not the proposal's round, without a proof of lock")
		}
	}
	if e.Stats().InvalidBlocks == 0 {
		t.Fatal("the mismatched header round was not counted as an invalid block")
	}
}

// With a proof of lock, the header round may be earlier than the proposal
// round but not later than the POL round.
func TestHeaderRoundWithProofOfLock(t *testing.T) {
	h := newHarness(t, 4, testCut())
	e := h.engines[(h.vs.Proposer(1, 2)+1)%4]
	blk := proposalFor(h, 1, 1).Block // built in round 1
	p := SignProposal(h.keys[h.vs.Proposer(1, 2)], testChain, 1, 2, 0, blk)
	e.Step(1, Receive{From: h.vs.Proposer(1, 2), Msg: p})
	if e.Stats().InvalidBlocks == 0 {
		t.Fatal("a block built in round 1 was accepted under a proof of lock from round 0")
	}
}

// Two signed proposals by one proposer for one (height, round) with
// different blocks are evidence, reported once, and verifiable by anyone.
func TestConflictingProposalsAreEvidence(t *testing.T) {
	h := newHarness(t, 4, testCut())
	proposer := h.vs.Proposer(1, 0)
	me := (proposer + 1) % 4
	e := h.engines[me]
	a := proposalFor(h, 0, 1)
	b := proposalFor(h, 0, 2)
	e.Step(1, Receive{From: proposer, Msg: a})
	rd := e.Step(2, Receive{From: (proposer + 2) % 4, Msg: b}) // forwarded by someone else
	if len(rd.Evidence) != 1 {
		t.Fatalf("want 1 evidence for conflicting proposals, got %d", len(rd.Evidence))
	}
	if err := rd.Evidence[0].Verify(testChain, h.vs); err != nil {
		t.Fatal(err)
	}
	c := proposalFor(h, 0, 3)
	if rd = e.Step(3, Receive{From: proposer, Msg: c}); len(rd.Evidence) != 0 {
		t.Fatal("same proposer's equivocation in one round reported twice")
	}
}

// With CutWhenIdle a transaction that arrives while no block is in flight
// is proposed at once, not after MaxDelay; a backlog that built up while a
// block was being decided still waits for the cut rules.
func TestCutWhenIdle(t *testing.T) {
	cut := testCut()
	cut.MaxDelay = 1_000_000 // never by delay
	cut.CutWhenIdle = true
	h := newHarness(t, 4, cut)
	start := h.now
	h.submit(testTx(t, 1))
	h.run(start+10_000, func() bool { return h.minHeight() >= 1 })
	if h.minHeight() != 1 || len(h.chains[0][0].Block.Txs) != 1 {
		t.Fatalf("an idle engine did not cut at once: height %d", h.minHeight())
	}
	if took := h.now - start; took >= cut.MaxDelay {
		t.Fatalf("the idle cut took %d ms", took)
	}
	h.checkAgreement()
}
