package ci

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/jstemmer/go-junit-report/v2/junit"

	"github.com/kdefer/kdefer/internal/ktap"
	"github.com/kdefer/kdefer/internal/lines"
	"github.com/kdefer/kdefer/internal/lint"
)

// cell is one entry of the patch × check table.
type cell struct {
	status string // pass, fail, warn, not run, -
	detail string
}

// columns of the summary table.
func (r *Result) columns() []string {
	cols := []string{"apply"}
	cols = append(cols, lint.Checks...)
	for _, c := range r.Configs {
		cols = append(cols, "build:"+c.Name)
	}
	return cols
}

// cell returns the outcome of check col for patch i (1-based).
func (r *Result) cell(col string, i int) cell {
	switch {
	case col == "apply":
		if r.Applied == nil {
			return cell{NotRun, r.Stage(StageApply).Detail}
		}
		if e := r.Applied[i-1]; e != "" {
			if strings.HasPrefix(e, "not run: ") {
				return cell{NotRun, strings.TrimPrefix(e, "not run: ")}
			}
			return cell{Fail, e}
		}
		return cell{Pass, ""}
	case strings.HasPrefix(col, "build:"):
		if r.Build == nil {
			return cell{NotRun, r.Stage(StageBuild).Detail}
		}
		st := r.Build.At(strings.TrimPrefix(col, "build:"), i)
		if st == nil {
			return cell{NotRun, "no result"}
		}
		switch st.Status {
		case "ok":
			return cell{Pass, ""}
		case "error", "warning":
			return cell{Fail, st.Message}
		}
		return cell{NotRun, st.Message}
	default:
		if r.Lint == nil {
			return cell{NotRun, r.Stage(StageLint).Detail}
		}
		st := r.Lint.Status(col, i)
		var msgs []string
		for _, f := range r.Lint.Findings {
			if f.Check == col && f.Patch == i {
				msgs = append(msgs, f.String())
			}
		}
		for _, n := range r.Lint.NotRun {
			if n.Check == col && (n.Patch == i || n.Patch == 0) {
				msgs = append(msgs, "not run: "+n.Reason)
			}
		}
		return cell{st, strings.Join(msgs, "\n")}
	}
}

// WriteSummary writes the human summary: stages, the patch × check table,
// the problems in detail.
func (r *Result) WriteSummary(w io.Writer) {
	fmt.Fprintf(w, "kcheck ci: %s", r.Tree)
	if r.Base != "" {
		fmt.Fprintf(w, " (base %.12s)", r.Base)
	}
	fmt.Fprintln(w)
	for _, s := range r.Stages {
		fmt.Fprintf(w, "  %-11s %-8s %s", s.Name, s.Status, s.Detail)
		if s.Duration > 0 {
			fmt.Fprintf(w, " [%s]", s.Duration.Round(time.Second))
		}
		fmt.Fprintln(w)
	}
	if r.Series != nil {
		cols := r.columns()
		const width = 38
		fmt.Fprintf(w, "\n%-*s", width, "patch")
		for _, c := range cols {
			fmt.Fprintf(w, " %-10s", c)
		}
		fmt.Fprintln(w)
		var details []string
		for _, p := range r.Series.Patches {
			label := p.Label(len(r.Series.Patches))
			if len([]rune(label)) > width {
				label = string([]rune(label)[:width-1]) + "…"
			}
			fmt.Fprintf(w, "%-*s", width, label)
			for _, c := range cols {
				x := r.cell(c, p.Index)
				fmt.Fprintf(w, " %-10s", x.status)
				if x.status != Pass && x.detail != "" && !(x.status == NotRun && r.Stage(stageOf(c)).Status == NotRun) {
					details = append(details, fmt.Sprintf("%02d %s: %s", p.Index, c, strings.ReplaceAll(x.detail, "\n", "\n     ")))
				}
			}
			fmt.Fprintln(w)
		}
		if len(details) > 0 {
			fmt.Fprintln(w, "\nDetails:")
			for _, d := range details {
				fmt.Fprintf(w, "  %s\n", d)
			}
		}
	}
	if r.Boot != nil && r.Boot.Report != nil {
		fmt.Fprintln(w, "\nBoot:")
		r.Boot.Report.Human(w)
	}
	verdict := map[int]string{0: "PASS", 1: "FAIL", 2: "INCOMPLETE (something did not run)"}[r.ExitCode()]
	fmt.Fprintf(w, "\nkcheck ci: %s in %s\n", verdict, r.Elapsed.Round(time.Second))
}

func stageOf(col string) string {
	switch {
	case col == "apply":
		return StageApply
	case strings.HasPrefix(col, "build:"):
		return StageBuild
	}
	return StageLint
}

// ---- KCIDB ----

// KCIDB I/O schema v5 objects (the fields kcheck fills).
type kcidb struct {
	Version   kcidbVersion    `json:"version"`
	Checkouts []kcidbCheckout `json:"checkouts"`
	Builds    []kcidbBuild    `json:"builds"`
	Tests     []kcidbTest     `json:"tests"`
}

type kcidbVersion struct {
	Major int `json:"major"`
	Minor int `json:"minor"`
}

type kcidbResource struct {
	Name string `json:"name"`
	URL  string `json:"url"`
}

type kcidbCheckout struct {
	ID            string          `json:"id"`
	Origin        string          `json:"origin"`
	TreeName      string          `json:"tree_name,omitempty"`
	GitCommitHash string          `json:"git_commit_hash,omitempty"`
	PatchsetFiles []kcidbResource `json:"patchset_files,omitempty"`
	PatchsetHash  string          `json:"patchset_hash"`
	Comment       string          `json:"comment,omitempty"`
	StartTime     string          `json:"start_time,omitempty"`
	LogExcerpt    string          `json:"log_excerpt,omitempty"`
	Valid         *bool           `json:"valid,omitempty"`
	Misc          map[string]any  `json:"misc,omitempty"`
}

type kcidbBuild struct {
	ID           string         `json:"id"`
	CheckoutID   string         `json:"checkout_id"`
	Origin       string         `json:"origin"`
	Comment      string         `json:"comment,omitempty"`
	StartTime    string         `json:"start_time,omitempty"`
	Duration     *float64       `json:"duration,omitempty"`
	Architecture string         `json:"architecture,omitempty"`
	Compiler     string         `json:"compiler,omitempty"`
	ConfigName   string         `json:"config_name,omitempty"`
	LogExcerpt   string         `json:"log_excerpt,omitempty"`
	Status       string         `json:"status,omitempty"`
	Misc         map[string]any `json:"misc,omitempty"`
}

type kcidbTest struct {
	ID         string         `json:"id"`
	BuildID    string         `json:"build_id"`
	Origin     string         `json:"origin"`
	Path       string         `json:"path"`
	Comment    string         `json:"comment,omitempty"`
	StartTime  string         `json:"start_time,omitempty"`
	Duration   *float64       `json:"duration,omitempty"`
	LogExcerpt string         `json:"log_excerpt,omitempty"`
	Status     string         `json:"status"`
	Misc       map[string]any `json:"misc,omitempty"`
}

// Origin is the KCIDB origin of kcheck's reports.
const Origin = "kdefer"

func kstatus(s string) string {
	switch s {
	case Pass, "warn":
		return "PASS"
	case Fail:
		return "FAIL"
	case Error:
		return "ERROR"
	}
	return "MISS"
}

func excerpt(s string) string {
	if len(s) > 16000 {
		return s[:16000]
	}
	return s
}

func secs(d time.Duration) *float64 { f := d.Seconds(); return &f }

// patchsetHash is KCIDB's hash: sha256 over the newline-terminated sha256
// hex digests of the patch files, in order.
func patchsetHash(files []string) string {
	if len(files) == 0 {
		return ""
	}
	var b strings.Builder
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		s := sha256.Sum256(data)
		b.WriteString(hex.EncodeToString(s[:]) + "\n")
	}
	s := sha256.Sum256([]byte(b.String()))
	return hex.EncodeToString(s[:])
}

func compiler() string {
	out, err := exec.Command("gcc", "--version").Output()
	if err != nil {
		return "gcc"
	}
	return lines.First(string(out))
}

// KCIDBDoc is the document KCIDB writes, as a consumer reads it back:
// the schema version and the checkouts, builds and tests, each a JSON
// object keyed by KCIDB's field names.
type KCIDBDoc struct {
	Version struct {
		Major int `json:"major"`
		Minor int `json:"minor"`
	} `json:"version"`
	Checkouts []map[string]any `json:"checkouts"`
	Builds    []map[string]any `json:"builds"`
	Tests     []map[string]any `json:"tests"`
}

// KCIDB returns the run as a KCIDB v5 document: one checkout per patch
// prefix (base + patches 1..i), the build --each builds of each checkout
// (on and off), the lint checks as tests of the "on" build of their
// patch, and the boot self-tests as tests of the boot build.
func (r *Result) KCIDB() ([]byte, error) {
	doc := kcidb{Version: kcidbVersion{5, 3}, Checkouts: []kcidbCheckout{}, Builds: []kcidbBuild{}, Tests: []kcidbTest{}}
	ts := r.Start.UTC().Format(time.RFC3339)
	if r.Series == nil {
		return json.MarshalIndent(doc, "", "  ")
	}
	n := len(r.Series.Patches)
	checkoutID := make([]string, n+1)
	var files []string
	for i := 0; i <= n; i++ {
		if i > 0 {
			files = append(files, r.Series.Patches[i-1].Path)
		}
		ph := patchsetHash(files)
		id := fmt.Sprintf("%s:%.12s-%02d", Origin, r.Base, i)
		if ph != "" {
			id = fmt.Sprintf("%s:%.12s-%.16s", Origin, r.Base, ph)
		}
		checkoutID[i] = id
		c := kcidbCheckout{ID: id, Origin: Origin, TreeName: r.TreeName, GitCommitHash: r.Base, PatchsetHash: ph, StartTime: ts,
			Misc: map[string]any{"patches_applied": i, "series_length": n}}
		for _, f := range files {
			abs, _ := filepath.Abs(f)
			c.PatchsetFiles = append(c.PatchsetFiles, kcidbResource{Name: filepath.Base(f), URL: "file://" + abs})
		}
		if i > 0 {
			c.Comment = r.Series.Patches[i-1].Subject
		}
		if r.Applied != nil {
			valid := true
			for j := 0; j < i; j++ {
				if r.Applied[j] != "" {
					valid = false
					c.LogExcerpt = excerpt(r.Applied[j])
				}
			}
			c.Valid = &valid
		}
		doc.Checkouts = append(doc.Checkouts, c)
	}
	comp := compiler()
	buildID := func(config string, i int) string { return fmt.Sprintf("%s-build-%s", checkoutID[i], config) }
	for _, cfg := range r.Configs {
		for i := 0; i <= n; i++ {
			b := kcidbBuild{ID: buildID(cfg.Name, i), CheckoutID: checkoutID[i], Origin: Origin, StartTime: ts,
				Architecture: cfg.Arch, Compiler: comp, ConfigName: "tinyconfig+" + strings.Join(cfg.Extra, "+") + " (" + cfg.Name + ")",
				Comment: cfg.What, Misc: map[string]any{"patch": i, "config": cfg.Name, "w1": true}}
			if r.Build == nil {
				b.Status = "MISS"
				b.LogExcerpt = "not run: " + r.Stage(StageBuild).Detail
			} else if st := r.Build.At(cfg.Name, i); st == nil {
				b.Status = "MISS"
			} else {
				b.Duration = secs(st.Duration)
				b.Misc["compiled"] = st.Compiled
				switch st.Status {
				case "ok":
					b.Status = "PASS"
				case "error", "warning":
					b.Status = "FAIL"
					b.LogExcerpt = excerpt(st.Message)
				default:
					b.Status = "MISS"
					b.LogExcerpt = excerpt(st.Message)
				}
			}
			doc.Builds = append(doc.Builds, b)
		}
	}
	// Lint: tests of the first configuration's build at each patch.
	first := "on"
	if len(r.Configs) > 0 {
		first = r.Configs[0].Name
	}
	for i := 1; i <= n; i++ {
		for _, check := range lint.Checks {
			c := r.cell(check, i)
			doc.Tests = append(doc.Tests, kcidbTest{ID: fmt.Sprintf("%s-lint-%s", checkoutID[i], check), BuildID: buildID(first, i),
				Origin: Origin, Path: "lint." + strings.ReplaceAll(check, "-", "_"), StartTime: ts, Status: kstatus(c.status),
				LogExcerpt: excerpt(c.detail), Comment: r.Series.Patches[i-1].Subject, Misc: map[string]any{"patch": i}})
		}
	}
	// Boot: the whole series, its own build (Kconfig.frag).
	bootBuild := fmt.Sprintf("%s-build-boot", checkoutID[n])
	bb := kcidbBuild{ID: bootBuild, CheckoutID: checkoutID[n], Origin: Origin, StartTime: ts, Architecture: "x86_64",
		Compiler: comp, ConfigName: "tinyconfig+Kconfig.frag", Comment: "kcheck boot build"}
	bootStage := r.Stage(StageBoot)
	if r.Boot != nil && r.Boot.Build != nil {
		bb.Status = "PASS"
		bb.Duration = secs(r.Boot.Build.Duration)
	} else {
		bb.Status = "MISS"
		bb.LogExcerpt = excerpt(bootStage.Status + ": " + bootStage.Detail)
	}
	doc.Builds = append(doc.Builds, bb)
	bt := kcidbTest{ID: bootBuild + "-boot", BuildID: bootBuild, Origin: Origin, Path: "boot", StartTime: ts,
		Status: kstatus(bootStage.Status), LogExcerpt: excerpt(bootStage.Detail)}
	if bootStage.Duration > 0 {
		bt.Duration = secs(bootStage.Duration)
	}
	doc.Tests = append(doc.Tests, bt)
	if r.Boot != nil && r.Boot.Report != nil && r.Boot.Report.KTAP != nil && r.Boot.Report.KTAP.Found {
		r.Boot.Report.KTAP.Walk(func(suites []string, t *ktap.Test) {
			path := "boot"
			for _, s := range append(append([]string(nil), suites...), t.Name) {
				path += "." + pathSeg(s)
			}
			st := map[ktap.Status]string{ktap.Pass: "PASS", ktap.Fail: "FAIL", ktap.Skip: "SKIP", ktap.Todo: "DONE", ktap.Missing: "MISS"}[t.Status]
			doc.Tests = append(doc.Tests, kcidbTest{ID: bootBuild + "-" + strings.ReplaceAll(path, ".", "-"), BuildID: bootBuild,
				Origin: Origin, Path: path, StartTime: ts, Status: st, LogExcerpt: excerpt(strings.Join(t.Diagnostics, "\n")), Comment: t.Reason})
		})
	}
	return json.MarshalIndent(doc, "", "  ")
}

// pathSeg makes a KCIDB test path segment ([a-zA-Z0-9_-]+).
func pathSeg(s string) string {
	var b strings.Builder
	for _, c := range s {
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' {
			b.WriteRune(c)
		} else {
			b.WriteByte('_')
		}
	}
	if b.Len() == 0 {
		return "_"
	}
	return b.String()
}

// ---- JUnit ----

func jcase(class, name, status, detail string, d time.Duration) junit.Testcase {
	c := junit.Testcase{Name: name, Classname: class, Time: fmt.Sprintf("%.3f", d.Seconds())}
	switch status {
	case Pass, "warn":
		if detail != "" {
			c.SystemOut = &junit.Output{Data: detail}
		}
	case Fail:
		c.Failure = &junit.Result{Message: lines.First(detail), Type: class, Data: detail}
	case Error:
		c.Error = &junit.Result{Message: lines.First(detail), Type: class, Data: detail}
	default:
		c.Skipped = &junit.Result{Message: "not run: " + lines.First(detail)}
	}
	return c
}

// JUnit returns the run as JUnit XML: a suite per stage, a case per
// patch for the per-patch checks, and the boot's suites (as kcheck boot
// writes them, named boot.*).
func (r *Result) JUnit() ([]byte, error) {
	doc := junit.Testsuites{Name: "kcheck ci", Time: fmt.Sprintf("%.3f", r.Elapsed.Seconds())}
	add := func(s junit.Testsuite) {
		if s.Time == "" {
			s.Time = "0.000"
		}
		s.ID = len(doc.Suites)
		doc.AddSuite(s)
	}
	stages := junit.Testsuite{Name: "ci.stages"}
	for _, s := range r.Stages {
		stages.AddTestcase(jcase("ci.stages", s.Name, s.Status, s.Detail, s.Duration))
	}
	add(stages)
	if r.Series != nil {
		for _, col := range r.columns() {
			class := "ci." + col
			s := junit.Testsuite{Name: class}
			for _, p := range r.Series.Patches {
				c := r.cell(col, p.Index)
				s.AddTestcase(jcase(class, p.Label(len(r.Series.Patches)), c.status, c.detail, 0))
			}
			add(s)
		}
	}
	if r.Boot != nil && r.Boot.Report != nil {
		for _, s := range r.Boot.Report.JUnitSuites("boot.").Suites {
			add(s)
		}
	}
	var b bytes.Buffer
	b.WriteString(xml.Header)
	if err := doc.WriteXML(&b); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
