package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/cairn-db/cairn/crypto"
)

func init() {
	register("keygen", "create a new account key file", runKeygen)
}

func runKeygen(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("keygen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = usageFunc(fs, stderr, "cairn keygen --out FILE [--force]",
		"Writes a new Ed25519 key (readable only by you) and prints its public key and address.")
	out := fs.String("out", "", "`FILE` to write the key to (required)")
	force := fs.Bool("force", false, "overwrite an existing file")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return 2
	}
	if *out == "" || len(pos) > 0 {
		fs.Usage()
		return 2
	}
	if !*force {
		if _, err := os.Stat(*out); err == nil {
			fmt.Fprintf(stderr, "cairn keygen: %s exists; pass --force to overwrite it\n", *out)
			return 1
		} else if !errors.Is(err, os.ErrNotExist) {
			fmt.Fprintln(stderr, "cairn keygen:", err)
			return 1
		}
	}
	k, err := crypto.GenerateKey()
	if err != nil {
		fmt.Fprintln(stderr, "cairn keygen:", err)
		return 1
	}
	if err := crypto.SaveKey(*out, k); err != nil {
		fmt.Fprintln(stderr, "cairn keygen:", err)
		return 1
	}
	return printJSON(stdout, map[string]any{"file": *out, "public_key": k.Public(), "address": k.Public().Address()})
}
