package field

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/types"
)

// The channel between members is HTTP with signed messages: every request
// carries its sender's public key and a signature (domain
// cairn/field/msg/v1) over the path and the body, and is refused unless the
// sender is a member of the field (the leader, for what only the leader
// sends). Every message is idempotent by its numbers (payment seq, state
// number), so a replayed message changes nothing.
const (
	hdrKey = "Cairn-Field-Key"
	hdrSig = "Cairn-Field-Sig"

	pathJoin      = "/field/v1/join"
	pathPay       = "/field/v1/pay"
	pathPayments  = "/field/v1/payments"
	pathSignState = "/field/v1/sign-state"
	pathSigned    = "/field/v1/signed"
	pathSignClose = "/field/v1/sign-close"

	maxBody = 64 << 20
	// storeFile is the name of a node's field store in its directory.
	storeFile = "field.log"
)

// Config configures a Node.
type Config struct {
	Key *crypto.PrivateKey
	// Dir holds the node's store (Dir/field.log).
	Dir string
	// Peers maps each other member's key to its base URL (http://host:port).
	Peers map[crypto.PublicKey]string
	// HTTPClient talks to peers; nil means a client with a 30 s timeout.
	HTTPClient *http.Client
	// Accept decides whether this member joins a field another member (the
	// terms' leader) invites it to: a join signed here lets field.open lock
	// this member's deposit. Nil refuses every invitation.
	Accept func(chainID string, terms *types.FieldTerms) error
}

// AcceptUpTo is an Accept policy: join fields led by one of leaders whose
// deposit for me is at most max.
func AcceptUpTo(me crypto.PublicKey, leaders map[crypto.PublicKey]bool, max uint64) func(string, *types.FieldTerms) error {
	return func(_ string, t *types.FieldTerms) error {
		if !leaders[t.Leader] {
			return fmt.Errorf("field: invitations from %s are not accepted here", t.Leader)
		}
		if i := t.Index(me); i >= 0 && t.Members[i].Deposit > max {
			return fmt.Errorf("field: a deposit of %d is more than this member accepts (%d)", t.Members[i].Deposit, max)
		}
		return nil
	}
}

// Node is one member of a field on the network: it keeps its Book durable
// in a Store, answers the other members, and (as the leader) orders
// payments, collects signatures and replicates.
type Node struct {
	cfg   Config
	hc    *http.Client
	mu    sync.Mutex
	book  *Book
	store *Store
	seq   uint64 // this member's last issued payer counter
}

// NewNode starts a node, reopening the store in cfg.Dir if there is one.
func NewNode(cfg Config) (*Node, error) {
	if cfg.Key == nil {
		return nil, errors.New("field node: no key")
	}
	n := &Node{cfg: cfg, hc: cfg.HTTPClient}
	if n.hc == nil {
		n.hc = &http.Client{Timeout: 30 * time.Second}
	}
	path := filepath.Join(cfg.Dir, storeFile)
	if _, err := os.Stat(path); err == nil {
		s, b, err := Open(path)
		if err != nil {
			return nil, err
		}
		n.store, n.book = s, b
		if i := b.Terms.Index(cfg.Key.Public()); i >= 0 {
			n.seq = b.seqs[i]
		}
	}
	return n, nil
}

// Close closes the store.
func (n *Node) Close() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.store != nil {
		return n.store.Close()
	}
	return nil
}

// Book runs f with the node's book (nil before a field is created or joined)
// under the node's lock.
func (n *Node) Book(f func(*Book)) {
	n.mu.Lock()
	defer n.mu.Unlock()
	f(n.book)
}

// Key is the node's public key.
func (n *Node) Key() crypto.PublicKey { return n.cfg.Key.Public() }

// --- signed messages ----------------------------------------------------

func msgBytes(path string, body []byte) []byte {
	return append(append([]byte(path), 0), body...)
}

func (n *Node) post(ctx context.Context, peer crypto.PublicKey, path string, body []byte, out any) error {
	base, ok := n.cfg.Peers[peer]
	if !ok {
		return fmt.Errorf("field: no address for member %s", peer)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	sig := n.cfg.Key.Sign(crypto.DomainFieldMsg, msgBytes(path, body))
	req.Header.Set(hdrKey, n.Key().String())
	req.Header.Set(hdrSig, hex.EncodeToString(sig[:]))
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err := n.hc.Do(req)
	if err != nil {
		return fmt.Errorf("field: %s to %s: %w", path, peer, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return fmt.Errorf("field: %s to %s: %w", path, peer, err)
	}
	if resp.StatusCode == http.StatusConflict {
		var g gapError
		if json.Unmarshal(b, &g) == nil {
			return &g
		}
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("field: %s refused by %s: %s", path, peer, bytes.TrimSpace(b))
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("field: %s answer from %s: %w", path, peer, err)
		}
	}
	return nil
}

// eachPeer runs f for every other member in parallel and returns the first
// error.
func (n *Node) eachPeer(terms *types.FieldTerms, f func(i int, k crypto.PublicKey) error) error {
	var wg sync.WaitGroup
	errs := make([]error, len(terms.Members))
	for i, m := range terms.Members {
		if m.Key == n.Key() {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = f(i, m.Key)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// Handler serves the member-to-member channel.
func (n *Node) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+pathJoin, n.serve(n.onJoin))
	mux.HandleFunc("POST "+pathPay, n.serve(n.onPay))
	mux.HandleFunc("POST "+pathPayments, n.serve(n.onPayments))
	mux.HandleFunc("POST "+pathSignState, n.serve(n.onSignState))
	mux.HandleFunc("POST "+pathSigned, n.serve(n.onSigned))
	mux.HandleFunc("POST "+pathSignClose, n.serve(n.onSignClose))
	n.control(mux)
	return mux
}

type handler func(from crypto.PublicKey, body []byte) (any, error)

// serve authenticates a message and runs h; a refusal is a 400 with the
// reason, an unauthenticated message a 401.
func (n *Node) serve(h handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
		if err != nil {
			http.Error(w, "field: read body: "+err.Error(), http.StatusBadRequest)
			return
		}
		from, err := crypto.ParsePublicKey(r.Header.Get(hdrKey))
		if err != nil {
			http.Error(w, "field: bad "+hdrKey+": "+err.Error(), http.StatusUnauthorized)
			return
		}
		sig, err := hex.DecodeString(r.Header.Get(hdrSig))
		if err != nil || !crypto.Verify(from, crypto.DomainFieldMsg, msgBytes(r.URL.Path, body), sig) {
			http.Error(w, "field: message signature does not verify", http.StatusUnauthorized)
			return
		}
		out, err := h(from, body)
		var gap *gapError
		if errors.As(err, &gap) {
			b, _ := json.Marshal(gap)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusConflict)
			w.Write(b)
			return
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		b, err := json.Marshal(out)
		if err != nil {
			http.Error(w, "field: encode answer: "+err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(b)
	}
}

// member checks that from is a member (and the leader when leader is set)
// of the node's field.
func (n *Node) member(from crypto.PublicKey, leader bool) error {
	if n.book == nil {
		return errors.New("field: this member is in no field")
	}
	if n.book.Terms.Index(from) < 0 {
		return fmt.Errorf("field: %s is not a member of field %s", from, n.book.ID())
	}
	if leader && from != n.book.Terms.Leader {
		return fmt.Errorf("field: only the leader %s sends this", n.book.Terms.Leader)
	}
	return nil
}

// --- creating a field ---------------------------------------------------

type joinMsg struct {
	ChainID string           `json:"chain_id"`
	Terms   types.FieldTerms `json:"terms"`
}

type sigMsg struct {
	Sig types.FieldSig `json:"sig"`
}

// ErrInField refuses a join by a member already in a field that has not
// been settled.
var ErrInField = errors.New("field: already a member of an open field")

// join creates this member's book and store for terms and signs its join.
func (n *Node) join(chainID string, terms types.FieldTerms) (types.FieldSig, error) {
	if n.book != nil {
		if n.book.ID() == terms.FieldID && n.book.ChainID == chainID {
			return Join(n.cfg.Key, chainID, &terms) // the same invitation again
		}
		return types.FieldSig{}, fmt.Errorf("%w %s", ErrInField, n.book.ID())
	}
	sig, err := Join(n.cfg.Key, chainID, &terms)
	if err != nil {
		return sig, err
	}
	b, err := NewBook(chainID, terms)
	if err != nil {
		return sig, err
	}
	s, err := Create(filepath.Join(n.cfg.Dir, storeFile), b)
	if err != nil {
		return sig, err
	}
	n.book, n.store, n.seq = b, s, 0
	return sig, nil
}

func (n *Node) onJoin(from crypto.PublicKey, body []byte) (any, error) {
	var m joinMsg
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, fmt.Errorf("field: join: %w", err)
	}
	if from != m.Terms.Leader {
		return nil, fmt.Errorf("field: join sent by %s, not the terms' leader", from)
	}
	if n.cfg.Accept == nil {
		return nil, errors.New("field: this member accepts no invitations")
	}
	if err := n.cfg.Accept(m.ChainID, &m.Terms); err != nil {
		return nil, err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	sig, err := n.join(m.ChainID, m.Terms)
	return sigMsg{Sig: sig}, err
}

// Create is the leader's first step: it invites every member (each signs its
// join and starts its durable copy) and returns the field.open payload to
// submit. The node must be the terms' leader.
func (n *Node) Create(ctx context.Context, chainID string, terms types.FieldTerms) (*types.FieldOpen, error) {
	if terms.Leader != n.Key() {
		return nil, errors.New("field: only the leader creates a field")
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	fresh := n.book == nil
	mine, err := n.join(chainID, terms)
	if err != nil {
		return nil, err
	}
	defer func() {
		// A field that could not gather every join never opens: forget the
		// copy started here so this member may create or join another.
		if err != nil && fresh && n.store != nil {
			n.store.Close()
			os.Remove(filepath.Join(n.cfg.Dir, storeFile))
			n.book, n.store = nil, nil
		}
	}()
	joins := make([]types.FieldSig, len(terms.Members))
	joins[terms.Index(n.Key())] = mine
	body, _ := json.Marshal(joinMsg{ChainID: chainID, Terms: terms})
	msg := types.JoinSignBytes(chainID, &terms)
	err = n.eachPeer(&terms, func(i int, k crypto.PublicKey) error {
		var out sigMsg
		if err := n.post(ctx, k, pathJoin, body, &out); err != nil {
			return err
		}
		if !types.VerifyFieldSig(k, crypto.DomainFieldJoin, msg, out.Sig) {
			return fmt.Errorf("%w: join of member %d", ErrBadSignature, i)
		}
		joins[i] = out.Sig
		return nil
	})
	if err != nil {
		return nil, err
	}
	return n.book.OpenPayload(joins), nil
}

// --- payments -----------------------------------------------------------

// NewRequests signs payments from this member: one request per amount, all
// to member to, with consecutive counters.
func (n *Node) NewRequests(to uint16, amounts []uint64) ([]Request, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.book == nil {
		return nil, errors.New("field: this member is in no field")
	}
	me := n.book.Terms.Index(n.Key())
	out := make([]Request, len(amounts))
	for i, a := range amounts {
		n.seq++
		out[i] = SignRequest(n.cfg.Key, n.book.ChainID, n.book.ID(), uint16(me), to, a, n.seq)
	}
	return out, nil
}

// PayResult says what became of each request of a Pay: Seq is the number
// the leader gave it, or Err why it was refused.
type PayResult struct {
	Seq uint64 `json:"seq,omitempty"`
	Err string `json:"error,omitempty"`
}

// Pay has the leader order requests and returns once every member has the
// ordered payments on disk. Any member may call it; a non-leader forwards
// the requests to the leader.
func (n *Node) Pay(ctx context.Context, rs []Request) ([]PayResult, error) {
	n.mu.Lock()
	if n.book == nil {
		n.mu.Unlock()
		return nil, errors.New("field: this member is in no field")
	}
	leader := n.book.Terms.Leader
	n.mu.Unlock()
	if leader != n.Key() {
		body, _ := json.Marshal(rs)
		var out []PayResult
		if err := n.post(ctx, leader, pathPay, body, &out); err != nil {
			return nil, err
		}
		return out, nil
	}
	return n.order(ctx, rs)
}

func (n *Node) onPay(from crypto.PublicKey, body []byte) (any, error) {
	n.mu.Lock()
	err := n.member(from, false)
	n.mu.Unlock()
	if err != nil {
		return nil, err
	}
	var rs []Request
	if err := json.Unmarshal(body, &rs); err != nil {
		return nil, fmt.Errorf("field: pay: %w", err)
	}
	return n.order(context.Background(), rs)
}

// order is the leader's step: number, persist, replicate, answer.
func (n *Node) order(ctx context.Context, rs []Request) ([]PayResult, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	ps, errs := n.book.Order(rs)
	if err := n.store.AppendPayments(ps); err != nil {
		return nil, err
	}
	if len(ps) > 0 {
		body := encodePayments(ps)
		if err := n.eachPeer(&n.book.Terms, func(_ int, k crypto.PublicKey) error {
			err := n.post(ctx, k, pathPayments, body, nil)
			var gap *gapError
			if errors.As(err, &gap) && gap.Have < ps[0].Seq {
				// The member missed payments (it was down): send it
				// everything after what it has.
				return n.post(ctx, k, pathPayments, encodePayments(n.book.Payments(gap.Have)), nil)
			}
			return err
		}); err != nil {
			return nil, fmt.Errorf("field: replicate payments %d..%d: %w", ps[0].Seq, ps[len(ps)-1].Seq, err)
		}
	}
	out := make([]PayResult, len(rs))
	j := 0
	for i := range rs {
		if errs[i] != nil {
			out[i].Err = errs[i].Error()
			continue
		}
		out[i].Seq = ps[j].Seq
		j++
	}
	return out, nil
}

func (n *Node) onPayments(from crypto.PublicKey, body []byte) (any, error) {
	ps, err := decodePayments(body)
	if err != nil {
		return nil, fmt.Errorf("field: payments: %w", err)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if err := n.member(from, true); err != nil {
		return nil, err
	}
	// Drop what this member already has (a resent batch); ask for what it
	// missed.
	for len(ps) > 0 && ps[0].Seq <= n.book.Len() {
		ps = ps[1:]
	}
	if len(ps) > 0 && ps[0].Seq > n.book.Len()+1 {
		return nil, &gapError{Have: n.book.Len()}
	}
	if err := n.book.Apply(ps); err != nil {
		return nil, err
	}
	if err := n.store.AppendPayments(ps); err != nil {
		return nil, err
	}
	return struct{}{}, nil
}

// gapError is a member's answer to payments that do not continue its log:
// it has Have payments and needs the ones after.
type gapError struct {
	Have uint64 `json:"have"`
}

func (g *gapError) Error() string { return fmt.Sprintf("field: missing payments after %d", g.Have) }

// --- co-signing -----------------------------------------------------------

type stateMsg struct {
	State    uint64      `json:"state"`
	Root     crypto.Hash `json:"root"`
	Balances []uint64    `json:"balances,omitempty"`
}

// Checkpoint is the leader's: every member signs the commitment of the
// whole log so far, and every member stores the fully signed state. It
// returns that state.
func (n *Node) Checkpoint(ctx context.Context) (types.FieldStateClaim, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	b := n.book
	if b == nil || b.Terms.Leader != n.Key() {
		return types.FieldStateClaim{}, errors.New("field: only the leader checkpoints")
	}
	st := b.Len()
	root, _ := b.RootAt(st)
	if st == b.latest.State {
		return b.Latest(), nil
	}
	mine, err := b.SignState(n.cfg.Key, st, root)
	if err != nil {
		return types.FieldStateClaim{}, err
	}
	sigs := make([]types.FieldSig, len(b.Terms.Members))
	sigs[b.Terms.Index(n.Key())] = mine
	body, _ := json.Marshal(stateMsg{State: st, Root: root})
	if err := n.eachPeer(&b.Terms, func(i int, k crypto.PublicKey) error {
		var out sigMsg
		if err := n.post(ctx, k, pathSignState, body, &out); err != nil {
			return err
		}
		sigs[i] = out.Sig
		return nil
	}); err != nil {
		return types.FieldStateClaim{}, err
	}
	c := types.FieldStateClaim{FieldID: b.ID(), State: st, Root: root, Signatures: sigs}
	if err := b.Accept(c); err != nil {
		return types.FieldStateClaim{}, err
	}
	c = b.Latest()
	if err := n.store.AppendState(c); err != nil {
		return types.FieldStateClaim{}, err
	}
	body, _ = json.Marshal(c)
	if err := n.eachPeer(&b.Terms, func(_ int, k crypto.PublicKey) error {
		return n.post(ctx, k, pathSigned, body, nil)
	}); err != nil {
		return types.FieldStateClaim{}, err
	}
	return c, nil
}

func (n *Node) onSignState(from crypto.PublicKey, body []byte) (any, error) {
	var m stateMsg
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, fmt.Errorf("field: sign-state: %w", err)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if err := n.member(from, true); err != nil {
		return nil, err
	}
	sig, err := n.book.SignState(n.cfg.Key, m.State, m.Root)
	return sigMsg{Sig: sig}, err
}

func (n *Node) onSigned(from crypto.PublicKey, body []byte) (any, error) {
	var c types.FieldStateClaim
	if err := json.Unmarshal(body, &c); err != nil {
		return nil, fmt.Errorf("field: signed: %w", err)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if err := n.member(from, false); err != nil {
		return nil, err
	}
	if c.State == n.book.latest.State && c.Root == n.book.latest.Root {
		return struct{}{}, nil // already stored
	}
	if err := n.book.Accept(c); err != nil {
		return nil, err
	}
	if err := n.store.AppendState(n.book.Latest()); err != nil {
		return nil, err
	}
	return struct{}{}, nil
}

// CloseSigs is the leader's: every member signs the cooperative close of
// the whole log with the balances it computed itself; it returns the
// field.close payload to submit.
func (n *Node) CloseSigs(ctx context.Context) (*types.FieldClose, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	b := n.book
	if b == nil || b.Terms.Leader != n.Key() {
		return nil, errors.New("field: only the leader collects a close")
	}
	st := b.Len()
	root, _ := b.RootAt(st)
	bal := b.Balances()
	mine, err := b.SignClose(n.cfg.Key, st, root, bal)
	if err != nil {
		return nil, err
	}
	sigs := make([]types.FieldSig, len(b.Terms.Members))
	sigs[b.Terms.Index(n.Key())] = mine
	body, _ := json.Marshal(stateMsg{State: st, Root: root, Balances: bal})
	if err := n.eachPeer(&b.Terms, func(i int, k crypto.PublicKey) error {
		var out sigMsg
		if err := n.post(ctx, k, pathSignClose, body, &out); err != nil {
			return err
		}
		sigs[i] = out.Sig
		return nil
	}); err != nil {
		return nil, err
	}
	return b.ClosePayload(sigs), nil
}

func (n *Node) onSignClose(from crypto.PublicKey, body []byte) (any, error) {
	var m stateMsg
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, fmt.Errorf("field: sign-close: %w", err)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if err := n.member(from, true); err != nil {
		return nil, err
	}
	sig, err := n.book.SignClose(n.cfg.Key, m.State, m.Root, m.Balances)
	return sigMsg{Sig: sig}, err
}

// Leave forgets a settled field so the member may join another: it moves
// the store aside (to field.log.<field id>) rather than deleting it.
func (n *Node) Leave() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.book == nil {
		return nil
	}
	if err := n.store.Close(); err != nil {
		return err
	}
	old := filepath.Join(n.cfg.Dir, storeFile)
	if err := os.Rename(old, old+"."+n.book.ID().String()); err != nil {
		return fmt.Errorf("field: leave: %w", err)
	}
	n.book, n.store, n.seq = nil, nil, 0
	return nil
}
