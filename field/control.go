package field

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/types"
)

// The control API lets a member's own tools (cairn field) drive its running
// node: it is served on the node's listener next to the member channel and
// answers only messages signed with the node's own key.
const (
	pathLocalCreate     = "/field/v1/local/create"
	pathLocalPay        = "/field/v1/local/pay"
	pathLocalCheckpoint = "/field/v1/local/checkpoint"
	pathLocalClose      = "/field/v1/local/close"
	pathLocalTx         = "/field/v1/local/tx"
	pathLocalStatus     = "/field/v1/local/status"
)

// Status is a member's view of its field.
type Status struct {
	FieldID  crypto.Hash           `json:"field_id"`
	ChainID  string                `json:"chain_id"`
	Terms    types.FieldTerms      `json:"terms"`
	Payments uint64                `json:"payments"`
	Balances []uint64              `json:"balances"`
	Latest   types.FieldStateClaim `json:"latest"`
}

type payMsg struct {
	To      uint16   `json:"to"`
	Amounts []uint64 `json:"amounts"`
}

type txMsg struct {
	Kind  string `json:"kind"` // close_unilateral, challenge or dispute
	State uint64 `json:"state,omitempty"`
}

func (n *Node) self(from crypto.PublicKey) error {
	if from != n.Key() {
		return errors.New("field: the control API answers only its own key")
	}
	return nil
}

func (n *Node) control(mux *http.ServeMux) {
	mux.HandleFunc("POST "+pathLocalCreate, n.serve(func(from crypto.PublicKey, body []byte) (any, error) {
		if err := n.self(from); err != nil {
			return nil, err
		}
		var m joinMsg
		if err := json.Unmarshal(body, &m); err != nil {
			return nil, fmt.Errorf("field: create: %w", err)
		}
		return n.Create(context.Background(), m.ChainID, m.Terms)
	}))
	mux.HandleFunc("POST "+pathLocalPay, n.serve(func(from crypto.PublicKey, body []byte) (any, error) {
		if err := n.self(from); err != nil {
			return nil, err
		}
		var m payMsg
		if err := json.Unmarshal(body, &m); err != nil {
			return nil, fmt.Errorf("field: pay: %w", err)
		}
		rs, err := n.NewRequests(m.To, m.Amounts)
		if err != nil {
			return nil, err
		}
		return n.Pay(context.Background(), rs)
	}))
	mux.HandleFunc("POST "+pathLocalCheckpoint, n.serve(func(from crypto.PublicKey, _ []byte) (any, error) {
		if err := n.self(from); err != nil {
			return nil, err
		}
		return n.Checkpoint(context.Background())
	}))
	mux.HandleFunc("POST "+pathLocalClose, n.serve(func(from crypto.PublicKey, _ []byte) (any, error) {
		if err := n.self(from); err != nil {
			return nil, err
		}
		return n.CloseSigs(context.Background())
	}))
	mux.HandleFunc("POST "+pathLocalTx, n.serve(func(from crypto.PublicKey, body []byte) (any, error) {
		if err := n.self(from); err != nil {
			return nil, err
		}
		var m txMsg
		if err := json.Unmarshal(body, &m); err != nil {
			return nil, fmt.Errorf("field: tx: %w", err)
		}
		n.mu.Lock()
		defer n.mu.Unlock()
		if n.book == nil {
			return nil, errors.New("field: this member is in no field")
		}
		switch m.Kind {
		case "close_unilateral":
			return n.book.UnilateralPayload(), nil
		case "challenge":
			return n.book.ChallengePayload(), nil
		case "dispute":
			return n.book.DisputePayload(m.State)
		}
		return nil, fmt.Errorf("field: unknown transaction kind %q", m.Kind)
	}))
	mux.HandleFunc("POST "+pathLocalStatus, n.serve(func(from crypto.PublicKey, _ []byte) (any, error) {
		if err := n.self(from); err != nil {
			return nil, err
		}
		n.mu.Lock()
		defer n.mu.Unlock()
		if n.book == nil {
			return nil, errors.New("field: this member is in no field")
		}
		b := n.book
		return Status{FieldID: b.ID(), ChainID: b.ChainID, Terms: b.Terms, Payments: b.Len(), Balances: b.Balances(), Latest: b.Latest()}, nil
	}))
}

// Control drives a running node through its control API, as the node's own
// key holder.
type Control struct {
	n *Node // a node without a store, used only to sign and send
}

// NewControl returns a Control for the node at url, signing with k (the
// node's own key).
func NewControl(url string, k *crypto.PrivateKey) *Control {
	return &Control{n: &Node{cfg: Config{Key: k, Peers: map[crypto.PublicKey]string{k.Public(): url}},
		hc: &http.Client{Timeout: 10 * time.Minute}}}
}

func (c *Control) call(ctx context.Context, path string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return err
	}
	return c.n.post(ctx, c.n.Key(), path, body, out)
}

// Create has the node (the leader) invite every member; it returns the
// field.open payload to submit.
func (c *Control) Create(ctx context.Context, chainID string, terms types.FieldTerms) (*types.FieldOpen, error) {
	var out types.FieldOpen
	return &out, c.call(ctx, pathLocalCreate, joinMsg{ChainID: chainID, Terms: terms}, &out)
}

// Pay has the node pay member to each of amounts.
func (c *Control) Pay(ctx context.Context, to uint16, amounts []uint64) ([]PayResult, error) {
	var out []PayResult
	return out, c.call(ctx, pathLocalPay, payMsg{To: to, Amounts: amounts}, &out)
}

// Checkpoint has the node (the leader) collect a co-signed state.
func (c *Control) Checkpoint(ctx context.Context) (*types.FieldStateClaim, error) {
	var out types.FieldStateClaim
	return &out, c.call(ctx, pathLocalCheckpoint, struct{}{}, &out)
}

// Close has the node (the leader) collect a cooperative close.
func (c *Control) Close(ctx context.Context) (*types.FieldClose, error) {
	var out types.FieldClose
	return &out, c.call(ctx, pathLocalClose, struct{}{}, &out)
}

// Payload returns a close_unilateral, challenge or dispute (of state) payload
// built from the node's own copy.
func (c *Control) Payload(ctx context.Context, kind string, state uint64) (types.Payload, error) {
	var p types.Payload
	switch kind {
	case "close_unilateral":
		p = &types.FieldCloseUnilateral{}
	case "challenge":
		p = &types.FieldChallenge{}
	case "dispute":
		p = &types.FieldDispute{}
	default:
		return nil, fmt.Errorf("field: unknown transaction kind %q", kind)
	}
	return p, c.call(ctx, pathLocalTx, txMsg{Kind: kind, State: state}, p)
}

// Status returns the node's view of its field.
func (c *Control) Status(ctx context.Context) (*Status, error) {
	var out Status
	return &out, c.call(ctx, pathLocalStatus, struct{}{}, &out)
}
