package devnet

import (
	"os"
	"path/filepath"
	"testing"
)

// A node that refuses to start says why in its log; the devnet passes the
// reason on instead of only the log's path.
func TestStartErrorReadsTheLog(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "node.log")
	if got := startError(log); got != "" {
		t.Fatalf("no log: %q, want nothing", got)
	}
	body := `time=2026-12-06T23:45:20.000Z level=INFO msg="opening ledger"
time=2026-12-06T23:45:21.090Z level=ERROR msg="cannot start" err="open state: state: unsupported storage format: the database is in storage format 3, this cairn reads format 4 (docs/operations.md, \"Storage format\")"
`
	if err := os.WriteFile(log, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	want := `open state: state: unsupported storage format: the database is in storage format 3, this cairn reads format 4 (docs/operations.md, "Storage format")`
	if got := startError(log); got != want {
		t.Fatalf("startError = %q, want %q", got, want)
	}
	if err := os.WriteFile(log, []byte("time=x level=INFO msg=\"ready\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := startError(log); got != "" {
		t.Fatalf("a log without the line: %q, want nothing", got)
	}
}
