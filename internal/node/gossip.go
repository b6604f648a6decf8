package node

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/cairn-db/cairn/types"
)

// Mempool gossip carries batches of transactions between validators:
// count:u32 then, per tx, len:u32 and the canonical signed bytes. Each tx
// is decoded and verified on arrival like any client's.
const maxGossipBatch = 4096

func encodeTxBatch(txs []*types.Tx) []byte {
	n := 4
	for _, tx := range txs {
		n += 4 + tx.Size()
	}
	b := make([]byte, 0, n)
	b = binary.BigEndian.AppendUint32(b, uint32(len(txs)))
	for _, tx := range txs {
		b = binary.BigEndian.AppendUint32(b, uint32(tx.Size()))
		b = append(b, tx.Bytes()...)
	}
	return b
}

func decodeTxBatch(b []byte) ([]*types.Tx, error) {
	if len(b) < 4 {
		return nil, errors.New("tx batch: truncated count")
	}
	count := binary.BigEndian.Uint32(b)
	b = b[4:]
	if count > maxGossipBatch || uint64(count)*4 > uint64(len(b)) {
		return nil, fmt.Errorf("tx batch: count %d too large", count)
	}
	txs := make([]*types.Tx, 0, count)
	for i := uint32(0); i < count; i++ {
		if len(b) < 4 {
			return nil, fmt.Errorf("tx batch: tx %d: truncated length", i)
		}
		l := binary.BigEndian.Uint32(b)
		b = b[4:]
		if uint64(l) > uint64(len(b)) {
			return nil, fmt.Errorf("tx batch: tx %d: truncated", i)
		}
		tx, err := types.DecodeTx(b[:l])
		if err != nil {
			return nil, fmt.Errorf("tx batch: tx %d: %w", i, err)
		}
		txs = append(txs, tx)
		b = b[l:]
	}
	if len(b) != 0 {
		return nil, errors.New("tx batch: trailing bytes")
	}
	return txs, nil
}

// gossipOut broadcasts transactions admitted from clients.
func (n *Node) gossipOut(ctx context.Context) {
	defer n.wg.Done()
	for {
		select {
		case <-ctx.Done():
			return
		case batch := <-n.pool.Gossip():
			n.broadcastTxs(batch)
		}
	}
}

// broadcastTxs sends txs to every connected peer, in as many batches as
// the count bound and the transport's frame limit require.
func (n *Node) broadcastTxs(batch []*types.Tx) {
	for _, b := range encodeTxBatches(batch, n.net.MaxMessageBytes()) {
		n.net.Broadcast(chMempool, b)
	}
}

// encodeTxBatches splits txs at transaction boundaries into encoded batches
// of at most maxGossipBatch transactions and maxBytes bytes each, so no
// batch is refused whole by the transport. A transaction too large to fit a
// batch on its own (larger than any block may hold, so never admitted in
// practice) still goes alone, and the transport counts its drop.
func encodeTxBatches(txs []*types.Tx, maxBytes int) [][]byte {
	var out [][]byte
	for len(txs) > 0 {
		size, k := 4, 0
		for k < len(txs) && k < maxGossipBatch {
			s := 4 + txs[k].Size()
			if k > 0 && size+s > maxBytes {
				break
			}
			size += s
			k++
		}
		out = append(out, encodeTxBatch(txs[:k]))
		txs = txs[k:]
	}
	return out
}

// gossipIn admits transactions that peers gossiped. Rejections are normal
// (we may have them already, or they committed meanwhile) and only counted.
func (n *Node) gossipIn(ctx context.Context) {
	defer n.wg.Done()
	for {
		select {
		case <-ctx.Done():
			return
		case m := <-n.ingest:
			txs, err := decodeTxBatch(m.Payload)
			if err != nil {
				n.m.badMessages.Inc()
				continue
			}
			for _, err := range n.pool.AddFromPeer(txs) {
				if err != nil {
					n.m.gossipRejected.Inc()
				}
			}
		}
	}
}
