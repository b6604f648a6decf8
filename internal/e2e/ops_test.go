package e2e

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cairn-db/cairn/client"
	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/internal/backup"
	"github.com/cairn-db/cairn/internal/node"
)

// cairn runs the binary and returns its exit status, stdout and stderr.
func cairn(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("cairn %v: %v", args, err)
	}
	return code, out.String(), errb.String()
}

// TestOperations runs the operator's tools against real validator
// processes: a backup of a running validator, its data lost and restored,
// its catch-up to exactly the others' chain; a pruned validator answering
// height_pruned and verifying what it holds; and a rollback refused below
// what the validator signed, then forced, after which it catches up again.
func TestOperations(t *testing.T) {
	tn := startNet(t, 4)
	phases := make([][]*crypto.PrivateKey, 4)
	var all []*crypto.PrivateKey
	for i := range phases {
		phases[i] = newKeys(t, 4)
		all = append(all, phases[i]...)
	}
	tn.fund(all, 1_000_000)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	home := func(i int) string { return tn.net.Nodes[i].Home }

	// Node 2 prunes: state and bodies of the last 5 heights.
	tn.cluster.Stop(2, 10*time.Second)
	cfg, err := node.ReadConfigFile(home(2))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Pruning = node.PruningConfig{StateHeights: 5, BodyHeights: 5, Interval: node.Duration{Duration: 100 * time.Millisecond}, BatchRecords: 500}
	if err := cfg.Save(); err != nil {
		t.Fatal(err)
	}
	if err := tn.cluster.Start(2); err != nil {
		t.Fatal(err)
	}

	acked := tn.load(ctx, phases[0], []int{0, 1}, 10, nil)
	tn.waitCommitted(3, acked, time.Minute)

	// Back up node 3 while it runs.
	archive := filepath.Join(t.TempDir(), "node3.tar")
	code, out, errs := cairn(t, "backup", "--home", home(3), "--out", archive)
	if code != 0 {
		t.Fatalf("backup of a running node: exit %d: %s", code, errs)
	}
	var m backup.Manifest
	if err := json.Unmarshal([]byte(out), &m); err != nil || m.Height == 0 || m.ChainID != tn.net.ChainID {
		t.Fatalf("backup manifest: %v %+v", err, m)
	}
	if left, _ := filepath.Glob(filepath.Join(home(3), node.BackupsDir, "*")); len(left) != 0 {
		t.Fatalf("backup left checkpoints behind: %v", left)
	}

	// A damaged archive is refused and changes nothing.
	bad := filepath.Join(t.TempDir(), "bad.tar")
	raw, err := os.ReadFile(archive)
	if err != nil {
		t.Fatal(err)
	}
	raw[512+10] ^= 0xff // inside the first file's data
	if err := os.WriteFile(bad, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	empty := t.TempDir()
	if code, _, errs := cairn(t, "restore", "--in", bad, "--home", empty); code != 1 || !strings.Contains(errs, "SHA-256") {
		t.Fatalf("restore of a damaged archive: exit %d: %s", code, errs)
	}
	if left, _ := os.ReadDir(empty); len(left) != 0 {
		t.Fatalf("a refused restore left %d entries in the home", len(left))
	}

	// The chain moves on; node 3 loses its data.
	acked = append(acked, tn.load(ctx, phases[1], []int{0, 1}, 10, nil)...)
	tn.waitCommitted(0, acked, time.Minute)
	tn.cluster.Stop(3, 10*time.Second)
	if err := os.RemoveAll(filepath.Join(home(3), "data")); err != nil {
		t.Fatal(err)
	}
	code, out, errs = cairn(t, "restore", "--in", archive, "--home", home(3))
	if code != 0 {
		t.Fatalf("restore: exit %d: %s", code, errs)
	}
	var rr backup.RestoreResult
	if err := json.Unmarshal([]byte(out), &rr); err != nil || rr.Height != m.Height || rr.SignFloor <= m.Height || rr.KeptWAL {
		t.Fatalf("restore result: %v %+v (backup at %d)", err, rr, m.Height)
	}
	// A second restore over the restored ledger needs --force.
	if code, _, errs := cairn(t, "restore", "--in", archive, "--home", home(3)); code != 1 || !strings.Contains(errs, "--force") {
		t.Fatalf("restore over a ledger: exit %d: %s", code, errs)
	}
	if err := tn.cluster.Start(3); err != nil {
		t.Fatal(err)
	}
	acked = append(acked, tn.load(ctx, phases[2], []int{0, 1, 3}, 10, nil)...)
	tn.waitCommitted(0, acked, time.Minute)
	target := tn.height(0)
	eventually(t, time.Minute, "restored node caught up", func() bool { return tn.height(3) >= target })
	tn.sameChain([]int{0, 1, 3}, target)
	tn.waitCommitted(3, acked, 30*time.Second)

	// Node 2 pruned: block 1 is gone, named by the oldest height kept.
	eventually(t, 30*time.Second, "node 2 pruning", func() bool {
		st, err := tn.clients[2].Status(ctx)
		return err == nil && st.Retained.BodiesFrom > 1 && st.Retained.StateFrom > 1
	})
	resp, err := http.Get(tn.net.Nodes[2].API + "/v1/blocks/1")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var eb struct{ Error client.ErrorBody }
	if err := json.Unmarshal(body, &eb); err != nil || resp.StatusCode != http.StatusGone || eb.Error.Code != "height_pruned" || !strings.Contains(eb.Error.Message, "oldest height") {
		t.Fatalf("pruned block: %d %s", resp.StatusCode, body)
	}
	st, err := tn.clients[2].Status(ctx)
	if err != nil || st.P2PCertificate == nil || st.P2PCertificate.SecondsLeft < 80*24*3600 || st.P2PCertificate.Expiring {
		t.Fatalf("status certificate: %+v %v", st.P2PCertificate, err)
	}
	if v := tn.metric(2, "cairn_p2p_certificate_expiry_seconds"); v < 80*24*3600 {
		t.Fatalf("certificate expiry metric %v", v)
	}

	// Rollback of node 1: refused below what it signed, then forced.
	tn.cluster.Stop(1, 10*time.Second)
	tn.cluster.Stop(2, 10*time.Second)
	code, out, errs = cairn(t, "verify", "--home", home(2))
	if code != 0 || !strings.Contains(errs, "verified: ") || !strings.Contains(errs, "block bodies ") {
		t.Fatalf("verify of a pruned node: exit %d: %s %s", code, out, errs)
	}
	var vr []struct {
		OK         bool   `json:"ok"`
		BodiesFrom uint64 `json:"bodies_from"`
		Height     uint64 `json:"height"`
	}
	if err := json.Unmarshal([]byte(out), &vr); err != nil || len(vr) != 1 || !vr[0].OK || vr[0].BodiesFrom <= 1 {
		t.Fatalf("verify report of a pruned node: %v %s", err, out)
	}
	h1 := tn.height(0)
	to := h1 - 3
	code, _, errs = cairn(t, "rollback", "--home", home(1), "--to", strconv.FormatUint(to, 10))
	if code != 1 || !strings.Contains(errs, "refusing to roll back") {
		t.Fatalf("rollback below what the node signed: exit %d: %s", code, errs)
	}
	code, out, errs = cairn(t, "rollback", "--home", home(1), "--to", strconv.FormatUint(to, 10), "--force")
	if code != 0 {
		t.Fatalf("forced rollback: exit %d: %s", code, errs)
	}
	var rb backup.RollbackResult
	if err := json.Unmarshal([]byte(out), &rb); err != nil || rb.To != to || rb.SignFloor < to+1 {
		t.Fatalf("rollback result: %v %s", err, out)
	}
	code, out, errs = cairn(t, "verify", "--home", home(1))
	if err := json.Unmarshal([]byte(out), &vr); code != 0 || err != nil || len(vr) != 1 || !vr[0].OK || vr[0].Height != to {
		t.Fatalf("verify after rollback to %d: exit %d: %s %s", to, code, out, errs)
	}
	for _, i := range []int{1, 2} {
		if err := tn.cluster.Start(i); err != nil {
			t.Fatal(err)
		}
	}
	acked = append(acked, tn.load(ctx, phases[3], []int{0, 3}, 10, nil)...)
	tn.waitCommitted(0, acked, time.Minute)
	target = tn.height(0)
	eventually(t, time.Minute, "rolled-back node caught up", func() bool { return tn.height(1) >= target })
	tn.sameChain([]int{0, 1, 3}, target)
	tn.waitCommitted(1, acked, 30*time.Second)
}
