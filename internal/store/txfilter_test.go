package store

import (
	"context"
	"crypto/rand"
	"fmt"
	"sync"
	"testing"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/cairn-db/cairn/crypto"
)

func randomHashes(t testing.TB, n int) []crypto.Hash {
	t.Helper()
	hs := make([]crypto.Hash, n)
	for i := range hs {
		if _, err := rand.Read(hs[i][:]); err != nil {
			t.Fatal(err)
		}
	}
	return hs
}

func memDB(t *testing.T) *pebble.DB {
	t.Helper()
	db, err := pebble.Open("", &pebble.Options{FS: vfs.NewMem(), Logger: quietLogger{}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// commitSynced writes hashes as a joined store records them (one block of
// hashes per call) and commits.
func commitSynced(t *testing.T, s *Store, height uint64, hs []crypto.Hash) {
	t.Helper()
	b := s.DB().NewBatch()
	defer b.Close()
	for i, h := range hs {
		if err := s.StageSyncedTx(b, h, height, uint32(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Commit(pebble.NoSync); err != nil {
		t.Fatal(err)
	}
}

// The filter never changes an answer: committed hashes are found whether
// they were in the database before the load or committed after it, and
// hashes never committed are not.
func TestTxFilterAnswersAsTheIndex(t *testing.T) {
	db := memDB(t)
	before := randomHashes(t, 5000)
	commitSynced(t, New(db), 1, before)

	s := New(db) // as after a restart: the filter starts empty
	if s.TxFilterReady() {
		t.Fatal("filter ready before it was loaded")
	}
	for _, h := range before[:100] {
		if ok, err := s.HasTx(h); err != nil || !ok {
			t.Fatalf("before the load: HasTx(%s) = %v, %v; want true", h, ok, err)
		}
	}
	if err := s.LoadTxFilter(make(chan struct{})); err != nil {
		t.Fatal(err)
	}
	if !s.TxFilterReady() {
		t.Fatal("filter not ready after the load")
	}
	after := randomHashes(t, 5000)
	commitSynced(t, s, 2, after)
	for _, set := range [][]crypto.Hash{before, after} {
		for _, h := range set {
			if ok, err := s.HasTx(h); err != nil || !ok {
				t.Fatalf("HasTx(%s) = %v, %v; want true", h, ok, err)
			}
		}
	}
	absent := 0
	others := randomHashes(t, 20000)
	for _, h := range others {
		if ok, err := s.HasTx(h); err != nil || ok {
			t.Fatalf("HasTx of a hash never committed = %v, %v", ok, err)
		}
		if s.txs.absent(&h) {
			absent++
		}
	}
	// About 1% false positives by design; they are read from Pebble.
	if absent < len(others)*95/100 {
		t.Fatalf("filter answered %d of %d misses; want nearly all", absent, len(others))
	}
}

// Commits that land while the index is being scanned are in the filter
// when it starts answering.
func TestTxFilterLoadBesideCommits(t *testing.T) {
	db := memDB(t)
	first := New(db)
	var committed [][]crypto.Hash
	for h := uint64(1); h <= 20; h++ {
		hs := randomHashes(t, 2000)
		commitSynced(t, first, h, hs)
		committed = append(committed, hs)
	}
	s := New(db)
	var wg sync.WaitGroup
	var loadErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		loadErr = s.LoadTxFilter(make(chan struct{}))
	}()
	for h := uint64(21); h <= 40; h++ {
		hs := randomHashes(t, 500)
		commitSynced(t, s, h, hs)
		committed = append(committed, hs)
	}
	wg.Wait()
	if loadErr != nil {
		t.Fatal(loadErr)
	}
	for _, hs := range committed {
		for _, h := range hs {
			if s.txs.absent(&h) {
				t.Fatalf("committed hash %s missing from the filter", h)
			}
		}
	}
}

// A load stopped early leaves the filter unready: every check reads Pebble.
func TestTxFilterStoppedLoadDoesNotAnswer(t *testing.T) {
	db := memDB(t)
	commitSynced(t, New(db), 1, randomHashes(t, 10000))
	s := New(db)
	stop := make(chan struct{})
	close(stop)
	if err := s.LoadTxFilter(stop); err != nil {
		t.Fatal(err)
	}
	if s.TxFilterReady() {
		t.Fatal("a stopped load made the filter answer")
	}
	h := randomHashes(t, 1)[0]
	if s.txs.absent(&h) {
		t.Fatal("unready filter answered")
	}
}

// The filter grows by segments past its first size and keeps every hash.
func TestTxFilterGrows(t *testing.T) {
	var f txFilter
	hs := randomHashes(t, firstSegmentTxs+firstSegmentTxs/2)
	f.add(hs...)
	f.ready.Store(true)
	if n := len(*f.segs.Load()); n != 2 {
		t.Fatalf("%d segments for %d hashes; want 2", n, len(hs))
	}
	for i := range hs {
		if f.absent(&hs[i]) {
			t.Fatalf("hash %d of %d lost", i, len(hs))
		}
	}
	fp := 0
	others := randomHashes(t, 100000)
	for i := range others {
		if !f.absent(&others[i]) {
			fp++
		}
	}
	// Two segments, each about 1%.
	if fp > len(others)*4/100 {
		t.Fatalf("%d false positives in %d", fp, len(others))
	}
}

func BenchmarkHasTxMiss(b *testing.B) {
	for _, filter := range []bool{false, true} {
		name := "pebble"
		if filter {
			name = "filter"
		}
		b.Run(name, func(b *testing.B) {
			db, err := pebble.Open("", &pebble.Options{FS: vfs.NewMem(), Logger: quietLogger{}})
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			s := New(db)
			batch := db.NewBatch()
			for i, h := range randomHashes(b, 200000) {
				if err := s.StageSyncedTx(batch, h, 1+uint64(i/10000), uint32(i%10000)); err != nil {
					b.Fatal(err)
				}
			}
			if err := batch.Commit(pebble.NoSync); err != nil {
				b.Fatal(err)
			}
			if err := db.Flush(); err != nil {
				b.Fatal(err)
			}
			if filter {
				if err := s.LoadTxFilter(make(chan struct{})); err != nil {
					b.Fatal(err)
				}
			}
			miss := randomHashes(b, 4096)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := s.HasTx(miss[i%len(miss)]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

type quietLogger struct{}

func (quietLogger) Infof(string, ...any)  {}
func (quietLogger) Errorf(string, ...any) {}
func (quietLogger) Fatalf(format string, args ...any) {
	panic(fmt.Sprintf(format, args...))
}

// BenchmarkLoadTxFilter reports how fast the index is scanned into the
// filter after open (docs/operations.md, "Memory").
func BenchmarkLoadTxFilter(b *testing.B) {
	const n = 1_000_000
	db, err := pebble.Open(b.TempDir(), &pebble.Options{Logger: quietLogger{}})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	w := New(db)
	hs := randomHashes(b, n)
	for lo := 0; lo < n; lo += 10000 {
		batch := db.NewBatch()
		for i, h := range hs[lo : lo+10000] {
			if err := w.StageSyncedTx(batch, h, 1+uint64(lo/10000), uint32(i)); err != nil {
				b.Fatal(err)
			}
		}
		if err := batch.Commit(pebble.NoSync); err != nil {
			b.Fatal(err)
		}
	}
	if err := db.Compact(context.Background(), []byte{pTx}, []byte{pTx + 1}, true); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s := New(db)
		if err := s.LoadTxFilter(make(chan struct{})); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds()/1e6, "Mhashes/s")
}
