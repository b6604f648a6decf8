package ledger

import (
	"fmt"
	"maps"
	"math/rand"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/cairn-db/cairn/internal/cputime"
	"github.com/cairn-db/cairn/internal/execute"
	"github.com/cairn-db/cairn/internal/state"
)

// BenchmarkLedgerWriteAmp commits blocks of signed transfers through the
// real ledger (block store, state, history) and reports what Pebble's
// compactions cost per committed transfer: compacted-B/tx, flushed-B/tx,
// wal-B/tx and write amplification wa = (flushed + compacted) / WAL, plus
// last-wa over the last quarter of the blocks and the read amplification
// (L0 sublevels + non-empty levels) averaged over the commits, for the
// read cost of a point Get that misses its filters, and cpu-µs/tx, the
// process's CPU time per transfer (executing and committing the blocks,
// and the flushes and compactions, waited for at the end), which, unlike
// the byte counts, depends on the machine and its load. The LSM is the node's
// (Open) scaled down 16 times, like state's BenchmarkWriteAmp, so a run of
// a few hundred thousand transfers builds the levels a long run builds.
// Byte counts do not depend on the machine's speed or load. The ledger is a
// validator's (no account index); the bytes each family's tables took in
// compactions (and in moves, which copy nothing) go to stderr.
//
// b.N is ignored: one run is CAIRN_LEDGER_WA_BLOCKS blocks (default 400) of
// CAIRN_LEDGER_WA_TXS transfers (default 500) among CAIRN_LEDGER_WA_KEYS
// accounts (default 20,000). CAIRN_LEDGER_WA_OPTS changes options on top of
// the node's, with sizes at full scale in MiB (divided by 16 here):
// mem=MiB, memstop=N (MemTableStopWritesThreshold), l0c=N
// (L0CompactionThreshold), l0files=N (L0CompactionFileThreshold),
// l0stop=N (L0StopWritesThreshold), lbase=MiB (LBaseMaxBytes), epoch=MiB
// (the state's HistoryEpochBytes), l0file=MiB
// (TargetFileSizes[0]; the other levels double from it unless lfile=MiB sets
// TargetFileSizes[1], doubling from there), block=KiB (every level's
// BlockSize), e.g.
//
//	CAIRN_LEDGER_WA_OPTS=l0c=8,lbase=256 go test ./internal/ledger -run '^$' -bench LedgerWriteAmp -benchtime 1x
func BenchmarkLedgerWriteAmp(b *testing.B) {
	env := func(name string, def int) int {
		if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
			return v
		}
		return def
	}
	blocks := env("CAIRN_LEDGER_WA_BLOCKS", 400)
	perBlock := env("CAIRN_LEDGER_WA_TXS", 500)
	accounts := env("CAIRN_LEDGER_WA_KEYS", 20_000)
	tune, epochBytes, err := waOptions(os.Getenv("CAIRN_LEDGER_WA_OPTS"))
	if err != nil {
		b.Fatal(err)
	}
	n := benchNet(accounts)
	// Bytes each compaction wrote, by the key family of its tables (moves
	// apart), for the breakdown printed at the end.
	var mu sync.Mutex
	byFamily := map[string]uint64{}
	withListener := func(po *pebble.Options) {
		if tune != nil {
			tune(po)
		}
		po.EventListener = &pebble.EventListener{CompactionEnd: func(ci pebble.CompactionInfo) {
			if ci.Err != nil {
				return
			}
			mu.Lock()
			defer mu.Unlock()
			for _, t := range ci.Output.Tables {
				byFamily[ci.Reason+" "+keyFamily(t.Smallest.UserKey)] += t.Size
			}
		}}
	}
	// A validator's ledger: no account index.
	l, err := Open(Options{Dir: b.TempDir(), CacheBytes: 64 << 20, AccountIndex: AccountIndexOff, tunePebble: withListener, historyEpochBytes: epochBytes}, n.g)
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	type sample struct{ wal, flushed, compacted uint64 }
	take := func() sample {
		m := l.db.Metrics()
		var c uint64
		for i := range m.Levels {
			c += m.Levels[i].TableBytesCompacted
		}
		return sample{wal: m.WAL.BytesWritten, flushed: m.Levels[0].TableBytesFlushed, compacted: c}
	}
	// Genesis's accounts are flushed before the count starts.
	if err := l.db.Flush(); err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewSource(1))
	marks := []sample{take()}
	cpu0 := cputime.Process()
	readAmp := 0
	b.ResetTimer()
	for h := 0; h < blocks; h++ {
		txs := n.transfers(rng, perBlock)
		height := l.Head().Height + 1
		prop := n.vkeys[l.Validators().Proposer(height, 0)].Public()
		blk, p, err := l.Propose(txs, 0, l.Head().Time+1, prop, execute.Options{SkipSignatures: true})
		if err != nil {
			b.Fatal(err)
		}
		if err := l.Commit(blk, n.certify(blk, 3), p); err != nil {
			b.Fatal(err)
		}
		for _, r := range p.Result.Receipts {
			if !r.OK {
				b.Fatalf("tx failed: %s", r.Reason)
			}
		}
		readAmp += l.db.Metrics().ReadAmp()
		if (h+1)%max(blocks/4, 1) == 0 {
			marks = append(marks, take())
		}
	}
	// Compactions still running count against the run.
	for l.db.Metrics().Compact.NumInProgress > 0 {
		time.Sleep(10 * time.Millisecond)
	}
	cpu := cputime.Process() - cpu0
	b.StopTimer()
	wa := func(a, z sample) float64 {
		if z.wal == a.wal {
			return 0
		}
		return float64(z.flushed-a.flushed+z.compacted-a.compacted) / float64(z.wal-a.wal)
	}
	first, end := marks[0], marks[len(marks)-1]
	txs := float64(blocks * perBlock)
	b.ReportMetric(wa(first, end), "wa")
	b.ReportMetric(wa(marks[len(marks)-2], end), "last-wa")
	b.ReportMetric(float64(end.compacted-first.compacted)/txs, "compacted-B/tx")
	b.ReportMetric(float64(end.flushed-first.flushed)/txs, "flushed-B/tx")
	b.ReportMetric(float64(end.wal-first.wal)/txs, "wal-B/tx")
	b.ReportMetric(float64(readAmp)/float64(blocks), "read-amp")
	if cpu > 0 {
		b.ReportMetric(float64(cpu.Microseconds())/txs, "cpu-µs/tx")
	}
	mu.Lock()
	for _, k := range slices.Sorted(maps.Keys(byFamily)) {
		fmt.Fprintf(os.Stderr, "compaction %-10q %6d B/tx\n", k, byFamily[k]/uint64(blocks*perBlock))
	}
	mu.Unlock()
	m := l.db.Metrics()
	fmt.Fprintf(os.Stderr, "options %q: disk %d MB\n%s\n", os.Getenv("CAIRN_LEDGER_WA_OPTS"), m.DiskSpaceUsage()>>20, m)
}

// waOptions parses BenchmarkLedgerWriteAmp's option changes into a function
// that scales the node's options down 16 times and applies them.
func waOptions(spec string) (func(*pebble.Options), int, error) {
	const scale = 16
	set := map[string]int64{}
	epochBytes := state.DefaultHistoryEpochBytes / scale
	for _, kv := range strings.Split(spec, ",") {
		if kv == "" {
			continue
		}
		k, v, ok := strings.Cut(kv, "=")
		n, err := strconv.ParseInt(v, 10, 64)
		if !ok || err != nil || n <= 0 {
			return nil, 0, fmt.Errorf("option %q: want name=positive integer", kv)
		}
		switch k {
		case "epoch":
			epochBytes = int(n << 20 / scale)
		case "mem", "memstop", "l0c", "l0files", "l0stop", "lbase", "l0file", "lfile", "block":
			set[k] = n
		default:
			return nil, 0, fmt.Errorf("unknown option %q", k)
		}
	}
	return func(o *pebble.Options) {
		o.MemTableSize /= scale
		o.LBaseMaxBytes = 64 << 20 / scale
		o.TargetFileSizes[0] = 2 << 20 / scale
		for k, n := range set {
			switch k {
			case "mem":
				o.MemTableSize = uint64(n) << 20 / scale
			case "memstop":
				o.MemTableStopWritesThreshold = int(n)
			case "l0c":
				o.L0CompactionThreshold = int(n)
			case "l0files":
				o.L0CompactionFileThreshold = int(n)
			case "l0stop":
				o.L0StopWritesThreshold = int(n)
			case "lbase":
				o.LBaseMaxBytes = n << 20 / scale
			case "l0file":
				o.TargetFileSizes[0] = n << 20 / scale
			case "block":
				for i := range o.Levels {
					o.Levels[i].BlockSize = int(n) << 10
				}
			}
		}
		// Pebble doubles each level's target from the one before when it is
		// left unset.
		for i := 1; i < len(o.TargetFileSizes); i++ {
			o.TargetFileSizes[i] = 0
		}
		if n, ok := set["lfile"]; ok {
			o.TargetFileSizes[1] = n << 20 / scale
		}
	}, epochBytes, nil
}
