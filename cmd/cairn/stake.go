package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/types"
)

// Delegated proof of stake from the command line (docs/staking.md):
// cairn validator register|unjail|list|show and cairn stake
// delegate|undelegate|vote|show.

func init() {
	register("validator", "staking candidates: register, unjail, list, show (docs/staking.md)", runValidator)
	register("stake", "staking: delegate, undelegate, vote, show an account's stake (docs/staking.md)", runStake)
}

const validatorUsage = `usage: cairn validator SUBCOMMAND ...

  register --validator-key FILE --name NAME --p2p-addr HOST:PORT [--commission-bp N] --key FILE [tx flags]
      Registers the consensus key in --validator-key (a node's key) as a
      candidate operated by --key's account, which receives the
      commission (basis points of each block reward, default 0) and may
      unjail it. The consensus key signs its consent; a key another
      candidate or validator holds is refused (key_in_use).
  unjail PUBKEY|--validator-key FILE     --key FILE [tx flags]
      Makes a jailed candidate electable again once jail_blocks have passed
      (refused with code jailed before).
  list                                   [--height H] [--prove] [--node URL]
      Every candidate: stake, votes, jail, rewards, slashed, target power.
  show PUBKEY                            [--height H] [--prove] [--node URL]
      One candidate with its delegators and unbonding stake.

--prove asks for state proofs and checks them against the certified header
of the height (and the validator set the node reports). Tx flags are those
of cairn tx (--node, --nonce, --chain-id, --wait, --timeout, --dry-run).
`

const stakeUsage = `usage: cairn stake SUBCOMMAND ...

  delegate VALIDATOR_PUBKEY AMOUNT       --key FILE [tx flags]
      Bonds AMOUNT of the account's balance to the candidate.
  undelegate VALIDATOR_PUBKEY AMOUNT     --key FILE [tx flags]
      Starts unbonding: the stake returns to the balance unbonding_blocks
      later, and can still be slashed until then.
  vote [CANDIDATE_PUBKEY]...             --key FILE [tx flags]
      Replaces the account's votes (up to max_votes; none: clear them);
      each weighs the account's bonded stake.
  show ADDRESS                           [--height H] [--prove] [--node URL]
      The account's delegations, unbonding entries and votes.
  params                                 [--height H] [--prove] [--node URL]
      The staking params in force and the chain's staking totals.
  reward HEIGHT                          [--prove] [--node URL]
      Block HEIGHT's reward receipt (coinbase).
`

func runValidator(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, validatorUsage)
		return 2
	}
	switch args[0] {
	case "-h", "-help", "--help":
		fmt.Fprint(stderr, validatorUsage)
		return 0
	case "register", "unjail":
		return runStakeTx("validator", validatorUsage, args[0], args[1:], stdout, stderr)
	case "list", "show":
		return runStakeRead("validator", validatorUsage, args[0], args[1:], stdout, stderr)
	}
	fmt.Fprintf(stderr, "cairn validator: unknown subcommand %q\n\n%s", args[0], validatorUsage)
	return 2
}

func runStake(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, stakeUsage)
		return 2
	}
	switch args[0] {
	case "-h", "-help", "--help":
		fmt.Fprint(stderr, stakeUsage)
		return 0
	case "delegate", "undelegate", "vote":
		return runStakeTx("stake", stakeUsage, args[0], args[1:], stdout, stderr)
	case "show", "params", "reward":
		return runStakeRead("stake", stakeUsage, args[0], args[1:], stdout, stderr)
	}
	fmt.Fprintf(stderr, "cairn stake: unknown subcommand %q\n\n%s", args[0], stakeUsage)
	return 2
}

func parsePubKey(s string) (crypto.PublicKey, error) {
	k, err := crypto.ParsePublicKey(strings.ToLower(s))
	if err != nil {
		return k, fmt.Errorf("%q: %v (a public key is 64 hex characters)", s, err)
	}
	return k, nil
}

func runStakeTx(group, usage, sub string, args []string, stdout, stderr io.Writer) int {
	cmd := group + " " + sub
	fs, f := txFlags(cmd, stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage) }
	valKey := fs.String("validator-key", "", "register, unjail: the candidate's consensus key `FILE`")
	name := fs.String("name", "", "register: the candidate's name")
	p2p := fs.String("p2p-addr", "", "register: where peers dial the candidate (`HOST:PORT`)")
	commission := fs.Uint("commission-bp", 0, "register: the operator's share of each block reward, in basis points (0..10000)")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return 2
	}
	bad := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "cairn %s: %s\n\n%s", cmd, fmt.Sprintf(format, a...), usage)
		return 2
	}
	if msg := f.check(); msg != "" {
		return bad("%s", msg)
	}
	var payload types.Payload
	switch sub {
	case "register":
		if len(pos) != 0 || *valKey == "" || *name == "" || *p2p == "" {
			return bad("want --validator-key FILE --name NAME --p2p-addr HOST:PORT")
		}
		if *commission > types.MaxCommissionBP {
			return bad("--commission-bp must be at most %d", types.MaxCommissionBP)
		}
		ck, err := crypto.LoadKey(*valKey)
		if err != nil {
			return fail(stderr, cmd, err)
		}
		op, err := crypto.LoadKey(*f.keyFile)
		if err != nil {
			return fail(stderr, cmd, err)
		}
		// The consensus key signs for the chain id: ask the node unless
		// --chain-id says it.
		if *f.chainID == "" {
			c, ok := newClient(*f.node, stderr, group)
			if !ok {
				return 2
			}
			ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
			id, err := c.NewSigner(op, "").ChainID(ctx)
			cancel()
			if err != nil {
				return fail(stderr, cmd, err)
			}
			*f.chainID = id
		}
		p := &types.ValidatorRegister{Name: *name, P2PAddr: *p2p, CommissionBP: uint16(*commission)}
		types.SignRegistration(p, *f.chainID, op.Public().Address(), ck)
		payload = p
	case "unjail":
		var k crypto.PublicKey
		switch {
		case len(pos) == 1 && *valKey == "":
			if k, err = parsePubKey(pos[0]); err != nil {
				return bad("%v", err)
			}
		case len(pos) == 0 && *valKey != "":
			ck, err := crypto.LoadKey(*valKey)
			if err != nil {
				return fail(stderr, cmd, err)
			}
			k = ck.Public()
		default:
			return bad("want PUBKEY or --validator-key FILE")
		}
		payload = &types.ValidatorUnjail{Validator: k}
	case "delegate", "undelegate":
		if len(pos) != 2 {
			return bad("want VALIDATOR_PUBKEY AMOUNT")
		}
		k, err := parsePubKey(pos[0])
		if err != nil {
			return bad("%v", err)
		}
		amt, err := strconv.ParseUint(pos[1], 10, 64)
		if err != nil || amt == 0 {
			return bad("AMOUNT must be a positive integer, got %q", pos[1])
		}
		if sub == "delegate" {
			payload = &types.StakeDelegate{Validator: k, Amount: amt}
		} else {
			payload = &types.StakeUndelegate{Validator: k, Amount: amt}
		}
	case "vote":
		cands := []crypto.PublicKey{}
		for _, s := range pos {
			k, err := parsePubKey(s)
			if err != nil {
				return bad("%v", err)
			}
			cands = append(cands, k)
		}
		payload = &types.StakeVote{Candidates: cands}
	}
	if err := types.CheckPayload(payload); err != nil {
		return bad("%v", err)
	}
	return signAndSubmit(cmd, f, payload, nil, stdout, stderr)
}

func runStakeRead(group, usage, sub string, args []string, stdout, stderr io.Writer) int {
	cmd := group + " " + sub
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage) }
	node := nodeFlag(fs)
	height := fs.Uint64("height", 0, "read at this height (default latest)")
	prove := fs.Bool("prove", false, "ask for state proofs and check them")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return 2
	}
	want := map[string]int{"list": 0, "params": 0, "show": 1, "reward": 1}[sub]
	if len(pos) != want {
		fmt.Fprintf(stderr, "cairn %s: wrong number of arguments\n\n%s", cmd, usage)
		return 2
	}
	c, ok := newClient(*node, stderr, group)
	if !ok {
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	type verifier interface {
		Verify(chainID string, vals *types.ValidatorSet) error
	}
	var out verifier
	switch {
	case sub == "list":
		out, err = c.StakingValidators(ctx, *height, *prove)
	case sub == "params":
		out, err = c.StakingParams(ctx, *height, *prove)
	case sub == "reward":
		h, perr := strconv.ParseUint(pos[0], 10, 64)
		if perr != nil || h == 0 {
			fmt.Fprintf(stderr, "cairn %s: HEIGHT must be a positive integer\n", cmd)
			return 2
		}
		out, err = c.StakingReward(ctx, h, *prove)
	case group == "validator":
		k, perr := parsePubKey(pos[0])
		if perr != nil {
			fmt.Fprintf(stderr, "cairn %s: %v\n", cmd, perr)
			return 2
		}
		out, err = c.StakingValidator(ctx, k, *height, *prove)
	default:
		a, perr := crypto.ParseAddress(strings.ToLower(pos[0]))
		if perr != nil {
			fmt.Fprintf(stderr, "cairn %s: %v\n", cmd, perr)
			return 2
		}
		out, err = c.StakingDelegator(ctx, a, *height, *prove)
	}
	if err != nil {
		return fail(stderr, cmd, err)
	}
	if *prove {
		st, err := c.Status(ctx)
		if err != nil {
			return fail(stderr, cmd, err)
		}
		vs, err := st.ValidatorSet()
		if err != nil {
			return fail(stderr, cmd, err)
		}
		if err := out.Verify(st.ChainID, vs); err != nil {
			return fail(stderr, cmd, fmt.Errorf("the proofs do not verify: %w", err))
		}
	}
	return printJSON(stdout, out)
}
