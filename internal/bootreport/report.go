// Package bootreport turns the results of a kcheck boot run (the KTAP
// document, the splats found on the console, how the guest ended) into
// a verdict and the outputs users read: a human summary, JSON, JUnit
// XML and the raw KTAP text.
package bootreport

import (
	"bufio"
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/jstemmer/go-junit-report/v2/junit"

	"github.com/kdefer/kdefer/internal/ktap"
	"github.com/kdefer/kdefer/internal/splat"
)

// Verdicts.
const (
	Pass  = "pass"  // exit 0
	Fail  = "fail"  // exit 1: a test failed, a splat, a panic or a hang
	Error = "error" // exit 2: the harness could not run
)

// Report is the result of one run.
type Report struct {
	Tree   string `json:"tree,omitempty"`
	Kernel string `json:"kernel,omitempty"`
	Accel  string `json:"accel,omitempty"`
	// AccelWhy says why Accel ran the tests; AccelRefused why the other
	// accelerator did not (internal/accel).
	AccelWhy     string `json:"accel_reason,omitempty"`
	AccelRefused string `json:"accel_refused,omitempty"`
	// Outcome is how the guest ended (internal/qemu): poweroff and
	// reboot (a restart without a panic; QEMU runs with -no-reboot) are
	// clean ends, panic, timeout and died are failures.
	Outcome    string          `json:"outcome,omitempty"`
	ConsoleLog string          `json:"console_log,omitempty"`
	Build      time.Duration   `json:"build_ns,omitempty"`
	Boot       time.Duration   `json:"boot_ns,omitempty"`
	KTAP       *ktap.Document  `json:"ktap,omitempty"`
	Splats     []splat.Finding `json:"splats"`
	Notes      []string        `json:"notes,omitempty"` // informational (series missing, KVM fallback ...)
	// Problems are set by Decide: why the verdict is not pass.
	Problems []string `json:"problems,omitempty"`
	Verdict  string   `json:"verdict"`
	// HarnessError, when set, makes the verdict Error.
	HarnessError string `json:"harness_error,omitempty"`
	// Killed says why kcheck ended the guest (internal/qemu Result.Killed).
	Killed string `json:"killed,omitempty"`
	// ConsoleTail is the end of the console for timeouts and crashes.
	ConsoleTail string `json:"console_tail,omitempty"`
}

// Decide computes Verdict and Problems from the other fields.
func (r *Report) Decide() {
	r.Problems = nil
	if r.HarnessError != "" {
		r.Verdict = Error
		r.Problems = append(r.Problems, r.HarnessError)
		return
	}
	switch r.Outcome {
	case "timeout":
		p := "the guest did not finish in time (hang): killed after the timeout"
		if r.Killed != "" {
			p += ": " + r.Killed
		}
		r.Problems = append(r.Problems, p)
	case "panic":
		r.Problems = append(r.Problems, "the kernel panicked")
	case "died":
		r.Problems = append(r.Problems, "QEMU stopped without the guest shutting down (no power-off or restart message)")
	}
	if r.KTAP == nil || !r.KTAP.Found {
		r.Problems = append(r.Problems, "no KTAP output on the console: the self-tests did not run")
	} else {
		c := r.KTAP.Counts()
		if c.Fail > 0 {
			r.Problems = append(r.Problems, fmt.Sprintf("%d test(s) failed", c.Fail))
		}
		if c.Missing > 0 {
			r.Problems = append(r.Problems, fmt.Sprintf("%d test(s) never reported", c.Missing))
		}
		for _, e := range r.KTAP.Errors {
			r.Problems = append(r.Problems, "KTAP: "+e)
		}
	}
	if n := len(r.Splats); n > 0 {
		r.Problems = append(r.Problems, fmt.Sprintf("%d kernel splat(s) on the console", n))
	}
	if len(r.Problems) == 0 {
		r.Verdict = Pass
	} else {
		r.Verdict = Fail
	}
}

// ExitCode maps the verdict: 0 pass, 1 fail, 2 error.
func (r *Report) ExitCode() int {
	switch r.Verdict {
	case Pass:
		return 0
	case Fail:
		return 1
	}
	return 2
}

// Human writes the summary a person reads after kcheck boot.
func (r *Report) Human(w io.Writer) {
	bw := bufio.NewWriter(w)
	defer bw.Flush()
	if r.KTAP != nil && r.KTAP.Found {
		r.KTAP.Walk(func(suites []string, t *ktap.Test) {
			indent := strings.Repeat("  ", len(suites))
			mark := map[ktap.Status]string{ktap.Pass: "PASS", ktap.Fail: "FAIL", ktap.Skip: "SKIP", ktap.Todo: "TODO", ktap.Missing: "MISS"}[t.Status]
			line := fmt.Sprintf("%s[%s] %s", indent, mark, t.Name)
			if t.Reason != "" {
				line += " (" + t.Reason + ")"
			}
			fmt.Fprintln(bw, line)
			if t.Status == ktap.Fail || t.Status == ktap.Missing {
				for _, d := range t.Diagnostics {
					fmt.Fprintf(bw, "%s    # %s\n", indent, d)
				}
			}
		})
		c := r.KTAP.Counts()
		fmt.Fprintf(bw, "\ntests: %d passed, %d failed, %d skipped", c.Pass, c.Fail, c.Skip)
		if c.Todo > 0 {
			fmt.Fprintf(bw, ", %d todo", c.Todo)
		}
		if c.Missing > 0 {
			fmt.Fprintf(bw, ", %d never reported", c.Missing)
		}
		fmt.Fprintln(bw)
	}
	for i, s := range r.Splats {
		fmt.Fprintf(bw, "\nsplat %d/%d: %s: %s (console line %d", i+1, len(r.Splats), s.Kind, s.Title, s.Line)
		if s.Count > 1 {
			fmt.Fprintf(bw, ", seen %d times", s.Count)
		}
		fmt.Fprintln(bw, ")")
		for _, l := range s.Lines {
			fmt.Fprintf(bw, "  | %s\n", l)
		}
	}
	if r.ConsoleTail != "" && r.Verdict != Pass {
		fmt.Fprintf(bw, "\nlast console lines:\n")
		for _, l := range strings.Split(r.ConsoleTail, "\n") {
			fmt.Fprintf(bw, "  | %s\n", l)
		}
	}
	for _, n := range r.Notes {
		fmt.Fprintf(bw, "note: %s\n", n)
	}
	if r.Accel != "" {
		fmt.Fprintln(bw, r.AccelLine())
		fmt.Fprintf(bw, "boot: %s, %s in %s", r.Accel, r.Outcome, r.Boot.Round(100*time.Millisecond))
		if r.Build > 0 {
			fmt.Fprintf(bw, " (build %s)", r.Build.Round(100*time.Millisecond))
		}
		fmt.Fprintln(bw)
	}
	if r.ConsoleLog != "" {
		fmt.Fprintf(bw, "console log: %s\n", r.ConsoleLog)
	}
	fmt.Fprintf(bw, "verdict: %s", strings.ToUpper(r.Verdict))
	if len(r.Problems) > 0 {
		fmt.Fprintf(bw, ": %s", strings.Join(r.Problems, "; "))
	}
	fmt.Fprintln(bw)
}

// AccelLine says which accelerator ran the tests and why the other one
// did not.
func (r *Report) AccelLine() string {
	s := fmt.Sprintf("accelerator: %s (%s)", r.Accel, r.AccelWhy)
	if r.AccelRefused != "" {
		other := "kvm"
		if r.Accel == "kvm" {
			other = "tcg"
		}
		s += fmt.Sprintf("; %s not used: %s", other, r.AccelRefused)
	}
	return s
}

// JSON writes the report as indented JSON.
func (r *Report) JSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// JUnit writes the report as JUnit XML (see JUnitSuites).
func (r *Report) JUnit(w io.Writer) error {
	doc := r.JUnitSuites("")
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	return doc.WriteXML(w)
}

// JUnitSuites returns the report as JUnit test suites, in the model of
// go-junit-report (the shape Jenkins, GitLab and GitHub reporters read):
// a "boot" suite for how the guest ended (its output names the
// accelerator), one suite per KTAP suite (nested suites flattened with
// dotted names) holding its leaf cases, and a "console" suite with one
// failing case per splat. prefix is put before every suite name (kcheck
// ci nests the boot's suites as "boot.*").
func (r *Report) JUnitSuites(prefix string) junit.Testsuites {
	top := junit.Testsuites{Name: "kcheck boot", Time: seconds(r.Build + r.Boot)}
	add := func(s junit.Testsuite) {
		s.Name = prefix + s.Name
		if s.Time == "" {
			s.Time = "0.000"
		}
		s.ID = len(top.Suites)
		top.AddSuite(s)
	}
	boot := junit.Testsuite{Name: "boot", Time: seconds(r.Boot)}
	bc := junit.Testcase{Name: "guest_runs_to_poweroff", Classname: "boot", Time: seconds(r.Boot)}
	switch {
	case r.HarnessError != "":
		bc.Error = &junit.Result{Message: "harness error", Type: "harness", Data: r.HarnessError}
	case r.Outcome != "" && r.Outcome != "poweroff" && r.Outcome != "reboot":
		bc.Failure = &junit.Result{Message: "guest ended with " + r.Outcome, Type: r.Outcome, Data: r.ConsoleTail}
	}
	if r.Accel != "" {
		bc.SystemOut = &junit.Output{Data: r.AccelLine()}
		boot.AddProperty("accelerator", r.Accel)
	}
	boot.AddTestcase(bc)
	add(boot)

	if r.KTAP != nil && r.KTAP.Found {
		var walk func(prefix string, t *ktap.Test) []junit.Testcase
		walk = func(prefix string, t *ktap.Test) []junit.Testcase {
			var cases []junit.Testcase
			for _, s := range t.Subtests {
				if len(s.Subtests) > 0 {
					name := s.Name
					if prefix != "" {
						name = prefix + "." + s.Name
					}
					suite := junit.Testsuite{Name: name}
					for _, c := range walk(name, s) {
						suite.AddTestcase(c)
					}
					add(suite)
					continue
				}
				cases = append(cases, leafCase(prefix, s))
			}
			return cases
		}
		if loose := walk("", r.KTAP.Root); len(loose) > 0 {
			suite := junit.Testsuite{Name: "ktap"}
			for _, c := range loose {
				suite.AddTestcase(c)
			}
			add(suite)
		}
	} else if r.HarnessError == "" {
		suite := junit.Testsuite{Name: "ktap"}
		suite.AddTestcase(junit.Testcase{Name: "ktap_output", Classname: "ktap", Time: "0.000",
			Failure: &junit.Result{Message: "no KTAP output on the console", Type: "missing"}})
		add(suite)
	}

	console := junit.Testsuite{Name: "console"}
	if len(r.Splats) == 0 {
		console.AddTestcase(junit.Testcase{Name: "no_splat", Classname: "console", Time: "0.000"})
	}
	for i, s := range r.Splats {
		console.AddTestcase(junit.Testcase{
			Name: fmt.Sprintf("splat_%d_%s", i+1, s.Kind), Classname: "console", Time: "0.000",
			Failure: &junit.Result{Message: s.Title, Type: s.Kind, Data: strings.Join(s.Lines, "\n")},
		})
	}
	add(console)
	return top
}

func seconds(d time.Duration) string { return fmt.Sprintf("%.3f", d.Seconds()) }

func leafCase(class string, t *ktap.Test) junit.Testcase {
	if class == "" {
		class = "ktap"
	}
	c := junit.Testcase{Name: t.Name, Classname: class, Time: "0.000"}
	diag := strings.Join(t.Diagnostics, "\n")
	switch t.Status {
	case ktap.Fail:
		msg := "not ok"
		if len(t.Diagnostics) > 0 {
			msg = t.Diagnostics[0]
		}
		c.Failure = &junit.Result{Message: msg, Type: "fail", Data: diag}
	case ktap.Missing:
		c.Failure = &junit.Result{Message: "never reported (the run was cut short)", Type: "missing"}
	case ktap.Skip:
		c.Skipped = &junit.Result{Message: t.Reason}
	default:
		if diag != "" {
			c.SystemOut = &junit.Output{Data: diag}
		}
	}
	return c
}

// RawKTAP extracts the KTAP document from a console log: from its
// version line on, without kernel log lines (a kernel message glued to
// the end of a KTAP line is cut off).
func RawKTAP(console []byte) []byte {
	var out bytes.Buffer
	sc := bufio.NewScanner(bytes.NewReader(console))
	sc.Buffer(make([]byte, 64*1024), 4*1024*1024)
	started := false
	for sc.Scan() {
		l := ktap.StripKlog(strings.TrimRight(sc.Text(), "\r"))
		if !started {
			t := strings.TrimSpace(l)
			if strings.HasPrefix(t, "KTAP version") || strings.HasPrefix(t, "TAP version") {
				started = true
			} else {
				continue
			}
		}
		if strings.TrimSpace(l) == "" {
			continue
		}
		out.WriteString(l + "\n")
	}
	return out.Bytes()
}
