package series

import (
	"strings"
	"testing"
)

const requires = `supported: "Linux 6.12 and later"
requires:
  - probe: "!p"
    missing: "a is there"
  - probe: p
    missing: "a is missing"
`

func TestRequires(t *testing.T) {
	s, err := Load(fsWith(map[string]string{"series.yaml": requires + goodSeries}))
	if err != nil {
		t.Fatal(err)
	}
	if s.Supported != "Linux 6.12 and later" || len(s.Requires) != 2 || s.Requires[0].Probe != "!p" || s.Requires[1].Missing != "a is missing" {
		t.Fatalf("supported %q, requires %+v", s.Supported, s.Requires)
	}
	s, err = Load(fsWith(nil))
	if err != nil || s.Requires != nil || s.Supported != "" {
		t.Fatalf("no requires: %v %+v", err, s)
	}
}

func TestRequiresErrors(t *testing.T) {
	for _, c := range []struct {
		files map[string]string
		want  string
	}{
		{map[string]string{"series.yaml": "requires:\n  - probe: nope\n    missing: x\n" + goodSeries}, `series.yaml: requires 1 (nope): probe: unknown probe "nope"`},
		{map[string]string{"series.yaml": "requires:\n  - probe: version\n    missing: x\n" + goodSeries}, `unknown probe "version"`},
		{map[string]string{"series.yaml": "requires:\n  - missing: x\n" + goodSeries}, "series.yaml: requires 1 (): missing probe:"},
		{map[string]string{"series.yaml": "requires:\n  - probe: p\n" + goodSeries}, "requires 1 (p): missing: must be one non-empty line"},
		{map[string]string{"series.yaml": "requires:\n  - probe: p\n    missing: x\n    why: y\n" + goodSeries}, "field why not found"},
		{map[string]string{"series.d/50-x.yaml": "requires:\n  - probe: p\n    missing: x\n" + perf}, "series.d/50-x.yaml: requires: and supported: belong in series.yaml only"},
	} {
		_, err := Load(fsWith(c.files))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("want an error with %q, got %v", c.want, err)
		}
	}
}
