package ktap

import (
	"strings"
	"testing"
)

const nested = `[    0.912345] Run /init as init process
KTAP version 1
1..3
    KTAP version 1
    # Subtest: nmi
    1..3
    ok 1 request_from_task
[    1.000001] random: crng init done
    # request_from_nmi: expected callback 1, got 0
    not ok 2 request_from_nmi
    ok 3 compat_refused # SKIP no 32-bit user space
ok 1 nmi
    KTAP version 1
    # Subtest: cookie
    1..1
        KTAP version 1
        # Subtest: entries
        1..2
        ok 1 same_entry
        not ok 2 next_entry # TODO known
    ok 1 entries
ok 2 cookie
ok 3 standalone[    2.000002] some kernel message
# totals: pass:3 fail:1 skip:1
`

func TestNested(t *testing.T) {
	d, err := Parse(strings.NewReader(nested))
	if err != nil {
		t.Fatal(err)
	}
	if !d.Found || d.Version != 1 {
		t.Fatalf("found=%v version=%d", d.Found, d.Version)
	}
	if len(d.Errors) != 0 {
		t.Fatalf("errors: %v", d.Errors)
	}
	if got := len(d.Root.Subtests); got != 3 || d.Root.Plan != 3 {
		t.Fatalf("top level: %d tests, plan %d", got, d.Root.Plan)
	}
	nmi := d.Root.Subtests[0]
	if nmi.Name != "nmi" || nmi.Status != Fail || len(nmi.Subtests) != 3 || nmi.Plan != 3 {
		t.Fatalf("nmi suite: %+v", nmi)
	}
	if s := nmi.Subtests[1]; s.Name != "request_from_nmi" || s.Status != Fail ||
		len(s.Diagnostics) != 1 || !strings.Contains(s.Diagnostics[0], "expected callback 1") {
		t.Fatalf("request_from_nmi: %+v", s)
	}
	if s := nmi.Subtests[2]; s.Status != Skip || s.Reason != "no 32-bit user space" || s.Name != "compat_refused" {
		t.Fatalf("skip: %+v", s)
	}
	cookie := d.Root.Subtests[1]
	if cookie.Name != "cookie" || cookie.Status != Pass || len(cookie.Subtests) != 1 {
		t.Fatalf("cookie: %+v", cookie)
	}
	entries := cookie.Subtests[0]
	if entries.Name != "entries" || len(entries.Subtests) != 2 || entries.Subtests[1].Status != Todo {
		t.Fatalf("entries: %+v", entries)
	}
	if s := d.Root.Subtests[2]; s.Name != "standalone" || s.Status != Pass {
		t.Fatalf("standalone (kernel line glued on): %+v", s)
	}
	c := d.Counts()
	if c != (Counts{Pass: 3, Fail: 1, Skip: 1, Todo: 1}) {
		t.Fatalf("counts %+v", c)
	}
	if d.OK() {
		t.Fatal("OK() with a failure")
	}
	if len(d.Root.Diagnostics) != 1 {
		t.Fatalf("trailing diagnostics: %v", d.Root.Diagnostics)
	}
}

func TestTruncated(t *testing.T) {
	in := "KTAP version 1\n1..2\n    KTAP version 1\n    # Subtest: stress\n    1..3\n    ok 1 a\n[   5.000000] Kernel panic - not syncing: boom\n"
	d, _ := Parse(strings.NewReader(in))
	if d.OK() {
		t.Fatal("truncated run reported OK")
	}
	c := d.Counts()
	if c.Pass != 1 || c.Missing != 3 {
		// 2 missing in stress, 1 missing top-level test #2
		t.Fatalf("counts %+v; errors %v", c, d.Errors)
	}
	if len(d.Errors) == 0 {
		t.Fatal("no structural error for a cut-short run")
	}
	st := d.Root.Subtests[0]
	if st.Name != "stress" || st.Status != Fail {
		t.Fatalf("stress: %+v", st)
	}
}

func TestOldStyleAndAllPass(t *testing.T) {
	in := "junk\nTAP version 14\n1..2\n    # Subtest: a\n    1..1\n    ok 1 - x\nok 1 - a\nok 2 b # skip later\n"
	d, _ := Parse(strings.NewReader(in))
	if !d.OK() {
		t.Fatalf("not OK: %+v %v", d.Counts(), d.Errors)
	}
	if d.Root.Subtests[0].Name != "a" || d.Root.Subtests[0].Subtests[0].Name != "x" {
		t.Fatalf("names: %+v", d.Root.Subtests[0])
	}
	if d.Root.Subtests[1].Status != Skip {
		t.Fatal("lower-case skip directive not recognised")
	}
}

func TestNoDocument(t *testing.T) {
	d, _ := Parse(strings.NewReader("[    0.1] hello\nplain text\n"))
	if d.Found || d.OK() {
		t.Fatal("no document must not be OK")
	}
}

func TestOkButSubtestFailed(t *testing.T) {
	in := "KTAP version 1\n1..1\n    # Subtest: s\n    1..1\n    not ok 1 x\nok 1 s\n"
	d, _ := Parse(strings.NewReader(in))
	if d.Root.Subtests[0].Status != Fail {
		t.Fatal("suite said ok with a failed subtest; must be Fail")
	}
}

func TestWrongNumber(t *testing.T) {
	in := "KTAP version 1\n1..2\nok 1 a\nok 3 b\n"
	d, _ := Parse(strings.NewReader(in))
	if len(d.Errors) != 1 || d.OK() {
		t.Fatalf("errors %v", d.Errors)
	}
}

// A plan of two billion tests with none reported costs no more than its
// line: the missing tests fold into one placeholder past the first
// maxPlaceholders, and the verdict still fails.
func TestHugePlanIsFolded(t *testing.T) {
	d, err := Parse(strings.NewReader("KTAP version 1\n1..2000000000\nok 1 a\n"))
	if err != nil {
		t.Fatal(err)
	}
	if n := len(d.Root.Subtests); n != 1+maxPlaceholders+1 {
		t.Fatalf("%d entries", n)
	}
	last := d.Root.Subtests[len(d.Root.Subtests)-1]
	if last.Status != Missing || !strings.Contains(last.Name, "1999998975 tests not reported") {
		t.Fatalf("last entry %+v", last)
	}
}
