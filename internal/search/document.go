package search

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"unicode/utf8"

	"github.com/blevesearch/bleve/v2/analysis"
	"github.com/blevesearch/bleve/v2/document"
	index "github.com/blevesearch/bleve_index_api"

	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/internal/ledger"
	"github.com/cairn-db/cairn/types"
)

// Field names in the index. The query language uses the same names (see
// fieldSpecs in query.go and docs/search.md).
const (
	fHash     = "hash"     // block hash (a tx's hash is its document id, field _id)
	fID       = "_id"      // Bleve's document id field
	fType     = "type"     // a registered tx type's name (types.TxTypes), or block
	fFrom     = "from"     // sender address (hex); sender:PUBKEY queries use it too
	fTo       = "to"       // transfer recipient address (hex)
	fAmount   = "amount"   // transfer amount (numeric)
	fKey      = "key"      // kv.put / kv.delete key (exact)
	fValue    = "value"    // kv.put value (analysed text)
	fNonce    = "nonce"    // sender nonce (exact, decimal)
	fHeight   = "height"   // block height (numeric)
	fIndex    = "index"    // position in the block (exact, decimal)
	fStatus   = "status"   // ok / failed
	fCode     = "code"     // failure code (exact)
	fReason   = "reason"   // failure reason (analysed text)
	fVersion  = "version"  // key version written by a successful kv op
	fProposer = "proposer" // block proposer public key (hex)
	fTxCount  = "tx_count" // block transaction count (numeric)
	// Payment fields: the field's id (hex), the state number a close,
	// challenge or dispute names (numeric), and field.open's member
	// addresses (hex).
	fField      = "field"
	fFieldState = "field_state"
	fMember     = "member"
	fRole       = "role"        // the role a governance tx grants or revokes
	fFieldEvent = "field_event" // a block's field steps: expired, settled
	// Contracts: the instance a transaction names and the contracts whose
	// events it emitted (exact), the function invoked (exact), the code
	// hash deployed to (hex), each event's name (exact) and data (text),
	// and the gas used (numeric).
	fContract  = "contract"
	fFunction  = "function"
	fCodeHash  = "code_hash"
	fEvent     = "event"
	fEventData = "event_data"
	fGasUsed   = "gas_used"
	// Staking (docs/staking.md): the candidate a staking transaction names
	// (public key, hex), and on a block, the reward it issued (numeric);
	// the accounts a block's reward paid are under "to".
	fValidator = "validator"
	fReward    = "reward"
	// fUnindexed marks a tx whose payload type has no indexing rule.
	fUnindexed = "unindexed_payload"

	// fPos is the hidden sort key: height and position, fixed-width hex, so
	// that string order is chain order and every document has a distinct
	// value (cursors need a total order). Blocks sort before their txs.
	// Every sort order ends with it, so a hit's height and index are read
	// back from its sort key instead of being stored.
	fPos = "_pos"
	// fAll is the composite of every analysed text field: bare words search it.
	fAll = "_all"
	// docPrefix starts the analysed field of a record string at a JSON path;
	// exactPrefix+path is the same value kept whole (keyword).
	docPrefix   = "doc"
	exactPrefix = "exact."
)

// Indexing options per kind of field, chosen for indexing cost: it is
// paid for every transaction on every node. Identifiers are single
// keyword terms, stored when results show them; key and code keep term
// vectors so that matches are highlighted, as do all analysed text
// fields. Every indexed term is a posting to write, so only fields that
// need ranges are numeric: height, amount, version and tx_count are
// uintFields (a few terms each, see uintfield.go), record numbers Bleve
// numeric fields (16 terms); index and nonce are exact decimal terms.
// Derivable values are not stored: a tx's hash is its document id, its
// height and index are in its sort key, its status follows from its code,
// its time is its block's (read from the ledger), and time ranges become
// height ranges (see heightsBetween). Only the sort key skips frequencies
// and norms: a scored query on a field without them gets NaN scores.
const (
	optID       = index.IndexField | index.StoreField
	optIDMarked = index.IndexField | index.StoreField | index.IncludeTermVectors
	optIDHidden = index.IndexField
	optEnum     = index.IndexField | index.StoreField
	optText     = index.IndexField | index.StoreField | index.IncludeTermVectors
	optNum      = index.IndexField
	optNumSort  = index.IndexField | index.StoreField | index.DocValues
	// The sort key is read for every match of every query: its doc values
	// are neither compressed nor chunked, so reading one document's value is
	// a slice, not the decompression of a chunk of a thousand.
	optPos = index.IndexField | index.DocValues | index.SkipFreqNorm | index.SkipDVCompression | index.SkipDVChunking
	optAll = index.IndexField | index.IncludeTermVectors
)

// Status values.
const (
	statusOK     = "ok"
	statusFailed = "failed"
	typeBlock    = "block"
)

// typeNames are the values of the type field: every registered transaction
// type, and block.
var typeNames = append(types.TxTypeNames(), typeBlock)

// limits bounds what one document costs to index.
type limits struct {
	maxText    int // bytes of one text value indexed (longer ones are truncated)
	maxDocText int // bytes of record text indexed per document in total
	maxLeaves  int // record leaves indexed per document
	maxDepth   int // record nesting indexed
}

// builder turns committed blocks into index documents.
type builder struct {
	std analysis.Analyzer
	lim limits
	// senders caches sender addresses in hex: a hash and an encoding per
	// transaction otherwise, for a few thousand active senders. Only the
	// writer (which holds writeMu) builds documents.
	senders map[crypto.PublicKey]string
}

// maxSenders bounds the sender cache (a few MB); it starts over when full.
const maxSenders = 1 << 16

func (b *builder) sender(pk crypto.PublicKey) string {
	if a, ok := b.senders[pk]; ok {
		return a
	}
	if b.senders == nil || len(b.senders) >= maxSenders {
		b.senders = make(map[crypto.PublicKey]string, 1024)
	}
	a := pk.Address().String()
	b.senders[pk] = a
	return a
}

func posKey(height uint64, index int64) string {
	// index -1 is the block itself. Equal to fmt.Sprintf("%016x%08x",
	// height, uint32(index+1)), at a tenth of the cost (one per document).
	const digits = "0123456789abcdef"
	var b [24]byte
	for i := 15; i >= 0; i-- {
		b[i] = digits[height&15]
		height >>= 4
	}
	x := uint32(index + 1)
	for i := 23; i >= 16; i-- {
		b[i] = digits[x&15]
		x >>= 4
	}
	return string(b[:])
}

// txDocID is the document id of a transaction: its hash, except for a
// replayed copy (a failed receipt with code replay), which must not replace
// the document of the first, real inclusion.
func txDocID(h crypto.Hash, height uint64, idx uint32, r *types.Receipt) string {
	if r.Code == types.CodeReplay {
		return fmt.Sprintf("%s@%d.%d", h, height, idx)
	}
	return h.String()
}

func blockDocID(height uint64) string { return "block:" + strconv.FormatUint(height, 10) }

func (b *builder) kw(d *document.Document, name, v string, opt index.FieldIndexingOptions) {
	d.AddField(newKwField(name, nil, v, opt))
}

func (b *builder) text(d *document.Document, name string, pos []uint64, v string, all *[]string) {
	d.AddField(document.NewTextFieldCustom(name, pos, []byte(truncate(v, b.lim.maxText)), optText, b.std))
	*all = append(*all, name)
}

func (b *builder) uint(d *document.Document, name string, v uint64, opt index.FieldIndexingOptions) {
	d.AddField(newUintField(name, v, opt))
}

func (b *builder) common(d *document.Document, height uint64, idx int64, typ string) {
	d.AddField(newKwField(fPos, nil, posKey(height, idx), optPos))
	b.kw(d, fType, typ, optEnum)
	b.uint(d, fHeight, height, optNum)
}

// blockDoc is the document of a block header.
// The payment-field steps the chain took by itself at the start of the
// block (no transaction carries them) are in the block's document: each
// field's id under field, and what happened to it under field_event.
func (b *builder) blockDoc(h *types.Header, steps []ledger.FieldStep) *document.Document {
	d := document.NewDocument(blockDocID(h.Height))
	b.common(d, h.Height, -1, typeBlock)
	b.kw(d, fHash, h.Hash().String(), optID)
	b.kw(d, fProposer, h.Proposer.String(), optID)
	b.uint(d, fTxCount, uint64(h.TxCount), optNumSort)
	for _, s := range steps {
		b.kw(d, fField, s.Field.String(), optID)
		b.kw(d, fFieldEvent, s.Kind, optID)
	}
	return d
}

// coinbase adds a block's reward receipt to its document: the amount
// issued (reward) and every account it credited (to), so that
// "to:ADDRESS type:block" finds the blocks that paid an account.
func (b *builder) coinbase(d *document.Document, cb *types.Coinbase) {
	if cb == nil {
		return
	}
	b.uint(d, fReward, cb.Reward, optNumSort)
	for _, p := range cb.Payments {
		b.kw(d, fTo, p.Address.String(), optID)
	}
}

// paid adds the accounts a block's own steps credited besides the reward
// (stake released at the end of its unbonding) to its document's to.
func (b *builder) paid(d *document.Document, ps []types.Payment) {
	for _, p := range ps {
		b.kw(d, fTo, p.Address.String(), optID)
	}
}

// txDoc is the document of one committed transaction and its receipt.
func (b *builder) txDoc(height uint64, idx uint32, tx *types.Tx, r *types.Receipt) *document.Document {
	th := tx.Hash()
	d := document.NewDocument(txDocID(th, height, idx, r))
	// A transfer has ten fields: one allocation instead of five growths.
	d.Fields = make([]document.Field, 0, 12)
	b.common(d, height, int64(idx), tx.Type().String())
	var all []string
	b.kw(d, fIndex, strconv.FormatUint(uint64(idx), 10), optIDHidden)
	b.kw(d, fFrom, b.sender(tx.Sender), optID)
	b.kw(d, fNonce, strconv.FormatUint(tx.Nonce, 10), optIDHidden)
	if r.OK {
		b.kw(d, fStatus, statusOK, optIDHidden)
		if r.Version > 0 {
			b.uint(d, fVersion, r.Version, optNum)
		}
	} else {
		b.kw(d, fStatus, statusFailed, optIDHidden)
		b.kw(d, fCode, string(r.Code), optIDMarked)
		if r.Reason != "" {
			b.text(d, fReason, nil, r.Reason, &all)
		}
	}
	switch p := tx.Payload.(type) {
	case *types.Transfer:
		b.kw(d, fTo, p.To.String(), optID)
		b.uint(d, fAmount, p.Amount, optNumSort)
	case *types.KVPut:
		b.kw(d, fKey, p.Key, optIDMarked)
		if p.Value != "" {
			b.text(d, fValue, nil, p.Value, &all)
		}
	case *types.KVDelete:
		b.kw(d, fKey, p.Key, optIDMarked)
	case *types.Record, *types.BlobRecord:
		doc := recordDocument(p)
		if err := b.record(d, doc, &all); err != nil {
			// The ledger only commits canonical JSON, so this is a bug or
			// corruption; index the rest of the transaction anyway.
			b.kw(d, "record_error", err.Error(), optIDHidden)
		}
	case *types.FieldOpen:
		b.kw(d, fField, p.FieldID.String(), optID)
		for _, m := range p.Members {
			b.kw(d, fMember, m.Key.Address().String(), optIDHidden)
		}
		b.uint(d, fAmount, p.Total(), optNumSort)
	case *types.FieldClose:
		b.fieldState(d, &p.FieldStateClaim)
	case *types.FieldCloseUnilateral:
		b.fieldState(d, &p.FieldStateClaim)
	case *types.FieldChallenge:
		b.fieldState(d, &p.FieldStateClaim)
	case *types.RoleGrant:
		b.kw(d, fRole, p.Role, optIDMarked)
		b.kw(d, fTo, p.Address.String(), optID)
	case *types.RoleRevoke:
		b.kw(d, fRole, p.Role, optIDMarked)
		b.kw(d, fTo, p.Address.String(), optID)
	case *types.ValidatorUpdate:
		// to: the validator's account address; amount: its new power.
		b.kw(d, fTo, p.PublicKey.Address().String(), optID)
		b.uint(d, fAmount, p.Power, optNumSort)
	case *types.FieldDispute:
		b.kw(d, fField, p.FieldID.String(), optID)
		b.uint(d, fFieldState, p.Payment.Seq, optNumSort)
		b.uint(d, fAmount, p.Payment.Amount, optNumSort)
	case *types.ContractDeploy:
		b.uint(d, fAmount, uint64(len(p.Code)), optNumSort)
	case *types.ContractInstantiate:
		b.kw(d, fContract, p.Name, optIDMarked)
		b.kw(d, fCodeHash, p.CodeHash.String(), optID)
	case *types.ContractInvoke:
		b.kw(d, fContract, p.Name, optIDMarked)
		b.kw(d, fFunction, p.Function, optIDMarked)
		if p.Funds > 0 {
			b.uint(d, fAmount, p.Funds, optNumSort)
		}
	case *types.ContractUpgrade:
		b.kw(d, fContract, p.Name, optIDMarked)
		b.kw(d, fCodeHash, p.CodeHash.String(), optID)
	case *types.ValidatorRegister:
		b.kw(d, fValidator, p.PublicKey.String(), optID)
		b.text(d, fValue, nil, p.Name, &all)
	case *types.StakeDelegate:
		b.kw(d, fValidator, p.Validator.String(), optID)
		b.uint(d, fAmount, p.Amount, optNumSort)
	case *types.StakeUndelegate:
		b.kw(d, fValidator, p.Validator.String(), optID)
		b.uint(d, fAmount, p.Amount, optNumSort)
	case *types.StakeVote:
		for _, c := range p.Candidates {
			b.kw(d, fValidator, c.String(), optID)
		}
	case *types.ValidatorUnjail:
		b.kw(d, fValidator, p.Validator.String(), optID)
	case *types.EvidenceSubmit:
		b.kw(d, fValidator, p.Validator.String(), optID)
	default:
		// A registered type this builder has no case for (a bug that
		// TestEveryTypeIndexed catches): the tx stays findable by its
		// common fields, and the gap is marked instead of silent.
		b.kw(d, fUnindexed, tx.Type().String(), optIDHidden)
	}
	if c := r.Contract; c != nil {
		b.uint(d, fGasUsed, c.GasUsed, optNumSort)
		own := ""
		switch p := tx.Payload.(type) {
		case *types.ContractInvoke:
			own = p.Name
		case *types.ContractInstantiate:
			own = p.Name
		}
		for _, ev := range c.Events {
			if ev.Contract != own {
				b.kw(d, fContract, ev.Contract, optIDMarked)
			}
			b.kw(d, fEvent, ev.Name, optIDMarked)
			if len(ev.Data) > 0 {
				b.text(d, fEventData, nil, string(ev.Data), &all)
			}
		}
	}
	if len(all) > 0 {
		d.AddField(document.NewCompositeFieldWithIndexingOptions(fAll, false, all, nil, optAll))
	}
	return d
}

// fieldState indexes a close, unilateral close or challenge.
func (b *builder) fieldState(d *document.Document, c *types.FieldStateClaim) {
	b.kw(d, fField, c.FieldID.String(), optID)
	b.uint(d, fFieldState, c.State, optNumSort)
}

// record flattens a JSON document: every leaf at path a.b.c becomes field
// doc.a.b.c (strings analysed, numbers numeric, booleans as text) and, for
// strings, booleans and numbers, exact.doc.a.b.c holding the whole value.
// Array elements share their array's path.
func (b *builder) record(d *document.Document, raw []byte, all *[]string) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return fmt.Errorf("record document: %w", err)
	}
	w := recordWalker{b: b, d: d, all: all}
	w.walk(docPrefix, v, nil, 0)
	return nil
}

type recordWalker struct {
	b      *builder
	d      *document.Document
	all    *[]string
	leaves int
	text   int
	seen   map[string]bool
}

func (w *recordWalker) walk(path string, v any, pos []uint64, depth int) {
	if depth > w.b.lim.maxDepth || w.leaves >= w.b.lim.maxLeaves {
		return
	}
	switch v := v.(type) {
	case map[string]any:
		// Sorted, so that a document always yields the same fields in the
		// same order (rebuilds are reproducible).
		for _, k := range slices.Sorted(maps.Keys(v)) {
			w.walk(path+"."+k, v[k], pos, depth+1)
		}
	case []any:
		for i, c := range v {
			w.walk(path, c, append(pos[:len(pos):len(pos)], uint64(i)), depth+1)
		}
	case string:
		if w.text >= w.b.lim.maxDocText {
			return
		}
		s := truncate(v, min(w.b.lim.maxText, w.b.lim.maxDocText-w.text))
		w.text += len(s)
		w.leaves++
		w.d.AddField(document.NewTextFieldCustom(path, pos, []byte(s), optText, w.b.std))
		w.d.AddField(newKwField(exactPrefix+path, pos, s, optIDHidden))
		w.addAll(path)
	case json.Number:
		w.leaves++
		if f, err := v.Float64(); err == nil {
			w.d.AddField(document.NewNumericFieldWithIndexingOptions(path, pos, f, optNum))
		}
		w.d.AddField(newKwField(exactPrefix+path, pos, v.String(), optIDHidden))
	case bool:
		w.leaves++
		s := strconv.FormatBool(v)
		w.d.AddField(document.NewTextFieldCustom(path, pos, []byte(s), optText, w.b.std))
		w.d.AddField(newKwField(exactPrefix+path, pos, s, optIDHidden))
	}
}

// addAll includes a field in _all once.
func (w *recordWalker) addAll(path string) {
	if w.seen == nil {
		w.seen = map[string]bool{}
	}
	if !w.seen[path] {
		w.seen[path] = true
		*w.all = append(*w.all, path)
	}
}

// truncate cuts s to at most n bytes on a UTF-8 boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// recordDocument is the indexed document of a record or a blob.record (the
// blobs' bytes are not the chain's: only the document the client wrote is
// indexed).
func recordDocument(p types.Payload) []byte {
	if r, ok := p.(*types.BlobRecord); ok {
		return r.Document
	}
	return p.(*types.Record).Document
}
