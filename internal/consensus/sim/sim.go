// Package sim runs many validators of the consensus engine in one process
// under virtual time, with a seeded network and fault model, and checks
// the protocol's invariants continuously. One seed reproduces one run
// exactly: everything random comes from a PCG stream seeded by it, the
// event queue breaks ties by insertion order, and nothing iterates a map
// where the order could matter.
//
// The network delivers every message after a latency drawn from a shifted
// exponential distribution (so messages overtake each other), and during
// the fault window may drop, duplicate, or partition. Processes may crash
// and restart from their WAL and block store (crash-recovery), crash for
// good (crash-stop), lose a share of their messages (omission), or be
// Byzantine: equivocating proposers, double
// voters, proposers of invalid blocks, silent validators, senders of
// garbage, liars about catch-up (false heights, bad block responses,
// far-future votes), or — past the threshold — colluders that run a fork
// attack. Validators may have unequal voting powers (Config.Powers; f is
// then a power), and may run the real ledger as their application
// (Config.Ledger, see ledgerapp.go).
//
// Invariants (each violation is reported with the seed that reproduces it):
//   - agreement: no two honest validators commit different blocks at one height;
//   - validity: only client transactions are committed, each at most once
//     per chain, in blocks with verifying certificates and parent links;
//   - honest signing: no honest validator, across restarts, signs two
//     different proposals or votes for one (height, round, type), and no
//     evidence ever names an honest validator;
//   - durability: a restarted validator resumes exactly at its stored height;
//   - liveness: once faults stop (with at most f of power Byzantine or
//     crashed for good), every live honest validator commits new heights
//     within a bounded virtual time, whatever heights liars claim;
//   - bounded memory: after every message it receives, an honest engine
//     holds no more than consensus.Engine.HeldBounds allows;
//   - with the ledger: every certified block commits, and all honest
//     replicas derive the same state root, results root and receipts at
//     every height.
package sim

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/internal/consensus"
	"github.com/cairn-db/cairn/types"
)

// Faults selects the network and process faults of a run.
type Faults struct {
	Drop      bool // lose messages
	Duplicate bool // deliver some messages twice
	Partition bool // split the network, then heal
	Crash     bool // crash nodes restart from WAL and store
	CrashStop bool // crash nodes never come back
	Omission  bool // crash nodes also lose 30% of what they send and receive
}

// CheckBehaviour validates a Config.Behaviour value.
func CheckBehaviour(b string) error {
	if b == "" {
		return nil
	}
	for _, k := range strings.Split(b, ",") {
		if !slices.Contains(Behaviours, k) {
			return fmt.Errorf("unknown Byzantine behaviour %q (want %s)", k, strings.Join(Behaviours, ", "))
		}
	}
	return nil
}

// ParseFaults reads a comma-separated list of drop, dup, partition, crash,
// crashstop, omission, "net" (drop, dup, partition), "all" (everything but
// crashstop) or "none".
func ParseFaults(s string) (Faults, error) {
	var f Faults
	for _, w := range strings.Split(s, ",") {
		switch strings.TrimSpace(w) {
		case "", "none":
		case "all":
			f.Drop, f.Duplicate, f.Partition, f.Crash, f.Omission = true, true, true, true, true
		case "net":
			f.Drop, f.Duplicate, f.Partition = true, true, true
		case "drop":
			f.Drop = true
		case "dup":
			f.Duplicate = true
		case "partition":
			f.Partition = true
		case "crash":
			f.Crash = true
		case "crashstop":
			f.CrashStop = true
		case "omission":
			f.Omission = true
		default:
			return f, fmt.Errorf("unknown fault %q (want drop, dup, partition, crash, crashstop, omission, net, all, none)", w)
		}
	}
	return f, nil
}

func (f Faults) String() string {
	var s []string
	for _, x := range []struct {
		on   bool
		name string
	}{{f.Drop, "drop"}, {f.Duplicate, "dup"}, {f.Partition, "partition"}, {f.Crash, "crash"}, {f.CrashStop, "crashstop"}, {f.Omission, "omission"}} {
		if x.on {
			s = append(s, x.name)
		}
	}
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ",")
}

// Byzantine behaviours.
const (
	Equivocate = "equivocate" // proposer sends different blocks to different peers
	DoubleVote = "doublevote" // signs a second, conflicting vote for each vote
	Invalid    = "invalid"    // proposes invalid blocks and votes for them
	Silent     = "silent"     // sends nothing
	Garbage    = "garbage"    // adds random bytes and corrupted copies of its messages
	Mixed      = "mixed"      // each Byzantine validator picks one of the above
	Fork       = "fork"       // colluders equivocate and double-vote for both forks

	// Lies aimed at catch-up.
	FalseHeight = "falseheight" // claims heights far ahead of its own in status and in messages for far heights
	BadBlocks   = "badblocks"   // answers block requests with bad blocks and sends unsolicited ones
	FutureVotes = "futurevotes" // signs votes for far-future rounds and heights
	Liar        = "liar"        // all three lies at once
)

// Behaviours lists the values Config.Behaviour accepts.
var Behaviours = []string{Equivocate, DoubleVote, Invalid, Silent, Garbage, Mixed, Fork,
	FalseHeight, BadBlocks, FutureVotes, Liar}

// Config describes one run. Zero fields take the defaults of Defaults.
type Config struct {
	Validators int
	Byzantine  int
	Crash      int // honest validators subject to crash faults
	Seed       uint64
	// Powers, when set, are the validators' voting powers (its length
	// overrides Validators); nil means power 1 each. Quorum is more than
	// two thirds of the total power, and f is in power: the Byzantine
	// validators are drawn, by the seed, so that their power stays at most
	// f when that is possible.
	Powers []uint64
	// Ledger runs every replica's application on a real internal/ledger
	// (in-memory Pebble): blocks are built, executed and committed as a
	// node does, and replicas must agree on state and receipts.
	Ledger bool
	// Churn changes the validator set during the run (churn.go): one more
	// validator, honest, follows from the start without voting, joins at
	// height ChurnJoin, an honest validator's power doubles at ChurnPower, and the
	// joiner leaves at ChurnLeave; engines get each height's set as a node
	// gives it (SetValidators after a commit). Not with Ledger.
	Churn   bool
	Heights int // every live honest validator must reach this height
	Faults  Faults
	// Behaviour of the Byzantine validators: one of Behaviours, or a
	// comma-separated list to pick from per validator. "" means Mixed, or
	// (with equal powers) Fork when there are more Byzantine validators
	// than the set tolerates.
	Behaviour string

	LatencyMin  int64 // ms, every message
	LatencyMean int64 // ms, mean of the exponential part; 0 for fixed latency
	// MsgCost is virtual CPU time (µs) a validator spends on each message
	// it receives; messages queue while it is busy. 0 for none.
	MsgCost int64
	// Saturate gives every validator a full mempool from the start, so
	// proposers cut at MaxTxs at once (scale runs).
	Saturate bool

	FaultMin, FaultMax int64 // ms: faults stop at a random time in this window
	LivenessBound      int64 // ms after faults stop for every validator to progress
	TxInterval         int64 // mean ms between client transactions

	Cut      consensus.CutPolicy
	Timeouts consensus.Timeouts

	// Workload is shared, read-only, by runs; nil signs a small one.
	Workload *Workload
	// MaxEvents bounds a run; reaching it is a liveness violation.
	MaxEvents int
}

// Defaults fills zero fields.
func (c Config) Defaults() Config {
	if len(c.Powers) > 0 {
		c.Validators = len(c.Powers)
	}
	if c.Validators == 0 {
		c.Validators = 4
	}
	if c.Heights == 0 {
		c.Heights = 20
	}
	if c.LatencyMin == 0 {
		c.LatencyMin = 2
		if c.LatencyMean == 0 {
			c.LatencyMean = 8
		}
	}
	if c.FaultMax == 0 {
		c.FaultMin, c.FaultMax = 1000, 3000
	}
	if c.LivenessBound == 0 {
		c.LivenessBound = 30_000
	}
	if c.TxInterval == 0 {
		c.TxInterval = 5
	}
	if c.Cut.MaxTxs == 0 {
		c.Cut = consensus.CutPolicy{MaxTxs: 20, MaxBytes: 1 << 20, MaxDelay: 20}
	}
	if c.Timeouts.Propose == 0 {
		c.Timeouts = consensus.Timeouts{Propose: 300, ProposeDelta: 100, Prevote: 100, PrevoteDelta: 50,
			Precommit: 100, PrecommitDelta: 50, Tick: 250}
	}
	if c.MaxEvents == 0 {
		c.MaxEvents = 20_000_000
	}
	if c.Behaviour == "" {
		c.Behaviour = Mixed
		if c.Byzantine > maxFaultyCount(c.Validators) && len(c.Powers) == 0 {
			c.Behaviour = Fork
		}
	}
	return c
}

// maxFaultyCount is f for n validators of equal power.
func maxFaultyCount(n int) int { return (n - 1) / 3 }

// Violation is a broken invariant.
type Violation struct {
	Seed uint64 `json:"seed"`
	// Reproduce is a command line that replays just this run (filled in
	// by cmd/cairn).
	Reproduce string `json:"reproduce,omitempty"`
	Kind      string `json:"kind"`
	Height    uint64 `json:"height,omitempty"`
	Node      int    `json:"node"`
	Detail    string `json:"detail"`
	Time      int64  `json:"virtual_ms"`
}

// Result is the outcome of one run.
type Result struct {
	Seed        uint64
	Heights     uint64 // lowest height reached by a live honest validator
	MaxHeight   uint64 // highest height reached by an honest validator
	Messages    uint64 // consensus messages sent, counted per recipient
	Bytes       uint64 // their encoded size
	VirtualMs   int64  // virtual time the run took
	Rounds      uint64 // rounds above 0 started, summed over honest validators
	CatchUp     uint64 // blocks honest validators fetched from peers
	Evidence    uint64 // duplicate-vote evidence reported by honest validators
	Garbage     uint64 // undecodable messages dropped before the engine
	Engine      consensus.Stats
	Violations  []Violation
	Crashes     int
	Partitions  int
	SigVerified uint64 // signatures actually verified (cache misses)
	// With Config.Ledger: committed transactions whose receipts succeeded
	// or failed (counted once per height).
	TxsOK, TxsFailed uint64
	// MaxHeld is the most any honest engine held of each kind after a
	// received message (see consensus.Held).
	MaxHeld consensus.Held
}

// role of a simulated validator.
type role uint8

const (
	honest role = iota
	crashy
	byzantine
)

type evKind uint8

const (
	evDeliver evKind = iota
	evDeliverRaw
	evTimer
	evLocal
	evTxSubmit
	evTxGossip
	evCrash
	evRestart
	evPartition
	evHealPartition
	evFaultsEnd
)

type event struct {
	at   int64 // µs
	seq  uint64
	kind evKind
	node int
	from int
	inc  int
	msg  consensus.Message
	raw  []byte
	tx   int
	ev   consensus.Event
	side []int8
}

// queue is a binary min-heap of events by (at, seq).
type queue []event

func (q queue) less(i, j int) bool {
	if q[i].at != q[j].at {
		return q[i].at < q[j].at
	}
	return q[i].seq < q[j].seq
}

func (q *queue) push(e event) {
	*q = append(*q, e)
	h := *q
	for i := len(h) - 1; i > 0; {
		p := (i - 1) / 2
		if !h.less(i, p) {
			break
		}
		h[i], h[p] = h[p], h[i]
		i = p
	}
}

func (q *queue) pop() event {
	h := *q
	top := h[0]
	last := len(h) - 1
	h[0] = h[last]
	h[last] = event{}
	h = h[:last]
	for i := 0; ; {
		l, r, m := 2*i+1, 2*i+2, i
		if l < len(h) && h.less(l, m) {
			m = l
		}
		if r < len(h) && h.less(r, m) {
			m = r
		}
		if m == i {
			break
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
	*q = h
	return top
}

// sim is one run.
type sim struct {
	cfg   Config
	rng   *rand.Rand
	vs    *types.ValidatorSet   // the genesis set
	churn []*types.ValidatorSet // the sets of Config.Churn's schedule (churn.go)
	keys  []*crypto.PrivateKey
	nodes []*replica
	q     queue
	seq   uint64
	now   int64 // µs
	pool  *txPool
	sigs  *sigCache
	f     uint64 // the most faulty power the set tolerates

	faultsOn  bool
	faultEnd  int64 // µs
	pDrop     float64
	pDup      float64
	side      []int8 // partition side per node; nil when connected
	nextTx    int
	submitted int

	decided   map[uint64]crypto.Hash // first honest commit per height
	decidedBy map[uint64]int
	signed    map[signKey]crypto.Hash
	healedMax uint64
	healed    bool
	adv       *adversary

	genesis      *types.Genesis         // with Config.Ledger
	ledgerDigest map[uint64]crypto.Hash // first honest replica's roots and receipts per height

	res Result
	// trace, when set, sees every event before it is dispatched (tests).
	trace func(event)
}

type signKey struct {
	validator int
	height    uint64
	round     uint32
	typ       uint8 // 0 proposal, else vote type
}

// Run executes one seeded run.
func Run(cfg Config) Result {
	cfg = cfg.Defaults()
	s := newSim(cfg)
	s.run()
	return s.res
}

func newSim(cfg Config) *sim {
	s := &sim{
		cfg:       cfg,
		rng:       rand.New(rand.NewPCG(cfg.Seed, 0x63616972_6e73696d)),
		sigs:      &sigCache{m: map[[32]byte]bool{}},
		decided:   map[uint64]crypto.Hash{},
		decidedBy: map[uint64]int{},
		signed:    map[signKey]crypto.Hash{},
	}
	s.res.Seed = cfg.Seed
	if cfg.Ledger {
		s.cfg.Churn = false // a ledger's set comes from its state, not a schedule
	}
	w := cfg.Workload
	if w == nil {
		w = newWorkload(0, cfg.Ledger)
	}
	s.pool = &txPool{w: w, index: map[crypto.Hash]int{}}

	n := cfg.Validators
	vals := make([]types.Validator, n)
	s.keys = make([]*crypto.PrivateKey, n)
	for i := range vals {
		var seed [32]byte
		copy(seed[:], fmt.Sprintf("sim-%d-validator-%d", cfg.Seed, i))
		seed = crypto.Sum(seed[:])
		s.keys[i] = crypto.MustKeyFromSeed(seed)
		vals[i] = types.Validator{Name: fmt.Sprintf("v%d", i), PublicKey: s.keys[i].Public(), Power: power(cfg, i)}
	}
	vs, err := types.NewValidatorSet(vals)
	if err != nil {
		panic(err) // unreachable: keys are distinct, powers positive
	}
	s.vs = vs
	s.f = vs.MaxFaulty()
	if cfg.Ledger {
		s.genesis = s.ledgerGenesis()
		s.ledgerDigest = map[uint64]crypto.Hash{}
	}

	// Roles: a seeded permutation picks who is Byzantine and who crashes.
	perm := s.rng.Perm(n)
	if len(cfg.Powers) > 0 {
		perm = byzantineFirst(perm, cfg, s.f)
	}
	roles := make([]role, n)
	for k, i := range perm {
		switch {
		case k < cfg.Byzantine:
			roles[i] = byzantine
		case k < cfg.Byzantine+cfg.Crash:
			roles[i] = crashy
		}
	}
	s.adv = newAdversary(s, roles)
	if cfg.Churn {
		s.initChurn(roles)
		roles = append(roles, honest)
	}
	for i := 0; i < len(roles); i++ {
		nd := &replica{s: s, id: i, role: roles[i], key: s.keys[i], pool: map[int]bool{}, committed: map[int]bool{}}
		if roles[i] == byzantine {
			nd.behaviour = s.adv.behaviourFor(i)
		}
		s.nodes = append(s.nodes, nd)
	}
	return s
}

func (s *sim) push(e event) {
	s.seq++
	e.seq = s.seq
	s.q.push(e)
}

func (s *sim) ms() int64 { return s.now / 1000 }

func (s *sim) violate(kind string, node int, height uint64, format string, args ...any) {
	s.res.Violations = append(s.res.Violations, Violation{Seed: s.cfg.Seed, Kind: kind, Node: node, Height: height,
		Detail: fmt.Sprintf(format, args...), Time: s.ms()})
}

// expDur draws an exponential duration with the given mean (µs).
func (s *sim) expDur(mean float64) int64 {
	return int64(s.rng.ExpFloat64() * mean)
}

func (s *sim) scheduleFaults() {
	c := s.cfg
	s.faultsOn = true
	s.faultEnd = (c.FaultMin + s.rng.Int64N(c.FaultMax-c.FaultMin+1)) * 1000
	if c.Faults.Drop {
		s.pDrop = 0.01 + 0.14*s.rng.Float64()
	}
	if c.Faults.Duplicate {
		s.pDup = 0.01 + 0.09*s.rng.Float64()
	}
	if c.Faults.Partition {
		for t := s.rng.Int64N(500_000); t < s.faultEnd; {
			d := 100_000 + s.rng.Int64N(1_400_000)
			n := len(s.nodes) // the validators, and a joiner (Churn)
			side := make([]int8, n)
			k := 1 + s.rng.IntN(n-1) // size of the minority side
			for _, i := range s.rng.Perm(n)[:k] {
				side[i] = 1
			}
			s.push(event{at: t, kind: evPartition, side: side})
			end := min(t+d, s.faultEnd)
			s.push(event{at: end, kind: evHealPartition})
			t = end + s.rng.Int64N(500_000)
		}
	}
	if c.Faults.Crash || c.Faults.CrashStop {
		for _, nd := range s.nodes {
			if nd.role != crashy {
				continue
			}
			stop := c.Faults.CrashStop && (!c.Faults.Crash || s.rng.IntN(2) == 0)
			t := s.rng.Int64N(s.faultEnd)
			for k := 0; k < 3 && t < s.faultEnd; k++ {
				s.push(event{at: t, kind: evCrash, node: nd.id})
				if stop {
					nd.crashStop = true
					break
				}
				down := 50_000 + s.rng.Int64N(1_500_000)
				up := min(t+down, s.faultEnd)
				s.push(event{at: up, kind: evRestart, node: nd.id})
				t = up + s.rng.Int64N(s.faultEnd)
			}
		}
	}
	s.push(event{at: s.faultEnd, kind: evFaultsEnd})
}

func (s *sim) run() {
	if s.cfg.Faults != (Faults{}) {
		s.scheduleFaults()
	} else {
		s.push(event{at: 0, kind: evFaultsEnd})
	}
	for _, nd := range s.nodes {
		nd.start()
	}
	if s.cfg.Saturate {
		need := (s.cfg.Heights + 4) * s.cfg.Cut.MaxTxs
		for _, nd := range s.nodes {
			for i := 0; i < need; i++ {
				s.pool.get(i)
				nd.addTx(i, 0)
			}
		}
		s.nextTx = need
	} else {
		s.push(event{at: 0, kind: evTxSubmit})
	}
	for events := 0; len(s.q) > 0; events++ {
		if events >= s.cfg.MaxEvents {
			s.violate("liveness", -1, 0, "event budget of %d exhausted at virtual %d ms", s.cfg.MaxEvents, s.ms())
			break
		}
		ev := s.q.pop()
		s.now = ev.at
		if s.trace != nil {
			s.trace(ev)
		}
		s.dispatch(ev)
		if len(s.res.Violations) > 0 || s.done() {
			break
		}
	}
	s.finish()
}

// livenessRequired: with more Byzantine or crashed-for-good validators
// than f, nothing guarantees progress.
func (s *sim) livenessRequired() bool {
	var bad uint64
	for _, nd := range s.nodes {
		if (nd.role == byzantine || (nd.role == crashy && nd.crashStop)) && nd.id < s.vs.Len() {
			bad += s.vs.Validators[nd.id].Power
		}
	}
	return bad <= s.f
}

func power(c Config, i int) uint64 {
	if len(c.Powers) == 0 {
		return 1
	}
	return c.Powers[i]
}

// byzantineFirst reorders a role permutation so that its first
// c.Byzantine entries hold at most f of power when some choice does: it
// takes, in permutation order, every validator that still fits, and fills
// up with the rest only when nothing fits.
func byzantineFirst(perm []int, c Config, f uint64) []int {
	var chosen, rest []int
	var p uint64
	for _, i := range perm {
		if len(chosen) < c.Byzantine && p+c.Powers[i] <= f {
			chosen = append(chosen, i)
			p += c.Powers[i]
		} else {
			rest = append(rest, i)
		}
	}
	return append(chosen, rest...)
}

func (s *sim) target() uint64 {
	return max(uint64(s.cfg.Heights), s.healedMax+2)
}

// done reports whether the run has reached its goal or its deadline.
func (s *sim) done() bool {
	if !s.healed {
		return false
	}
	if s.now > s.faultEnd+s.cfg.LivenessBound*1000 {
		if s.livenessRequired() {
			var lag []string
			for _, nd := range s.nodes {
				if nd.role != byzantine && nd.up && nd.height() < s.target() {
					lag = append(lag, fmt.Sprintf("v%d at %d", nd.id, nd.height()))
				}
			}
			s.violate("liveness", -1, s.target(), "%d ms after faults stopped, not every honest validator reached height %d: %s",
				s.cfg.LivenessBound, s.target(), strings.Join(lag, ", "))
		}
		return true
	}
	for _, nd := range s.nodes {
		if nd.role != byzantine && nd.up && nd.height() < s.target() {
			return false
		}
	}
	return true
}

func (s *sim) finish() {
	for _, nd := range s.nodes {
		nd.closeLedger()
	}
	s.res.VirtualMs = s.ms()
	s.res.SigVerified = s.sigs.miss
	first := true
	for _, nd := range s.nodes {
		if nd.role == byzantine {
			continue
		}
		h := nd.height()
		s.res.MaxHeight = max(s.res.MaxHeight, h)
		if nd.up && (first || h < s.res.Heights) {
			s.res.Heights, first = h, false
		}
		nd.foldStats()
	}
}

func (s *sim) dispatch(ev event) {
	switch ev.kind {
	case evDeliver, evDeliverRaw:
		nd := s.nodes[ev.node]
		if !nd.up || s.cut(ev.from, ev.node) {
			return
		}
		if s.cfg.MsgCost > 0 {
			if nd.busyUntil > s.now {
				ev.at = nd.busyUntil
				s.push(ev)
				return
			}
			nd.busyUntil = s.now + s.cfg.MsgCost
		}
		m := ev.msg
		if ev.kind == evDeliverRaw {
			var err error
			if m, err = consensus.Decode(ev.raw); err != nil {
				s.res.Garbage++
				return
			}
		}
		if r, ok := m.(*consensus.BlockRequest); ok && nd.role == byzantine && lies(nd, BadBlocks) && r.Height > nd.height() {
			// Its engine would ignore a request above its height; the
			// liar answers it, as if the false height were true.
			s.adv.sendBadBlock(nd, ev.from, r.Height)
		}
		if r, ok := m.(*consensus.BlockRequest); ok && s.cfg.Churn && nd.role != byzantine && ev.from >= nd.eng.Validators().Len() {
			// From a validator outside this height's set (the joiner
			// before it joins or after it left): served as a node serves
			// a follower; its engine hears nothing else of it.
			if r.Height >= 1 && r.Height <= nd.height() {
				s.transmit(nd.id, []int{ev.from}, &consensus.BlockResponse{Block: nd.chain[r.Height-1], Cert: nd.certs[r.Height-1]})
			}
			return
		}
		nd.step(consensus.Receive{From: ev.from, Msg: m})
		nd.checkHeld()
	case evTimer, evLocal:
		nd := s.nodes[ev.node]
		if !nd.up || nd.inc != ev.inc {
			return
		}
		if ev.kind == evLocal {
			if ta, ok := ev.ev.(consensus.TxsAvailable); ok && ta.Count < 0 {
				nd.txsDirty = false
				ev.ev = nd.txsAvailable()
			}
		}
		nd.step(ev.ev)
	case evTxSubmit:
		s.submitTx()
	case evTxGossip:
		nd := s.nodes[ev.node]
		if nd.up && !s.cut(ev.from, ev.node) {
			nd.addTx(ev.tx, s.ms())
		}
	case evCrash:
		s.nodes[ev.node].crashSoon()
	case evRestart:
		if nd := s.nodes[ev.node]; !nd.up && !nd.crashStop {
			nd.restart()
		}
	case evPartition:
		s.side = ev.side
		s.res.Partitions++
	case evHealPartition:
		s.side = nil
	case evFaultsEnd:
		s.faultsOn, s.pDrop, s.pDup, s.side = false, 0, 0, nil
		for _, nd := range s.nodes {
			if !nd.up && !nd.crashStop {
				nd.restart()
			}
			nd.crashPoint = -1
		}
		for _, nd := range s.nodes {
			if nd.role != byzantine {
				s.healedMax = max(s.healedMax, nd.height())
			}
		}
		s.healed = true
	}
}

// cut reports whether a partition separates a and b right now.
func (s *sim) cut(a, b int) bool {
	return s.side != nil && a >= 0 && s.side[a] != s.side[b]
}

func (s *sim) latency() int64 {
	l := s.cfg.LatencyMin * 1000
	if m := s.cfg.LatencyMean; m > 0 {
		l += min(s.expDur(float64(m)*1000), 10*m*1000)
	}
	return l
}

// submitTx sends the next client transaction to a random live validator,
// which gossips it to the others.
func (s *sim) submitTx() {
	if s.cfg.Saturate {
		return
	}
	s.push(event{at: s.now + 1000 + s.expDur(float64(s.cfg.TxInterval)*1000), kind: evTxSubmit})
	var up []int
	for _, nd := range s.nodes {
		if nd.up {
			up = append(up, nd.id)
		}
	}
	if len(up) == 0 {
		return
	}
	to := up[s.rng.IntN(len(up))]
	i := s.nextTx
	s.nextTx++
	s.pool.get(i)
	s.nodes[to].addTx(i, s.ms())
	for j := range s.nodes {
		if j == to || s.drop() {
			continue
		}
		s.push(event{at: s.now + s.latency(), kind: evTxGossip, node: j, from: to, tx: i})
	}
}

func (s *sim) drop() bool { return s.pDrop > 0 && s.rng.Float64() < s.pDrop }

// omit is the omission fault: during the fault window a crash-role
// validator loses some of the messages it sends and receives.
func (s *sim) omit(from, to int) bool {
	if !s.faultsOn || !s.cfg.Faults.Omission {
		return false
	}
	if s.nodes[from].role != crashy && s.nodes[to].role != crashy {
		return false
	}
	return s.rng.Float64() < 0.3
}

// transmit encodes m once (counting its size per recipient), decodes it
// once (so every message crosses the real wire format) and schedules its
// delivery to each target.
func (s *sim) transmit(from int, targets []int, m consensus.Message) {
	if len(targets) == 0 {
		return
	}
	b := consensus.Encode(m)
	dm, err := consensus.Decode(b)
	if err != nil {
		s.violate("encoding", from, 0, "%s does not survive its own encoding: %v", m.Type(), err)
		return
	}
	for _, to := range targets {
		s.res.Messages++
		s.res.Bytes += uint64(len(b))
		s.deliver(event{kind: evDeliver, node: to, from: from, msg: dm})
	}
}

// transmitRaw sends bytes that may not decode (Byzantine garbage).
func (s *sim) transmitRaw(from, to int, raw []byte) {
	s.res.Messages++
	s.res.Bytes += uint64(len(raw))
	s.deliver(event{kind: evDeliverRaw, node: to, from: from, raw: raw})
}

func (s *sim) deliver(e event) {
	if s.drop() || s.omit(e.from, e.node) {
		return
	}
	e.at = s.now + s.latency()
	s.push(e)
	if s.pDup > 0 && s.rng.Float64() < s.pDup {
		e.at = s.now + s.latency()
		s.push(e)
	}
}

// others lists every validator but i.
func (s *sim) others(i int) []int {
	out := make([]int, 0, len(s.nodes)-1)
	for j := range s.nodes {
		if j != i {
			out = append(out, j)
		}
	}
	return out
}

// checkSigned records what an honest validator signs and reports a second,
// different signature for the same slot.
func (s *sim) checkSigned(nd *replica, m consensus.Message) {
	var k signKey
	var h crypto.Hash
	switch m := m.(type) {
	case *consensus.VoteMessage:
		if int(m.Vote.Validator) != nd.id {
			return
		}
		k = signKey{nd.id, m.Vote.Height, m.Vote.Round, uint8(m.Vote.Type)}
		h = m.Vote.BlockHash
	case *consensus.Proposal:
		if s.setAt(m.Height).Proposer(m.Height, m.Round) != nd.id {
			return
		}
		k = signKey{nd.id, m.Height, m.Round, 0}
		h = m.BlockHash()
	default:
		return
	}
	if old, ok := s.signed[k]; ok && old != h {
		what := "proposal"
		if k.typ != 0 {
			what = types.VoteType(k.typ).String()
		}
		s.violate("honest-equivocation", nd.id, k.height, "honest v%d signed two different %ss for round %d (%s, then %s) after %d restarts",
			nd.id, what, k.round, old, h, nd.restarts)
		return
	}
	s.signed[k] = h
}

// stateRoot is the simulated application's state: a hash chain of tx roots.
func stateRoot(parent crypto.Hash, txRoot crypto.Hash) crypto.Hash {
	return crypto.Sum(append(parent[:], txRoot[:]...))
}
