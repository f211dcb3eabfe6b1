package render

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strings"
	"text/template"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/kdefer/kdefer/internal/edit"
	"github.com/kdefer/kdefer/internal/formatpatch"
	"github.com/kdefer/kdefer/internal/gitobj"
	"github.com/kdefer/kdefer/internal/probe"
	"github.com/kdefer/kdefer/internal/series"
)

// Context is what templates see as "." (see templates/FORMAT.md).
type Context struct {
	Step  int    // 0 = base tree
	Patch string // name of the patch of this step ("" at step 0)
	Tree  *TreeContext
	// Maintainer is the series' maintainer (series.yaml maintainer:),
	// "Name <email>", for the MAINTAINERS entry. It is fixed by the
	// templates, not by who renders, so file contents never depend on
	// the renderer's identity.
	Maintainer string

	at    map[string]bool
	known map[string]bool
}

// At reports whether patch name is applied at the current step.
func (c *Context) At(name string) (bool, error) {
	if !c.known[name] {
		return false, fmt.Errorf("At %q: no such patch in series.yaml", name)
	}
	return c.at[name], nil
}

// Before is the negation of At.
func (c *Context) Before(name string) (bool, error) {
	v, err := c.At(name)
	return !v, err
}

// TreeContext gives templates the probed tree.
type TreeContext struct {
	Version                string
	Major, Minor, Sublevel int
	probes                 *probe.Results
}

// Has is a boolean probe result.
func (t *TreeContext) Has(name string) (bool, error) { return t.probes.Has(name) }

// Value is a choice probe result.
func (t *TreeContext) Value(name string) (string, error) { return t.probes.Value(name) }

// NothingToDo is returned by the CLI layer when every patch is skipped;
// Render itself returns a Result with no Patches in that case.

type renderer struct {
	s       *series.Series
	src     treeSource
	probes  *probe.Results
	tctx    *TreeContext
	active  []*series.Patch // rendered patches in order
	skipped map[string]bool
	known   map[string]bool
}

func (rd *renderer) ctx(step int) *Context {
	c := &Context{Step: step, Tree: rd.tctx, Maintainer: rd.s.Maintainer.String(), at: map[string]bool{}, known: rd.known}
	for n := range rd.skipped {
		c.at[n] = true
	}
	for i := 0; i < step; i++ {
		c.at[rd.active[i].Name] = true
	}
	if step > 0 {
		c.Patch = rd.active[step-1].Name
	}
	return c
}

func (rd *renderer) patchAt(step int) string {
	if step == 0 {
		return "(base)"
	}
	return rd.active[step-1].Name
}

func execTemplate(t *template.Template, c *Context) (string, error) {
	var b bytes.Buffer
	if err := t.Execute(&b, c); err != nil {
		return "", err
	}
	return b.String(), nil
}

// fileStates is the content of one path at steps 0..N (nil = absent).
type fileStates struct {
	path   string
	mode   filemode.FileMode
	states [][]byte
	hash0  plumbing.Hash
}

// Hook, when set, is called at named points of a rendering (kgen's
// end-to-end tests use it to interrupt one while it runs).
var Hook func(point string)

func render(ctx context.Context, opts Options) (*Result, error) {
	if opts.Templates == nil {
		return nil, errors.New("render: no templates")
	}
	s, err := series.Load(opts.Templates)
	if err != nil {
		return nil, err
	}
	repo, base, err := openBase(opts.Tree, opts.Base, opts.Objects)
	if err != nil {
		if errors.Is(err, ErrNotGit) {
			// A plain tree that already carries the whole series needs
			// no base commit: say so instead of refusing.
			if res := allSkipped(s, opts.Tree); res != nil {
				return res, nil
			}
		}
		return nil, err
	}
	baseTree, err := base.Tree()
	if err != nil {
		return nil, fmt.Errorf("%s: tree of %s: %w", opts.Tree, base.Hash, err)
	}
	src := treeSource{tree: baseTree, s: repo}
	pr, err := probe.Run(opts.Tree, src, s.Probes)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", opts.Tree, err)
	}
	plan, err := NewPlan(s, pr)
	if err != nil {
		return nil, err
	}
	if err := plan.Supported(opts.Tree); err != nil {
		return nil, err
	}
	rd := &renderer{s: s, src: src, probes: pr, skipped: map[string]bool{}, known: map[string]bool{}, active: plan.Active}
	rd.tctx = &TreeContext{Version: pr.Version.String(), Major: pr.Version.Major, Minor: pr.Version.Minor, Sublevel: pr.Version.Sublevel, probes: pr}
	ident := opts.Identity
	if ident.IsZero() {
		ident = s.Maintainer
	}
	if ident.IsZero() {
		// Templates whose every patch has an author: of its own (and
		// its own sign-off chain) render without one; nobody signs off.
		for _, p := range plan.Active {
			if p.Author == "" {
				return nil, fmt.Errorf("no identity for patch %s (%s): it has no author:, series.yaml has no maintainer:, and none was given (kgen takes git config user.name/user.email)", p.Name, p.Source)
			}
		}
		if s.Cover.Author == "" {
			return nil, errors.New("no identity for the cover letter: series.yaml has neither cover.author: nor maintainer:, and none was given")
		}
	}
	res := &Result{Probes: *pr, Base: base.Hash, BaseTree: baseTree.Hash, Skipped: plan.Skipped, Version: s.Version, Identity: ident}
	for _, p := range s.Patches {
		rd.known[p.Name] = true
	}
	for _, sk := range plan.Skipped {
		rd.skipped[sk.Name] = true
	}
	if Hook != nil {
		Hook("render")
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	n := len(rd.active)
	var files []*fileStates

	// anchored edits by path; an owned file may have some too (FORMAT.md)
	editsOf := map[string]*series.Edits{}
	for _, ef := range s.Edits {
		editsOf[ef.Path] = ef
	}

	// owned files
	for _, f := range s.Files {
		fsx := &fileStates{path: f.Path, mode: filemode.Regular, states: make([][]byte, n+1)}
		for step := 0; step <= n; step++ {
			out, err := execTemplate(f.T, rd.ctx(step))
			if err != nil {
				return nil, fmt.Errorf("patch %s: %s: %w", rd.patchAt(step), f.Template, err)
			}
			if strings.TrimSpace(out) != "" {
				fsx.states[step] = []byte(strings.TrimRight(out, "\n") + "\n")
			}
		}
		ef := editsOf[f.Path]
		delete(editsOf, f.Path)
		bi, err := src.stat(f.Path)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		if bi != nil {
			if fsx.states[0] != nil {
				// Created by a skipped patch. When the tree's file is
				// what the series has at this point, later patches
				// change it normally; otherwise it is the tree's own
				// version, which later patches must not touch except
				// through anchored edits.
				if bytes.Equal(fsx.states[0], bi.data) {
					fsx.mode, fsx.hash0 = bi.mode, bi.hash
					if err := rd.applyEdits(fsx, ef); err != nil {
						return nil, err
					}
					files = append(files, fsx)
					continue
				}
				for step := 1; step <= n; step++ {
					if !bytes.Equal(fsx.states[step], fsx.states[0]) {
						return nil, fmt.Errorf("patch %s: %s: the patch changes this file, but the tree's version differs from the series' before it (the tree carries another form of it); cannot render on this tree", rd.active[step-1].Name, f.Path)
					}
				}
				if ef == nil {
					continue // the tree's own file, untouched by the series
				}
				// the tree's own file, changed by anchored edits only
				fsx.mode, fsx.hash0 = bi.mode, bi.hash
				for step := range fsx.states {
					fsx.states[step] = bi.data
				}
				if err := rd.applyEdits(fsx, ef); err != nil {
					return nil, err
				}
				files = append(files, fsx)
				continue
			}
			creator := "(none)"
			for step := 1; step <= n; step++ {
				if fsx.states[step] != nil {
					creator = rd.active[step-1].Name
					break
				}
			}
			return nil, &CarriedError{Patch: creator, Path: f.Path}
		}
		if fsx.states[0] != nil {
			return nil, fmt.Errorf("%s: the template is non-empty at step 0 (created by a skipped patch?) but the tree has no %s", f.Template, f.Path)
		}
		if err := rd.applyEdits(fsx, ef); err != nil {
			return nil, err
		}
		files = append(files, fsx)
	}

	// kernel-owned files with edits; an anchor that does not match ends
	// that file's rendering, and the others go on, so that one run names
	// every anchor a new base breaks
	var anchors AnchorErrors
edits:
	for _, ef := range s.Edits {
		if editsOf[ef.Path] == nil {
			continue // an owned file's edits, applied above
		}
		bi, err := src.stat(ef.Path)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				// a file of another layout (mm/vma.c on 6.12, mm/mmap.c
				// before) whose every edit is for the other layout
				none, cerr := rd.noneInEffect(ef)
				if cerr != nil {
					return nil, cerr
				}
				if none {
					continue
				}
				first := "?"
				if len(ef.Edits) > 0 {
					first = ef.Edits[0].From
				}
				return nil, fmt.Errorf("patch %s: %s: file not in the tree (%s edits it)", first, ef.Path, ef.Source)
			}
			return nil, err
		}
		fsx := &fileStates{path: ef.Path, mode: bi.mode, states: make([][]byte, n+1), hash0: bi.hash}
		for step := range fsx.states {
			fsx.states[step] = bi.data
		}
		if err := rd.applyEdits(fsx, ef); err != nil {
			// An anchor that does not match ends this file's rendering;
			// the other files go on, so that one run names every anchor
			// a new base breaks.
			var ee *edit.Error
			if errors.As(err, &ee) {
				anchors = append(anchors, ee)
				continue edits
			}
			return nil, err
		}
		files = append(files, fsx)
	}
	switch len(anchors) {
	case 0:
	case 1:
		return nil, anchors[0]
	default:
		return nil, anchors
	}
	sort.Slice(files, func(i, j int) bool { return files[i].path < files[j].path })

	// patches
	for i, p := range rd.active {
		author := object.Signature{Name: ident.Name, Email: ident.Email, When: p.When}
		if p.Author != "" {
			author.Name, author.Email = p.Name_, p.Email
		}
		pt := Patch{Index: i + 1, Total: n, Version: s.Version, Name: p.Name, Subject: p.Subject,
			Author: author, Message: message(p, ident, !opts.NoSignOff && !ident.IsZero())}
		for _, f := range files {
			before, after := f.states[i], f.states[i+1]
			if bytes.Equal(before, after) && (before == nil) == (after == nil) {
				continue
			}
			fc := FileChange{Path: f.path, Before: before, After: after}
			if before != nil {
				fc.OldMode = f.mode
				fc.OldHash = plumbing.ComputeHash(plumbing.BlobObject, before)
			}
			if after != nil {
				fc.Mode = f.mode
				fc.Hash = plumbing.ComputeHash(plumbing.BlobObject, after)
			}
			pt.Changes = append(pt.Changes, fc)
		}
		for j := range pt.Changes {
			pt.Changes[j].PrepareDiff()
		}
		if len(pt.Changes) == 0 {
			return nil, fmt.Errorf("patch %s (%s): changes nothing for this tree (%s)", p.Name, p.Source, pr.Version)
		}
		res.Patches = append(res.Patches, pt)
	}

	// cover letter, rendered at the last step
	body, err := execTemplate(s.Cover.BodyT, rd.ctx(n))
	if err != nil {
		return nil, fmt.Errorf("series.yaml: cover body: %w", err)
	}
	cover := object.Signature{Name: ident.Name, Email: ident.Email, When: s.Cover.When}
	if s.Cover.Author != "" {
		cover.Name, cover.Email = s.Cover.Name, s.Cover.Email
	}
	res.Cover = Cover{Subject: s.Cover.Subject, Author: cover, Body: coverBody(body, s.Changelog, ident, !opts.NoSignOff && !ident.IsZero())}

	// commit ids
	ids, trees, err := res.buildAll(gitobj.NewOverlay(repo), nil)
	if err != nil {
		return nil, err
	}
	parent := res.Base
	for i, id := range ids {
		p := &res.Patches[i]
		p.Commit, p.Tree, p.Parent = id, trees[i], parent
		parent = id
	}
	return res, nil
}

// allSkipped probes the work tree of a plain directory and returns a
// Result when every patch is skipped, nil otherwise.
func allSkipped(s *series.Series, tree string) *Result {
	pr, err := probe.Run(tree, probe.Dir(tree), s.Probes)
	if err != nil {
		return nil
	}
	plan, err := NewPlan(s, pr)
	if err != nil || len(plan.Active) > 0 {
		return nil
	}
	return &Result{Probes: *pr, Skipped: plan.Skipped}
}

// message is the full commit message of p, with id's sign-off closing
// the trailers when signOff is set.
func message(p *series.Patch, id series.Identity, signOff bool) string {
	var b strings.Builder
	b.WriteString(strings.TrimSpace(p.Subject))
	b.WriteString("\n\n")
	trailers := make([]string, 0, len(p.Trailers)+1)
	for _, t := range p.Trailers {
		trailers = append(trailers, strings.TrimSpace(t))
	}
	if sob := "Signed-off-by: " + id.String(); signOff && (len(trailers) == 0 || trailers[len(trailers)-1] != sob) {
		trailers = append(trailers, sob)
	}
	if body := strings.TrimRight(p.Message, "\n \t"); strings.TrimSpace(body) != "" {
		b.WriteString(body)
		b.WriteString("\n")
		if len(trailers) > 0 {
			b.WriteString("\n")
		}
	}
	for _, t := range trailers {
		b.WriteString(t)
		b.WriteString("\n")
	}
	return b.String()
}

// applyEdits replaces each state of fsx by that state with the edits of
// ef in effect at its step applied (ef may be nil: nothing to do). A
// state that is absent (an owned file not created yet) stays absent; an
// edit in effect there is an error.
func (rd *renderer) applyEdits(fsx *fileStates, ef *series.Edits) error {
	if ef == nil {
		return nil
	}
	type cached struct {
		base []byte
		key  string
		out  []byte
	}
	var prev *cached
	for step := range fsx.states {
		base := fsx.states[step]
		c := rd.ctx(step)
		// the edits in effect and their texts; an unchanged base and set
		// give the previous step's content
		type active struct {
			i    int
			text string
		}
		var act []active
		var key strings.Builder
		for i, e := range ef.Edits {
			if rd.skipped[e.From] || !c.at[e.From] || (e.Until != "" && c.at[e.Until]) {
				continue
			}
			if e.When != "" {
				ok, err := rd.probes.Cond(e.When)
				if err != nil {
					return fmt.Errorf("%s: edit %d (from %s): when: %w", ef.Source, i+1, e.From, err)
				}
				if !ok {
					continue
				}
			}
			text := ""
			if ef.Texts[i] != nil {
				var err error
				if text, err = execTemplate(ef.Texts[i], c); err != nil {
					return fmt.Errorf("patch %s: %s: edit %d (from %s): %w", rd.patchAt(step), ef.Source, i+1, e.From, err)
				}
			}
			act = append(act, active{i, text})
			fmt.Fprintf(&key, "%d:%d:%s\x00", i, len(text), text)
		}
		if prev != nil && prev.key == key.String() && bytes.Equal(prev.base, base) && (prev.base == nil) == (base == nil) {
			fsx.states[step] = prev.out
			continue
		}
		out := base
		if len(act) > 0 {
			if base == nil {
				return fmt.Errorf("patch %s: %s: edit %d (from %s) is in effect but the series has not created the file yet", rd.patchAt(step), ef.Source, act[0].i+1, ef.Edits[act[0].i].From)
			}
			cur := edit.Lines(base)
			for _, a := range act {
				e := ef.Edits[a.i]
				next, err := edit.ApplyLines(cur, e, a.text)
				if err != nil {
					var ee *edit.Error
					if errors.As(err, &ee) {
						ee.Patch, ee.File, ee.Index, ee.From = rd.patchAt(step), ef.Path, a.i+1, e.From
						return ee
					}
					return err
				}
				cur = next
			}
			out = edit.Join(cur)
			if !bytes.HasSuffix(base, []byte("\n")) && len(base) > 0 {
				out = bytes.TrimSuffix(out, []byte("\n"))
			}
		}
		prev = &cached{base: base, key: key.String(), out: out}
		fsx.states[step] = out
	}
	return nil
}

// coverBody is the cover letter's text: the rendered body, then one
// "Changes in vN:" section per version (newest first, as b4 and
// format-patch users write them), then the sign-off.
func coverBody(body string, log []series.Changes, id series.Identity, signOff bool) string {
	var b strings.Builder
	b.WriteString(strings.TrimRight(body, "\n"))
	b.WriteString("\n")
	for _, c := range log {
		fmt.Fprintf(&b, "\nChanges in v%d:\n", c.Version)
		for _, x := range c.Changes {
			var w bytes.Buffer
			formatpatch.WrapText(&w, strings.Join(strings.Fields(x), " "), 0, 2, formatpatch.MailWrap)
			b.WriteString("- ")
			b.WriteString(w.String())
			b.WriteString("\n")
		}
	}
	if signOff {
		b.WriteString("\nSigned-off-by: " + id.String() + "\n")
	}
	return b.String()
}

// AnchorErrors are the anchors that failed in one rendering, one per
// kernel-owned file at most (the first failing edit of that file), in
// the order of the edit files. errors.As finds the first *edit.Error.
type AnchorErrors []*edit.Error

func (a AnchorErrors) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d anchored edits fail on this tree:", len(a))
	for _, e := range a {
		b.WriteString("\n")
		b.WriteString(e.Error())
	}
	return b.String()
}

// Unwrap gives each *edit.Error to errors.Is and errors.As.
func (a AnchorErrors) Unwrap() []error {
	out := make([]error, len(a))
	for i, e := range a {
		out[i] = e
	}
	return out
}

// CarriedError: the tree already has a file that a patch of the series
// creates, so it seems to carry the series (or part of it) already.
type CarriedError struct {
	Patch string // the patch that creates Path ("(none)" when unknown)
	Path  string
}

func (e *CarriedError) Error() string {
	return fmt.Sprintf("patch %s: %s: the tree already has this file, which the series creates; the tree seems to carry the series (or part of it) already — add a skip-if probe for it", e.Patch, e.Path)
}

// noneInEffect reports whether every edit of ef has a when: condition that
// is false on this tree: such an edit file is for trees of another layout
// and may name a file this tree does not have.
func (rd *renderer) noneInEffect(ef *series.Edits) (bool, error) {
	if len(ef.Edits) == 0 {
		return false, nil
	}
	for i, e := range ef.Edits {
		if e.When == "" {
			return false, nil
		}
		ok, err := rd.probes.Cond(e.When)
		if err != nil {
			return false, fmt.Errorf("%s: edit %d (from %s): when: %w", ef.Source, i+1, e.From, err)
		}
		if ok {
			return false, nil
		}
	}
	return true, nil
}
