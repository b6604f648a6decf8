package state

import (
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
	"github.com/cockroachdb/pebble/v2/sstable"
)

// BenchmarkWriteAmp commits many heights of transfer-like updates (random
// existing accounts plus a few new ones per block) to an on-disk tree and
// reports Pebble's write amplification, (flushed + compacted bytes) / WAL
// bytes, over the first and the last quarter of the heights: a layout
// whose compaction cost grows with the chain shows last-wa well above
// first-wa. The LSM is the node's of storage format 2 (internal/ledger: 64 MiB memtable,
// Pebble's 64 MiB base level and 2 MiB L0 files, bloom filters, no
// compression) scaled down 16 times, so that a few hundred megabytes
// written build the levels a long run builds. b.N is ignored: one run is
// CAIRN_STATE_WA_BLOCKS blocks (default 400) of CAIRN_STATE_WA_WRITES
// writes (default 2,000) on CAIRN_STATE_WA_KEYS accounts (default 20,000).
//
//	go test ./internal/state -run '^$' -bench WriteAmp -benchtime 1x
func BenchmarkWriteAmp(b *testing.B) {
	env := func(name string, def int) int {
		if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
			return v
		}
		return def
	}
	blocks := env("CAIRN_STATE_WA_BLOCKS", 400)
	writes := env("CAIRN_STATE_WA_WRITES", 2_000)
	nkeys := env("CAIRN_STATE_WA_KEYS", 20_000)
	for i := 0; i < b.N; i++ {
		dir := b.TempDir()
		o := &pebble.Options{
			MemTableSize:  64 << 20 / 16,
			LBaseMaxBytes: 64 << 20 / 16,
			Cache:         pebble.NewCache(64 << 20),
		}
		o.TargetFileSizes[0] = 2 << 20 / 16
		o.Levels[0].FilterPolicy = bloom.FilterPolicy(10)
		o.Levels[0].Compression = func() *sstable.CompressionProfile { return sstable.NoCompression }
		db, err := pebble.Open(dir, o)
		if err != nil {
			b.Fatal(err)
		}
		s, err := Open(db, Options{})
		if err != nil {
			b.Fatal(err)
		}
		r := rand.New(rand.NewPCG(7, 7))
		keys := make([][]byte, 0, nkeys+blocks*writes/50)
		var ws []Write
		for len(keys) < nkeys {
			k := accountKey(r)
			keys = append(keys, k)
			ws = append(ws, Write{Key: k, Value: value16(r)})
		}
		if _, _, err := commitBlock(s, db, ws); err != nil {
			b.Fatal(err)
		}
		type sample struct{ wal, flushed, compacted uint64 }
		take := func() sample {
			m := db.Metrics()
			var c uint64
			for l := range m.Levels {
				c += m.Levels[l].TableBytesCompacted
			}
			return sample{wal: m.WAL.BytesWritten, flushed: m.Levels[0].TableBytesFlushed, compacted: c}
		}
		wa := func(a, z sample) float64 {
			if z.wal == a.wal {
				return 0
			}
			return float64(z.flushed-a.flushed+z.compacted-a.compacted) / float64(z.wal-a.wal)
		}
		marks := []sample{take()}
		b.ResetTimer()
		for h := 0; h < blocks; h++ {
			ws = ws[:0]
			for j := 0; j < writes; j++ {
				var k []byte
				if j%50 == 0 { // a new account now and then, as transfers create them
					k = accountKey(r)
					keys = append(keys, k)
				} else {
					k = keys[r.IntN(len(keys))]
				}
				ws = append(ws, Write{Key: k, Value: value16(r)})
			}
			if _, _, err := commitBlock(s, db, ws); err != nil {
				b.Fatal(err)
			}
			if (h+1)%(blocks/4) == 0 {
				marks = append(marks, take())
			}
		}
		b.StopTimer()
		first, last := wa(marks[0], marks[1]), wa(marks[len(marks)-2], marks[len(marks)-1])
		all := wa(marks[0], marks[len(marks)-1])
		end := marks[len(marks)-1]
		b.ReportMetric(first, "first-wa")
		b.ReportMetric(last, "last-wa")
		b.ReportMetric(all, "wa")
		b.ReportMetric(float64(end.compacted-marks[0].compacted)/float64(blocks)/1e3, "compacted-KB/block")
		b.ReportMetric(float64(end.wal-marks[0].wal)/float64(blocks)/1e3, "wal-KB/block")
		m := db.Metrics()
		fmt.Fprintf(os.Stderr, "write amp by quarter:")
		for q := 1; q < len(marks); q++ {
			fmt.Fprintf(os.Stderr, " %.2f", wa(marks[q-1], marks[q]))
		}
		fmt.Fprintf(os.Stderr, "; disk %d MB\n%s\n", m.DiskSpaceUsage()>>20, m)
		if err := db.Close(); err != nil {
			b.Fatal(err)
		}
	}
}
