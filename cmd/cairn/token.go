package main

import (
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/cairn-db/cairn/internal/auth"
)

func init() {
	register("token", "create, list and revoke a node's API tokens", runToken)
}

const tokenUsage = "cairn token create|list|revoke [ID] --home DIR [flags]"

const tokenAbout = `Forms:
  cairn token create --home DIR --scope read,submit [--name NAME]
      prints the new token once (only its SHA-256 is stored, in DIR/tokens.json)
  cairn token list   --home DIR
  cairn token revoke ID|NAME --home DIR

DIR is the validator's home. A running node rereads tokens.json when it
changes (within a second) and on SIGHUP: no restart. Scopes: read, submit
(includes read), admin (includes both; /metrics). The node checks tokens
when its config has "auth": {"tokens": true} (docs/security.md).`

func runToken(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("token", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = usageFunc(fs, stderr, tokenUsage, tokenAbout)
	home := fs.String("home", "", "the validator's home `DIR` (required)")
	scope := fs.String("scope", "read", "create: comma-separated `SCOPES` (read, submit, admin)")
	name := fs.String("name", "", "create: a `NAME` to recognise the token by")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return 2
	}
	if len(pos) == 0 || *home == "" {
		fs.Usage()
		return 2
	}
	path := filepath.Join(*home, auth.TokensFile)
	switch pos[0] {
	case "create":
		if len(pos) != 1 {
			fs.Usage()
			return 2
		}
		var scopes []auth.Scope
		for _, s := range strings.Split(*scope, ",") {
			sc, err := auth.ParseScope(strings.TrimSpace(s))
			if err != nil {
				fmt.Fprintf(stderr, "cairn token create: %v\n", err)
				return 2
			}
			scopes = append(scopes, sc)
		}
		tok, t, err := auth.Create(path, *name, scopes)
		if err != nil {
			return fail(stderr, "token create", err)
		}
		return printJSON(stdout, map[string]any{"token": tok, "id": t.ID, "name": t.Name, "scopes": t.Scopes,
			"note": "shown once: only its hash is stored"})
	case "list":
		ts, err := auth.Load(path)
		if err != nil {
			return fail(stderr, "token list", err)
		}
		out := make([]map[string]any, 0, len(ts))
		for _, t := range ts {
			out = append(out, map[string]any{"id": t.ID, "name": t.Name, "scopes": t.Scopes, "created": t.Created})
		}
		return printJSON(stdout, map[string]any{"tokens": out})
	case "revoke":
		if len(pos) != 2 {
			fs.Usage()
			return 2
		}
		t, err := auth.Revoke(path, pos[1])
		if err != nil {
			return fail(stderr, "token revoke", err)
		}
		return printJSON(stdout, map[string]any{"revoked": t.ID, "name": t.Name})
	}
	fs.Usage()
	return 2
}
