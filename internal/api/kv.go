package api

import (
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/cairn-db/cairn/client"
	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/internal/ledger"
	"github.com/cairn-db/cairn/internal/store"
	"github.com/cairn-db/cairn/types"
)

// keyParam returns the {key} path segment, unescaped, checked like a
// transaction's key.
func keyParam(r *http.Request) (string, error) {
	k := r.PathValue("key")
	if k == "" || len(k) > types.MaxKeyBytes || !utf8.ValidString(k) {
		return "", badRequest("key must be 1..%d bytes of UTF-8, path-escaped", types.MaxKeyBytes)
	}
	return k, nil
}

// readHeight resolves ?height= against the head: the height to read at.
func readHeight(r *http.Request, l *ledger.Ledger) (uint64, bool, error) {
	head := l.Head().Height
	h, set, err := uintParam(r, "height")
	if err != nil {
		return 0, false, err
	}
	if !set {
		return head, false, nil
	}
	if h > head {
		return 0, true, notFound("height %d is above the latest height %d", h, head)
	}
	return h, true, nil
}

// getKV is GET /v1/kv/{key}: the live value, at a height, or with a proof.
func (s *Server) getKV(w http.ResponseWriter, r *http.Request) error {
	key, err := keyParam(r)
	if err != nil {
		return err
	}
	prove, err := boolParam(r, "prove")
	if err != nil {
		return err
	}
	l := s.cfg.Backend.Ledger()
	h, explicit, err := readHeight(r, l)
	if err != nil {
		return err
	}
	if prove {
		return s.proveKV(w, l, key, h, explicit)
	}
	// Reading at a fixed height (rather than "latest") makes read_height
	// exact even while blocks commit.
	e, err := l.KVAt(key, h)
	if err != nil {
		if errors.Is(err, ledger.ErrNotFound) {
			return notFound("key %q has no live value at height %d", key, h)
		}
		return err
	}
	return writeJSON(w, http.StatusOK, client.KVValue{Key: key, Value: e.Value, Version: e.Version, Height: e.Height, TxHash: e.TxHash, ReadHeight: h})
}

func (s *Server) proveKV(w http.ResponseWriter, l *ledger.Ledger, key string, h uint64, explicit bool) error {
	if h == 0 {
		if explicit {
			return badRequest("height 0 is the genesis state and has no certificate; proofs need a height of at least 1")
		}
		return notFound("no block has been committed yet, so there is no certified state root to prove against")
	}
	sp, err := l.Prove(types.KVKey(key), h)
	if err != nil {
		return err
	}
	if sp.Header == nil || sp.Certificate == nil || sp.Proof == nil {
		return fmt.Errorf("prove %q at %d: ledger returned an incomplete proof", key, h)
	}
	out := client.KVProof{
		Key: key, Height: h, Found: sp.Found,
		StateKeyHex: hex.EncodeToString(sp.Key),
		Proof:       sp.Proof, ProofHex: hex.EncodeToString(sp.Proof.Encode()),
		HeaderHex: hex.EncodeToString(sp.HeaderBytes), Header: sp.Header,
		Certificate: certificateJSON(sp.Certificate, l.Genesis().ChainID, valsAt(l, sp.Certificate.Height)),
	}
	if sp.Found {
		e, err := types.DecodeKVEntry(sp.Value)
		if err != nil {
			return fmt.Errorf("prove %q at %d: %w", key, h, err)
		}
		out.Entry, out.ValueHex = e, hex.EncodeToString(sp.Value)
	}
	return writeJSON(w, http.StatusOK, out)
}

// pageLimit reads ?limit=.
func (s *Server) pageLimit(r *http.Request) (int, error) {
	n, set, err := uintParam(r, "limit")
	if err != nil {
		return 0, err
	}
	if !set {
		return s.cfg.DefaultPageSize, nil
	}
	if n == 0 || n > uint64(s.cfg.MaxPageSize) {
		return 0, badRequest("limit must be 1..%d", s.cfg.MaxPageSize)
	}
	return int(n), nil
}

// parseCursor reads a "A.B" cursor of two integers.
func parseCursor(r *http.Request) (a, b uint64, set bool, err error) {
	c := r.URL.Query().Get("cursor")
	if c == "" {
		return 0, 0, false, nil
	}
	x, y, ok := strings.Cut(c, ".")
	if ok {
		if a, err = strconv.ParseUint(x, 10, 64); err == nil {
			b, err = strconv.ParseUint(y, 10, 64)
		}
	}
	if !ok || err != nil {
		return 0, 0, false, badRequest("cursor %q is not one this API returned", c)
	}
	return a, b, true, nil
}

// historyCursor reads a history cursor, "height:index": the position of
// the first version of the page, the height and the index of that write
// among the block's state writes. Unlike the version number, the pair
// locates a version without reading the ones before it, so a page costs
// the same however many versions one height holds.
//
// Cursors of the earlier "height.version" form are refused rather than
// read as positions (they would silently name other versions): a client
// holding one starts again from the first page.
func historyCursor(r *http.Request) (height uint64, index uint32, set bool, err error) {
	c := r.URL.Query().Get("cursor")
	if c == "" {
		return 0, 0, false, nil
	}
	x, y, ok := strings.Cut(c, ":")
	if !ok && strings.Contains(c, ".") {
		return 0, 0, false, badRequest("cursor %q is in the retired height.version form; history cursors are now height:index, so page again from the start (no cursor)", c)
	}
	var i uint64
	if ok {
		if height, err = strconv.ParseUint(x, 10, 64); err == nil {
			i, err = strconv.ParseUint(y, 10, 32)
		}
	}
	if !ok || err != nil {
		return 0, 0, false, badRequest("cursor %q is not one this API returned (a history cursor is height:index)", c)
	}
	return height, uint32(i), true, nil
}

// kvHistory is GET /v1/kv/{key}/history. One read of limit+1 versions from
// the cursor's position: the extra one, when present, is the first of the
// next page and its position is the next cursor.
func (s *Server) kvHistory(w http.ResponseWriter, r *http.Request) error {
	key, err := keyParam(r)
	if err != nil {
		return err
	}
	limit, err := s.pageLimit(r)
	if err != nil {
		return err
	}
	height, index, cursored, err := historyCursor(r)
	if err != nil {
		return err
	}
	vs, err := s.cfg.Backend.Ledger().KVHistoryFrom(key, height, index, limit+1)
	if err != nil {
		return err
	}
	if len(vs) == 0 && !cursored {
		return notFound("key %q has never been written", key)
	}
	out := client.KVHistory{Key: key, Versions: make([]*types.KVEntry, 0, min(len(vs), limit))}
	if len(vs) > limit {
		next := vs[limit]
		vs = vs[:limit]
		out.NextCursor = fmt.Sprintf("%d:%d", next.Height, next.Seq)
	}
	for _, v := range vs {
		out.Versions = append(out.Versions, v.Entry)
	}
	return writeJSON(w, http.StatusOK, out)
}

func addressParam(r *http.Request) (crypto.Address, error) {
	a, err := crypto.ParseAddress(strings.ToLower(r.PathValue("address")))
	if err != nil {
		return a, badRequest("%v (an address is 40 hex characters)", err)
	}
	return a, nil
}

// getAccount is GET /v1/accounts/{address}: the balance and nonce at the
// latest height or ?height=H; with ?prove=true, with a state proof.
func (s *Server) getAccount(w http.ResponseWriter, r *http.Request) error {
	a, err := addressParam(r)
	if err != nil {
		return err
	}
	prove, err := boolParam(r, "prove")
	if err != nil {
		return err
	}
	l := s.cfg.Backend.Ledger()
	h, explicit, err := readHeight(r, l)
	if err != nil {
		return err
	}
	if prove {
		return s.proveAccount(w, l, a, h, explicit)
	}
	acct := types.Account{}
	v, ok, err := l.State().GetAt(types.AccountKey(a), h)
	if err != nil {
		return fmt.Errorf("account %s at %d: %w", a, h, err)
	}
	if ok {
		if acct, err = types.DecodeAccount(v); err != nil {
			return fmt.Errorf("account %s at %d: %w", a, h, err)
		}
	}
	return writeJSON(w, http.StatusOK, client.Account{Address: a, Balance: acct.Balance, Nonce: acct.Nonce, Height: h})
}

func (s *Server) proveAccount(w http.ResponseWriter, l *ledger.Ledger, a crypto.Address, h uint64, explicit bool) error {
	if h == 0 {
		if explicit {
			return badRequest("height 0 is the genesis state and has no certificate; proofs need a height of at least 1")
		}
		return notFound("no block has been committed yet, so there is no certified state root to prove against")
	}
	sp, err := l.Prove(types.AccountKey(a), h)
	if err != nil {
		return err
	}
	if sp.Header == nil || sp.Certificate == nil || sp.Proof == nil {
		return fmt.Errorf("prove account %s at %d: ledger returned an incomplete proof", a, h)
	}
	out := client.AccountProof{
		Address: a, Height: h, Found: sp.Found,
		StateKeyHex: hex.EncodeToString(sp.Key),
		Proof:       sp.Proof, ProofHex: hex.EncodeToString(sp.Proof.Encode()),
		HeaderHex: hex.EncodeToString(sp.HeaderBytes), Header: sp.Header,
		Certificate: certificateJSON(sp.Certificate, l.Genesis().ChainID, valsAt(l, sp.Certificate.Height)),
	}
	if sp.Found {
		acct, err := types.DecodeAccount(sp.Value)
		if err != nil {
			return fmt.Errorf("prove account %s at %d: %w", a, h, err)
		}
		out.Balance, out.Nonce, out.ValueHex = acct.Balance, acct.Nonce, hex.EncodeToString(sp.Value)
	}
	return writeJSON(w, http.StatusOK, out)
}

// accountTxs is GET /v1/accounts/{address}/txs, newest first. The cursor
// is "height.index" of the last tx of the previous page.
func (s *Server) accountTxs(w http.ResponseWriter, r *http.Request) error {
	a, err := addressParam(r)
	if err != nil {
		return err
	}
	limit, err := s.pageLimit(r)
	if err != nil {
		return err
	}
	ch, ci, cursored, err := parseCursor(r)
	if err != nil {
		return err
	}
	if ci > uint64(^uint32(0)) {
		return badRequest("cursor index out of range")
	}
	var before *store.TxLocation
	if cursored {
		before = &store.TxLocation{Height: ch, Index: uint32(ci)}
	}
	l := s.cfg.Backend.Ledger()
	from, building := l.AccountIndex()
	if from == store.AccountIndexOff {
		if len(s.cfg.IndexElsewhere) > 0 {
			return &WrongNodeError{What: "account listings are not indexed on this node (validators leave them to followers)", Ask: s.cfg.IndexElsewhere}
		}
		return errf(http.StatusServiceUnavailable, "unavailable", "account listings are not indexed on this node (account_index is off)")
	}
	st := l.Store()
	locs, err := st.AccountTxs(a, before, limit+1)
	if err != nil {
		return err
	}
	locs, more, err := accountPage(locs, limit, from, building)
	if err != nil {
		return err
	}
	out := client.AccountTxs{Address: a, Txs: []client.TxSummary{}}
	if more {
		last := locs[len(locs)-1]
		out.NextCursor = fmt.Sprintf("%d.%d", last.Height, last.Index)
	}
	// Tx hashes by height, loaded once per block this page touches.
	blocks := map[uint64][]crypto.Hash{}
	for i, loc := range locs {
		if oldest := st.OldestBody(); loc.Height < oldest {
			// A pruned node: the page ends at the oldest body it keeps, and
			// the next page answers height_pruned naming it.
			if i == 0 {
				return &store.PrunedError{What: "block body", Height: loc.Height, Oldest: oldest}
			}
			prev := locs[i-1]
			out.NextCursor = fmt.Sprintf("%d.%d", prev.Height, prev.Index)
			break
		}
		hs, ok := blocks[loc.Height]
		if !ok {
			if hs, err = st.TxHashes(loc.Height); err != nil {
				return err
			}
			blocks[loc.Height] = hs
		}
		if int(loc.Index) >= len(hs) {
			return fmt.Errorf("account %s: index entry %d/%d has no transaction", a, loc.Height, loc.Index)
		}
		tx, _, err := st.BlockTx(loc.Height, loc.Index, hs[loc.Index])
		if err != nil {
			return err
		}
		rc, err := st.Receipt(loc)
		if err != nil {
			return err
		}
		out.Txs = append(out.Txs, txSummary(tx, loc.Height, loc.Index, rc))
	}
	return writeJSON(w, http.StatusOK, out)
}

// accountPage cuts the index entries read for a page (up to limit+1,
// newest first) to the page, and says whether more may follow. While the
// node builds the index for its older blocks (building, below height
// from), a page ends where the complete part does, and a page that would
// start below it is refused until the build gets there.
func accountPage(locs []store.TxLocation, limit int, from uint64, building bool) (page []store.TxLocation, more bool, err error) {
	if building {
		if i := slices.IndexFunc(locs, func(loc store.TxLocation) bool { return loc.Height < from }); i >= 0 {
			if i == 0 {
				return nil, false, errf(http.StatusServiceUnavailable, "unavailable",
					"the account index is being built for this node's older blocks (it is complete from height %d on); retry later", from)
			}
			locs, more = locs[:i], true
		}
	}
	if len(locs) > limit {
		locs, more = locs[:limit], true
	}
	return locs, more, nil
}

func txSummary(tx *types.Tx, height uint64, index uint32, rc *types.Receipt) client.TxSummary {
	return client.TxSummary{
		Hash: tx.Hash(), Height: height, Index: index, Type: tx.Type().String(), Sender: tx.Sender, Nonce: tx.Nonce,
		OK: rc.OK, Code: rc.Code, Reason: rc.Reason, Version: rc.Version,
	}
}
