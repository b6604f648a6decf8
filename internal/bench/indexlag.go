package bench

import (
	"context"
	"sync"
	"time"

	"github.com/cairn-db/cairn/client"
)

// IndexLag is how far one node's search index trailed the chain during a
// run, measured by polling GET /v1/status. For a validator the chain is its
// own; for a follower it is the validators' (the highest height any of them
// reported in the same poll), so a follower's lag includes receiving and
// re-executing each block, not only indexing it.
type IndexLag struct {
	Node string `json:"node"`
	// Follower marks a follower's lag (measured against the validators).
	Follower bool `json:"follower,omitempty"`
	// LagS summarises, over the heights the node committed during the
	// run, the seconds from the first poll that showed the height
	// committed to the first that showed it indexed (so each figure is
	// within one poll interval). A height never seen indexed counts with
	// the time it had waited when polling stopped, a lower bound.
	LagS Percentiles `json:"lag_s"`
	// Heights is how many heights were measured; Unindexed how many of
	// them were still not searchable when polling stopped.
	Heights   int `json:"heights"`
	Unindexed int `json:"unindexed_heights"`
	// MaxBehind is the most committed heights ever not yet indexed.
	MaxBehind uint64 `json:"max_heights_behind"`
}

// statusSample is one poll of one node.
type statusSample struct {
	at              time.Time
	height, indexed uint64
	searchEnabled   bool
}

// lagTracker follows one node's committed and indexed heights.
type lagTracker struct {
	name      string
	follower  bool
	start     uint64 // height before the run: not measured
	started   bool
	enabled   bool
	height    uint64
	indexed   uint64
	committed map[uint64]time.Time
	searched  map[uint64]time.Time
	maxBehind uint64
}

func newLagTracker(name string) *lagTracker {
	return &lagTracker{name: name, committed: map[uint64]time.Time{}, searched: map[uint64]time.Time{}}
}

// observe records one status answer.
func (t *lagTracker) observe(s statusSample) {
	if !t.started {
		t.started, t.start, t.height, t.indexed = true, s.height, s.height, s.indexed
	}
	t.enabled = s.searchEnabled
	for h := t.height + 1; h <= s.height; h++ {
		t.committed[h] = s.at
	}
	t.height = max(t.height, s.height)
	for h := t.indexed + 1; h <= s.indexed; h++ {
		if h > t.start {
			t.searched[h] = s.at
		}
	}
	t.indexed = max(t.indexed, s.indexed)
	if t.height > t.indexed && t.height-t.indexed > t.maxBehind {
		t.maxBehind = t.height - t.indexed
	}
}

// caughtUp reports whether everything committed so far is indexed.
func (t *lagTracker) caughtUp() bool { return !t.enabled || t.indexed >= t.height }

// result summarises the lag; end is when polling stopped.
func (t *lagTracker) result(end time.Time) IndexLag {
	r := IndexLag{Node: t.name, Follower: t.follower, MaxBehind: t.maxBehind}
	lags := make([]float64, 0, len(t.committed))
	for h, c := range t.committed {
		at, ok := t.searched[h]
		if !ok {
			r.Unindexed++
			at = end
		}
		lags = append(lags, max(0, at.Sub(c).Seconds()))
	}
	r.Heights = len(lags)
	r.LagS = Summarize(lags)
	return r
}

// lagMonitor polls every node's status and tracks its index lag.
type lagMonitor struct {
	clients   []*client.Client
	names     []string
	followers int // the last followers of clients are followers
	interval  time.Duration

	mu       sync.Mutex
	trackers []*lagTracker
}

func newLagMonitor(clients []*client.Client, names []string, followers int, interval time.Duration) *lagMonitor {
	m := &lagMonitor{clients: clients, names: names, followers: followers, interval: interval}
	for _, n := range names {
		m.trackers = append(m.trackers, newLagTracker(n))
	}
	return m
}

// poll asks every node once, concurrently.
func (m *lagMonitor) poll(ctx context.Context) {
	var wg sync.WaitGroup
	samples := make([]*statusSample, len(m.clients))
	for i, c := range m.clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			st, err := c.Status(pctx)
			cancel()
			if err != nil {
				return // a node that does not answer is measured by its next answer
			}
			samples[i] = &statusSample{at: time.Now(), height: st.Height, indexed: st.IndexedHeight, searchEnabled: st.SearchEnabled}
		}()
	}
	wg.Wait()
	validators := len(m.clients) - m.followers
	var chain uint64
	for _, s := range samples[:validators] {
		if s != nil {
			chain = max(chain, s.height)
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for i, s := range samples {
		if s == nil {
			continue
		}
		if i >= validators {
			m.trackers[i].follower = true
			s.height = max(s.height, chain)
		}
		m.trackers[i].observe(*s)
	}
}

// run polls until ctx ends.
func (m *lagMonitor) run(ctx context.Context) {
	t := time.NewTicker(m.interval)
	defer t.Stop()
	for {
		m.poll(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// caughtUp reports whether every node with search has indexed all it had
// committed at its last answer.
func (m *lagMonitor) caughtUp() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, t := range m.trackers {
		if t.started && !t.caughtUp() {
			return false
		}
	}
	return true
}

// results lists the lag of every node that has a search index.
func (m *lagMonitor) results(end time.Time) []IndexLag {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []IndexLag
	for _, t := range m.trackers {
		if t.started && t.enabled {
			out = append(out, t.result(end))
		}
	}
	return out
}
