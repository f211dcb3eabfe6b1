package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kdefer/kdefer/internal/ci"
	"github.com/kdefer/kdefer/internal/e2e"
)

// TestE2ECI runs the README's main job as a user does, `kcheck ci 6.12`
// on the Debian tree (fetched into the cache if need be): render, apply,
// lint, build --each with the feature on and off, build and boot with the
// self-tests. It must pass, and its three reports must hold: the summary
// names every stage, the JSON is KCIDB-shaped with a passing boot test
// per self-test case, and the JUnit file validates against the schema.
func TestE2ECI(t *testing.T) {
	e2e.Need(t, "the whole kcheck ci job on Debian's 6.12 tree: minutes of builds and a QEMU boot")
	e2e.Tree(t, "6.12")
	bin := buildKcheck(t)
	dir := t.TempDir()
	junitOut := filepath.Join(dir, "ci.xml")
	stdout, stderr, code := runKcheck(t, bin, nil, "", "ci", "6.12", "--json", "--junit", junitOut, "--results", dir)
	summary, _ := os.ReadFile(filepath.Join(dir, "summary.txt"))
	t.Logf("kcheck ci 6.12:\n%s", summary)
	if code != 0 {
		tail := stderr
		if len(tail) > 4000 {
			tail = tail[len(tail)-4000:]
		}
		t.Fatalf("kcheck ci 6.12 exited %d, want 0\n%s", code, tail)
	}
	for _, stage := range []string{"probe", "render", "apply", "lint", "build-each", "boot"} {
		if !strings.Contains(string(summary), stage) || !strings.Contains(stderr, stage) {
			t.Errorf("the summary does not mention stage %s", stage)
		}
	}

	jsonOut := filepath.Join(dir, "kcidb.json")
	b, err := os.ReadFile(jsonOut)
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(string(b)) != strings.TrimSpace(stdout) {
		t.Errorf("--json printed something else on stdout than --results kept in %s", jsonOut)
	}
	var doc ci.KCIDBDoc
	if err := json.Unmarshal([]byte(stdout), &doc); err != nil {
		t.Fatalf("kcheck ci --json stdout: %v", err)
	}
	if doc.Version.Major != 5 || len(doc.Checkouts) == 0 || len(doc.Builds) == 0 {
		t.Fatalf("%s: version %v, %d checkouts, %d builds", jsonOut, doc.Version, len(doc.Checkouts), len(doc.Builds))
	}
	cases := map[string]string{}
	for _, ts := range doc.Tests {
		p, _ := ts["path"].(string)
		st, _ := ts["status"].(string)
		cases[p] = st
		if st == "FAIL" || st == "ERROR" {
			t.Errorf("%s: test %s is %s", jsonOut, p, st)
		}
	}
	for _, p := range []string{"boot.unwind_deferred.nmi_request", "boot.unwind_deferred.stress_nmi_syscalls", "boot.perf.task_event_cookies"} {
		if cases[p] != "PASS" {
			t.Errorf("%s: test %s is %q, want PASS", jsonOut, p, cases[p])
		}
	}

	x, err := os.ReadFile(junitOut)
	if err != nil {
		t.Fatal(err)
	}
	e2e.ValidateJUnit(t, x)
	if !strings.Contains(string(x), `name="nmi_request"`) {
		t.Errorf("%s lists no nmi_request case", junitOut)
	}
}
