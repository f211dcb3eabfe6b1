package ci

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/kdefer/kdefer/internal/boot"
	"github.com/kdefer/kdefer/internal/bootreport"
	"github.com/kdefer/kdefer/internal/e2e"
	"github.com/kdefer/kdefer/internal/ktap"
	"github.com/kdefer/kdefer/internal/lint"
	"github.com/kdefer/kdefer/internal/stepbuild"
	"github.com/kdefer/kdefer/internal/workspace"
)

// fakeResult is a finished run over a real two-patch format-patch series:
// patch 2 has a lint finding and breaks the "off" build; the boot ran
// three self-tests, one failing.
func fakeResult(t *testing.T) *Result {
	t.Helper()
	e2e.Tool(t, "git")
	dir := t.TempDir()
	git := func(args ...string) {
		e2e.Git(t, dir, args...)
	}
	git("init", "-q")
	git("config", "user.name", "Jane Dev")
	git("config", "user.email", "jane@example.com")
	os.WriteFile(filepath.Join(dir, "a.c"), []byte("int a;\n"), 0o644)
	git("add", ".")
	git("commit", "-qm", "base")
	for i, name := range []string{"b.c", "c.c"} {
		os.WriteFile(filepath.Join(dir, name), []byte("int x;\n"), 0o644)
		git("add", ".")
		git("commit", "-qm", "x: Patch "+string(rune('1'+i))+"\n\nBody.\n\nSigned-off-by: Jane Dev <jane@example.com>")
	}
	git("format-patch", "-q", "--cover-letter", "-o", "out", "HEAD~2")
	s, err := workspace.ReadSeries(filepath.Join(dir, "out"))
	if err != nil {
		t.Fatal(err)
	}
	doc, err := ktap.Parse(strings.NewReader("KTAP version 1\n1..1\n    KTAP version 1\n    1..3\n    ok 1 task_request\n    not ok 2 nmi_request\n    # cookie mismatch\n    ok 3 compat # SKIP no 32-bit\nnot ok 1 unwind_deferred\n"))
	if err != nil {
		t.Fatal(err)
	}
	rep := &bootreport.Report{Tree: dir, Outcome: "poweroff", KTAP: doc, Splats: nil}
	rep.Decide()
	now := time.Now()
	r := &Result{Tree: dir, TreeName: "test", Base: strings.Repeat("ab", 20), Start: now, Elapsed: 90 * time.Second,
		Series: s, Applied: []string{"", ""}, Configs: stepbuild.DefaultConfigs(),
		Lint: &lint.Result{Series: s, Findings: []lint.Finding{{Patch: 2, Check: lint.CheckCheckpatch, Level: "ERROR", Type: "SPACING",
			Message: "spaces required around that '=='", File: "c.c", Line: 1}}},
		Build: &stepbuild.Result{Steps: []stepbuild.Step{
			{Patch: 0, Config: "on", Status: "ok"}, {Patch: 1, Config: "on", Status: "ok"}, {Patch: 2, Config: "on", Status: "ok"},
			{Patch: 0, Config: "off", Status: "ok"}, {Patch: 1, Config: "off", Status: "ok"},
			{Patch: 2, Config: "off", Status: "error", Message: "c.c:1:5: error: implicit declaration of function 'y'"}},
			Breaks: []stepbuild.Break{{Patch: 2, Config: "off", Kind: "error", Message: "c.c:1:5: error: implicit declaration of function 'y'"}}},
		Boot: &boot.Result{Report: rep},
		Stages: []Stage{{Name: StageProbe, Status: Pass}, {Name: StageRender, Status: Pass}, {Name: StageApply, Status: Pass},
			{Name: StageLint, Status: Fail, Detail: "1 findings"}, {Name: StageBuild, Status: Fail}, {Name: StageBoot, Status: Fail}},
	}
	return r
}

func TestSummary(t *testing.T) {
	r := fakeResult(t)
	var b strings.Builder
	r.WriteSummary(&b)
	out := b.String()
	for _, want := range []string{"checkpatch", "build:off", "SPACING", "implicit declaration", "kcheck ci: FAIL"} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
	if r.ExitCode() != 1 {
		t.Errorf("exit code %d, want 1", r.ExitCode())
	}
	r.Stages[4] = Stage{Name: StageBuild, Status: NotRun, Detail: "--quick"}
	r.Stages[3].Status, r.Stages[5].Status = Pass, Pass
	if r.ExitCode() != 2 {
		t.Errorf("a stage not run: exit code %d, want 2", r.ExitCode())
	}
}

var (
	reID   = regexp.MustCompile(`^kdefer:.+$`)
	rePath = regexp.MustCompile(`^([a-zA-Z0-9_-]+(\.[a-zA-Z0-9_-]+)*)?$`)
)

func TestKCIDB(t *testing.T) {
	r := fakeResult(t)
	b, err := r.KCIDB()
	if err != nil {
		t.Fatal(err)
	}
	var doc KCIDBDoc
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Version.Major != 5 || len(doc.Checkouts) != 3 || len(doc.Builds) != 2*3+1 {
		t.Fatalf("version %v, %d checkouts, %d builds", doc.Version, len(doc.Checkouts), len(doc.Builds))
	}
	ids := map[string]bool{}
	for _, c := range doc.Checkouts {
		ids[c["id"].(string)] = true
	}
	statuses := map[string]bool{"FAIL": true, "ERROR": true, "MISS": true, "PASS": true, "DONE": true, "SKIP": true}
	for _, bl := range doc.Builds {
		if !ids[bl["checkout_id"].(string)] || !reID.MatchString(bl["id"].(string)) || !statuses[bl["status"].(string)] {
			t.Errorf("bad build %v", bl)
		}
		ids[bl["id"].(string)] = true
	}
	var failed []string
	for _, ts := range doc.Tests {
		if !ids[ts["build_id"].(string)] || !rePath.MatchString(ts["path"].(string)) || !statuses[ts["status"].(string)] {
			t.Errorf("bad test %v", ts)
		}
		if ts["status"] == "FAIL" {
			failed = append(failed, ts["path"].(string))
		}
	}
	want := "lint.checkpatch boot boot.unwind_deferred boot.unwind_deferred.nmi_request"
	if strings.Join(failed, " ") != want {
		t.Errorf("failed tests %v, want %s", failed, want)
	}
	if ph := doc.Checkouts[2]["patchset_hash"].(string); len(ph) != 64 {
		t.Errorf("patchset_hash %q", ph)
	}
}

func TestJUnitValidates(t *testing.T) {
	r := fakeResult(t)
	b, err := r.JUnit()
	if err != nil {
		t.Fatal(err)
	}
	e2e.ValidateJUnit(t, b)
	s := string(b)
	for _, want := range []string{`name="ci.checkpatch"`, `<failure message="checkpatch ERROR:SPACING`, `name="boot.`, `nmi_request`} {
		if !strings.Contains(s, want) {
			t.Errorf("JUnit lacks %q", want)
		}
	}
}
