// Package checkpatch runs a kernel tree's own scripts/checkpatch.pl on
// patch files (git format-patch output) and parses what it prints into
// findings: one per reported problem, with its level, its --show-types
// type, the message and, where checkpatch names one, the file and line.
//
// The real script is run, never a re-implementation, so the findings are
// exactly what a maintainer running checkpatch by hand would see.
package checkpatch

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/bluekeyes/go-gitdiff/gitdiff"

	"github.com/kdefer/kdefer/internal/proc"
)

// Level is checkpatch's severity: ERROR, WARNING or CHECK (CHECK only
// appears with --strict).
type Level string

// The levels checkpatch prints.
const (
	Error   Level = "ERROR"
	Warning Level = "WARNING"
	Check   Level = "CHECK"
)

// TypeMaintainers is the type of the "does MAINTAINERS need updating?"
// warning that checkpatch prints for every added, moved or deleted file.
const TypeMaintainers = "FILE_PATH_CHANGES"

// Finding is one problem checkpatch reported in one patch file.
type Finding struct {
	Patch     string // the patch file, as given
	Level     Level
	Type      string // e.g. SPACING, LONG_LINE (from --show-types)
	Message   string // first line of the message
	File      string // the source file the finding is about ("" for commit-message findings)
	Line      int    // line in File (0 if unknown)
	PatchLine int    // line in the patch file checkpatch points at (0 if none)
	Context   string // the quoted source lines, as checkpatch shows them
	// Tolerated is set (by Tolerate) for the MAINTAINERS warning when an
	// earlier patch of the series added a MAINTAINERS entry that covers
	// every file this patch adds, moves or deletes.
	Tolerated bool
	Reason    string // why it is tolerated
}

func (f Finding) String() string {
	loc := ""
	if f.File != "" {
		loc = fmt.Sprintf(" (%s:%d)", f.File, f.Line)
	} else if f.PatchLine > 0 {
		loc = fmt.Sprintf(" (patch line %d)", f.PatchLine)
	}
	s := fmt.Sprintf("%s: %s:%s: %s%s", filepath.Base(f.Patch), f.Level, f.Type, f.Message, loc)
	if f.Tolerated {
		s += " [tolerated: " + f.Reason + "]"
	}
	return s
}

// Options tune a run.
type Options struct {
	Strict bool     // pass --strict (adds CHECK findings)
	Ignore []string // types to pass to --ignore
	Perl   string   // perl binary (default "perl")
	// File checks a source file (checkpatch -f) instead of a patch.
	File bool
}

// Script returns the path of checkpatch.pl in tree, or an error saying
// what is missing.
func Script(tree string) (string, error) {
	p := filepath.Join(tree, "scripts", "checkpatch.pl")
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("checkpatch: %s has no scripts/checkpatch.pl (is it a kernel tree?): %w", tree, err)
	}
	return p, nil
}

// Run runs tree's scripts/checkpatch.pl on one patch file (or source file,
// with Options.File), in tree (so
// that the tree checks and spelling lists work), and returns its findings.
// checkpatch exits 1 when it finds problems; that is not an error here.
// An error means the script could not run or printed nothing parseable.
func Run(ctx context.Context, tree, patchFile string, opt Options) ([]Finding, error) {
	script, err := Script(tree)
	if err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(patchFile)
	if err != nil {
		return nil, err
	}
	perl := opt.Perl
	if perl == "" {
		perl = "perl"
	}
	args := []string{script, "--show-types", "--color=never", "--no-summary-file"}
	if opt.Strict {
		args = append(args, "--strict")
	}
	if len(opt.Ignore) > 0 {
		args = append(args, "--ignore", strings.Join(opt.Ignore, ","))
	}
	if opt.File {
		args = append(args, "-f")
	}
	args = append(args, abs)
	cmd := proc.Command(ctx, perl, args...)
	cmd.Dir = tree
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	// checkpatch exits 1 when it reports an error.
	if err := cmd.Run(); err != nil && cmd.ProcessState.ExitCode() != 1 {
		return nil, fmt.Errorf("checkpatch on %s: %v: %s", patchFile, err, strings.TrimSpace(stderr.String()))
	}
	if !bytes.Contains(out.Bytes(), []byte("total: ")) {
		return nil, fmt.Errorf("checkpatch on %s printed no summary (stderr: %s)", patchFile, strings.TrimSpace(stderr.String()))
	}
	fs := Parse(out.String())
	for i := range fs {
		fs[i].Patch = patchFile
	}
	return fs, nil
}

var (
	reHead  = regexp.MustCompile(`^(ERROR|WARNING|CHECK):([A-Z0-9_]+): (.*)$`)
	reWhere = regexp.MustCompile(`^#(\d+): (?:FILE: (.+):(\d+):)?`)
)

// Parse parses checkpatch --show-types output (without --terse or
// --emacs) into findings. Patch is left empty.
func Parse(out string) []Finding {
	var fs []Finding
	var cur *Finding
	var ctxLines []string
	flush := func() {
		if cur != nil {
			cur.Context = strings.TrimRight(strings.Join(ctxLines, "\n"), "\n")
			fs = append(fs, *cur)
		}
		cur, ctxLines = nil, nil
	}
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		l := sc.Text()
		if m := reHead.FindStringSubmatch(l); m != nil {
			flush()
			cur = &Finding{Level: Level(m[1]), Type: m[2], Message: m[3]}
			continue
		}
		if cur == nil {
			continue
		}
		if strings.HasPrefix(l, "total: ") || l == "" && len(ctxLines) > 0 {
			flush()
			continue
		}
		if m := reWhere.FindStringSubmatch(l); m != nil && cur.PatchLine == 0 {
			cur.PatchLine, _ = strconv.Atoi(m[1])
			if m[2] != "" {
				cur.File = m[2]
				cur.Line, _ = strconv.Atoi(m[3])
			}
			continue
		}
		if l != "" {
			ctxLines = append(ctxLines, l)
		}
	}
	flush()
	return fs
}

// Tolerate marks the warnings that the series answers: the -ENOSYS of
// upstream's stubs (upstreamENOSYS), and the MAINTAINERS warnings:
// patches are the series' patch files in order; a FILE_PATH_CHANGES
// warning in patch i is tolerated when every file patch i adds, deletes or
// renames is covered by an "F:" pattern that an earlier patch (or patch i
// itself) added to MAINTAINERS. findings may cover several patches.
func Tolerate(patches []string, findings []Finding) error {
	var patterns []string
	covered := map[string]string{} // patch -> reason, when all its path changes are covered
	for _, p := range patches {
		changed, added, err := pathChanges(p)
		if err != nil {
			return err
		}
		patterns = append(patterns, added...)
		ok := len(changed) > 0
		var pat string
		for _, f := range changed {
			m := matchMaintainers(patterns, f)
			if m == "" {
				ok = false
				break
			}
			pat = m
		}
		if ok {
			covered[p] = fmt.Sprintf("MAINTAINERS entry %q added by the series covers the new files", pat)
		}
	}
	for i := range findings {
		f := &findings[i]
		if f.Type == TypeENOSYS && upstreamENOSYS[f.File] {
			f.Tolerated, f.Reason = true, "the !CONFIG_UNWIND_USER stubs return -ENOSYS, as upstream Linux 7.x does"
			continue
		}
		if f.Type != TypeMaintainers {
			continue
		}
		if r, ok := covered[f.Patch]; ok {
			f.Tolerated, f.Reason = true, r
		}
	}
	return nil
}

// TypeENOSYS is checkpatch's "ENOSYS means 'invalid syscall nr'" warning.
const TypeENOSYS = "ENOSYS"

// upstreamENOSYS are the files whose -ENOSYS is upstream's choice, which
// the series keeps so that callers see the same error on both (issue 13).
var upstreamENOSYS = map[string]bool{"include/linux/unwind_deferred.h": true}

// pathChanges returns the files a patch adds, deletes or renames, and the
// "F:" patterns it adds to MAINTAINERS.
func pathChanges(patchFile string) (changed, fpatterns []string, err error) {
	r, err := os.Open(patchFile)
	if err != nil {
		return nil, nil, err
	}
	defer r.Close()
	files, _, err := gitdiff.Parse(r)
	if err != nil {
		return nil, nil, fmt.Errorf("parse %s: %w", patchFile, err)
	}
	for _, f := range files {
		switch {
		case f.IsNew:
			changed = append(changed, f.NewName)
		case f.IsDelete:
			changed = append(changed, f.OldName)
		case f.IsRename:
			changed = append(changed, f.OldName, f.NewName)
		}
		if f.NewName == "MAINTAINERS" {
			for _, frag := range f.TextFragments {
				for _, l := range frag.Lines {
					if l.Op != gitdiff.OpAdd {
						continue
					}
					s := strings.TrimRight(l.Line, "\n")
					if strings.HasPrefix(s, "F:") {
						fpatterns = append(fpatterns, strings.TrimSpace(s[2:]))
					}
				}
			}
		}
	}
	return changed, fpatterns, nil
}

// matchMaintainers returns the first pattern that covers file, with the
// semantics MAINTAINERS documents: "dir/" covers everything below dir,
// shell globs match within one directory level, a plain path matches
// itself (or, if it names a directory, everything below it).
func matchMaintainers(patterns []string, file string) string {
	for _, p := range patterns {
		switch {
		case strings.HasSuffix(p, "/"):
			if strings.HasPrefix(file, p) {
				return p
			}
		case strings.ContainsAny(p, "*?["):
			if ok, _ := path.Match(p, file); ok {
				return p
			}
		default:
			if file == p || strings.HasPrefix(file, p+"/") {
				return p
			}
		}
	}
	return ""
}
