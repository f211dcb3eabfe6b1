package conform

import (
	"fmt"
	"io"
	"regexp"
	"strconv"

	"github.com/kdefer/kdefer/internal/ktap"
)

// MaxCostRatio is the goal for every cost figure: ours at most 5% above
// upstream's.
const MaxCostRatio = 1.05

var reCost = regexp.MustCompile(`^(?:#\s*)?cost: (\w+) (\d+(?:\.\d+)?)$`)

// Costs returns the cost figures a run printed ("# cost: NAME VALUE", the
// cost_figures case of the user-space driver), by name.
func Costs(d *ktap.Document) map[string]float64 {
	out := map[string]float64{}
	if d == nil {
		return out
	}
	d.Walk(func(_ []string, t *ktap.Test) {
		for _, l := range t.Diagnostics {
			if m := reCost.FindStringSubmatch(l); m != nil {
				if v, err := strconv.ParseFloat(m[2], 64); err == nil {
					out[m[1]] = v
				}
			}
		}
	})
	return out
}

// CostRow is one figure on both kernels; a side that did not report it
// is nil. Ratio is ours/upstream, 0 when either side lacks the figure or
// upstream's is 0.
type CostRow struct {
	Name           string
	Ours, Upstream *float64
	Ratio          float64
}

// CompareCosts sets the figures of both kernels side by side, by name.
func CompareCosts(ours, upstream map[string]float64) []CostRow {
	get := func(m map[string]float64, k string) *float64 {
		if v, ok := m[k]; ok {
			return &v
		}
		return nil
	}
	var rows []CostRow
	for _, k := range names(ours, upstream) {
		r := CostRow{Name: k, Ours: get(ours, k), Upstream: get(upstream, k)}
		if r.Ours != nil && r.Upstream != nil && *r.Upstream > 0 {
			r.Ratio = *r.Ours / *r.Upstream
		}
		rows = append(rows, r)
	}
	return rows
}

// WriteCosts prints the figures with their ratio and marks each ratio
// above MaxCostRatio. It returns how many are above.
func WriteCosts(w io.Writer, rows []CostRow, oursName, upstreamName string) int {
	if len(rows) == 0 {
		fmt.Fprintln(w, "cost figures: none reported (the cost_figures case did not run on either kernel)")
		return 0
	}
	num := func(v *float64) string {
		if v == nil {
			return "-"
		}
		return strconv.FormatFloat(*v, 'f', 0, 64) + " ns"
	}
	wn := len("figure")
	for _, r := range rows {
		wn = max(wn, len(r.Name))
	}
	over := 0
	fmt.Fprintf(w, "%-*s  %12s  %12s  %s\n", wn, "figure", oursName, upstreamName, "ratio")
	for _, r := range rows {
		ratio := "-"
		if r.Ratio > 0 {
			ratio = strconv.FormatFloat(r.Ratio, 'f', 2, 64)
			if r.Ratio > MaxCostRatio {
				ratio += fmt.Sprintf(" (above the %.2f goal)", MaxCostRatio)
				over++
			}
		}
		fmt.Fprintf(w, "%-*s  %12s  %12s  %s\n", wn, r.Name, num(r.Ours), num(r.Upstream), ratio)
	}
	fmt.Fprintf(w, "cost: %d figures, %d above %.2f times upstream's\n", len(rows), over, MaxCostRatio)
	return over
}
