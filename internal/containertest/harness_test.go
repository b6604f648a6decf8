package containertest

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cairn-db/cairn/client"
	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/types"
)

var flagContainers = flag.Bool("containers", false, "run the container tests (builds the image and runs validators as Docker containers)")

// labelKey marks everything a run creates; its value is the run id.
const labelKey = "cairn.containertest"

var (
	runID     = fmt.Sprintf("%d%03d", os.Getpid(), time.Now().UnixMilli()%1000)
	imageName = "cairn-containertest:" + runID

	buildOnce sync.Once
	buildErr  error
	built     bool
)

func TestMain(m *testing.M) {
	flag.Parse()
	code := m.Run()
	if built {
		// The image, and anything a crashed test left behind.
		removeByLabel(labelKey + "=" + runID)
		if out, err := docker(context.Background(), 2*time.Minute, "rmi", "-f", imageName); err != nil {
			fmt.Fprintf(os.Stderr, "containertest: remove image %s: %v\n%s", imageName, err, out)
		}
	}
	os.Exit(code)
}

// requireDocker skips without -containers; with it, a missing engine skips
// loudly on a developer's machine and fails under CI=true.
func requireDocker(t *testing.T) {
	t.Helper()
	if !*flagContainers {
		t.Skip("container tests run with -containers (they need a Docker engine)")
	}
	why := ""
	if _, err := exec.LookPath("docker"); err != nil {
		why = "the docker command is not on PATH"
	} else if out, err := docker(context.Background(), 20*time.Second, "version", "--format", "{{.Server.Version}}"); err != nil {
		why = fmt.Sprintf("no Docker engine answers: %v %s", err, strings.TrimSpace(out))
	}
	if why != "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("container tests: %s (CI=true: failing, not skipping)", why)
		}
		t.Skipf("SKIPPING CONTAINER TESTS: %s", why)
	}
	buildOnce.Do(func() { buildErr = buildImage() })
	if buildErr != nil {
		t.Fatalf("build image: %v", buildErr)
	}
}

// docker runs the docker command and returns its combined output.
func docker(ctx context.Context, timeout time.Duration, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, "docker", args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if err != nil {
		return out.String(), fmt.Errorf("docker %s: %w", strings.Join(args, " "), err)
	}
	return out.String(), nil
}

// moduleRoot is the repository checkout holding the Dockerfile.
func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", errors.New("not inside the cairn module")
	}
	return filepath.Dir(mod), nil
}

// buildImage does what the Dockerfile's header says an operator does: a
// static binary built on the host, then docker build over a context that
// holds only it and the image skeleton.
func buildImage() error {
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	ctxDir, err := os.MkdirTemp("", "cairn-image-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(ctxDir)
	start := time.Now()
	gob := exec.Command("go", "build", "-trimpath", "-o", filepath.Join(ctxDir, "build", "cairn"), "./cmd/cairn")
	gob.Dir = root
	gob.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
	if out, err := gob.CombinedOutput(); err != nil {
		return fmt.Errorf("go build: %w\n%s", err, out)
	}
	if err := copyTree(filepath.Join(root, "deploy", "image"), filepath.Join(ctxDir, "deploy", "image")); err != nil {
		return err
	}
	if err := copyTree(filepath.Join(root, "Dockerfile"), filepath.Join(ctxDir, "Dockerfile")); err != nil {
		return err
	}
	built = true // from here on, TestMain removes the image
	if out, err := docker(context.Background(), 5*time.Minute, "build", "-q", "--label", labelKey+"="+runID, "-t", imageName, ctxDir); err != nil {
		return fmt.Errorf("%w\n%s", err, out)
	}
	fmt.Fprintf(os.Stderr, "containertest: built %s in %s\n", imageName, time.Since(start).Round(100*time.Millisecond))
	return nil
}

func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o644)
	})
}

// removeByLabel removes the containers (with their anonymous volumes),
// networks and volumes carrying label (KEY=VALUE).
func removeByLabel(label string) {
	ctx := context.Background()
	list := func(args ...string) []string {
		out, err := docker(ctx, time.Minute, append(args, "--filter", "label="+label)...)
		if err != nil {
			fmt.Fprintf(os.Stderr, "containertest: cleanup: %v\n%s", err, out)
			return nil
		}
		return strings.Fields(out)
	}
	if ids := list("ps", "-aq"); len(ids) > 0 {
		if out, err := docker(ctx, 2*time.Minute, append([]string{"rm", "-f", "-v"}, ids...)...); err != nil {
			fmt.Fprintf(os.Stderr, "containertest: cleanup: %v\n%s", err, out)
		}
	}
	if ids := list("network", "ls", "-q"); len(ids) > 0 {
		if out, err := docker(ctx, time.Minute, append([]string{"network", "rm"}, ids...)...); err != nil {
			fmt.Fprintf(os.Stderr, "containertest: cleanup: %v\n%s", err, out)
		}
	}
	if ids := list("volume", "ls", "-q"); len(ids) > 0 {
		if out, err := docker(ctx, time.Minute, append([]string{"volume", "rm", "-f"}, ids...)...); err != nil {
			fmt.Fprintf(os.Stderr, "containertest: cleanup: %v\n%s", err, out)
		}
	}
}

// cluster is one network of validators, each a container nodeI.
//
// Networks: ctl carries only the published API port (inter-container
// traffic off), p2p is where the validators reach each other by the alias
// nodeI, p2pB is the second island of a 2|2 partition.
type cluster struct {
	t       *testing.T
	id      string
	n       int
	chainID string
	faucet  *crypto.PrivateKey

	env []string // extra environment of every validator container

	followers int // started with startFollower: nodes n, n+1, ...

	mu   sync.Mutex
	urls map[int]string
}

func (c *cluster) name(i int) string { return c.id + "-" + c.alias(i) }

// alias is node i's name in the network cairn init --docker wrote:
// validators node0.., then followers follower0...
func (c *cluster) alias(i int) string {
	if i >= c.n {
		return fmt.Sprintf("follower%d", i-c.n)
	}
	return fmt.Sprintf("node%d", i)
}

func (c *cluster) net(which string) string { return c.id + "-" + which }
func (c *cluster) labels() []string {
	return []string{"--label", labelKey + "=" + runID, "--label", labelKey + ".cluster=" + c.id}
}
func (c *cluster) docker(timeout time.Duration, args ...string) string {
	c.t.Helper()
	out, err := docker(context.Background(), timeout, args...)
	if err != nil {
		c.t.Fatalf("%v\n%s", err, out)
	}
	return out
}

// startCluster writes a network of n validators with the image's own
// `cairn init --docker` onto a volume and starts one container per
// validator; it returns when every one is ready and Docker reports it
// healthy (the image's HEALTHCHECK, cairn health).
func startCluster(t *testing.T, n int) *cluster {
	t.Helper()
	return startClusterEnv(t, n)
}

// startClusterEnv is startCluster with extra environment (KEY=VALUE) for
// every validator container.
func startClusterEnv(t *testing.T, n int, env ...string) *cluster {
	t.Helper()
	requireDocker(t)
	short := strings.ToLower(strings.TrimPrefix(t.Name(), "Test"))
	c := &cluster{t: t, id: "ct" + runID + "-" + short, n: n, urls: map[int]string{}, env: env}
	t.Cleanup(func() {
		if t.Failed() {
			for i := 0; i < n+c.followers; i++ {
				out, _ := docker(context.Background(), 30*time.Second, "logs", "--tail", "60", c.name(i))
				t.Logf("last log lines of %s:\n%s", c.name(i), out)
			}
		}
		removeByLabel(labelKey + ".cluster=" + c.id)
	})
	c.docker(time.Minute, append(append([]string{"network", "create"}, c.labels()...), "-o", "com.docker.network.bridge.enable_icc=false", c.net("ctl"))...)
	for _, nw := range []string{"p2p", "p2pB"} {
		c.docker(time.Minute, append(append([]string{"network", "create"}, c.labels()...), c.net(nw))...)
	}
	vol := c.id + "-network"
	c.docker(time.Minute, append(append([]string{"volume", "create"}, c.labels()...), vol)...)
	initName := c.id + "-init"
	c.docker(2*time.Minute, append(append([]string{"run", "--name", initName, "--network", "none"}, c.labels()...),
		"-v", vol+":/cairn", imageName, "init", "--docker", "--home", "/cairn", "--validators", fmt.Sprint(n), "--chain-id", "ct-"+short)...)
	dir := t.TempDir()
	c.docker(time.Minute, "cp", initName+":/cairn/faucet.key", filepath.Join(dir, "faucet.key"))
	c.docker(time.Minute, "cp", initName+":/cairn/genesis.json", filepath.Join(dir, "genesis.json"))
	c.docker(time.Minute, "rm", initName)
	var err error
	if c.faucet, err = crypto.LoadKey(filepath.Join(dir, "faucet.key")); err != nil {
		t.Fatal(err)
	}
	g, err := types.LoadGenesis(filepath.Join(dir, "genesis.json"))
	if err != nil {
		t.Fatal(err)
	}
	c.chainID = g.ChainID
	for i := 0; i < n; i++ {
		c.create(i)
	}
	for i := 0; i < n; i++ {
		c.docker(time.Minute, "start", c.name(i))
	}
	for i := 0; i < n; i++ {
		c.waitReady(i, 90*time.Second)
	}
	return c
}

// create creates validator i's data volume and container (with extra
// node flags), attached to the peer network, not started.
func (c *cluster) create(i int, nodeFlags ...string) {
	c.t.Helper()
	data := c.dataVolume(i)
	c.docker(time.Minute, append(append([]string{"volume", "create"}, c.labels()...), data)...)
	args := append(append([]string{"create", "--name", c.name(i), "--network", c.net("ctl")}, c.labels()...),
		"-p", "127.0.0.1::8080", "-v", c.id+"-network:/cairn:ro", "-v", data+":/data",
		"--health-interval", "1s", "--health-timeout", "3s")
	if i < c.n {
		for _, e := range c.env {
			args = append(args, "-e", e)
		}
	}
	args = append(append(args, imageName, "node", "--home", "/cairn/"+c.alias(i)), nodeFlags...)
	c.docker(time.Minute, args...)
	c.connect(i, "p2p")
}

func (c *cluster) dataVolume(i int) string { return fmt.Sprintf("%s-data%d", c.id, i) }

// startFollower starts the follower cairn init --docker wrote (as node
// c.n+k, the k-th started) with its own data volume, on the peer network,
// and returns its index once it is ready and healthy.
func (c *cluster) startFollower() int {
	c.t.Helper()
	c.mu.Lock()
	i := c.n + c.followers
	c.followers++
	c.mu.Unlock()
	c.create(i)
	c.docker(time.Minute, "start", c.name(i))
	c.waitReady(i, 90*time.Second)
	return i
}

// connect attaches validator i to a peer network under its alias.
func (c *cluster) connect(i int, nw string) {
	c.t.Helper()
	c.docker(time.Minute, "network", "connect", "--alias", c.alias(i), c.net(nw), c.name(i))
}

// disconnect cuts validator i off a peer network (its API stays reachable
// from the host through ctl).
func (c *cluster) disconnect(i int, nw string) {
	c.t.Helper()
	c.docker(time.Minute, "network", "disconnect", c.net(nw), c.name(i))
}

// url is validator i's API as published on 127.0.0.1 (asked again after a
// restart, which may move it).
func (c *cluster) url(i int) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if u, ok := c.urls[i]; ok {
		return u, nil
	}
	out, err := docker(context.Background(), 30*time.Second, "port", c.name(i), "8080/tcp")
	if err != nil {
		return "", err
	}
	for _, l := range strings.Fields(out) {
		if strings.HasPrefix(l, "127.0.0.1:") {
			c.urls[i] = "http://" + l
			return c.urls[i], nil
		}
	}
	return "", fmt.Errorf("%s publishes no API port on 127.0.0.1: %q", c.name(i), out)
}

func (c *cluster) forget(i int) {
	c.mu.Lock()
	delete(c.urls, i)
	c.mu.Unlock()
}

func (c *cluster) client(i int) (*client.Client, error) {
	u, err := c.url(i)
	if err != nil {
		return nil, err
	}
	return client.New(u)
}

func (c *cluster) status(i int) (*client.Status, error) {
	cl, err := c.client(i)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return cl.Status(ctx)
}

func (c *cluster) height(i int) uint64 {
	c.t.Helper()
	st, err := c.status(i)
	if err != nil {
		c.t.Fatalf("%s status: %v", c.alias(i), err)
	}
	return st.Height
}

// health is Docker's view of the container's HEALTHCHECK.
func (c *cluster) health(i int) string {
	out, err := docker(context.Background(), 30*time.Second, "inspect", "--format", "{{.State.Health.Status}}", c.name(i))
	if err != nil {
		return "unknown: " + err.Error()
	}
	return strings.TrimSpace(out)
}

// waitReady waits until validator i answers /readyz and Docker reports
// the container healthy.
func (c *cluster) waitReady(i int, timeout time.Duration) {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	var last string
	for time.Now().Before(deadline) {
		if cl, err := c.client(i); err != nil {
			last = err.Error()
		} else {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			err := cl.Ready(ctx)
			cancel()
			if err != nil {
				last = err.Error()
			} else if h := c.health(i); h != "healthy" {
				last = "docker health: " + h
			} else {
				return
			}
		}
		time.Sleep(500 * time.Millisecond)
	}
	c.t.Fatalf("%s not ready after %s: %s", c.alias(i), timeout, last)
}

// waitHeight waits until every validator in nodes reports a height of at
// least h.
func (c *cluster) waitHeight(nodes []int, h uint64, timeout time.Duration) {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		var low []string
		for _, i := range nodes {
			st, err := c.status(i)
			if err != nil {
				low = append(low, fmt.Sprintf("%s: %v", c.alias(i), err))
			} else if st.Height < h {
				low = append(low, fmt.Sprintf("%s at %d", c.alias(i), st.Height))
			}
		}
		if len(low) == 0 {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("not every node reached height %d in %s: %s", h, timeout, strings.Join(low, ", "))
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// converge waits (with no load running) until every validator reports the
// same height and latest block hash, and returns that height.
func (c *cluster) converge(timeout time.Duration) uint64 {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	var last string
	for time.Now().Before(deadline) {
		var hs []string
		same := true
		var first *client.Status
		for i := 0; i < c.n; i++ {
			st, err := c.status(i)
			if err != nil {
				same, last = false, err.Error()
				break
			}
			hs = append(hs, fmt.Sprintf("node%d %d %s", i, st.Height, st.LatestBlockHash))
			if first == nil {
				first = st
			} else if st.Height != first.Height || st.LatestBlockHash != first.LatestBlockHash {
				same = false
			}
		}
		if same && first != nil {
			return first.Height
		}
		if len(hs) > 0 {
			last = strings.Join(hs, "; ")
		}
		time.Sleep(300 * time.Millisecond)
	}
	c.t.Fatalf("validators did not converge in %s: %s", timeout, last)
	return 0
}

// sameChains compares the hash of every block 1..upTo across the given
// validators, through their APIs, and fails at the first difference.
func (c *cluster) sameChains(nodes []int, upTo uint64) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cls := make([]*client.Client, len(nodes))
	for k, i := range nodes {
		cl, err := c.client(i)
		if err != nil {
			c.t.Fatal(err)
		}
		cls[k] = cl
	}
	for h := uint64(1); h <= upTo; h++ {
		var want crypto.Hash
		for k, cl := range cls {
			b, err := cl.Block(ctx, h)
			if err != nil {
				c.t.Fatalf("%s block %d: %v", c.alias(nodes[k]), h, err)
			}
			if b.Height != h {
				c.t.Fatalf("%s block %d: answered height %d", c.alias(nodes[k]), h, b.Height)
			}
			if k == 0 {
				want = b.Hash
			} else if b.Hash != want {
				c.t.Fatalf("FORK at height %d: %s has %s, %s has %s", h, c.alias(nodes[0]), want, c.alias(nodes[k]), b.Hash)
			}
		}
	}
}

// holdsAll checks that every validator has every acknowledged transaction
// committed at the height its acknowledgement named.
func (c *cluster) holdsAll(acked []ack) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	for i := 0; i < c.n; i++ {
		cl, err := c.client(i)
		if err != nil {
			c.t.Fatal(err)
		}
		for _, a := range acked {
			st, err := cl.Tx(ctx, a.hash)
			if err != nil {
				c.t.Fatalf("LOST: node%d does not have acknowledged tx %s (height %d): %v", i, a.hash, a.height, err)
			}
			if st.Status != "committed" || st.Height != a.height {
				c.t.Fatalf("node%d: acknowledged tx %s (committed at %d) is %s at height %d", i, a.hash, a.height, st.Status, st.Height)
			}
		}
	}
}

// ack is a transaction the chain acknowledged as committed.
type ack struct {
	hash   crypto.Hash
	height uint64
	at     time.Time
}

// load is a bounded stream of kv.put transactions from a few writers, each
// waiting for its transaction to commit (?wait=commit) before sending the
// next. A writer whose transaction is not acknowledged (node down,
// partitioned, wait timed out) starts over with a fresh key, so nonces
// never block it; unacknowledged transactions may still commit later.
type load struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu       sync.Mutex
	acked    []ack
	failed   []string // committed with a failed receipt: never expected
	attempts int
	keys     []*crypto.PrivateKey // funded writer keys not yet taken
}

// maxLoadTxs bounds each writer; maxLoadTime bounds the whole load.
const (
	maxLoadTxs  = 5000
	maxLoadTime = 4 * time.Minute
)

// keysPerWriter bounds the fresh keys a writer may take (it takes one
// after every unacknowledged transaction); writerFunds pays the fees of
// maxLoadTxs transactions many times over.
const (
	keysPerWriter = 40
	writerFunds   = 1_000_000
)

func (c *cluster) startLoad(t *testing.T, writers int) *load {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), maxLoadTime)
	l := &load{cancel: cancel, keys: c.fundKeys(t, writers*keysPerWriter)}
	for w := 0; w < writers; w++ {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			l.writer(ctx, c, w, writers)
		}()
	}
	return l
}

func (l *load) writer(ctx context.Context, c *cluster, w, writers int) {
	var key *crypto.PrivateKey
	var nonce uint64
	target := w
	for n := 0; n < maxLoadTxs && ctx.Err() == nil; n++ {
		if key == nil {
			if key = l.takeKey(); key == nil {
				return // every funded key used: the writer is done
			}
			nonce = 1
		}
		target = (target + 1) % c.n
		cl, err := c.client(target)
		if err != nil {
			sleepCtx(ctx, 200*time.Millisecond)
			continue
		}
		tx := client.NewTx(c.chainID, key, nonce, &types.KVPut{Key: fmt.Sprintf("ct/%d/%d", w, n), Value: fmt.Sprintf("v%d", n)})
		l.mu.Lock()
		l.attempts++
		l.mu.Unlock()
		rctx, cancel := context.WithTimeout(ctx, 8*time.Second)
		res, err := cl.SubmitWait(rctx, tx, 4*time.Second)
		cancel()
		switch {
		case err == nil && res.Status == "committed":
			l.mu.Lock()
			l.acked = append(l.acked, ack{hash: res.Hash, height: res.Height, at: time.Now()})
			l.mu.Unlock()
			nonce++
		case err == nil && res.Status == "failed":
			l.mu.Lock()
			l.failed = append(l.failed, fmt.Sprintf("%s: %+v", res.Hash, res.Receipt))
			l.mu.Unlock()
			key = nil
		default:
			// Not acknowledged: it may commit later or never.
			key = nil
			sleepCtx(ctx, 200*time.Millisecond)
		}
	}
}

func sleepCtx(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// stop ends the load and returns what was acknowledged.
// takeKey hands out a funded key no writer has used, or nil.
func (l *load) takeKey() *crypto.PrivateKey {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.keys) == 0 {
		return nil
	}
	k := l.keys[len(l.keys)-1]
	l.keys = l.keys[:len(l.keys)-1]
	return k
}

// fundKeys makes n keys and funds each from the faucet in one batch, so
// the load's writers can pay the chain's fees (writing is never free).
// The whole batch is retried, with the faucet's nonce read again, until it
// commits; a key funded twice only has more.
func (c *cluster) fundKeys(t *testing.T, n int) []*crypto.PrivateKey {
	t.Helper()
	keys := make([]*crypto.PrivateKey, n)
	for i := range keys {
		k, err := crypto.GenerateKey()
		if err != nil {
			t.Fatal(err)
		}
		keys[i] = k
	}
	deadline := time.Now().Add(90 * time.Second)
	var last error
	for attempt := 0; time.Now().Before(deadline); attempt++ {
		if last = c.fundOnce(attempt%c.n, keys); last == nil {
			return keys
		}
		time.Sleep(time.Second)
	}
	t.Fatalf("funding the load's %d keys from the faucet: %v", n, last)
	return nil
}

func (c *cluster) fundOnce(node int, keys []*crypto.PrivateKey) error {
	cl, err := c.client(node)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s := cl.NewSigner(c.faucet, c.chainID)
	txs := make([]*types.Tx, len(keys))
	for i, k := range keys {
		if txs[i], err = s.Transfer(ctx, k.Public().Address(), writerFunds); err != nil {
			return err
		}
	}
	res, err := cl.SubmitBatchWait(ctx, txs, 20*time.Second)
	if err != nil {
		return err
	}
	for i, r := range res.Results {
		if r == nil || r.Receipt == nil || !r.Receipt.OK {
			return fmt.Errorf("funding tx %d: %+v (%v)", i, r, res.Errors[i])
		}
	}
	return nil
}

func (l *load) stop() []ack {
	l.cancel()
	l.wg.Wait()
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]ack(nil), l.acked...)
}

func (l *load) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.acked)
}

// waitAcks waits until the load has n more acknowledgements than it had.
func (l *load) waitAcks(t *testing.T, more int, timeout time.Duration, what string) {
	t.Helper()
	base := l.count()
	deadline := time.Now().Add(timeout)
	for l.count() < base+more {
		if time.Now().After(deadline) {
			t.Fatalf("%s: only %d of %d more transactions acknowledged in %s", what, l.count()-base, more, timeout)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (l *load) failures() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.failed...)
}

// exitCode is the exit status of a stopped container.
func (c *cluster) exitCode(i int) string {
	c.t.Helper()
	return strings.TrimSpace(c.docker(30*time.Second, "inspect", "--format", "{{.State.ExitCode}}", c.name(i)))
}
