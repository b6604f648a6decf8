//go:build wasip1

// Command voucher is a sample contract: gift vouchers that an issuer
// creates, owners transfer, and the current owner redeems exactly once.
//
// Functions (arguments and results are JSON):
//
//	issue    {"id","value","owner"}  caller becomes the issuer; owner defaults to the caller
//	transfer {"id","to"}             by the owner, not after redemption
//	redeem   {"id"}                  by the owner, once
//	get      {"id"}                  the voucher
//	history  {"id"}                  committed versions, newest first
//
// Events: issued, transferred, redeemed (data: the voucher).
package main

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/cairn-db/cairn/contract"
)

// Voucher is the state of one voucher, stored under "v/" + ID.
type Voucher struct {
	ID         string `json:"id"`
	Issuer     string `json:"issuer"`
	Owner      string `json:"owner"`
	Value      uint64 `json:"value"`
	Redeemed   bool   `json:"redeemed"`
	RedeemedAt uint64 `json:"redeemed_at,omitempty"` // height
}

type args struct {
	ID    string `json:"id"`
	Value uint64 `json:"value"`
	Owner string `json:"owner"`
	To    string `json:"to"`
}

func parse(b []byte) (args, error) {
	var a args
	if err := unmarshalArgs(b, &a); err != nil {
		return a, fmt.Errorf("arguments: %w", err)
	}
	if a.ID == "" || len(a.ID) > 128 {
		return a, errors.New("id must be 1..128 bytes")
	}
	return a, nil
}

func key(id string) []byte { return []byte("v/" + id) }

func load(id string) (*Voucher, error) {
	raw, ok := contract.GetState(key(id))
	if !ok {
		return nil, fmt.Errorf("voucher %q does not exist", id)
	}
	var v Voucher
	if err := v.unmarshal(raw); err != nil {
		return nil, fmt.Errorf("voucher %q: %w", id, err)
	}
	return &v, nil
}

func store(v *Voucher, event string) ([]byte, error) {
	raw := v.marshal()
	contract.PutState(key(v.ID), raw)
	contract.Emit(event, raw)
	return raw, nil
}

func caller() string {
	c := contract.Caller()
	return hex.EncodeToString(c[:])
}

func checkAddress(s string) error {
	if b, err := hex.DecodeString(s); err != nil || len(b) != 20 {
		return fmt.Errorf("address %q is not 40 hex digits", s)
	}
	return nil
}

func init() {
	contract.Register("issue", func(b []byte) ([]byte, error) {
		a, err := parse(b)
		if err != nil {
			return nil, err
		}
		if _, exists := contract.GetState(key(a.ID)); exists {
			return nil, fmt.Errorf("voucher %q already exists", a.ID)
		}
		if a.Value == 0 {
			return nil, errors.New("value must be positive")
		}
		owner := a.Owner
		if owner == "" {
			owner = caller()
		} else if err := checkAddress(owner); err != nil {
			return nil, err
		}
		return store(&Voucher{ID: a.ID, Issuer: caller(), Owner: owner, Value: a.Value}, "issued")
	})
	contract.Register("transfer", func(b []byte) ([]byte, error) {
		a, err := parse(b)
		if err != nil {
			return nil, err
		}
		if err := checkAddress(a.To); err != nil {
			return nil, err
		}
		v, err := load(a.ID)
		if err != nil {
			return nil, err
		}
		if v.Owner != caller() {
			return nil, fmt.Errorf("voucher %q belongs to %s, not the caller", a.ID, v.Owner)
		}
		if v.Redeemed {
			return nil, fmt.Errorf("voucher %q is already redeemed", a.ID)
		}
		v.Owner = a.To
		return store(v, "transferred")
	})
	contract.Register("redeem", func(b []byte) ([]byte, error) {
		a, err := parse(b)
		if err != nil {
			return nil, err
		}
		v, err := load(a.ID)
		if err != nil {
			return nil, err
		}
		if v.Redeemed {
			return nil, fmt.Errorf("voucher %q is already redeemed (height %d)", a.ID, v.RedeemedAt)
		}
		if v.Owner != caller() {
			return nil, fmt.Errorf("voucher %q belongs to %s, not the caller", a.ID, v.Owner)
		}
		v.Redeemed, v.RedeemedAt = true, contract.Height()
		return store(v, "redeemed")
	})
	contract.Register("get", func(b []byte) ([]byte, error) {
		a, err := parse(b)
		if err != nil {
			return nil, err
		}
		raw, ok := contract.GetState(key(a.ID))
		if !ok {
			return nil, fmt.Errorf("voucher %q does not exist", a.ID)
		}
		return raw, nil
	})
	contract.Register("history", func(b []byte) ([]byte, error) {
		a, err := parse(b)
		if err != nil {
			return nil, err
		}
		type version struct {
			Height  uint64          `json:"height"`
			Deleted bool            `json:"deleted"`
			Value   json.RawMessage `json:"value,omitempty"`
		}
		out := []version{}
		for _, v := range contract.GetHistoryForKey(key(a.ID), 100) {
			out = append(out, version{Height: v.Height, Deleted: v.Deleted, Value: v.Value})
		}
		return json.Marshal(out)
	})
}

func main() {}
