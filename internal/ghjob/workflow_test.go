package ghjob

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The repository's own workflows: every job parses, every action has a
// stand-in here, and Check finds nothing that would break a job on a
// hosted runner.
func TestRepositoryWorkflows(t *testing.T) {
	ws, err := ParseDir("../..")
	if err != nil {
		t.Fatal(err)
	}
	jobs := 0
	for _, w := range ws {
		for _, f := range Check(w) {
			t.Errorf("%s", f)
		}
		for id, j := range w.Jobs {
			jobs++
			if len(j.Steps) == 0 {
				t.Errorf("%s: job %s has no steps", w.Path, id)
			}
		}
	}
	if jobs < 3 {
		t.Errorf("read %d jobs from %d workflow files, want the kcheck job and the matrix's base and join jobs", jobs, len(ws))
	}
}

func writeWorkflow(t *testing.T, text string) *Workflow {
	t.Helper()
	p := filepath.Join(t.TempDir(), "w.yml")
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	w, err := Parse(p)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// Each kind of problem Check knows, in the shape it takes in a workflow
// (the first two are what matrix.yml and kcheck.yml had).
func TestCheckFindings(t *testing.T) {
	w := writeWorkflow(t, `
jobs:
  base:
    runs-on: ubuntu-latest
    container:
      image: debian:bookworm
    env:
      XDG_CACHE_HOME: ${{ github.workspace }}/.cache
      OK: plain
    steps:
      - uses: actions/checkout@v4
      - run: sudo apt-get install -y git
      - run: cp x ${{ runner.temp }}/y
      - uses: someone/else@v1
  ci:
    runs-on: ubuntu-latest
    steps:
      - run: go run ./cmd/kcheck ci "$KVERSION"
  join:
    runs-on: ubuntu-latest
    steps:
      - run: go run ./cmd/kcheck matrix --join "$files" --out report
`)
	var got []string
	for _, f := range Check(w) {
		got = append(got, f.Job+": "+f.Where+": "+f.Problem)
	}
	all := strings.Join(got, "\n")
	for _, want := range []string{
		"base: env XDG_CACHE_HOME: \"${{ github.workspace }}/.cache\" is the runner host's path",
		"base: step 2 (Run sudo apt-get install -y git): sudo in a container job",
		"base: step 3 (Run cp x ${{ runner.temp }}/y): uses the runner host's path",
		"base: step 4 (someone/else@v1): uses someone/else@v1, which this runner has no stand-in for",
		"ci: runs-on ubuntu-latest: fetches Debian kernel trees",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("no finding %q in:\n%s", want, all)
		}
	}
	if len(got) != 5 {
		t.Errorf("%d findings, want 5 (join only reads JSON files; OK is plain):\n%s", len(got), all)
	}
}

func TestExpand(t *testing.T) {
	c := Context{"matrix.base": "6.12.95", "github.workspace": "/home/runner/work/k/k"}
	for _, tc := range []struct{ in, want, err string }{
		{in: `kcheck matrix --out "out/${{ matrix.base }}" "${{matrix.base}}"`, want: `kcheck matrix --out "out/6.12.95" "6.12.95"`},
		{in: "${{ inputs.version || '6.12' }}", want: "6.12"},
		{in: "${{ github.workspace }}/.cache", want: "/home/runner/work/k/k/.cache"},
		{in: "${{ env.UNSET }}x", want: "x"},
		{in: "${{ matrix.arch }}", err: "matrix.arch has no value"},
		{in: "${{ hashFiles('go.sum') }}", err: "only context names"},
	} {
		got, err := c.Expand(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("Expand(%q) = %q, %v; want an error with %q", tc.in, got, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("Expand(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

// What a step writes to $GITHUB_ENV and $GITHUB_PATH reaches the steps
// after it, multi-line values included.
func TestFileCommands(t *testing.T) {
	fc := t.TempDir()
	r := &Runner{fileEnv: map[string]string{}, steps: 1}
	os.WriteFile(filepath.Join(fc, "env_1"), []byte("XDG_CACHE_HOME=/__w/k/k/.cache\nNOTE<<EOF\na\nb\nEOF\n"), 0o644)
	os.WriteFile(filepath.Join(fc, "path_1"), []byte("/__t/go/1.26.8/x64/bin\n"), 0o644)
	r.readFileCommands(fc)
	if r.fileEnv["XDG_CACHE_HOME"] != "/__w/k/k/.cache" || r.fileEnv["NOTE"] != "a\nb" {
		t.Errorf("env from $GITHUB_ENV: %q", r.fileEnv)
	}
	env, err := r.env(&Job{ID: "base", Env: map[string]string{"A": "${{ matrix.base }}"}}, Step{}, Context{"matrix.base": "7.2"})
	if err != nil {
		t.Fatal(err)
	}
	joined := "\n" + strings.Join(env, "\n") + "\n"
	for _, want := range []string{"\nA=7.2\n", "\nPATH=/__t/go/1.26.8/x64/bin:" + imagePath + "\n", "\nXDG_CACHE_HOME=/__w/k/k/.cache\n", "\nHOME=/github/home\n"} {
		if !strings.Contains(joined, want) {
			t.Errorf("step environment lacks %q:%s", strings.TrimSpace(want), joined)
		}
	}
}

// Only the machine's settings a job needs are copied: apt's mirror and
// proxy settings, not how it installs packages; nothing when the machine
// has none.
func TestCopyLocalSettings(t *testing.T) {
	host := t.TempDir()
	write := func(name, data string) {
		if err := os.WriteFile(filepath.Join(host, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("99artifact-registry", "Acquire::Check-Valid-Until \"false\";\nAcquire::Check-Date \"false\";\n")
	write("01autoremove", "APT::NeverAutoRemove { \"^linux-image.*\"; };\n")
	write("30proxy", "acquire::http::proxy \"http://proxy:3128\";\n")
	settings := []localSetting{{glob: filepath.Join(host, "*"), dir: "etc/apt/apt.conf.d", keep: aptMirrorSetting, what: "apt settings"}}
	root := t.TempDir()
	var said []string
	if err := copyLocalSettings(root, settings, func(f string, a ...any) { said = append(said, fmt.Sprintf(f, a...)) }); err != nil {
		t.Fatal(err)
	}
	got, _ := filepath.Glob(filepath.Join(root, "etc/apt/apt.conf.d/*"))
	for i := range got {
		got[i] = filepath.Base(got[i])
	}
	if want := []string{"30proxy", "99artifact-registry"}; !slices.Equal(got, want) {
		t.Errorf("copied %v, want %v", got, want)
	}
	if len(said) != 1 || !strings.Contains(said[0], "not on a hosted runner") {
		t.Errorf("the copy was not said once: %q", said)
	}

	said = nil
	none := []localSetting{{glob: filepath.Join(t.TempDir(), "*.crt"), dir: "usr/local/share/ca-certificates", what: "local CAs"}}
	root = t.TempDir()
	if err := copyLocalSettings(root, none, func(f string, a ...any) { said = append(said, f) }); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "usr")); err == nil || len(said) != 0 {
		t.Errorf("a machine without local CAs got a directory or a message: %q", said)
	}
}
