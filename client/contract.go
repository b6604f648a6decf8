package client

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/smt"
	"github.com/cairn-db/cairn/types"
)

// ContractList is GET /v1/contracts: contract instances in name order, as
// of the latest committed height. Next, when set, is the ?after= value of
// the following page.
type ContractList struct {
	Contracts []*types.ContractInfo `json:"contracts"`
	Next      string                `json:"next,omitempty"`
}

// ContractState is GET /v1/contracts/{name}: an instance's info (code hash,
// owner, heights) at Height with a state proof of it against the certified
// header at Height, and its account (address and balance at Height). A
// contract's own keys are proven one by one (ContractKey): the state is one
// tree, so a namespace has no root of its own; the proof of the info entry
// and of each key lead to the same certified state root.
type ContractState struct {
	Name        string              `json:"name"`
	Height      uint64              `json:"height"`
	Info        *types.ContractInfo `json:"info"`
	Address     crypto.Address      `json:"address"`
	Balance     uint64              `json:"balance"`
	StateKeyHex string              `json:"state_key_hex"`
	ValueHex    string              `json:"value_hex"`
	Proof       *smt.Proof          `json:"proof"`
	ProofHex    string              `json:"proof_hex"`
	HeaderHex   string              `json:"header_hex"`
	Header      *types.Header       `json:"header"`
	Certificate *Certificate        `json:"certificate"`
}

// ContractKey is GET /v1/contracts/{name}/keys/{hexkey}: one key of a
// contract's namespace at Height, its entry (value, the height and
// transaction that wrote it, whether it is a tombstone) or its absence,
// with a state proof against the certified header at Height.
type ContractKey struct {
	Contract    string               `json:"contract"`
	KeyHex      string               `json:"key_hex"`
	Height      uint64               `json:"height"`
	Found       bool                 `json:"found"`
	Entry       *types.ContractEntry `json:"entry,omitempty"`
	StateKeyHex string               `json:"state_key_hex"`
	ValueHex    string               `json:"value_hex,omitempty"`
	Proof       *smt.Proof           `json:"proof"`
	ProofHex    string               `json:"proof_hex"`
	HeaderHex   string               `json:"header_hex"`
	Header      *types.Header        `json:"header"`
	Certificate *Certificate         `json:"certificate"`
}

// ContractKeyHistory is GET /v1/contracts/{name}/keys/{hexkey}/history:
// a contract key's committed versions, newest first.
type ContractKeyHistory struct {
	Contract string                 `json:"contract"`
	KeyHex   string                 `json:"key_hex"`
	Height   uint64                 `json:"height"`
	Versions []*types.ContractEntry `json:"versions"`
}

// ContractQuery is the body of POST /v1/contracts/{name}/query.
type ContractQuery struct {
	Function string `json:"function"`
	Args     []byte `json:"args,omitempty"` // base64
	// GasLimit bounds the call (0: the chain's max_tx_gas, also the most
	// it may be).
	GasLimit uint64 `json:"gas_limit,omitempty"`
	// Caller is what the contract sees as its caller (default: zero).
	Caller *crypto.Address `json:"caller,omitempty"`
}

// ContractQueryResult is the answer of a query: the contract's result, or
// its failure's code and reason, and the gas used, at Height.
type ContractQueryResult struct {
	Height  uint64     `json:"height"`
	OK      bool       `json:"ok"`
	Result  []byte     `json:"result"` // base64
	GasUsed uint64     `json:"gas_used"`
	Code    types.Code `json:"code,omitempty"`
	Reason  string     `json:"reason,omitempty"`
}

// Verify checks the instance info end to end with nothing but chainID and
// the validator set: a certified header at Height and the state proof of
// the info entry (value_hex, which must decode to Info) to its state root.
// Balance is not covered: prove it with the account endpoint.
func (c *ContractState) Verify(chainID string, vals *types.ValidatorSet) error {
	value, err := verifyStateEntry(chainID, vals, c.Height, types.ContractInfoKey(c.Name), c.StateKeyHex, c.ValueHex, c.Proof, c.ProofHex, c.HeaderHex, c.Header, c.Certificate, true)
	if err != nil {
		return fmt.Errorf("contract %s: %w", c.Name, err)
	}
	info, err := types.DecodeContractInfo(value)
	if err != nil || c.Info == nil || !bytes.Equal(info.Encode(), c.Info.Encode()) {
		return fmt.Errorf("contract %s: %w", c.Name, verifyErr("info differs from value_hex"))
	}
	if c.Address != types.ContractAddress(c.Name) {
		return fmt.Errorf("contract %s: %w", c.Name, verifyErr("address is not the contract's"))
	}
	return nil
}

// Verify checks the key's entry, or its absence, end to end with nothing
// but chainID and the validator set.
func (k *ContractKey) Verify(chainID string, vals *types.ValidatorSet) error {
	key, err := decodeHex(k.KeyHex, "key_hex")
	if err != nil {
		return err
	}
	value, err := verifyStateEntry(chainID, vals, k.Height, types.ContractKey(k.Contract, key), k.StateKeyHex, k.ValueHex, k.Proof, k.ProofHex, k.HeaderHex, k.Header, k.Certificate, k.Found)
	if err != nil {
		return fmt.Errorf("contract %s key %s: %w", k.Contract, k.KeyHex, err)
	}
	if !k.Found {
		if k.Entry != nil {
			return fmt.Errorf("contract %s key %s: %w", k.Contract, k.KeyHex, verifyErr("an entry for an absent key"))
		}
		return nil
	}
	e, err := types.DecodeContractEntry(value)
	if err != nil || k.Entry == nil || !bytes.Equal(e.Encode(), k.Entry.Encode()) {
		return fmt.Errorf("contract %s key %s: %w", k.Contract, k.KeyHex, verifyErr("entry differs from value_hex"))
	}
	return nil
}

// verifyStateEntry checks a certified header at height and, through
// verifyState, a state proof of wantKey (present with value_hex, or absent)
// against its state root; it returns the proven value.
func verifyStateEntry(chainID string, vals *types.ValidatorSet, height uint64, wantKey []byte, stateKeyHex, valueHex string, proof *smt.Proof, proofHex, headerHex string, header *types.Header, cert *Certificate, found bool) ([]byte, error) {
	h, err := verifyCertifiedHeader(chainID, vals, headerHex, cert)
	if err != nil {
		return nil, err
	}
	if h.Height != height || (header != nil && *header != *h) {
		return nil, verifyErr("header does not match height %d", height)
	}
	value, err := verifyState(h.StateRoot, wantKey, stateKeyHex, found, valueHex, proof, proofHex)
	if err != nil {
		return nil, fmt.Errorf("at height %d: %w", h.Height, err)
	}
	return value, nil
}

// Contracts returns a page of contract instances in name order after
// after ("" from the first), at most limit (0: the server's default).
func (c *Client) Contracts(ctx context.Context, after string, limit int) (*ContractList, error) {
	q := url.Values{}
	if after != "" {
		q.Set("after", after)
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	var out ContractList
	if _, err := c.do(ctx, http.MethodGet, "/v1/contracts", q, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Contract returns an instance's info with its proof, and its account, at
// height (0: latest). An unknown contract is an *Error with status 404.
func (c *Client) Contract(ctx context.Context, name string, height uint64) (*ContractState, error) {
	var out ContractState
	if _, err := c.do(ctx, http.MethodGet, "/v1/contracts/"+url.PathEscape(name), heightQuery(height), nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ContractKey returns one key of a contract's namespace with its proof at
// height (0: latest); an absent key is Found false with a proof of its
// absence.
func (c *Client) ContractKey(ctx context.Context, name string, key []byte, height uint64) (*ContractKey, error) {
	var out ContractKey
	if _, err := c.do(ctx, http.MethodGet, "/v1/contracts/"+url.PathEscape(name)+"/keys/"+hex.EncodeToString(key), heightQuery(height), nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ContractKeyHistory returns up to limit (0: the server's default)
// committed versions of a contract key, newest first.
func (c *Client) ContractKeyHistory(ctx context.Context, name string, key []byte, limit int) (*ContractKeyHistory, error) {
	q := url.Values{}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	var out ContractKeyHistory
	if _, err := c.do(ctx, http.MethodGet, "/v1/contracts/"+url.PathEscape(name)+"/keys/"+hex.EncodeToString(key)+"/history", q, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// QueryContract runs a read-only call at height (0: latest). A failure of
// the contract is a result with OK false; the error is for the request.
func (c *Client) QueryContract(ctx context.Context, name string, q ContractQuery, height uint64) (*ContractQueryResult, error) {
	body, err := json.Marshal(q)
	if err != nil {
		return nil, fmt.Errorf("query %s: %w", name, err)
	}
	var out ContractQueryResult
	if _, err := c.do(ctx, http.MethodPost, "/v1/contracts/"+url.PathEscape(name)+"/query", heightQuery(height), body, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Deploy signs a contract.deploy of WebAssembly code (as built by `cairn
// contract build`). The code hash to instantiate it by is the SHA-256 of
// the module after a validator's instrumentation, which `cairn contract
// build` and `cairn contract deploy` print.
func (s *Signer) Deploy(ctx context.Context, code []byte) (*types.Tx, error) {
	return s.Sign(ctx, &types.ContractDeploy{Code: code})
}

// Instantiate signs a contract.instantiate: instance name of code codeHash,
// owned by owner, whose Init runs with args and at most gas.
func (s *Signer) Instantiate(ctx context.Context, name string, codeHash crypto.Hash, owner crypto.Address, args []byte, gas uint64) (*types.Tx, error) {
	return s.Sign(ctx, &types.ContractInstantiate{Name: name, CodeHash: codeHash, Owner: owner, Args: args, GasLimit: gas})
}

// Invoke signs a contract.invoke of name's function fn with args, at most
// gas, sending funds of the native token to the contract with the call.
func (s *Signer) Invoke(ctx context.Context, name, fn string, args []byte, gas, funds uint64) (*types.Tx, error) {
	return s.Sign(ctx, &types.ContractInvoke{Name: name, Function: fn, Args: args, GasLimit: gas, Funds: funds})
}

// Upgrade signs a contract.upgrade of instance name to code codeHash (its
// owner only).
func (s *Signer) Upgrade(ctx context.Context, name string, codeHash crypto.Hash) (*types.Tx, error) {
	return s.Sign(ctx, &types.ContractUpgrade{Name: name, CodeHash: codeHash})
}
