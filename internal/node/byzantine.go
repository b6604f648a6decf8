package node

import (
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"time"

	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/internal/consensus"
	"github.com/cairn-db/cairn/internal/execute"
	"github.com/cairn-db/cairn/internal/p2p"
	"github.com/cairn-db/cairn/types"
)

// This file holds the deliberate misbehaviour used by tests and the
// experiments: Byzantine modes and the fault-injection endpoint. Both are
// refused unless the process was started with --unsafe-test-faults.

// misbehave rewrites the outgoing messages of one Ready according to the
// configured Byzantine mode. Honest mode returns them unchanged.
//
//   - double-vote: every own vote goes to all peers as signed, and a
//     conflicting vote (nil instead of the block, or the reverse) also goes
//     to half of them, which therefore hold double-sign evidence.
//   - equivocate: as proposer, a second, different block is proposed to
//     half the peers; votes are doubled as above so that peers record
//     double-sign evidence.
//   - unauthorized: as proposer, the block also carries a kv.put by an
//     account the permission table does not let write (see
//     proposeUnauthorized); votes are honest.
func (n *Node) misbehave(msgs []consensus.Outbound) []consensus.Outbound {
	switch n.cfg.Byzantine {
	case "":
		return msgs
	case "unauthorized":
		return n.proposeUnauthorized(msgs)
	}
	var out []consensus.Outbound
	half := n.otherHalf()
	for _, o := range msgs {
		if o.To != consensus.Broadcast {
			out = append(out, o)
			continue
		}
		switch m := o.Msg.(type) {
		case *consensus.VoteMessage:
			if int(m.Vote.Validator) != n.self {
				out = append(out, o) // forwarding someone else's vote
				continue
			}
			alt := m.Vote.BlockHash
			if alt.IsZero() {
				alt = crypto.Sum([]byte(fmt.Sprintf("byzantine %d/%d", m.Vote.Height, m.Vote.Round)))
			} else {
				alt = crypto.Hash{}
			}
			v2 := types.SignVote(n.key, n.genesis.ChainID, m.Vote.Type, m.Vote.Height, m.Vote.Round, alt, m.Vote.Validator)
			out = append(out, o)
			for i := range half {
				out = append(out, consensus.Outbound{To: i, Msg: &consensus.VoteMessage{Vote: v2}})
			}
		case *consensus.Proposal:
			if n.cfg.Byzantine != "equivocate" || m.Block == nil {
				out = append(out, o)
				continue
			}
			// Same transactions, one millisecond later: a valid block with
			// another hash.
			blk, p, err := n.ledger.Propose(m.Block.Txs, m.Round, m.Block.Header.Time+1, m.Block.Header.Proposer, execute.Options{Verified: n.pool.Verified})
			if err != nil {
				out = append(out, o)
				continue
			}
			n.prepared[blk.Hash()] = p
			p2 := consensus.SignProposal(n.key, n.genesis.ChainID, m.Height, m.Round, m.POLRound, blk)
			out = n.split(out, half, o.Msg, p2)
		default:
			out = append(out, o)
		}
	}
	return out
}

// UnauthorizedKVKey is the key the "unauthorized" mode's kv.put writes;
// UnauthorizedSender signs it. Tests look for both on the honest chain.
const UnauthorizedKVKey = "byzantine/unauthorized"

// UnauthorizedSender is the account the "unauthorized" mode writes from: a
// fixed key no genesis gives a role, so a chain that limits kv.put to a role
// forbids its puts.
func UnauthorizedSender() (*crypto.PrivateKey, error) {
	seed := crypto.Sum([]byte("cairn byzantine unauthorized sender"))
	return crypto.KeyFromSeed(seed[:])
}

// proposeUnauthorized replaces each own proposal by one whose block
// also carries a kv.put from UnauthorizedSender, built with the permission
// check skipped (execute.Options.SkipAuthorize) so that its roots are what
// execution gives if the put were allowed: the only fault left in the
// block is the permission, and honest validators refuse it in
// ledger.Validate. The tx never enters the mempool. Its nonce is always 1:
// the account never commits anything on an honest chain.
func (n *Node) proposeUnauthorized(msgs []consensus.Outbound) []consensus.Outbound {
	k, err := UnauthorizedSender()
	if err != nil {
		return msgs
	}
	out := make([]consensus.Outbound, 0, len(msgs))
	for _, o := range msgs {
		m, ok := o.Msg.(*consensus.Proposal)
		if !ok || m.Block == nil {
			out = append(out, o)
			continue
		}
		bad := &types.Tx{ChainID: n.genesis.ChainID, Sender: k.Public(), Nonce: 1, Timestamp: m.Block.Header.Time,
			Payload: &types.KVPut{Key: UnauthorizedKVKey, Value: fmt.Sprintf("height %d round %d", m.Height, m.Round)}}
		bad.Sign(k)
		// Room for it within the block limits, so that only the permission
		// is wrong: the honest block's last txs make way (a prefix of a
		// valid block's txs is valid).
		txs, size := m.Block.Txs, bad.Size()
		for _, tx := range txs {
			size += tx.Size()
		}
		for len(txs) > 0 && (len(txs)+1 > n.genesis.Params.MaxBlockTxs || size > n.genesis.Params.MaxBlockBytes) {
			size -= txs[len(txs)-1].Size()
			txs = txs[:len(txs)-1]
		}
		txs = append(append([]*types.Tx(nil), txs...), bad)
		blk, p, err := n.ledger.Propose(txs, m.Round, m.Block.Header.Time, m.Block.Header.Proposer,
			execute.Options{Verified: n.pool.Verified, SkipAuthorize: true})
		if err != nil || len(blk.Txs) != len(txs) {
			n.log.Warn("byzantine: could not build the unauthorized proposal", "height", m.Height, "err", err)
			out = append(out, o)
			continue
		}
		n.prepared[blk.Hash()] = p
		n.log.Warn("byzantine: proposing an unauthorized tx", "height", m.Height, "round", m.Round, "tx", bad.Hash(), "block", blk.Hash())
		out = append(out, consensus.Outbound{To: o.To, Msg: consensus.SignProposal(n.key, n.genesis.ChainID, m.Height, m.Round, m.POLRound, blk)})
	}
	return out
}

// otherHalf is the set of validator indexes (other than us) that receive
// the conflicting message: the upper half of the others.
func (n *Node) otherHalf() map[int]bool {
	var others []int
	for i := range n.vals.Validators {
		if i != n.self {
			others = append(others, i)
		}
	}
	h := map[int]bool{}
	for _, i := range others[len(others)/2:] {
		h[i] = true
	}
	return h
}

// split sends a to the first half of the peers and b to the other half.
func (n *Node) split(out []consensus.Outbound, half map[int]bool, a, b consensus.Message) []consensus.Outbound {
	for i := range n.vals.Validators {
		if i == n.self {
			continue
		}
		if half[i] {
			out = append(out, consensus.Outbound{To: i, Msg: b})
		} else {
			out = append(out, consensus.Outbound{To: i, Msg: a})
		}
	}
	return out
}

// faultsRequest is the body of POST /debug/faults: drop a share of
// outgoing messages, delay them, or cut this node off from named peers.
type faultsRequest struct {
	DropOutbound float64  `json:"drop_outbound"`
	DelayMs      int64    `json:"delay_ms"`
	Partition    []string `json:"partition"`
}

// faultsHandler serves GET and POST /debug/faults.
func (n *Node) faultsHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.Method {
		case http.MethodGet:
		case http.MethodPost:
			// A web page can post to a loopback address too, but not with
			// this content type without a CORS preflight, which fails.
			if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
				writeErr(w, http.StatusUnsupportedMediaType, "unsupported_media_type", "POST needs Content-Type: application/json")
				return
			}
			var req faultsRequest
			dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&req); err != nil {
				writeErr(w, http.StatusBadRequest, "malformed", err.Error())
				return
			}
			f := p2p.Faults{DropOutbound: req.DropOutbound, Delay: time.Duration(req.DelayMs) * time.Millisecond, Partitioned: map[crypto.PublicKey]bool{}}
			for _, name := range req.Partition {
				found := false
				for _, v := range n.vals.Validators {
					if v.Name == name {
						f.Partitioned[v.PublicKey] = true
						found = true
					}
				}
				if !found {
					writeErr(w, http.StatusUnprocessableEntity, "invalid", "unknown validator "+name)
					return
				}
			}
			if err := n.net.SetFaults(f); err != nil {
				writeErr(w, http.StatusUnprocessableEntity, "invalid", err.Error())
				return
			}
			n.log.Warn("fault injection changed", "drop", req.DropOutbound, "delay_ms", req.DelayMs, "partition", req.Partition)
		default:
			writeErr(w, http.StatusMethodNotAllowed, "method_not_allowed", "GET or POST")
			return
		}
		f := n.net.Faults()
		resp := faultsRequest{DropOutbound: f.DropOutbound, DelayMs: f.Delay.Milliseconds(), Partition: []string{}}
		for _, v := range n.vals.Validators {
			if f.Partitioned[v.PublicKey] {
				resp.Partition = append(resp.Partition, v.Name)
			}
		}
		_ = json.NewEncoder(w).Encode(resp)
	})
}

func writeErr(w http.ResponseWriter, status int, code, msg string) {
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"code": code, "message": msg}})
}
