package containertest

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cairn-db/cairn/client"
)

const writers = 4

// finish stops the load, waits for the validators to agree on one head and
// checks the whole chain and every acknowledged transaction on each; it
// returns that head and the acknowledged transactions.
func finish(t *testing.T, c *cluster, l *load) (uint64, []ack) {
	t.Helper()
	acked := l.stop()
	if f := l.failures(); len(f) > 0 {
		t.Fatalf("%d kv.put transactions committed as failed, e.g. %s", len(f), f[0])
	}
	h := c.converge(90 * time.Second)
	c.sameChains([]int{0, 1, 2, 3}, h)
	c.holdsAll(acked)
	t.Logf("%d transactions acknowledged (%d attempts); 4 validators hold the same %d blocks and every acknowledged transaction", len(acked), l.attempts, h)
	return h, acked
}

// checkFollower checks that follower f (cluster.startFollower) follows the
// chain the validators agree on up to height h, block hash by block hash,
// and answers a search for the last acknowledged transaction, which the
// validators leave to it (421 wrong_node).
func checkFollower(t *testing.T, c *cluster, f int, h uint64, acked []ack) {
	t.Helper()
	c.waitHeight([]int{f}, h, time.Minute)
	c.sameChains([]int{0, f}, h)
	if len(acked) == 0 {
		t.Fatal("no acknowledged transaction to search for")
	}
	last := acked[len(acked)-1]
	q := client.SearchRequest{Query: "hash:" + last.hash.String()}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cl, err := c.client(f)
	if err != nil {
		t.Fatal(err)
	}
	for {
		res, err := cl.Search(ctx, q)
		if err == nil && len(res.Hits) > 0 {
			if hit := res.Hits[0]; hit.Hash != last.hash.String() || hit.Height != last.height || hit.Status != "ok" {
				t.Fatalf("%s: search %q found %+v, want %s at height %d, status ok", c.alias(f), q.Query, hit, last.hash, last.height)
			}
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("%s: search %q found nothing in time (last answer: %v %v)", c.alias(f), q.Query, res, err)
		}
		time.Sleep(300 * time.Millisecond)
	}
	v, err := c.client(0)
	if err != nil {
		t.Fatal(err)
	}
	var wrong *client.Error
	if _, err := v.Search(ctx, q); !errors.As(err, &wrong) || wrong.Status != http.StatusMisdirectedRequest {
		t.Errorf("node0 answered a search with %v, want 421: validators leave search to the follower", err)
	}
	t.Logf("%s holds the same %d blocks and finds %s by search", c.alias(f), h, last.hash)
}

// TestPartitionOne cuts one validator off the peer network while load
// runs: the other three (a quorum) go on committing, the cut-off one does
// not move; reconnected, it catches up and all four chains are identical.
// The follower cairn init --docker writes runs beside them all along: it
// holds the same chain and answers searches the validators do not.
func TestPartitionOne(t *testing.T) {
	t.Parallel() // each test has its own networks, volumes and containers
	c := startCluster(t, 4)
	f := c.startFollower()
	l := c.startLoad(t, writers)
	defer l.cancel()
	l.waitAcks(t, 10, time.Minute, "before the partition")

	c.disconnect(3, "p2p")
	time.Sleep(time.Second) // let node3 finish what it had already received
	cut := c.height(3)
	rest := []int{0, 1, 2}
	start := c.height(0)
	c.waitHeight(rest, start+5, time.Minute)
	l.waitAcks(t, 20, time.Minute, "with node3 cut off")
	if h := c.height(3); h > cut {
		t.Fatalf("node3, cut off from every peer, went from height %d to %d", cut, h)
	}
	ahead := c.height(0)
	t.Logf("partition: node3 held at %d while the others reached %d", cut, ahead)

	c.connect(3, "p2p")
	c.waitHeight([]int{3}, ahead, time.Minute)
	l.waitAcks(t, 10, time.Minute, "after reconnecting node3")
	h, acked := finish(t, c, l)
	checkFollower(t, c, f, h, acked)
}

// TestPartitionTwoTwo splits the validators into two islands of two on
// separate networks: neither has a quorum, so no height commits and no two
// validators disagree on a block; healed, the chain resumes.
func TestPartitionTwoTwo(t *testing.T) {
	t.Parallel() // each test has its own networks, volumes and containers
	c := startCluster(t, 4)
	l := c.startLoad(t, writers)
	defer l.cancel()
	l.waitAcks(t, 10, time.Minute, "before the partition")

	for _, i := range []int{2, 3} {
		c.disconnect(i, "p2p")
		c.connect(i, "p2pB")
	}
	time.Sleep(2 * time.Second) // heights that were already decided land
	before := make([]uint64, 4)
	var top uint64
	for i := range before {
		before[i] = c.height(i)
		top = max(top, before[i])
	}
	acksBefore := l.count()
	time.Sleep(10 * time.Second) // load keeps arriving at all four
	// A validator that was a height behind may fetch that certified block
	// from its island partner; what must not happen is a new height.
	low := top
	for i := range before {
		h := c.height(i)
		if h > top {
			t.Fatalf("height %d committed during the 2|2 partition (node%d; no validator was above %d when it began)", h, i, top)
		}
		low = min(low, h)
	}
	l.mu.Lock()
	for _, a := range l.acked[acksBefore:] {
		if a.height > top {
			t.Errorf("tx %s acknowledged at height %d, above every height reached before the split (%d)", a.hash, a.height, top)
		}
	}
	l.mu.Unlock()
	c.sameChains([]int{0, 1, 2, 3}, low)
	t.Logf("2|2 partition: no height above %d for 10s (heights at the split %v), chains agree up to %d", top, before, low)

	for _, i := range []int{2, 3} {
		c.disconnect(i, "p2pB")
		c.connect(i, "p2p")
	}
	c.waitHeight([]int{0, 1, 2, 3}, top+3, 90*time.Second)
	l.waitAcks(t, 10, time.Minute, "after healing")
	finish(t, c, l)
}

// TestRollingRestart stops (SIGTERM, as docker stop sends) and restarts
// every validator in turn under load: each exits 0, comes back healthy on
// its volume and catches up, the others keep committing, and no
// acknowledged transaction is lost.
func TestRollingRestart(t *testing.T) {
	t.Parallel() // each test has its own networks, volumes and containers
	c := startCluster(t, 4)
	l := c.startLoad(t, writers)
	defer l.cancel()
	l.waitAcks(t, 10, time.Minute, "before the restarts")

	for i := 0; i < 4; i++ {
		c.docker(time.Minute, "stop", "-t", "30", c.name(i))
		if code := c.exitCode(i); code != "0" {
			t.Fatalf("node%d exited %s on SIGTERM, want 0", i, code)
		}
		l.waitAcks(t, 5, time.Minute, "with one validator stopped")
		c.forget(i)
		c.docker(time.Minute, "start", c.name(i))
		c.waitReady(i, 90*time.Second)
		var top uint64
		for j := 0; j < 4; j++ {
			if j != i {
				top = max(top, c.height(j))
			}
		}
		c.waitHeight([]int{i}, top, time.Minute)
		t.Logf("node%d restarted and caught up to %d", i, top)
	}
	l.waitAcks(t, 10, time.Minute, "after the last restart")
	finish(t, c, l)
}

// TestImage checks what the Dockerfile promises about the image itself:
// a non-root user, the data volume, the health check through the binary,
// and nothing to run but cairn (no shell).
func TestImage(t *testing.T) {
	requireDocker(t)
	out, err := docker(context.Background(), 30*time.Second, "image", "inspect", "--format",
		"{{.Config.User}}|{{json .Config.Volumes}}|{{json .Config.Healthcheck.Test}}|{{json .Config.Entrypoint}}|{{.Size}}", imageName)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	f := strings.Split(strings.TrimSpace(out), "|")
	if len(f) != 5 {
		t.Fatalf("inspect: %q", out)
	}
	if f[0] != "10001:10001" {
		t.Errorf("image user %q, want 10001:10001", f[0])
	}
	if !strings.Contains(f[1], `"/data"`) {
		t.Errorf("volumes %s, want /data", f[1])
	}
	if !strings.Contains(f[2], `"/usr/local/bin/cairn","health"`) {
		t.Errorf("health check %s, want cairn health", f[2])
	}
	if f[3] != `["/usr/local/bin/cairn"]` {
		t.Errorf("entrypoint %s", f[3])
	}
	if out, err := docker(context.Background(), 30*time.Second, "run", "--rm", "--label", labelKey+"="+runID, "--network", "none", "--entrypoint", "/bin/sh", imageName, "-c", "true"); err == nil {
		t.Errorf("the image has a shell: %s", out)
	}
	out, err = docker(context.Background(), 30*time.Second, "run", "--rm", "--label", labelKey+"="+runID, "--network", "none", imageName, "version")
	if err != nil {
		t.Fatalf("cairn version in the image: %v %s", err, out)
	}
	t.Logf("image %s: %s bytes, %s", imageName, f[4], strings.TrimSpace(out))
}
