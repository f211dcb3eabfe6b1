// Package splat finds kernel error reports ("splats") in console logs:
// WARNINGs, BUGs, Oopses, lockdep and RCU reports, sanitizer reports,
// stalls, lockups, hung tasks, leaks and panics. It is a table-driven
// catalogue in the spirit of syzkaller's pkg/report: each entry says
// which console line starts a report, what kind it is, how the report
// ends and how its title is made. Scan returns every report with a
// normalized title ("WARNING in foo", "KASAN: use-after-free Read in
// foo", "possible deadlock in foo"), the line that opened it and the
// quoted lines.
//
// Console lines are matched after removing the printk prefix ("<4>",
// "[   12.345678] ", a caller id "[    T42]" or "[    C4]"). A report
// may start in the middle of a line, after other text ("syzkaller
// login: ", a user-space time stamp); a printk time stamp in the middle
// of a line starts a new line.
//
// The scanner is linear in the size of the log: each line is searched
// once per distinct catalogue key, and the regular expressions (RE2,
// linear) only ever see a bounded window of a line.
package splat

import (
	"bytes"
	"io"
	"regexp"
	"sort"
	"strings"

	"github.com/kdefer/kdefer/internal/printk"
)

// MaxLines bounds the number of lines quoted per report.
const MaxLines = 120

// Finding is one report found in a log.
type Finding struct {
	Kind string `json:"kind"`
	// Title is the normalized title of the crash, the same for the same
	// bug across runs and machines: "WARNING in foo", "BUG: kernel NULL
	// pointer dereference in foo", "kernel panic: ...".
	Title string `json:"title"`
	// Header is the line that opened the report, without its printk
	// prefix.
	Header string   `json:"header"`
	Line   int      `json:"line"`  // 1-based line number of the header in the log
	Lines  []string `json:"lines"` // the report as it appeared on the console
	// Count is how many reports with the same kind and title were seen
	// (stall, lockup and leak reports repeat); Lines quote the first one.
	Count int `json:"count"`
}

// Clean returns the message of a console line without the printk
// prefix: an optional "<N>" log level, an optional syslog prefix
// ("Mar  2 06:41:18 host kernel: "), a "[ seconds.micro]" time stamp,
// an optional caller id ("[  T123]", "[    C4]") and one space.
func Clean(line string) string {
	return strings.TrimRight(line[prefixLen(line):], " \r")
}

func prefixLen(l string) int {
	i := levelLen(l)
	i += syslogLen(l[i:])
	i += printk.StampLen(l[i:])
	i += printk.CallerLen(l[i:])
	if i < len(l) && (l[i] == ' ' || l[i] == '\t') {
		i++
	}
	return i
}

// levelLen returns the length of a "<N>" log level at the start of l,
// or 0.
func levelLen(l string) int {
	if len(l) > 2 && l[0] == '<' {
		j := 1
		for j < len(l) && j < 5 && isDigit(l[j]) {
			j++
		}
		if j > 1 && j < len(l) && l[j] == '>' {
			return j + 1
		}
	}
	return 0
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// syslogLen returns the length of the prefix that a kernel line gets in
// a system log, or 0: a date, a host name and "kernel: ", the date as
// BSD syslog and journalctl write it ("Mar  2 06:41:18", "Dec 11
// 03:12:49.204518") or in RFC 3339 as rsyslog does
// ("2017-08-14T03:27:51.602373+02:00"). Bug reports quote the kernel's
// reports this way; a header framed by "=====" lines is only known as
// one once the prefix is gone.
func syslogLen(l string) int {
	bsd := len(l) > 16 && l[0] >= 'A' && l[0] <= 'Z' && l[3] == ' ' && l[6] == ' ' && l[9] == ':' && l[12] == ':'
	iso := len(l) > 20 && isDigit(l[0]) && l[4] == '-' && l[7] == '-' && l[10] == 'T' && l[13] == ':'
	if !bsd && !iso {
		return 0
	}
	const tag = " kernel: "
	end := min(len(l), 96)
	i := strings.Index(l[:end], tag)
	if i < 0 {
		return 0
	}
	return i + len(tag)
}

// Lines splits a console log into lines, also cutting a line where a
// printk time stamp appears in its middle.
func Lines(r io.Reader) ([]string, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	return splitLines(string(data)), nil
}

func splitLines(s string) []string {
	out := make([]string, 0, strings.Count(s, "\n")+1)
	for len(s) > 0 {
		var l string
		if nl := strings.IndexByte(s, '\n'); nl >= 0 {
			l, s = s[:nl], s[nl+1:]
		} else {
			l, s = s, ""
		}
		l = strings.TrimRight(l, "\r")
		// Cut before every time stamp that is not at the start (after
		// an optional "<N>" level and syslog prefix).
		start, from := 0, 1
		if n := levelLen(l); n > 0 {
			from = n + 1
		}
		if n := syslogLen(l[from-1:]); n > 0 {
			from += n
		}
		for {
			j, n := printk.IndexStamp(l, from, false)
			if j < 0 {
				break
			}
			out = append(out, l[start:j])
			start, from = j, j+n
		}
		out = append(out, l[start:])
	}
	return out
}

// Scan reads a console log and returns the reports in it, in order.
func Scan(r io.Reader) ([]Finding, error) {
	lines, err := Lines(r)
	if err != nil {
		return nil, err
	}
	return ScanLines(lines), nil
}

// ScanBytes is Scan over a log already in memory.
func ScanBytes(b []byte) []Finding {
	return ScanLines(splitLines(string(b)))
}

// report is a report being read.
type report struct {
	f       *Finding
	p       *Pattern
	sub     []string // Start's submatches
	msgs    []string // cleaned lines, parallel to f.Lines
	folded  bool     // a consequence: read to its end, then dropped
	trace   bool     // a stack trace keyword was seen
	frames  bool     // a frame was seen after it
	task    bool     // an x86 <TASK> marker was seen
	pc      bool     // a register dump with a PC was seen
	n       int      // lines read
	maxLine int
}

var (
	reHeader   = regexp.MustCompile(`^(-+\[ cut here \]-+|={10,}|8<-+ cut here -+)\s*$`)
	reTraceKey = regexp.MustCompile(`(?i)(call trace|backtrace)[^:]*:\s*$`)
	rePC       = regexp.MustCompile(`^\s*(RIP|EIP|IP|NIP|pc|epc|PC is at)\s*[:\[ ]`)
)

// ScanLines is Scan over lines already split.
func ScanLines(lines []string) []Finding {
	var out []Finding
	seen := map[string]int{}
	var cur *report
	// closeCur ends the open report and returns the index of the
	// finding it went to, or -1.
	closeCur := func() int {
		if cur == nil {
			return -1
		}
		r := cur
		cur = nil
		if r.folded {
			return -1
		}
		r.f.Title = title(r)
		if r.p.Repeats {
			key := r.f.Kind + "\x00" + r.f.Title
			if i, ok := seen[key]; ok {
				out[i].Count++
				return i
			}
			seen[key] = len(out)
		}
		out = append(out, *r.f)
		return len(out) - 1
	}
	prev := ""
	for i, raw := range lines {
		msg := Clean(raw)
		framed := isRow(prev, '=') && dashedAfter(lines, i)
		prev = msg
		p, _, sub := match(msg, framed)
		if p != nil && cur != nil && !cur.folded && absorbs(cur.p, p.Name) {
			p = nil
		}
		if p != nil && p.After && (cur != nil || len(out) > 0) {
			// A consequence of the report before it: quote its header
			// there and read the rest of it without listing it.
			host := closeCur()
			if host < 0 {
				host = len(out) - 1
			}
			if host >= 0 && len(out[host].Lines) < MaxLines {
				out[host].Lines = append(out[host].Lines, raw)
			}
			cur = &report{p: p, folded: true, f: &Finding{}, maxLine: MaxLines}
			continue
		}
		if p != nil {
			closeCur()
			f := &Finding{Kind: p.Kind, Header: strings.TrimSpace(msg), Line: i + 1, Count: 1}
			cur = &report{f: f, p: p, sub: sub, maxLine: MaxLines}
			if p.Max > 0 {
				cur.maxLine = p.Max
			}
			// Quote the "cut here" or "=====" line that opens the
			// report, and a WARN message between it and the header.
			for back := 1; back <= 3 && i-back >= 0; back++ {
				if reHeader.MatchString(Clean(lines[i-back])) {
					for k := i - back; k < i; k++ {
						f.Lines = append(f.Lines, lines[k])
						cur.msgs = append(cur.msgs, Clean(lines[k]))
					}
					break
				}
			}
			f.Lines = append(f.Lines, raw)
			cur.msgs = append(cur.msgs, msg)
			continue
		}
		if cur == nil {
			continue
		}
		if cur.ends(raw, msg) {
			closeCur()
		}
	}
	closeCur()
	return out
}

// isTraceKey tells whether msg opens a stack trace ("Call Trace:",
// "Call trace:", "backtrace:", "Backtrace:").
func isTraceKey(msg string) bool {
	return strings.Contains(msg, "race") && reTraceKey.MatchString(msg)
}

// isPC tells whether msg is the line of a register dump that holds the
// program counter (RIP, EIP, IP, NIP, pc, epc, PC is at).
func isPC(msg string) bool {
	t := strings.TrimLeft(msg, " \t")
	if len(t) < 3 || !strings.ContainsAny(t[:3], "IPpe") {
		return false
	}
	return rePC.MatchString(msg)
}

// ends adds a line to the open report and tells whether the report is
// complete. A line that plainly does not belong to it is not added.
func (r *report) ends(raw, msg string) bool {
	trimmed := strings.TrimSpace(msg)
	isFrame := frameFunc(msg) != ""
	if r.p.End == nil && r.frames && !r.task && (!r.p.NeedPC || r.pc) &&
		!isFrame && msg != "" && msg[0] != ' ' && msg[0] != '\t' && !inReport(msg) {
		// Non-x86 traces have no </TASK>: the first line after the
		// frames that is not indented is no longer the report.
		return true
	}
	r.n++
	if !r.folded {
		r.f.Lines = append(r.f.Lines, raw)
		r.msgs = append(r.msgs, msg)
	}
	switch {
	case isTraceKey(msg):
		r.trace = true
	case trimmed == "<TASK>":
		r.task = true
	case isPC(msg):
		r.pc = true
	case isFrame && r.trace:
		r.frames = true
	}
	switch {
	case r.p.End != nil && r.p.End.MatchString(msg):
		return true
	case r.p.End == nil && trimmed == "</TASK>" && (!r.p.NeedPC || r.pc):
		return true
	case r.folded:
		return r.n >= r.maxLine
	case len(r.f.Lines) >= r.maxLine:
		return true
	}
	return false
}

// isRow tells whether s is a row of at least ten c.
func isRow(s string, c byte) bool {
	s = strings.TrimRight(s, " \t\r")
	if len(s) < 10 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] != c {
			return false
		}
	}
	return true
}

// dashedAfter tells whether one of the two lines after line i is a row
// of dashes: lockdep and RCU frame their header with "=====" above and
// "-----" below the kernel version line.
func dashedAfter(lines []string, i int) bool {
	for j := i + 1; j <= i+2 && j < len(lines); j++ {
		if isRow(Clean(lines[j]), '-') {
			return true
		}
	}
	return false
}

var reInReport = regexp.MustCompile(`^(Code: |---\[ end|Instruction dump:|Modules linked in|Kernel Offset|CPU: |Hardware name|Exception stack|Backtrace:|Call [Tt]race:|Stack:|Mem abort|Data abort|irq event stamp|hardirqs |softirqs |\S+/\d+ is |\d+ locks? held by|no locks held|other info|stack backtrace|RIP: |R[A-Z0-9]{2}: |EFLAGS|FS: |CS: |CR2: |DR[0-7]: |PKRU: |pc : |lr : |sp : |x\d+ *: |epc : |ra : |status: |badaddr: |cause: |NIP |LR |MSR: |GPR\d+: |[0-9a-f]{8,16}\s)`)

func inReport(msg string) bool { return reInReport.MatchString(msg) }

// window bounds the text a catalogue regexp looks at; every header
// fits in it.
const window = 512

// maxTries bounds how many occurrences of one key in one line are
// tried.
const maxTries = 4

type keyEntry struct {
	key  string
	pats []int
}

var (
	keys []keyEntry
	// byPrefix maps the first two bytes of a key to the keys.
	byPrefix = map[uint16][]int{}
)

func init() {
	idx := map[string]int{}
	for i, p := range Catalogue {
		for _, k := range strings.Split(p.Key, "|") {
			if len(k) < 2 {
				panic("splat: catalogue key too short: " + p.Name)
			}
			j, ok := idx[k]
			if !ok {
				j = len(keys)
				idx[k] = j
				keys = append(keys, keyEntry{key: k})
				h := uint16(k[0])<<8 | uint16(k[1])
				byPrefix[h] = append(byPrefix[h], j)
			}
			keys[j].pats = append(keys[j].pats, i)
		}
	}
}

// match finds the earliest report header in a console message: the
// catalogue entry, where the header starts and Start's submatches.
// Headers start a line or follow a blank or a ']'; at each such place
// the keys that start there are looked up by their first two bytes, so
// a line is read once whatever the size of the catalogue.
func match(msg string, framed bool) (*Pattern, int, []string) {
	if strings.HasPrefix(msg, "---[ end ") {
		return nil, 0, nil // the closing line of a report repeats its header
	}
	tries := 0
	for j := 0; j+1 < len(msg) && tries < maxTries; j++ {
		if j > 0 {
			if c := msg[j-1]; c != ' ' && c != '\t' && c != ']' {
				continue
			}
		}
		ks := byPrefix[uint16(msg[j])<<8|uint16(msg[j+1])]
		if len(ks) == 0 {
			continue
		}
		var pats []int
		for _, ki := range ks {
			if strings.HasPrefix(msg[j:], keys[ki].key) {
				pats = append(pats, keys[ki].pats...)
			}
		}
		if len(pats) == 0 {
			continue
		}
		tries++
		if j > 0 && !validBefore(msg[:j]) {
			continue
		}
		sort.Ints(pats)
		text := msg[j:]
		if len(text) > window {
			text = text[:window]
		}
		for k, pi := range pats {
			if k > 0 && pats[k-1] == pi {
				continue
			}
			p := &Catalogue[pi]
			if p.Framed && (!framed || j != 0) {
				continue
			}
			if sub := p.Start.FindStringSubmatch(text); sub != nil {
				return p, j, sub
			}
		}
	}
	return nil, 0, nil
}

var reBefore = regexp.MustCompile(`(^\s*(\[ )?$|: $|\d\d:\d\d:\d\d(\.\d+)? $|\]\s*$)`)

// validBefore tells whether text may precede a report header on its
// line: nothing, blanks, "[ " (old lockdep), a "prefix: " (NMI
// watchdog:, kernel:, a module name, a login prompt) or a time of day
// (user space logs). A header quoted by a program ("echo BUG: x",
// "thread 'main' panicked at") is not a report.
func validBefore(s string) bool {
	if len(s) > window {
		s = s[len(s)-window:]
	}
	return reBefore.MatchString(s)
}

func absorbs(open *Pattern, name string) bool {
	for _, k := range open.Absorbs {
		if strings.HasPrefix(name, k) {
			return true
		}
	}
	return false
}

// normTitle makes titles that differ only in numbers compare equal.
func normTitle(t string) string {
	var b bytes.Buffer
	digits := false
	for i := 0; i < len(t); i++ {
		if isDigit(t[i]) {
			if !digits {
				b.WriteByte('N')
			}
			digits = true
			continue
		}
		digits = false
		b.WriteByte(t[i])
	}
	return b.String()
}
