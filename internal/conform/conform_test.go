package conform

import (
	"strings"
	"testing"

	"github.com/kdefer/kdefer/internal/ktap"
	qemutests "github.com/kdefer/kdefer/qemu-tests"
)

func doc(t *testing.T, text string) *ktap.Document {
	t.Helper()
	d, err := ktap.Parse(strings.NewReader(text))
	if err != nil || !d.Found {
		t.Fatalf("parse: %v", err)
	}
	return d
}

const oursKTAP = `KTAP version 1
1..2
    KTAP version 1
    1..3
    ok 1 task_request
    ok 2 compat_task_refused
    ok 3 stress_nmi_syscalls
ok 1 unwind_deferred
    KTAP version 1
    1..1
    ok 1 percpu_user_chain
ok 2 perf
`

const upstreamKTAP = `KTAP version 1
1..2
    KTAP version 1
    1..3
    ok 1 task_request
    not ok 2 compat_task_refused
    not ok 3 stress_nmi_syscalls
not ok 1 unwind_deferred
    KTAP version 1
    1..1
    not ok 1 percpu_user_chain
not ok 2 perf
`

const devs = "# Deviations\n\n| case | ours | upstream | reason |\n|---|---|---|---|\n" +
	"| `unwind_deferred/compat_task_refused` | pass | fail | v14 refuses compat tasks |\n" +
	"| `unwind_deferred/stress_nmi_syscalls` | pass | pass or fail | 7.2's reset window, hit by chance |\n" +
	"| `unwind_deferred/task_request` | pass | fail | only to test a documented row that is not seen |\n"

func TestCompare(t *testing.T) {
	d, err := qemutests.ParseDeviations([]byte(devs))
	if err != nil {
		t.Fatal(err)
	}
	if len(d) != 3 || d[1].Upstream[1] != "fail" {
		t.Fatalf("parsed %+v", d)
	}
	tab := Compare(Cases(doc(t, oursKTAP)), Cases(doc(t, upstreamKTAP)), d)
	want := map[string]string{
		"unwind_deferred/task_request":        "same, deviation not seen",
		"unwind_deferred/compat_task_refused": "deviation",
		"unwind_deferred/stress_nmi_syscalls": "deviation",
		"perf/percpu_user_chain":              "UNDOCUMENTED",
	}
	if len(tab.Rows) != len(want) {
		t.Fatalf("%d rows, want %d: %+v", len(tab.Rows), len(want), tab.Rows)
	}
	for _, r := range tab.Rows {
		if want[r.Case] != r.Verdict {
			t.Errorf("%s: verdict %q, want %q", r.Case, r.Verdict, want[r.Case])
		}
	}
	if tab.OK() || tab.Undocumented != 1 || tab.NotSeen != 1 {
		t.Errorf("OK %v, undocumented %d, not seen %d", tab.OK(), tab.Undocumented, tab.NotSeen)
	}
	var b strings.Builder
	tab.Write(&b, "ours-6.12", "native-7.x")
	if !strings.Contains(b.String(), "perf/percpu_user_chain") || !strings.Contains(b.String(), ": FAIL") {
		t.Errorf("table:\n%s", b.String())
	}
}

// A row ending in "*" documents the cases it is a prefix of in the
// comparison too (qemutests.Match picks the row).
func TestComparePrefixRows(t *testing.T) {
	devs := []qemutests.Deviation{
		{Case: "sframe/*", Ours: []string{"pass"}, Upstream: []string{"-"}, Reason: "no SFrame upstream"},
		{Case: "perftool/sframe_*", Ours: []string{"pass"}, Upstream: []string{"skip"}, Reason: "no SFrame upstream"},
		{Case: "perftool/*", Ours: []string{"pass"}, Upstream: []string{"fail"}, Reason: "shorter prefix"},
	}
	tab := Compare(map[string]string{"sframe/a": "pass", "sframe/b": "pass", "perftool/sframe_x": "pass"},
		map[string]string{"perftool/sframe_x": "fail"}, devs)
	if tab.Undocumented != 1 || tab.Rows[0].Verdict != "UNDOCUMENTED" || tab.Rows[1].Verdict != "deviation" || tab.Rows[2].Verdict != "deviation" {
		t.Errorf("rows %+v: perftool/sframe_x failing upstream is not what its row allows", tab.Rows)
	}
}
