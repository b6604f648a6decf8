package main

import (
	"flag"
	"fmt"
	"io"
	"runtime/debug"
	"sort"
	"strings"
)

// One usage style for every command:
//
//	usage: cairn NAME ARGS
//
//	What it does.
//
//	flags:
//	  --name VALUE   what it sets (default: X)
//
// Help asked for (`cairn help NAME`, `cairn NAME -h|--help`) goes to stdout
// and exits 0; a usage error prints the same text on stderr and exits 2.

// usageFunc returns a FlagSet.Usage that prints the command's usage line,
// its description and its flags to the FlagSet's output (stdout when help
// was asked for, stderr on a usage error). The w argument is kept for the
// callers' convenience and is used only when the FlagSet has no output.
func usageFunc(fs *flag.FlagSet, w io.Writer, usage, about string) func() {
	return func() {
		out := fs.Output()
		if out == nil {
			out = w
		}
		fmt.Fprintf(out, "usage: %s\n\n%s\n", usage, strings.TrimRight(about, "\n"))
		printFlags(out, fs)
	}
}

// printFlags lists fs's flags as "  --name VALUE  usage (default: X)". The
// default is printed once: not when it is the zero value, and not when the
// usage text already says what the default is.
func printFlags(w io.Writer, fs *flag.FlagSet) {
	type line struct{ left, right string }
	var lines []line
	width := 0
	fs.VisitAll(func(f *flag.Flag) {
		name, text := flag.UnquoteUsage(f)
		left := "  --" + f.Name
		if name != "" {
			left += " " + strings.ToUpper(name)
		}
		if !strings.Contains(text, "default") && !zeroDefault(f) {
			text += fmt.Sprintf(" (default: %s)", f.DefValue)
		}
		lines = append(lines, line{left, text})
		width = max(width, len(left))
	})
	if len(lines) == 0 {
		return
	}
	fmt.Fprintln(w, "\nflags:")
	for _, l := range lines {
		if width > 28 && len(l.left) > 28 {
			fmt.Fprintf(w, "%s\n  %-28s %s\n", l.left, "", l.right)
			continue
		}
		fmt.Fprintf(w, "%-*s   %s\n", min(width, 28), l.left, l.right)
	}
}

func zeroDefault(f *flag.Flag) bool {
	switch f.DefValue {
	case "", "0", "false", "0s":
		return true
	}
	return false
}

// helpRequested reports whether args (before a "--") ask for help.
func helpRequested(args []string) bool {
	for _, a := range args {
		switch a {
		case "--":
			return false
		case "-h", "-help", "--help":
			return true
		}
	}
	return false
}

// nearest returns the registered command closest to name, if it is close
// enough to be a likely typo: within edit distance 2 (1 for short names),
// or name is a prefix of exactly one command.
func nearest(name string) (string, bool) {
	names := commandNames()
	var prefixed []string
	best, bestD := "", 1<<30
	for _, n := range names {
		if strings.HasPrefix(n, name) && name != "" {
			prefixed = append(prefixed, n)
		}
		if d := editDistance(name, n); d < bestD {
			best, bestD = n, d
		}
	}
	limit := 2
	if len(name) <= 3 {
		limit = 1
	}
	if bestD <= limit {
		return best, true
	}
	if len(prefixed) == 1 {
		return prefixed[0], true
	}
	return "", false
}

// editDistance is the Damerau–Levenshtein (optimal string alignment)
// distance: insertions, deletions, substitutions and adjacent swaps.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	d := make([][]int, len(ra)+1)
	for i := range d {
		d[i] = make([]int, len(rb)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(ra); i++ {
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(ra)][len(rb)]
}

func commandNames() []string {
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// version and commit may be set at link time:
//
//	go build -ldflags "-X main.version=v1.2.3 -X main.commit=abc123" ./cmd/cairn
//
// Otherwise they come from the build information the go tool records: the
// module version (`go install ...@v1.2.3`) and the VCS revision (`go build`
// in a checkout).
var version, commit string

// buildVersion describes the running binary.
func buildVersion() string {
	bi, _ := debug.ReadBuildInfo()
	return describeBuild(bi, version, commit)
}

// describeBuild renders "cairn VERSION (commit REV[, modified], TIME, GO)"
// from the link-time overrides and the build information.
func describeBuild(bi *debug.BuildInfo, ver, rev string) string {
	var when, goVer string
	modified := false
	if bi != nil {
		goVer = bi.GoVersion
		if ver == "" && bi.Main.Version != "" {
			ver = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				if rev == "" {
					rev = s.Value
				}
			case "vcs.time":
				when = s.Value
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
	}
	if ver == "" {
		ver = "(devel)"
	}
	if rev == "" {
		rev = "unknown"
	}
	var parts []string
	parts = append(parts, "commit "+rev)
	if modified {
		parts = append(parts, "modified")
	}
	if when != "" {
		parts = append(parts, when)
	}
	if goVer != "" {
		parts = append(parts, goVer)
	}
	return fmt.Sprintf("cairn %s (%s)", ver, strings.Join(parts, ", "))
}

func init() {
	register("version", "print the build's version and commit", func(args []string, stdout, stderr io.Writer) int {
		fs := flag.NewFlagSet("version", flag.ContinueOnError)
		fs.SetOutput(stderr)
		fs.Usage = usageFunc(fs, stderr, "cairn version", "Prints the version and VCS commit the binary was built from (also: cairn --version).")
		if err := fs.Parse(args); err != nil || fs.NArg() != 0 {
			if err == nil {
				fs.Usage()
			}
			return 2
		}
		fmt.Fprintln(stdout, buildVersion())
		return 0
	})
}
