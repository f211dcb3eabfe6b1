// Package cindent finds C source lines inside a function body that start
// in column 1.
//
// checkpatch.pl does not report them: it checks how a line is indented
// (tabs, not spaces) but not that a statement is indented at all. A
// template whose whitespace-trimming action ("{{- else -}}") eats the tab
// in front of a statement produces exactly such a line, and the kernel
// tree would carry it.
package cindent

import (
	"regexp"
	"strconv"
	"strings"
)

// Finding is one line of a function body that starts in column 1.
type Finding struct {
	Line  int // 1-based
	Depth int // brace depth at the start of the line
	Text  string
}

// Message says what is wrong and what to do.
func (f Finding) Message() string {
	return "line in a function body starts in column 1 (brace depth " + strconv.Itoa(f.Depth) +
		"); indent it with tabs: " + strings.TrimSpace(f.Text)
}

// A goto label may stay in column 1 inside a function.
var reLabel = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*:($|[^:])`)

// Check scans src, a C source or header file, and returns its lines that
// are inside a function body and start in column 1 with anything but a
// closing brace, a preprocessor directive or a goto label.
//
// A function body is a block whose opening brace stands first on its line
// at file scope, after a line that ends with the parameter list's ")", as
// kernel style puts it. Other blocks at file scope are structs, enums and
// initializers, where tables laid out in column 1 are a matter of taste
// (arch/x86/kernel/nmi.c has one), so those are left alone. So are string
// literals in column 1: kernel style lets a long message break the
// indentation rather than be split.
//
// The scanner knows comments, string and character literals and
// preprocessor lines (with their continuations), so braces in those do
// not count. It does not expand macros: a macro that opens a block
// without a brace is invisible to it, which errs on the side of silence.
func Check(src []byte) []Finding {
	var out []Finding
	var st state
	inFunc := false // the braces counted by st.depth are a function body's
	contPP := false // the previous line was a preprocessor line ending in '\'
	prev := ""      // the last line that was not blank
	for i, line := range strings.Split(string(src), "\n") {
		n := i + 1
		line = strings.TrimSuffix(line, "\r")
		start := st.depth
		pp := contPP || (st.quote == 0 && strings.HasPrefix(strings.TrimLeft(line, " \t"), "#"))
		contPP = pp && strings.HasSuffix(line, "\\")
		if pp {
			// Braces in macro bodies are the macro's business.
			d := st.depth
			st.scan(line)
			st.depth = d
			continue
		}
		if start == 0 {
			inFunc = strings.HasPrefix(strings.TrimLeft(line, " \t"), "{") &&
				strings.HasSuffix(strings.TrimRight(prev, " \t"), ")")
		}
		if start > 0 && inFunc && !st.comment && st.quote == 0 && line != "" {
			c := line[0]
			if c != ' ' && c != '\t' && c != '}' && c != '"' && !reLabel.MatchString(line) {
				out = append(out, Finding{Line: n, Depth: start, Text: line})
			}
		}
		st.scan(line)
		if strings.TrimSpace(line) != "" {
			prev = line
		}
	}
	return out
}

// state is what the scanner carries from one line to the next.
type state struct {
	depth   int  // open braces
	comment bool // inside a block comment
	quote   byte // inside a literal continued with a backslash: its quote
}

// scan moves the state over line, counting braces outside comments and
// literals.
func (s *state) scan(line string) {
	i := 0
	if s.quote != 0 {
		i = s.skipLiteral(line, -1, s.quote) + 1
	}
	for ; i < len(line); i++ {
		c := line[i]
		switch {
		case s.comment:
			if c == '*' && i+1 < len(line) && line[i+1] == '/' {
				s.comment = false
				i++
			}
		case c == '/' && i+1 < len(line) && line[i+1] == '*':
			s.comment = true
			i++
		case c == '/' && i+1 < len(line) && line[i+1] == '/':
			return
		case c == '"' || c == '\'':
			i = s.skipLiteral(line, i, c)
		case c == '{':
			s.depth++
		case c == '}':
			if s.depth > 0 {
				s.depth--
			}
		}
	}
}

// skipLiteral returns the index of the quote q that closes the literal
// opened at line[i] (i is -1 for a literal continued from the line
// before), or the last index of the line; a literal that the line ends
// with a backslash goes on in the next line.
func (s *state) skipLiteral(line string, i int, q byte) int {
	s.quote = 0
	for j := i + 1; j < len(line); j++ {
		switch line[j] {
		case '\\':
			if j == len(line)-1 {
				s.quote = q
			}
			j++
		case q:
			return j
		}
	}
	return len(line) - 1
}
