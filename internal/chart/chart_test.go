package chart

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func TestLineAndBarsWriteSVG(t *testing.T) {
	dir := t.TempDir()
	line := filepath.Join(dir, "line.svg")
	err := Line(line, Spec{Title: "tx/s", XLabel: "s", YLabel: "tx/s",
		Series: []Series{{Name: "a", X: []float64{0, 1, 2}, Y: []float64{1, 3, 2}}, {Name: "empty"}},
		Marks:  []Mark{{X: 1, Label: "kill"}}})
	if err != nil {
		t.Fatal(err)
	}
	bars := filepath.Join(dir, "bars.svg")
	err = Bars(bars, Spec{Title: "latency", YLabel: "ms", Categories: []string{"get", "prove"},
		Series: []Series{{Name: "p50", Y: []float64{1, 2}}, {Name: "p99", Y: []float64{3}}}})
	if err != nil {
		t.Fatal(err)
	}
	logp := filepath.Join(dir, "log.svg")
	if err := Line(logp, Spec{LogX: true, Series: []Series{{Name: "x", X: []float64{0, 10, 100}, Y: []float64{1, 2, 3}}}}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{line, bars, logp} {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(b, []byte("<svg")) {
			t.Fatalf("%s is not an SVG", p)
		}
	}
	// Same spec, same bytes: charts are reproducible.
	again := filepath.Join(dir, "again.svg")
	if err := Bars(again, Spec{Title: "latency", YLabel: "ms", Categories: []string{"get", "prove"},
		Series: []Series{{Name: "p50", Y: []float64{1, 2}}, {Name: "p99", Y: []float64{3}}}}); err != nil {
		t.Fatal(err)
	}
	a, _ := os.ReadFile(bars)
	b, _ := os.ReadFile(again)
	if !bytes.Equal(a, b) {
		t.Fatal("the same spec drew different files")
	}
	if err := Bars(filepath.Join(dir, "x.svg"), Spec{}); err == nil {
		t.Fatal("bars without categories accepted")
	}
}

func TestLogBarsAndDegenerateInput(t *testing.T) {
	dir := t.TempDir()
	err := Bars(filepath.Join(dir, "logbars.svg"), Spec{LogY: true, Categories: []string{"a", "b", "c"},
		Series: []Series{{Name: "p50", Y: []float64{0.05, 2, 0}}, {Name: "p99", Y: []float64{0.2, 40, 100}}}})
	if err != nil {
		t.Fatal(err)
	}
	// All values non-positive on a log axis: an error or a file, never a panic.
	_ = Line(filepath.Join(dir, "bad.svg"), Spec{LogY: true, Series: []Series{{Name: "z", X: []float64{1, 2}, Y: []float64{0, 0}}}})
}
