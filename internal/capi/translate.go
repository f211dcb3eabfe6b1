package capi

import (
	"fmt"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"

	"modernc.org/cc/v4"
)

// The text pre-pass: constructs of the kernel's preprocessed output that
// cc/v4 does not take as they are, rewritten into equivalents it does
// (measured on Debian's 6.12 tree with cc/v4 v4.31).
var (
	reTypeofConst = regexp.MustCompile(`\b__typeof__\(\s*const\s+`)
	reConstAuto   = regexp.MustCompile(`\bconst\s+__auto_type\b`)
	reSeg         = regexp.MustCompile(`\b__seg_[gf]s\b`)
	// __typeof__(struct x *) and friends: unwrap type names that are
	// unambiguously types (a keyword, or a trailing '*').
	// A pointer may carry qualifiers ("struct task_struct * const", Linux
	// 7.3's const_current_task once __seg_gs is gone).
	reTypeofKw = regexp.MustCompile(`\b(?:__typeof__|__typeof|typeof)\(\s*((?:(?:struct|union|enum|unsigned|signed|const|volatile)\s+)+[A-Za-z_][A-Za-z0-9_]*(?:\s+(?:int|long|char|short))*(?:\s*\*(?:\s*(?:const|volatile)\b)*)*|[A-Za-z_][A-Za-z0-9_]*(?:\s*\*(?:\s*(?:const|volatile)\b)*)+)\s*\)`)
	// On the lines where the checker reports TypeSpecifierTypeofType,
	// also unwrap a lone identifier (a typedef name there).
	reTypeofIdent = regexp.MustCompile(`\b(?:__typeof__|__typeof|typeof)\(\s*([A-Za-z_][A-Za-z0-9_]*)\s*\)`)
	reTypeofErr   = regexp.MustCompile(`:(\d+):\d+: [^\n]*TypeSpecifierTypeofType`)
	reMarker      = regexp.MustCompile(`^#\s*(\d+)\s+"((?:[^"\\]|\\.)*)"`)
)

// unit is one preprocessed translation unit, pre-passed, with the map
// from its lines back to the original files.
type unit struct {
	name  string   // for messages, e.g. "kernel/fork.c (CONFIG_X=y)"
	lines []string // pre-passed .i text, marker lines blanked
	segs  []seg    // line map, sorted by iLine
}

type seg struct {
	iLine int // first .i line (1-based) of the segment
	file  string
	line  int // its line in file
}

// newUnit reads .i text. rel maps a marker's file name to the name used
// in reports (tree-relative).
func newUnit(name, text string, rel func(string) string) *unit {
	u := &unit{name: name, lines: strings.Split(text, "\n")}
	for i, l := range u.lines {
		if strings.HasPrefix(l, "#") {
			if m := reMarker.FindStringSubmatch(l); m != nil {
				n, _ := strconv.Atoi(m[1])
				f, err := strconv.Unquote(`"` + m[2] + `"`)
				if err != nil {
					f = m[2]
				}
				u.segs = append(u.segs, seg{iLine: i + 2, file: rel(f), line: n})
			}
			u.lines[i] = "" // keep the line count: positions stay .i lines
			continue
		}
		if !strings.Contains(l, "__") && !strings.Contains(l, "typeof") {
			continue
		}
		l = reTypeofConst.ReplaceAllString(l, "const __typeof__(")
		l = reConstAuto.ReplaceAllString(l, "__auto_type")
		l = reSeg.ReplaceAllString(l, "")
		l = reTypeofKw.ReplaceAllString(l, "$1")
		u.lines[i] = l
	}
	return u
}

// pos maps a 1-based .i line to the original file and line.
func (u *unit) pos(iLine int) (string, int) {
	k := sort.Search(len(u.segs), func(i int) bool { return u.segs[i].iLine > iLine }) - 1
	if k < 0 {
		return u.name, iLine
	}
	s := u.segs[k]
	return s.file, s.line + iLine - s.iLine
}

// mapErr rewrites ".i" positions in a cc error into file:line.
var reErrPos = regexp.MustCompile(`unit\.i:(\d+):(\d+):`)

func (u *unit) mapErr(msg string) string {
	return reErrPos.ReplaceAllStringFunc(msg, func(s string) string {
		m := reErrPos.FindStringSubmatch(s)
		n, _ := strconv.Atoi(m[1])
		f, l := u.pos(n)
		return fmt.Sprintf("%s:%d:%s:", f, l, m[2])
	})
}

var (
	cfgOnce sync.Once
	cfg     *cc.Config
	cfgErr  error
	// ccMu serialises Translate: cc/v4 prints trace lines on os.Stderr,
	// which is swapped for /dev/null while it runs.
	ccMu sync.Mutex
)

func config() (*cc.Config, error) {
	cfgOnce.Do(func() {
		cfg, cfgErr = cc.NewConfig("linux", "amd64")
		if cfgErr != nil {
			cfgErr = fmt.Errorf("cc/v4 cannot configure for linux/amd64 (needs a host C compiler): %w", cfgErr)
			return
		}
		cfg.Header = true
		cfg.IgnoreStaticAssert = true
	})
	return cfg, cfgErr
}

// translate parses and type-checks u. It retries (up to 4 times) after
// unwrapping __typeof__(typedef-name) on the lines the checker rejects.
// Errors carry original file positions.
func (u *unit) translate() (*cc.AST, error) {
	c, err := config()
	if err != nil {
		return nil, err
	}
	for try := 0; ; try++ {
		ast, err := quietTranslate(c, []cc.Source{
			{Name: "<predefined>", Value: c.Predefined},
			{Name: "<builtin>", Value: cc.Builtin},
			{Name: "unit.i", Value: strings.Join(u.lines, "\n")},
		})
		if err == nil {
			return ast, nil
		}
		msg := err.Error()
		fixed := 0
		if try < 4 {
			for _, m := range reTypeofErr.FindAllStringSubmatch(msg, -1) {
				n, _ := strconv.Atoi(m[1])
				if n < 1 || n > len(u.lines) {
					continue
				}
				if nl := reTypeofIdent.ReplaceAllString(u.lines[n-1], "$1"); nl != u.lines[n-1] {
					u.lines[n-1] = nl
					fixed++
				}
			}
		}
		if fixed == 0 {
			return nil, fmt.Errorf("%s", firstLines(u.mapErr(msg), 5))
		}
	}
}

func quietTranslate(c *cc.Config, src []cc.Source) (ast *cc.AST, err error) {
	ccMu.Lock()
	defer ccMu.Unlock()
	saved := os.Stderr
	if null, e := os.OpenFile(os.DevNull, os.O_WRONLY, 0); e == nil {
		os.Stderr = null
		defer func() { os.Stderr = saved; null.Close() }()
	}
	defer func() {
		if r := recover(); r != nil {
			ast, err = nil, fmt.Errorf("cc/v4 panicked: %v", r)
		}
	}()
	return cc.Translate(c, src)
}

func firstLines(s string, n int) string {
	ls := strings.Split(strings.TrimSpace(s), "\n")
	if len(ls) > n {
		ls = append(ls[:n], fmt.Sprintf("(%d more)", len(ls)-n))
	}
	return strings.Join(ls, "\n")
}
