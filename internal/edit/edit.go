// Package edit applies anchored edits to kernel-owned files: insert,
// replace or delete text relative to lines located by content inside a
// scope (a C function, struct, union or enum, a Kconfig entry, a Makefile
// variable, or the lines between two markers) — never by line number.
// See templates/FORMAT.md, "edits/<path>.yaml".
package edit

import (
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"
)

// Scope restricts where an anchor is looked for. At most one field is set;
// the zero Scope is the whole file.
type Scope struct {
	Function string   `yaml:"function"`
	Struct   string   `yaml:"struct"`
	Union    string   `yaml:"union"`
	Enum     string   `yaml:"enum"`
	Kconfig  string   `yaml:"kconfig"`
	MakeVar  string   `yaml:"make-var"`
	Between  []string `yaml:"between"`
}

// scopeKinds are the kinds of the named scopes, in the order of
// Scope's fields (and of Scope.names).
var scopeKinds = [...]string{"function", "struct", "union", "enum", "kconfig", "make-var"}

// names returns the fields of the named scopes, in the order of
// scopeKinds.
func (s *Scope) names() [len(scopeKinds)]*string {
	return [...]*string{&s.Function, &s.Struct, &s.Union, &s.Enum, &s.Kconfig, &s.MakeVar}
}

// named returns the kind and the name of the first named scope s sets;
// kind is "" when s sets none (the file, or between markers).
func (s Scope) named() (kind, name string) {
	for i, p := range s.names() {
		if *p != "" {
			return scopeKinds[i], *p
		}
	}
	return "", ""
}

// String describes the scope ("function copy_process", "file").
func (s Scope) String() string {
	if kind, name := s.named(); kind != "" {
		return kind + " " + name
	}
	if len(s.Between) > 0 {
		return fmt.Sprintf("between %q and %q", s.Between[0], s.Between[len(s.Between)-1])
	}
	return "file"
}

func (s Scope) count() int {
	n := 0
	for _, p := range s.names() {
		if *p != "" {
			n++
		}
	}
	if s.Between != nil {
		n++
	}
	return n
}

// Edit is one entry of an edits/<path>.yaml file.
type Edit struct {
	From   string `yaml:"from"`
	Until  string `yaml:"until"`
	When   string `yaml:"when"`
	Scope  Scope  `yaml:"scope"`
	Anchor string `yaml:"anchor"`
	Match  string `yaml:"match"`
	Op     string `yaml:"op"`
	Text   string `yaml:"text"`

	re []*regexp.Regexp
}

// Ops.
const (
	InsertAfter  = "insert-after"
	InsertBefore = "insert-before"
	Replace      = "replace"
	Delete       = "delete"
	Append       = "append"
	Prepend      = "prepend"
)

// Validate checks the edit's shape (not its patch names or probes).
func (e *Edit) Validate() error {
	switch e.Op {
	case InsertAfter, InsertBefore, Replace, Delete:
		if strings.TrimSpace(e.Anchor) == "" {
			return fmt.Errorf("op %s needs an anchor", e.Op)
		}
	case Append, Prepend:
		if e.Anchor != "" {
			return fmt.Errorf("op %s takes no anchor (it works on the scope)", e.Op)
		}
	case "":
		return fmt.Errorf("missing op (insert-after, insert-before, replace, delete, append, prepend)")
	default:
		return fmt.Errorf("unknown op %q (insert-after, insert-before, replace, delete, append, prepend)", e.Op)
	}
	if e.Op == Delete && e.Text != "" {
		return fmt.Errorf("op delete takes no text")
	}
	if e.Op != Delete && e.Op != Replace && strings.TrimSpace(e.Text) == "" {
		return fmt.Errorf("op %s needs a text", e.Op)
	}
	if e.Scope.count() > 1 {
		return fmt.Errorf("scope has more than one kind: %+v", e.Scope)
	}
	if e.Scope.Between != nil && len(e.Scope.Between) != 2 {
		return fmt.Errorf("scope between needs exactly two lines")
	}
	switch e.Match {
	case "", "exact", "prefix":
	case "regex":
		e.re = nil
		for _, l := range strings.Split(strings.TrimRight(e.Anchor, "\n"), "\n") {
			l = strings.TrimSpace(l)
			re, err := regexp.Compile(l)
			if err != nil {
				return fmt.Errorf("anchor line %q: bad regex: %w", l, err)
			}
			e.re = append(e.re, re)
		}
	default:
		return fmt.Errorf("unknown match %q (exact, prefix, regex)", e.Match)
	}
	return nil
}

// anchorLines splits an anchor into its lines, trimmed, without the
// empty lines a YAML block leaves at the end.
func anchorLines(a string) []string {
	a = strings.TrimRight(a, "\n")
	if a == "" {
		return nil
	}
	ls := strings.Split(a, "\n")
	for i := range ls {
		ls[i] = norm(ls[i])
	}
	return ls
}

// Candidate is a numbered line quoted in an error.
type Candidate struct {
	Line int // 1-based
	Text string
}

// Error is an edit that cannot be applied. Patch, File, Index (1-based)
// and From are filled in by the caller that knows them.
type Error struct {
	Patch  string
	File   string
	Index  int
	From   string
	Scope  string
	Anchor string
	What   string // "anchor matches nothing", "anchor matches 2 places", ...
	// Candidates are the nearest lines (nothing matched) or every match.
	Candidates []Candidate
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.Patch != "" {
		fmt.Fprintf(&b, "patch %s: ", e.Patch)
	}
	if e.File != "" {
		fmt.Fprintf(&b, "%s: ", e.File)
	}
	if e.Index > 0 {
		fmt.Fprintf(&b, "edit %d (from %s", e.Index, e.From)
		if e.Scope != "" && e.Scope != "file" {
			fmt.Fprintf(&b, ", %s", e.Scope)
		}
		b.WriteString("): ")
	}
	b.WriteString(e.What)
	if e.Anchor != "" {
		b.WriteString("\n  anchor:")
		for _, l := range strings.Split(strings.TrimRight(e.Anchor, "\n"), "\n") {
			b.WriteString("\n    | " + l)
		}
	}
	if len(e.Candidates) > 0 {
		if strings.Contains(e.What, "matches nothing") || strings.Contains(e.What, "not found") {
			b.WriteString("\n  nearest candidates:")
		} else {
			b.WriteString("\n  matches:")
		}
		for _, c := range e.Candidates {
			fmt.Fprintf(&b, "\n    %5d: %s", c.Line, c.Text)
		}
	}
	return b.String()
}

// Apply applies e to src with text as the (already rendered) text to
// insert and returns the new content. src and the result end in a
// newline unless src is empty.
func Apply(src []byte, e *Edit, text string) ([]byte, error) {
	lines, final := splitLines(string(src))
	out, err := ApplyLines(lines, e, text)
	if err != nil {
		return nil, err
	}
	return []byte(joinLines(out, final || len(lines) == 0)), nil
}

// Lines splits a file into lines (without their newlines) for
// ApplyLines; Join puts them back together with a final newline.
func Lines(src []byte) []string {
	l, _ := splitLines(string(src))
	return l
}

// Join is the inverse of Lines for files that end in a newline.
func Join(lines []string) []byte { return []byte(joinLines(lines, true)) }

// ApplyLines is Apply on a file split into lines. lines is not modified.
func ApplyLines(lines []string, e *Edit, text string) ([]string, error) {
	if e.Match == "regex" && e.re == nil {
		if err := e.Validate(); err != nil {
			return nil, &Error{What: err.Error()}
		}
	}
	lo, hi, body, err := findScope(lines, e.Scope)
	if err != nil {
		return nil, err
	}
	ins := textLines(text)
	var at, del int // replace lines[at:at+del] by ins
	switch e.Op {
	case Append:
		if e.Scope.count() == 0 {
			at = len(lines)
		} else {
			at = body.end
		}
	case Prepend:
		if e.Scope.count() == 0 {
			at = 0
		} else {
			at = body.start
		}
	default:
		start, n, err := findAnchor(lines, lo, hi, e)
		if err != nil {
			return nil, err
		}
		switch e.Op {
		case InsertAfter:
			at = start + n
		case InsertBefore:
			at = start
		case Replace:
			at, del = start, n
		case Delete:
			at, del, ins = start, n, nil
		}
	}
	out := make([]string, 0, len(lines)+len(ins))
	out = append(out, lines[:at]...)
	out = append(out, ins...)
	out = append(out, lines[at+del:]...)
	return out, nil
}

func splitLines(s string) ([]string, bool) {
	if s == "" {
		return nil, true
	}
	final := strings.HasSuffix(s, "\n")
	s = strings.TrimSuffix(s, "\n")
	return strings.Split(s, "\n"), final
}

func joinLines(ls []string, final bool) string {
	if len(ls) == 0 {
		return ""
	}
	s := strings.Join(ls, "\n")
	if final {
		s += "\n"
	}
	return s
}

// textLines splits an inserted text into lines; exactly one trailing
// newline is dropped, so "a\n\n" inserts "a" and an empty line.
func textLines(t string) []string {
	if t == "" {
		return nil
	}
	t = strings.TrimSuffix(t, "\n")
	return strings.Split(t, "\n")
}

// span is a half-open line range.
type span struct{ start, end int }

var wordChar = func(b byte) bool {
	return b == '_' || b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9'
}

// findScope returns the scope's line range [lo, hi) and, for append and
// prepend, the body range (inside the braces / after the entry line).
func findScope(lines []string, s Scope) (lo, hi int, body span, err error) {
	if s.count() == 0 {
		return 0, len(lines), span{0, len(lines)}, nil
	}
	for _, p := range s.names() {
		if !utf8.ValidString(*p) {
			return 0, 0, span{}, &Error{Scope: fmt.Sprintf("%q", *p), What: "scope name is not valid UTF-8"}
		}
	}
	var starts []int
	kind := s.String()
	switch {
	case s.Function != "":
		for i, l := range lines {
			if l == "" || l[0] == ' ' || l[0] == '\t' || l[0] == '#' || l[0] == '*' || l[0] == '/' {
				continue
			}
			if !containsCall(l, s.Function) {
				continue
			}
			// A definition reaches "{" before any ";".
			if _, ok := openBrace(lines, i); ok {
				starts = append(starts, i)
			}
		}
	case s.Struct != "", s.Union != "", s.Enum != "":
		kw, name := s.named()
		re := regexp.MustCompile(`^(typedef\s+)?` + kw + `\s+` + regexp.QuoteMeta(name) + `\s*\{`)
		for i, l := range lines {
			if re.MatchString(l) {
				starts = append(starts, i)
			}
		}
	case s.Kconfig != "":
		re := regexp.MustCompile(`^\s*(menu)?config\s+` + regexp.QuoteMeta(s.Kconfig) + `\s*$`)
		for i, l := range lines {
			if re.MatchString(l) {
				starts = append(starts, i)
			}
		}
	case s.MakeVar != "":
		re := regexp.MustCompile(`^` + regexp.QuoteMeta(s.MakeVar) + `\s*(\+|:|\?|::)?=`)
		for i := range lines {
			if inMakeRun(lines, i, re) && (i == 0 || !inMakeRun(lines, i-1, re)) {
				starts = append(starts, i)
			}
		}
	case s.Between != nil:
		a := strings.TrimSpace(s.Between[0])
		for i, l := range lines {
			if strings.TrimSpace(l) == a {
				starts = append(starts, i)
			}
		}
	}
	if len(starts) == 0 {
		_, target := s.named()
		if s.Between != nil {
			target = s.Between[0]
		}
		return 0, 0, span{}, &Error{Scope: kind, What: "scope " + kind + " not found", Candidates: nearest(lines, 0, len(lines), target, 3)}
	}
	if len(starts) > 1 {
		e := &Error{Scope: kind, What: fmt.Sprintf("scope %s matches %d places", kind, len(starts))}
		for _, i := range starts {
			e.Candidates = append(e.Candidates, Candidate{i + 1, lines[i]})
		}
		return 0, 0, span{}, e
	}
	lo = starts[0]
	switch {
	case s.Function != "", s.Struct != "", s.Union != "", s.Enum != "":
		ob, _ := openBrace(lines, lo)
		if s.Function == "" {
			ob = lo
		}
		for j := ob + 1; j < len(lines); j++ {
			if strings.HasPrefix(lines[j], "}") {
				return lo, j + 1, span{ob + 1, j}, nil
			}
		}
		return 0, 0, span{}, &Error{Scope: kind, What: fmt.Sprintf("scope %s: no closing brace at column 0 after line %d", kind, lo+1)}
	case s.Kconfig != "":
		end := len(lines)
		kw := regexp.MustCompile(`^(config|menuconfig|choice|endchoice|menu|endmenu|if|endif|source|osource|rsource|comment|mainmenu)\b|^\s+(config|menuconfig)\s`)
		for j := lo + 1; j < len(lines); j++ {
			if kw.MatchString(lines[j]) {
				end = j
				break
			}
		}
		for end > lo+1 && strings.TrimSpace(lines[end-1]) == "" {
			end--
		}
		return lo, end, span{lo + 1, end}, nil
	case s.MakeVar != "":
		re := regexp.MustCompile(`^` + regexp.QuoteMeta(s.MakeVar) + `\s*(\+|:|\?|::)?=`)
		j := lo
		for j < len(lines) && inMakeRun(lines, j, re) {
			j++
		}
		return lo, j, span{lo, j}, nil
	default: // between
		b := strings.TrimSpace(s.Between[1])
		for j := lo + 1; j < len(lines); j++ {
			if strings.TrimSpace(lines[j]) == b {
				return lo, j + 1, span{lo + 1, j}, nil
			}
		}
		return 0, 0, span{}, &Error{Scope: kind, What: fmt.Sprintf("scope %s: end line not found after line %d", kind, lo+1),
			Candidates: nearest(lines, lo+1, len(lines), b, 3)}
	}
}

// inMakeRun reports whether line i assigns the variable or continues
// an assignment of it.
func inMakeRun(lines []string, i int, re *regexp.Regexp) bool {
	if re.MatchString(lines[i]) {
		return true
	}
	// continuation: walk back over lines ending in a backslash
	j := i - 1
	for j >= 0 && strings.HasSuffix(lines[j], "\\") {
		if re.MatchString(lines[j]) {
			return true
		}
		j--
	}
	return false
}

func containsCall(l, name string) bool {
	for off := 0; ; {
		k := strings.Index(l[off:], name+"(")
		if k < 0 {
			return false
		}
		k += off
		if k == 0 || !wordChar(l[k-1]) {
			return true
		}
		off = k + 1
	}
}

// openBrace finds the "{" that opens the definition starting at line i;
// false when a ";" comes first (a declaration).
func openBrace(lines []string, i int) (int, bool) {
	for j := i; j < len(lines) && j < i+40; j++ {
		l := lines[j]
		if c := strings.Index(l, "//"); c >= 0 {
			l = l[:c]
		}
		sc := strings.IndexByte(l, ';')
		br := strings.IndexByte(l, '{')
		if br >= 0 && (sc < 0 || br < sc) {
			return j, true
		}
		if sc >= 0 {
			return 0, false
		}
	}
	return 0, false
}

// findAnchor returns the position and length of the unique match of the
// anchor within lines[lo:hi].
func findAnchor(lines []string, lo, hi int, e *Edit) (int, int, error) {
	al := anchorLines(e.Anchor)
	n := len(al)
	var matches []int
	for i := lo; i+n <= hi; i++ {
		ok := true
		for k := 0; k < n && ok; k++ {
			ok = lineMatch(lines[i+k], al[k], k, e)
		}
		if ok {
			matches = append(matches, i)
		}
	}
	scope := e.Scope.String()
	switch len(matches) {
	case 1:
		return matches[0], n, nil
	case 0:
		what := "anchor matches nothing"
		if scope != "file" {
			what += fmt.Sprintf(" in %s (lines %d-%d)", scope, lo+1, hi)
		}
		return 0, 0, &Error{Scope: scope, Anchor: e.Anchor, What: what, Candidates: nearest(lines, lo, hi, strings.Join(al, " "), 3)}
	default:
		err := &Error{Scope: scope, Anchor: e.Anchor, What: fmt.Sprintf("anchor matches %d places; make it longer or narrow the scope", len(matches))}
		for _, m := range matches {
			err.Candidates = append(err.Candidates, Candidate{m + 1, lines[m]})
		}
		return 0, 0, err
	}
}

func lineMatch(line, a string, k int, e *Edit) bool {
	switch e.Match {
	case "prefix":
		return normEq(line, a, true)
	case "regex":
		return e.re[k].MatchString(line)
	}
	return normEq(line, a, false)
}

func isBlank(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v' }

// normEq reports whether norm(line) == a (or has prefix a) without
// allocating; a is already normalised.
func normEq(line, a string, prefix bool) bool {
	i, j := 0, 0
	for i < len(line) && isBlank(line[i]) {
		i++
	}
	for j < len(a) {
		if i >= len(line) {
			return false
		}
		if a[j] == ' ' {
			if !isBlank(line[i]) {
				return false
			}
			for i < len(line) && isBlank(line[i]) {
				i++
			}
			j++
			continue
		}
		if line[i] != a[j] {
			return false
		}
		i++
		j++
	}
	if prefix {
		return true
	}
	for i < len(line) && isBlank(line[i]) {
		i++
	}
	return i == len(line)
}

// norm trims a line and collapses runs of white space to one space, so
// that anchors need not reproduce the kernel's tab alignment.
func norm(s string) string {
	s = strings.TrimSpace(s)
	if !strings.ContainsAny(s, "\t  ") {
		return s
	}
	return strings.Join(strings.Fields(s), " ")
}

// nearest returns up to max lines of lines[lo:hi] that share the most
// words with target, best first (ties: earlier line first).
func nearest(lines []string, lo, hi int, target string, max int) []Candidate {
	tw := words(target)
	if len(tw) == 0 {
		return nil
	}
	type scored struct {
		i     int
		score float64
	}
	var best []scored
	for i := lo; i < hi; i++ {
		lw := words(lines[i])
		if len(lw) == 0 {
			continue
		}
		common := 0
		for w := range tw {
			if lw[w] {
				common++
			}
		}
		if common == 0 {
			continue
		}
		sc := float64(common)/float64(len(tw)) + 0.1*float64(common)/float64(len(lw))
		best = append(best, scored{i, sc})
		for j := len(best) - 1; j > 0 && best[j].score > best[j-1].score; j-- {
			best[j], best[j-1] = best[j-1], best[j]
		}
		if len(best) > max {
			best = best[:max]
		}
	}
	var out []Candidate
	for _, b := range best {
		out = append(out, Candidate{b.i + 1, lines[b.i]})
	}
	return out
}

func words(s string) map[string]bool {
	m := map[string]bool{}
	start := -1
	for i := 0; i <= len(s); i++ {
		if i < len(s) && wordChar(s[i]) {
			if start < 0 {
				start = i
			}
			continue
		}
		if start >= 0 {
			m[s[start:i]] = true
			start = -1
		}
	}
	return m
}
