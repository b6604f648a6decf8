package api

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/cairn-db/cairn/client"
	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/internal/ledger"
	"github.com/cairn-db/cairn/types"
)

// contractName returns the {name} path segment, checked.
func contractName(r *http.Request) (string, error) {
	name := r.PathValue("name")
	if err := types.CheckContractName(name); err != nil {
		return "", badRequest("%v", err)
	}
	return name, nil
}

// listContracts is GET /v1/contracts: instances in name order, ?after= and
// ?limit= to page.
func (s *Server) listContracts(w http.ResponseWriter, r *http.Request) error {
	limit, err := s.pageLimit(r)
	if err != nil {
		return err
	}
	after := r.URL.Query().Get("after")
	if after != "" {
		if err := types.CheckContractName(after); err != nil {
			return badRequest("after: %v", err)
		}
	}
	infos, err := s.cfg.Backend.Ledger().ContractInfos(after, limit+1)
	if err != nil {
		return err
	}
	out := client.ContractList{Contracts: infos}
	if len(infos) > limit {
		out.Contracts = infos[:limit]
		out.Next = infos[limit-1].Name
	}
	if out.Contracts == nil {
		out.Contracts = []*types.ContractInfo{}
	}
	return writeJSON(w, http.StatusOK, out)
}

// proofHeight resolves ?height= for a proven read: at least 1 (the genesis
// state has no certificate).
func proofHeight(r *http.Request, l *ledger.Ledger) (uint64, error) {
	h, explicit, err := readHeight(r, l)
	if err != nil {
		return 0, err
	}
	if h == 0 {
		if explicit {
			return 0, badRequest("height 0 is the genesis state and has no certificate; proofs need a height of at least 1")
		}
		return 0, notFound("no block has been committed yet, so no contract exists")
	}
	return h, nil
}

// getContract is GET /v1/contracts/{name}: the instance's info with a
// state proof, and its account, at the read height.
func (s *Server) getContract(w http.ResponseWriter, r *http.Request) error {
	name, err := contractName(r)
	if err != nil {
		return err
	}
	l := s.cfg.Backend.Ledger()
	h, err := proofHeight(r, l)
	if err != nil {
		return err
	}
	sp, err := l.Prove(types.ContractInfoKey(name), h)
	if err != nil {
		return err
	}
	if !sp.Found {
		return notFound("no contract %q at height %d", name, h)
	}
	if sp.Header == nil || sp.Certificate == nil || sp.Proof == nil {
		return fmt.Errorf("prove contract %s at %d: ledger returned an incomplete proof", name, h)
	}
	info, err := types.DecodeContractInfo(sp.Value)
	if err != nil {
		return fmt.Errorf("contract %s at %d: %w", name, h, err)
	}
	cs, err := l.ContractsAt(h)
	if err != nil {
		return err
	}
	addr := types.ContractAddress(name)
	bal, err := cs.Balance(addr)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, client.ContractState{Name: name, Height: h, Info: info, Address: addr, Balance: bal,
		StateKeyHex: hex.EncodeToString(sp.Key), ValueHex: hex.EncodeToString(sp.Value),
		Proof: sp.Proof, ProofHex: hex.EncodeToString(sp.Proof.Encode()),
		HeaderHex: hex.EncodeToString(sp.HeaderBytes), Header: sp.Header,
		Certificate: certificateJSON(sp.Certificate, l.Genesis().ChainID, valsAt(l, sp.Certificate.Height))})
}

// contractKeyParam returns the {key} segment: the contract key in hex.
func contractKeyParam(r *http.Request) ([]byte, error) {
	k, err := hex.DecodeString(r.PathValue("key"))
	if err != nil || len(k) == 0 || len(k) > types.MaxContractKeyBytes {
		return nil, badRequest("key must be 1..%d bytes in hex", types.MaxContractKeyBytes)
	}
	return k, nil
}

// getContractKey is GET /v1/contracts/{name}/keys/{key}: one key of the
// contract's namespace, or its absence, with a state proof.
func (s *Server) getContractKey(w http.ResponseWriter, r *http.Request) error {
	name, err := contractName(r)
	if err != nil {
		return err
	}
	key, err := contractKeyParam(r)
	if err != nil {
		return err
	}
	l := s.cfg.Backend.Ledger()
	h, err := proofHeight(r, l)
	if err != nil {
		return err
	}
	sp, err := l.Prove(types.ContractKey(name, key), h)
	if err != nil {
		return err
	}
	if sp.Header == nil || sp.Certificate == nil || sp.Proof == nil {
		return fmt.Errorf("prove contract %s key %x at %d: ledger returned an incomplete proof", name, key, h)
	}
	out := client.ContractKey{Contract: name, KeyHex: hex.EncodeToString(key), Height: h, Found: sp.Found,
		StateKeyHex: hex.EncodeToString(sp.Key), Proof: sp.Proof, ProofHex: hex.EncodeToString(sp.Proof.Encode()),
		HeaderHex: hex.EncodeToString(sp.HeaderBytes), Header: sp.Header,
		Certificate: certificateJSON(sp.Certificate, l.Genesis().ChainID, valsAt(l, sp.Certificate.Height))}
	if sp.Found {
		e, err := types.DecodeContractEntry(sp.Value)
		if err != nil {
			return fmt.Errorf("contract %s key %x at %d: %w", name, key, h, err)
		}
		out.Entry, out.ValueHex = e, hex.EncodeToString(sp.Value)
	}
	return writeJSON(w, http.StatusOK, out)
}

// contractKeyHistory is GET /v1/contracts/{name}/keys/{key}/history: the
// key's committed versions, newest first, up to ?limit=.
func (s *Server) contractKeyHistory(w http.ResponseWriter, r *http.Request) error {
	name, err := contractName(r)
	if err != nil {
		return err
	}
	key, err := contractKeyParam(r)
	if err != nil {
		return err
	}
	limit, err := s.pageLimit(r)
	if err != nil {
		return err
	}
	l := s.cfg.Backend.Ledger()
	h := l.Head().Height
	vs, err := l.State().HistoryNewestAt(types.ContractKey(name, key), h, limit)
	if err != nil {
		return err
	}
	out := client.ContractKeyHistory{Contract: name, KeyHex: hex.EncodeToString(key), Height: h, Versions: []*types.ContractEntry{}}
	for _, v := range vs {
		e, err := types.DecodeContractEntry(v.Value)
		if err != nil {
			return fmt.Errorf("contract %s key %x at %d: %w", name, key, v.Height, err)
		}
		out.Versions = append(out.Versions, e)
	}
	return writeJSON(w, http.StatusOK, out)
}

// queryContract is POST /v1/contracts/{name}/query: a read-only call at the
// read height, gas-limited by the chain's max_tx_gas.
func (s *Server) queryContract(w http.ResponseWriter, r *http.Request) error {
	name, err := contractName(r)
	if err != nil {
		return err
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return s.bodyError(err)
	}
	var q client.ContractQuery
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&q); err != nil {
		return badRequest("query body: %v", err)
	}
	if dec.More() {
		return badRequest("query body: data after the object")
	}
	if q.Function == "" || len(q.Function) > types.MaxContractFunctionBytes {
		return badRequest("function must be 1..%d bytes", types.MaxContractFunctionBytes)
	}
	l := s.cfg.Backend.Ledger()
	_, maxGas := l.Genesis().Params.ContractParams()
	if q.GasLimit == 0 {
		q.GasLimit = maxGas
	}
	if q.GasLimit > maxGas {
		return badRequest("gas_limit %d above the chain's max_tx_gas %d", q.GasLimit, maxGas)
	}
	h, _, err := readHeight(r, l)
	if err != nil {
		return err
	}
	var caller crypto.Address
	if q.Caller != nil {
		caller = *q.Caller
	}
	res, err := l.Query(r.Context(), name, q.Function, q.Args, q.GasLimit, h, caller)
	if err != nil {
		return err
	}
	out := client.ContractQueryResult{Height: res.Height, OK: res.Outcome.Err == nil, Result: res.Outcome.Result, GasUsed: res.Outcome.GasUsed}
	if res.Outcome.Err != nil {
		var te *types.TxError
		if errors.As(res.Outcome.Err, &te) {
			out.Code = te.Code
		}
		out.Reason = res.Outcome.Err.Error()
		if out.Code == "no_such_contract" {
			return notFound("no contract %q at height %d", name, h)
		}
	}
	if out.Result == nil {
		out.Result = []byte{}
	}
	return writeJSON(w, http.StatusOK, out)
}
