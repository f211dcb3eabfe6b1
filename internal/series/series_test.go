package series

import (
	"strings"
	"testing"
	"testing/fstest"
)

const goodSeries = `cover:
  subject: "s"
  author: "A B <a@b.c>"
  date: "2025-07-16T20:49:10-04:00"
  body: "Body {{.Tree.Version}}"
patches:
  - name: one
    subject: "x: one"
    author: "Steven Rostedt (Google) <r@b.c>"
    date: "2025-07-16T20:49:11-04:00"
    message: "m"
    trailers: ["Signed-off-by: A B <a@b.c>"]
`

const perf = `patches:
  - name: two
    subject: "x: two"
    author: "A B <a@b.c>"
    date: "2025-07-16T20:49:12-04:00"
    skip-if: p
`

func fsWith(extra map[string]string) fstest.MapFS {
	m := fstest.MapFS{
		"series.yaml":        {Data: []byte(goodSeries)},
		"series.d/50-x.yaml": {Data: []byte(perf)},
		"probes.yaml":        {Data: []byte("- name: p\n  file: a\n  exists: true\n")},
	}
	for k, v := range extra {
		if v == "" {
			delete(m, k)
			continue
		}
		m[k] = &fstest.MapFile{Data: []byte(v)}
	}
	return m
}

func TestLoad(t *testing.T) {
	s, err := Load(fsWith(map[string]string{
		"series.d/10-y.yaml":              strings.Replace(perf, "two", "zero", 1),
		"files/kernel/unwind/user.c.tmpl": `{{if .At "one"}}x{{end}}`,
		"edits/kernel/fork.c.yaml":        "- from: one\n  until: two\n  scope:\n    function: copy_process\n  anchor: |\n    \tretval = x;\n  op: insert-after\n  text: |\n    \tfoo();\n",
	}))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range s.Patches {
		names = append(names, p.Name)
	}
	if strings.Join(names, ",") != "one,zero,two" {
		t.Errorf("order %v: series.yaml then series.d in lexical order", names)
	}
	if s.Patches[0].Name_ != "Steven Rostedt (Google)" || s.Patches[0].Email != "r@b.c" {
		t.Errorf("author %q %q", s.Patches[0].Name_, s.Patches[0].Email)
	}
	if len(s.Files) != 1 || s.Files[0].Path != "kernel/unwind/user.c" {
		t.Errorf("files %+v", s.Files)
	}
	if len(s.Edits) != 1 || s.Edits[0].Path != "kernel/fork.c" || s.Edits[0].Edits[0].Text != "\tfoo();\n" || s.Edits[0].Edits[0].Anchor != "\tretval = x;\n" {
		t.Errorf("edits %+v", s.Edits[0].Edits[0])
	}
}

func TestLoadErrors(t *testing.T) {
	for want, extra := range map[string]map[string]string{
		"duplicate name":           {"series.d/60-z.yaml": perf},
		"skip-if: unknown probe":   {"series.d/50-x.yaml": strings.Replace(perf, "skip-if: p", "skip-if: q", 1)},
		"from: unknown patch":      {"edits/a.yaml": "- from: nope\n  op: append\n  text: x\n"},
		"does not come after":      {"edits/a.yaml": "- from: two\n  until: one\n  op: append\n  text: x\n"},
		"needs an anchor":          {"edits/a.yaml": "- from: one\n  op: replace\n"},
		"when: unknown probe":      {"edits/a.yaml": "- from: one\n  when: \"!zz\"\n  op: append\n  text: x\n"},
		"field opp not found":      {"edits/a.yaml": "- from: one\n  opp: append\n"},
		"files/a.c.tmpl":           {"files/a.c.tmpl": "{{if .At \"one\"}}"},
		"not RFC 3339":             {"series.d/50-x.yaml": strings.Replace(perf, "2025-07-16T20:49:12-04:00", "yesterday", 1)},
		"is not \"Name <email>\"":  {"series.d/50-x.yaml": strings.Replace(perf, "A B <a@b.c>", "a@b.c", 1)},
		"cover: belongs in":        {"series.d/50-x.yaml": "cover:\n  subject: x\n" + perf},
		"owned-file templates end": {"files/a.c": "x"},
		"is not \"Key: value\"":    {"series.d/50-x.yaml": perf + "    trailers: [\"nope\"]\n"},
	} {
		_, err := Load(fsWith(extra))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("want error containing %q, got %v", want, err)
		}
	}
}

// An owned file may also have anchored edits (for trees that carry their
// own form of it); the loader marks them.
func TestOwnedFileEdits(t *testing.T) {
	s, err := Load(fsWith(map[string]string{"files/a.c.tmpl": "x", "edits/a.c.yaml": "- from: one\n  op: append\n  text: x\n"}))
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Edits) != 1 || !s.Edits[0].Owned {
		t.Fatalf("edits of the owned a.c not marked Owned: %+v", s.Edits)
	}
}

func TestIndentIndicator(t *testing.T) {
	in := "- from: a\n  text: |\n\n    \tfoo();\n  anchor: |-\n    \tbar;\n"
	out := string(addIndentIndicators([]byte(in)))
	if out != "- from: a\n  text: |2\n\n    \tfoo();\n  anchor: |2-\n    \tbar;\n" {
		t.Errorf("got %q", out)
	}
}
