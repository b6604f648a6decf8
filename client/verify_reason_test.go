package client_test

import (
	"context"
	"encoding/hex"
	"testing"
	"time"

	"github.com/cairn-db/cairn/client"
	"github.com/cairn-db/cairn/internal/api/apitest"
	"github.com/cairn-db/cairn/types"
)

// Block.Verify checks each receipt's outcome against the results root, not
// its reason text: a node that words a failure differently serves a block
// that still verifies, while a changed code does not.
func TestVerifyIgnoresReasonText(t *testing.T) {
	c := apitest.New(t, apitest.Options{})
	cl := c.Client()
	ctx := context.Background()
	del := apitest.Tx(c.Users[0], 1, &types.KVDelete{Key: "absent"})
	res, err := cl.SubmitWait(ctx, del, 10*time.Second)
	if err != nil || res.Status != client.StatusFailed || res.Receipt == nil || res.Receipt.Code != types.CodeNotFound {
		t.Fatalf("submit: %+v %v", res, err)
	}
	st, _ := cl.Status(ctx)
	vals, _ := st.ValidatorSet()
	fetch := func() *client.Block {
		b, err := cl.Block(ctx, res.Height)
		if err != nil || len(b.Receipts) != 1 {
			t.Fatalf("block: %+v %v", b, err)
		}
		return b
	}
	if err := fetch().Verify(apitest.ChainID, vals); err != nil {
		t.Fatalf("served block: %v", err)
	}
	reword := func(b *client.Block, edit func(r *types.Receipt)) {
		edit(&b.Receipts[0].Receipt)
		b.Receipts[0].BytesHex = hex.EncodeToString(b.Receipts[0].Receipt.Encode())
	}
	b := fetch()
	reword(b, func(r *types.Receipt) { r.Reason = "the key was never written" })
	if err := b.Verify(apitest.ChainID, vals); err != nil {
		t.Fatalf("block with another reason text: %v", err)
	}
	b = fetch()
	reword(b, func(r *types.Receipt) { r.Code = types.CodeInvalid })
	if b.Verify(apitest.ChainID, vals) == nil {
		t.Fatal("block with another code verified")
	}
}
