package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func readRepoFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// The README's promises that can drift from the code: the Go version, the
// install line, commands that exist, bench while the devnet still runs,
// status codes that a curl example claims and shows.
func TestReadmeMatchesTheProduct(t *testing.T) {
	readme := readRepoFile(t, "README.md")
	gomod := readRepoFile(t, "go.mod")

	goLine := regexp.MustCompile(`(?m)^go (\S+)$`).FindStringSubmatch(gomod)
	if goLine == nil {
		t.Fatal("go.mod has no go line")
	}
	if !strings.Contains(readme, "Go "+goLine[1]+" or newer") {
		t.Errorf("README does not name go.mod's Go version %s", goLine[1])
	}
	for _, want := range []string{"go run ./cmd/cairn devnet\n", "go test ./...\n", "go install ./cmd/cairn\n"} {
		if !strings.Contains(readme, "```sh\n"+want) && !strings.Contains(readme, "\n"+want) {
			t.Errorf("README lacks the command %q", strings.TrimSpace(want))
		}
	}

	// Every ./cairn, cairn or go run ./cmd/cairn in a code block names a
	// registered command.
	inBlock := false
	cmdRe := regexp.MustCompile(`(?:^|[\s$(;])(?:\./cairn|go run \./cmd/cairn)\s+([a-z-]+)`)
	statusRe := regexp.MustCompile(`#.*\b(HTTP )?[1-5][0-9][0-9]\b`)
	for n, line := range strings.Split(readme, "\n") {
		if strings.HasPrefix(line, "```") {
			inBlock = !inBlock
			continue
		}
		if !inBlock {
			continue
		}
		for _, m := range cmdRe.FindAllStringSubmatch(line, -1) {
			if _, ok := commands[m[1]]; !ok {
				t.Errorf("README line %d: %q is not a cairn command", n+1, m[1])
			}
		}
		// A curl example that claims a status code must show it.
		code, _, _ := strings.Cut(line, "#")
		if strings.HasPrefix(strings.TrimSpace(strings.TrimPrefix(code, "sleep 1;")), "curl") && statusRe.MatchString(line) &&
			!strings.Contains(code, "%{http_code}") && !strings.Contains(code, " -i") {
			t.Errorf("README line %d claims a status code it does not print (-w '%%{http_code}' or -i): %s", n+1, line)
		}
	}

	// The benchmark needs the devnet: it comes before the step that stops it.
	bench := strings.Index(readme, "./cairn bench")
	stop := strings.Index(readme, "stop the devnet (Ctrl-C")
	if bench < 0 || stop < 0 || bench > stop {
		t.Errorf("README: bench (at %d) must come before stopping the devnet (at %d)", bench, stop)
	}
	// The duplicate POST says what happens before and after the commit.
	for _, want := range []string{`"duplicate"`, `"replay"`} {
		if !strings.Contains(readme, want) {
			t.Errorf("README: the duplicate POST example does not show %s", want)
		}
	}
}

// What the walkthrough writes in the working directory (private keys, a
// signed tx, the network) is ignored by git; the devnet package is not.
func TestGitignoreCoversWalkthroughFiles(t *testing.T) {
	gitBin, err := exec.LookPath("git")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("git is not installed")
		}
		t.Skip("git is not installed")
	}
	root, _ := filepath.Abs(filepath.Join("..", ".."))
	ignored := func(p string) bool {
		cmd := exec.Command(gitBin, "-C", root, "check-ignore", "--no-index", "-q", p)
		err := cmd.Run()
		if ee, ok := err.(*exec.ExitError); ok && ee.ExitCode() == 1 {
			return false
		}
		if err != nil {
			t.Skipf("git check-ignore: %v (not a git checkout?)", err)
		}
		return true
	}
	for _, p := range []string{"alice.key", "bob.key", "tx.json", "devnet/faucet.key", "devnet/node0/validator.key", "devnet/network.json"} {
		if !ignored(p) {
			t.Errorf(".gitignore does not cover %s", p)
		}
	}
	for _, p := range []string{"internal/devnet/run.go", "cmd/cairn/devnet.go", "README.md"} {
		if ignored(p) {
			t.Errorf(".gitignore ignores source %s", p)
		}
	}
}
