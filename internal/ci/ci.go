// Package ci runs the whole maintainer CI job on a kernel tree: probe →
// render → apply → lint → build --each → boot, and reports it as one
// summary table (patch × check), a KernelCI KCIDB-shaped JSON document
// and a JUnit XML file.
//
// Every stage that does not run is reported as "not run: <reason>" (and
// makes the exit code 2 unless something failed), never as passed. The
// tree given is never modified: the series is applied in a private
// scratch clone (see workspace.OpenScratch).
package ci

import (
	"context"
	"fmt"
	"io/fs"
	"path/filepath"
	"time"

	"github.com/kdefer/kdefer/internal/lines"
	"github.com/kdefer/kdefer/templates"

	"github.com/kdefer/kdefer/internal/boot"
	"github.com/kdefer/kdefer/internal/lint"
	"github.com/kdefer/kdefer/internal/render"
	"github.com/kdefer/kdefer/internal/stepbuild"
	"github.com/kdefer/kdefer/internal/workspace"
)

// Stage statuses.
const (
	Pass   = "pass"
	Fail   = "fail"
	NotRun = "not run"
	Error  = "error" // the harness failed in this stage
)

// Stage names, in order.
const (
	StageProbe  = "probe"
	StageRender = "render"
	StageApply  = "apply"
	StageLint   = "lint"
	StageBuild  = "build-each"
	StageBoot   = "boot"
)

// Stage is the outcome of one stage.
type Stage struct {
	Name     string
	Status   string
	Detail   string // what it found, or why it did not run
	Start    time.Time
	Duration time.Duration
}

// Options of a run.
type Options struct {
	Tree string // a git kernel tree (its HEAD is the base)
	// Base is the commit the series applies to; "" finds it (HEAD, or
	// below the series when kgen apply committed it).
	Base     string
	TreeName string // e.g. "debian-6.12.117" (KCIDB tree_name)
	// Templates renders the series (nil: the embedded templates), unless
	// Patches names a directory of format-patch files to use instead.
	Templates fs.FS
	Patches   string
	Quick     bool // skip build --each
	NoBoot    bool // skip the boot
	Full      bool // build --each builds vmlinux after every patch
	Configs   []stepbuild.Config
	// Upstream is a Linux 7.x tree for lint's uapi comparison ("": not
	// compared).
	Upstream string
	// Boot runs kcheck boot on the tree with the series applied; nil is
	// boot.Run (tests substitute a fake).
	Boot     func(ctx context.Context, o boot.Options) (*boot.Result, error)
	Progress func(format string, args ...any)
}

// Result of a run.
type Result struct {
	Tree     string
	TreeName string
	Base     string // commit id of the base
	Start    time.Time
	Elapsed  time.Duration
	Stages   []Stage
	Series   *workspace.Series
	Render   *render.Result
	Applied  []string // per patch: "" applied, else the error
	Lint     *lint.Result
	Build    *stepbuild.Result
	Configs  []stepbuild.Config
	Boot     *boot.Result
}

// Stage returns the named stage (zero value if absent).
func (r *Result) Stage(name string) Stage {
	for _, s := range r.Stages {
		if s.Name == name {
			return s
		}
	}
	return Stage{Name: name, Status: NotRun, Detail: "not reached"}
}

// ExitCode is 0 when every stage passed, 1 when one failed, 2 when none
// failed but one did not run or the harness failed.
func (r *Result) ExitCode() int {
	code := 0
	for _, s := range r.Stages {
		switch s.Status {
		case Fail:
			return 1
		case NotRun, Error:
			code = 2
		}
	}
	return code
}

// Run runs the CI job.
func Run(ctx context.Context, opt Options) (*Result, error) {
	if opt.Progress == nil {
		opt.Progress = func(string, ...any) {}
	}
	if opt.Boot == nil {
		opt.Boot = boot.Run
	}
	if opt.Configs == nil {
		opt.Configs = stepbuild.DefaultConfigs()
	}
	if opt.Templates == nil {
		opt.Templates = templates.FS
	}
	r := &Result{Tree: opt.Tree, TreeName: opt.TreeName, Start: time.Now(), Configs: opt.Configs}
	defer func() { r.Elapsed = time.Since(r.Start) }()
	work := workspace.WorkDir(opt.Tree)
	stage := func(name string, f func() (status, detail string)) Stage {
		opt.Progress("ci: %s", name)
		st := Stage{Name: name, Start: time.Now()}
		st.Status, st.Detail = f()
		st.Duration = time.Since(st.Start)
		r.Stages = append(r.Stages, st)
		opt.Progress("ci: %s: %s %s", name, st.Status, st.Detail)
		return st
	}
	notRun := func(names []string, why string) {
		for _, n := range names {
			r.Stages = append(r.Stages, Stage{Name: n, Status: NotRun, Detail: why, Start: time.Now()})
		}
	}
	rest := []string{StageApply, StageLint, StageBuild, StageBoot}
	base := opt.Base
	if base == "" && opt.Patches == "" {
		b, applied, err := workspace.FindBase(ctx, opt.Tree, opt.Templates)
		if err != nil {
			return nil, err
		}
		if applied > 0 {
			opt.Progress("ci: %s carries %d patches of the series: checking the series on %.12s below them", opt.Tree, applied, b)
			base = b
		}
	}

	// probe + render
	if opt.Patches != "" {
		r.Stages = append(r.Stages,
			Stage{Name: StageProbe, Status: NotRun, Detail: "--patches given: the series was not rendered", Start: time.Now()},
			Stage{Name: StageRender, Status: NotRun, Detail: "--patches given: using " + opt.Patches, Start: time.Now()})
		s, err := workspace.ReadSeries(opt.Patches)
		if err != nil {
			return nil, err
		}
		r.Series = s
	} else {
		var res *render.Result
		var renderErr error
		outDir := filepath.Join(work, "patches")
		st := stage(StageRender, func() (string, string) {
			s, rr, err := workspace.RenderAt(ctx, opt.Tree, base, opt.Templates, outDir)
			if err != nil {
				renderErr = err
				return Fail, err.Error()
			}
			r.Series, res = s, rr
			d := fmt.Sprintf("%d patches in %s", len(s.Patches), outDir)
			if len(rr.Skipped) > 0 {
				d += fmt.Sprintf(", %d already present", len(rr.Skipped))
			}
			return Pass, d
		})
		// The probes ran as part of rendering; report them as their own stage.
		probe := Stage{Name: StageProbe, Start: st.Start}
		if res != nil {
			r.Render = res
			probe.Status, probe.Detail = Pass, fmt.Sprintf("Linux %s, %d probes answered", res.Probes.Version, len(res.Probes.Probes))
		} else {
			probe.Status, probe.Detail = Fail, "see render: "+lines.First(renderErr.Error())
		}
		r.Stages = append([]Stage{probe}, r.Stages...)
		if st.Status != Pass {
			notRun(rest, "the series did not render")
			return r, nil
		}
	}

	sc, err := workspace.OpenScratchAt(ctx, opt.Tree, base, filepath.Join(work, "src"))
	if err != nil {
		return nil, err
	}
	defer sc.Close()
	r.Base = sc.Base

	// apply
	st := stage(StageApply, func() (string, string) {
		defer sc.Reset(context.WithoutCancel(ctx))
		r.Applied = make([]string, len(r.Series.Patches))
		if opt.Patches == "" {
			// A rendered series goes on the scratch tree the way kgen
			// apply puts it on a user's tree: the same code, the same
			// transaction; every later stage checks out its commits.
			if err := sc.CommitSeries(ctx, opt.Templates, r.Series); err != nil {
				for j := range r.Applied {
					r.Applied[j] = "not run: the series was not committed"
				}
				return Fail, "kgen apply's path failed on the scratch tree: " + lines.First(err.Error())
			}
			return Pass, fmt.Sprintf("%d patches committed on %.12s by kgen apply's path (internal/apply)", len(r.Series.Patches), sc.Base)
		}
		for i, p := range r.Series.Patches {
			if err := sc.Apply(ctx, p.Path); err != nil {
				r.Applied[i] = err.Error()
				for j := i + 1; j < len(r.Applied); j++ {
					r.Applied[j] = "not run: an earlier patch does not apply"
				}
				return Fail, fmt.Sprintf("patch %d does not apply: %s", p.Index, lines.First(err.Error()))
			}
		}
		return Pass, fmt.Sprintf("%d patches apply on %.12s", len(r.Series.Patches), sc.Base)
	})
	if st.Status != Pass {
		notRun(rest[1:], "the series does not apply")
		return r, nil
	}

	// lint
	stage(StageLint, func() (string, string) {
		lr, err := lint.Run(ctx, r.Series, lint.Options{Tree: opt.Tree, Scratch: sc, APIBuild: filepath.Join(work, "build-api"),
			ConfigOff: []string{"UNWIND_USER"}, Upstream: opt.Upstream, Progress: opt.Progress})
		if err != nil {
			return Error, err.Error()
		}
		r.Lint = lr
		fails := 0
		for _, f := range lr.Findings {
			if f.Fails() {
				fails++
			}
		}
		switch {
		case fails > 0:
			return Fail, fmt.Sprintf("%d findings", fails)
		case len(lr.NotRun) > 0:
			return NotRun, fmt.Sprintf("%d checks could not run (first: %s: %s)", len(lr.NotRun), lr.NotRun[0].Check, lines.First(lr.NotRun[0].Reason))
		}
		return Pass, fmt.Sprintf("%d patches clean (%s)", len(r.Series.Patches), lr.Timing())
	})
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	// build --each
	if opt.Quick {
		notRun([]string{StageBuild}, "--quick")
	} else {
		stage(StageBuild, func() (string, string) {
			br, err := stepbuild.Run(ctx, r.Series, stepbuild.Options{Scratch: sc, Configs: opt.Configs, Full: opt.Full, Progress: opt.Progress})
			if err != nil {
				return Error, err.Error()
			}
			r.Build = br
			if len(br.Breaks) > 0 {
				b := br.Breaks[0]
				return Fail, fmt.Sprintf("[%s] patch %d: %s: %s", b.Config, b.Patch, b.Kind, lines.First(b.Message))
			}
			return Pass, fmt.Sprintf("%d patches x %d configurations in %s", len(r.Series.Patches), len(opt.Configs), br.Elapsed.Round(time.Second))
		})
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	// boot
	if opt.NoBoot {
		notRun([]string{StageBoot}, "--no-boot")
		return r, nil
	}
	stage(StageBoot, func() (string, string) {
		defer sc.Reset(context.WithoutCancel(ctx))
		for _, p := range r.Series.Patches {
			if err := sc.Apply(ctx, p.Path); err != nil {
				return Error, err.Error()
			}
		}
		br, err := opt.Boot(ctx, boot.Options{Tree: sc.Dir, OutDir: filepath.Join(work, "boot"), Progress: opt.Progress})
		if br != nil {
			r.Boot = br
		}
		if br == nil || br.Report == nil {
			if err == nil {
				err = fmt.Errorf("boot returned no report")
			}
			return Error, err.Error()
		}
		rep := br.Report
		detail := rep.Verdict
		if rep.KTAP != nil && rep.KTAP.Found {
			c := rep.KTAP.Counts()
			detail = fmt.Sprintf("%d passed, %d failed, %d skipped", c.Pass, c.Fail, c.Skip)
			if c.Missing > 0 {
				detail += fmt.Sprintf(", %d never reported", c.Missing)
			}
		}
		if len(rep.Problems) > 0 {
			detail += ": " + rep.Problems[0]
		}
		switch rep.ExitCode() {
		case 0:
			return Pass, detail
		case 1:
			return Fail, detail
		}
		return Error, detail
	})
	return r, nil
}
