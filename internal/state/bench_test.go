package state

import (
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"

	"github.com/cairn-db/cairn/internal/cputime"
	"github.com/cairn-db/cairn/smt"
)

// The benchmarks share one on-disk tree of benchKeys() account keys, built
// once per process in blocks of 100,000 writes.
var bench struct {
	once sync.Once
	err  error
	dir  string
	db   *pebble.DB
	s    *Tree
	keys [][]byte
	rng  *rand.Rand
	dur  time.Duration
}

// benchKeys is the size of the benchmark tree: 1,000,000 keys (about 25 s
// to build on 2 cores), 100,000 with -short, or CAIRN_STATE_BENCH_KEYS.
func benchKeys() int {
	if v, err := strconv.Atoi(os.Getenv("CAIRN_STATE_BENCH_KEYS")); err == nil && v > 0 {
		return v
	}
	if testing.Short() {
		return 100_000
	}
	return 1_000_000
}

func TestMain(m *testing.M) {
	code := m.Run()
	if bench.db != nil {
		bench.db.Close()
	}
	if bench.dir != "" {
		os.RemoveAll(bench.dir)
	}
	os.Exit(code)
}

func benchPebbleOptions() *pebble.Options {
	mem := uint64(64 << 20)
	if v, err := strconv.Atoi(os.Getenv("CAIRN_STATE_BENCH_MEMTABLE_MB")); err == nil && v > 0 {
		mem = uint64(v) << 20
	}
	o := &pebble.Options{
		MemTableSize: mem,
		Cache:        pebble.NewCache(512 << 20),
	}
	// Node keys are random hashes, so without filters every Get of a
	// node not in the node cache searches every level.
	o.Levels[0].FilterPolicy = bloom.FilterPolicy(10)
	return o
}

func accountKey(r *rand.Rand) []byte {
	k := make([]byte, 21)
	k[0] = 'a'
	for i := 1; i < len(k); i++ {
		k[i] = byte(r.Uint32())
	}
	return k
}

func value16(r *rand.Rand) []byte {
	v := make([]byte, 16)
	for i := range v {
		v[i] = byte(r.Uint32())
	}
	return v
}

// commitBlock is Prepare + Stage + synced commit + Committed.
func commitBlock(s *Tree, db *pebble.DB, writes []Write) (*Update, int, error) {
	u, err := s.Prepare(nextHeight(s), writes)
	if err != nil {
		return nil, 0, err
	}
	b := db.NewBatch()
	defer b.Close()
	if err := s.Stage(b, u); err != nil {
		return nil, 0, err
	}
	n := b.Len()
	if err := b.Commit(pebble.Sync); err != nil {
		return nil, 0, err
	}
	s.Committed(u)
	return u, n, nil
}

func benchFixture(b *testing.B) {
	b.Helper()
	bench.once.Do(func() {
		start := time.Now()
		dir, err := os.MkdirTemp("", "cairn-state-bench")
		if err != nil {
			bench.err = err
			return
		}
		bench.dir = dir
		db, err := pebble.Open(dir, benchPebbleOptions())
		if err != nil {
			bench.err = err
			return
		}
		bench.db = db
		s, err := Open(db, Options{})
		if err != nil {
			bench.err = err
			return
		}
		bench.s = s
		bench.rng = rand.New(rand.NewPCG(42, 42))
		n := benchKeys()
		const chunk = 100_000
		for done := 0; done < n; done += chunk {
			ws := make([]Write, 0, chunk)
			for i := 0; i < chunk && done+i < n; i++ {
				k := accountKey(bench.rng)
				bench.keys = append(bench.keys, k)
				ws = append(ws, Write{Key: k, Value: value16(bench.rng)})
			}
			if _, _, err := commitBlock(s, db, ws); err != nil {
				bench.err = err
				return
			}
		}
		// Let the build's compactions finish so they do not run during
		// the first measurements (bounded wait).
		for i := 0; i < 600 && db.Metrics().Compact.NumInProgress > 0; i++ {
			time.Sleep(100 * time.Millisecond)
		}
		bench.dur = time.Since(start)
		fmt.Fprintf(os.Stderr, "state bench: built %d keys in %d blocks in %v\n", n, s.Height()+1, bench.dur.Round(time.Millisecond))
	})
	if bench.err != nil {
		b.Fatalf("building bench tree: %v", bench.err)
	}
}

// transferWrites returns 20,000 writes: 10,000 transfers, each writing the
// sender's and the receiver's account (existing keys), 16-byte values.
func transferWrites(r *rand.Rand, keys [][]byte) []Write {
	ws := make([]Write, 0, 20_000)
	for i := 0; i < 10_000; i++ {
		ws = append(ws,
			Write{Key: keys[r.IntN(len(keys))], Value: value16(r)},
			Write{Key: keys[r.IntN(len(keys))], Value: value16(r)})
	}
	return ws
}

// BenchmarkApply20k measures one block of 10,000 transfers (20,000 writes
// to existing keys) on the 1M-key tree: Prepare, Stage and a synced batch
// commit. Each iteration applies fresh values. Besides wall time per phase
// it reports the CPU time of the benchmark's own thread per phase
// (*-cpu-ms/op: what the block costs the committing goroutine, insensitive
// to other load on the machine) and the process CPU time per block
// (cpu-ms/op), which adds Pebble's background flushes and compactions and
// the garbage collector.
func BenchmarkApply20k(b *testing.B) {
	benchFixture(b)
	s, db := bench.s, bench.db
	r := bench.rng
	diskBefore := db.Metrics().DiskSpaceUsage()
	var prepare, stage, commit, cpu, prepareCPU, stageCPU, commitCPU, committedCPU time.Duration
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var nodes, batchBytes, writes, loads, misses int
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		ws := transferWrites(r, bench.keys)
		b.StartTimer()
		c0 := cputime.Process()
		t0, tc0 := time.Now(), threadCPU()
		u, err := s.Prepare(s.Height()+1, ws)
		if err != nil {
			b.Fatal(err)
		}
		t1, tc1 := time.Now(), threadCPU()
		batch := db.NewBatch()
		if err := s.Stage(batch, u); err != nil {
			b.Fatal(err)
		}
		t2, tc2 := time.Now(), threadCPU()
		batchBytes += batch.Len()
		if err := batch.Commit(pebble.Sync); err != nil {
			b.Fatal(err)
		}
		tc25 := threadCPU()
		s.Committed(u)
		t3, tc3 := time.Now(), threadCPU()
		committedCPU += tc3 - tc25
		cpu += cputime.Process() - c0
		prepareCPU += tc1 - tc0
		stageCPU += tc2 - tc1
		commitCPU += tc3 - tc2
		batch.Close()
		prepare += t1.Sub(t0)
		stage += t2.Sub(t1)
		commit += t3.Sub(t2)
		nodes += u.NodeCount()
		loads += u.loads
		misses += u.misses
		writes += len(ws)
	}
	b.StopTimer()
	n := float64(b.N)
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 / n }
	b.ReportMetric(ms(prepare), "prepare-ms/op")
	b.ReportMetric(ms(stage), "stage-ms/op")
	b.ReportMetric(ms(commit), "commit-ms/op")
	b.ReportMetric(ms(cpu), "cpu-ms/op")
	b.ReportMetric(ms(prepareCPU), "prepare-cpu-ms/op")
	b.ReportMetric(ms(stageCPU), "stage-cpu-ms/op")
	b.ReportMetric(ms(commitCPU), "commit-cpu-ms/op")
	b.ReportMetric(ms(committedCPU), "committed-cpu-ms/op")
	b.ReportMetric(float64(nodes)/n, "nodes/op")
	b.ReportMetric(float64(loads)/n, "loads/op")
	b.ReportMetric(float64(misses)/n, "misses/op")
	b.ReportMetric(float64(batchBytes)/float64(writes), "batch-B/write")
	if err := db.Flush(); err == nil {
		if d := int64(db.Metrics().DiskSpaceUsage()) - int64(diskBefore); d > 0 {
			b.ReportMetric(float64(d)/float64(writes), "disk-B/write")
		}
	}
}

// BenchmarkProve measures proof generation (cached nodes) at the latest
// height of the 1M-key tree; half the keys are present, half absent.
func BenchmarkProve(b *testing.B) {
	benchFixture(b)
	benchProve(b, bench.s)
}

// BenchmarkProveUncached measures proof generation reading every node from
// Pebble (as after a restart, or at an old height).
func BenchmarkProveUncached(b *testing.B) {
	benchFixture(b)
	s, err := Open(bench.db, Options{NodeCacheSize: -1})
	if err != nil {
		b.Fatal(err)
	}
	benchProve(b, s)
}

func benchProve(b *testing.B, s *Tree) {
	r := rand.New(rand.NewPCG(7, 7))
	h := s.Height()
	depth := 0
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var k []byte
		if i%2 == 0 {
			k = bench.keys[r.IntN(len(bench.keys))]
		} else {
			k = accountKey(r)
		}
		_, _, p, err := s.Prove(k, h)
		if err != nil {
			b.Fatal(err)
		}
		depth += len(p.Siblings)
	}
	b.ReportMetric(float64(depth)/float64(b.N), "siblings/op")
}

// BenchmarkVerifyProof measures verification of membership proofs from the
// 1M-key tree.
func BenchmarkVerifyProof(b *testing.B) {
	benchFixture(b)
	s := bench.s
	root := s.Root()
	r := rand.New(rand.NewPCG(8, 8))
	type item struct {
		key, value []byte
		p          *smt.Proof
	}
	items := make([]item, 256)
	size := 0
	for i := range items {
		k := bench.keys[r.IntN(len(bench.keys))]
		v, found, p, err := s.Prove(k, s.Height())
		if err != nil || !found {
			b.Fatalf("prove: found=%v err=%v", found, err)
		}
		items[i] = item{k, v, p}
		size += len(p.Encode())
	}
	b.ReportMetric(float64(size)/float64(len(items)), "proof-bytes")
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		it := items[i%len(items)]
		if err := smt.Verify(root, it.key, it.value, it.p); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCheckTree measures the audit of the whole tree at the latest
// height, every node read from Pebble and rehashed.
func BenchmarkCheckTree(b *testing.B) {
	benchFixture(b)
	for i := 0; i < b.N; i++ {
		if err := bench.s.CheckTree(bench.s.Height()); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPrepareOnly isolates the tree update of a 20k-write block (no
// storage writes), to separate hashing from Pebble costs.
func BenchmarkPrepareOnly(b *testing.B) {
	benchFixture(b)
	ws := transferWrites(rand.New(rand.NewPCG(9, 9)), bench.keys)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := bench.s.Prepare(bench.s.Height()+1, ws); err != nil {
			b.Fatal(err)
		}
	}
}
