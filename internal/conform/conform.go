// Package conform compares the self-test results of two kernels case by
// case: ours (a tree carrying the series) against upstream (a tree where
// the infrastructure is upstream, such as Debian's 7.x, where kgen
// applies nothing). Every case whose result differs must be listed in
// qemu-tests/DEVIATIONS.md with the reason; a difference that is not
// listed there fails the comparison.
package conform

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"

	"github.com/kdefer/kdefer/internal/ktap"
)

// Deviation is one documented difference: a case and the results it has
// on our kernel and on upstream, with the reason.
type Deviation struct {
	Case     string // "suite/case", as in Row.Case
	Ours     []string
	Upstream []string // allowed results, e.g. {"pass", "fail"} for a race
	Reason   string
}

// ParseDeviations reads the deviation table of DEVIATIONS.md: every
// table row whose first cell is a case name in backquotes,
//
//	| `unwind_deferred/compat_task_refused` | pass | fail | reason |
//
// where a result cell may allow several results ("pass or fail") and a
// name ending in "*" stands for every case it is a prefix of (Match).
func ParseDeviations(md []byte) ([]Deviation, error) {
	var out []Deviation
	sc := bufio.NewScanner(bytes.NewReader(md))
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if !strings.HasPrefix(line, "| `") {
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		if len(cells) < 4 {
			return nil, fmt.Errorf("DEVIATIONS.md:%d: want | `case` | ours | upstream | reason |, got %d cells", n, len(cells))
		}
		d := Deviation{
			Case:     strings.Trim(strings.TrimSpace(cells[0]), "`"),
			Ours:     results(cells[1]),
			Upstream: results(cells[2]),
			Reason:   strings.TrimSpace(strings.Join(cells[3:], "|")),
		}
		if d.Case == "" || len(d.Ours) == 0 || len(d.Upstream) == 0 || d.Reason == "" {
			return nil, fmt.Errorf("DEVIATIONS.md:%d: a deviation needs a case, both results and a reason", n)
		}
		for _, r := range append(append([]string{}, d.Ours...), d.Upstream...) {
			if !validResult[r] {
				return nil, fmt.Errorf("DEVIATIONS.md:%d: unknown result %q (want pass, fail, skip, missing or -)", n, r)
			}
		}
		out = append(out, d)
	}
	return out, sc.Err()
}

var validResult = map[string]bool{"pass": true, "fail": true, "skip": true, "missing": true, "todo": true, "-": true}

func results(cell string) []string {
	var out []string
	for _, f := range strings.Fields(strings.ReplaceAll(cell, ",", " ")) {
		if f != "or" {
			out = append(out, strings.ToLower(f))
		}
	}
	return out
}

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

// Match returns the deviation documenting case c: the row naming it, or
// else the row whose name ends in "*" and is the longest prefix of c
// ("sframe/*": every case of a suite that upstream does not have).
func Match(devs []Deviation, c string) (Deviation, bool) {
	var best Deviation
	found := false
	for _, d := range devs {
		if d.Case == c {
			return d, true
		}
		if p, ok := strings.CutSuffix(d.Case, "*"); ok && strings.HasPrefix(c, p) && (!found || len(d.Case) > len(best.Case)) {
			best, found = d, true
		}
	}
	return best, found
}

// Compare builds the table of every case reported by either kernel.
func Compare(ours, upstream map[string]string, devs []Deviation) *Table {
	t := &Table{}
	for _, k := range names(ours, upstream) {
		r := Row{Case: k, Ours: or(ours[k]), Upstream: or(upstream[k])}
		d, documented := Match(devs, k)
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
