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

// Version, maintainer and changelog: version 2 needs its changelog entry;
// a Signed-off-by in the templates needs an author of the patch's own.
func TestVersionAndIdentity(t *testing.T) {
	const head = "version: 2\nmaintainer: \"Ann M <ann@kernel.test>\"\n"
	const log2 = "changelog:\n  - version: 2\n    changes: [\"fixed x\"]\n"
	s, err := Load(fsWith(map[string]string{"series.yaml": head + log2 + goodSeries}))
	if err != nil {
		t.Fatal(err)
	}
	if s.Version != 2 || s.Maintainer.String() != "Ann M <ann@kernel.test>" || len(s.Changelog) != 1 || s.Changelog[0].Changes[0] != "fixed x" {
		t.Errorf("loaded version %d, maintainer %q, changelog %+v", s.Version, s.Maintainer, s.Changelog)
	}
	if s, err := Load(fsWith(nil)); err != nil || s.Version != 1 || !s.Maintainer.IsZero() {
		t.Errorf("no version: gives %v, %v", s, err)
	}
	noAuthor := strings.Replace(goodSeries, "    author: \"Steven Rostedt (Google) <r@b.c>\"\n", "", 1)
	for name, c := range map[string]struct{ yaml, want string }{
		"no changelog":        {head + goodSeries, "version 2 has no entry"},
		"changelog too new":   {"version: 1\n" + log2 + goodSeries, "between 2 and the series' version 1"},
		"bad maintainer":      {"maintainer: \"nobody\"\n" + goodSeries, "maintainer:"},
		"forged sign-off":     {head + log2 + noAuthor, "a Signed-off-by written in the templates is only for a patch with an author:"},
		"empty change":        {"version: 2\nchangelog:\n  - version: 2\n    changes: [\" \"]\n" + goodSeries, "an empty change"},
		"oldest first":        {"version: 3\nchangelog:\n  - version: 2\n    changes: [a]\n  - version: 3\n    changes: [b]\n" + goodSeries, "newest version first"},
		"version in series.d": {"", ""},
	} {
		if c.yaml == "" {
			_, err := Load(fsWith(map[string]string{"series.d/50-x.yaml": "version: 3\n" + perf}))
			if err == nil || !strings.Contains(err.Error(), "belong in series.yaml only") {
				t.Errorf("%s: got %v", name, err)
			}
			continue
		}
		_, err := Load(fsWith(map[string]string{"series.yaml": c.yaml}))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: want an error with %q, got %v", name, c.want, err)
		}
	}
}
