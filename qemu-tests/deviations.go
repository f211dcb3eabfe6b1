package qemutests

import (
	"bufio"
	"bytes"
	"fmt"
	"strings"
)

// Deviation is one documented difference: a case and the results it has
// on our kernel and on upstream, with the reason.
type Deviation struct {
	Case     string // "suite/case": a self-test case as KTAP names it
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

// Deviations parses the embedded DEVIATIONS.md.
func Deviations() ([]Deviation, error) {
	md, err := FS.ReadFile("DEVIATIONS.md")
	if err != nil {
		return nil, fmt.Errorf("reading the embedded qemu-tests/DEVIATIONS.md: %w", err)
	}
	devs, err := ParseDeviations(md)
	if err != nil {
		return nil, fmt.Errorf("qemu-tests/%w", err)
	}
	return devs, nil
}
