package state

import (
	"bytes"
	"fmt"
	"math/rand"
	"slices"
	"testing"

	"github.com/cockroachdb/pebble/v2"
)

// historyModel is every version of every key, as written.
type historyModel map[string][]Version

func (m historyModel) at(key string, h uint64) (string, bool) {
	vs := m[key]
	for i := len(vs) - 1; i >= 0; i-- {
		if vs[i].Height <= h {
			return string(vs[i].Value), true
		}
	}
	return "", false
}

func (m historyModel) from(key string, h uint64, seq uint32, top uint64, limit int) []Version {
	var out []Version
	for _, v := range m[key] {
		if (v.Height > h || v.Height == h && v.Seq >= seq) && v.Height <= top && len(out) < limit {
			out = append(out, v)
		}
	}
	return out
}

func (m historyModel) newest(key string, h uint64, limit int) []Version {
	var out []Version
	vs := m[key]
	for i := len(vs) - 1; i >= 0 && len(out) < limit; i-- {
		if vs[i].Height <= h {
			out = append(out, vs[i])
		}
	}
	return out
}

func (m historyModel) truncate(to uint64) {
	for k, vs := range m {
		i := len(vs)
		for i > 0 && vs[i-1].Height > to {
			i--
		}
		if i == 0 {
			delete(m, k)
		} else {
			m[k] = vs[:i]
		}
	}
}

// prune drops what pruning to oldest deletes: each key's versions below
// the height of its value at oldest.
func (m historyModel) prune(oldest uint64) {
	for k, vs := range m {
		keep := 0
		for i, v := range vs {
			if v.Height <= oldest && (i == 0 || vs[i-1].Height != v.Height) {
				keep = i
			}
		}
		m[k] = vs[keep:]
	}
}

// commitRandom commits one block of writes to keys of very different
// write rates (a hot key, keys written now and then, one written once).
func commitRandom(t *testing.T, s *Tree, db *pebble.DB, rng *rand.Rand, m historyModel, keys []string) {
	t.Helper()
	h := nextHeight(s)
	var ws []Write
	for i := range keys {
		// Key i is written with probability 1/2^i, several times at most.
		if rng.Intn(1<<i) != 0 || (keys[i] == "once" && len(m["once"]) > 0) {
			continue
		}
		for range 1 + rng.Intn(2) {
			ws = append(ws, Write{Key: []byte(keys[i]), Value: fmt.Appendf(nil, "%s@%d.%d", keys[i], h, len(ws))})
		}
	}
	rng.Shuffle(len(ws), func(i, j int) { ws[i], ws[j] = ws[j], ws[i] })
	ws = append(ws, Write{Key: []byte("filler"), Value: bytes.Repeat([]byte{'f'}, 40)})
	for i, w := range ws {
		m[string(w.Key)] = append(m[string(w.Key)], Version{Height: h, Seq: uint32(i), Value: w.Value})
	}
	commitWrites(t, s, db, ws)
}

// checkHistory compares every read of the history with the model at each
// height from oldest up.
func checkHistory(t *testing.T, s *Tree, m historyModel, keys []string, oldest uint64) {
	t.Helper()
	top := s.Height()
	for _, k := range append(slices.Clone(keys), "never") {
		for h := oldest; h <= top; h++ {
			want, wantOK := m.at(k, h)
			v, ok, err := s.GetAt([]byte(k), h)
			if err != nil || ok != wantOK || string(v) != want {
				t.Fatalf("GetAt(%s, %d) = %q %v %v, want %q %v", k, h, v, ok, err, want, wantOK)
			}
			for _, limit := range []int{1, 3, 1000} {
				got, err := s.HistoryNewestAt([]byte(k), h, limit)
				if wantV := m.newest(k, h, limit); err != nil || fmt.Sprint(got) != fmt.Sprint(wantV) {
					t.Fatalf("HistoryNewestAt(%s, %d, %d) = %v %v, want %v", k, h, limit, got, err, wantV)
				}
				got, err = s.HistoryFrom([]byte(k), h, 1, limit)
				if wantV := m.from(k, h, 1, top, limit); err != nil || fmt.Sprint(got) != fmt.Sprint(wantV) {
					t.Fatalf("HistoryFrom(%s, %d, 1, %d) = %v %v, want %v", k, h, limit, got, err, wantV)
				}
			}
		}
		if oldest == 0 {
			got, err := s.History([]byte(k), 0, 1<<20)
			if wantV := m.from(k, 0, 0, top, 1<<20); err != nil || fmt.Sprint(got) != fmt.Sprint(wantV) {
				t.Fatalf("History(%s) = %v %v, want %v", k, got, err, wantV)
			}
		}
	}
}

// TestHistoryAcrossEpochs: with epochs a few blocks long, every history
// read (values at each height, listings both ways, with limits) answers
// what was written, for keys written in every block, now and then, once
// or never; after a reopen (which finds the epochs again), a rollback into
// the middle of an epoch and the blocks after it, and pruning.
func TestHistoryAcrossEpochs(t *testing.T) {
	db := openMemDB(t)
	opts := Options{Track: true, HistoryEpochBytes: 400}
	s := openState(t, db, opts)
	rng := rand.New(rand.NewSource(7))
	keys := []string{"hot", "warm", "k2", "k3", "k4", "rare", "once"}
	m := historyModel{}
	for range 120 {
		commitRandom(t, s, db, rng, m, keys)
	}
	if n := len(s.epochList()); n < 20 {
		t.Fatalf("%d epochs over 120 blocks: the test wants many", n)
	}
	checkHistory(t, s, m, keys, 0)

	// A reopened tree finds the same epochs.
	epochs := slices.Clone(s.epochList())
	s = openState(t, db, opts)
	if fmt.Sprint(s.epochList()) != fmt.Sprint(epochs) {
		t.Fatalf("reopened with epochs %v, wrote %v", s.epochList(), epochs)
	}
	checkHistory(t, s, m, keys, 0)

	// Roll back into the middle of an epoch.
	to := epochs[len(epochs)/2] + 1
	b := db.NewBatch()
	if err := s.StageRollback(b, to); err != nil {
		t.Fatal(err)
	}
	if err := b.Commit(pebble.Sync); err != nil {
		t.Fatal(err)
	}
	s = openState(t, db, opts)
	if s.Height() != to {
		t.Fatalf("rolled back to %d, tree at %d", to, s.Height())
	}
	m.truncate(to)
	for k := range keys {
		want, wantOK := m.at(keys[k], to)
		v, ok, err := s.Get([]byte(keys[k]))
		if err != nil || ok != wantOK || string(v) != want {
			t.Fatalf("after rollback: Get(%s) = %q %v %v, want %q %v", keys[k], v, ok, err, want, wantOK)
		}
	}
	checkHistory(t, s, m, keys, 0)
	for range 60 {
		commitRandom(t, s, db, rng, m, keys)
	}
	checkHistory(t, s, m, keys, 0)

	// Pruning keeps every height from oldest on readable.
	oldest := s.Height() - 40
	for {
		res, err := s.Prune(oldest, 50, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !res.More {
			break
		}
	}
	m.prune(oldest)
	checkHistory(t, s, m, keys, oldest)
	// What pruning deleted is the versions no height from oldest on needs.
	it, err := db.NewIter(&pebble.IterOptions{LowerBound: []byte{prefixState, prefixHistory}, UpperBound: []byte{prefixState, prefixHistory + 1}})
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	kept := map[string]int{}
	for ok := it.First(); ok; ok = it.Next() {
		_, key, _, _, err := parseHistoryKey(it.Key())
		if err != nil {
			t.Fatal(err)
		}
		kept[string(key)]++
	}
	for _, k := range keys {
		want := len(m[k])
		if kept[k] != want {
			t.Errorf("after pruning to %d, %s keeps %d versions, want %d", oldest, k, kept[k], want)
		}
	}
}
