// Package lint runs the per-patch static checks of a series and gathers
// their findings in one model:
//
//   - checkpatch: the tree's own scripts/checkpatch.pl on every patch file
//     (its MAINTAINERS warning is tolerated when an earlier patch's
//     MAINTAINERS entry covers the new files);
//   - indent: lines a patch adds to a function body in a .c or .h file
//     that start in column 1, which checkpatch.pl does not report (see
//     internal/cindent);
//   - kernel-doc: the tree's scripts/kernel-doc -none on the files the
//     series adds, at every patch that changes them;
//   - commit: commit metadata (see internal/commitcheck);
//   - capi: C API consistency with cc/v4 (see internal/capi) of the headers
//     and units the series adds, with the Kconfig options the series
//     defines on and off, at every patch that changes them.
//
// A finding that persists across patches (a kernel-doc warning, an API
// disagreement) is reported once, at the first patch that shows it. When
// checkpatch and the metadata check report the same problem (a missing
// Signed-off-by), it is one finding. A check that could not run is
// reported as "not run: <reason>", never as passed.
package lint

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/kdefer/kdefer/internal/formatpatch"
	"github.com/kdefer/kdefer/internal/lines"
	"github.com/kdefer/kdefer/internal/workspace"

	"github.com/kdefer/kdefer/internal/capi"
	"github.com/kdefer/kdefer/internal/checkpatch"
	"github.com/kdefer/kdefer/internal/cindent"
	"github.com/kdefer/kdefer/internal/commitcheck"
	"github.com/kdefer/kdefer/internal/kerneldoc"
)

// The checks, in report order.
const (
	CheckCommit     = "commit"
	CheckCheckpatch = "checkpatch"
	CheckIndent     = "indent"
	CheckKernelDoc  = "kernel-doc"
	CheckAPI        = "capi"
)

// Checks lists the check names in report order.
var Checks = []string{CheckCommit, CheckCheckpatch, CheckIndent, CheckKernelDoc, CheckAPI, CheckUAPI}

// stepChecks are the checks that look at the files in the scratch tree
// after each patch.
var stepChecks = []string{CheckIndent, CheckKernelDoc, CheckAPI, CheckUAPI}

// Finding is one problem in one patch.
type Finding struct {
	Patch   int    // 1-based patch index; 0 = the series (cover letter)
	Check   string // one of Checks
	Level   string // ERROR, WARNING or CHECK
	Type    string // checkpatch type, commit rule, capi kind, "kernel-doc"
	Message string
	File    string
	Line    int
	// Tolerated findings are shown but do not fail the run.
	Tolerated bool
	Reason    string
	Also      string // the other check that reported the same problem
	key       string
}

// Fails reports whether f fails the run: every untolerated ERROR or
// WARNING (CHECK findings, from --strict, are advice).
func (f Finding) Fails() bool { return !f.Tolerated && (f.Level == "ERROR" || f.Level == "WARNING") }

// NotRun is a check (for one patch, or for the series when Patch is 0)
// that did not run, and why.
type NotRun struct {
	Check  string
	Patch  int
	Reason string
}

// Result of a lint run.
type Result struct {
	Series   *workspace.Series
	Findings []Finding
	NotRun   []NotRun
	Elapsed  map[string]time.Duration // per check
	// APICompared counts the declaration pairs capi compared.
	APICompared int
	// UAPICompared counts the uapi fields compared with upstream.
	UAPICompared int
	// APIUnchecked lists the functions capi could not compare (a
	// prototype without a stub, a stub that is a macro), first patch
	// that shows each.
	APIUnchecked []string
}

// Failed reports whether any finding fails the run.
func (r *Result) Failed() bool {
	for _, f := range r.Findings {
		if f.Fails() {
			return true
		}
	}
	return false
}

// Status is the outcome of one check for one patch: "pass", "fail",
// "warn" (tolerated or CHECK-level findings only) or "not run".
func (r *Result) Status(check string, patch int) string {
	for _, n := range r.NotRun {
		if n.Check == check && (n.Patch == patch || n.Patch == 0) {
			return "not run"
		}
	}
	st := "pass"
	for _, f := range r.Findings {
		if f.Check != check || f.Patch != patch {
			continue
		}
		if f.Fails() {
			return "fail"
		}
		st = "warn"
	}
	return st
}

// Options configure Run.
type Options struct {
	// Tree is the kernel tree the series applies to (its HEAD is the
	// base). Its scripts/checkpatch.pl and scripts/kernel-doc are used.
	Tree string
	// Scratch is the private work tree (see OpenScratch); needed for the
	// capi and kernel-doc checks.
	Scratch *workspace.Scratch
	// APIBuild is the out-of-tree build directory for capi
	// preprocessing (configured on first use).
	APIBuild string
	// ConfigOff adds Kconfig options to the ones the series defines,
	// for the capi off view.
	ConfigOff []string
	// Upstream is a Linux 7.x tree for the uapi check ("": the check is
	// reported as not compared; kcheck passes the newest cached one,
	// kerneltree.Newest).
	Upstream string
	Strict   bool     // checkpatch --strict
	Skip     []string // checks not to run (reported as not run: skipped)
	Progress func(format string, args ...any)
}

// Run lints series s.
func Run(ctx context.Context, s *workspace.Series, opt Options) (*Result, error) {
	if opt.Progress == nil {
		opt.Progress = func(string, ...any) {}
	}
	r := &Result{Series: s, Elapsed: map[string]time.Duration{}}
	skip := map[string]bool{}
	for _, c := range opt.Skip {
		skip[c] = true
	}
	timed := func(check string, f func() error) error {
		if skip[check] {
			r.NotRun = append(r.NotRun, NotRun{Check: check, Reason: "skipped on request"})
			return nil
		}
		t := time.Now()
		err := f()
		r.Elapsed[check] += time.Since(t)
		return err
	}
	if err := timed(CheckCommit, func() error { return r.commit(s) }); err != nil {
		return nil, err
	}
	if err := timed(CheckCheckpatch, func() error { return r.checkpatch(ctx, s, opt) }); err != nil {
		return nil, err
	}
	if opt.Scratch == nil {
		for _, c := range stepChecks {
			if !skip[c] {
				r.NotRun = append(r.NotRun, NotRun{Check: c, Reason: "no scratch tree to apply the series in"})
			}
		}
	} else if !(skip[CheckIndent] && skip[CheckKernelDoc] && skip[CheckAPI] && skip[CheckUAPI]) {
		if err := r.steps(ctx, s, opt, skip); err != nil {
			return nil, err
		}
	} else {
		for _, c := range stepChecks {
			timed(c, func() error { return nil })
		}
	}
	r.merge()
	return r, nil
}

// commit runs the metadata checks.
func (r *Result) commit(s *workspace.Series) error {
	var mails []*formatpatch.Mail
	index := map[string]int{}
	if s.Cover != "" {
		m, err := formatpatch.ReadMail(s.Cover)
		if err != nil {
			return err
		}
		mails = append(mails, m)
	}
	for _, p := range s.Patches {
		m, err := formatpatch.ReadMail(p.Path)
		if err != nil {
			return err
		}
		mails = append(mails, m)
		index[m.File] = p.Index
	}
	for _, f := range commitcheck.CheckSeries(mails) {
		file := ""
		if f.Line > 0 {
			file = f.Patch
		}
		r.Findings = append(r.Findings, Finding{Patch: index[f.Patch], Check: CheckCommit, Level: string(f.Level),
			Type: f.Rule, Message: f.Message, File: file, Line: f.Line})
	}
	return nil
}

// checkpatch runs the tree's checkpatch.pl on every patch, two at a time.
func (r *Result) checkpatch(ctx context.Context, s *workspace.Series, opt Options) error {
	opt.Progress("lint: checkpatch.pl on %d patches", len(s.Patches))
	res := make([][]checkpatch.Finding, len(s.Patches))
	errs := make([]error, len(s.Patches))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 2)
	for i, p := range s.Patches {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			res[i], errs[i] = checkpatch.Run(ctx, opt.Tree, p.Path, checkpatch.Options{Strict: opt.Strict})
		}()
	}
	wg.Wait()
	var all []checkpatch.Finding
	var paths []string
	for i, p := range s.Patches {
		paths = append(paths, p.Path)
		if errs[i] != nil {
			r.NotRun = append(r.NotRun, NotRun{Check: CheckCheckpatch, Patch: p.Index, Reason: errs[i].Error()})
			continue
		}
		all = append(all, res[i]...)
	}
	if err := checkpatch.Tolerate(paths, all); err != nil {
		return err
	}
	idx := map[string]int{}
	for _, p := range s.Patches {
		idx[p.Path] = p.Index
	}
	for _, f := range all {
		r.Findings = append(r.Findings, Finding{Patch: idx[f.Patch], Check: CheckCheckpatch, Level: string(f.Level),
			Type: f.Type, Message: f.Message, File: f.File, Line: f.Line, Tolerated: f.Tolerated, Reason: f.Reason})
	}
	return nil
}

// steps applies the series patch by patch in the scratch tree and runs
// kernel-doc and capi where a patch changes a file the series adds.
func (r *Result) steps(ctx context.Context, s *workspace.Series, opt Options, skip map[string]bool) error {
	sc := opt.Scratch
	if err := sc.Reset(ctx); err != nil {
		return err
	}
	defer sc.Reset(context.WithoutCancel(ctx))
	added := map[string]bool{} // files the series adds, so far
	var options []string
	for _, o := range opt.ConfigOff {
		options = append(options, strings.TrimPrefix(o, "CONFIG_"))
	}
	for _, p := range s.Patches {
		options = append(options, p.Options...)
	}
	seen := map[string]bool{} // finding keys already reported
	apiCache := capi.NewCache()
	uapiAt := lastTouch(s)
	for _, p := range s.Patches {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := sc.Apply(ctx, p.Path); err != nil {
			for _, c := range stepChecks {
				if !skip[c] {
					r.NotRun = append(r.NotRun, NotRun{Check: c, Patch: p.Index, Reason: err.Error()})
				}
			}
			for _, q := range s.Patches[p.Index:] {
				for _, c := range stepChecks {
					if !skip[c] {
						r.NotRun = append(r.NotRun, NotRun{Check: c, Patch: q.Index, Reason: "an earlier patch does not apply"})
					}
				}
			}
			return nil
		}
		for _, f := range p.Added {
			added[f] = true
		}
		for _, f := range p.Deleted {
			delete(added, f)
		}
		var docFiles, hdrs []string
		apiChanged := false
		for _, f := range p.Touches() {
			if !added[f] {
				continue
			}
			switch filepath.Ext(f) {
			case ".h":
				docFiles = append(docFiles, f)
				hdrs = append(hdrs, f)
				apiChanged = true
			case ".c":
				docFiles = append(docFiles, f)
				apiChanged = true
			}
		}
		if !skip[CheckIndent] {
			t := time.Now()
			r.indent(sc.Dir, p)
			r.Elapsed[CheckIndent] += time.Since(t)
		}
		for _, h := range uapiHeaders {
			if !skip[CheckUAPI] && uapiAt[h] == p.Index {
				t := time.Now()
				r.uapi(sc.Dir, h, p.Index, opt)
				r.Elapsed[CheckUAPI] += time.Since(t)
			}
		}
		if !skip[CheckKernelDoc] && len(docFiles) > 0 {
			t := time.Now()
			ws, err := kerneldoc.Run(ctx, sc.Dir, docFiles, kerneldoc.Options{})
			r.Elapsed[CheckKernelDoc] += time.Since(t)
			if err != nil {
				r.NotRun = append(r.NotRun, NotRun{Check: CheckKernelDoc, Patch: p.Index, Reason: err.Error()})
			}
			for _, w := range ws {
				k := "kdoc " + w.File + " " + w.Message
				if seen[k] {
					continue
				}
				seen[k] = true
				r.Findings = append(r.Findings, Finding{Patch: p.Index, Check: CheckKernelDoc, Level: "WARNING",
					Type: "kernel-doc", Message: w.Message, File: w.File, Line: w.Line})
			}
		}
		if !skip[CheckAPI] && apiChanged {
			var units []string
			for f := range added {
				if filepath.Ext(f) == ".c" {
					units = append(units, f)
				}
			}
			sort.Strings(units)
			opt.Progress("lint: capi at patch %d/%d: %d headers, %d units", p.Index, len(s.Patches), len(hdrs), len(units))
			t := time.Now()
			rep, err := capi.Check(ctx, capi.Options{Tree: sc.Dir, Build: opt.APIBuild, ConfigOff: options, Cache: apiCache}, append(hdrs, units...))
			r.Elapsed[CheckAPI] += time.Since(t)
			if rep != nil {
				r.APICompared += rep.Compared
			}
			if err != nil {
				r.NotRun = append(r.NotRun, NotRun{Check: CheckAPI, Patch: p.Index, Reason: err.Error()})
				continue
			}
			for _, f := range rep.Findings {
				k := "capi " + f.Key
				if seen[k] {
					continue
				}
				seen[k] = true
				r.Findings = append(r.Findings, Finding{Patch: p.Index, Check: CheckAPI, Level: string(f.Level),
					Type: f.Kind, Message: f.Message, File: f.File, Line: f.Line})
			}
			for _, u := range rep.Unchecked {
				if !u.Fatal {
					name, _, _ := strings.Cut(u.What, " ")
					if k := "capi-unchecked " + name + " " + u.Reason; !seen[k] {
						seen[k] = true
						r.APIUnchecked = append(r.APIUnchecked, fmt.Sprintf("patch %d: %s: %s", p.Index, u.What, u.Reason))
					}
					continue
				}
				r.NotRun = append(r.NotRun, NotRun{Check: CheckAPI, Patch: p.Index, Reason: u.What + ": " + lines.First(u.Reason)})
			}
		}
	}
	return nil
}

// indent reports the lines p adds to function bodies of C files that
// start in column 1, reading the files as they are after p in dir.
func (r *Result) indent(dir string, p *workspace.Patch) {
	files := make([]string, 0, len(p.AddedLines))
	for f := range p.AddedLines {
		if ext := filepath.Ext(f); ext == ".c" || ext == ".h" {
			files = append(files, f)
		}
	}
	sort.Strings(files)
	for _, f := range files {
		src, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			r.NotRun = append(r.NotRun, NotRun{Check: CheckIndent, Patch: p.Index, Reason: err.Error()})
			continue
		}
		for _, fd := range cindent.Check(src) {
			if p.AddedLines[f][fd.Line] {
				r.Findings = append(r.Findings, Finding{Patch: p.Index, Check: CheckIndent, Level: "ERROR",
					Type: "column-1", Message: fd.Message(), File: f, Line: fd.Line})
			}
		}
	}
}

// merge folds the checkpatch findings that repeat a metadata finding of
// the same patch into it, and sorts.
func (r *Result) merge() {
	same := map[string]string{ // checkpatch type -> commit rule
		"MISSING_SIGN_OFF":     commitcheck.RuleSignoff,
		"NO_AUTHOR_SIGN_OFF":   commitcheck.RuleAuthorSignoff,
		"COMMIT_LOG_LONG_LINE": commitcheck.RuleBodyWrap,
	}
	have := map[string]int{}
	for i, f := range r.Findings {
		if f.Check == CheckCommit {
			have[fmt.Sprint(f.Patch, f.Type)] = i
		}
	}
	var out []Finding
	for _, f := range r.Findings {
		if f.Check == CheckCheckpatch {
			rule := same[f.Type]
			if f.Type == "BAD_SIGN_OFF" && strings.Contains(f.Message, "Duplicate") {
				rule = commitcheck.RuleDuplicateTrailer
			}
			if i, ok := have[fmt.Sprint(f.Patch, rule)]; ok && rule != "" {
				r.Findings[i].Also = "checkpatch " + f.Type
				continue
			}
		}
		out = append(out, f)
	}
	for i := range out {
		if j, ok := have[fmt.Sprint(out[i].Patch, out[i].Type)]; ok && out[i].Check == CheckCommit {
			out[i].Also = r.Findings[j].Also
		}
	}
	order := map[string]int{}
	for i, c := range Checks {
		order[c] = i
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Patch != b.Patch {
			return a.Patch < b.Patch
		}
		return order[a.Check] < order[b.Check]
	})
	r.Findings = out
}
