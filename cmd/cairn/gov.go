package main

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/types"
)

// cairn gov: the validator set of a permissioned chain, by validator.update
// transactions approved by the governors as role.grant is (--approve, one
// governor's key file each; docs/consensus.md, "Validator set changes").

func init() {
	register("gov", "change the validator set: add-validator, remove-validator, set-power (governors' approvals)", runGov)
}

const govUsageLine = "cairn gov add-validator|remove-validator|set-power ARGS --key FILE [--approve FILE]... [flags]"

const govAbout = `Forms:
  cairn gov add-validator KEY POWER --name NAME --p2p HOST:PORT --key FILE [--approve FILE]...
  cairn gov remove-validator KEY                                --key FILE [--approve FILE]...
  cairn gov set-power KEY POWER                                 --key FILE [--approve FILE]...

KEY is the validator's public key (64 hex) or @FILE, a key file whose public
half is taken (cairn keygen). The transaction is a validator.update sent by
--key, approved by each --approve key: the chain needs governance_threshold
distinct governors, the sender included if it is one. A change made at
height h is in force at h+2; one that moves a third of the power or more is
spread over consecutive heights. Refused with a clear error, changing
nothing: an added key already in the set, an unknown key to remove or
re-weight, zero power, a change leaving no validator, too few approvals,
and any change on a chain whose validator_governance is "dpos".
--wait waits for the commit and prints the receipt.`

func runGov(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "-help" || args[0] == "--help" || args[0] == "help" {
		fs, _ := txFlags("gov", stderr)
		fs.Usage = usageFunc(fs, stderr, govUsageLine, govAbout)
		fs.Usage()
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	form := args[0]
	fs, f := txFlags("gov "+form, stderr)
	fs.Usage = usageFunc(fs, stderr, govUsageLine, govAbout)
	name := fs.String("name", "", "add-validator: the validator's name")
	addr := fs.String("p2p", "", "add-validator: `HOST:PORT` where peers dial the validator")
	pos, err := parseInterleaved(fs, args[1:])
	if err != nil {
		return 2
	}
	usageErr := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "cairn gov %s: %s\n", form, fmt.Sprintf(format, a...))
		return 2
	}
	if *f.keyFile == "" {
		return usageErr("--key FILE is required")
	}
	want := map[string]int{"add-validator": 2, "remove-validator": 1, "set-power": 2}
	n, ok := want[form]
	if !ok {
		return usageErr("unknown form %q (add-validator, remove-validator, set-power)", form)
	}
	if len(pos) != n {
		return usageErr("want %d argument(s), got %d (cairn gov -h)", n, len(pos))
	}
	pub, err := parseValidatorKey(pos[0])
	if err != nil {
		return usageErr("%v", err)
	}
	p := &types.ValidatorUpdate{PublicKey: pub, Approvals: []types.Approval{}}
	if n == 2 {
		if p.Power, err = strconv.ParseUint(pos[1], 10, 64); err != nil || p.Power == 0 {
			return usageErr("power %q: want a positive integer", pos[1])
		}
	}
	switch form {
	case "add-validator":
		p.Op, p.Name, p.Addr = types.ValidatorAdd, *name, *addr
	case "remove-validator":
		p.Op = types.ValidatorRemove
	case "set-power":
		p.Op = types.ValidatorSetPower
	}
	if form != "add-validator" && (*name != "" || *addr != "") {
		return usageErr("--name and --p2p apply to add-validator only")
	}
	if err := types.CheckPayload(p); err != nil {
		return usageErr("%v", err)
	}
	return signAndSubmit("gov "+form, f, p, nil, stdout, stderr)
}

// parseValidatorKey reads a public key in hex, or @FILE: a key file.
func parseValidatorKey(s string) (crypto.PublicKey, error) {
	if file, ok := strings.CutPrefix(s, "@"); ok {
		if _, err := os.Stat(file); err != nil {
			return crypto.PublicKey{}, fmt.Errorf("validator key file: %w", err)
		}
		k, err := crypto.LoadKey(file)
		if err != nil {
			return crypto.PublicKey{}, err
		}
		return k.Public(), nil
	}
	pub, err := crypto.ParsePublicKey(s)
	if err != nil {
		return crypto.PublicKey{}, fmt.Errorf("validator key %q: want 64 hex digits or @FILE", s)
	}
	return pub, nil
}
