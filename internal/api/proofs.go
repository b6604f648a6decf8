package api

import (
	"encoding/hex"
	"fmt"
	"slices"

	"github.com/cairn-db/cairn/client"
	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/internal/ledger"
	"github.com/cairn-db/cairn/merkle"
	"github.com/cairn-db/cairn/types"
)

// blockProofs builds the proof material of the transactions of committed
// blocks: certified headers, tx and receipt inclusion proofs. It reads each
// block's tx hashes, receipts, header and certificate at most once, so a
// search page whose hits share heights costs one read per height. Not safe
// for concurrent use; one per request.
type blockProofs struct {
	l      *ledger.Ledger
	blocks map[uint64]*provenBlock
}

type provenBlock struct {
	header   *types.Header
	cert     *types.Certificate
	txHashes []crypto.Hash
	receipts []*types.Receipt
	results  []crypto.Hash // result hashes, the leaves of the results root
}

func newBlockProofs(l *ledger.Ledger) *blockProofs {
	return &blockProofs{l: l, blocks: map[uint64]*provenBlock{}}
}

func (bp *blockProofs) block(height uint64) (*provenBlock, error) {
	if b, ok := bp.blocks[height]; ok {
		return b, nil
	}
	st := bp.l.Store()
	b := &provenBlock{}
	var err error
	if b.header, err = st.Header(height); err != nil {
		return nil, fmt.Errorf("proof at height %d: header: %w", height, err)
	}
	if b.cert, err = st.Certificate(height); err != nil {
		return nil, fmt.Errorf("proof at height %d: certificate: %w", height, err)
	}
	if b.txHashes, err = st.TxHashes(height); err != nil {
		return nil, fmt.Errorf("proof at height %d: tx hashes: %w", height, err)
	}
	if b.receipts, err = st.Receipts(height); err != nil {
		return nil, fmt.Errorf("proof at height %d: receipts: %w", height, err)
	}
	if len(b.receipts) != len(b.txHashes) || uint64(len(b.txHashes)) != uint64(b.header.TxCount) {
		return nil, fmt.Errorf("proof at height %d: %d txs, %d receipts, header says %d", height, len(b.txHashes), len(b.receipts), b.header.TxCount)
	}
	b.results = make([]crypto.Hash, len(b.receipts))
	for i, r := range b.receipts {
		b.results[i] = r.ResultHash()
	}
	bp.blocks[height] = b
	return b, nil
}

// certified returns the certified header of height in its JSON form.
func (bp *blockProofs) certified(height uint64) (*client.CertifiedHeader, error) {
	b, err := bp.block(height)
	if err != nil {
		return nil, err
	}
	return &client.CertifiedHeader{
		Height: height, Hash: b.header.Hash(), HeaderHex: hex.EncodeToString(b.header.Encode()), Header: b.header,
		Certificate: certificateJSON(b.cert, bp.l.Genesis().ChainID, valsAt(bp.l, b.cert.Height)),
	}, nil
}

// txProof is the proof material of the tx with hash h at (height, index).
type txProof struct {
	tx           *types.Tx
	txProof      merkle.Proof
	receipt      *types.Receipt
	receiptProof merkle.Proof
}

func (bp *blockProofs) tx(h crypto.Hash, height uint64, index uint32) (*txProof, error) {
	b, err := bp.block(height)
	if err != nil {
		return nil, err
	}
	if int(index) >= len(b.txHashes) || b.txHashes[index] != h {
		return nil, fmt.Errorf("proof of tx %s: not at %d/%d", h, height, index)
	}
	if b.receipts[index].TxHash != h {
		return nil, fmt.Errorf("proof of tx %s: receipt %d/%d is for %s", h, height, index, b.receipts[index].TxHash)
	}
	tx, _, err := bp.l.Store().Tx(h)
	if err != nil {
		return nil, fmt.Errorf("proof of tx %s: %w", h, err)
	}
	p := &txProof{tx: tx, receipt: b.receipts[index]}
	if p.txProof, err = merkle.Prove(b.txHashes, int(index)); err != nil {
		return nil, fmt.Errorf("proof of tx %s: %w", h, err)
	}
	if p.receiptProof, err = merkle.Prove(b.results, int(index)); err != nil {
		return nil, fmt.Errorf("proof of receipt of tx %s: %w", h, err)
	}
	nonNilPath(&p.txProof)
	nonNilPath(&p.receiptProof)
	return p, nil
}

// nonNilPath makes a one-leaf proof's path an empty JSON array, not null.
func nonNilPath(p *merkle.Proof) {
	if p.Path == nil {
		p.Path = []crypto.Hash{}
	}
}

// proveSearch attaches proof material to every hit of res: transaction hits
// get their tx and receipt inclusion proofs, and res.Headers the certified
// header of every height a hit is at (a block hit is proven by its header
// alone). Hits come from the index, the proofs from the ledger: a hit the
// ledger cannot back is a node fault, not a partial answer.
func (s *Server) proveSearch(res *client.SearchResult) error {
	bp := newBlockProofs(s.cfg.Backend.Ledger())
	var heights []uint64
	seen := map[uint64]bool{}
	for i := range res.Hits {
		hit := &res.Hits[i]
		if !seen[hit.Height] {
			seen[hit.Height] = true
			heights = append(heights, hit.Height)
		}
		if hit.Index == nil {
			continue // a block hit
		}
		h, err := crypto.ParseHash(hit.Hash)
		if err != nil {
			return fmt.Errorf("search hit %s: %w", hit.ID, err)
		}
		p, err := bp.tx(h, hit.Height, *hit.Index)
		if err != nil {
			return fmt.Errorf("search hit %s: %w", hit.ID, err)
		}
		hit.Proof = &client.HitProof{
			TxBytesHex: hex.EncodeToString(p.tx.Bytes()), TxProof: p.txProof,
			ReceiptBytesHex: hex.EncodeToString(p.receipt.Encode()), ReceiptProof: p.receiptProof,
		}
	}
	slices.Sort(heights)
	res.Headers = make([]client.CertifiedHeader, 0, len(heights))
	for _, height := range heights {
		ch, err := bp.certified(height)
		if err != nil {
			return err
		}
		res.Headers = append(res.Headers, *ch)
	}
	return nil
}
