// Command cairn is the one Cairn binary: it runs validators and a local
// devnet, and is the command-line client. Each subcommand lives in its own
// file and registers itself in commands; main only dispatches.
package main

import (
	"fmt"
	"io"
	"os"
	"strings"
)

// command is one subcommand. run gets the arguments after the subcommand
// name and returns the process exit status.
type command struct {
	summary string
	run     func(args []string, stdout, stderr io.Writer) int
}

// commands is filled by init functions in the subcommand files.
var commands = map[string]command{}

func register(name, summary string, run func(args []string, stdout, stderr io.Writer) int) {
	commands[name] = command{summary: summary, run: run}
}

func main() {
	os.Exit(dispatch(os.Args[1:], os.Stdout, os.Stderr))
}

func dispatch(args []string, stdout, stderr io.Writer) int {
	args, mode, err := outputOption(args)
	if err != nil {
		fmt.Fprintf(stderr, "cairn: %v\n", err)
		return 2
	}
	if mode == "json" {
		stderr = jsonErrors{stderr}
	}
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	name := args[0]
	switch name {
	case "-h", "-help", "--help":
		usage(stdout)
		return 0
	case "-version", "--version":
		fmt.Fprintln(stdout, buildVersion())
		return 0
	case "help":
		if len(args) == 1 {
			usage(stdout)
			return 0
		}
		topic := args[1]
		if hasSubcommands(topic) && len(args) > 2 {
			topic += " " + args[2]
		}
		return commandHelp(topic, stdout, stderr)
	}
	c, ok := commands[name]
	if !ok {
		return unknown(name, stderr)
	}
	if helpRequested(args[1:]) {
		if hasSubcommands(name) && len(args) > 1 && !strings.HasPrefix(args[1], "-") {
			name += " " + args[1] // the usage of one form: cairn tx status --help
		}
		return commandHelp(name, stdout, stderr)
	}
	return c.run(args[1:], stdout, stderr)
}

// commandHelp prints a command's usage on stdout: every command prints it
// (to the writer it was given as stderr) when parsing "-h".
func commandHelp(name string, stdout, stderr io.Writer) int {
	name, sub, _ := strings.Cut(name, " ")
	c, ok := commands[name]
	if !ok {
		return unknown(name, stderr)
	}
	args := []string{"-h"}
	if sub != "" {
		args = []string{sub, "-h"}
	}
	c.run(args, io.Discard, stdout)
	return 0
}

// hasSubcommands names the commands whose first argument picks a form
// with its own usage.
func hasSubcommands(name string) bool { return name == "tx" || name == "devnet" || name == "gov" }

func unknown(name string, stderr io.Writer) int {
	if best, ok := nearest(name); ok {
		fmt.Fprintf(stderr, "cairn: unknown command %q; did you mean %s?\n\nRun 'cairn help' for every command.\n", name, best)
	} else {
		fmt.Fprintf(stderr, "cairn: unknown command %q\n\n", name)
		usage(stderr)
	}
	return 2
}

// outputOption removes the global --output json|text (anywhere before a
// "--") from args and returns the mode ("text" when absent).
func outputOption(args []string) ([]string, string, error) {
	mode := "text"
	out := make([]string, 0, len(args))
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			out = append(out, args[i:]...)
			break
		}
		name, val, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !strings.HasPrefix(a, "-") || name != "output" {
			out = append(out, a)
			continue
		}
		if !hasVal {
			if i+1 == len(args) {
				return nil, "", fmt.Errorf("--output needs a value: json or text")
			}
			i++
			val = args[i]
		}
		if val != "json" && val != "text" {
			return nil, "", fmt.Errorf("--output %q: want json or text", val)
		}
		mode = val
	}
	return out, mode, nil
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: cairn COMMAND [ARGS] [flags]\n\nCairn: a permissioned BFT blockchain database. One binary runs validators,\na local devnet, and the command-line client.\n\ncommands:")
	for _, n := range commandNames() {
		fmt.Fprintf(w, "  %-10s %s\n", n, commands[n].summary)
	}
	fmt.Fprint(w, `  help       show a command's usage: cairn help COMMAND

global flags (every command):
  -h, --help       print the usage on stdout and exit 0
  --version        print the build's version and commit
  --output MODE    how a failure is reported on stderr: text (one line, the default)
                   or json (one object: {"error": {"command", "code", "message", ...}});
                   results are JSON on stdout either way; a usage error (exit 2)
                   prints the command's usage as text

Client commands talk to --node URL (default: $CAIRN_NODE, else http://127.0.0.1:8080;
"host:port" means http://host:port). Exit status: 0 done, 1 failed or refused, 2 usage.
Start with: cairn devnet
`)
}
