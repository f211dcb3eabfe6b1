package matrix

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kdefer/kdefer/internal/ci"
	"github.com/kdefer/kdefer/internal/e2e"
	"github.com/kdefer/kdefer/internal/kerneltree"
)

const testdata = "../render/testdata"

// Three bases: one that runs the job (a fake ci.Run reporting a lint
// failure), one whose anchor no longer matches, one that cannot be
// fetched. The table, the exit code, the anchor report and the JUnit and
// JSON outputs say so, and Join gives back the same rows.
func TestRunAndOutputs(t *testing.T) {
	good, broken := e2e.FixtureTree(t, false), e2e.FixtureTree(t, true)
	ran := 0
	m, err := Run(context.Background(), Options{
		Bases:     []string{"9.1", "9.2", "9.3"},
		Templates: os.DirFS(testdata + "/templates"),
		Get: func(_ context.Context, o kerneltree.Options) (string, error) {
			switch o.Version {
			case "9.1":
				return good, nil
			case "9.2":
				return broken, nil
			}
			return "", errors.New("no Debian package linux-source-9.3")
		},
		CI: func(_ context.Context, o ci.Options) (*ci.Result, error) {
			ran++
			if o.Tree != good {
				t.Errorf("the job ran on %s", o.Tree)
			}
			return &ci.Result{Stages: []ci.Stage{{Name: ci.StageProbe, Status: ci.Pass}, {Name: ci.StageRender, Status: ci.Pass},
				{Name: ci.StageApply, Status: ci.Pass}, {Name: ci.StageLint, Status: ci.Fail, Detail: "1 findings"},
				{Name: ci.StageBuild, Status: ci.NotRun, Detail: "--quick"}, {Name: ci.StageBoot, Status: ci.Pass}}}, nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if ran != 1 || len(m.Rows) != 3 {
		t.Fatalf("ran the job %d times, %d rows", ran, len(m.Rows))
	}
	for _, r := range m.Rows {
		if r.Seconds <= 0 {
			t.Errorf("base %s: the row's time is %v s; the table and JSON give each base's time", r.Base, r.Seconds)
		}
	}
	if m.ExitCode() != 1 {
		t.Errorf("exit code %d, want 1 (a lint failure)", m.ExitCode())
	}
	var tab bytes.Buffer
	m.WriteTable(&tab)
	out := tab.String()
	for _, want := range []string{
		"9.1        linux      pass        pass        pass        pass        fail        not run     pass",
		"9.2        linux      pass        pass        fail        not run",
		"9.3                   error       not run",
		"anchor: patch deferred, kernel/fork.c, edit 1: anchor matches nothing",
		"| retval = sched_fork(clone_flags, p);",
		"nearest candidates:",
		"30: \tretval = sched_fork(p);",
		// every broken anchor of the run, not only the first
		"anchor: patch deferred, include/linux/sched.h, edit 1: anchor matches nothing",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the table lacks %q:\n%s", want, out)
		}
	}
	x, err := m.JUnit()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(x, []byte(`<testsuites name="kcheck matrix" time="`)) || !bytes.Contains(x, []byte(`tests="21" errors="1" failures="2" skipped="`)) {
		t.Errorf("JUnit counts:\n%s", x[:300])
	}
	e2e.ValidateJUnit(t, x)
	var h bytes.Buffer
	if err := m.HTML(&h); err != nil || !strings.Contains(h.String(), `<td class="fail" title="1 findings">fail</td>`) {
		t.Errorf("HTML: %v\n%s", err, h.String())
	}
	// One JSON file per base, joined.
	dir := t.TempDir()
	var files []string
	for i, r := range m.Rows {
		one := &Matrix{Start: m.Start, Rows: []Row{r}}
		j, _ := one.JSON()
		f := filepath.Join(dir, string(rune('a'+i))+".json")
		os.WriteFile(f, j, 0o644)
		files = append(files, f)
	}
	joined, err := Join([]string{files[2], files[0], files[1]})
	if err != nil {
		t.Fatal(err)
	}
	var tab2 bytes.Buffer
	joined.WriteTable(&tab2)
	if tab2.String() != out {
		t.Errorf("joined table differs:\n%s\nwant:\n%s", tab2.String(), out)
	}
}

// A one-row file written before rows were timed (row seconds 0, as the
// first 7.2 run wrote it) keeps the file's time in the joined table.
func TestJoinUntimedRow(t *testing.T) {
	dir := t.TempDir()
	old := filepath.Join(dir, "old.json")
	timed := filepath.Join(dir, "new.json")
	os.WriteFile(old, []byte(`{"seconds": 7192.5, "rows": [{"base": "7.2", "seconds": 0}]}`), 0o644)
	os.WriteFile(timed, []byte(`{"seconds": 300, "rows": [{"base": "6.1", "seconds": 250}, {"base": "6.12", "seconds": 0}]}`), 0o644)
	m, err := Join([]string{old, timed})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, r := range m.Rows {
		got[r.Base] = r.Seconds
	}
	if got["7.2"] != 7192.5 || got["6.1"] != 250 || got["6.12"] != 0 {
		t.Fatalf("row seconds %v, want 7.2 from its file (7192.5), 6.1 250, 6.12 0 (a file of two rows is not split)", got)
	}
}
