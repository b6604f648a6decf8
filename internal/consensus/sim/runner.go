package sim

import (
	"runtime"

	"github.com/cairn-db/cairn/internal/consensus"
	"sync"
	"time"
)

// Summary aggregates many runs of one configuration; it is what
// `cairn sim` prints.
type Summary struct {
	Validators int      `json:"validators"`
	Powers     []uint64 `json:"powers,omitempty"`
	Ledger     bool     `json:"ledger,omitempty"`
	Churn      bool     `json:"churn,omitempty"`
	Byzantine  int      `json:"byzantine"`
	Crash      int      `json:"crash"`
	Faults     string   `json:"faults"`
	Behaviour  string   `json:"byzantine_behaviour,omitempty"`
	FirstSeed  uint64   `json:"first_seed"`
	Runs       int      `json:"runs"`
	// HeightsCommitted sums, over runs, the highest height an honest
	// validator reached; MinHeight is the lowest height any live honest
	// validator ended a run at.
	HeightsCommitted uint64  `json:"heights_committed"`
	MinHeight        uint64  `json:"min_height"`
	Messages         uint64  `json:"messages"`
	MessagesPerBlock float64 `json:"messages_per_block"`
	BytesPerBlock    float64 `json:"bytes_per_block"`
	VirtualSeconds   float64 `json:"virtual_seconds"`
	// CommitsPerVirtualSecond is blocks per second of simulated time.
	CommitsPerVirtualSecond float64 `json:"commits_per_virtual_second"`
	Rounds                  uint64  `json:"rounds_above_zero"`
	CatchUpBlocks           uint64  `json:"catch_up_blocks"`
	Evidence                uint64  `json:"duplicate_vote_evidence"`
	Crashes                 int     `json:"crashes"`
	Partitions              int     `json:"partitions"`
	Dropped                 Dropped `json:"dropped"`
	SignaturesVerified      uint64  `json:"signatures_verified"`
	// With Config.Ledger: committed transactions whose receipts
	// succeeded or failed.
	TxsOK     uint64 `json:"txs_ok,omitempty"`
	TxsFailed uint64 `json:"txs_failed,omitempty"`
	// MaxHeld is the most any honest engine held, over all runs.
	MaxHeld        consensus.Held `json:"max_held"`
	ViolationCount int            `json:"violation_count"`
	// Violations lists at most 50, with the seed reproducing each.
	Violations  []Violation `json:"violations"`
	FailedSeeds []uint64    `json:"failed_seeds,omitempty"`
	ElapsedMs   int64       `json:"elapsed_ms"`
}

// Dropped counts what honest validators refused.
type Dropped struct {
	BadSignature  uint64 `json:"bad_signature"`
	WrongProposer uint64 `json:"wrong_proposer"`
	WrongChain    uint64 `json:"wrong_chain"`
	Malformed     uint64 `json:"malformed"`
	Undecodable   uint64 `json:"undecodable"`
	InvalidBlocks uint64 `json:"invalid_blocks"`
	BadCatchUp    uint64 `json:"bad_catch_up"`
}

const maxListedViolations = 50

// RunMany runs seeds firstSeed .. firstSeed+runs-1 of base on workers
// goroutines (0: GOMAXPROCS). Each run is single-threaded and
// deterministic; only their order of completion varies, and the summary
// does not depend on it.
func RunMany(base Config, firstSeed uint64, runs, workers int) Summary {
	start := time.Now()
	base = base.Defaults()
	if base.Workload == nil {
		base.Workload = newWorkload(workloadSize(base), base.Ledger)
	}
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	results := make([]Result, runs)
	var wg sync.WaitGroup
	next := make(chan int)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				c := base
				c.Seed = firstSeed + uint64(i)
				results[i] = Run(c)
			}
		}()
	}
	for i := 0; i < runs; i++ {
		next <- i
	}
	close(next)
	wg.Wait()

	s := Summary{Validators: base.Validators, Powers: base.Powers, Ledger: base.Ledger, Churn: base.Churn && !base.Ledger, Byzantine: base.Byzantine, Crash: base.Crash,
		Faults: base.Faults.String(), FirstSeed: firstSeed, Runs: runs}
	if base.Byzantine > 0 {
		s.Behaviour = base.Behaviour
	}
	var bytes uint64
	var virtualMs int64
	for i, r := range results {
		s.HeightsCommitted += r.MaxHeight
		if i == 0 || r.Heights < s.MinHeight {
			s.MinHeight = r.Heights
		}
		s.Messages += r.Messages
		bytes += r.Bytes
		virtualMs += r.VirtualMs
		s.Rounds += r.Rounds
		s.CatchUpBlocks += r.CatchUp
		s.Evidence += r.Evidence
		s.Crashes += r.Crashes
		s.Partitions += r.Partitions
		s.SignaturesVerified += r.SigVerified
		s.TxsOK += r.TxsOK
		s.TxsFailed += r.TxsFailed
		s.MaxHeld = maxHeld(s.MaxHeld, r.MaxHeld)
		s.Dropped.BadSignature += r.Engine.BadSignature
		s.Dropped.WrongProposer += r.Engine.WrongProposer
		s.Dropped.WrongChain += r.Engine.WrongChain
		s.Dropped.Malformed += r.Engine.Malformed
		s.Dropped.Undecodable += r.Garbage
		s.Dropped.InvalidBlocks += r.Engine.InvalidBlocks
		s.Dropped.BadCatchUp += r.Engine.BadCatchUp
		if len(r.Violations) > 0 {
			s.FailedSeeds = append(s.FailedSeeds, r.Seed)
		}
		for _, v := range r.Violations {
			s.ViolationCount++
			if len(s.Violations) < maxListedViolations {
				s.Violations = append(s.Violations, v)
			}
		}
	}
	if s.Violations == nil {
		s.Violations = []Violation{}
	}
	if s.HeightsCommitted > 0 {
		s.MessagesPerBlock = float64(s.Messages) / float64(s.HeightsCommitted)
		s.BytesPerBlock = float64(bytes) / float64(s.HeightsCommitted)
	}
	s.VirtualSeconds = float64(virtualMs) / 1000
	if virtualMs > 0 {
		s.CommitsPerVirtualSecond = float64(s.HeightsCommitted) / s.VirtualSeconds
	}
	s.ElapsedMs = time.Since(start).Milliseconds()
	return s
}

// workloadSize is how many transactions to pre-sign for runs of c.
func workloadSize(c Config) int {
	return min(max(c.Heights*c.Cut.MaxTxs, 512), 1<<16)
}
