//go:build wasip1

// Command assets is a sample contract with the operations of Hyperledger
// Fabric's asset-transfer-basic chaincode: InitLedger (at instantiation),
// CreateAsset, ReadAsset, UpdateAsset, DeleteAsset, AssetExists,
// TransferAsset and GetAllAssets (all assets by range, page by page).
// Arguments and results are JSON.
package main

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/cairn-db/cairn/contract"
)

// Asset is stored under "asset/" + ID.
type Asset struct {
	ID             string `json:"ID"`
	Color          string `json:"Color"`
	Size           int    `json:"Size"`
	Owner          string `json:"Owner"`
	AppraisedValue int    `json:"AppraisedValue"`
}

const prefix = "asset/"

func key(id string) []byte { return []byte(prefix + id) }

func put(a *Asset) error {
	if a.ID == "" || len(a.ID) > 128 {
		return errors.New("ID must be 1..128 bytes")
	}
	raw, err := json.Marshal(a)
	if err != nil {
		return err
	}
	contract.PutState(key(a.ID), raw)
	return nil
}

func read(id string) (*Asset, error) {
	raw, ok := contract.GetState(key(id))
	if !ok {
		return nil, fmt.Errorf("the asset %s does not exist", id)
	}
	var a Asset
	if err := json.Unmarshal(raw, &a); err != nil {
		return nil, err
	}
	return &a, nil
}

func asset(b []byte) (*Asset, error) {
	var a Asset
	if err := json.Unmarshal(b, &a); err != nil {
		return nil, fmt.Errorf("arguments: %w", err)
	}
	return &a, nil
}

func id(b []byte) (string, error) {
	var a struct{ ID string }
	if err := json.Unmarshal(b, &a); err != nil {
		return "", fmt.Errorf("arguments: %w", err)
	}
	return a.ID, nil
}

func init() {
	contract.Init(func([]byte) ([]byte, error) {
		for _, a := range []Asset{
			{ID: "asset1", Color: "blue", Size: 5, Owner: "Tomoko", AppraisedValue: 300},
			{ID: "asset2", Color: "red", Size: 5, Owner: "Brad", AppraisedValue: 400},
			{ID: "asset3", Color: "green", Size: 10, Owner: "Jin Soo", AppraisedValue: 500},
			{ID: "asset4", Color: "yellow", Size: 10, Owner: "Max", AppraisedValue: 600},
			{ID: "asset5", Color: "black", Size: 15, Owner: "Adriana", AppraisedValue: 700},
			{ID: "asset6", Color: "white", Size: 15, Owner: "Michel", AppraisedValue: 800},
		} {
			if err := put(&a); err != nil {
				return nil, err
			}
		}
		return nil, nil
	})
	contract.Register("CreateAsset", func(b []byte) ([]byte, error) {
		a, err := asset(b)
		if err != nil {
			return nil, err
		}
		if _, exists := contract.GetState(key(a.ID)); exists {
			return nil, fmt.Errorf("the asset %s already exists", a.ID)
		}
		contract.Emit("created", b)
		return nil, put(a)
	})
	contract.Register("ReadAsset", func(b []byte) ([]byte, error) {
		i, err := id(b)
		if err != nil {
			return nil, err
		}
		a, err := read(i)
		if err != nil {
			return nil, err
		}
		return json.Marshal(a)
	})
	contract.Register("UpdateAsset", func(b []byte) ([]byte, error) {
		a, err := asset(b)
		if err != nil {
			return nil, err
		}
		if _, err := read(a.ID); err != nil {
			return nil, err
		}
		return nil, put(a)
	})
	contract.Register("DeleteAsset", func(b []byte) ([]byte, error) {
		i, err := id(b)
		if err != nil {
			return nil, err
		}
		if _, err := read(i); err != nil {
			return nil, err
		}
		contract.DelState(key(i))
		return nil, nil
	})
	contract.Register("AssetExists", func(b []byte) ([]byte, error) {
		i, err := id(b)
		if err != nil {
			return nil, err
		}
		_, ok := contract.GetState(key(i))
		return json.Marshal(ok)
	})
	contract.Register("TransferAsset", func(b []byte) ([]byte, error) {
		var t struct{ ID, NewOwner string }
		if err := json.Unmarshal(b, &t); err != nil {
			return nil, fmt.Errorf("arguments: %w", err)
		}
		a, err := read(t.ID)
		if err != nil {
			return nil, err
		}
		old := a.Owner
		a.Owner = t.NewOwner
		if err := put(a); err != nil {
			return nil, err
		}
		contract.Emit("transferred", fmt.Appendf(nil, `{"ID":%q,"from":%q,"to":%q}`, a.ID, old, a.Owner))
		return json.Marshal(old)
	})
	contract.Register("GetAllAssets", func([]byte) ([]byte, error) {
		all := []Asset{}
		start, end := []byte(prefix), []byte("asset0") // "asset0" is the first key after "asset/"
		for {
			page, more := contract.GetStateByRange(start, end, 100)
			for _, kv := range page {
				var a Asset
				if err := json.Unmarshal(kv.Value, &a); err != nil {
					return nil, err
				}
				all = append(all, a)
			}
			if !more || len(page) == 0 {
				break
			}
			start = append(append([]byte(nil), page[len(page)-1].Key...), 0)
		}
		return json.Marshal(all)
	})
}

func main() {}
