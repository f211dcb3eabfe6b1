package edit

import (
	"errors"
	"strings"
	"testing"
)

const cfile = `// SPDX-License-Identifier: GPL-2.0
#include <linux/sched.h>

static int copy_process(struct task_struct *p);

struct task_struct {
	int			state;
	refcount_t		usage;
};

static int copy_process(struct task_struct *p)
{
	int retval;

	retval = sched_fork(clone_flags, p);
	if (retval)
		goto out;
	retval = sched_fork(clone_flags, p);
out:
	return retval;
}

void other(void)
{
	retval = sched_fork(clone_flags, p);
}
`

func apply(t *testing.T, src string, e *Edit, text string) string {
	t.Helper()
	if err := e.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	out, err := Apply([]byte(src), e, text)
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	return string(out)
}

func TestInsertAfterInStruct(t *testing.T) {
	e := &Edit{Scope: Scope{Struct: "task_struct"}, Anchor: "refcount_t usage;", Op: InsertAfter, Text: "x"}
	got := apply(t, cfile, e, "\tvoid\t\t\t*unwind;\n")
	if !strings.Contains(got, "\trefcount_t\t\tusage;\n\tvoid\t\t\t*unwind;\n};\n") {
		t.Errorf("insert-after in struct:\n%s", got)
	}
}

func TestAppendPrependFunction(t *testing.T) {
	got := apply(t, cfile, &Edit{Scope: Scope{Function: "copy_process"}, Op: Append, Text: "x"}, "\tcleanup();\n")
	if !strings.Contains(got, "\treturn retval;\n\tcleanup();\n}\n\nvoid other") {
		t.Errorf("append in function:\n%s", got)
	}
	got = apply(t, cfile, &Edit{Scope: Scope{Function: "copy_process"}, Op: Prepend, Text: "x"}, "\tinit();\n")
	if !strings.Contains(got, "static int copy_process(struct task_struct *p)\n{\n\tinit();\n\tint retval;") {
		t.Errorf("prepend in function (the declaration must be skipped):\n%s", got)
	}
}

func TestReplaceDeleteMultiLine(t *testing.T) {
	e := &Edit{Scope: Scope{Function: "copy_process"}, Anchor: "if (retval)\n  goto out;\n", Op: Replace, Text: "x"}
	got := apply(t, cfile, e, "\tif (retval < 0)\n\t\tgoto out;\n")
	if !strings.Contains(got, "\tif (retval < 0)\n\t\tgoto out;\n\tretval") {
		t.Errorf("replace:\n%s", got)
	}
	e = &Edit{Scope: Scope{Function: "copy_process"}, Anchor: "out:", Op: Delete}
	got = apply(t, cfile, e, "")
	if strings.Contains(got, "out:\n") {
		t.Errorf("delete:\n%s", got)
	}
}

func TestPrefixAndRegex(t *testing.T) {
	e := &Edit{Scope: Scope{Function: "other"}, Anchor: "retval = sched_fork(", Match: "prefix", Op: InsertBefore, Text: "x"}
	got := apply(t, cfile, e, "\t/* here */\n")
	if !strings.Contains(got, "{\n\t/* here */\n\tretval = sched_fork(clone_flags, p);\n}\n") {
		t.Errorf("prefix:\n%s", got)
	}
	e = &Edit{Anchor: `^struct task_struct \{$`, Match: "regex", Op: InsertBefore, Text: "x"}
	got = apply(t, cfile, e, "struct unwind;\n")
	if !strings.Contains(got, "struct unwind;\nstruct task_struct {") {
		t.Errorf("regex:\n%s", got)
	}
}

// applyFails applies an insertion after anchor in copy_process of cfile,
// which must fail with an *Error.
func applyFails(t *testing.T, anchor string) *Error {
	t.Helper()
	e := &Edit{Scope: Scope{Function: "copy_process"}, Anchor: anchor, Op: InsertAfter, Text: "x"}
	e.Validate()
	_, err := Apply([]byte(cfile), e, "x\n")
	var ee *Error
	if !errors.As(err, &ee) {
		t.Fatalf("want *Error, got %v", err)
	}
	return ee
}

func TestAmbiguousListsAllMatches(t *testing.T) {
	ee := applyFails(t, "retval = sched_fork(clone_flags, p);")
	if !strings.Contains(ee.What, "matches 2 places") || len(ee.Candidates) != 2 || ee.Candidates[0].Line != 15 || ee.Candidates[1].Line != 18 {
		t.Errorf("ambiguous anchor: %v", ee)
	}
}

func TestNotFoundQuotesNearest(t *testing.T) {
	ee := applyFails(t, "retval = sched_fork(clone_flag, p);\nif (retval)")
	ee.Patch, ee.File, ee.Index, ee.From = "unwind-cache", "kernel/fork.c", 3, "unwind-cache"
	msg := ee.Error()
	for _, want := range []string{"patch unwind-cache: kernel/fork.c: edit 3 (from unwind-cache, function copy_process): anchor matches nothing",
		"| retval = sched_fork(clone_flag, p);", "nearest candidates:", "   15: \tretval = sched_fork(clone_flags, p);"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
}

func TestScopeErrors(t *testing.T) {
	for _, sc := range []Scope{{Function: "copy_proces"}, {Struct: "task"}, {Kconfig: "NOPE"}} {
		e := &Edit{Scope: sc, Op: Append, Text: "x"}
		_, err := Apply([]byte(cfile), e, "x\n")
		if err == nil || !strings.Contains(err.Error(), "not found") {
			t.Errorf("scope %v: got %v", sc, err)
		}
	}
}

const kconfig = `config A
	bool
	help
	  Text.

config B
	bool "b"
	depends on A

if X
config C
	bool
endif
`

func TestKconfig(t *testing.T) {
	got := apply(t, kconfig, &Edit{Scope: Scope{Kconfig: "A"}, Op: Append, Text: "x"}, "\tselect Z\n")
	if !strings.Contains(got, "\t  Text.\n\tselect Z\n\nconfig B") {
		t.Errorf("kconfig append:\n%s", got)
	}
	got = apply(t, kconfig, &Edit{Scope: Scope{Kconfig: "B"}, Anchor: "depends on A", Op: Replace, Text: "x"}, "\tdepends on A && Y\n")
	if !strings.Contains(got, "\tdepends on A && Y\n\nif X") {
		t.Errorf("kconfig replace:\n%s", got)
	}
}

const makefile = `obj-y     = fork.o exec_domain.o \
	    cpu.o exit.o

obj-$(CONFIG_A) += a.o
obj-y += last.o
`

func TestMakeVar(t *testing.T) {
	_, err := Apply([]byte(makefile), &Edit{Scope: Scope{MakeVar: "obj-y"}, Op: Append, Text: "x"}, "obj-y += unwind/\n")
	if err == nil || !strings.Contains(err.Error(), "matches 2 places") {
		t.Fatalf("two obj-y runs should be ambiguous, got %v", err)
	}
	got := apply(t, makefile, &Edit{Scope: Scope{MakeVar: "obj-$(CONFIG_A)"}, Op: Append, Text: "x"}, "obj-$(CONFIG_A) += b.o\n")
	if !strings.Contains(got, "obj-$(CONFIG_A) += a.o\nobj-$(CONFIG_A) += b.o\nobj-y += last.o") {
		t.Errorf("make-var append:\n%s", got)
	}
}

func TestBetween(t *testing.T) {
	got := apply(t, cfile, &Edit{Scope: Scope{Between: []string{"void other(void)", "}"}}, Anchor: "retval = sched_fork(clone_flags, p);", Op: Delete}, "")
	if !strings.Contains(got, "void other(void)\n{\n}\n") {
		t.Errorf("between:\n%s", got)
	}
}

func TestValidate(t *testing.T) {
	for _, e := range []Edit{
		{Op: "insert"}, {Op: InsertAfter, Text: "x"}, {Op: Append, Anchor: "a", Text: "x"},
		{Op: Delete, Anchor: "a", Text: "x"}, {Op: InsertAfter, Anchor: "a", Text: "x", Match: "glob"},
		{Op: InsertAfter, Anchor: "(", Text: "x", Match: "regex"},
		{Op: Append, Text: "x", Scope: Scope{Function: "f", Struct: "s"}},
	} {
		if err := e.Validate(); err == nil {
			t.Errorf("%+v: want a validation error", e)
		}
	}
}
