package probe

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Def is one probe from probes.yaml (see templates/FORMAT.md).
type Def struct {
	Name     string `yaml:"name"`
	Desc     string `yaml:"desc"`
	Check    `yaml:",inline"`
	Required bool    `yaml:"required"`
	Choice   []Check `yaml:"choice"`
	// Default is the value of a choice probe when no alternative
	// matches; without it such a probe cannot decide.
	Default string `yaml:"default"`
}

// Check is one file test: the file exists, contains a literal, or has a
// line matching a regular expression (multi-line mode).
type Check struct {
	File     string `yaml:"file"`
	Regex    string `yaml:"regex"`
	Contains string `yaml:"contains"`
	Exists   bool   `yaml:"exists"`
	// Value is what a choice alternative yields (default: File).
	Value string `yaml:"value"`

	re *regexp.Regexp
}

var nameRE = regexp.MustCompile(`^[a-z0-9_]+$`)

// Parse reads probes.yaml. name is used in error messages.
func Parse(name string, data []byte) ([]Def, error) {
	var defs []Def
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&defs); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	seen := map[string]bool{}
	for i := range defs {
		d := &defs[i]
		where := fmt.Sprintf("%s: probe %d (%s)", name, i+1, d.Name)
		if !nameRE.MatchString(d.Name) {
			return nil, fmt.Errorf("%s: name must match [a-z0-9_]+", where)
		}
		if d.Name == "version" {
			return nil, fmt.Errorf("%s: \"version\" is built in (read from the Makefile)", where)
		}
		if seen[d.Name] {
			return nil, fmt.Errorf("%s: duplicate probe name", where)
		}
		seen[d.Name] = true
		if len(d.Choice) > 0 {
			if d.File != "" || d.Regex != "" || d.Contains != "" || d.Exists {
				return nil, fmt.Errorf("%s: a choice probe has no file/regex/contains/exists of its own", where)
			}
			for j := range d.Choice {
				if err := d.Choice[j].compile(); err != nil {
					return nil, fmt.Errorf("%s: choice %d: %w", where, j+1, err)
				}
			}
			continue
		}
		if err := d.Check.compile(); err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
	}
	return defs, nil
}

func (c *Check) compile() error {
	if c.File == "" {
		return errors.New("missing file")
	}
	n := 0
	if c.Regex != "" {
		n++
		re, err := regexp.Compile("(?m)" + c.Regex)
		if err != nil {
			return fmt.Errorf("bad regex %q: %w", c.Regex, err)
		}
		c.re = re
	}
	if c.Contains != "" {
		n++
	}
	if c.Exists {
		n++
	}
	if n != 1 {
		return errors.New("exactly one of regex, contains, exists: true is needed")
	}
	return nil
}

// Source gives probes the files of a tree. ReadFile returns an error
// satisfying errors.Is(err, fs.ErrNotExist) for an absent file.
type Source interface {
	ReadFile(path string) ([]byte, error)
}

// Dir is a Source reading a directory (a kernel work tree).
type Dir string

// ReadFile implements Source.
func (d Dir) ReadFile(p string) ([]byte, error) {
	return os.ReadFile(filepath.Join(string(d), filepath.FromSlash(p)))
}

// cache memoises reads: several probes look at the same file.
type cache struct {
	src Source
	m   map[string]cached
}

type cached struct {
	data []byte
	err  error
}

func (c *cache) read(p string) ([]byte, error) {
	if v, ok := c.m[p]; ok {
		return v.data, v.err
	}
	data, err := c.src.ReadFile(p)
	c.m[p] = cached{data, err}
	return data, err
}

// CannotDecide is the error of a probe that cannot give an answer.
type CannotDecide struct {
	Probe  string
	Reason string
}

func (e *CannotDecide) Error() string {
	return fmt.Sprintf("probe %s cannot decide: %s", e.Probe, e.Reason)
}

// ErrNotKernel: the tree has no top-level Makefile with the kernel's
// version lines.
var ErrNotKernel = errors.New("not a kernel tree")

// ReadVersion reads VERSION, PATCHLEVEL, SUBLEVEL and EXTRAVERSION from
// the top-level Makefile. A tree without them is not a kernel tree.
func ReadVersion(src Source) (Version, error) {
	data, err := src.ReadFile("Makefile")
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return Version{}, fmt.Errorf("%w: no top-level Makefile", ErrNotKernel)
		}
		return Version{}, fmt.Errorf("reading Makefile: %w", err)
	}
	vals := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 0; sc.Scan() && n < 20; n++ {
		k, v, ok := strings.Cut(sc.Text(), "=")
		if !ok {
			continue
		}
		vals[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	var v Version
	for _, f := range []struct {
		key string
		dst *int
	}{{"VERSION", &v.Major}, {"PATCHLEVEL", &v.Minor}, {"SUBLEVEL", &v.Sublevel}} {
		s, ok := vals[f.key]
		if !ok {
			return Version{}, fmt.Errorf("%w: Makefile has no %s line in its first 20 lines", ErrNotKernel, f.key)
		}
		n, err := strconv.Atoi(s)
		if err != nil {
			return Version{}, fmt.Errorf("%w: Makefile: %s = %q is not a number", ErrNotKernel, f.key, s)
		}
		*f.dst = n
	}
	v.Extra = vals["EXTRAVERSION"]
	return v, nil
}

// Run evaluates defs on src. tree is only recorded in the result.
func Run(tree string, src Source, defs []Def) (*Results, error) {
	v, err := ReadVersion(src)
	if err != nil {
		return nil, err
	}
	r := &Results{Tree: tree, Version: v}
	r.Probes = append(r.Probes, Result{Name: "version", Desc: "kernel version (top-level Makefile)", Kind: "choice", Value: v.String(), Evidence: "Makefile"})
	c := &cache{src: src, m: map[string]cached{}}
	for i := range defs {
		d := &defs[i]
		res := Result{Name: d.Name, Desc: d.Desc, Kind: "bool"}
		if len(d.Choice) > 0 {
			res.Kind = "choice"
			var looked []string
			for j := range d.Choice {
				ok, ev, err := d.Choice[j].eval(c)
				var nf *notFound
				if errors.As(err, &nf) {
					err = nil
				}
				if err != nil {
					return nil, fmt.Errorf("probe %s: %w", d.Name, err)
				}
				if ok {
					res.Value = d.Choice[j].Value
					if res.Value == "" {
						res.Value = d.Choice[j].File
					}
					res.Evidence = ev
					break
				}
				looked = append(looked, ev)
			}
			if res.Value == "" {
				if d.Default == "" {
					return nil, &CannotDecide{d.Name, "no alternative matched: " + strings.Join(looked, "; ")}
				}
				res.Value = d.Default
				res.Evidence = "default (" + strings.Join(looked, "; ") + ")"
			}
		} else {
			ok, ev, err := d.Check.eval(c)
			if err != nil {
				var nf *notFound
				if errors.As(err, &nf) && d.Required {
					return nil, &CannotDecide{d.Name, nf.path + " is absent but the probe is required"}
				}
				if !errors.As(err, &nf) {
					return nil, fmt.Errorf("probe %s: %w", d.Name, err)
				}
			}
			res.Bool, res.Evidence = ok, ev
		}
		r.Probes = append(r.Probes, res)
	}
	return r, nil
}

type notFound struct{ path string }

func (e *notFound) Error() string { return e.path + ": absent" }

// eval returns whether the check holds and a line of evidence.
func (c *Check) eval(fc *cache) (bool, string, error) {
	data, err := fc.read(c.File)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			if c.Exists {
				return false, c.File + ": absent", nil
			}
			return false, c.File + ": absent", &notFound{c.File}
		}
		return false, "", fmt.Errorf("reading %s: %w", c.File, err)
	}
	if c.Exists {
		return true, c.File + ": exists", nil
	}
	var at int
	if c.re != nil {
		loc := c.re.FindIndex(data)
		if loc == nil {
			return false, c.File + ": no match for /" + c.Regex + "/", nil
		}
		at = loc[0]
	} else {
		at = bytes.Index(data, []byte(c.Contains))
		if at < 0 {
			return false, fmt.Sprintf("%s: does not contain %q", c.File, c.Contains), nil
		}
	}
	line := 1 + bytes.Count(data[:at], []byte("\n"))
	bol := bytes.LastIndexByte(data[:at], '\n') + 1
	eol := bytes.IndexByte(data[at:], '\n')
	if eol < 0 {
		eol = len(data) - at
	}
	text := strings.Join(strings.Fields(string(data[bol:at+eol])), " ")
	if len(text) > 80 {
		text = text[:77] + "..."
	}
	return true, fmt.Sprintf("%s:%d: %s", c.File, line, text), nil
}
