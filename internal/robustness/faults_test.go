package robustness

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"time"

	"github.com/cairn-db/cairn/internal/devnet"
	"github.com/cairn-db/cairn/internal/node"
)

// schedule draws a run's faults from its seed: one at a time, each lasting
// 0.5-3 s, with 0.3-1.5 s of calm between them. At most one validator is
// faulty at once (a quorum of three keeps committing) except for message
// loss, which hits every validator.
func schedule(seed int64, runtime time.Duration) []fault {
	rng := rand.New(rand.NewPCG(uint64(seed), 0xfa017))
	kinds := []string{"kill", "torn_wal", "pause", "partition", "drop"}
	var out []fault
	at := int64(500 + rng.IntN(1000))
	for at < runtime.Milliseconds() {
		f := fault{AtMs: at, Kind: kinds[rng.IntN(len(kinds))], Node: rng.IntN(validators), DurMs: int64(500 + rng.IntN(2500))}
		if f.Kind == "drop" {
			f.Node, f.Drop = -1, 0.1+0.4*rng.Float64()
		}
		out = append(out, f)
		at += f.DurMs + int64(300+rng.IntN(1200))
	}
	return out
}

// injectFaults applies the schedule until ctx ends; each fault is healed
// before the next one starts.
func (r *run) injectFaults(ctx context.Context) {
	for i := range r.faults {
		f := &r.faults[i]
		if d := time.Until(r.start.Add(time.Duration(f.AtMs) * time.Millisecond)); d > 0 {
			select {
			case <-ctx.Done():
				return
			case <-time.After(d):
			}
		}
		f.Status = r.apply(ctx, f)
	}
	<-ctx.Done()
}

func (r *run) apply(ctx context.Context, f *fault) string {
	hold := func() {
		select {
		case <-ctx.Done():
		case <-time.After(time.Duration(f.DurMs) * time.Millisecond):
		}
	}
	switch f.Kind {
	case "kill", "torn_wal":
		r.cluster.Kill(f.Node)
		status := "killed"
		if f.Kind == "torn_wal" {
			if err := tearWAL(r.nw.NodeHome(f.Node), r.seed+f.AtMs); err != nil {
				status = "killed; tear: " + err.Error()
			} else {
				status = "killed, WAL tail torn"
			}
		}
		hold()
		if err := r.cluster.Start(f.Node); err != nil {
			return status + "; restart: " + err.Error()
		}
		return status + ", restarted"
	case "pause":
		r.cluster.Pause(f.Node)
		hold()
		r.cluster.Resume(f.Node)
		return "paused, resumed"
	case "partition":
		var others []string
		for j, nd := range r.nw.Nodes {
			if j != f.Node {
				others = append(others, nd.Name)
			}
		}
		errs := r.setFaults(f.Node, devnet.Faults{Partition: others})
		for j := range r.nw.Nodes {
			if j != f.Node {
				errs += r.setFaults(j, devnet.Faults{Partition: []string{r.nw.Nodes[f.Node].Name}})
			}
		}
		r.faultSwitchFailed("partition", errs)
		hold()
		r.clearFaults()
		return "partitioned, healed" + errs
	case "drop":
		var errs string
		for j := range r.nw.Nodes {
			errs += r.setFaults(j, devnet.Faults{DropOutbound: f.Drop})
		}
		r.faultSwitchFailed("drop", errs)
		hold()
		r.clearFaults()
		return "dropping, healed" + errs
	}
	return "unknown fault"
}

// setFaults sets node i's fault switch; it returns "" or "; error".
func (r *run) setFaults(i int, f devnet.Faults) string {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.cluster.SetFaults(ctx, r.hc, i, f); err != nil {
		return "; " + err.Error()
	}
	return ""
}

// faultSwitchFailed makes a fault that could not be set a problem of the
// run: every node runs during a partition or a drop fault, so a refused
// fault switch means the run would pass without the fault it claims.
func (r *run) faultSwitchFailed(kind, errs string) {
	if errs != "" {
		r.problem("%s fault not injected%s", kind, errs)
	}
}

func (r *run) clearFaults() {
	for j := range r.nw.Nodes {
		r.setFaults(j, devnet.Faults{})
	}
}

// heal ends every fault: every process running and resumed, the fault
// switches cleared once the nodes answer.
func (r *run) heal() {
	for i := range validators {
		r.cluster.Resume(i)
		if !r.cluster.Running(i) {
			if err := r.cluster.Start(i); err != nil {
				r.problem("heal: restart node%d: %v", i, err)
			}
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := r.cluster.WaitReady(ctx); err != nil {
		r.problem("heal: nodes not ready within 60 s: %v", err)
	}
	r.clearFaults()
}

// tearWAL appends the start of a record that never got finished to a
// stopped validator's consensus WAL, as a crash in the middle of a write
// leaves it: a frame header announcing more bytes than follow.
func tearWAL(home string, seed int64) error {
	cfg, err := node.LoadConfig(home)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(node.WALPath(cfg), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	rng := rand.New(rand.NewPCG(uint64(seed), 0x7ea4))
	frame := make([]byte, 8+rng.IntN(40))
	binary.BigEndian.PutUint32(frame, uint32(200+rng.IntN(4000)))
	for i := 4; i < len(frame); i++ {
		frame[i] = byte(rng.Uint32())
	}
	if _, err := f.Write(frame); err != nil {
		return fmt.Errorf("tear WAL: %w", err)
	}
	return nil
}
