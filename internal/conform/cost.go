package conform

import (
	"fmt"
	"io"
	"regexp"
	"sort"
	"strconv"
	"strings"

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
//
// perf_fp_defer_ns (the perftool suite's defer_overhead case: the
// per-read time of a deep-stack workload under perf record --call-graph
// fp,defer) has perf_fp_ns, the same under --call-graph fp, as its
// baseline: its corrected ratio is the quotient fp,defer / fp of ours
// against upstream's.
var Baseline = map[string]string{
	"syscall_idle_ns":   "syscall_never_requested_ns",
	"request_task_ns":   "ioctl_null_ns",
	"request_nmi_ns":    "nmi_null_ns",
	"walk_per_frame_ns": "get_user_ns",
	"perf_fp_defer_ns":  "perf_fp_ns",
}

// Parts are differences of two figures of one kernel, printed per
// kernel with their ratio ours/upstream, which say where a request's
// time goes: ioctl_twa_ns and nmi_twa_ns are the empty request plus
// task_work_add() of an empty work with the notify mode of the request
// (from NMI: TWA_NMI_CURRENT, its irq_work and the task_work_run on the
// way out), the base kernel's part of a request.
var Parts = []struct{ Figure, Minus, What string }{
	{"request_task_ns", "ioctl_twa_ns", "the series' part of a task request (its bookkeeping, the walk, the callback)"},
	{"ioctl_twa_ns", "ioctl_null_ns", "the base kernel's task_work_add(TWA_RESUME) and task_work_run"},
	{"request_nmi_ns", "nmi_twa_ns", "the series' part of an NMI request (its bookkeeping, the walk, the callback)"},
	{"nmi_twa_ns", "nmi_null_ns", "the base kernel's task_work_add(TWA_NMI_CURRENT), irq_work and task_work_run"},
}

// reference are figures printed for reference only: not a path of the
// series and no figure's baseline, so not held to the goal either.
var reference = map[string]bool{"perf_none_ns": true, "lock_pair_ns": true}

// The suites and cases that print cost figures.
var (
	perfOverhead = [2]string{"perftool", "defer_overhead"}
	costFigures  = [2]string{"unwind_deferred", "cost_figures"}
)

// CostCase names, for a figure, the suite and case that print it, so
// that a figure missing on a kernel whose case or suite skipped is shown
// with the reason.
var CostCase = map[string][2]string{
	"perf_none_ns":     perfOverhead,
	"perf_fp_ns":       perfOverhead,
	"perf_fp_defer_ns": perfOverhead,
	// the figures that need the deferred unwind API (a kernel without it
	// still prints syscall_never_requested_ns, get_user_ns, lock_pair_ns)
	"syscall_idle_ns":   costFigures,
	"request_task_ns":   costFigures,
	"request_nmi_ns":    costFigures,
	"walk_per_frame_ns": costFigures,
	"ioctl_null_ns":     costFigures,
	"ioctl_twa_ns":      costFigures,
	"nmi_null_ns":       costFigures,
	"nmi_twa_ns":        costFigures,
	"ioctl_model_ns":    costFigures,
	"nmi_model_ns":      costFigures,
}

// CostSkips returns, by figure name (CostCase), why a run printed no
// figure: the reason of its case's or its suite's SKIP. A suite that
// skipped itself whole ("1..0" then "# SKIP reason") gives the reason on
// its diagnostic line.
func CostSkips(d *ktap.Document) map[string]string {
	out := map[string]string{}
	if d == nil || d.Root == nil {
		return out
	}
	why := map[[2]string]string{}
	for _, suite := range d.Root.Subtests {
		if suite.Directive == "SKIP" {
			r := suite.Reason
			for _, l := range suite.Diagnostics {
				if rest, ok := strings.CutPrefix(strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(l), "#")), "SKIP "); ok {
					r = rest
				}
			}
			for name, c := range CostCase {
				if c[0] == suite.Name {
					why[c] = "suite " + suite.Name + " skipped: " + r
					out[name] = why[c]
				}
			}
			continue
		}
		for _, t := range suite.Subtests {
			if t.Directive != "SKIP" {
				continue
			}
			for name, c := range CostCase {
				if c == [2]string{suite.Name, t.Name} {
					out[name] = suite.Name + "/" + t.Name + " skipped: " + t.Reason
				}
			}
		}
	}
	return out
}

// CostRow is one figure on both kernels; a side that did not report it
// is nil. Ratio is ours/upstream, 0 when either side lacks the figure or
// upstream's is 0. Base is the figure's baseline (Baseline), BaseRatio
// the baseline's ratio and Corrected Ratio/BaseRatio, both 0 when a
// figure has no baseline or a side lacks it.
type CostRow struct {
	Name           string
	Ours, Upstream *float64
	// OursSkip and UpstreamSkip say why a side has no figure, when its
	// case skipped (CostSkips; set by CompareRuns).
	OursSkip, UpstreamSkip string
	Ratio                  float64
	Base                   string
	BaseRatio              float64
	Corrected              float64
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

// Quotients are figures divided by a figure of the same kernel that does
// the same work another way, printed per kernel with the quotient of the
// two kernels' (ours/upstream), marked above MaxCostRatio: the perf
// record overhead (the deep-stack workload under --call-graph fp,defer
// against under fp) and a request against the same work done by the
// test module's code (ioctl_model_ns, nmi_model_ns: the empty request
// and a task_work that walks the user stack with get_user(), takes the
// SRCU read side and writes a ring record, as a request's way out does).
var Quotients = []struct{ Figure, Over, What string }{
	{"perf_fp_defer_ns", "perf_fp_ns", "perf record overhead, a read of the deep-stack workload under --call-graph fp,defer / under fp"},
	{"request_task_ns", "ioctl_model_ns", "a task request / the same work by the test module's code"},
	{"request_nmi_ns", "nmi_model_ns", "an NMI request / the same work by the test module's code"},
}

// WriteQuotients prints each of Quotients that both kernels measured.
func WriteQuotients(w io.Writer, rows []CostRow, oursName, upstreamName string) {
	both := measuredPair(rows)
	for _, q := range Quotients {
		ours, up, ok := both(q.Figure, q.Over)
		if !ok || ours[1] <= 0 || up[1] <= 0 {
			continue
		}
		o, u := ours[0]/ours[1], up[0]/up[1]
		r := "-"
		if u > 0 {
			r = strconv.FormatFloat(o/u, 'f', 2, 64)
			if o/u > MaxCostRatio {
				r += "*"
			}
		}
		fmt.Fprintf(w, "cost: %s: %s %.3f, %s %.3f; %s/%s %s\n", q.What, oursName, o, upstreamName, u, oursName, upstreamName, r)
	}
}

// WriteParts prints each of Parts that both kernels measured: the
// difference of the two figures on each kernel and their ratio.
func WriteParts(w io.Writer, rows []CostRow, oursName, upstreamName string) {
	both := measuredPair(rows)
	for _, p := range Parts {
		ours, up, ok := both(p.Figure, p.Minus)
		if !ok {
			continue
		}
		o, u := ours[0]-ours[1], up[0]-up[1]
		ratio := "-"
		if o > 0 && u > 0 {
			ratio = strconv.FormatFloat(o/u, 'f', 2, 64)
		}
		fmt.Fprintf(w, "cost: %s - %s, %s: %s %.0f ns, %s %.0f ns; ratio %s\n",
			p.Figure, p.Minus, p.What, oursName, o, upstreamName, u, ratio)
	}
}

// measuredPair returns a lookup of two figures of rows, a and b, on each
// kernel (ours and upstream's, each {a, b}); ok only when both kernels
// measured both.
func measuredPair(rows []CostRow) func(a, b string) (ours, upstream [2]float64, ok bool) {
	by := map[string]CostRow{}
	for _, r := range rows {
		by[r.Name] = r
	}
	return func(a, b string) (ours, upstream [2]float64, ok bool) {
		x, y := by[a], by[b]
		if x.Ours == nil || x.Upstream == nil || y.Ours == nil || y.Upstream == nil {
			return ours, upstream, false
		}
		return [2]float64{*x.Ours, *y.Ours}, [2]float64{*x.Upstream, *y.Upstream}, true
	}
}

// CompareRuns is CompareCosts of two runs' documents, with the reasons
// of figures missing because their case skipped, and a row for each such
// figure that neither side printed.
func CompareRuns(ours, upstream *ktap.Document) []CostRow {
	return WithSkips(CompareCosts(Costs(ours), Costs(upstream)), ours, upstream)
}

// WithSkips adds to rows the reasons of figures missing because their
// case skipped in the runs ours and upstream, and a row for each such
// figure that neither side printed.
func WithSkips(rows []CostRow, ours, upstream *ktap.Document) []CostRow {
	oSkip, uSkip := CostSkips(ours), CostSkips(upstream)
	have := map[string]bool{}
	for _, r := range rows {
		have[r.Name] = true
	}
	for _, k := range names(oSkip, uSkip) {
		if !have[k] {
			rows = append(rows, CostRow{Name: k, Base: Baseline[k]})
		}
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].Name < rows[j].Name })
	for i := range rows {
		r := &rows[i]
		if r.Ours == nil {
			r.OursSkip = oSkip[r.Name]
		}
		if r.Upstream == nil {
			r.UpstreamSkip = uSkip[r.Name]
		}
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
	for _, p := range Parts {
		isBase[p.Minus] = true
	}
	for _, q := range Quotients {
		isBase[q.Over] = true
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
		case reference[r.Name]:
			base, counted = "(for reference)", new(int)
		}
		fmt.Fprintf(w, "%-*s  %12s  %12s  %-6s  %-36s  %s\n", wn, r.Name, num(r.Ours), num(r.Upstream), mark(r.Ratio, counted), base, corr)
	}
	// the figures a side did not print, grouped by side and reason
	type missing struct{ side, why string }
	var order []missing
	skipped := map[missing][]string{}
	for _, r := range rows {
		for _, m := range []missing{{oursName, r.OursSkip}, {upstreamName, r.UpstreamSkip}} {
			if m.why == "" {
				continue
			}
			if skipped[m] == nil {
				order = append(order, m)
			}
			skipped[m] = append(skipped[m], r.Name)
		}
	}
	for _, m := range order {
		fmt.Fprintf(w, "cost: %s: no figure from %s: %s\n", strings.Join(skipped[m], ", "), m.side, m.why)
	}
	WriteQuotients(w, rows, oursName, upstreamName)
	WriteParts(w, rows, oursName, upstreamName)
	fmt.Fprintf(w, "cost: %d figures, %d of the series' paths above %.2f times upstream's (marked *); corrected by each kernel's own baseline: %d above\n",
		len(rows), over, MaxCostRatio, overCorrected)
	fmt.Fprintln(w, "cost: corrected = ratio / the baseline's ratio, the baseline being the same work on the same kernel without the series' part (ioctl or self-NMI with an empty request, one get_user() of a word, the syscall of a task that never requested, the workload under perf record --call-graph fp for fp,defer)")
	return over
}

// MedianCosts combines the cost figures of several runs of one kernel.
// A figure with a baseline (Baseline) and its baseline come from one
// run: the one whose quotient figure/baseline is the median (the lower
// of the two middle ones for an even count), because the two are
// measured in alternating batches in the same run and their quotient is
// what varies least from run to run. Every other figure is the median
// of its values (likewise the lower middle one).
func MedianCosts(runs []map[string]float64) map[string]float64 {
	out := map[string]float64{}
	if len(runs) == 0 {
		return out
	}
	paired := map[string]bool{}
	for fig, base := range Baseline {
		var idx []int
		for i, r := range runs {
			if r[fig] > 0 && r[base] > 0 {
				idx = append(idx, i)
			}
		}
		if len(idx) == 0 {
			continue
		}
		sort.SliceStable(idx, func(a, b int) bool {
			ra, rb := runs[idx[a]], runs[idx[b]]
			return ra[fig]/ra[base] < rb[fig]/rb[base]
		})
		mid := runs[idx[(len(idx)-1)/2]]
		out[fig], out[base] = mid[fig], mid[base]
		paired[fig], paired[base] = true, true
	}
	vals := map[string][]float64{}
	for _, r := range runs {
		for k, v := range r {
			if !paired[k] {
				vals[k] = append(vals[k], v)
			}
		}
	}
	for k, v := range vals {
		sort.Float64s(v)
		out[k] = v[(len(v)-1)/2]
	}
	return out
}

// WriteRounds prints, for each figure with a baseline and each of
// Quotients, the corrected ratio ours/upstream of every round (round i
// of ours against round i of upstream's), so that the spread the
// medians come from is shown.
func WriteRounds(w io.Writer, ours, upstream []map[string]float64) {
	n := min(len(ours), len(upstream))
	if n < 2 {
		return
	}
	q := func(m map[string]float64, fig, over string) float64 {
		if m[fig] > 0 && m[over] > 0 {
			return m[fig] / m[over]
		}
		return 0
	}
	line := func(fig, over string) {
		var cells []string
		for i := 0; i < n; i++ {
			o, u := q(ours[i], fig, over), q(upstream[i], fig, over)
			if o == 0 || u == 0 {
				cells = append(cells, "-")
				continue
			}
			cells = append(cells, strconv.FormatFloat(o/u, 'f', 2, 64))
		}
		fmt.Fprintf(w, "rounds: %s / %s, ours/upstream per round: %s\n", fig, over, strings.Join(cells, " "))
	}
	var figs []string
	for fig := range Baseline {
		figs = append(figs, fig)
	}
	sort.Strings(figs)
	for _, fig := range figs {
		line(fig, Baseline[fig])
	}
	for _, x := range Quotients {
		if Baseline[x.Figure] == x.Over {
			continue
		}
		line(x.Figure, x.Over)
	}
}
