package review

import (
	"fmt"
	"html"
	"html/template"
	"math"
	"strings"
)

// The charts are SVG written here, in Go: no chart library, no script, and
// nothing to load at run time. Colours come from classes in style.css (the
// CSP forbids inline style). Every label goes through html.EscapeString.

const paletteSize = 12

func esc(s string) string { return html.EscapeString(s) }

type series struct {
	Name  string
	Class string
}

// stackedBars draws one bar per x label, stacked by series.
func stackedBars(title string, xs []string, names []string, value func(x, name string) int) template.HTML {
	const w, h, left, bottom, top = 720.0, 260.0, 40.0, 40.0, 10.0
	maxTotal := 0
	for _, x := range xs {
		t := 0
		for _, n := range names {
			t += value(x, n)
		}
		maxTotal = max(maxTotal, t)
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %g %g" role="img" aria-label="%s" xmlns="http://www.w3.org/2000/svg">`, w, h+60, esc(title))
	fmt.Fprintf(&b, `<title>%s</title>`, esc(title))
	scale, ticks := niceScale(maxTotal)
	plotH := h - bottom - top
	for _, t := range ticks {
		y := top + plotH - float64(t)/float64(scale)*plotH
		fmt.Fprintf(&b, `<line class="grid" x1="%g" y1="%.1f" x2="%g" y2="%.1f"/><text class="axis" x="%g" y="%.1f" text-anchor="end">%d</text>`,
			left, y, w, y, left-4, y+4, t)
	}
	if len(xs) > 0 {
		slot := (w - left) / float64(len(xs))
		bw := math.Max(2, slot*0.7)
		for i, x := range xs {
			bx := left + float64(i)*slot + (slot-bw)/2
			y := top + plotH
			total := 0
			for j, n := range names {
				v := value(x, n)
				if v == 0 {
					continue
				}
				total += v
				bh := float64(v) / float64(scale) * plotH
				y -= bh
				fmt.Fprintf(&b, `<rect class="s%d" x="%.1f" y="%.1f" width="%.1f" height="%.1f"><title>%s: %s %d</title></rect>`,
					j%paletteSize, bx, y, bw, bh, esc(x), esc(n), v)
			}
			if len(xs) <= 31 && (len(xs) <= 14 || i%2 == 0) {
				fmt.Fprintf(&b, `<text class="axis" x="%.1f" y="%g" text-anchor="middle">%s</text>`, bx+bw/2, h-bottom+16, esc(shortDay(x)))
			}
			_ = total
		}
	}
	// Legend below the plot.
	lx, ly := left, h
	for j, n := range names {
		label := n
		if label == "" {
			label = "(unclassified)"
		}
		width := 18 + 7.5*float64(len([]rune(label)))
		if lx+width > w {
			lx, ly = left, ly+18
		}
		fmt.Fprintf(&b, `<rect class="s%d" x="%.1f" y="%.1f" width="10" height="10"/><text class="legend" x="%.1f" y="%.1f">%s</text>`,
			j%paletteSize, lx, ly, lx+14, ly+9, esc(label))
		lx += width
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) //nolint:gosec // every interpolated string is escaped above
}

func shortDay(d string) string {
	if len(d) == len("2006-01-02") {
		return d[5:]
	}
	return d
}

// hbars draws labelled horizontal bars.
func hbars(title string, labels []string, values []float64, format func(float64) string) template.HTML {
	const w, rowH, labelW = 720.0, 24.0, 200.0
	maxV := 0.0
	for _, v := range values {
		maxV = math.Max(maxV, v)
	}
	if maxV == 0 {
		maxV = 1
	}
	h := rowH*float64(len(labels)) + 10
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %g %g" role="img" aria-label="%s" xmlns="http://www.w3.org/2000/svg"><title>%s</title>`, w, math.Max(h, 30), esc(title), esc(title))
	if len(labels) == 0 {
		b.WriteString(`<text class="axis" x="10" y="20">no data</text>`)
	}
	for i, l := range labels {
		y := float64(i)*rowH + 4
		bw := values[i] / maxV * (w - labelW - 70)
		fmt.Fprintf(&b, `<text class="axis" x="%g" y="%.1f" text-anchor="end">%s</text>`, labelW-6, y+14, esc(l))
		fmt.Fprintf(&b, `<rect class="s%d" x="%g" y="%.1f" width="%.1f" height="%g"><title>%s: %s</title></rect>`, i%paletteSize, labelW, y, math.Max(bw, 1), rowH-6, esc(l), esc(format(values[i])))
		fmt.Fprintf(&b, `<text class="axis" x="%.1f" y="%.1f">%s</text>`, labelW+math.Max(bw, 1)+6, y+14, esc(format(values[i])))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) //nolint:gosec // escaped above
}

// histogram draws vertical bars over labelled bins.
func histogram(title string, labels []string, counts []int) template.HTML {
	names := []string{"messages"}
	vals := map[string]int{}
	for i, l := range labels {
		vals[l] = counts[i]
	}
	return stackedBars(title, labels, names, func(x, _ string) int { return vals[x] })
}

// gauge draws used against allowed as a horizontal meter.
func gauge(title string, used, limit int64) template.HTML {
	const w, h = 720.0, 50.0
	frac := 0.0
	if limit > 0 {
		frac = math.Min(1, float64(used)/float64(limit))
	}
	class := "ok"
	switch {
	case frac >= 0.9:
		class = "bad"
	case frac >= 0.7:
		class = "warn"
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %g %g" role="img" aria-label="%s" xmlns="http://www.w3.org/2000/svg"><title>%s</title>`, w, h, esc(title), esc(title))
	fmt.Fprintf(&b, `<rect class="track" x="0" y="5" width="%g" height="24"/><rect class="%s" x="0" y="5" width="%.1f" height="24"/>`, w, class, frac*w)
	fmt.Fprintf(&b, `<text class="axis" x="4" y="45">%d of %d daily API requests used (%.1f%%)</text>`, used, limit, frac*100)
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) //nolint:gosec // numbers only
}

// lineChart draws one or more series of values in [0,1] over x labels.
func lineChart(title string, xs []string, names []string, values [][]float64) template.HTML {
	const w, h, left, bottom, top = 720.0, 240.0, 44.0, 30.0, 10.0
	plotH := h - bottom - top
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %g %g" role="img" aria-label="%s" xmlns="http://www.w3.org/2000/svg"><title>%s</title>`, w, h+24, esc(title), esc(title))
	for _, t := range []float64{0, 0.25, 0.5, 0.75, 1} {
		y := top + plotH - t*plotH
		fmt.Fprintf(&b, `<line class="grid" x1="%g" y1="%.1f" x2="%g" y2="%.1f"/><text class="axis" x="%g" y="%.1f" text-anchor="end">%.0f%%</text>`, left, y, w, y, left-4, y+4, t*100)
	}
	n := len(xs)
	xAt := func(i int) float64 {
		if n <= 1 {
			return left + (w-left)/2
		}
		return left + 10 + float64(i)*(w-left-20)/float64(n-1)
	}
	for i, x := range xs {
		if n <= 12 || i%((n+11)/12) == 0 {
			fmt.Fprintf(&b, `<text class="axis" x="%.1f" y="%g" text-anchor="middle">%s</text>`, xAt(i), h-bottom+16, esc(shortDay(x)))
		}
	}
	for j, vals := range values {
		var pts []string
		for i, v := range vals {
			if math.IsNaN(v) {
				continue
			}
			y := top + plotH - v*plotH
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", xAt(i), y))
			fmt.Fprintf(&b, `<circle class="s%d" cx="%.1f" cy="%.1f" r="3"><title>%s %s: %.0f%%</title></circle>`, j%paletteSize, xAt(i), y, esc(names[j]), esc(xs[i]), v*100)
		}
		if len(pts) > 1 {
			fmt.Fprintf(&b, `<polyline class="line l%d" points="%s"/>`, j%paletteSize, strings.Join(pts, " "))
		}
	}
	lx := left
	for j, name := range names {
		fmt.Fprintf(&b, `<rect class="s%d" x="%.1f" y="%g" width="10" height="10"/><text class="legend" x="%.1f" y="%g">%s</text>`, j%paletteSize, lx, h+8, lx+14, h+17, esc(name))
		lx += 24 + 7.5*float64(len(name))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) //nolint:gosec // escaped above
}

// niceScale returns a round maximum for the y axis and its tick values.
func niceScale(maxV int) (int, []int) {
	if maxV <= 0 {
		return 1, []int{0, 1}
	}
	step := 1
	for _, s := range []int{1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000, 10000, 20000, 50000, 100000} {
		step = s
		if maxV/s <= 5 {
			break
		}
	}
	top := (maxV + step - 1) / step * step
	var ticks []int
	for t := 0; t <= top; t += step {
		ticks = append(ticks, t)
	}
	return top, ticks
}
