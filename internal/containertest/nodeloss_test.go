package containertest

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cairn-db/cairn/client"
)

// TestNodeLoss removes a validator's container and its data volume (docker
// rm -f, docker volume rm) while load runs, and rebuilds it from nothing
// but its home (genesis, key, config) with `cairn node --state-sync`,
// fetching a snapshot from the other validators' APIs over the peer
// network. The three others go on committing meanwhile; the rebuilt one
// joins at a snapshot height, catches up and votes again. At the end the
// four chains are identical over every block the rebuilt one holds (it has
// no bodies before its snapshot: those answer 410 height_pruned), the
// three others are identical from height 1, and every acknowledged
// transaction is on the three others, and on the rebuilt one wherever it
// was committed after its snapshot.
func TestNodeLoss(t *testing.T) {
	t.Parallel() // each test has its own networks, volumes and containers
	c := startClusterEnv(t, 4, "CAIRN_SNAPSHOT_INTERVAL=10")
	l := c.startLoad(t, writers)
	defer l.cancel()
	l.waitAcks(t, 10, time.Minute, "before the loss")
	c.waitHeight([]int{0, 1, 2, 3}, 25, 2*time.Minute)

	// Lose node3 and everything it stored.
	c.docker(time.Minute, "rm", "-f", "-v", c.name(3))
	c.docker(time.Minute, "volume", "rm", c.dataVolume(3))
	c.forget(3)
	lostAt := c.height(0)
	c.waitHeight([]int{0, 1, 2}, lostAt+10, time.Minute)
	l.waitAcks(t, 20, time.Minute, "with node3 gone")

	// Rebuild it: a new, empty volume; state sync from the other three.
	c.create(3, "--state-sync", "--state-sync-providers", "http://node0:8080,http://node1:8080,http://node2:8080")
	c.docker(time.Minute, "start", c.name(3))
	c.waitReady(3, 2*time.Minute)
	logs := c.docker(30*time.Second, "logs", c.name(3))
	if !strings.Contains(logs, "state sync: done") {
		t.Fatalf("node3 did not join by state sync; its log:\n%s", logs)
	}
	oldest := c.oldestBlock(3)
	if oldest <= 1 {
		t.Fatalf("node3 holds blocks from %d: it replayed the chain instead of joining from a snapshot", oldest)
	}
	t.Logf("node3 lost at height %d, rebuilt from a snapshot: holds blocks from %d", lostAt, oldest)
	top := c.height(0)
	c.waitHeight([]int{3}, top, time.Minute)
	l.waitAcks(t, 20, time.Minute, "after node3 rejoined")

	acked := l.stop()
	if f := l.failures(); len(f) > 0 {
		t.Fatalf("%d kv.put transactions committed as failed, e.g. %s", len(f), f[0])
	}
	h := c.converge(90 * time.Second)
	c.sameChains([]int{0, 1, 2}, h)
	c.sameChainsFrom([]int{0, 3}, oldest, h)
	c.holdsAllOn([]int{0, 1, 2}, acked, 0)
	c.holdsAllOn([]int{3}, acked, oldest)
	t.Logf("%d transactions acknowledged; 4 validators agree on blocks %d..%d (node3) and 1..%d (the others)", len(acked), oldest, h, h)
}

// oldestBlock asks validator i for block 1 and returns 1, or the oldest
// height its 410 height_pruned answer names.
func (c *cluster) oldestBlock(i int) uint64 {
	c.t.Helper()
	u, err := c.url(i)
	if err != nil {
		c.t.Fatal(err)
	}
	resp, err := http.Get(u + "/v1/blocks/1")
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		return 1
	}
	var body struct {
		Error  client.ErrorBody `json:"error"`
		Oldest uint64           `json:"oldest_height"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != http.StatusGone || body.Error.Code != "height_pruned" {
		c.t.Fatalf("node%d block 1: %d %+v %v", i, resp.StatusCode, body, err)
	}
	return body.Oldest
}

// sameChainsFrom compares block hashes from..upTo across nodes.
func (c *cluster) sameChainsFrom(nodes []int, from, upTo uint64) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for h := from; h <= upTo; h++ {
		var want string
		for k, i := range nodes {
			cl, err := c.client(i)
			if err != nil {
				c.t.Fatal(err)
			}
			b, err := cl.Block(ctx, h)
			if err != nil {
				c.t.Fatalf("node%d block %d: %v", i, h, err)
			}
			if k == 0 {
				want = b.Hash.String()
			} else if b.Hash.String() != want {
				c.t.Fatalf("FORK at height %d: node%d has %s, node%d has %s", h, nodes[0], want, i, b.Hash)
			}
		}
	}
}

// holdsAllOn checks that each of nodes has every acknowledged transaction
// committed at or after from at the height its acknowledgement named.
func (c *cluster) holdsAllOn(nodes []int, acked []ack, from uint64) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	n := 0
	for _, i := range nodes {
		cl, err := c.client(i)
		if err != nil {
			c.t.Fatal(err)
		}
		for _, a := range acked {
			if a.height < from {
				continue
			}
			n++
			st, err := cl.Tx(ctx, a.hash)
			if err != nil {
				c.t.Fatalf("LOST: node%d does not have acknowledged tx %s (height %d): %v", i, a.hash, a.height, err)
			}
			if st.Status != "committed" || st.Height != a.height {
				c.t.Fatalf("node%d: acknowledged tx %s (committed at %d) is %s at height %d", i, a.hash, a.height, st.Status, st.Height)
			}
		}
	}
	if n == 0 {
		c.t.Fatalf("no acknowledged transaction at or after height %d to check on %v", from, nodes)
	}
}
