// Package splat finds kernel error reports ("splats") in console logs:
// WARNINGs, BUGs, Oopses, lockdep and RCU reports, sanitizer reports,
// stalls, lockups, hung tasks and panics. It is a table-driven
// catalogue in the spirit of syzkaller's pkg/report: each entry says
// which console line starts a report, what kind it is and how the
// report ends; Scan returns every report with its title line and the
// quoted lines.
//
// Console lines are matched after removing the printk prefix
// ("[   12.345678] ", an optional caller id "[    T42]", a "<4>" log
// level). A timestamp in the middle of a line (kernel output glued to
// user-space output) starts a new line.
package splat

import (
	"bufio"
	"io"
	"regexp"
	"strings"
)

// Kinds of findings.
const (
	KindWarning     = "warning"      // WARNING: CPU: n PID: n at ...
	KindBug         = "bug"          // BUG: ..., kernel BUG at ...
	KindOops        = "oops"         // Oops: ... [#n] without a preceding BUG line
	KindGPF         = "gpf"          // general protection fault
	KindLockdep     = "lockdep"      // lockdep and RCU-lockdep reports
	KindKASAN       = "kasan"        // BUG: KASAN / KFENCE / KMSAN / KCSAN
	KindUBSAN       = "ubsan"        // UBSAN: ...
	KindRCUStall    = "rcu-stall"    // rcu: INFO: ... detected stalls
	KindSoftLockup  = "soft-lockup"  // watchdog: BUG: soft lockup
	KindHardLockup  = "hard-lockup"  // Watchdog detected hard LOCKUP
	KindHungTask    = "hung-task"    // INFO: task ... blocked for more than
	KindPanic       = "panic"        // Kernel panic - not syncing
	KindAtomicSleep = "atomic-sleep" // sleeping function called from invalid context
)

// Pattern is one catalogue entry.
type Pattern struct {
	Kind string
	// Start matches the title line (after the printk prefix is removed).
	Start *regexp.Regexp
	// End, when set, matches the last line of the report (inclusive).
	// Without it the report ends after its first complete stack trace.
	End *regexp.Regexp
	// Absorbed: when this pattern matches inside an open report of one
	// of these kinds, the line belongs to that report instead of
	// starting a new one (the Oops line that follows a BUG line).
	Absorbed []string
}

// MaxLines bounds the number of lines quoted per report.
const MaxLines = 120

var endTrace = regexp.MustCompile(`^---\[ end trace [0-9a-f]+ \]---`)
var endPanic = regexp.MustCompile(`^---\[ end Kernel panic`)

// Catalogue is ordered: the first matching entry wins, so specific
// entries come before general ones.
var Catalogue = []Pattern{
	{Kind: KindPanic, Start: rx(`^Kernel panic - not syncing: `), End: endPanic},
	{Kind: KindKASAN, Start: rx(`^BUG: K(ASAN|FENCE|MSAN|CSAN): `), End: regexp.MustCompile(`^={20,}$`)},
	{Kind: KindUBSAN, Start: rx(`^UBSAN: `), End: endTrace},
	{Kind: KindSoftLockup, Start: rx(`^(watchdog: )?BUG: soft lockup - CPU#\d+ stuck`)},
	{Kind: KindHardLockup, Start: rx(`(NMI )?[Ww]atchdog( detected|:) [Hh]ard LOCKUP`)},
	{Kind: KindRCUStall, Start: rx(`^(rcu: )?INFO: rcu_\w+ (detected (expedited )?stalls|self-detected stall)`)},
	{Kind: KindHungTask, Start: rx(`^INFO: task .* blocked for more than \d+ seconds`)},
	{Kind: KindAtomicSleep, Start: rx(`^BUG: (sleeping function called from invalid context|scheduling while atomic|workqueue leaked atomic)`)},
	{Kind: KindLockdep, Start: rx(`^(WARNING|INFO|BUG): (possible (recursive|circular) locking|possible irq lock inversion|inconsistent lock state|suspicious RCU usage|bad unlock balance|held lock freed|lock held when returning to user space|.* lock order detected|.*still has locks held|MAX_LOCKDEP|lock held at task exit|Nested lock was not taken|possible deadlock|bad contention detected)`)},
	{Kind: KindGPF, Start: rx(`^(Oops: )?general protection fault`), End: endTrace, Absorbed: []string{KindBug}},
	{Kind: KindBug, Start: rx(`^(kernel BUG at |BUG: )`), End: endTrace},
	{Kind: KindOops, Start: rx(`^Oops: .*\[#\d+\]`), End: endTrace, Absorbed: []string{KindBug, KindGPF, KindWarning}},
	{Kind: KindWarning, Start: rx(`^WARNING: CPU: \d+ PID: \d+ at `), End: endTrace},
	{Kind: KindWarning, Start: rx(`^WARNING: `), End: endTrace},
}

func rx(s string) *regexp.Regexp { return regexp.MustCompile(s) }

// Finding is one report found in a log.
type Finding struct {
	Kind  string   `json:"kind"`
	Title string   `json:"title"` // the start line without its printk prefix
	Line  int      `json:"line"`  // 1-based line number of the title in the log
	Lines []string `json:"lines"` // the report as it appeared on the console
	// Count is how many reports with the same kind and title were seen
	// (stall and lockup reports repeat); Lines quote the first one.
	Count int `json:"count"`
}

var (
	rePrefix = regexp.MustCompile(`^(<\d>)?(\[\s*\d+\.\d+\])?(\[\s*[TC]\d+\])?\s?`)
	reStamp  = regexp.MustCompile(`\[\s*\d+\.\d{6}\]`)
	// Lines that open a report before its title line.
	reHeader = regexp.MustCompile(`^(-+\[ cut here \]-+|={10,})$`)
	reStkEnd = regexp.MustCompile(`^\s*</TASK>\s*$`)
)

// Clean returns the message of a console line without the printk
// prefix.
func Clean(line string) string {
	return strings.TrimRight(rePrefix.ReplaceAllString(line, ""), " \r")
}

// Lines splits a console log into lines, also cutting a line where a
// printk timestamp appears in its middle.
func Lines(r io.Reader) ([]string, error) {
	var out []string
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 4*1024*1024)
	for sc.Scan() {
		l := strings.TrimRight(sc.Text(), "\r")
		for {
			locs := reStamp.FindAllStringIndex(l, 2)
			cut := -1
			for _, loc := range locs {
				if loc[0] > 0 {
					cut = loc[0]
					break
				}
			}
			if cut < 0 {
				break
			}
			out = append(out, l[:cut])
			l = l[cut:]
		}
		out = append(out, l)
	}
	return out, sc.Err()
}

// Scan reads a console log and returns the reports in it, in order.
func Scan(r io.Reader) ([]Finding, error) {
	lines, err := Lines(r)
	if err != nil {
		return nil, err
	}
	return ScanLines(lines), nil
}

// ScanLines is Scan over lines already split.
func ScanLines(lines []string) []Finding {
	var out []Finding
	seen := map[string]int{}
	var cur *Finding
	var curPat *Pattern
	closeCur := func() {
		if cur == nil {
			return
		}
		key := cur.Kind + "\x00" + normTitle(cur.Title)
		if i, ok := seen[key]; ok && repeats[cur.Kind] {
			out[i].Count++
		} else {
			seen[key] = len(out)
			out = append(out, *cur)
		}
		cur, curPat = nil, nil
	}
	for i, raw := range lines {
		msg := Clean(raw)
		p := match(msg)
		if p != nil && cur != nil && absorbs(p, cur.Kind) {
			p = nil
		}
		if p != nil {
			closeCur()
			f := &Finding{Kind: p.Kind, Title: msg, Line: i + 1, Count: 1}
			if i > 0 && reHeader.MatchString(Clean(lines[i-1])) {
				f.Lines = append(f.Lines, lines[i-1])
			}
			f.Lines = append(f.Lines, raw)
			cur, curPat = f, p
			continue
		}
		if cur == nil {
			continue
		}
		cur.Lines = append(cur.Lines, raw)
		switch {
		case curPat.End != nil && curPat.End.MatchString(msg):
			closeCur()
		case curPat.End == nil && reStkEnd.MatchString(msg):
			closeCur()
		case len(cur.Lines) >= MaxLines:
			closeCur()
		}
	}
	closeCur()
	return out
}

func match(msg string) *Pattern {
	for i := range Catalogue {
		if Catalogue[i].Start.MatchString(msg) {
			return &Catalogue[i]
		}
	}
	return nil
}

func absorbs(p *Pattern, open string) bool {
	for _, k := range p.Absorbed {
		if k == open {
			return true
		}
	}
	return false
}

// repeats are the kinds the kernel reports again and again for one
// problem; only those are folded into one finding with a Count.
var repeats = map[string]bool{KindRCUStall: true, KindSoftLockup: true, KindHardLockup: true, KindHungTask: true}

var reVolatile = regexp.MustCompile(`\d+`)

// normTitle makes titles that differ only in numbers (CPU, PID,
// seconds, addresses) compare equal for de-duplication.
func normTitle(t string) string { return reVolatile.ReplaceAllString(t, "N") }
