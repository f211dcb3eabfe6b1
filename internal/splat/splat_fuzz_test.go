package splat

import (
	"strings"
	"testing"
	"time"

	"github.com/kdefer/kdefer/internal/e2e"
)

// FuzzScan feeds the scanner arbitrary consoles, seeded with the
// testdata logs. The scanner must not panic, and what it returns must
// hold together: a kind and a title for each finding, a header line in
// the log, at most MaxLines quoted lines.
//
// A short run: go test -run='^$' -fuzz=FuzzScan -fuzztime=10s ./internal/splat
func FuzzScan(f *testing.F) {
	for _, b := range testdataLogs(f) {
		if len(b) > 8<<10 {
			b = b[len(b)-8<<10:] // the reports are at the end
		}
		f.Add(b)
	}
	f.Add([]byte("[   44.38][    C4]  BUG: KCSAN: data-race in a / b\n"))
	f.Add([]byte("login: [ 1.0] Kernel panic - not syncing: Fatal exception\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		lines := splitLines(string(data))
		got := ScanBytes(data)
		for _, g := range got {
			if g.Kind == "" || g.Title == "" || g.Count < 1 {
				t.Fatalf("incomplete finding %+v", g)
			}
			if g.Line < 1 || g.Line > len(lines) {
				t.Fatalf("header line %d outside the log (%d lines)", g.Line, len(lines))
			}
			if strings.TrimSpace(Clean(lines[g.Line-1])) != g.Header {
				t.Fatalf("header %q is not line %d %q", g.Header, g.Line, lines[g.Line-1])
			}
			if len(g.Lines) == 0 || len(g.Lines) > MaxLines {
				t.Fatalf("%d quoted lines", len(g.Lines))
			}
		}
	})
}

// TestScanLinear scans hostile logs of 512 KB and 4 MB: lines packed
// with header keys, one long line of them, brackets that almost make a
// time stamp, reports that never end. Eight times the input must take
// less than 32 times as long (a quadratic scanner takes 64).
func TestScanLinear(t *testing.T) {
	if testing.Short() {
		t.Skip("scans 4 MB logs")
	}
	hostile := map[string]string{
		"keys":      "BUG: WARNING: INFO: Oops: kernel BUG at list_del corruption general protection fault unreferenced object 0x panicked at \n",
		"longline":  "BUG: x ",
		"brackets":  "[ [ [1.[ 2.3 [  4.5]x",
		"unended":   "BUG: KASAN: use-after-free in f+0x1/0x2\n f+0x1/0x2\n",
		"framed":    "==========\nWARNING: x\n----------\n",
		"timestamp": "[    1.000000]",
	}
	for name, unit := range hostile {
		build := func(size int) []byte {
			return []byte(strings.Repeat(unit, size/len(unit)+1))
		}
		sd, bd := build(1<<19), build(4<<20)
		// Sixteen runs on the small input against two on the big one: the
		// same amount of work, so the clock's granularity does not decide.
		small := e2e.CPUTime(func() {
			for i := 0; i < 16; i++ {
				ScanBytes(sd)
			}
		}) / 16
		big := e2e.CPUTime(func() { ScanBytes(bd); ScanBytes(bd) }) / 2
		ratio := float64(big) / float64(small)
		t.Logf("%s: 512 KB %v, 4 MB %v, ratio %.1f", name, small, big, ratio)
		if ratio > 32 {
			t.Errorf("%s: 8x the input took %.1fx the time", name, ratio)
		}
		if big > 10*time.Second {
			t.Errorf("%s: 4 MB took %v", name, big)
		}
	}
}
