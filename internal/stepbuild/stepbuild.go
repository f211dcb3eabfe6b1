// Package stepbuild builds a series after every patch, incrementally in one
// build directory per configuration, with the feature on and with it off,
// and reports the first patch that breaks the build or adds a W=1
// warning in a file the series touches, with the compiler's message.
//
// Each configuration is a tinyconfig base (internal/kbuild) plus a few
// options that bring in the code the series touches. "on" is x86_64, where
// the series selects its feature; "off" is i386, where it does not, so the
// !CONFIG stubs and every caller's off path get compiled.
//
// The build is staged for speed on small machines:
//
//  1. At the base (no patch applied), the objects of the .c files the
//     series touches are compiled: the W=1 warnings already there are
//     the baseline.
//  2. After each patch, the objects of the .c files the series has
//     touched so far that the configuration builds are remade (make
//     recompiles what the patch made stale, headers included). An error
//     or a warning in a touched file that the baseline does not have is
//     reported at that patch.
//  3. After the last patch, vmlinux is built in full, which also catches
//     link errors and breakage in files the series does not touch. If it
//     fails, the first failing patch is found by bisection with full
//     builds.
//
// With Options.Full, every step builds vmlinux in full instead (exact,
// slow).
package stepbuild

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/kdefer/kdefer/internal/kconfig"

	"github.com/kdefer/kdefer/internal/kbuild"
	"github.com/kdefer/kdefer/internal/workspace"
)

// Config is one configuration to build every patch with.
type Config struct {
	Name  string   // "on", "off"
	Arch  string   // kbuild arch: "x86_64" or "i386"
	Extra []string // config lines on top of tinyconfig
	What  string   // what it shows, for reports
	// Force names symbols without a prompt (CONFIG_UNWIND_USER) that
	// only a later patch selects. At a step where a touched .c file
	// exists but the configuration does not build it only because such
	// a symbol is off, its object is compiled alone with the symbol
	// defined (CFLAGS_<file>.o=-DCONFIG_X=1), so every step compiles the
	// code it adds.
	Force []string
}

// DefaultConfigs are the feature-on and feature-off configurations.
func DefaultConfigs() []Config {
	// BPF (for kernel/bpf/stackmap.c, which the perf patches touch) costs
	// about a hundred more files per full build; one configuration is
	// enough to compile it.
	return []Config{
		{Name: "on", Arch: "x86_64", Extra: []string{"CONFIG_PERF_EVENTS=y", "CONFIG_BPF_SYSCALL=y"},
			What:  "x86_64 tinyconfig + perf + bpf: the series' feature selected",
			Force: []string{"CONFIG_UNWIND_USER"}},
		{Name: "off", Arch: "i386", Extra: []string{"CONFIG_PERF_EVENTS=y"},
			What: "i386 tinyconfig + perf: the feature not selected, stubs compiled"},
	}
}

// Options configure Run.
type Options struct {
	Scratch  *workspace.Scratch
	Configs  []Config // default DefaultConfigs()
	Jobs     int      // make -j (default 2)
	Full     bool     // build vmlinux in full after every patch
	Progress func(format string, args ...any)
}

// Step is the outcome of one configuration at one patch.
type Step struct {
	Patch    int // 0 = base
	Config   string
	Status   string // "ok", "error", "warning", "not built", "not run"
	Message  string // the compiler's message for error/warning, or why not built/run
	File     string
	Line     int
	Objects  int      // objects asked for
	NotBuilt []string // touched .c files this configuration does not build
	// Forced are the objects compiled alone with Config.Force symbols
	// defined, as "kernel/unwind/deferred.o (CONFIG_UNWIND_USER)".
	Forced   []string
	Compiled int // files make compiled
	Duration time.Duration
}

// Break is the first problem found in one configuration.
type Break struct {
	Patch   int
	Config  string
	Kind    string // "error" or "warning"
	Message string
	File    string
	Line    int
}

// Result of Run.
type Result struct {
	Steps   []Step
	Breaks  []Break // first per configuration
	Elapsed time.Duration
	// Final holds the full vmlinux build after the last patch, per
	// configuration ("ok" or the error).
	Final map[string]string
}

// Failed reports whether some configuration broke.
func (r *Result) Failed() bool { return len(r.Breaks) > 0 }

// At returns the step of config at patch, or nil.
func (r *Result) At(config string, patch int) *Step {
	for i := range r.Steps {
		if r.Steps[i].Config == config && r.Steps[i].Patch == patch {
			return &r.Steps[i]
		}
	}
	return nil
}

// Run builds the series s in opt.Scratch.
func Run(ctx context.Context, s *workspace.Series, opt Options) (*Result, error) {
	start := time.Now()
	if opt.Configs == nil {
		opt.Configs = DefaultConfigs()
	}
	if opt.Jobs == 0 {
		opt.Jobs = 2
	}
	if opt.Progress == nil {
		opt.Progress = func(string, ...any) {}
	}
	r := &Result{Final: map[string]string{}}
	for _, c := range opt.Configs {
		if err := runConfig(ctx, s, opt, c, r); err != nil {
			return nil, err
		}
	}
	r.Elapsed = time.Since(start)
	return r, nil
}

type wkey struct{ file, flag, msg string }

func keyOf(w kbuild.Warning) wkey { return wkey{w.File, w.Flag, w.Message} }

func runConfig(ctx context.Context, s *workspace.Series, opt Options, c Config, r *Result) error {
	sc := opt.Scratch
	if err := sc.Reset(ctx); err != nil {
		return err
	}
	defer sc.Reset(context.WithoutCancel(ctx))
	touched := map[string]bool{} // every file the series touches
	for _, p := range s.Patches {
		for _, f := range p.Touches() {
			touched[f] = true
		}
	}
	kopt := kbuild.Options{Src: sc.Dir, Arch: c.Arch, ExtraConfig: c.Extra, W1: true, Jobs: opt.Jobs,
		Progress: func(f string, a ...any) { opt.Progress("build --each [%s] "+f, append([]any{c.Name}, a...)...) }}
	build := func(patch int, targets []string) (*kbuild.Result, error) {
		o := kopt
		o.Targets = targets
		return kbuild.Build(ctx, o)
	}
	// Base: configure, and the baseline warnings of the touched files.
	opt.Progress("build --each [%s]: base", c.Name)
	res, err := build(0, []string{"prepare"})
	if err != nil {
		return baseFailure(r, c, err, sc.Dir)
	}
	cfg, err := readConfig(res.Config)
	if err != nil {
		return err
	}
	objs := objects(sc.Dir, cfg, slices.Sorted(maps.Keys(touched)), nil)
	seen := map[wkey]bool{}
	t := time.Now()
	if opt.Full {
		objs = []string{"vmlinux"}
	}
	if len(objs) > 0 {
		res, err = build(0, objs)
		if err != nil {
			return baseFailure(r, c, err, sc.Dir)
		}
	}
	for _, w := range res.Warnings {
		seen[keyOf(w)] = true
	}
	r.Steps = append(r.Steps, Step{Patch: 0, Config: c.Name, Status: "ok", Objects: len(objs), Compiled: res.Compiled, Duration: time.Since(t)})

	broken := false
	for _, p := range s.Patches {
		if err := ctx.Err(); err != nil {
			return err
		}
		st := Step{Patch: p.Index, Config: c.Name}
		if broken {
			st.Status, st.Message = "not run", "an earlier patch broke this configuration"
			r.Steps = append(r.Steps, st)
			continue
		}
		if err := sc.Apply(ctx, p.Path); err != nil {
			st.Status, st.Message = "error", err.Error()
			r.Steps = append(r.Steps, st)
			r.Breaks = append(r.Breaks, Break{Patch: p.Index, Config: c.Name, Kind: "error", Message: err.Error()})
			broken = true
			continue
		}
		// The targets come from the configuration before the patch; a
		// patch that edits Kconfig may change it, so the targets are
		// computed again afterwards and the new ones built too.
		objs := objects(sc.Dir, cfg, slices.Sorted(maps.Keys(touched)), nil)
		if opt.Full || p.Index == len(s.Patches) {
			objs = append(objs, "vmlinux")
		}
		if len(objs) == 0 {
			objs = []string{"prepare"}
		}
		t := time.Now()
		opt.Progress("build --each [%s]: patch %d/%d: %d targets", c.Name, p.Index, len(s.Patches), len(objs))
		res, err := build(p.Index, objs)
		var warns []kbuild.Warning
		if res != nil {
			st.Compiled = res.Compiled
			warns = append(warns, res.Warnings...)
		}
		if err == nil {
			cfg, _ = readConfig(res.Config)
			var more []string
			for _, o := range objects(sc.Dir, cfg, slices.Sorted(maps.Keys(touched)), nil) {
				if !slices.Contains(objs, o) {
					more = append(more, o)
				}
			}
			if len(more) > 0 {
				objs = append(objs, more...)
				res, err = build(p.Index, more)
				if res != nil {
					st.Compiled += res.Compiled
					warns = append(warns, res.Warnings...)
				}
			}
		}
		if err == nil && len(c.Force) > 0 {
			var forced []kbuild.Warning
			st.Forced, forced, err = buildForced(sc.Dir, cfg, c.Force, slices.Sorted(maps.Keys(touched)), func(targets []string) (*kbuild.Result, error) {
				return build(p.Index, targets)
			})
			warns = append(warns, forced...)
			if len(st.Forced) > 0 {
				opt.Progress("build --each [%s]: patch %d/%d: compiled alone: %s", c.Name, p.Index, len(s.Patches), strings.Join(st.Forced, ", "))
			}
		}
		st.Objects = len(objs)
		objects(sc.Dir, cfg, slices.Sorted(maps.Keys(touched)), &st.NotBuilt)
		st.Duration = time.Since(t)
		if err != nil {
			st.Status, st.Message = "error", buildMessage(err, sc.Dir)
			st.File, st.Line = errLocation(st.Message)
		} else {
			st.Status = "ok"
			var news []kbuild.Warning
			for _, w := range warns {
				k := keyOf(w)
				if seen[k] {
					continue
				}
				seen[k] = true
				if touched[w.File] {
					news = append(news, w)
				}
			}
			if len(news) > 0 {
				st.Status, st.Message, st.File, st.Line = "warning", news[0].String(), news[0].File, news[0].Line
				if len(news) > 1 {
					st.Message += fmt.Sprintf(" (and %d more)", len(news)-1)
				}
			}
		}
		if p.Index == len(s.Patches) {
			if st.Status == "error" {
				r.Final[c.Name] = st.Message
			} else {
				r.Final[c.Name] = "ok"
			}
		}
		r.Steps = append(r.Steps, st)
		if st.Status == "error" || st.Status == "warning" {
			r.Breaks = append(r.Breaks, Break{Patch: p.Index, Config: c.Name, Kind: st.Status, Message: st.Message, File: st.File, Line: st.Line})
			broken = st.Status == "error"
			if st.Status == "error" && p.Index == len(s.Patches) && !opt.Full {
				// Only the full build failed: find where it started.
				if err := bisectFull(ctx, s, opt, c, build, r); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// bisectFull finds the first patch whose full build fails, when only the
// full build after the last patch showed the failure.
func bisectFull(ctx context.Context, s *workspace.Series, opt Options, c Config, build func(int, []string) (*kbuild.Result, error), r *Result) error {
	sc := opt.Scratch
	lo, hi := 0, len(s.Patches) // lo builds (base assumed good), hi fails
	var hiErr error
	for hi-lo > 1 {
		mid := (lo + hi) / 2
		opt.Progress("build --each [%s]: bisecting the full build: patch %d", c.Name, mid)
		if err := sc.Reset(ctx); err != nil {
			return err
		}
		for _, p := range s.Patches[:mid] {
			if err := sc.Apply(ctx, p.Path); err != nil {
				return err
			}
		}
		if _, err := build(mid, []string{"vmlinux"}); err != nil {
			hi, hiErr = mid, err
		} else {
			lo = mid
		}
	}
	if hi == len(s.Patches) {
		return nil // the last patch itself: already reported
	}
	msg := buildMessage(hiErr, sc.Dir)
	file, line := errLocation(msg)
	// Replace the last patch's break by the earlier one.
	last := len(r.Breaks) - 1
	r.Breaks[last] = Break{Patch: hi, Config: c.Name, Kind: "error", Message: msg, File: file, Line: line}
	if st := r.At(c.Name, hi); st != nil {
		st.Status, st.Message, st.File, st.Line = "error", msg+" (found by bisecting the full build)", file, line
	}
	return nil
}

func baseFailure(r *Result, c Config, err error, srcDir string) error {
	var ce *kbuild.ConfigError
	if errors.As(err, &ce) {
		return fmt.Errorf("build --each [%s]: the configuration is not possible on this tree: %w", c.Name, err)
	}
	r.Steps = append(r.Steps, Step{Patch: 0, Config: c.Name, Status: "error", Message: "the base tree does not build: " + buildMessage(err, srcDir)})
	r.Breaks = append(r.Breaks, Break{Patch: 0, Config: c.Name, Kind: "error", Message: "the base tree does not build: " + buildMessage(err, srcDir)})
	return nil
}

// buildMessage is the compiler's message for a failed build, with the
// scratch tree path (srcDir) the compiler prints in front of file names
// removed.
func buildMessage(err error, srcDir string) string {
	var be *kbuild.BuildError
	msg := err.Error()
	if errors.As(err, &be) && be.FirstError != "" {
		msg = strings.TrimSpace(be.FirstError)
	}
	if srcDir != "" {
		msg = strings.ReplaceAll(msg, srcDir+"/", "")
	}
	return msg
}

// errLocation finds "file:line:" in a compiler message.
func errLocation(msg string) (string, int) {
	for _, l := range strings.Split(msg, "\n") {
		var f string
		var n int
		parts := strings.SplitN(l, ":", 3)
		if len(parts) == 3 {
			f = strings.TrimSpace(parts[0])
			if _, err := fmt.Sscanf(parts[1], "%d", &n); err == nil && strings.Contains(f, ".") {
				return f, n
			}
		}
	}
	return "", 0
}

// objects returns the make targets (dir/file.o) of the touched .c files
// that cfg builds; the others go to skipped.
func objects(tree string, cfg map[string]string, files []string, skipped *[]string) []string {
	var out []string
	for _, f := range files {
		if !strings.HasSuffix(f, ".c") {
			continue
		}
		if _, err := os.Stat(filepath.Join(tree, f)); err != nil {
			continue // not yet added at this step
		}
		if inConfig(tree, cfg, f) {
			out = append(out, strings.TrimSuffix(f, ".c")+".o")
		} else if skipped != nil {
			*skipped = append(*skipped, f)
		}
	}
	sort.Strings(out)
	return out
}

// buildForced compiles, one make call each, the objects of the touched
// .c files that cfg does not build but would with the force symbols set
// to y, with those symbols defined for that object only. It returns the
// objects compiled (with the symbols they needed), the warnings, and the
// first build error.
func buildForced(tree string, cfg map[string]string, force, touched []string, build func([]string) (*kbuild.Result, error)) ([]string, []kbuild.Warning, error) {
	var notBuilt []string
	objects(tree, cfg, touched, &notBuilt)
	if len(notBuilt) == 0 {
		return nil, nil, nil
	}
	with := map[string]string{}
	for k, v := range cfg {
		with[k] = v
	}
	var missing []string
	for _, sym := range force {
		if cfg[sym] != "y" {
			with[sym] = "y"
			missing = append(missing, sym)
		}
	}
	if len(missing) == 0 {
		return nil, nil, nil
	}
	var done []string
	var warns []kbuild.Warning
	for _, f := range notBuilt {
		if !inConfig(tree, with, f) {
			continue
		}
		obj := strings.TrimSuffix(f, ".c") + ".o"
		var defs []string
		for _, sym := range missing {
			defs = append(defs, "-D"+sym+"=1")
		}
		// A make variable, not a target: kbuild adds CFLAGS_<name>.o to
		// the command line of that object only.
		flag := "CFLAGS_" + path.Base(obj) + "=" + strings.Join(defs, " ")
		res, err := build([]string{flag, obj})
		if res != nil {
			warns = append(warns, res.Warnings...)
		}
		if err != nil {
			return done, warns, fmt.Errorf("%s compiled with %s: %w", obj, strings.Join(missing, ", "), err)
		}
		done = append(done, obj+" ("+strings.Join(missing, ", ")+")")
	}
	return done, warns, nil
}

func readConfig(path string) (map[string]string, error) {
	c, err := kconfig.ParseFile(path)
	if err != nil {
		return nil, err
	}
	return c.Values, nil
}
