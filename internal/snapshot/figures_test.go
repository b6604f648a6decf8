package snapshot

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/cairn-db/cairn/internal/ledger"
	"github.com/cairn-db/cairn/types"
)

var (
	figureKeys = flag.Int("statesync.keys", 0, "build a chain of this many kv keys, snapshot it and time a state sync join in a child process (0: skip)")
	figureDir  = flag.String("statesync.dir", "", "keep the built chain in this directory and reuse it on the next run (default: a temporary directory)")
)

// TestStateSyncFigures measures a join by state sync: a chain with
// -statesync.keys kv keys is built through a real ledger (blocks of 10,000
// kv.put txs proposed and committed with quorum certificates; the txs are
// left unsigned and executed with signature checks off, which changes
// nothing in the state but saves building time), snapshotted, and served
// by the real API on 127.0.0.1; a child process (this test binary) then
// state-syncs a new ledger from it. It reports the snapshot's size and
// time, and the join's wall time, CPU (getrusage) and the child's own
// peak RSS (VmHWM).
//
//	go test ./internal/snapshot -run TestStateSyncFigures -statesync.keys=1000000 -v -timeout 30m
func TestStateSyncFigures(t *testing.T) {
	if *figureKeys <= 0 {
		t.Skip("SKIPPED: set -statesync.keys=N to measure a state sync join")
	}
	dir := t.TempDir()
	pdir := filepath.Join(dir, "provider")
	if *figureDir != "" {
		pdir = *figureDir
	}
	c := newChain(t, pdir, 100)
	start := time.Now()
	const perBlock = 10_000
	for n := int(c.l.Head().Height) * perBlock; n < *figureKeys; {
		batch := min(perBlock, *figureKeys-n)
		txs := make([]*types.Tx, batch)
		for i := range txs {
			u := c.users[(n+i)%len(c.users)]
			c.nonce[u.Public()]++
			txs[i] = &types.Tx{ChainID: c.g.ChainID, Nonce: c.nonce[u.Public()], Timestamp: 1_700_000_000_000, Sender: u.Public(),
				Payload: &types.KVPut{Key: fmt.Sprintf("figure/%09d", n+i), Value: fmt.Sprintf("value of key %d, some bytes to carry", n+i)}}
		}
		c.commit(t, true, txs...)
		n += batch
	}
	built := time.Since(start)
	st, err := Open(filepath.Join(dir, "snapshots"), 0)
	if err != nil {
		t.Fatal(err)
	}
	pin := c.l.Pin()
	snap, err := st.Take(t.Context(), pin, c.g.ChainID)
	pin.Close()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("chain: %d keys in %d heights built in %v; snapshot: %d keys, %d txs, %d chunks, %.1f MiB, taken in %v",
		snap.Keys, snap.Height, built.Round(time.Second), snap.Keys, snap.Txs, snap.Chunks, float64(snap.Bytes)/(1<<20), snap.Took.Round(time.Millisecond))
	srv := serveAPI(t, c.l, st)
	gpath := filepath.Join(dir, "genesis.json")
	if err := c.g.Save(gpath); err != nil {
		t.Fatal(err)
	}
	joined := filepath.Join(dir, "joined")
	cmd := exec.Command(os.Args[0], "-test.run=^TestStateSyncChild$", "-test.v")
	cmd.Env = append(os.Environ(), "CAIRN_SYNC_CHILD=1", "CAIRN_SYNC_URL="+srv.URL, "CAIRN_SYNC_GENESIS="+gpath, "CAIRN_SYNC_DIR="+joined)
	start = time.Now()
	out, err := cmd.CombinedOutput()
	took := time.Since(start)
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	t.Logf("join: %v wall, %.1f s CPU (child process); child says:\n%s",
		took.Round(time.Millisecond), time.Duration(ru.Utime.Nano()+ru.Stime.Nano()).Seconds(), out)
	j := openLedger(t, c.g, joined)
	defer j.Close()
	if j.Head() != c.l.Head() {
		t.Fatalf("joined head %+v, chain %+v", j.Head(), c.l.Head())
	}
}

// TestStateSyncChild is the joining side of TestStateSyncFigures, run in
// its own process so that its memory is measured alone.
func TestStateSyncChild(t *testing.T) {
	if os.Getenv("CAIRN_SYNC_CHILD") != "1" {
		t.Skip("SKIPPED: run by TestStateSyncFigures")
	}
	g, err := types.LoadGenesis(os.Getenv("CAIRN_SYNC_GENESIS"))
	if err != nil {
		t.Fatal(err)
	}
	dir := os.Getenv("CAIRN_SYNC_DIR")
	if p := os.Getenv("CAIRN_SYNC_CPUPROFILE"); p != "" {
		f, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			t.Fatal(err)
		}
		defer pprof.StopCPUProfile()
	}
	var peak atomic.Uint64
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
				if p := os.Getenv("CAIRN_SYNC_HEAPPROFILE"); p != "" {
					if f, err := os.Create(p); err == nil {
						_ = pprof.WriteHeapProfile(f)
						f.Close()
					}
				}
			}
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()
	res, err := Sync(t.Context(), SyncConfig{Providers: []string{os.Getenv("CAIRN_SYNC_URL")}, LedgerDir: dir,
		Open: func() (*ledger.Ledger, error) { return ledger.Open(ledger.Options{Dir: dir}, g) }})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(res)
	// VmHWM is this process's own peak RSS; getrusage's maxrss of a child
	// would also count the parent's RSS at the fork before exec.
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	hwm := "unknown"
	for _, line := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			hwm = strings.TrimSpace(v)
		}
	}
	t.Logf("result %s; peak RSS (VmHWM) %s; peak Go heap in use %.0f MiB", b, hwm, float64(peak.Load())/(1<<20))
}
