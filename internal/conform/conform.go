// Package conform compares the self-test results of two kernels case by
// case: ours (a tree carrying the series) against upstream (a tree where
// the infrastructure is upstream, such as Debian's 7.x, where kgen
// applies nothing). Every case whose result differs must be listed in
// qemu-tests/DEVIATIONS.md with the reason; a difference that is not
// listed there fails the comparison.
package conform

import (
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"

	"github.com/kdefer/kdefer/internal/ktap"
	qemutests "github.com/kdefer/kdefer/qemu-tests"
)

// Row is one case on both kernels.
type Row struct {
	Case     string
	Ours     string // pass, fail, skip, missing, todo; "-" when not reported
	Upstream string
	// Verdict: "same", "deviation" (documented), "UNDOCUMENTED", or
	// "same, deviation not seen" (documented but not observed this run).
	Verdict string
	Reason  string
}

// Table is the comparison.
type Table struct {
	Rows         []Row
	Undocumented int
	NotSeen      int
}

// OK reports whether every difference is documented.
func (t *Table) OK() bool { return t.Undocumented == 0 }

// Cases returns the leaf test cases of a document by "suite/case".
func Cases(d *ktap.Document) map[string]string {
	out := map[string]string{}
	if d == nil {
		return out
	}
	d.Walk(func(suites []string, t *ktap.Test) {
		if len(t.Subtests) > 0 {
			return
		}
		out[strings.Join(append(append([]string{}, suites...), t.Name), "/")] = t.Status.String()
	})
	return out
}

// Compare builds the table of every case reported by either kernel.
func Compare(ours, upstream map[string]string, devs []qemutests.Deviation) *Table {
	t := &Table{}
	for _, k := range names(ours, upstream) {
		r := Row{Case: k, Ours: or(ours[k]), Upstream: or(upstream[k])}
		d, documented := qemutests.Match(devs, k)
		switch {
		case r.Ours == r.Upstream && documented && !(slices.Contains(d.Ours, r.Ours) && slices.Contains(d.Upstream, r.Upstream)):
			r.Verdict, r.Reason = "same, deviation not seen", d.Reason
			t.NotSeen++
		case r.Ours == r.Upstream:
			r.Verdict = "same"
			if documented {
				r.Reason = d.Reason
			}
		case documented && slices.Contains(d.Ours, r.Ours) && slices.Contains(d.Upstream, r.Upstream):
			r.Verdict, r.Reason = "deviation", d.Reason
		case documented:
			r.Verdict = "UNDOCUMENTED"
			r.Reason = fmt.Sprintf("documented as ours %s / upstream %s, seen %s / %s",
				strings.Join(d.Ours, " or "), strings.Join(d.Upstream, " or "), r.Ours, r.Upstream)
			t.Undocumented++
		default:
			r.Verdict = "UNDOCUMENTED"
			r.Reason = "not in qemu-tests/DEVIATIONS.md"
			t.Undocumented++
		}
		t.Rows = append(t.Rows, r)
	}
	return t
}

func or(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// Write prints the table: case × kernel, the verdict and the reason.
func (t *Table) Write(w io.Writer, oursName, upstreamName string) {
	wc, wo, wu := len("case"), len(oursName), len(upstreamName)
	for _, r := range t.Rows {
		wc = max(wc, len(r.Case))
	}
	fmt.Fprintf(w, "%-*s  %-*s  %-*s  %s\n", wc, "case", wo, oursName, wu, upstreamName, "verdict")
	for _, r := range t.Rows {
		fmt.Fprintf(w, "%-*s  %-*s  %-*s  %s", wc, r.Case, wo, r.Ours, wu, r.Upstream, r.Verdict)
		if r.Verdict != "same" && r.Reason != "" {
			fmt.Fprintf(w, ": %s", r.Reason)
		}
		fmt.Fprintln(w)
	}
	same, dev := 0, 0
	for _, r := range t.Rows {
		switch r.Verdict {
		case "same", "same, deviation not seen":
			same++
		case "deviation":
			dev++
		}
	}
	verdict := "PASS"
	if !t.OK() {
		verdict = "FAIL"
	}
	fmt.Fprintf(w, "conformance: %d cases, %d the same, %d documented deviations, %d undocumented, %d documented but not seen: %s\n",
		len(t.Rows), same, dev, t.Undocumented, t.NotSeen, verdict)
}

// names returns the keys of both maps, sorted, each once.
func names[V any](a, b map[string]V) []string {
	seen := map[string]bool{}
	var keys []string
	for _, m := range []map[string]V{a, b} {
		for k := range m {
			if !seen[k] {
				seen[k] = true
				keys = append(keys, k)
			}
		}
	}
	sort.Strings(keys)
	return keys
}
