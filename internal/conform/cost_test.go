package conform

import (
	"strings"
	"testing"

	"github.com/kdefer/kdefer/internal/ktap"
)

const costDoc = `KTAP version 1
1..1
    KTAP version 1
    # Subtest: unwind_deferred
    1..2
        # task_request: 3 ms
    ok 1 task_request
        # cost: syscall_idle_ns 410
        # cost: request_task_ns 9000
        # cost: walk_per_frame_ns 55
        # cost_figures: 812 ms
    ok 2 cost_figures
ok 1 unwind_deferred
`

func TestCostsAndRatios(t *testing.T) {
	d, err := ktap.Parse(strings.NewReader(costDoc))
	if err != nil {
		t.Fatal(err)
	}
	ours := Costs(d)
	if ours["syscall_idle_ns"] != 410 || ours["request_task_ns"] != 9000 || ours["walk_per_frame_ns"] != 55 || len(ours) != 3 {
		t.Fatalf("costs %v", ours)
	}
	up := map[string]float64{"syscall_idle_ns": 400, "request_task_ns": 9000, "request_nmi_ns": 20000}
	rows := CompareCosts(ours, up)
	if len(rows) != 4 || rows[0].Name != "request_nmi_ns" || rows[0].Ratio != 0 || rows[2].Name != "syscall_idle_ns" {
		t.Fatalf("rows %+v", rows)
	}
	writeCostsWant(t, rows, 0, "syscall_idle_ns", "410 ns", "400 ns", "1.02", "request_task_ns", "1.00", "request_nmi_ns", "-", "cost: 4 figures, 0 of the series' paths above 1.05")
	var b strings.Builder
	if n := WriteCosts(&b, CompareCosts(map[string]float64{"a": 120}, map[string]float64{"a": 100}), "ours", "up"); n != 1 || !strings.Contains(b.String(), "1.20*") {
		t.Errorf("1.2 not flagged (%d):\n%s", n, b.String())
	}
}

// A figure whose ratio comes from its base kernel: the raw ratio is above
// the goal, the corrected one is not; a figure above the goal after the
// correction is still marked; the baselines' own ratios are not counted.
func TestCostsCorrectedByBaseline(t *testing.T) {
	ours := map[string]float64{"request_task_ns": 150, "ioctl_null_ns": 120, "walk_per_frame_ns": 300, "get_user_ns": 100}
	up := map[string]float64{"request_task_ns": 100, "ioctl_null_ns": 80, "walk_per_frame_ns": 100, "get_user_ns": 50}
	rows := CompareCosts(ours, up)
	by := map[string]CostRow{}
	for _, r := range rows {
		by[r.Name] = r
	}
	if r := by["request_task_ns"]; r.Base != "ioctl_null_ns" || r.Ratio != 1.5 || r.BaseRatio != 1.5 || r.Corrected != 1 {
		t.Errorf("request_task_ns %+v, want ratio 1.5 and corrected 1", r)
	}
	if r := by["walk_per_frame_ns"]; r.Corrected != 1.5 {
		t.Errorf("walk_per_frame_ns %+v, want corrected 3/2", r)
	}
	// 2: the raw ratios of the series' paths, not those of the baselines
	writeCostsWant(t, rows, 2, "ioctl_null_ns (1.50*)", "1.00\n", "get_user_ns (2.00*)", "1.50*\n", "(a baseline)", "corrected by each kernel's own baseline: 1 above")
}

// writeCostsWant prints rows and checks the count above the goal and
// that the output holds each of want.
func writeCostsWant(t *testing.T, rows []CostRow, wantOver int, want ...string) {
	t.Helper()
	var b strings.Builder
	over := WriteCosts(&b, rows, "ours", "upstream")
	out := b.String()
	t.Log("\n" + out)
	if over != wantOver {
		t.Errorf("%d ratios counted above the goal, want %d", over, wantOver)
	}
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q", w)
		}
	}
}
