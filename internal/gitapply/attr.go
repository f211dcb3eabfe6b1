package gitapply

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
)

// Attributes and the content conversions git applies between the index
// and the work tree (gitattributes(5), git's convert.c): end-of-line
// conversion (core.autocrlf, core.eol, the text, eol and crlf attributes)
// and clean/smudge filter drivers. Only the paths a switch touches are
// looked up: the .gitattributes files of their directories are read, the
// work tree is not walked.
//
// Not supported (the path is refused, naming the attribute): ident,
// working-tree-encoding, filter drivers with a "process" command, and
// macros other than the built-in "binary".

// attrValue is one attribute's state: "" unspecified, "set", "unset",
// or a value.
type attrValue string

type attrLine struct {
	pattern string
	attrs   map[string]attrValue
}

type attrFile struct {
	dir   string // the directory it applies to, "" for the top
	lines []attrLine
}

func parseAttrs(data []byte, dir string) attrFile {
	f := attrFile{dir: dir}
	for _, l := range strings.Split(string(data), "\n") {
		l = strings.TrimSpace(strings.TrimSuffix(l, "\r"))
		if l == "" || l[0] == '#' {
			continue
		}
		fields := strings.Fields(l)
		if strings.HasPrefix(fields[0], "[attr]") {
			continue // macro definitions: only the built-in binary is known
		}
		al := attrLine{pattern: fields[0], attrs: map[string]attrValue{}}
		for _, a := range fields[1:] {
			switch {
			case a == "binary":
				al.attrs["binary"] = "set"
				al.attrs["text"], al.attrs["diff"], al.attrs["merge"] = "unset", "unset", "unset"
			case strings.HasPrefix(a, "-"):
				al.attrs[a[1:]] = "unset"
			case strings.HasPrefix(a, "!"):
				al.attrs[a[1:]] = ""
			default:
				if k, v, ok := strings.Cut(a, "="); ok {
					al.attrs[k] = attrValue(v)
				} else {
					al.attrs[a] = "set"
				}
			}
		}
		f.lines = append(f.lines, al)
	}
	return f
}

// matchSegments matches path segments against pattern segments, where
// "**" matches any number of segments.
func matchSegments(pat, p []string) bool {
	for len(pat) > 0 {
		if pat[0] == "**" {
			if len(pat) == 1 {
				return true
			}
			for i := 0; i <= len(p); i++ {
				if matchSegments(pat[1:], p[i:]) {
					return true
				}
			}
			return false
		}
		if len(p) == 0 {
			return false
		}
		if ok, _ := path.Match(pat[0], p[0]); !ok {
			return false
		}
		pat, p = pat[1:], p[1:]
	}
	return len(p) == 0
}

// matches reports whether the line's pattern matches p (relative to the
// top of the work tree), with gitignore's rules less negation.
func (f attrFile) matches(pattern, p string) bool {
	rel := p
	if f.dir != "" {
		var ok bool
		if rel, ok = strings.CutPrefix(p, f.dir+"/"); !ok {
			return false
		}
	}
	if strings.HasSuffix(pattern, "/") {
		return false // directory patterns do not apply to files
	}
	if !strings.Contains(pattern, "/") {
		ok, _ := path.Match(pattern, path.Base(rel))
		return ok
	}
	return matchSegments(strings.Split(strings.TrimPrefix(pattern, "/"), "/"), strings.Split(rel, "/"))
}

// attrReader looks up attributes of single paths, caching the files it
// reads.
type attrReader struct {
	r     *Repo
	files map[string]*attrFile // by directory ("" top); nil when absent
	glob  []attrFile           // core.attributesFile
	info  []attrFile           // $GIT_COMMON_DIR/info/attributes
}

func newAttrReader(r *Repo) *attrReader {
	a := &attrReader{r: r, files: map[string]*attrFile{}}
	global, ok := r.Config.Get("core", "", "attributesFile")
	if !ok {
		xdg := os.Getenv("XDG_CONFIG_HOME")
		if home, _ := os.UserHomeDir(); xdg == "" && home != "" {
			xdg = filepath.Join(home, ".config")
		}
		global = filepath.Join(xdg, "git", "attributes")
	} else if strings.HasPrefix(global, "~/") {
		home, _ := os.UserHomeDir()
		global = filepath.Join(home, global[2:])
	}
	if data, err := os.ReadFile(global); err == nil {
		a.glob = append(a.glob, parseAttrs(data, ""))
	}
	if data, err := os.ReadFile(filepath.Join(r.CommonDir, "info", "attributes")); err == nil {
		a.info = append(a.info, parseAttrs(data, ""))
	}
	return a
}

func (a *attrReader) dirFile(dir string) *attrFile {
	if f, ok := a.files[dir]; ok {
		return f
	}
	var f *attrFile
	if data, err := os.ReadFile(filepath.Join(a.r.WorkTree, filepath.FromSlash(dir), ".gitattributes")); err == nil {
		pf := parseAttrs(data, dir)
		f = &pf
	}
	a.files[dir] = f
	return f
}

// lookup returns the attributes of p (a file path relative to the top).
func (a *attrReader) lookup(p string) map[string]attrValue {
	var chain []attrFile
	chain = append(chain, a.glob...)
	var dirs []string
	for d := path.Dir(p); ; d = path.Dir(d) {
		if d == "." {
			dirs = append(dirs, "")
			break
		}
		dirs = append(dirs, d)
	}
	for i := len(dirs) - 1; i >= 0; i-- {
		if f := a.dirFile(dirs[i]); f != nil {
			chain = append(chain, *f)
		}
	}
	chain = append(chain, a.info...)
	out := map[string]attrValue{}
	for _, f := range chain {
		for _, l := range f.lines {
			if f.matches(l.pattern, p) {
				for k, v := range l.attrs {
					out[k] = v
				}
			}
		}
	}
	return out
}

// crlfAction is convert.c's crlf_action.
type crlfAction int

const (
	crlfUndefined crlfAction = iota
	crlfBinary
	crlfText
	crlfTextInput
	crlfTextCRLF
	crlfAuto
	crlfAutoInput
	crlfAutoCRLF
)

// conv is how one path is converted between index and work tree.
type conv struct {
	action            crlfAction
	eolIsCRLF         bool   // text_eol_is_crlf()
	clean, smudge     string // filter commands ("" none)
	filterName        string
	filterRequired    bool
	path              string
	unsupportedReason string
}

func crlfFromAttr(v attrValue) crlfAction {
	switch v {
	case "set":
		return crlfText
	case "unset":
		return crlfBinary
	case "input":
		return crlfTextInput
	case "auto":
		return crlfAuto
	}
	return crlfUndefined
}

// convFor works out the conversion of path p as git's convert_attrs.
func (a *attrReader) convFor(p string) conv {
	at := a.lookup(p)
	cfg := a.r.Config
	autocrlf, _ := cfg.Get("core", "", "autocrlf")
	autocrlf = strings.ToLower(autocrlf)
	switch autocrlf {
	case "yes", "on", "1":
		autocrlf = "true"
	}
	coreEOL, _ := cfg.Get("core", "", "eol")
	c := conv{path: p}
	switch {
	case autocrlf == "true":
		c.eolIsCRLF = true
	case autocrlf == "input":
	case strings.EqualFold(coreEOL, "crlf"):
		c.eolIsCRLF = true
	}
	c.action = crlfFromAttr(at["text"])
	if c.action == crlfUndefined {
		c.action = crlfFromAttr(at["crlf"])
	}
	if c.action == crlfText {
		c.action = crlfTextInput
		if c.eolIsCRLF {
			c.action = crlfTextCRLF
		}
	}
	eol := at["eol"]
	switch {
	case c.action == crlfUndefined && eol == "crlf":
		c.action = crlfTextCRLF
	case c.action == crlfUndefined && eol == "lf":
		c.action = crlfTextInput
	case c.action == crlfAuto && eol == "lf":
		c.action = crlfAutoInput
	case c.action == crlfAuto && eol == "crlf":
		c.action = crlfAutoCRLF
	}
	if c.action == crlfUndefined && autocrlf == "true" {
		c.action = crlfAutoCRLF
	}
	if c.action == crlfUndefined && autocrlf == "input" {
		c.action = crlfAutoInput
	}
	if v := at["ident"]; v == "set" {
		c.unsupportedReason = "the ident attribute"
	}
	if v := at["working-tree-encoding"]; v != "" && v != "unset" {
		c.unsupportedReason = "the working-tree-encoding attribute"
	}
	if drv := at["filter"]; drv != "" && drv != "set" && drv != "unset" {
		c.filterName = string(drv)
		c.clean, _ = cfg.Get("filter", c.filterName, "clean")
		c.smudge, _ = cfg.Get("filter", c.filterName, "smudge")
		if v, ok := cfg.Get("filter", c.filterName, "process"); ok && v != "" {
			c.unsupportedReason = "filter." + c.filterName + ".process (a long-running filter)"
		}
		if v, _ := cfg.Get("filter", c.filterName, "required"); strings.EqualFold(v, "true") {
			c.filterRequired = true
		}
	}
	return c
}

// outputCRLF is output_eol() == EOL_CRLF.
func (c conv) outputCRLF() bool {
	switch c.action {
	case crlfTextCRLF, crlfAutoCRLF:
		return true
	case crlfText, crlfAuto:
		return c.eolIsCRLF
	}
	return false
}

func (c conv) auto() bool {
	return c.action == crlfAuto || c.action == crlfAutoInput || c.action == crlfAutoCRLF
}

type textStats struct{ nul, lonecr, lonelf, crlf, printable, nonprintable int }

func gatherStats(b []byte) textStats {
	var s textStats
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch {
		case c == '\r':
			if i+1 < len(b) && b[i+1] == '\n' {
				s.crlf++
				i++
			} else {
				s.lonecr++
			}
		case c == '\n':
			s.lonelf++
		case c == 127:
			s.nonprintable++
		case c < 32:
			switch c {
			case '\b', '\t', 033, 014:
				s.printable++
			case 0:
				s.nul++
				s.nonprintable++
			default:
				s.nonprintable++
			}
		default:
			s.printable++
		}
	}
	if len(b) > 0 && b[len(b)-1] == 032 {
		s.nonprintable--
	}
	return s
}

func (s textStats) binary() bool {
	return s.lonecr > 0 || s.nul > 0 || (s.printable>>7) < s.nonprintable
}

func runFilter(cmdline, p string, in []byte) ([]byte, error) {
	q := "'" + strings.ReplaceAll(p, "'", `'\''`) + "'"
	cmd := exec.Command("sh", "-c", strings.ReplaceAll(cmdline, "%f", q))
	cmd.Stdin = bytes.NewReader(in)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("filter %q on %s: %v: %s", cmdline, p, err, errb.String())
	}
	return out.Bytes(), nil
}

// toGit converts work tree content to what git would store (the clean
// direction); indexBlob is the content of the path's index entry (for
// the "CR in the index" rule of text=auto).
func (c conv) toGit(raw, indexBlob []byte) ([]byte, error) {
	if c.unsupportedReason != "" {
		return nil, fmt.Errorf("%s: %s is not supported", c.path, c.unsupportedReason)
	}
	data := raw
	if c.clean != "" {
		var err error
		if data, err = runFilter(c.clean, c.path, raw); err != nil {
			if c.filterRequired {
				return nil, err
			}
			data = raw
		}
	} else if c.filterRequired {
		return nil, fmt.Errorf("%s: filter %s is required but has no clean command", c.path, c.filterName)
	}
	if c.action == crlfUndefined || c.action == crlfBinary {
		return data, nil
	}
	st := gatherStats(data)
	if st.crlf == 0 {
		return data, nil
	}
	if c.auto() {
		if st.binary() {
			return data, nil
		}
		if bytes.IndexByte(indexBlob, '\r') >= 0 {
			is := gatherStats(indexBlob)
			if !is.binary() && is.crlf > 0 {
				return data, nil
			}
		}
	}
	out := make([]byte, 0, len(data))
	for i := 0; i < len(data); i++ {
		if data[i] == '\r' && i+1 < len(data) && data[i+1] == '\n' {
			continue
		}
		out = append(out, data[i])
	}
	return out, nil
}

// toWorkTree converts blob content to what git checkout writes (the
// smudge direction).
func (c conv) toWorkTree(blob []byte) ([]byte, error) {
	if c.unsupportedReason != "" {
		return nil, fmt.Errorf("%s: %s is not supported", c.path, c.unsupportedReason)
	}
	data := blob
	if c.outputCRLF() {
		st := gatherStats(blob)
		convert := st.lonelf > 0
		if convert && c.auto() && (st.lonecr > 0 || st.crlf > 0 || st.binary()) {
			convert = false
		}
		if convert {
			out := make([]byte, 0, len(blob)+st.lonelf)
			for i, b := range blob {
				if b == '\n' && (i == 0 || blob[i-1] != '\r') {
					out = append(out, '\r')
				}
				out = append(out, b)
			}
			data = out
		}
	}
	if c.smudge != "" {
		out, err := runFilter(c.smudge, c.path, data)
		if err != nil {
			if c.filterRequired {
				return nil, err
			}
			return data, nil
		}
		return out, nil
	} else if c.filterRequired {
		return nil, fmt.Errorf("%s: filter %s is required but has no smudge command", c.path, c.filterName)
	}
	return data, nil
}
