// Package series loads and validates the series templates (see
// templates/FORMAT.md): series.yaml and series.d/*.yaml (patch list and
// cover letter), probes.yaml, files/<path>.tmpl (owned files) and
// edits/<path>.yaml (anchored edits). Every error names the file and the
// patch, edit or probe at fault.
package series

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strings"
	"text/template"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/kdefer/kdefer/internal/edit"
	"github.com/kdefer/kdefer/internal/probe"
)

// Cover is the cover letter metadata. Author is optional: by default the
// cover letter is the maintainer's (see Identity).
type Cover struct {
	Subject string `yaml:"subject"`
	Author  string `yaml:"author"`
	Date    string `yaml:"date"`
	Body    string `yaml:"body"`

	Name, Email string             `yaml:"-"`
	When        time.Time          `yaml:"-"`
	BodyT       *template.Template `yaml:"-"`
}

// Patch is one patch of the series.
type Patch struct {
	Name     string   `yaml:"name"`
	Subject  string   `yaml:"subject"`
	Author   string   `yaml:"author"`
	Date     string   `yaml:"date"`
	SkipIf   string   `yaml:"skip-if"`
	Message  string   `yaml:"message"`
	Trailers []string `yaml:"trailers"`

	Name_, Email string    `yaml:"-"` // parsed author
	When         time.Time `yaml:"-"`
	Source       string    `yaml:"-"` // the yaml file that lists it
}

// File is an owned file: files/<Path>.tmpl.
type File struct {
	Path     string // kernel path, e.g. kernel/unwind/deferred.c
	Template string // template path inside the template tree
	T        *template.Template
}

// Edits are the anchored edits of one kernel-owned file.
type Edits struct {
	Path   string // kernel path
	Source string // edits/<path>.yaml
	Edits  []*edit.Edit
	// Owned: the file also has a template under files/; the edits apply
	// on top of it, or of the tree's own form of it (FORMAT.md).
	Owned bool
	Texts []*template.Template // parsed Text of each edit (nil when empty)
}

// Require is one prerequisite of the series (series.yaml "requires:"): a
// probe condition that must hold on every tree the series is rendered
// for, and what to tell the user when it does not.
type Require struct {
	// Probe is a condition: "name" or "!name" (see FORMAT.md).
	Probe string `yaml:"probe"`
	// Missing says, in a few words, what the tree lacks when the
	// condition is false ("TWA_NMI_CURRENT is missing").
	Missing string `yaml:"missing"`
}

// Changes is the changelog entry of one version of the series: what
// changed since the version before it.
type Changes struct {
	Version int      `yaml:"version"`
	Changes []string `yaml:"changes"`
}

// Series is a loaded template tree.
type Series struct {
	// Version is the version of the series (series.yaml "version:", 1 when
	// absent): from 2 on, subjects read [PATCH vN NN/MM] and the cover
	// letter carries Changelog, newest version first.
	Version   int
	Changelog []Changes
	// Maintainer is the identity of the published rendering (patches/):
	// series.yaml "maintainer:", "Name <email>" (zero when absent: then
	// every patch and the cover need an author: of their own, or the
	// renderer an identity). Who renders or applies the series elsewhere
	// may be someone else (see render.Options.Identity).
	Maintainer Identity
	Cover      Cover
	// Requires are the prerequisites of the series; Supported says in
	// words which trees have them ("Linux 6.12 and later").
	Requires  []Require
	Supported string
	Patches   []*Patch
	Probes    []probe.Def
	Files     []*File
	Edits     []*Edits

	index map[string]int
}

// Index returns the 0-based position of patch name, or -1.
func (s *Series) Index(name string) int {
	if i, ok := s.index[name]; ok {
		return i
	}
	return -1
}

// Subjects returns the set of the patches' subjects, by which a tree's
// history is searched for the series (gitapply.FindSeries).
func (s *Series) Subjects() map[string]bool {
	m := make(map[string]bool, len(s.Patches))
	for _, p := range s.Patches {
		m[p.Subject] = true
	}
	return m
}

// Funcs are the functions available to templates besides the context.
var Funcs = template.FuncMap{}

var authorRE = regexp.MustCompile(`^([^<>\n]*[^<>\s])\s*<([^<>\s]+@[^<>\s]+)>$`)

var patchNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)

type seriesFile struct {
	Version    int       `yaml:"version"`
	Maintainer string    `yaml:"maintainer"`
	Changelog  []Changes `yaml:"changelog"`
	Cover      *Cover    `yaml:"cover"`
	Supported  string    `yaml:"supported"`
	Requires   []Require `yaml:"requires"`
	Patches    []*Patch  `yaml:"patches"`
}

func decodeStrict(name string, data []byte, v any) error {
	dec := yaml.NewDecoder(bytes.NewReader(addIndentIndicators(data)))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

// Load reads and validates the template tree fsys.
func Load(fsys fs.FS) (*Series, error) {
	s := &Series{index: map[string]int{}}
	data, err := fs.ReadFile(fsys, "series.yaml")
	if err != nil {
		return nil, fmt.Errorf("templates: %w", err)
	}
	var top seriesFile
	if err := decodeStrict("series.yaml", data, &top); err != nil {
		return nil, err
	}
	if top.Cover == nil {
		return nil, errors.New("series.yaml: missing cover:")
	}
	s.Cover = *top.Cover
	if err := s.loadVersion(top); err != nil {
		return nil, err
	}
	s.Requires, s.Supported = top.Requires, strings.TrimSpace(top.Supported)
	for _, p := range top.Patches {
		p.Source = "series.yaml"
	}
	s.Patches = top.Patches
	extra, _ := fs.Glob(fsys, "series.d/*.yaml")
	sort.Strings(extra)
	for _, name := range extra {
		data, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, fmt.Errorf("templates: %w", err)
		}
		var f seriesFile
		if err := decodeStrict(name, data, &f); err != nil {
			return nil, err
		}
		if f.Cover != nil {
			return nil, fmt.Errorf("%s: cover: belongs in series.yaml only", name)
		}
		if f.Requires != nil || f.Supported != "" {
			return nil, fmt.Errorf("%s: requires: and supported: belong in series.yaml only", name)
		}
		if f.Version != 0 || f.Maintainer != "" || f.Changelog != nil {
			return nil, fmt.Errorf("%s: version:, maintainer: and changelog: belong in series.yaml only", name)
		}
		for _, p := range f.Patches {
			p.Source = name
		}
		s.Patches = append(s.Patches, f.Patches...)
	}

	if data, err := fs.ReadFile(fsys, "probes.yaml"); err == nil {
		if s.Probes, err = probe.Parse("probes.yaml", data); err != nil {
			return nil, err
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("templates: %w", err)
	}
	probes := map[string]bool{"version": true}
	for _, d := range s.Probes {
		probes[d.Name] = true
	}

	// requirements
	for i, r := range s.Requires {
		where := fmt.Sprintf("series.yaml: requires %d (%s)", i+1, r.Probe)
		name, _ := probe.ParseCond(r.Probe)
		if name == "" {
			return nil, fmt.Errorf("%s: missing probe:", where)
		}
		if !probes[name] || name == "version" {
			return nil, fmt.Errorf("%s: probe: unknown probe %q", where, name)
		}
		if strings.TrimSpace(r.Missing) == "" || strings.Contains(strings.TrimSpace(r.Missing), "\n") {
			return nil, fmt.Errorf("%s: missing: must be one non-empty line (what the tree lacks)", where)
		}
	}

	// cover
	c := &s.Cover
	if strings.TrimSpace(c.Subject) == "" {
		return nil, errors.New("series.yaml: cover: missing subject")
	}
	if c.Author != "" {
		if c.Name, c.Email, err = parseAuthor(c.Author); err != nil {
			return nil, fmt.Errorf("series.yaml: cover: author: %w", err)
		}
	}
	if c.When, err = time.Parse(time.RFC3339, c.Date); err != nil {
		return nil, fmt.Errorf("series.yaml: cover: date %q is not RFC 3339 (2025-07-16T20:49:10-04:00)", c.Date)
	}
	if c.BodyT, err = parseTemplate("series.yaml:cover.body", c.Body); err != nil {
		return nil, err
	}

	// patches
	for i, p := range s.Patches {
		where := fmt.Sprintf("%s: patch %d (%s)", p.Source, i+1, p.Name)
		if !patchNameRE.MatchString(p.Name) {
			return nil, fmt.Errorf("%s: name must match [a-z0-9][a-z0-9-]*", where)
		}
		if j, dup := s.index[p.Name]; dup {
			return nil, fmt.Errorf("%s: duplicate name (also patch %d in %s)", where, j+1, s.Patches[j].Source)
		}
		s.index[p.Name] = i
		if strings.TrimSpace(p.Subject) == "" || strings.Contains(p.Subject, "\n") {
			return nil, fmt.Errorf("%s: subject must be one non-empty line", where)
		}
		if p.Author != "" {
			if p.Name_, p.Email, err = parseAuthor(p.Author); err != nil {
				return nil, fmt.Errorf("%s: author: %w", where, err)
			}
		}
		if p.When, err = time.Parse(time.RFC3339, p.Date); err != nil {
			return nil, fmt.Errorf("%s: date %q is not RFC 3339 (2025-07-16T20:49:10-04:00)", where, p.Date)
		}
		if p.SkipIf != "" && !probes[condProbe(p.SkipIf)] {
			return nil, fmt.Errorf("%s: skip-if: unknown probe %q", where, p.SkipIf)
		}
		for _, t := range p.Trailers {
			k, v, ok := strings.Cut(t, ": ")
			if !ok || strings.ContainsAny(k, " \n") || strings.TrimSpace(v) == "" {
				return nil, fmt.Errorf("%s: trailer %q is not \"Key: value\"", where, t)
			}
			if strings.EqualFold(k, "Signed-off-by") && p.Author == "" {
				return nil, fmt.Errorf("%s: trailer %q: the sign-off of whoever renders or applies the series is added from their identity (kgen render, kgen apply --signoff); a Signed-off-by written in the templates is only for a patch with an author: of its own (a backport keeping its upstream chain)", where, t)
			}
		}
	}

	// owned files
	err = walkSources(fsys, "files", ".tmpl", "owned-file templates", func(p string, data []byte) error {
		t, err := parseTemplate(p, string(data))
		if err != nil {
			return err
		}
		s.Files = append(s.Files, &File{Path: strings.TrimSuffix(strings.TrimPrefix(p, "files/"), ".tmpl"), Template: p, T: t})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("templates: %w", err)
	}

	// edits
	owned := map[string]bool{}
	for _, f := range s.Files {
		owned[f.Path] = true
	}
	err = walkSources(fsys, "edits", ".yaml", "edit files", func(p string, data []byte) error {
		ef := &Edits{Path: strings.TrimSuffix(strings.TrimPrefix(p, "edits/"), ".yaml"), Source: p}
		ef.Owned = owned[ef.Path]
		if err := decodeStrict(p, data, &ef.Edits); err != nil {
			return err
		}
		for i, e := range ef.Edits {
			where := fmt.Sprintf("%s: edit %d (from %s)", p, i+1, e.From)
			fi := s.Index(e.From)
			if e.From == "" {
				return fmt.Errorf("%s: missing from: (the first patch where the edit is in effect)", where)
			}
			if fi < 0 {
				return fmt.Errorf("%s: from: unknown patch %q", where, e.From)
			}
			if e.Until != "" {
				ui := s.Index(e.Until)
				if ui < 0 {
					return fmt.Errorf("%s: until: unknown patch %q", where, e.Until)
				}
				if ui <= fi {
					return fmt.Errorf("%s: until: patch %q does not come after %q", where, e.Until, e.From)
				}
			}
			if e.When != "" && !probes[condProbe(e.When)] {
				return fmt.Errorf("%s: when: unknown probe %q", where, e.When)
			}
			if err := e.Validate(); err != nil {
				return fmt.Errorf("%s: %w", where, err)
			}
			var t *template.Template
			if e.Text != "" {
				if t, err = parseTemplate(fmt.Sprintf("%s:edit%d", p, i+1), e.Text); err != nil {
					return err
				}
			}
			ef.Texts = append(ef.Texts, t)
		}
		s.Edits = append(s.Edits, ef)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("templates: %w", err)
	}
	return s, nil
}

func parseTemplate(name, text string) (*template.Template, error) {
	t, err := template.New(name).Funcs(Funcs).Option("missingkey=error").Parse(text)
	if err != nil {
		return nil, fmt.Errorf("template %w", err)
	}
	return t, nil
}

func parseAuthor(s string) (name, email string, err error) {
	m := authorRE.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return "", "", fmt.Errorf("%q is not \"Name <email>\"", s)
	}
	return m[1], m[2], nil
}

// condProbe is the probe a condition ("name" or "!name") reads.
func condProbe(cond string) string {
	name, _ := probe.ParseCond(cond)
	return name
}

// Identity is a person: the From: of a mail and the value of a
// Signed-off-by trailer.
type Identity struct {
	Name, Email string
}

// ParseIdentity parses "Name <email>".
func ParseIdentity(s string) (Identity, error) {
	n, e, err := parseAuthor(s)
	return Identity{n, e}, err
}

func (id Identity) String() string { return id.Name + " <" + id.Email + ">" }

// IsZero reports whether no identity is set.
func (id Identity) IsZero() bool { return id.Email == "" }

// loadVersion reads version:, maintainer: and changelog: of series.yaml.
func (s *Series) loadVersion(top seriesFile) error {
	s.Version = top.Version
	if s.Version == 0 {
		s.Version = 1
	}
	if s.Version < 1 {
		return fmt.Errorf("series.yaml: version: %d is not a series version (1, 2, ...)", top.Version)
	}
	if strings.TrimSpace(top.Maintainer) != "" {
		id, err := ParseIdentity(top.Maintainer)
		if err != nil {
			return fmt.Errorf("series.yaml: maintainer: %w", err)
		}
		s.Maintainer = id
	}
	seen := map[int]bool{}
	for i, c := range top.Changelog {
		where := fmt.Sprintf("series.yaml: changelog %d (version %d)", i+1, c.Version)
		switch {
		case c.Version < 2 || c.Version > s.Version:
			return fmt.Errorf("%s: version must be between 2 and the series' version %d (version 1 has nothing to change from)", where, s.Version)
		case seen[c.Version]:
			return fmt.Errorf("%s: a second entry for the same version", where)
		case len(c.Changes) == 0:
			return fmt.Errorf("%s: no changes listed", where)
		case i > 0 && c.Version > top.Changelog[i-1].Version:
			return fmt.Errorf("%s: list the newest version first", where)
		}
		for _, x := range c.Changes {
			if strings.TrimSpace(x) == "" {
				return fmt.Errorf("%s: an empty change", where)
			}
		}
		seen[c.Version] = true
	}
	for v := 2; v <= s.Version; v++ {
		if !seen[v] {
			return fmt.Errorf("series.yaml: changelog: version %d has no entry (say what changed since version %d)", v, v-1)
		}
	}
	s.Changelog = top.Changelog
	return nil
}

// walkSources calls fn with the path and content of every file below dir
// in fsys but .keep files (none when dir does not exist); what names the
// files in the error for one that does not end in ext.
func walkSources(fsys fs.FS, dir, ext, what string, fn func(p string, data []byte) error) error {
	return fs.WalkDir(fsys, dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == dir && errors.Is(err, fs.ErrNotExist) {
				return fs.SkipDir
			}
			return err
		}
		if d.IsDir() || path.Base(p) == ".keep" {
			return nil
		}
		if !strings.HasSuffix(p, ext) {
			return fmt.Errorf("%s: %s end in %s", p, what, ext)
		}
		data, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		return fn(p, data)
	})
}
