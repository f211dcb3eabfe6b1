package workspace

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/kdefer/kdefer/internal/formatpatch"
	"github.com/kdefer/kdefer/internal/gitapply"

	"github.com/bluekeyes/go-gitdiff/gitdiff"
	"github.com/go-git/go-git/v5/plumbing"

	"github.com/kdefer/kdefer/internal/render"
	"github.com/kdefer/kdefer/internal/series"
)

// Label names patch i of s in reports ("series" for 0).
func (s *Series) Label(i int) string {
	if i == 0 || i > len(s.Patches) {
		return "series"
	}
	return s.Patches[i-1].Label(len(s.Patches))
}

// FindBase returns the commit the series applies to in tree: HEAD, or,
// when the series is already committed on top of it (kgen apply), the
// commit below the run of HEAD's first-parent commits whose subjects are
// the series' subjects. applied is the number of such commits.
func FindBase(ctx context.Context, tree string, templates fs.FS) (base string, applied int, err error) {
	subjects := map[string]bool{}
	if templates != nil {
		if s, err := series.Load(templates); err == nil {
			subjects = s.Subjects()
		}
	}
	r, err := gitapply.Open(tree)
	if err != nil {
		return "", 0, err
	}
	head, err := r.Head()
	if err != nil {
		return "", 0, err
	}
	// kgen apply's own search (gitapply.FindSeries), kept to the run of
	// series commits right below HEAD.
	found, _, err := gitapply.FindSeries(r.Objects, head.Commit, subjects, len(subjects)+1)
	if err != nil {
		return "", 0, err
	}
	b := head.Commit
	for _, f := range found {
		if f.Depth != applied {
			break
		}
		applied++
		b = f.Parent
	}
	if b.IsZero() {
		return "", 0, fmt.Errorf("%s: no commit below the series", tree)
	}
	return b.String(), applied, nil
}

// Series is a patch series as "git format-patch --cover-letter" files.
type Series struct {
	Dir     string
	Cover   string // path of 0000-cover-letter.patch, "" if none
	Patches []*Patch
}

// Patch is one patch file of a series and what it changes.
type Patch struct {
	Index   int    // 1-based
	Path    string // the .patch file
	Name    string // short name from series.yaml when rendered ("" otherwise)
	Subject string // the summary, without the [PATCH] tag
	Added   []string
	Changed []string // modified (not added or deleted)
	Deleted []string
	// Options are the Kconfig symbols the patch defines ("+config FOO").
	Options []string
	// AddedLines holds, per file, the line numbers (in the new file) of
	// the lines the patch adds.
	AddedLines map[string]map[int]bool
}

// Label is how reports name the patch: "03/12 unwind_user: Add ...".
func (p *Patch) Label(total int) string {
	return fmt.Sprintf("%02d/%02d %s", p.Index, total, p.Subject)
}

// Touches lists every file the patch touches.
func (p *Patch) Touches() []string {
	return append(append(append([]string(nil), p.Added...), p.Changed...), p.Deleted...)
}

// Render renders the series from templates (nil: the embedded ones) for
// tree's HEAD and writes the format-patch files into dir.
func Render(ctx context.Context, tree string, templates fs.FS, dir string) (*Series, *render.Result, error) {
	return RenderAt(ctx, tree, "", templates, dir)
}

// RenderAt is Render for the base commit base ("" for HEAD).
func RenderAt(ctx context.Context, tree, base string, templates fs.FS, dir string) (*Series, *render.Result, error) {
	o := render.Options{Templates: templates, Tree: tree}
	if base != "" {
		o.Base = plumbing.NewHash(base)
	}
	res, err := render.Render(ctx, o)
	if err != nil {
		return nil, nil, fmt.Errorf("render the series for %s: %w", tree, err)
	}
	if len(res.Patches) == 0 {
		return nil, nil, fmt.Errorf("render: no patch to render for %s (every patch is already present)", tree)
	}
	if err := res.WriteSeries(dir); err != nil {
		return nil, nil, fmt.Errorf("write the rendered series to %s: %w", dir, err)
	}
	s, err := ReadSeries(dir)
	if err != nil {
		return nil, nil, err
	}
	for i, p := range s.Patches {
		if i < len(res.Patches) {
			p.Name = res.Patches[i].Name
		}
	}
	return s, res, nil
}

var reKconfig = regexp.MustCompile(`^(?:menu)?config\s+([A-Z0-9_]+)\s*$`)

// ReadSeries reads the *.patch files of dir (name order; the cover
// letter is the one numbered 0).
func ReadSeries(dir string) (*Series, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.patch"))
	if err != nil {
		return nil, err
	}
	sort.Strings(files)
	s := &Series{Dir: dir}
	for _, f := range files {
		m, err := formatpatch.ReadMail(f)
		if err != nil {
			return nil, err
		}
		if m.IsCover() {
			s.Cover = f
			continue
		}
		p := &Patch{Index: len(s.Patches) + 1, Path: f, Subject: m.Summary}
		if err := p.readDiff(); err != nil {
			return nil, err
		}
		s.Patches = append(s.Patches, p)
	}
	if len(s.Patches) == 0 {
		return nil, fmt.Errorf("no patches (*.patch files) in %s", dir)
	}
	return s, nil
}

func (p *Patch) readDiff() error {
	r, err := os.Open(p.Path)
	if err != nil {
		return err
	}
	defer r.Close()
	files, _, err := gitdiff.Parse(r)
	if err != nil {
		return fmt.Errorf("parse the diff of %s: %w", p.Path, err)
	}
	for _, f := range files {
		switch {
		case f.IsNew:
			p.Added = append(p.Added, f.NewName)
		case f.IsDelete:
			p.Deleted = append(p.Deleted, f.OldName)
		default:
			p.Changed = append(p.Changed, f.NewName)
		}
		if !f.IsDelete {
			added := map[int]bool{}
			for _, fr := range f.TextFragments {
				n := int(fr.NewPosition)
				for _, l := range fr.Lines {
					switch l.Op {
					case gitdiff.OpAdd:
						added[n] = true
						n++
					case gitdiff.OpContext:
						n++
					}
				}
			}
			if p.AddedLines == nil {
				p.AddedLines = map[string]map[int]bool{}
			}
			p.AddedLines[f.NewName] = added
		}
		if strings.HasPrefix(filepath.Base(f.NewName), "Kconfig") {
			for _, fr := range f.TextFragments {
				for _, l := range fr.Lines {
					if l.Op != gitdiff.OpAdd {
						continue
					}
					if m := reKconfig.FindStringSubmatch(strings.TrimSpace(l.Line)); m != nil {
						p.Options = append(p.Options, m[1])
					}
				}
			}
		}
	}
	return nil
}
