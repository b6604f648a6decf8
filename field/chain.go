package field

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cairn-db/cairn/client"
	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/types"
)

// ErrTxFailed wraps a field transaction that was committed with a failed
// receipt (it changed nothing); the message carries the receipt's reason.
var ErrTxFailed = errors.New("field: transaction failed")

// Submit signs payload as k with k's next nonce, submits it and waits up to
// timeout for its commit. A committed failure is an error wrapping
// ErrTxFailed with the receipt's code and reason.
func Submit(ctx context.Context, cl *client.Client, chainID string, k *crypto.PrivateKey, p types.Payload, timeout time.Duration) (*client.TxResult, error) {
	acc, err := cl.Account(ctx, k.Public().Address())
	if err != nil {
		return nil, fmt.Errorf("field: account of %s: %w", k.Public(), err)
	}
	tx := &types.Tx{ChainID: chainID, Nonce: acc.Nonce + 1, Timestamp: time.Now().UnixMilli(), Payload: p}
	tx.Sign(k)
	r, err := cl.SubmitWait(ctx, tx, timeout)
	if err != nil {
		return nil, fmt.Errorf("field: submit %s: %w", p.TxType(), err)
	}
	switch r.Status {
	case client.StatusCommitted:
		return r, nil
	case client.StatusFailed:
		reason := ""
		if r.Receipt != nil {
			reason = r.Receipt.Reason
		}
		return r, fmt.Errorf("%w: %s at height %d: %s", ErrTxFailed, p.TxType(), r.Height, reason)
	}
	return r, fmt.Errorf("field: %s still %s after %s", p.TxType(), r.Status, timeout)
}
