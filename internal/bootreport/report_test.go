package bootreport

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/kdefer/kdefer/internal/e2e"
	"github.com/kdefer/kdefer/internal/ktap"
	"github.com/kdefer/kdefer/internal/splat"
)

const console = `[    0.500000] Run /init as init process
KTAP version 1
1..2
    KTAP version 1
    # Subtest: nmi
    1..3
    ok 1 task_request
    # nmi_request: callback count 0, want 1 <&>
    not ok 2 nmi_request
    ok 3 compat # SKIP no 32-bit toolchain
ok 1 nmi
[    1.200000] random: crng init done
ok 2 fork
[    1.300000] reboot: Power down
`

func sampleReport(t *testing.T) *Report {
	doc, err := ktap.Parse(strings.NewReader(console))
	if err != nil {
		t.Fatal(err)
	}
	r := &Report{KTAP: doc, Outcome: "poweroff", Accel: "tcg", Boot: 3 * time.Second,
		Splats: []splat.Finding{{Kind: "warning", Title: "WARNING in f", Header: "WARNING: CPU: 0 PID: 1 at x.c:1 f+0x1/0x2", Line: 9, Count: 1,
			Lines: []string{"[    1.0] WARNING: CPU: 0 PID: 1 at x.c:1 f+0x1/0x2", "[    1.0] ---[ end trace 0000000000000000 ]---"}}}}
	r.Decide()
	return r
}

func TestDecide(t *testing.T) {
	r := sampleReport(t)
	if r.Verdict != Fail || r.ExitCode() != 1 {
		t.Fatalf("verdict %s", r.Verdict)
	}
	if len(r.Problems) != 2 {
		t.Fatalf("problems %q", r.Problems)
	}
	r.Splats = nil
	r.KTAP.Root.Subtests[0].Subtests[1].Status = ktap.Pass
	r.KTAP.Root.Subtests[0].Status = ktap.Pass
	r.Decide()
	if r.Verdict != Pass || r.ExitCode() != 0 {
		t.Fatalf("verdict %s %q", r.Verdict, r.Problems)
	}
	r.Outcome = "timeout"
	r.Decide()
	if r.Verdict != Fail {
		t.Fatal("timeout must fail")
	}
	r.HarnessError = "qemu not found"
	r.Decide()
	if r.ExitCode() != 2 {
		t.Fatal("harness error must exit 2")
	}
}

func TestHuman(t *testing.T) {
	var b bytes.Buffer
	sampleReport(t).Human(&b)
	out := b.String()
	for _, w := range []string{"[FAIL] nmi_request", "# nmi_request: callback count 0", "[SKIP] compat (no 32-bit toolchain)",
		"splat 1/1: warning: WARNING in f (console line 9)", "  | [    1.0] WARNING: CPU: 0 PID: 1 at x.c:1", "  | [    1.0] ---[ end trace", "verdict: FAIL"} {
		if !strings.Contains(out, w) {
			t.Errorf("summary lacks %q:\n%s", w, out)
		}
	}
}

func TestJSON(t *testing.T) {
	var b bytes.Buffer
	if err := sampleReport(t).JSON(&b); err != nil {
		t.Fatal(err)
	}
	var v map[string]any
	if err := json.Unmarshal(b.Bytes(), &v); err != nil {
		t.Fatal(err)
	}
	if v["verdict"] != "fail" || len(v["splats"].([]any)) != 1 {
		t.Fatalf("json: %s", b.String())
	}
	if !strings.Contains(b.String(), `"status": "skip"`) {
		t.Fatal("status not written as a word")
	}
}

func TestJUnitValidates(t *testing.T) {
	var b bytes.Buffer
	if err := sampleReport(t).JUnit(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, w := range []string{`<testsuite name="nmi" tests="3" failures="1" errors="0" id="1" skipped="1"`,
		`<testcase name="nmi_request" classname="nmi"`, `<failure message="WARNING in f" type="warning"`, `&lt;&amp;&gt;`,
		`<testcase name="fork" classname="ktap"`, `<testcase name="guest_runs_to_poweroff"`} {
		if !strings.Contains(out, w) {
			t.Errorf("junit lacks %q:\n%s", w, out)
		}
	}
	e2e.ValidateJUnit(t, b.Bytes())
}

func TestRawKTAP(t *testing.T) {
	raw := string(RawKTAP([]byte(console)))
	if strings.Contains(raw, "random:") || strings.Contains(raw, "Run /init") || !strings.HasPrefix(raw, "KTAP version 1\n") ||
		!strings.HasSuffix(raw, "ok 2 fork\n") {
		t.Fatalf("raw ktap:\n%s", raw)
	}
	d, _ := ktap.Parse(strings.NewReader(raw))
	if d.Counts().Total() != 4 {
		t.Fatal("raw KTAP does not parse to the same tests")
	}
}
