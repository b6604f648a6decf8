package types

import (
	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/merkle"
)

// Strict JSON forms of the field payloads: every field is required, unknown
// fields are errors (as for every payload).

type fieldMemberIn struct {
	Key     *crypto.PublicKey `json:"key"`
	Deposit *uint64           `json:"deposit"`
}

type fieldOpenIn struct {
	FieldID         *crypto.Hash      `json:"field_id"`
	Leader          *crypto.PublicKey `json:"leader"`
	Members         []fieldMemberIn   `json:"members"`
	ChallengePeriod *uint64           `json:"challenge_period"`
	Expiry          *uint64           `json:"expiry"`
	Penalty         *uint64           `json:"penalty"`
	Joins           []FieldSig        `json:"joins"`
}

func (p *FieldOpen) parseJSON(b []byte) error {
	var in fieldOpenIn
	if err := strictJSON(b, &in); err != nil {
		return err
	}
	if err := missing(field{"field_id", in.FieldID != nil}, field{"leader", in.Leader != nil},
		field{"members", in.Members != nil}, field{"challenge_period", in.ChallengePeriod != nil},
		field{"expiry", in.Expiry != nil}, field{"penalty", in.Penalty != nil}, field{"joins", in.Joins != nil}); err != nil {
		return err
	}
	out := FieldOpen{FieldTerms: FieldTerms{FieldID: *in.FieldID, Leader: *in.Leader,
		ChallengePeriod: *in.ChallengePeriod, Expiry: *in.Expiry, Penalty: *in.Penalty}, Joins: in.Joins}
	for _, m := range in.Members {
		if err := missing(field{"members[].key", m.Key != nil}, field{"members[].deposit", m.Deposit != nil}); err != nil {
			return err
		}
		out.Members = append(out.Members, FieldMember{Key: *m.Key, Deposit: *m.Deposit})
	}
	*p = out
	return nil
}

type fieldStateIn struct {
	FieldID    *crypto.Hash `json:"field_id"`
	State      *uint64      `json:"state"`
	Root       *crypto.Hash `json:"root"`
	Balances   []uint64     `json:"balances"`
	Signatures []FieldSig   `json:"signatures"`
}

func (c *FieldStateClaim) parseJSON(b []byte) error {
	var in fieldStateIn
	if err := strictJSON(b, &in); err != nil {
		return err
	}
	if err := missing(field{"field_id", in.FieldID != nil}, field{"state", in.State != nil}, field{"root", in.Root != nil},
		field{"balances", in.Balances != nil}, field{"signatures", in.Signatures != nil}); err != nil {
		return err
	}
	*c = FieldStateClaim{FieldID: *in.FieldID, State: *in.State, Root: *in.Root, Balances: in.Balances, Signatures: in.Signatures}
	return nil
}

func (p *FieldClose) parseJSON(b []byte) error           { return p.FieldStateClaim.parseJSON(b) }
func (p *FieldCloseUnilateral) parseJSON(b []byte) error { return p.FieldStateClaim.parseJSON(b) }
func (p *FieldChallenge) parseJSON(b []byte) error       { return p.FieldStateClaim.parseJSON(b) }

type fieldPaymentIn struct {
	Seq      *uint64   `json:"seq"`
	From     *uint16   `json:"from"`
	To       *uint16   `json:"to"`
	Amount   *uint64   `json:"amount"`
	PayerSeq *uint64   `json:"payer_seq"`
	PayerSig *FieldSig `json:"payer_sig"`
	Balances []uint64  `json:"balances"`
}

type fieldProofIn struct {
	Index *uint64       `json:"index"`
	Size  *uint64       `json:"size"`
	Path  []crypto.Hash `json:"path"`
}

type fieldDisputeIn struct {
	FieldID *crypto.Hash    `json:"field_id"`
	Payment *fieldPaymentIn `json:"payment"`
	Proof   *fieldProofIn   `json:"proof"`
}

func (p *FieldDispute) parseJSON(b []byte) error {
	var in fieldDisputeIn
	if err := strictJSON(b, &in); err != nil {
		return err
	}
	if err := missing(field{"field_id", in.FieldID != nil}, field{"payment", in.Payment != nil}, field{"proof", in.Proof != nil}); err != nil {
		return err
	}
	pm, pr := in.Payment, in.Proof
	if err := missing(field{"payment.seq", pm.Seq != nil}, field{"payment.from", pm.From != nil}, field{"payment.to", pm.To != nil},
		field{"payment.amount", pm.Amount != nil}, field{"payment.payer_seq", pm.PayerSeq != nil},
		field{"payment.payer_sig", pm.PayerSig != nil}, field{"payment.balances", pm.Balances != nil},
		field{"proof.index", pr.Index != nil}, field{"proof.size", pr.Size != nil}, field{"proof.path", pr.Path != nil}); err != nil {
		return err
	}
	*p = FieldDispute{FieldID: *in.FieldID,
		Payment: FieldPayment{Seq: *pm.Seq, From: *pm.From, To: *pm.To, Amount: *pm.Amount, PayerSeq: *pm.PayerSeq, PayerSig: *pm.PayerSig, Balances: pm.Balances},
		Proof:   merkle.Proof{Index: *pr.Index, Size: *pr.Size, Path: pr.Path}}
	return nil
}
