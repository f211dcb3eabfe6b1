package render

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
)

// ownedEditsTemplates: patch "create" makes a.c (skipped when the tree has
// it already), patch "extend" changes a.c with an anchored edit; the same
// edit must apply to the series' a.c and to the tree's own form of it.
func ownedEditsTemplates() fstest.MapFS {
	patch := func(name, skip, date string) string {
		s := "  - name: " + name + "\n"
		if skip != "" {
			s += "    skip-if: " + skip + "\n"
		}
		return s + "    subject: \"a: " + name + "\"\n    author: \"A B <a@b.c>\"\n    date: \"" + date + "\"\n" +
			"    message: |\n      " + name + " a.c.\n    trailers:\n      - \"Signed-off-by: A B <a@b.c>\"\n"
	}
	return fstest.MapFS{
		"series.yaml": {Data: []byte("cover:\n  subject: \"x\"\n  author: \"A B <a@b.c>\"\n  date: \"2025-07-16T20:49:10-04:00\"\n  body: |\n    x\npatches:\n" +
			patch("create", "has_a", "2025-07-16T20:49:11-04:00") + patch("extend", "", "2025-07-16T20:49:12-04:00"))},
		"probes.yaml":    {Data: []byte("- name: has_a\n  desc: the tree has a.c\n  file: a.c\n  exists: true\n")},
		"files/a.c.tmpl": {Data: []byte("{{if .At \"create\"}}int a(void)\n{\n\treturn 1;\n}\n{{end}}")},
		"edits/a.c.yaml": {Data: []byte("- from: extend\n  anchor: |2\n    int a(void)\n  op: insert-before\n  text: |2\n    /* extended */\n")},
	}
}

func gitTree(t *testing.T, files map[string]string) string {
	t.Helper()
	needGit(t)
	dir := filepath.Join(t.TempDir(), "linux")
	files["Makefile"] = "VERSION = 6\nPATCHLEVEL = 12\nSUBLEVEL = 0\n"
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	run(t, dir, baseEnv, "git", "init", "-q", "-b", "master")
	run(t, dir, baseEnv, "git", "add", ".")
	run(t, dir, baseEnv, "git", "commit", "-q", "-m", "base")
	return dir
}

func TestEditsOnOwnedFile(t *testing.T) {
	fsys := ownedEditsTemplates()

	// The series creates a.c, then its edit changes the series' a.c.
	res, err := Render(context.Background(), Options{Templates: fsys, Tree: gitTree(t, map[string]string{})})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Patches) != 2 {
		t.Fatalf("got %d patches, want 2", len(res.Patches))
	}
	p2 := string(res.Mail(&res.Patches[1]))
	if !strings.Contains(p2, "+/* extended */\n int a(void)\n") {
		t.Errorf("patch 2 does not extend the series' a.c:\n%s", p2)
	}

	// The tree has its own a.c: "create" is skipped and the same edit
	// changes the tree's form.
	res, err = Render(context.Background(), Options{Templates: fsys, Tree: gitTree(t, map[string]string{"a.c": "/* upstream */\nint a(void)\n{\n\treturn 2;\n}\n"})})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Patches) != 1 || len(res.Skipped) != 1 {
		t.Fatalf("got %d patches, %d skipped; want 1, 1", len(res.Patches), len(res.Skipped))
	}
	p1 := string(res.Mail(&res.Patches[0]))
	if !strings.Contains(p1, " /* upstream */\n+/* extended */\n int a(void)\n") {
		t.Errorf("the patch does not extend the tree's own a.c:\n%s", p1)
	}
}

// An edit of an owned file in effect before the series created it is an
// error that names the edit.
func TestEditOnOwnedFileBeforeCreation(t *testing.T) {
	fsys := ownedEditsTemplates()
	fsys["edits/a.c.yaml"] = &fstest.MapFile{Data: []byte("- from: create\n  op: append\n  text: |2\n    x\n")}
	fsys["files/a.c.tmpl"] = &fstest.MapFile{Data: []byte("{{if .At \"extend\"}}int a(void);\n{{end}}")}
	_, err := Render(context.Background(), Options{Templates: fsys, Tree: gitTree(t, map[string]string{})})
	if err == nil || !strings.Contains(err.Error(), "has not created the file yet") {
		t.Fatalf("want an error about the file not created yet, got %v", err)
	}
}
