// Package capi checks C API consistency with modernc.org/cc/v4: for every
// function a header declares, the prototype seen with a Kconfig option on
// and the stub seen with it off must agree in return type, parameter
// types and (as a warning) parameter names; every function a .c unit
// defines must agree with the prototype its headers give, and a
// non-static definition must be declared in a header the unit includes.
//
// Each file is preprocessed with the kernel's own flags in an out-of-tree
// build directory: a .c unit through "make O=BUILD dir/file.i" (so that
// kbuild prepares the directory and applies the directory's flags) and a
// header in a one-line unit with the generic flags kbuild records for
// kernel/bounds.c. The "on" and "off" views differ only in a header
// forced in after the kernel's own: it defines CONFIG_X to 1, or undefines
// it (and CONFIG_X_MODULE). Options that depend on CONFIG_X keep their
// value from the build directory's .config; that is what lets the check
// see a stub even for an option that the architecture always selects.
//
// The preprocessed text goes through a small text pre-pass (constructs of
// GCC's output cc/v4 rejects, rewritten into equivalents) and then
// cc.Translate with cfg.Header set (function bodies are not type
// checked). Types are compared as canonical strings (typedefs resolved,
// structs, unions and enums by tag, "(void)" as no parameters), not with
// IsCompatible. What cannot be checked is reported as such, never passed.
package capi

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"modernc.org/cc/v4"
)

// Level of a finding.
type Level string

// Levels.
const (
	Error   Level = "ERROR"
	Warning Level = "WARNING"
)

// Finding kinds.
const (
	KindResult     = "result-type"   // return types differ
	KindParamCount = "param-count"   // numbers of parameters (or variadic-ness) differ
	KindParamType  = "param-type"    // a parameter's type differs
	KindParamName  = "param-name"    // a parameter's name differs (warning)
	KindUndeclared = "undeclared"    // a non-static definition with no declaration in a header
	KindNotChecked = "not-checked"   // used for Unchecked entries
	KindConflict   = "decl-conflict" // two declarations in one view disagree
)

// Finding is one disagreement.
type Finding struct {
	Func    string
	Level   Level
	Kind    string
	Message string
	File    string // where to look: the stub, the definition, or the declaration
	Line    int
	Other   string // file:line of the declaration it was compared with
	// Key identifies the disagreement independently of line numbers (the
	// same problem seen in several versions of a file has one key).
	Key string
}

func (f Finding) String() string {
	return fmt.Sprintf("%s:%d: %s:%s: %s", f.File, f.Line, f.Level, f.Kind, f.Message)
}

// Unchecked is something the checker could not check, and why.
type Unchecked struct {
	What   string // a file, a view, or a function
	Reason string
	// Fatal is set when nothing of What could be checked (the file did
	// not preprocess or translate).
	Fatal bool
}

// Report is the result of Check.
type Report struct {
	Files     []string
	Compared  int // pairs of declarations compared
	Unchanged int // files not parsed again: same preprocessed text as in an earlier check (Options.Cache)
	Findings  []Finding
	Unchecked []Unchecked
	Elapsed   time.Duration
}

// Errors counts ERROR findings.
func (r *Report) Errors() int {
	n := 0
	for _, f := range r.Findings {
		if f.Level == Error {
			n++
		}
	}
	return n
}

// Options configure Check.
type Options struct {
	Tree  string // kernel source tree
	Build string // out-of-tree build directory (configured on first use)
	// ConfigOff names the options whose "off" view gives the stubs
	// ("UNWIND_USER" or "CONFIG_UNWIND_USER").
	ConfigOff []string
	Progress  func(format string, args ...any)
	// Cache, when set, is shared by repeated checks of one tree and build
	// directory (lint checks the series after every patch): the compiler
	// commands kbuild recorded are reused instead of running make again,
	// and a file whose preprocessed views are the same as in an earlier
	// check is not parsed again (it cannot say anything new).
	Cache *Cache
}

// Cache is shared state for repeated checks; see Options.Cache.
type Cache struct {
	argv    map[string][]string
	hdrArgv []string
	seen    map[[32]byte]bool
}

// NewCache returns an empty cache.
func NewCache() *Cache {
	return &Cache{argv: map[string][]string{}, seen: map[[32]byte]bool{}}
}

// same reports whether parts were seen before, and records them.
func (c *Cache) same(parts ...string) bool {
	h := sha256.New()
	for _, p := range parts {
		fmt.Fprintf(h, "%d:%s", len(p), p)
	}
	var k [32]byte
	copy(k[:], h.Sum(nil))
	if c.seen[k] {
		return true
	}
	c.seen[k] = true
	return false
}

// Check checks files (tree-relative or absolute paths of headers and .c
// units inside opt.Tree).
func Check(ctx context.Context, opt Options, files []string) (*Report, error) {
	start := time.Now()
	if opt.Progress == nil {
		opt.Progress = func(string, ...any) {}
	}
	tree, err := filepath.Abs(opt.Tree)
	if err != nil {
		return nil, err
	}
	build, err := filepath.Abs(opt.Build)
	if err != nil {
		return nil, err
	}
	k := &kbuild{tree: tree, build: build, progress: opt.Progress}
	if err := k.ensureConfig(ctx); err != nil {
		return nil, err
	}
	cache := opt.Cache
	if cache == nil {
		cache = NewCache()
	}
	c := &checker{k: k, tree: tree, rep: &Report{}, cache: cache}
	for _, o := range opt.ConfigOff {
		if o = "CONFIG_" + strings.TrimPrefix(o, "CONFIG_"); !slices.Contains(c.opts, o) {
			c.opts = append(c.opts, o)
		}
	}
	c.scratch = filepath.Join(build, ".kcheck-api")
	if err := os.MkdirAll(c.scratch, 0o755); err != nil {
		return nil, err
	}
	if err := c.writeViews(); err != nil {
		return nil, err
	}
	var headers, units []string
	for _, f := range files {
		rel, err := c.rel(f)
		if err != nil {
			return nil, err
		}
		if _, err := os.Stat(c.abs(rel)); err != nil {
			return nil, fmt.Errorf("capi: %s: %w", rel, err)
		}
		switch filepath.Ext(rel) {
		case ".h":
			headers = append(headers, rel)
		case ".c":
			units = append(units, rel)
		default:
			return nil, fmt.Errorf("capi: %s is neither a header (.h) nor a unit (.c)", rel)
		}
	}
	var need []string
	for _, u := range units {
		if _, ok := c.cache.argv[u]; !ok {
			need = append(need, u)
		}
	}
	if len(need) > 0 {
		m, err := k.unitArgvs(ctx, need)
		if err != nil {
			return nil, err
		}
		for u, argv := range m {
			c.cache.argv[u] = argv
		}
	}
	for _, u := range units {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		more, err := c.checkUnit(ctx, u)
		if err != nil {
			return nil, err
		}
		for _, h := range more {
			if !slices.Contains(headers, h) {
				headers = append(headers, h)
			}
		}
	}
	for _, h := range headers {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if err := c.checkHeader(ctx, h); err != nil {
			return nil, err
		}
	}
	c.rep.Files = append(units, headers...)
	sort.SliceStable(c.rep.Findings, func(i, j int) bool {
		a, b := c.rep.Findings[i], c.rep.Findings[j]
		if a.File != b.File {
			return a.File < b.File
		}
		return a.Line < b.Line
	})
	c.rep.Elapsed = time.Since(start)
	return c.rep, nil
}

type checker struct {
	k        *kbuild
	tree     string
	opts     []string
	scratch  string
	rep      *Report
	cache    *Cache
	srcCache map[string][]string
}

func (c *checker) rel(f string) (string, error) {
	if !filepath.IsAbs(f) {
		return filepath.ToSlash(filepath.Clean(f)), nil
	}
	r, err := filepath.Rel(c.tree, f)
	if err != nil || strings.HasPrefix(r, "..") {
		if filepath.Ext(f) == ".h" {
			return filepath.Clean(f), nil // a header outside the tree: checked by its absolute path
		}
		return "", fmt.Errorf("capi: %s is not inside the tree %s (only headers may be outside it)", f, c.tree)
	}
	return filepath.ToSlash(r), nil
}

func (c *checker) abs(rel string) string {
	if filepath.IsAbs(rel) {
		return rel
	}
	return filepath.Join(c.tree, rel)
}

// relMarker maps a file name of a line marker to a tree-relative name.
func (c *checker) relMarker(f string) string {
	if strings.HasPrefix(f, c.tree+"/") {
		return f[len(c.tree)+1:]
	}
	if strings.HasPrefix(f, "./") {
		return f[2:] // generated file in the build directory
	}
	return f
}

func (c *checker) view(on bool) string {
	if on {
		return filepath.Join(c.scratch, "view-on.h")
	}
	return filepath.Join(c.scratch, "view-off.h")
}

func (c *checker) viewName(on bool) string {
	if len(c.opts) == 0 {
		return "the build's config"
	}
	var s []string
	for _, o := range c.opts {
		if on {
			s = append(s, o+"=y")
		} else {
			s = append(s, "!"+o)
		}
	}
	return strings.Join(s, " ")
}

func (c *checker) writeViews() error {
	var on, off strings.Builder
	on.WriteString("/* kcheck api: the option-on view */\n")
	off.WriteString("/* kcheck api: the option-off view */\n")
	for _, o := range c.opts {
		fmt.Fprintf(&on, "#undef %s\n#define %s 1\n#undef %s_MODULE\n", o, o, o)
		fmt.Fprintf(&off, "#undef %s\n#undef %s_MODULE\n", o, o)
	}
	if err := os.WriteFile(c.view(true), []byte(on.String()), 0o644); err != nil {
		return err
	}
	return os.WriteFile(c.view(false), []byte(off.String()), 0o644)
}

// cpp preprocesses one view of a unit; "" (after recording why) when it
// fails.
func (c *checker) cpp(ctx context.Context, argv []string, src, what string, on bool) string {
	sum := sha256.Sum256([]byte(src + what))
	out := filepath.Join(c.scratch, hex.EncodeToString(sum[:6])+map[bool]string{true: "-on.i", false: "-off.i"}[on])
	text, err := c.k.cpp(ctx, argv, c.view(on), src, out)
	if err != nil {
		c.rep.Unchecked = append(c.rep.Unchecked, Unchecked{What: fmt.Sprintf("%s (%s)", what, c.viewName(on)), Reason: err.Error(), Fatal: true})
		return ""
	}
	return text
}

// parse translates one preprocessed view. It returns nil (after
// recording why) when the view cannot be checked.
func (c *checker) parse(text, what string, on bool) (*unit, *cc.AST) {
	name := fmt.Sprintf("%s (%s)", what, c.viewName(on))
	t := time.Now()
	u := newUnit(name, text, c.relMarker)
	ast, err := u.translate()
	if err != nil {
		c.rep.Unchecked = append(c.rep.Unchecked, Unchecked{What: name, Reason: "cc/v4 cannot parse it: " + err.Error(), Fatal: true})
		return nil, nil
	}
	c.k.progress("capi: %s parsed in %.1fs", name, time.Since(t).Seconds())
	return u, ast
}

// checkHeader compares, for the functions declared in header h, the
// option-on prototype with the option-off stub; without options, the
// declarations of each function in the header with each other.
func (c *checker) checkHeader(ctx context.Context, h string) error {
	if c.cache.hdrArgv == nil {
		argv, err := c.k.headerArgv(ctx)
		if err != nil {
			return err
		}
		c.cache.hdrArgv = argv
	}
	argv := c.cache.hdrArgv
	src := filepath.Join(c.scratch, strings.NewReplacer("/", "__", ".", "_").Replace(h)+".c")
	body := fmt.Sprintf("/* kcheck api: %s alone */\n#include \"%s\"\n", h, c.abs(h))
	if err := os.WriteFile(src, []byte(body), 0o644); err != nil {
		return err
	}
	inH := func(f string) bool { return f == h }
	textOn := c.cpp(ctx, argv, src, h, true)
	if textOn == "" {
		return nil
	}
	textOff := ""
	if len(c.opts) > 0 {
		if textOff = c.cpp(ctx, argv, src, h, false); textOff == "" {
			return nil
		}
	}
	if c.cache.same("header", h, textOn, textOff) {
		c.rep.Unchanged++
		return nil
	}
	uOn, aOn := c.parse(textOn, h, true)
	if aOn == nil {
		return nil
	}
	on := uOn.funcs(aOn, inH)
	c.sameView(on)
	if len(c.opts) == 0 {
		return nil
	}
	uOff, aOff := c.parse(textOff, h, false)
	if aOff == nil {
		return nil
	}
	off := uOff.funcs(aOff, inH)
	offBy := byName(off)
	onBy := byName(on)
	for _, name := range slices.Sorted(maps.Keys(onBy)) {
		p := onBy[name][0]
		s, ok := offBy[name]
		if !ok {
			reason := fmt.Sprintf("declared only with %s: no stub to compare", c.viewName(true))
			if m, isMacro := aOff.Macros[name]; isMacro && m.IsFnLike {
				reason = fmt.Sprintf("with %s it is a macro, which has no C type", c.viewName(false))
			}
			c.rep.Unchecked = append(c.rep.Unchecked, Unchecked{What: fmt.Sprintf("%s (%s)", name, p.where()), Reason: reason})
			continue
		}
		c.compareIn(p, s[0], "prototype", "stub", c.viewName(true), c.viewName(false))
	}
	return nil
}

// checkUnit compares each function unit u defines with the declarations
// its headers give, and flags non-static definitions no header declares.
// It returns the tree headers the unit includes that mention one of the
// options, for checkHeader.
func (c *checker) checkUnit(ctx context.Context, u string) ([]string, error) {
	argv, ok := c.cache.argv[u]
	if !ok {
		var err error
		if argv, err = c.k.unitArgv(ctx, u); err != nil {
			return nil, err
		}
		c.cache.argv[u] = argv
	}
	text := c.cpp(ctx, argv, filepath.Join(c.tree, u), u, true)
	if text == "" {
		return nil, nil
	}
	if c.cache.same("unit", u, text) {
		c.rep.Unchanged++
		return nil, nil
	}
	un, ast := c.parse(text, u, true)
	if ast == nil {
		return nil, nil
	}
	all := un.funcs(ast, func(string) bool { return true })
	by := byName(all)
	for _, name := range slices.Sorted(maps.Keys(by)) {
		var defs, decls []*Func
		for _, f := range by[name] {
			switch {
			case f.File == u && f.Def:
				defs = append(defs, f)
			case f.File != u && !strings.HasSuffix(f.File, ".c"):
				decls = append(decls, f)
			}
		}
		for _, d := range defs {
			if !c.literal(d) {
				c.rep.Unchecked = append(c.rep.Unchecked, Unchecked{What: fmt.Sprintf("%s (%s)", name, d.where()),
					Reason: "defined by a macro expansion (e.g. SYSCALL_DEFINE): the macro provides its declaration"})
				continue
			}
			if len(decls) == 0 {
				if !d.Static {
					c.rep.Findings = append(c.rep.Findings, Finding{Func: name, Level: Error, Kind: KindUndeclared, Key: KindUndeclared + "|" + name,
						File: d.File, Line: d.Line,
						Message: fmt.Sprintf("%s is defined non-static but no header that %s includes declares it (make it static or declare it in a header)", name, u)})
				}
				continue
			}
			c.compare(decls[0], d, "declaration", "definition")
		}
	}
	if len(c.opts) == 0 {
		return nil, nil
	}
	var hs []string
	seen := map[string]bool{}
	for _, s := range un.segs {
		if seen[s.file] || !strings.HasSuffix(s.file, ".h") || filepath.IsAbs(s.file) {
			continue
		}
		seen[s.file] = true
		b, err := os.ReadFile(filepath.Join(c.tree, s.file))
		if err != nil {
			continue // generated header in the build directory
		}
		for _, o := range c.opts {
			if strings.Contains(string(b), o) {
				hs = append(hs, s.file)
				break
			}
		}
	}
	return hs, nil
}

// literal reports whether f's name is written on its source line (and so
// not made by a macro expansion).
func (c *checker) literal(f *Func) bool {
	if c.srcCache == nil {
		c.srcCache = map[string][]string{}
	}
	ls, ok := c.srcCache[f.File]
	if !ok {
		b, err := os.ReadFile(c.abs(f.File))
		if err == nil {
			ls = strings.Split(string(b), "\n")
		}
		c.srcCache[f.File] = ls
	}
	if f.Line < 1 || f.Line > len(ls) {
		return true
	}
	return strings.Contains(ls[f.Line-1], f.Name)
}

// sameView compares the declarations of each function within one view.
func (c *checker) sameView(fs []*Func) {
	by := byName(fs)
	for _, name := range slices.Sorted(maps.Keys(by)) {
		ds := by[name]
		for _, d := range ds[1:] {
			c.compare(ds[0], d, "declaration", "redeclaration")
		}
	}
}

// compare reports how b disagrees with a.
func (c *checker) compare(a, b *Func, aRole, bRole string) {
	c.compareIn(a, b, aRole, bRole, "", "")
}

// compareIn reports how b disagrees with a; aView and bView say under
// which configuration each was seen ("" when it does not matter).
func (c *checker) compareIn(a, b *Func, aRole, bRole, aView, bView string) {
	c.rep.Compared++
	add := func(l Level, kind, key, format string, args ...any) {
		c.rep.Findings = append(c.rep.Findings, Finding{Func: a.Name, Level: l, Kind: kind, File: b.File, Line: b.Line,
			Other: a.where(), Message: fmt.Sprintf(format, args...), Key: kind + "|" + a.Name + "|" + key})
	}
	in := func(v string) string {
		if v == "" {
			return ""
		}
		return " with " + v
	}
	both := fmt.Sprintf("%s at %s%s, %s at %s%s", aRole, a.where(), in(aView), bRole, b.where(), in(bView))
	if a.Result != b.Result {
		add(Error, KindResult, a.Result+"|"+b.Result, "%s: return type differs: %s has %q, %s has %q (%s)", a.Name, aRole, a.Result, bRole, b.Result, both)
	}
	if len(a.Params) != len(b.Params) || a.Variadic != b.Variadic {
		add(Error, KindParamCount, a.Signature()+"|"+b.Signature(), "%s: parameters differ: %s is %q, %s is %q (%s)", a.Name, aRole, a.Signature(), bRole, b.Signature(), both)
		return
	}
	for i := range a.Params {
		if a.Params[i] != b.Params[i] {
			add(Error, KindParamType, fmt.Sprintf("%d|%s|%s", i, a.Params[i], b.Params[i]), "%s: parameter %d (%s) type differs: %s has %q, %s has %q (%s)",
				a.Name, i+1, nameOr(a.Names[i], b.Names[i]), aRole, a.Params[i], bRole, b.Params[i], both)
		}
	}
	for i := range a.Names {
		if a.Names[i] != "" && b.Names[i] != "" && a.Names[i] != b.Names[i] {
			add(Warning, KindParamName, fmt.Sprintf("%d|%s|%s", i, a.Names[i], b.Names[i]), "%s: parameter %d is named %q in the %s but %q in the %s (%s)",
				a.Name, i+1, a.Names[i], aRole, b.Names[i], bRole, both)
		}
	}
}

func nameOr(a, b string) string {
	if a != "" {
		return a
	}
	if b != "" {
		return b
	}
	return "unnamed"
}

func byName(fs []*Func) map[string][]*Func {
	m := map[string][]*Func{}
	for _, f := range fs {
		m[f.Name] = append(m[f.Name], f)
	}
	return m
}
