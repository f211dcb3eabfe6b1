package lint

import (
	"fmt"
	"io"
	"strings"
)

// String is the one-line form of a finding (without the patch).
func (f Finding) String() string {
	loc := ""
	if f.File != "" {
		loc = fmt.Sprintf(" %s:%d:", f.File, f.Line)
	}
	s := fmt.Sprintf("%s %s:%s:%s %s", f.Check, f.Level, f.Type, loc, f.Message)
	if f.Also != "" {
		s += " (also " + f.Also + ")"
	}
	if f.Tolerated {
		s += " [tolerated: " + f.Reason + "]"
	}
	return s
}

// WriteText writes the patch × check table, the findings and what did not
// run.
func (r *Result) WriteText(w io.Writer) {
	s := r.Series
	width := 40
	fmt.Fprintf(w, "%-*s", width, "patch")
	for _, c := range Checks {
		fmt.Fprintf(w, " %-10s", c)
	}
	fmt.Fprintln(w)
	for _, p := range s.Patches {
		fmt.Fprintf(w, "%-*s", width, trunc(p.Label(len(s.Patches)), width))
		for _, c := range Checks {
			fmt.Fprintf(w, " %-10s", r.Status(c, p.Index))
		}
		fmt.Fprintln(w)
	}
	if len(r.Findings) > 0 {
		fmt.Fprintln(w, "\nFindings:")
	}
	for _, f := range r.Findings {
		fmt.Fprintf(w, "  %s: %s\n", trunc(s.Label(f.Patch), 50), f)
	}
	for _, n := range r.NotRun {
		where := "every patch"
		if n.Patch > 0 {
			where = s.Label(n.Patch)
		}
		fmt.Fprintf(w, "  not run: %s at %s: %s\n", n.Check, trunc(where, 50), n.Reason)
	}
	for _, u := range r.APIUnchecked {
		fmt.Fprintf(w, "  capi could not compare: %s\n", u)
	}
	fails, tol := 0, 0
	for _, f := range r.Findings {
		if f.Fails() {
			fails++
		} else {
			tol++
		}
	}
	verdict := "PASS"
	switch {
	case fails > 0:
		verdict = "FAIL"
	case len(r.NotRun) > 0:
		verdict = "INCOMPLETE"
	}
	fmt.Fprintf(w, "lint: %d patches, %d findings that fail, %d tolerated or advisory, %d checks not run, %d C declarations compared, %d uapi fields compared with upstream: %s\n",
		len(s.Patches), fails, tol, len(r.NotRun), r.APICompared, r.UAPICompared, verdict)
}

func trunc(s string, n int) string {
	if len([]rune(s)) <= n {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}

// Timing is a one-line summary of the time per check.
func (r *Result) Timing() string {
	var parts []string
	for _, c := range Checks {
		if d, ok := r.Elapsed[c]; ok {
			parts = append(parts, fmt.Sprintf("%s %.1fs", c, d.Seconds()))
		}
	}
	return strings.Join(parts, ", ")
}
