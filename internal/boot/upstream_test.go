package boot

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kdefer/kdefer/internal/bootreport"
	"github.com/kdefer/kdefer/internal/ktap"
)

func fakeTree(t *testing.T, version string) string {
	t.Helper()
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "kernel", "unwind"), 0o755)
	os.WriteFile(filepath.Join(dir, "Makefile"), []byte("# SPDX\nVERSION = "+version+"\nPATCHLEVEL = 3\nSUBLEVEL = 4\nEXTRAVERSION =\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "kernel", "unwind", "deferred.c"), []byte("// upstream\n"), 0o644)
	return dir
}

func upstreamReport(t *testing.T, extraFail bool) *bootreport.Report {
	t.Helper()
	doc := `KTAP version 1
1..2
    KTAP version 1
    # Subtest: unwind_deferred
    1..3
    ok 1 task_request
        # 1 callbacks for the compat task
    not ok 2 compat_task_refused
    ok 3 stress_nmi_syscalls
not ok 1 unwind_deferred
    KTAP version 1
    # Subtest: perf
    1..1
`
	if extraFail {
		doc += "    not ok 1 task_event_cookies\nnot ok 2 perf\n"
	} else {
		doc += "    ok 1 task_event_cookies\nok 2 perf\n"
	}
	d, err := ktap.Parse(strings.NewReader(doc))
	if err != nil {
		t.Fatal(err)
	}
	return &bootreport.Report{KTAP: d, Outcome: "poweroff", Splats: nil}
}

// On a tree whose infrastructure is upstream's, the failures
// DEVIATIONS.md lists as upstream's behaviour are known failures; any
// other failure, and any failure on a tree carrying the series, counts.
func TestExcuseUpstream(t *testing.T) {
	r := upstreamReport(t, false)
	if err := excuseUpstream(fakeTree(t, "7"), r); err != nil {
		t.Fatal(err)
	}
	r.Decide()
	if r.Verdict != bootreport.Pass || len(r.Notes) != 1 || !strings.Contains(r.Notes[0], "unwind_deferred/compat_task_refused") {
		t.Fatalf("7.x, documented failure: verdict %s, problems %q, notes %q", r.Verdict, r.Problems, r.Notes)
	}
	c := r.KTAP.Root.Subtests[0]
	if c.Status != ktap.Pass || c.Subtests[1].Status != ktap.Todo || !strings.Contains(c.Subtests[1].Reason, "DEVIATIONS.md: The series follows the v14 design") {
		t.Errorf("suite %s, case %s %q", c.Status, c.Subtests[1].Status, c.Subtests[1].Reason)
	}

	r = upstreamReport(t, true)
	excuseUpstream(fakeTree(t, "7"), r)
	r.Decide()
	if r.Verdict != bootreport.Fail || r.KTAP.Counts().Fail != 1 {
		t.Errorf("7.x with an undocumented failure: verdict %s, counts %+v", r.Verdict, r.KTAP.Counts())
	}

	r = upstreamReport(t, false)
	excuseUpstream(fakeTree(t, "6"), r)
	r.Decide()
	if r.Verdict != bootreport.Fail || len(r.Notes) != 0 {
		t.Errorf("a 6.x tree (the series' own code): verdict %s, notes %q; nothing may be excused", r.Verdict, r.Notes)
	}
}
