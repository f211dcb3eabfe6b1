package ktap

import (
	"bytes"
	"strconv"
	"strings"
	"testing"

	"github.com/kdefer/kdefer/internal/e2e"
)

// FuzzKTAP feeds the KTAP parser arbitrary consoles, seeded with the
// documents of the unit tests. Parse must not panic or fail on any
// input that can be read, and its counts must add up.
//
// A short run: go test -run='^$' -fuzz=FuzzKTAP -fuzztime=10s ./internal/ktap
func FuzzKTAP(f *testing.F) {
	f.Add([]byte(nested))
	f.Add([]byte("KTAP version 1\n1..1\nok 1 a\n"))
	f.Add([]byte("TAP version 14\n1..2\n  KTAP version 1\n  1..1\n  not ok 1 x # TODO y\nok 1 s\n"))
	f.Add([]byte("[    1.000000] x\nKTAP version 1\n# Subtest: s\n    1..2\n    ok 1 a[    2.000000] glued\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := Parse(bytes.NewReader(data))
		if err != nil {
			if len(data) < 4<<20 {
				t.Fatalf("Parse failed on %d bytes: %v", len(data), err)
			}
			return
		}
		if d == nil || d.Root == nil {
			t.Fatal("no document")
		}
		c := d.Counts()
		leaves := 0
		d.Walk(func(_ []string, tt *Test) {
			if len(tt.Subtests) == 0 && tt != d.Root {
				leaves++
			}
		})
		if c.Total() != leaves {
			t.Fatalf("counts %+v add up to %d, the document has %d leaves", c, c.Total(), leaves)
		}
		if !d.Found && (len(d.Root.Subtests) > 0 || d.OK()) {
			t.Fatal("no version line, yet tests or OK")
		}
	})
}

// TestParseLinear parses documents of 512 KB and 4 MB: flat, deeply
// nested, diagnostics only, kernel lines glued to results. Eight times
// the input must take less than 32 times as long (a quadratic one takes 64).
func TestParseLinear(t *testing.T) {
	if testing.Short() {
		t.Skip("parses 4 MB documents")
	}
	docs := map[string]func(n int) string{
		"flat": func(n int) string {
			var b strings.Builder
			b.WriteString("KTAP version 1\n")
			for i := 1; b.Len() < n; i++ {
				b.WriteString("ok " + strconv.Itoa(i) + " case_" + strconv.Itoa(i) + "\n")
			}
			return b.String()
		},
		"nested": func(n int) string {
			var b strings.Builder
			b.WriteString("KTAP version 1\n")
			for d := 0; b.Len() < n/2; d++ {
				ind := strings.Repeat("    ", d%64)
				b.WriteString(ind + "KTAP version 1\n" + ind + "# Subtest: s\n" + ind + "1..1\n")
			}
			for b.Len() < n {
				b.WriteString("ok 1 s\n")
			}
			return b.String()
		},
		"diagnostics": func(n int) string {
			return "KTAP version 1\n1..1\n" + strings.Repeat("# diagnostic line\n", n/18)
		},
		"glued": func(n int) string {
			return "KTAP version 1\n" + strings.Repeat("ok 1 a[    1.000000] b [ [ [\n", n/28)
		},
	}
	for name, build := range docs {
		sd, bd := build(1<<19), build(4<<20)
		// Sixteen runs on the small input against two on the big one: the
		// same amount of work, so the clock's granularity does not decide.
		small := e2e.CPUTime(func() {
			for i := 0; i < 16; i++ {
				Parse(strings.NewReader(sd))
			}
		}) / 16
		big := e2e.CPUTime(func() { Parse(strings.NewReader(bd)); Parse(strings.NewReader(bd)) }) / 2
		ratio := float64(big) / float64(small)
		t.Logf("%s: 512 KB %v, 4 MB %v, ratio %.1f", name, small, big, ratio)
		if ratio > 32 {
			t.Errorf("%s: 8x the input took %.1fx the time", name, ratio)
		}
	}
}
