package node

import (
	"errors"

	"github.com/cairn-db/cairn/internal/ledger"
)

// PruningConfig is how much history a node keeps. Zero heights keep
// everything (an archive node, the default). Headers and certificates
// are always kept.
type PruningConfig struct {
	// StateHeights keeps the state (values as of a height, history,
	// proofs) of the last StateHeights heights; 0 keeps all.
	StateHeights uint64 `json:"state_heights"`
	// BodyHeights keeps the transactions and receipts of the last
	// BodyHeights heights; 0 keeps all.
	BodyHeights uint64 `json:"body_heights"`
	// Interval is how often the pruner wakes up; BatchRecords bounds
	// the records one pruning batch deletes (a commit waits for at most
	// one batch).
	Interval     Duration `json:"interval"`
	BatchRecords int      `json:"batch_records"`
}

func (p PruningConfig) retention() ledger.Retention {
	return ledger.Retention{StateHeights: p.StateHeights, BodyHeights: p.BodyHeights}
}

func (p PruningConfig) check() error {
	if p.retention().Archive() {
		return nil
	}
	if p.Interval.Duration <= 0 || p.BatchRecords <= 0 {
		return errors.New("pruning interval and batch_records must be positive")
	}
	// The newest heights must stay: consensus and catch-up serve them.
	if (p.StateHeights > 0 && p.StateHeights < 2) || (p.BodyHeights > 0 && p.BodyHeights < 2) {
		return errors.New("pruning must keep at least 2 heights of state and bodies")
	}
	return nil
}

// CertificateConfig sets the p2p TLS certificates' lifetime (internal/p2p
// certificate.go). WarnBefore is how long before expiry GET /v1/status
// says "expiring" (the node renews at RenewBefore, so a status that says
// so means renewal is failing).
type CertificateConfig struct {
	Lifetime    Duration `json:"lifetime"`
	RenewBefore Duration `json:"renew_before"`
	WarnBefore  Duration `json:"warn_before"`
}

func (c CertificateConfig) check() error {
	if c.Lifetime.Duration <= 0 || c.RenewBefore.Duration <= 0 || c.RenewBefore.Duration >= c.Lifetime.Duration {
		return errors.New("p2p_certificates: lifetime and renew_before must be positive, renew_before below lifetime")
	}
	if c.WarnBefore.Duration < 0 {
		return errors.New("p2p_certificates: warn_before must not be negative")
	}
	return nil
}
