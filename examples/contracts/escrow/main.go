//go:build wasip1

// Command escrow is a sample contract that holds native tokens until a
// condition another contract decides: a payer first transfers tokens to
// the escrow contract's account, then opens a deal naming a beneficiary,
// an amount, and a voucher (contract and id) whose redemption releases the
// funds. Anyone may call release: the escrow asks the voucher contract
// (a call between contracts) and pays the beneficiary only if the voucher
// is redeemed. The payer may refund after the deadline height instead.
//
// Functions (JSON):
//
//	open    {"id","beneficiary","amount","voucher_contract","voucher_id","deadline"}
//	release {"id"}
//	refund  {"id"}
//	get     {"id"}
package main

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/cairn-db/cairn/contract"
)

// Deal is stored under "deal/" + ID.
type Deal struct {
	ID              string `json:"id"`
	Payer           string `json:"payer"`
	Beneficiary     string `json:"beneficiary"`
	Amount          uint64 `json:"amount"`
	VoucherContract string `json:"voucher_contract"`
	VoucherID       string `json:"voucher_id"`
	Deadline        uint64 `json:"deadline"`
	State           string `json:"state"` // open, released, refunded
}

const committedKey = "committed" // tokens promised to open deals

func key(id string) []byte { return []byte("deal/" + id) }

func committed() uint64 {
	raw, ok := contract.GetState([]byte(committedKey))
	if !ok {
		return 0
	}
	var n uint64
	_ = json.Unmarshal(raw, &n)
	return n
}

func setCommitted(n uint64) {
	raw, _ := json.Marshal(n)
	contract.PutState([]byte(committedKey), raw)
}

func load(b []byte) (*Deal, error) {
	var a struct{ ID string }
	if err := json.Unmarshal(b, &a); err != nil {
		return nil, fmt.Errorf("arguments: %w", err)
	}
	raw, ok := contract.GetState(key(a.ID))
	if !ok {
		return nil, fmt.Errorf("deal %q does not exist", a.ID)
	}
	var d Deal
	if err := json.Unmarshal(raw, &d); err != nil {
		return nil, err
	}
	return &d, nil
}

func save(d *Deal, event string) ([]byte, error) {
	raw, err := json.Marshal(d)
	if err != nil {
		return nil, err
	}
	contract.PutState(key(d.ID), raw)
	contract.Emit(event, raw)
	return raw, nil
}

func address(s string) (contract.Address, error) {
	var a contract.Address
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != len(a) {
		return a, fmt.Errorf("address %q is not 40 hex digits", s)
	}
	copy(a[:], b)
	return a, nil
}

func hexAddr(a contract.Address) string { return hex.EncodeToString(a[:]) }

func pay(to string, amount uint64) error {
	a, err := address(to)
	if err != nil {
		return err
	}
	if err := contract.Transfer(a, amount); err != nil {
		return err
	}
	setCommitted(committed() - amount)
	return nil
}

func init() {
	contract.Register("open", func(b []byte) ([]byte, error) {
		var d Deal
		if err := json.Unmarshal(b, &d); err != nil {
			return nil, fmt.Errorf("arguments: %w", err)
		}
		if d.ID == "" || d.Amount == 0 || d.VoucherContract == "" || d.VoucherID == "" {
			return nil, errors.New("id, amount, voucher_contract and voucher_id are required")
		}
		if _, err := address(d.Beneficiary); err != nil {
			return nil, err
		}
		if _, exists := contract.GetState(key(d.ID)); exists {
			return nil, fmt.Errorf("deal %q already exists", d.ID)
		}
		free := contract.Balance(contract.Self()) - committed()
		if d.Amount > free {
			return nil, fmt.Errorf("the escrow holds %d uncommitted tokens; transfer at least %d to %s first", free, d.Amount, hexAddr(contract.Self()))
		}
		d.Payer, d.State = hexAddr(contract.Caller()), "open"
		setCommitted(committed() + d.Amount)
		return save(&d, "opened")
	})
	contract.Register("release", func(b []byte) ([]byte, error) {
		d, err := load(b)
		if err != nil {
			return nil, err
		}
		if d.State != "open" {
			return nil, fmt.Errorf("deal %q is %s", d.ID, d.State)
		}
		raw, err := contract.Call(d.VoucherContract, "get", fmt.Appendf(nil, `{"id":%q}`, d.VoucherID), 0)
		if err != nil {
			return nil, fmt.Errorf("asking %s: %w", d.VoucherContract, err)
		}
		var v struct {
			Redeemed bool `json:"redeemed"`
		}
		if err := json.Unmarshal(raw, &v); err != nil {
			return nil, fmt.Errorf("voucher answer: %w", err)
		}
		if !v.Redeemed {
			return nil, fmt.Errorf("voucher %s of %s is not redeemed yet", d.VoucherID, d.VoucherContract)
		}
		if err := pay(d.Beneficiary, d.Amount); err != nil {
			return nil, err
		}
		d.State = "released"
		return save(d, "released")
	})
	contract.Register("refund", func(b []byte) ([]byte, error) {
		d, err := load(b)
		if err != nil {
			return nil, err
		}
		if d.State != "open" {
			return nil, fmt.Errorf("deal %q is %s", d.ID, d.State)
		}
		if hexAddr(contract.Caller()) != d.Payer {
			return nil, errors.New("only the payer may ask for a refund")
		}
		if contract.Height() <= d.Deadline {
			return nil, fmt.Errorf("deal %q runs until height %d", d.ID, d.Deadline)
		}
		if err := pay(d.Payer, d.Amount); err != nil {
			return nil, err
		}
		d.State = "refunded"
		return save(d, "refunded")
	})
	contract.Register("get", func(b []byte) ([]byte, error) {
		d, err := load(b)
		if err != nil {
			return nil, err
		}
		return json.Marshal(d)
	})
}

func main() {}
