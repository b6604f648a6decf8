// Package chart draws the experiment charts (line and grouped-bar charts)
// as SVG files with gonum.org/v1/plot, so that every figure in
// docs/experiments.md is produced by the project's own tools from the
// numbers in the JSON beside it.
//
// Invariants: a chart is a pure function of its Spec (no clock, no
// randomness), so re-running a scenario on the same numbers rewrites the
// same file; an empty series is drawn as nothing rather than failing; only
// cmd/cairn-lab links this package (gonum/plot brings fonts, LaTeX and PDF
// code a validator has no use for), which cmd/cairn's deps test checks.
package chart

import (
	"errors"
	"fmt"
	"image/color"
	"math"
	"os"
	"path/filepath"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Series is one named line or one bar group.
type Series struct {
	Name string
	X    []float64 // ignored by Bars
	Y    []float64
	// Dashed draws the line dashed (e.g. a reference or a simulated series).
	Dashed bool
	// Points marks each point.
	Points bool
}

// Mark is a vertical line with a label (a fault injected, a restart).
type Mark struct {
	X     float64
	Label string
}

// Spec describes a chart.
type Spec struct {
	Title  string
	XLabel string
	YLabel string
	Series []Series
	Marks  []Mark
	// LogX / LogY use a logarithmic axis (values must be positive).
	LogX, LogY bool
	// Categories names the bar groups' positions (Bars only).
	Categories []string
	// Width and Height in inches (default 7 x 4).
	Width, Height float64
}

// palette is colour-blind friendly (Okabe-Ito).
var palette = []color.Color{
	color.RGBA{0, 114, 178, 255},
	color.RGBA{213, 94, 0, 255},
	color.RGBA{0, 158, 115, 255},
	color.RGBA{204, 121, 167, 255},
	color.RGBA{230, 159, 0, 255},
	color.RGBA{86, 180, 233, 255},
	color.RGBA{0, 0, 0, 255},
}

func newPlot(s Spec) *plot.Plot {
	p := plot.New()
	p.Title.Text = s.Title
	p.X.Label.Text = s.XLabel
	p.Y.Label.Text = s.YLabel
	p.Legend.Top = true
	p.Legend.Left = true
	if s.LogX {
		p.X.Scale = plot.LogScale{}
		p.X.Tick.Marker = plot.LogTicks{Prec: -1}
	}
	if s.LogY {
		p.Y.Scale = plot.LogScale{}
		p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
	}
	p.Add(plotter.NewGrid())
	return p
}

// Line writes a line chart to path (SVG; the extension decides the format:
// .svg, .png or .pdf).
func Line(path string, s Spec) error {
	p := newPlot(s)
	ymax := 0.0
	for i, se := range s.Series {
		n := min(len(se.X), len(se.Y))
		var xys plotter.XYs
		for k := 0; k < n; k++ {
			x, y := se.X[k], se.Y[k]
			if math.IsNaN(x) || math.IsNaN(y) || math.IsInf(x, 0) || math.IsInf(y, 0) {
				continue
			}
			if (s.LogX && x <= 0) || (s.LogY && y <= 0) {
				continue
			}
			xys = append(xys, plotter.XY{X: x, Y: y})
			ymax = max(ymax, y)
		}
		if len(xys) == 0 {
			continue
		}
		c := palette[i%len(palette)]
		l, err := plotter.NewLine(xys)
		if err != nil {
			return fmt.Errorf("chart %s: %w", s.Title, err)
		}
		l.Color = c
		l.Width = vg.Points(1.5)
		if se.Dashed {
			l.Dashes = []vg.Length{vg.Points(5), vg.Points(3)}
		}
		p.Add(l)
		var thumb plot.Thumbnailer = l
		if se.Points || (len(xys) <= 12 && !se.Dashed) {
			sc, err := plotter.NewScatter(xys)
			if err != nil {
				return fmt.Errorf("chart %s: %w", s.Title, err)
			}
			sc.Color = c
			sc.Shape = draw.CircleGlyph{}
			sc.Radius = vg.Points(2.5)
			p.Add(sc)
			thumb = lineAndPoints{l, sc}
		}
		p.Legend.Add(se.Name, thumb)
	}
	if !s.LogY {
		p.Y.Min = 0
		if ymax > 0 {
			p.Y.Max = ymax * 1.15 // room for the legend
		}
	}
	addMarks(p, s.Marks)
	return save(p, path, s)
}

type lineAndPoints struct {
	l *plotter.Line
	s *plotter.Scatter
}

func (t lineAndPoints) Thumbnail(c *draw.Canvas) { t.l.Thumbnail(c); t.s.Thumbnail(c) }

// addMarks draws each mark as a dotted vertical line labelled at the top.
func addMarks(p *plot.Plot, marks []Mark) {
	if len(marks) == 0 {
		return
	}
	top := p.Y.Max
	for _, m := range marks {
		l, err := plotter.NewLine(plotter.XYs{{X: m.X, Y: p.Y.Min}, {X: m.X, Y: top}})
		if err != nil {
			continue
		}
		l.Color = color.Gray{100}
		l.Dashes = []vg.Length{vg.Points(2), vg.Points(2)}
		p.Add(l)
		lb, err := plotter.NewLabels(plotter.XYLabels{XYs: plotter.XYs{{X: m.X, Y: top * 0.97}}, Labels: []string{" " + m.Label}})
		if err == nil {
			p.Add(lb)
		}
	}
}

// Bars writes a grouped bar chart: one group per category, one bar per
// series in each group.
func Bars(path string, s Spec) error {
	if len(s.Categories) == 0 {
		return errors.New("chart: bars need categories")
	}
	p := newPlot(s)
	// The first group of bars is often the tallest: keep the legend right.
	p.Legend.Left = false
	n := len(s.Series)
	w := vg.Points(math.Max(8, math.Min(28, 200/float64(max(1, n*len(s.Categories))))))
	// On a log axis a bar cannot start at zero: every bar stands on an
	// invisible base at the bottom of the axis (never added to the plot).
	floor := 0.0
	if s.LogY {
		lo, hi := math.Inf(1), 0.0
		for _, se := range s.Series {
			for _, y := range se.Y {
				if y > 0 {
					lo, hi = math.Min(lo, y), math.Max(hi, y)
				}
			}
		}
		if hi == 0 {
			lo, hi = 1, 10
		}
		floor = math.Pow10(int(math.Floor(math.Log10(lo / 2))))
	}
	for i, se := range s.Series {
		vals := make(plotter.Values, len(s.Categories))
		for k := range vals {
			if k < len(se.Y) && !math.IsNaN(se.Y[k]) {
				vals[k] = se.Y[k]
			}
		}
		if s.LogY {
			for k := range vals {
				vals[k] = math.Max(0, vals[k]-floor)
			}
		}
		b, err := plotter.NewBarChart(vals, w)
		if err != nil {
			return fmt.Errorf("chart %s: %w", s.Title, err)
		}
		offset := w * vg.Length(float64(i)-float64(n-1)/2)
		if s.LogY {
			base := make(plotter.Values, len(vals))
			for k := range base {
				base[k] = floor
			}
			bb, err := plotter.NewBarChart(base, w)
			if err != nil {
				return fmt.Errorf("chart %s: %w", s.Title, err)
			}
			bb.Offset = offset
			b.StackOn(bb)
		}
		b.Color = palette[i%len(palette)]
		b.LineStyle.Width = 0
		b.Offset = offset
		p.Add(b)
		p.Legend.Add(se.Name, b)
	}
	p.NominalX(s.Categories...)
	if s.LogY {
		p.Y.Min, p.Y.Max = floor, p.Y.Max*3
	} else {
		p.Y.Min = 0
		p.Y.Max *= 1.2
	}
	return save(p, path, s)
}

func save(p *plot.Plot, path string, s Spec) (err error) {
	// gonum/plot panics on some degenerate inputs (e.g. a log axis over
	// non-positive values); a chart must never take a run down with it.
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("chart %s: %v", path, r)
		}
	}()
	w, h := s.Width, s.Height
	if w <= 0 {
		w = 7
	}
	if h <= 0 {
		h = 4
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("chart: %w", err)
	}
	if err := p.Save(vg.Length(w)*vg.Inch, vg.Length(h)*vg.Inch, path); err != nil {
		return fmt.Errorf("chart %s: %w", path, err)
	}
	return nil
}
