// Package ktap parses KTAP v1 test output (the kernel's test reporting
// format, a TAP 13/14 dialect) as it appears on a serial console.
//
// A document looks like this:
//
//	KTAP version 1
//	1..2
//	    KTAP version 1
//	    # Subtest: nmi
//	    1..2
//	    ok 1 request_from_nmi
//	    not ok 2 cancel # SKIP no NMI source
//	ok 1 nmi
//	# something the test wanted to say
//	not ok 2 cookie
//
// Subtests are nested by indentation (four spaces per level, but any
// deeper indentation is accepted); a subtest's own result line follows
// its body at the parent's indentation. Diagnostic lines ("# ...") are
// attached to the next result at the same level. Kernel log lines mixed
// into the console ("[    1.234567] ...") are ignored, also when one
// was glued to the end of a KTAP line.
package ktap

import (
	"bufio"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"

	"github.com/kdefer/kdefer/internal/printk"
)

// Status is the outcome of one test.
type Status int

const (
	Pass Status = iota
	Fail
	Skip
	Todo    // "not ok ... # TODO": a known failure, does not fail the run
	Missing // announced by a plan but never reported (the run died)
)

func (s Status) String() string {
	switch s {
	case Pass:
		return "pass"
	case Fail:
		return "fail"
	case Skip:
		return "skip"
	case Todo:
		return "todo"
	case Missing:
		return "missing"
	}
	return "status(" + strconv.Itoa(int(s)) + ")"
}

// MarshalText lets Status appear as a word in JSON.
func (s Status) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Test is one test case or suite. A suite has Subtests; its own Status
// is the one printed on its result line (adjusted to Fail when a subtest
// failed or is missing while the line said ok).
type Test struct {
	Name        string   `json:"name"`
	Number      int      `json:"number"`
	Status      Status   `json:"status"`
	Directive   string   `json:"directive,omitempty"` // "SKIP" or "TODO"
	Reason      string   `json:"reason,omitempty"`    // text after the directive
	Diagnostics []string `json:"diagnostics,omitempty"`
	Plan        int      `json:"plan"` // -1 when no plan line was seen
	Subtests    []*Test  `json:"subtests,omitempty"`
}

// Document is a parsed KTAP document.
type Document struct {
	Version int   `json:"version"`
	Root    *Test `json:"root"` // unnamed top level; its Subtests are the suites
	// Errors lists structural problems: a plan that does not match the
	// number of results, a document cut short, results out of order.
	Errors []string `json:"errors,omitempty"`
	// Found is false when no KTAP or TAP version line was seen at all.
	Found bool `json:"found"`
}

// Counts are totals over the leaves of a document.
type Counts struct {
	Pass, Fail, Skip, Todo, Missing int
}

// Total is the number of leaf tests.
func (c Counts) Total() int { return c.Pass + c.Fail + c.Skip + c.Todo + c.Missing }

// Counts returns totals over the leaf tests (suites are not counted
// themselves, only their cases).
func (d *Document) Counts() Counts {
	var c Counts
	var walk func(t *Test)
	walk = func(t *Test) {
		if len(t.Subtests) == 0 {
			switch t.Status {
			case Pass:
				c.Pass++
			case Fail:
				c.Fail++
			case Skip:
				c.Skip++
			case Todo:
				c.Todo++
			case Missing:
				c.Missing++
			}
			return
		}
		for _, s := range t.Subtests {
			walk(s)
		}
	}
	if d.Root != nil {
		for _, s := range d.Root.Subtests {
			walk(s)
		}
	}
	return c
}

// OK reports whether the document was found, is complete and well
// formed, and no test failed.
func (d *Document) OK() bool {
	if !d.Found || len(d.Errors) > 0 {
		return false
	}
	c := d.Counts()
	return c.Fail == 0 && c.Missing == 0
}

var (
	reVersion = regexp.MustCompile(`^(K?TAP) version (\d+)\s*$`)
	rePlan    = regexp.MustCompile(`^1\.\.(\d+)\s*(?:#.*)?$`)
	reResult  = regexp.MustCompile(`^(ok|not ok)(?:\s+(\d+))?(?:\s*-)?\s*([^#]*?)\s*(?:#\s*(.*))?$`)
	reSubtest = regexp.MustCompile(`^#\s*Subtest:\s*(.*?)\s*$`)
)

type frame struct {
	indent  int
	t       *Test
	pending []string // diagnostics waiting for the next result line
	named   bool
}

// Parse reads console output and returns the first KTAP document in it.
// Lines before the version line are ignored. Parse only fails on read
// errors; malformed input is reported in Document.Errors.
func Parse(r io.Reader) (*Document, error) {
	d := &Document{Root: &Test{Plan: -1}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 4*1024*1024)
	var stack []*frame
	top := func() *frame { return stack[len(stack)-1] }
	var pendingName string // "# Subtest: x" seen, frame not open yet
	pendingIndent := -1
	baseIndent := 0
	done := false

	for sc.Scan() && !done {
		line := strings.TrimRight(sc.Text(), "\r")
		line = StripKlog(line)
		if strings.TrimSpace(line) == "" {
			continue
		}
		indent := len(line) - len(strings.TrimLeft(line, " \t"))
		text := strings.TrimSpace(line)

		if !d.Found {
			if m := reVersion.FindStringSubmatch(text); m != nil {
				d.Found = true
				d.Version, _ = strconv.Atoi(m[2])
				baseIndent = indent
				stack = []*frame{{indent: indent, t: d.Root, named: true}}
			}
			continue
		}
		indent -= baseIndent
		if indent < 0 {
			// Less indented than the document: not ours. A new
			// document at the base level ends this one.
			continue
		}
		// Close frames deeper than this line, unless the line opens a
		// new one or belongs to the same (not yet named) frame.
		switch {
		case reVersion.MatchString(text):
			if indent == 0 && len(stack) == 1 && len(d.Root.Subtests) > 0 {
				done = true // a second document starts
				continue
			}
			if indent > top().indent {
				f := &frame{indent: indent, t: &Test{Plan: -1}}
				if pendingName != "" && pendingIndent == indent {
					f.t.Name, f.named = pendingName, true
					pendingName = ""
				}
				stack = append(stack, f)
			}
		case reSubtest.MatchString(text):
			name := reSubtest.FindStringSubmatch(text)[1]
			if indent > top().indent {
				stack = append(stack, &frame{indent: indent, t: &Test{Name: name, Plan: -1}, named: true})
			} else if indent == top().indent && len(stack) > 1 && !top().named {
				top().t.Name, top().named = name, true
			} else {
				pendingName, pendingIndent = name, indent
			}
		case rePlan.MatchString(text):
			n, _ := strconv.Atoi(rePlan.FindStringSubmatch(text)[1])
			if indent > top().indent {
				stack = append(stack, &frame{indent: indent, t: &Test{Plan: -1}})
			}
			top().t.Plan = n
		case reResult.MatchString(text):
			m := reResult.FindStringSubmatch(text)
			var child *frame
			for len(stack) > 1 && top().indent > indent {
				child = top()
				stack = stack[:len(stack)-1]
				finish(d, child)
			}
			parent := top()
			t := &Test{Name: strings.TrimSpace(m[3]), Plan: -1}
			if child != nil {
				t = child.t
				if t.Name == "" || !child.named {
					t.Name = strings.TrimSpace(m[3])
				}
				t.Diagnostics = append(t.Diagnostics, child.pending...)
			}
			t.Number, _ = strconv.Atoi(m[2])
			t.Status = Pass
			if m[1] == "not ok" {
				t.Status = Fail
			}
			if dir := strings.TrimSpace(m[4]); dir != "" {
				word, rest, _ := strings.Cut(dir, " ")
				switch strings.ToUpper(word) {
				case "SKIP":
					t.Directive, t.Reason, t.Status = "SKIP", strings.TrimSpace(rest), Skip
				case "TODO":
					t.Directive, t.Reason = "TODO", strings.TrimSpace(rest)
					if t.Status == Fail {
						t.Status = Todo
					}
				}
			}
			t.Diagnostics = append(parent.pending, t.Diagnostics...)
			parent.pending = nil
			if want := len(parent.t.Subtests) + 1; t.Number != 0 && t.Number != want {
				d.Errors = append(d.Errors, fmt.Sprintf("%s: test %q has number %d, expected %d", path(stack), t.Name, t.Number, want))
			}
			if t.Status == Pass && hasFailure(t) {
				t.Status = Fail
				t.Diagnostics = append(t.Diagnostics, "ktap: reported ok but a subtest failed or is missing")
			}
			parent.t.Subtests = append(parent.t.Subtests, t)
		case strings.HasPrefix(text, "#"):
			f := top()
			for i := len(stack) - 1; i > 0 && stack[i].indent > indent; i-- {
				f = stack[i-1]
			}
			f.pending = append(f.pending, strings.TrimSpace(strings.TrimPrefix(text, "#")))
		default:
			// Anything else (stray user-space output) is ignored.
		}
	}
	if err := sc.Err(); err != nil {
		return d, fmt.Errorf("ktap: reading console output: %w", err)
	}
	if !d.Found {
		return d, nil
	}
	// Frames still open: the run was cut short.
	for len(stack) > 1 {
		f := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		finish(d, f)
		t := f.t
		t.Status = Fail
		t.Diagnostics = append(t.Diagnostics, f.pending...)
		t.Diagnostics = append(t.Diagnostics, "ktap: no result line (the run was cut short)")
		d.Errors = append(d.Errors, fmt.Sprintf("subtest %q has no result line: output ends inside it", t.Name))
		top().t.Subtests = append(top().t.Subtests, t)
	}
	d.Root.Diagnostics = append(d.Root.Diagnostics, stack[0].pending...)
	finish(d, stack[0])
	return d, nil
}

// maxPlaceholders bounds the "not reported" entries of one plan.
const maxPlaceholders = 1024

// finish checks a frame's plan and adds Missing placeholders for tests
// the plan announced but that never reported.
func finish(d *Document, f *frame) {
	t := f.t
	if t.Plan < 0 || len(t.Subtests) >= t.Plan {
		if t.Plan >= 0 && len(t.Subtests) > t.Plan {
			d.Errors = append(d.Errors, fmt.Sprintf("%s: plan says %d tests, %d reported", nameOr(t), t.Plan, len(t.Subtests)))
		}
		return
	}
	d.Errors = append(d.Errors, fmt.Sprintf("%s: plan says %d tests, only %d reported", nameOr(t), t.Plan, len(t.Subtests)))
	// One placeholder per missing test, up to maxPlaceholders; the rest
	// are folded into one, so that a plan of two billion costs no more
	// memory than its line.
	last := min(t.Plan, len(t.Subtests)+maxPlaceholders)
	for i := len(t.Subtests) + 1; i <= last; i++ {
		t.Subtests = append(t.Subtests, &Test{Name: fmt.Sprintf("#%d (not reported)", i), Number: i, Status: Missing, Plan: -1})
	}
	if last < t.Plan {
		t.Subtests = append(t.Subtests, &Test{Name: fmt.Sprintf("#%d to #%d (%d tests not reported)", last+1, t.Plan, t.Plan-last),
			Number: last + 1, Status: Missing, Plan: -1})
	}
}

func hasFailure(t *Test) bool {
	for _, s := range t.Subtests {
		if s.Status == Fail || s.Status == Missing {
			return true
		}
	}
	return false
}

func nameOr(t *Test) string {
	if t.Name == "" {
		return "top level"
	}
	return "suite " + strconv.Quote(t.Name)
}

func path(stack []*frame) string {
	var p []string
	for _, f := range stack[1:] {
		p = append(p, f.t.Name)
	}
	if len(p) == 0 {
		return "top level"
	}
	return strings.Join(p, ".")
}

// StripKlog removes kernel log text from a console line: a whole line
// that starts with a printk timestamp becomes empty, and a timestamped
// message glued to the end of a KTAP line is cut off.
func StripKlog(line string) string {
	// A kernel log line as printk writes it to the console with
	// CONFIG_PRINTK_TIME, or with a caller id: "[    1.234567] ..." or
	// "[    1.234567][    T1] ...".
	if printk.StampLen(strings.TrimLeft(line, " \t")) > 0 {
		return ""
	}
	i, _ := printk.IndexStamp(line, 0, true)
	if i < 0 {
		return line
	}
	if strings.TrimSpace(line[:i]) == "" {
		return ""
	}
	return line[:i]
}

// Walk calls fn for every test in the document, depth first, with the
// names of the enclosing suites.
func (d *Document) Walk(fn func(suites []string, t *Test)) {
	var walk func(prefix []string, t *Test)
	walk = func(prefix []string, t *Test) {
		fn(prefix, t)
		for _, s := range t.Subtests {
			walk(append(prefix[:len(prefix):len(prefix)], t.Name), s)
		}
	}
	if d.Root == nil {
		return
	}
	for _, s := range d.Root.Subtests {
		walk(nil, s)
	}
}
