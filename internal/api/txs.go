package api

import (
	"bufio"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cairn-db/cairn/client"
	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/internal/events"
	"github.com/cairn-db/cairn/internal/ledger"
	"github.com/cairn-db/cairn/internal/store"
	"github.com/cairn-db/cairn/types"
)

func (s *Server) status(w http.ResponseWriter, r *http.Request) error {
	l := s.cfg.Backend.Ledger()
	head := l.Head()
	vals := l.Validators()
	info := s.cfg.Backend.Info()
	st := client.Status{
		ChainID: l.Genesis().ChainID, Node: info.Name,
		Height: head.Height, LatestBlockHash: head.Hash, LatestBlockTime: head.Time, StateRoot: head.StateRoot,
		Validators: vals.Validators, ValidatorsHash: vals.Hash(), TotalPower: vals.TotalPower(), QuorumPower: vals.Quorum(),
		Peers: info.Peers, Mempool: info.Mempool, Consensus: info.Consensus, IndexedHeight: info.IndexedHeight,
	}
	if st.Peers == nil {
		st.Peers = []client.Peer{}
	}
	st.Fees, st.Permissions = l.Genesis().Params.Fees, l.Genesis().Params.Permissions
	kept := l.Retained()
	st.Retained = client.Retained{StateFrom: kept.StateFrom, BodiesFrom: kept.BodiesFrom}
	st.P2PCertificate = info.P2PCertificate
	st.SearchEnabled = s.cfg.Search != nil
	if from, _ := l.AccountIndex(); from != store.AccountIndexOff {
		st.AccountsIndexed, st.AccountsIndexedFrom = true, from
	}
	if st.SearchEnabled && head.Height > st.IndexedHeight {
		st.IndexLag = head.Height - st.IndexedHeight
	}
	for _, p := range st.Peers {
		if p.Connected {
			st.ConnectedPeers++
		}
	}
	return writeJSON(w, http.StatusOK, st)
}

// waitParams reads ?wait=commit and ?timeout=.
func (s *Server) waitParams(r *http.Request) (bool, time.Duration, error) {
	q := r.URL.Query()
	wait := false
	switch q.Get("wait") {
	case "", "none":
	case "commit":
		wait = true
	default:
		return false, 0, badRequest("wait must be \"commit\" (or absent), got %q", q.Get("wait"))
	}
	d := s.cfg.DefaultWait
	if t := q.Get("timeout"); t != "" {
		v, err := parseDuration(t)
		if err != nil || v <= 0 || v > s.cfg.MaxWait {
			return false, 0, badRequest("timeout must be a duration in (0, %s], like 5s or 1500ms, got %q", s.cfg.MaxWait, t)
		}
		d = v
	}
	return wait, d, nil
}

// parseDuration accepts Go durations ("1.5s") and plain seconds ("2").
func parseDuration(s string) (time.Duration, error) {
	if n, err := strconv.ParseFloat(s, 64); err == nil {
		if !(n >= 0 && n <= 1e6) { // also refuses NaN
			return 0, errors.New("out of range")
		}
		return time.Duration(n * float64(time.Second)), nil
	}
	return time.ParseDuration(s)
}

// submit is POST /v1/txs: one transaction (a JSON object) or a batch (a
// JSON array of them). The body is read as it arrives: a single
// transaction up to MaxBodyBytes, a batch element by element, so neither an
// oversized transaction nor a batch over MaxBatchTxs is read to its end.
func (s *Server) submit(w http.ResponseWriter, r *http.Request) error {
	wait, waitFor, err := s.waitParams(r)
	if err != nil {
		return err
	}
	if wait {
		if !take(&s.waits, s.cfg.MaxWaits) {
			return s.busy(w, "%d requests are already waiting for commit, the node's limit", s.cfg.MaxWaits)
		}
		defer s.waits.Add(-1)
	}
	br := bufio.NewReaderSize(r.Body, 32<<10)
	first, err := firstByte(br)
	if err == io.EOF {
		return errf(http.StatusBadRequest, string(types.CodeMalformed), "empty body: want a transaction object or an array of them")
	}
	if err != nil {
		return s.bodyError(err)
	}
	switch first {
	case '{':
		body, err := io.ReadAll(io.LimitReader(br, s.cfg.MaxBodyBytes+1))
		if err != nil {
			return s.bodyError(err)
		}
		if int64(len(body)) > s.cfg.MaxBodyBytes {
			return errf(http.StatusRequestEntityTooLarge, "too_large", "a single transaction body is limited to %d bytes (batches to %d)", s.cfg.MaxBodyBytes, s.cfg.MaxBatchBodyBytes)
		}
		return s.submitOne(w, r, body, wait, waitFor)
	case '[':
		raws, err := s.readBatch(br)
		if err != nil {
			return err
		}
		return s.submitBatch(w, r, raws, wait, waitFor)
	}
	return errf(http.StatusBadRequest, string(types.CodeMalformed), "body must be a JSON object (one transaction) or array (a batch)")
}

// firstByte returns the first byte after leading JSON whitespace without
// consuming it.
func firstByte(br *bufio.Reader) (byte, error) {
	for { // bounded by the body limit
		b, err := br.Peek(1)
		if err != nil {
			return 0, err
		}
		switch b[0] {
		case ' ', '\t', '\r', '\n':
			_, _ = br.ReadByte()
		default:
			return b[0], nil
		}
	}
}

// bodyError maps a failure to read the body: over its limit (413), too
// slow (408), or cut off (400).
func (s *Server) bodyError(err error) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return err
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return errf(http.StatusRequestTimeout, "timeout", "the request body did not arrive within %s", s.cfg.RequestTimeout)
	}
	return badRequest("reading request body: %v", err)
}

// readBatch decodes a JSON array element by element as the body arrives
// and stops as soon as it holds more than MaxBatchTxs elements. Each
// element is kept as its own raw bytes; the body is never held whole.
func (s *Server) readBatch(br *bufio.Reader) ([]json.RawMessage, error) {
	malformed := func(err error) error {
		var mbe *http.MaxBytesError
		var ne net.Error
		if errors.As(err, &mbe) || (errors.As(err, &ne) && ne.Timeout()) {
			return s.bodyError(err)
		}
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return errf(http.StatusBadRequest, string(types.CodeMalformed), "invalid JSON array: %v", err)
	}
	dec := json.NewDecoder(br)
	if _, err := dec.Token(); err != nil { // '['
		return nil, malformed(err)
	}
	var raws []json.RawMessage
	for dec.More() {
		if len(raws) == s.cfg.MaxBatchTxs {
			return nil, errf(http.StatusRequestEntityTooLarge, "too_large", "batch of more than %d transactions, limit %d", s.cfg.MaxBatchTxs, s.cfg.MaxBatchTxs)
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, malformed(err)
		}
		raws = append(raws, raw)
	}
	if _, err := dec.Token(); err != nil { // ']'
		return nil, malformed(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		if err == nil {
			err = errors.New("data after the array")
		}
		return nil, malformed(err)
	}
	if len(raws) == 0 {
		return nil, errf(http.StatusBadRequest, string(types.CodeMalformed), "empty batch")
	}
	return raws, nil
}

// parseTx decodes one transaction's JSON form strictly (unknown or
// missing fields, trailing data and invalid JSON are all malformed). It
// calls UnmarshalJSON directly: going through json.Unmarshal would scan the
// bytes once more for nothing, as the strict decoder validates them anyway.
func parseTx(b []byte) (*types.Tx, error) {
	var tx types.Tx
	if err := tx.UnmarshalJSON(b); err != nil {
		var te *types.TxError
		if errors.As(err, &te) {
			return nil, te
		}
		return nil, types.Errf(types.CodeMalformed, "invalid JSON: %v", err)
	}
	return &tx, nil
}

func (s *Server) submitOne(w http.ResponseWriter, r *http.Request, body []byte, wait bool, waitFor time.Duration) error {
	tx, err := parseTx(body)
	if err != nil {
		s.metrics.txs.WithLabelValues(string(asAPIError(r.Context(), err).code)).Inc()
		return err
	}
	var sub *events.Subscription
	if wait {
		// Subscribe before admission, so a commit right after it is seen.
		sub = s.subscribe()
		defer closeSub(sub)
	}
	serrs := s.cfg.Backend.Submit([]*types.Tx{tx})
	if len(serrs) != 1 {
		return fmt.Errorf("backend answered %d results for 1 transaction", len(serrs))
	}
	if err := serrs[0]; err != nil {
		s.metrics.txs.WithLabelValues(asAPIError(r.Context(), err).code).Inc()
		return err
	}
	s.metrics.txs.WithLabelValues("accepted").Inc()
	h := tx.Hash()
	if !wait {
		return writeJSON(w, http.StatusAccepted, client.TxResult{Hash: h})
	}
	res := s.waitCommit(r.Context(), sub, []crypto.Hash{h}, waitFor)[h]
	status := http.StatusOK
	if res.Status == client.StatusPending || res.Status == client.StatusUnknown {
		status = http.StatusAccepted
	}
	return writeJSON(w, status, res)
}

// batchError is the body of a batch in which no transaction was accepted:
// the first error in the standard envelope, and the per-tx details.
type batchError struct {
	Error client.ErrorBody `json:"error"`
	client.BatchResult
}

func (s *Server) submitBatch(w http.ResponseWriter, r *http.Request, raws []json.RawMessage, wait bool, waitFor time.Duration) error {
	txs, errs := parseBatch(raws)
	res := client.BatchResult{Hashes: make([]crypto.Hash, len(raws)), Errors: make([]*client.ErrorBody, len(raws))}
	parsed := make([]*types.Tx, 0, len(txs))
	at := make([]int, 0, len(txs))
	for i, tx := range txs {
		if errs[i] != nil {
			continue
		}
		res.Hashes[i] = tx.Hash()
		parsed = append(parsed, tx)
		at = append(at, i)
	}
	var sub *events.Subscription
	if wait {
		sub = s.subscribe()
		defer closeSub(sub)
	}
	if len(parsed) > 0 {
		serrs := s.cfg.Backend.Submit(parsed)
		if len(serrs) != len(parsed) {
			return fmt.Errorf("backend answered %d results for %d transactions", len(serrs), len(parsed))
		}
		for k, err := range serrs {
			errs[at[k]] = err
		}
	}
	var accepted []crypto.Hash
	var firstErr error
	ctx := r.Context()
	for i, err := range errs {
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			ae := asAPIError(ctx, err)
			if ae.status == http.StatusInternalServerError {
				ae = s.internal(r, err, "tx", i)
			}
			eb := ae.body()
			res.Errors[i] = &eb
			s.metrics.txs.WithLabelValues(eb.Code).Inc()
			continue
		}
		accepted = append(accepted, res.Hashes[i])
	}
	res.Accepted = len(accepted)
	s.metrics.txs.WithLabelValues("accepted").Add(float64(len(accepted)))
	if res.Accepted == 0 {
		ae := asAPIError(ctx, firstErr)
		if ae.status == http.StatusInternalServerError {
			return firstErr
		}
		return writeJSON(w, ae.status, batchError{Error: ae.body(), BatchResult: res})
	}
	status := http.StatusAccepted
	if wait {
		done := s.waitCommit(ctx, sub, accepted, waitFor)
		res.Results = make([]*client.TxResult, len(raws))
		status = http.StatusOK
		for i, e := range res.Errors {
			if e != nil {
				continue
			}
			tr := done[res.Hashes[i]]
			res.Results[i] = tr
			if tr.Status == client.StatusPending || tr.Status == client.StatusUnknown {
				status = http.StatusAccepted
			}
		}
	}
	return writeJSON(w, status, res)
}

// parseBatch decodes the transactions of a batch, spreading large batches
// over the CPUs (strict JSON decoding is most of a batch's admission cost
// besides signatures).
func parseBatch(raws []json.RawMessage) ([]*types.Tx, []error) {
	txs := make([]*types.Tx, len(raws))
	errs := make([]error, len(raws))
	parse := func(lo, hi int) {
		for i := lo; i < hi; i++ {
			txs[i], errs[i] = parseTx(raws[i])
		}
	}
	workers := runtime.GOMAXPROCS(0)
	if len(raws) < 128 || workers == 1 {
		parse(0, len(raws))
		return txs, errs
	}
	chunk := (len(raws) + workers - 1) / workers
	var wg sync.WaitGroup
	for lo := 0; lo < len(raws); lo += chunk {
		hi := min(lo+chunk, len(raws))
		wg.Add(1)
		go func() {
			defer wg.Done()
			parse(lo, hi)
		}()
	}
	wg.Wait()
	return txs, errs
}

func (s *Server) subscribe() *events.Subscription {
	if s.cfg.Events == nil {
		return nil
	}
	return s.cfg.Events.Subscribe(s.cfg.EventBuffer)
}

func closeSub(sub *events.Subscription) {
	if sub != nil {
		sub.Close()
	}
}

// waitCommit waits until every hash is in a committed block, the wait
// times out, the request ends or the server closes. It follows the hub and,
// as a safety net (no hub, or dropped from it for being slow), polls the
// ledger. Hashes not committed in time are reported pending (or unknown if
// they also left the mempool).
func (s *Server) waitCommit(ctx context.Context, sub *events.Subscription, hashes []crypto.Hash, d time.Duration) map[crypto.Hash]*client.TxResult {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	l := s.cfg.Backend.Ledger()
	st := l.Store()
	out := make(map[crypto.Hash]*client.TxResult, len(hashes))
	left := make(map[crypto.Hash]bool, len(hashes))
	for _, h := range hashes {
		left[h] = true
	}
	// poll looks each remaining hash up in the store: one point read for a
	// tx not yet committed, two for one that is. A block is reported only
	// once the ledger's head includes it (its batch lands in the store a
	// moment before the head advances), so a client reading right after
	// sees its effects.
	poll := func() {
		head := l.Head().Height
		for h := range left {
			_, loc, err := st.Tx(h)
			if err != nil || loc.Height > head {
				continue // not committed yet (or unreadable: keep waiting)
			}
			if rc, err := st.Receipt(loc); err == nil {
				out[h] = committedResult(h, loc.Height, loc.Index, rc)
				delete(left, h)
			}
		}
	}
	// Poll often without a hub; with one, only as a rare safety net.
	interval := time.Second
	var evs <-chan *events.BlockEvent
	if sub != nil {
		evs = sub.C()
	} else {
		interval = 50 * time.Millisecond
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	poll()
	for len(left) > 0 {
		select {
		case ev, ok := <-evs:
			if !ok {
				evs = nil // dropped or closed: fall back to polling
				t.Reset(50 * time.Millisecond)
				poll()
				continue
			}
			for i, rc := range ev.Receipts {
				if left[rc.TxHash] {
					out[rc.TxHash] = committedResult(rc.TxHash, ev.Height(), uint32(i), rc)
					delete(left, rc.TxHash)
				}
			}
		case <-t.C:
			poll()
		case <-ctx.Done():
			poll()
			s.markPending(out, left)
			return out
		case <-s.closing:
			poll()
			s.markPending(out, left)
			return out
		}
	}
	return out
}

func (s *Server) markPending(out map[crypto.Hash]*client.TxResult, left map[crypto.Hash]bool) {
	for h := range left {
		st := client.StatusPending
		if _, ok := s.cfg.Backend.Pending(h); !ok {
			st = client.StatusUnknown
		}
		out[h] = &client.TxResult{Hash: h, Status: st}
	}
}

func committedResult(h crypto.Hash, height uint64, index uint32, rc *types.Receipt) *client.TxResult {
	st := client.StatusCommitted
	if !rc.OK {
		st = client.StatusFailed
	}
	return &client.TxResult{Hash: h, Status: st, Height: height, Index: &index, Receipt: rc}
}

func parseHashParam(s string) (crypto.Hash, error) {
	h, err := crypto.ParseHash(strings.ToLower(s))
	if err != nil {
		return h, badRequest("transaction hash: %v", err)
	}
	return h, nil
}

// getTx is GET /v1/txs/{hash}.
func (s *Server) getTx(w http.ResponseWriter, r *http.Request) error {
	h, err := parseHashParam(r.PathValue("hash"))
	if err != nil {
		return err
	}
	prove, err := boolParam(r, "prove")
	if err != nil {
		return err
	}
	l := s.cfg.Backend.Ledger()
	// Ledger, then mempool, then the ledger again: a tx that commits
	// between the first two looks is found by the third.
	for attempt := 0; attempt < 2; attempt++ {
		info, err := l.Tx(h)
		if err == nil {
			return s.writeCommittedTx(w, l, h, info, prove)
		}
		if !errors.Is(err, ledger.ErrNotFound) {
			return err
		}
		if attempt == 0 {
			if tx, ok := s.cfg.Backend.Pending(h); ok {
				return writeJSON(w, http.StatusOK, client.TxStatus{Hash: h, Status: client.StatusPending, Tx: tx, TxBytesHex: hex.EncodeToString(tx.Bytes())})
			}
		}
	}
	e := notFound("transaction %s is not committed and not pending on this node", h)
	e.extra = map[string]any{"hash": h, "status": client.StatusUnknown}
	return e
}

// writeCommittedTx answers for a tx in a block; with prove, the answer
// also carries the receipt's bytes and inclusion proof against the results
// root and the block's certified header, so that the tx's inclusion and
// outcome are checkable with the validator set alone.
func (s *Server) writeCommittedTx(w http.ResponseWriter, l *ledger.Ledger, h crypto.Hash, info *ledger.TxInfo, prove bool) error {
	hdr, err := l.Store().Header(info.Height)
	if err != nil {
		return fmt.Errorf("tx %s: header %d: %w", h, info.Height, err)
	}
	bh := hdr.Hash()
	st := client.StatusCommitted
	if !info.Receipt.OK {
		st = client.StatusFailed
	}
	proof := info.Proof
	if proof.Path == nil {
		proof.Path = []crypto.Hash{} // a one-tx block: an empty path, not null
	}
	index := info.Index
	out := client.TxStatus{
		Hash: h, Status: st, Height: info.Height, Index: &index, BlockHash: &bh,
		Receipt: info.Receipt, Tx: info.Tx, TxBytesHex: hex.EncodeToString(info.Tx.Bytes()),
		Proof: &proof, TxRoot: &hdr.TxRoot,
	}
	if prove {
		bp := newBlockProofs(l)
		p, err := bp.tx(h, info.Height, info.Index)
		if err != nil {
			return err
		}
		ch, err := bp.certified(info.Height)
		if err != nil {
			return err
		}
		out.ReceiptBytesHex = hex.EncodeToString(p.receipt.Encode())
		out.ReceiptProof = &p.receiptProof
		out.HeaderHex, out.Header, out.Certificate = ch.HeaderHex, ch.Header, ch.Certificate
	}
	return writeJSON(w, http.StatusOK, out)
}
