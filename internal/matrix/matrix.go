// Package matrix runs the CI job (internal/ci) on several kernel bases and
// reports one table, base × stage: fetch → probe → render → apply → lint →
// build-each → boot. A base whose kernel already carries the series
// upstream is reported with every patch and the probe evidence that says
// so; a base the series does not support, with what it lacks; an anchor
// that stops matching, with the patch, file, anchor and the nearest
// candidate lines. Results are written as JSON (which Join reads back, so
// that one runner per base can do the work and the results be joined),
// JUnit XML and a small static HTML page.
package matrix

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"time"

	"github.com/kdefer/kdefer/internal/ci"
	"github.com/kdefer/kdefer/internal/edit"
	"github.com/kdefer/kdefer/internal/kerneltree"
	"github.com/kdefer/kdefer/internal/lines"
	"github.com/kdefer/kdefer/internal/render"
)

// Statuses beyond ci's pass, fail, not run and error.
const (
	// Upstream: the base's kernel has what the stage would add (every
	// patch skipped by its probe); nothing to apply, build or boot.
	Upstream = "upstream"
	// Unsupported: the series refuses the base (a requires: does not
	// hold), naming what it lacks.
	Unsupported = "unsupported"
)

// StageFetch gets the base's tree (kgen tree get VERSION --git).
const StageFetch = "fetch"

// Stages are the matrix columns, in order.
var Stages = []string{StageFetch, ci.StageProbe, ci.StageRender, ci.StageApply, ci.StageLint, ci.StageBuild, ci.StageBoot}

// Cell is one stage on one base.
type Cell struct {
	Status   string  `json:"status"`
	Detail   string  `json:"detail,omitempty"`
	Seconds  float64 `json:"seconds,omitempty"`
	Stage    string  `json:"stage"`
	Complete string  `json:"complete,omitempty"` // the full text when Detail is its first line
}

// Anchor is an anchored edit that no longer matches on a base.
type Anchor struct {
	Patch      string   `json:"patch"`
	File       string   `json:"file"`
	Edit       int      `json:"edit"`
	Anchor     string   `json:"anchor"`
	What       string   `json:"what"`
	Candidates []string `json:"candidates"` // "LINE: text"
}

// Row is one base.
type Row struct {
	Base     string           `json:"base"`    // as asked: "6.12.95", "7.3"
	Release  string           `json:"release"` // what the tree is: "6.12.95"
	Tree     string           `json:"tree,omitempty"`
	Cells    []Cell           `json:"cells"`
	Upstream []render.Skipped `json:"upstream,omitempty"`
	Anchors  []Anchor         `json:"anchors,omitempty"` // every anchor that stopped matching (the first per file)
	Seconds  float64          `json:"seconds"`
}

// Cell returns the cell of stage (a "not run" one when absent).
func (r *Row) Cell(stage string) Cell {
	for _, c := range r.Cells {
		if c.Stage == stage {
			return c
		}
	}
	return Cell{Stage: stage, Status: ci.NotRun, Detail: "not reached"}
}

// Matrix is the result of a run (or of several joined).
type Matrix struct {
	Start   time.Time `json:"start"`
	Seconds float64   `json:"seconds"`
	Options string    `json:"options,omitempty"` // e.g. "--quick --no-boot"
	Rows    []Row     `json:"rows"`
}

// ExitCode is 0 when every base passed (or has the series upstream), 1 when
// a stage failed, 2 when none failed but one could not run.
func (m *Matrix) ExitCode() int {
	code := 0
	for _, r := range m.Rows {
		for _, c := range r.Cells {
			switch c.Status {
			case ci.Fail:
				return 1
			case ci.NotRun, ci.Error, Unsupported:
				code = 2
			}
		}
	}
	return code
}

// Options of a run.
type Options struct {
	Bases     []string // versions for kerneltree.Get: "6.12.95", "7.3", ...
	Templates fs.FS
	Quick     bool // skip build --each
	NoBoot    bool // skip the boot
	Full      bool
	Progress  func(format string, args ...any)
	// Done, when set, is called after each base with the matrix so far
	// (kcheck matrix --out writes its files then, so that an interrupted
	// run keeps the bases it finished).
	Done func(*Matrix)
	// Get and CI default to kerneltree.Get and ci.Run (tests may
	// substitute them).
	Get func(ctx context.Context, o kerneltree.Options) (string, error)
	CI  func(ctx context.Context, o ci.Options) (*ci.Result, error)
}

// Run runs the job on every base, one after the other.
func Run(ctx context.Context, o Options) (*Matrix, error) {
	if o.Progress == nil {
		o.Progress = func(string, ...any) {}
	}
	if o.Get == nil {
		o.Get = kerneltree.Get
	}
	if o.CI == nil {
		o.CI = ci.Run
	}
	m := &Matrix{Start: time.Now()}
	var flags []string
	if o.Quick {
		flags = append(flags, "--quick")
	}
	if o.NoBoot {
		flags = append(flags, "--no-boot")
	}
	m.Options = strings.Join(flags, " ")
	for _, b := range o.Bases {
		o.Progress("matrix: base %s", b)
		row, err := runBase(ctx, o, b)
		if err != nil {
			return nil, err
		}
		m.Rows = append(m.Rows, row)
		m.Seconds = time.Since(m.Start).Seconds()
		if o.Done != nil {
			o.Done(m)
		}
	}
	m.Seconds = time.Since(m.Start).Seconds()
	return m, nil
}

// runBase's results are named so that the deferred timing reaches the
// row it returns.
func runBase(ctx context.Context, o Options, base string) (row Row, err error) {
	start := time.Now()
	row = Row{Base: base}
	defer func() { row.Seconds = time.Since(start).Seconds() }()
	add := func(stage, status, detail string, d time.Duration) {
		c := Cell{Stage: stage, Status: status, Detail: lines.First(detail), Seconds: d.Seconds()}
		if c.Detail != strings.TrimSpace(detail) {
			c.Complete = detail
		}
		row.Cells = append(row.Cells, c)
	}
	rest := func(from int, status, why string) {
		for _, s := range Stages[from:] {
			add(s, status, why, 0)
		}
	}
	t0 := time.Now()
	tree, err := o.Get(ctx, kerneltree.Options{Version: base, Git: true, Progress: o.Progress})
	if err != nil {
		if ctx.Err() != nil {
			return row, ctx.Err()
		}
		add(StageFetch, ci.Error, err.Error(), time.Since(t0))
		rest(1, ci.NotRun, "no tree")
		return row, nil
	}
	row.Tree, row.Release = tree, filepath.Base(tree)
	add(StageFetch, ci.Pass, "Linux "+row.Release+" in "+tree, time.Since(t0))

	// Decide what the base is before running the job: supported,
	// upstream, or an anchor that does not match.
	t0 = time.Now()
	res, err := render.Render(ctx, render.Options{Templates: o.Templates, Tree: tree})
	d := time.Since(t0)
	var ue *render.UnsupportedError
	var ae render.AnchorErrors
	var ee *edit.Error
	switch {
	case errors.As(err, &ue):
		add(ci.StageProbe, ci.Pass, fmt.Sprintf("Linux %s", ue.Version), d)
		add(ci.StageRender, Unsupported, err.Error(), 0)
		rest(3, ci.NotRun, "the series does not support this base")
		return row, nil
	case errors.As(err, &ae) || errors.As(err, &ee):
		if ae == nil {
			ae = render.AnchorErrors{ee}
		}
		for _, e := range ae {
			row.Anchors = append(row.Anchors, anchorOf(e))
		}
		add(ci.StageProbe, ci.Pass, "", d)
		add(ci.StageRender, ci.Fail, err.Error(), 0)
		rest(3, ci.NotRun, "the series did not render")
		return row, nil
	case err != nil:
		if ctx.Err() != nil {
			return row, ctx.Err()
		}
		add(ci.StageProbe, ci.Error, err.Error(), d)
		rest(2, ci.NotRun, "probe/render failed")
		return row, nil
	case len(res.Patches) == 0:
		row.Upstream = res.Skipped
		add(ci.StageProbe, ci.Pass, fmt.Sprintf("Linux %s, %d probes answered", res.Probes.Version, len(res.Probes.Probes)), d)
		add(ci.StageRender, Upstream, fmt.Sprintf("all %d patches already upstream (each with its probe's evidence)", len(res.Skipped)), 0)
		rest(3, Upstream, "nothing to apply: the series is upstream")
		return row, nil
	}

	// On a base that already has part of the series (Linux 7.x: the
	// infrastructure and perf patches), those are listed with the probe
	// that found each, as for a base that has all of it.
	row.Upstream = res.Skipped
	r, err := o.CI(ctx, ci.Options{Tree: tree, TreeName: "debian-" + row.Release, Templates: o.Templates,
		Quick: o.Quick, NoBoot: o.NoBoot, Full: o.Full, Upstream: kerneltree.Newest("", "7."), Progress: o.Progress})
	if err != nil {
		if ctx.Err() != nil {
			return row, ctx.Err()
		}
		rest(1, ci.Error, err.Error())
		return row, nil
	}
	for _, s := range Stages[1:] {
		st := r.Stage(s)
		add(s, st.Status, st.Detail, st.Duration)
	}
	return row, nil
}

func anchorOf(e *edit.Error) Anchor {
	a := Anchor{Patch: e.Patch, File: e.File, Edit: e.Index, Anchor: strings.TrimRight(e.Anchor, "\n"), What: e.What}
	for _, c := range e.Candidates {
		a.Candidates = append(a.Candidates, fmt.Sprintf("%d: %s", c.Line, c.Text))
	}
	return a
}
