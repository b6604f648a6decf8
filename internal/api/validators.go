package api

import (
	"encoding/hex"
	"net/http"
	"strconv"

	"github.com/cairn-db/cairn/client"
	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/internal/ledger"
	"github.com/cairn-db/cairn/types"
)

// The validator set of any height (docs/consensus.md, "Validator set
// changes"; docs/api.md): what a client that trusts only genesis needs to
// verify a header at any later height. The set of height H is committed
// to by the certified header of H-1 (its next_validators_hash), so the
// answer carries that header and its certificate; Changes lists every
// height where the set changed, up to H, so a client can walk from the
// genesis set (client.VerifyValidatorSets).

func (s *Server) validatorRoutes() []route {
	return []route{
		{method: "GET", pattern: "/v1/validators", h: s.getValidators},
		{method: "GET", pattern: "/v1/validators/{key}", h: s.getValidator},
	}
}

// getValidators is GET /v1/validators?height=H (default: the next height,
// head+1, whose set decides it).
func (s *Server) getValidators(w http.ResponseWriter, r *http.Request) error {
	l := s.cfg.Backend.Ledger()
	head := l.Head()
	h := head.Height + 1
	if q := r.URL.Query().Get("height"); q != "" {
		v, err := strconv.ParseUint(q, 10, 64)
		if err != nil || v == 0 {
			return badRequest("height %q: want a positive integer", q)
		}
		h = v
	}
	vs, err := l.ValidatorsAt(h)
	if err != nil {
		return notFound("%v", err)
	}
	out := client.ValidatorSet{Height: h, Validators: make([]client.ValidatorEntry, vs.Len()),
		ValidatorsHash: vs.Hash(), TotalPower: vs.TotalPower(), QuorumPower: vs.Quorum(), Changes: []client.SetChange{}}
	for i, v := range vs.Validators {
		out.Validators[i] = client.ValidatorEntry{Index: uint16(i), Name: v.Name, PublicKey: v.PublicKey, Power: v.Power,
			Addr: validatorInfo(l, v.PublicKey).Addr}
	}
	p := vs.Validators[vs.Proposer(h, 0)]
	out.Proposer = client.ValidatorEntry{Index: uint16(vs.Proposer(h, 0)), Name: p.Name, PublicKey: p.PublicKey, Power: p.Power}
	for _, c := range l.ValidatorChanges() {
		if c.From <= h {
			out.Changes = append(out.Changes, client.SetChange{From: c.From, ValidatorsHash: c.Set.Hash(), Validators: len(c.Set.Validators)})
		}
	}
	// The certified header of h-1 commits to this set (none for h = 1:
	// genesis does; nor while h-1 is not committed yet).
	if h >= 2 && h-1 <= head.Height {
		hdr, err := l.Store().Header(h - 1)
		if err != nil {
			return err
		}
		cert, err := l.Store().Certificate(h - 1)
		if err != nil {
			return err
		}
		out.CertifiedBy = &client.CertifiedHeader{Height: h - 1, Hash: hdr.Hash(), HeaderHex: hex.EncodeToString(hdr.Encode()), Header: hdr,
			Certificate: certificateJSON(cert, l.Genesis().ChainID, valsAt(l, h-1))}
	}
	return writeJSON(w, http.StatusOK, out)
}

// getValidator is GET /v1/validators/{key}: one validator's standing in
// the set of the next height and in the target, and its info.
func (s *Server) getValidator(w http.ResponseWriter, r *http.Request) error {
	pub, err := crypto.ParsePublicKey(r.PathValue("key"))
	if err != nil {
		return badRequest("validator key: want 64 hex digits")
	}
	l := s.cfg.Backend.Ledger()
	h := l.Head().Height + 1
	vs := l.Validators()
	out := client.ValidatorStanding{PublicKey: pub, Height: h}
	info := validatorInfo(l, pub)
	out.Name, out.Addr = info.Name, info.Addr
	if i := vs.IndexOf(pub); i >= 0 {
		out.InSet, out.Index, out.Power = true, uint16(i), vs.Validators[i].Power
		if out.Name == "" {
			out.Name = vs.Validators[i].Name
		}
	}
	if raw, ok, err := l.Get(types.TargetValidatorsKey()); err != nil {
		return err
	} else if ok {
		target, err := types.DecodeValidators(raw)
		if err != nil {
			return err
		}
		for _, v := range target {
			if v.PublicKey == pub {
				out.InTarget, out.TargetPower = true, v.Power
			}
		}
	}
	if !out.InSet && !out.InTarget && out.Name == "" {
		return notFound("%s is not a validator and never was one", pub)
	}
	if out.Stake, err = validatorStake(l, pub); err != nil { // staking.go
		return err
	}
	return writeJSON(w, http.StatusOK, out)
}

func validatorInfo(l *ledger.Ledger, pub crypto.PublicKey) types.ValidatorInfo {
	raw, ok, err := l.Get(types.ValidatorInfoKey(pub))
	if err != nil || !ok {
		return types.ValidatorInfo{}
	}
	info, err := types.DecodeValidatorInfo(raw)
	if err != nil {
		return types.ValidatorInfo{}
	}
	return info
}
