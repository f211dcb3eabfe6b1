package qemutests

import (
	"strings"
	"testing"
)

// A row ending in "*" documents every case it is a prefix of; the row
// naming the case itself, then the longest prefix, wins.
func TestMatchPrefix(t *testing.T) {
	devs := []Deviation{
		{Case: "sframe/*", Ours: []string{"pass"}, Upstream: []string{"-"}, Reason: "no SFrame upstream"},
		{Case: "perftool/sframe_*", Ours: []string{"pass"}, Upstream: []string{"skip"}, Reason: "no SFrame upstream"},
		{Case: "perftool/*", Ours: []string{"pass"}, Upstream: []string{"fail"}, Reason: "shorter prefix"},
		{Case: "perftool/sframe_record", Ours: []string{"fail"}, Upstream: []string{"fail"}, Reason: "exact"},
	}
	for c, want := range map[string]string{
		"sframe/fuzz_sections":     "sframe/*",
		"perftool/sframe_beats":    "perftool/sframe_*",
		"perftool/sframe_record":   "perftool/sframe_record",
		"perftool/task_record":     "perftool/*",
		"sframe":                   "",
		"unwind_deferred/sframe/x": "",
	} {
		d, ok := Match(devs, c)
		if ok != (want != "") || d.Case != want {
			t.Errorf("Match(%q) = %q, %v; want %q", c, d.Case, ok, want)
		}
	}
}

func TestParseDeviationsErrors(t *testing.T) {
	for _, md := range []string{
		"| `a/b` | pass | fail |\n",
		"| `a/b` | pass | sometimes | why |\n",
		"| `a/b` | pass | fail |  |\n",
	} {
		if _, err := ParseDeviations([]byte(md)); err == nil {
			t.Errorf("%q: want an error", md)
		}
	}
}

// The deviation file that kcheck conform embeds parses, and each row
// names a case of the self-tests.
func TestDeviationsFile(t *testing.T) {
	devs, err := Deviations()
	if err != nil {
		t.Fatal(err)
	}
	if len(devs) == 0 {
		t.Fatal("no deviation rows in qemu-tests/DEVIATIONS.md")
	}
	var src strings.Builder
	for _, f := range []string{"user/unwind-selftest.c", "perf/perf-selftest.c", "sframe/sframe-selftest.c", "perftool/perf-tool-selftest.c"} {
		b, err := FS.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		src.Write(b)
	}
	for _, d := range devs {
		// "suite/*" names a suite, "suite/abc*" the cases beginning
		// with abc, anything else one case
		c, prefix := strings.CutSuffix(d.Case, "*")
		whole := !prefix || strings.HasSuffix(c, "/")
		c = strings.TrimSuffix(c, "/")
		want := `"` + c[strings.LastIndex(c, "/")+1:]
		if whole {
			want += `"`
		}
		if !strings.Contains(src.String(), want) {
			t.Errorf("DEVIATIONS.md names %s, which no self-test reports", d.Case)
		}
	}
}
