package cindent

import (
	"os"
	"path/filepath"
	"testing"
)

func lines(fs []Finding) []int {
	var l []int
	for _, f := range fs {
		l = append(l, f.Line)
	}
	return l
}

func TestCheck(t *testing.T) {
	cases := []struct {
		name string
		src  string
		want []int
	}{
		{"statement in column 1", "static void f(void)\n{\n\tint a;\n\nguard(srcu)(&s);\n\ta = 1;\n}\n", []int{5}},
		{"indented body", "int f(void)\n{\n\tif (x) {\n\t\treturn 1;\n\t}\n\treturn 0;\n}\n", nil},
		{"labels and closing braces", "int f(void)\n{\n\tgoto out;\nout:\n\treturn 0;\n}\n", nil},
		{"preprocessor inside a body", "int f(void)\n{\n#ifdef CONFIG_X\n\tg();\n#endif\n\treturn 0;\n}\n", nil},
		{"braces in a macro body", "#define M(x) \\\n\tdo { \\\n\t} while (0)\nint a;\n", nil},
		{"braces in comments and literals", "/* { */\nint a = '{';\nchar *s = \"{\";\n// {\nint b;\n", nil},
		{"comment in a body", "int f(void)\n{\n\t/*\n\t * text\n\t */\n\treturn 0;\n}\n", nil},
		{"struct and table in column 1 are left alone", "struct s {\n\tint a;\nint b;\n};\nstatic const char *t[] = {\n/* 0 */ \"a\",\n};\n", nil},
		{"after a struct, the next function counts", "struct s {\nint b;\n};\nvoid f(void)\n{\nx();\n}\n", []int{6}},
		{"initializer", "static struct s v = {\n\t.a = 1,\n};\nint c;\n", nil},
		{"string continued with a backslash", "void f(void)\n{\n\tchar *s = \"a\\\n{b\\\n}\";\n\tg();\n}\n", nil},
		{"comment in column 1", "void f(void)\n{\n/* why */\n\tg();\n}\n", []int{3}},
		{"typedef struct with its brace on a line", "typedef struct s\n{\n/* 0x0 */\n\tint a;\n} s_t;\n", nil},
		{"long string in column 1", "void f(void)\n{\n\tpr_info(\n\"a long message\\n\");\n}\n", nil},
		{"nested block", "void f(void)\n{\n\tfor (;;) {\nbreak;\n\t}\n}\n", []int{4}},
	}
	for _, c := range cases {
		got := lines(Check([]byte(c.src)))
		if len(got) != len(c.want) {
			t.Errorf("%s: lines %v, want %v", c.name, got, c.want)
			continue
		}
		for i := range got {
			if got[i] != c.want[i] {
				t.Errorf("%s: lines %v, want %v", c.name, got, c.want)
			}
		}
	}
}

func TestMessage(t *testing.T) {
	f := Check([]byte("void f(void)\n{\nguard(srcu)(&s);\n}\n"))
	if len(f) != 1 || f[0].Depth != 1 ||
		f[0].Message() != "line in a function body starts in column 1 (brace depth 1); indent it with tabs: guard(srcu)(&s);" {
		t.Fatalf("%+v", f)
	}
}

// The kernel's own files are the best evidence that the scanner does
// not cry wolf: a sample of real 6.12 sources must come out clean.
func TestRealKernelFilesClean(t *testing.T) {
	tree := os.Getenv("KDEFER_TREE_612")
	if tree == "" {
		home, _ := os.UserCacheDir()
		tree = filepath.Join(home, "kdefer", "trees", "6.12.117")
	}
	files := []string{"kernel/task_work.c", "kernel/exit.c", "kernel/fork.c", "kernel/events/core.c",
		"kernel/rcu/srcutree.c", "include/linux/sched.h", "include/linux/srcu.h", "include/linux/entry-common.h",
		"arch/x86/kernel/nmi.c", "kernel/events/callchain.c"}
	read := 0
	for _, f := range files {
		src, err := os.ReadFile(filepath.Join(tree, f))
		if err != nil {
			continue
		}
		read++
		for _, fd := range Check(src) {
			t.Errorf("%s:%d: %s", f, fd.Line, fd.Message())
		}
	}
	if read == 0 {
		t.Skipf("no 6.12 tree at %s (kgen tree get 6.12, or KDEFER_TREE_612)", tree)
	}
}
