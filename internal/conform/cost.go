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

// Baseline names, for a figure of the series' paths, the figure of the
// same case that measures the same work on the same kernel without the
// series' part: the ioctl with an empty request, the self-NMI with an
// empty request, one get_user() of a word (the walk reads two a frame),
// the syscall of a task that never requested. The ratio of a figure
// divided by the ratio of its baseline leaves out how fast each base
// kernel's own paths are (syscall entry and exit, NMI delivery, user
// access under KASAN and lockdep): what remains is the series' code
// against upstream's.
var Baseline = map[string]string{
	"syscall_idle_ns":   "syscall_never_requested_ns",
	"request_task_ns":   "ioctl_null_ns",
	"request_nmi_ns":    "nmi_null_ns",
	"walk_per_frame_ns": "get_user_ns",
}

// CostRow is one figure on both kernels; a side that did not report it
// is nil. Ratio is ours/upstream, 0 when either side lacks the figure or
// upstream's is 0. Base is the figure's baseline (Baseline), BaseRatio
// the baseline's ratio and Corrected Ratio/BaseRatio, both 0 when a
// figure has no baseline or a side lacks it.
type CostRow struct {
	Name           string
	Ours, Upstream *float64
	Ratio          float64
	Base           string
	BaseRatio      float64
	Corrected      float64
}

// CompareCosts sets the figures of both kernels side by side, by name.
func CompareCosts(ours, upstream map[string]float64) []CostRow {
	get := func(m map[string]float64, k string) *float64 {
		if v, ok := m[k]; ok {
			return &v
		}
		return nil
	}
	ratio := func(k string) float64 {
		o, u := get(ours, k), get(upstream, k)
		if o != nil && u != nil && *u > 0 {
			return *o / *u
		}
		return 0
	}
	var rows []CostRow
	for _, k := range names(ours, upstream) {
		r := CostRow{Name: k, Ours: get(ours, k), Upstream: get(upstream, k), Ratio: ratio(k), Base: Baseline[k]}
		if r.Base != "" {
			r.BaseRatio = ratio(r.Base)
			if r.Ratio > 0 && r.BaseRatio > 0 {
				r.Corrected = r.Ratio / r.BaseRatio
			}
		}
		rows = append(rows, r)
	}
	return rows
}

// WriteCosts prints the figures with their ratio and, for a figure with
// a baseline, the baseline's ratio and the corrected ratio; it marks each
// ratio above MaxCostRatio. It returns how many raw ratios of the series'
// paths are above (a baseline figure is the base kernel's, not held to
// the goal).
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
	over, overCorrected := 0, 0
	mark := func(r float64, n *int) string {
		if r <= 0 {
			return "-"
		}
		s := strconv.FormatFloat(r, 'f', 2, 64)
		if r > MaxCostRatio {
			s += "*"
			*n++
		}
		return s
	}
	isBase := map[string]bool{}
	for _, b := range Baseline {
		isBase[b] = true
	}
	wn := len("figure")
	for _, r := range rows {
		wn = max(wn, len(r.Name))
	}
	fmt.Fprintf(w, "%-*s  %12s  %12s  %-6s  %-36s  %s\n", wn, "figure", oursName, upstreamName, "ratio", "baseline (its ratio)", "corrected")
	for _, r := range rows {
		base, corr, counted := "-", "-", &over
		switch {
		case r.Base != "":
			base = r.Base + " (" + mark(r.BaseRatio, new(int)) + ")"
			corr = mark(r.Corrected, &overCorrected)
		case isBase[r.Name]:
			// a base kernel's own path: not held to the goal
			base, counted = "(a baseline)", new(int)
		}
		fmt.Fprintf(w, "%-*s  %12s  %12s  %-6s  %-36s  %s\n", wn, r.Name, num(r.Ours), num(r.Upstream), mark(r.Ratio, counted), base, corr)
	}
	fmt.Fprintf(w, "cost: %d figures, %d of the series' paths above %.2f times upstream's (marked *); corrected by each kernel's own baseline: %d above\n",
		len(rows), over, MaxCostRatio, overCorrected)
	fmt.Fprintln(w, "cost: corrected = ratio / the baseline's ratio, the baseline being the same work on the same kernel without the series' part (ioctl or self-NMI with an empty request, one get_user() of a word, the syscall of a task that never requested)")
	return over
}
