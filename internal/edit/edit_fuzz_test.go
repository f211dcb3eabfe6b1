package edit

import (
	"errors"
	"strings"
	"testing"

	"github.com/kdefer/kdefer/internal/e2e"
)

var fuzzOps = []string{InsertAfter, InsertBefore, Replace, Delete, Append, Prepend}
var fuzzMatches = []string{"", "exact", "prefix", "regex"}

// fuzzEdit builds an edit from fuzzer choices.
func fuzzEdit(op, match, scope uint8, name, anchor, text string) *Edit {
	e := &Edit{Op: fuzzOps[int(op)%len(fuzzOps)], Match: fuzzMatches[int(match)%len(fuzzMatches)], Anchor: anchor, Text: text}
	// 0: the file, 1-6: a named scope, 7: between two markers
	switch k := int(scope % 8); {
	case k >= 1 && k <= len(scopeKinds):
		*e.Scope.names()[k-1] = name
	case k == 7:
		a, b, _ := strings.Cut(name, "|")
		e.Scope.Between = []string{a, b}
	}
	return e
}

// FuzzApply applies arbitrary anchored edits to arbitrary files, seeded
// with the unit tests' C file. An edit that validates must either fail
// with an *Error or succeed, never panic, and a success must keep every
// line outside the edit: the lines of the result are the file's lines
// with one run replaced by the text's.
//
// A short run: go test -run='^$' -fuzz=FuzzApply -fuzztime=10s ./internal/edit
func FuzzApply(f *testing.F) {
	f.Add([]byte(cfile), uint8(0), uint8(0), uint8(1), "copy_process", "retval = sched_fork(clone_flags, p);\nif (retval)", "\tnew();\n")
	f.Add([]byte(cfile), uint8(4), uint8(0), uint8(2), "task_struct", "", "\tint added;\n")
	f.Add([]byte(cfile), uint8(2), uint8(3), uint8(0), "", "^int\\s+retval;$", "\tlong retval;\n")
	f.Add([]byte("config FOO\n\tbool \"foo\"\n\tdefault y\n\nconfig BAR\n\tbool\n"), uint8(0), uint8(2), uint8(5), "FOO", "bool", "\tdepends on X\n")
	f.Add([]byte("obj-y += a.o \\\n\tb.o\nobj-m += c.o\n"), uint8(5), uint8(0), uint8(6), "obj-y", "", "\tz.o\n")
	f.Add([]byte("/* begin */\nx\n/* end */\n"), uint8(3), uint8(1), uint8(7), "/* begin */|/* end */", "x", "")
	f.Fuzz(func(t *testing.T, src []byte, op, match, scope uint8, name, anchor, text string) {
		e := fuzzEdit(op, match, scope, name, anchor, text)
		if e.Validate() != nil {
			return
		}
		out, err := Apply(src, e, text)
		if err != nil {
			var ee *Error
			if !errors.As(err, &ee) {
				t.Fatalf("error of type %T: %v", err, err)
			}
			return
		}
		in, got, ins := Lines(src), Lines(out), textLines(text)
		if e.Op == Delete {
			ins = nil
		}
		// Longest common prefix and suffix with the input: what is
		// left in between is the inserted text.
		p := 0
		for p < len(in) && p < len(got) && in[p] == got[p] {
			p++
		}
		s := 0
		for s < len(in)-p && s < len(got)-p && in[len(in)-1-s] == got[len(got)-1-s] {
			s++
		}
		if len(got)-p-s > len(ins) {
			t.Fatalf("%s changed %d lines, the text has %d", e.Op, len(got)-p-s, len(ins))
		}
		if d := len(got) - len(in); d > len(ins) || (e.Op != Replace && e.Op != Delete && d != len(ins)) {
			t.Fatalf("%s: %d lines in, %d out, %d inserted", e.Op, len(in), len(got), len(ins))
		}
	})
}

// TestApplyLinear applies edits to C files of 1 MB and 8 MB: a
// function scope at the end, a file-wide anchor that is not there (the
// error quotes the nearest lines), a between scope. Eight times the
// input must take less than 32 times as long (a quadratic one takes 64).
func TestApplyLinear(t *testing.T) {
	if testing.Short() {
		t.Skip("edits 8 MB files")
	}
	build := func(n int) []byte {
		var b strings.Builder
		for i := 0; b.Len() < n; i++ {
			b.WriteString("static int f")
			b.WriteString(strings.Repeat("x", i%7))
			b.WriteString("(void)\n{\n\tint retval = 0;\n\tif (retval)\n\t\treturn -EINVAL;\n\treturn retval;\n}\n\n")
		}
		b.WriteString("static int last(void)\n{\n\tint retval = 1;\n\treturn retval;\n}\n")
		return []byte(b.String())
	}
	edits := map[string]*Edit{
		"function": {Op: InsertAfter, Scope: Scope{Function: "last"}, Anchor: "int retval = 1;", Text: "x"},
		"missing":  {Op: InsertAfter, Anchor: "int retval = 42;", Text: "x"},
		"between":  {Op: Append, Scope: Scope{Between: []string{"static int last(void)", "}"}}, Text: "x"},
		"regex":    {Op: Replace, Match: "regex", Anchor: `^\s+int retval = 1;$`, Text: "x"},
	}
	for name, e := range edits {
		if err := e.Validate(); err != nil {
			t.Fatal(err)
		}
		sd, bd := build(1<<20), build(8<<20)
		// Sixteen runs on the small input against two on the big one, so
		// that both measure the same amount of work and the clock's
		// granularity (a few ms here) does not decide the ratio.
		small := e2e.CPUTime(func() {
			for i := 0; i < 16; i++ {
				Apply(sd, e, "\tadded();\n")
			}
		}) / 16
		big := e2e.CPUTime(func() {
			for i := 0; i < 2; i++ {
				Apply(bd, e, "\tadded();\n")
			}
		}) / 2
		ratio := float64(big) / float64(small)
		t.Logf("%s: 1 MB %v, 8 MB %v, ratio %.1f", name, small, big, ratio)
		if ratio > 32 {
			t.Errorf("%s: 8x the input took %.1fx the time", name, ratio)
		}
	}
}
