package kerneldoc

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/kdefer/kdefer/internal/e2e"
)

func TestRealKernelDoc(t *testing.T) {
	tree := e2e.Tree612(t)
	h := filepath.Join(t.TempDir(), "kd.h")
	src := "/**\n * foo() - do it\n * @a: first\n */\nint foo(int a, int b);\n\n/**\n * bar() - fine\n * @a: the a\n *\n * Return: a\n */\nint bar(int a);\n"
	if err := os.WriteFile(h, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	ws, err := Run(context.Background(), tree, []string{h}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(ws) != 1 || ws[0].Line != 5 || ws[0].File != h || ws[0].Message != "Function parameter or struct member 'b' not described in 'foo'" {
		t.Fatalf("got %v", ws)
	}
	ws, _ = Run(context.Background(), tree, []string{h}, Options{All: true})
	if len(ws) != 2 {
		t.Fatalf("-Wall: got %v", ws)
	}
}
