package types

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/cairn-db/cairn/crypto"
)

// Params are chain-wide limits every validator must apply identically,
// so they live in genesis rather than in a node's config.
type Params struct {
	MaxBlockTxs    int `json:"max_block_txs"`
	MaxBlockBytes  int `json:"max_block_bytes"`
	MaxTxBytes     int `json:"max_tx_bytes"`
	MaxRecordBytes int `json:"max_record_bytes"`
	// Who may submit what, the governance threshold and the price of a
	// transaction (access.go, docs/security.md).
	Permissions         Permissions `json:"permissions"`
	GovernanceThreshold int         `json:"governance_threshold,omitempty"`
	Fees                *Fees       `json:"fees,omitempty"`

	// Contracts (docs/contracts.md). Absent from a genesis (zero), each
	// takes its default (ContractParams); omitted when zero, so a genesis
	// written before contracts existed is read and written unchanged.
	//
	// MaxCodeBytes bounds a contract.deploy's code (default 6 MiB). A deploy
	// is bounded by it instead of max_tx_bytes: Go-built modules are
	// larger than an ordinary transaction may be.
	MaxCodeBytes int `json:"max_code_bytes,omitempty"`
	// MaxTxGas bounds the gas_limit of a contract transaction (default
	// 100,000,000).
	MaxTxGas uint64 `json:"max_tx_gas,omitempty"`
	// ContractDeployers lists the accounts that may deploy code; empty:
	// every account may.
	ContractDeployers []crypto.Address `json:"contract_deployers,omitempty"`

	// ValidatorGovernance says who changes the validator set (valset.go):
	// "" or "permissioned" (validator.update approved by the governors, as
	// role.grant) or "dpos" (the staking epoch step; validator.update is
	// refused).
	ValidatorGovernance string `json:"validator_governance,omitempty"`

	// Delegated proof of stake (staking.go, docs/staking.md): its members
	// appear in "params" directly, each omitted when zero (the default).
	StakingParams
}

// Contract parameter defaults (Params.MaxCodeBytes, Params.MaxTxGas).
const (
	DefaultMaxCodeBytes = 6 << 20
	DefaultMaxTxGas     = 100_000_000
)

// ContractParams returns the contract limits in force: max_code_bytes and
// max_tx_gas, defaults filled in.
func (p Params) ContractParams() (maxCodeBytes int, maxTxGas uint64) {
	maxCodeBytes, maxTxGas = p.MaxCodeBytes, p.MaxTxGas
	if maxCodeBytes == 0 {
		maxCodeBytes = DefaultMaxCodeBytes
	}
	if maxTxGas == 0 {
		maxTxGas = DefaultMaxTxGas
	}
	return maxCodeBytes, maxTxGas
}

// DefaultParams returns the defaults: 10,000 txs or 16 MiB per block, 2 MiB
// per transaction, 1 MiB per record document; an open chain without fees
// (the library's neutral default: `cairn init` and the devnet add
// DefaultFees and a governors role).
func DefaultParams() Params {
	return Params{MaxBlockTxs: 10000, MaxBlockBytes: 16 << 20, MaxTxBytes: 2 << 20, MaxRecordBytes: 1 << 20,
		Permissions: OpenPermissions()}
}

// Check rejects impossible parameter values.
func (p Params) Check() error {
	switch {
	case p.MaxBlockTxs <= 0:
		return fmt.Errorf("params: max_block_txs must be positive")
	case p.MaxTxBytes <= 0 || p.MaxTxBytes > MaxTxBytesHard:
		return fmt.Errorf("params: max_tx_bytes must be 1..%d", MaxTxBytesHard)
	case p.MaxBlockBytes < p.MaxTxBytes:
		return fmt.Errorf("params: max_block_bytes must be at least max_tx_bytes")
	case p.MaxRecordBytes <= 0 || p.MaxRecordBytes > p.MaxTxBytes:
		return fmt.Errorf("params: max_record_bytes must be 1..max_tx_bytes")
	case p.MaxCodeBytes < 0 || p.MaxCodeBytes > MaxTxBytesHard-4096:
		return fmt.Errorf("params: max_code_bytes must be 0 (default) or at most %d", MaxTxBytesHard-4096)
	case p.MaxBlockBytes < p.MaxTxBytes:
		return fmt.Errorf("params: max_block_bytes must be at least max_tx_bytes")
	}
	switch p.ValidatorGovernance {
	case "", GovernancePermissioned, GovernanceDPoS:
	default:
		return fmt.Errorf("params: validator_governance must be %q or %q, got %q", GovernancePermissioned, GovernanceDPoS, p.ValidatorGovernance)
	}
	if code, _ := p.ContractParams(); p.MaxBlockBytes < code+4096 {
		return fmt.Errorf("params: max_block_bytes must hold a deploy of max_code_bytes (%d) and its transaction", code)
	}
	if err := p.Permissions.check(); err != nil {
		return err
	}
	if err := p.checkStaking(); err != nil {
		return err
	}
	return p.Fees.check()
}

// Balance is an initial account balance.
type Balance struct {
	Address crypto.Address `json:"address"`
	Amount  uint64         `json:"amount"`
}

// Genesis defines a chain: its id, validators, initial balances and limits.
type Genesis struct {
	ChainID     string      `json:"chain_id"`
	GenesisTime int64       `json:"genesis_time"` // Unix milliseconds
	Validators  []Validator `json:"validators"`
	Balances    []Balance   `json:"balances"`
	Params      Params      `json:"params"`
	// Roles are the roles' first members (access.go); governance
	// transactions change them.
	Roles []Role `json:"roles,omitempty"`
	// Stakes are the stake bonded at genesis on a DPoS chain (staking.go).
	Stakes []GenesisStake `json:"stakes,omitempty"`
}

// ValidatorSet builds the genesis validator set.
// On a DPoS chain its proposers take turns in slots (Params.ValidatorSet).
func (g *Genesis) ValidatorSet() (*ValidatorSet, error) { return g.Params.ValidatorSet(g.Validators) }

// Check validates the genesis document.
func (g *Genesis) Check() error {
	if g.ChainID == "" || len(g.ChainID) > MaxChainIDBytes {
		return fmt.Errorf("genesis: chain_id must be 1..%d bytes", MaxChainIDBytes)
	}
	if _, err := g.ValidatorSet(); err != nil {
		return fmt.Errorf("genesis: %w", err)
	}
	for _, v := range g.Validators {
		if len(v.Name) > MaxValidatorNameBytes {
			return fmt.Errorf("genesis: validator name %q is longer than %d bytes", v.Name, MaxValidatorNameBytes)
		}
	}
	seen := map[crypto.Address]bool{}
	for _, b := range g.Balances {
		if seen[b.Address] {
			return fmt.Errorf("genesis: duplicate balance for %s", b.Address)
		}
		seen[b.Address] = true
	}
	if err := g.checkRoles(); err != nil {
		return err
	}
	if err := g.checkStakes(); err != nil {
		return err
	}
	return g.Params.Check()
}

// LoadGenesis reads and checks a genesis file.
func LoadGenesis(path string) (*Genesis, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read genesis: %w", err)
	}
	var g Genesis
	if err := json.Unmarshal(b, &g); err != nil {
		return nil, fmt.Errorf("genesis %s: %w", path, err)
	}
	// Every validator must read the same chain from these bytes, whatever
	// its JSON parser does with a repeated name.
	if err := checkUniqueNames(b); err != nil {
		return nil, fmt.Errorf("genesis %s: %w", path, err)
	}
	if err := g.Check(); err != nil {
		return nil, fmt.Errorf("genesis %s: %w", path, err)
	}
	return &g, nil
}

// Save writes the genesis file.
func (g *Genesis) Save(path string) error {
	b, err := json.MarshalIndent(g, "", "  ")
	if err != nil {
		return fmt.Errorf("encode genesis: %w", err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write genesis: %w", err)
	}
	return nil
}

// ValidateTx applies the chain-level admission rules that need no state:
// chain id, size limits, signature. Stateful rules (nonce, balance, versions)
// belong to execution.
func (g *Genesis) ValidateTx(tx *Tx) error {
	return ValidateTxStateless(tx, g.ChainID, g.Params, true)
}

// ValidateTxStateless checks chain id and size limits, and the signature when
// checkSig is set (block execution verifies signatures in a batch instead).
func ValidateTxStateless(tx *Tx, chainID string, p Params, checkSig bool) error {
	if tx.ChainID != chainID {
		return Errf(CodeWrongChain, "transaction is for chain %q, this is %q", tx.ChainID, chainID)
	}
	maxCode, maxGas := p.ContractParams()
	switch c := tx.Payload.(type) {
	case *ContractDeploy:
		// Bounded by its code instead of max_tx_bytes (see Params).
		if len(c.Code) > maxCode {
			return Errf(CodeOversized, "contract code is %d bytes, limit %d (max_code_bytes)", len(c.Code), maxCode)
		}
	case *ContractInstantiate:
		if c.GasLimit > maxGas {
			return Errf(CodeOversized, "gas_limit %d above the chain's max_tx_gas %d", c.GasLimit, maxGas)
		}
	case *ContractInvoke:
		if c.GasLimit > maxGas {
			return Errf(CodeOversized, "gas_limit %d above the chain's max_tx_gas %d", c.GasLimit, maxGas)
		}
	}
	if n := tx.Size(); n > p.MaxTxBytes && tx.Type() != TxContractDeploy {
		return Errf(CodeOversized, "transaction is %d bytes, limit %d", n, p.MaxTxBytes)
	}
	if r, ok := tx.Payload.(*Record); ok && len(r.Document) > p.MaxRecordBytes {
		return Errf(CodeOversized, "record document is %d bytes, limit %d", len(r.Document), p.MaxRecordBytes)
	}
	if r, ok := tx.Payload.(*BlobRecord); ok && len(r.Document) > p.MaxRecordBytes {
		return Errf(CodeOversized, "blob.record document is %d bytes, limit %d", len(r.Document), p.MaxRecordBytes)
	}
	if tx.Sender.SmallOrder() {
		return Errf(CodeBadSignature, "sender %s is not a usable public key (small-order point)", tx.Sender)
	}
	if checkSig {
		return tx.VerifySignature()
	}
	return nil
}
