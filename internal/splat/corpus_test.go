package splat

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kdefer/kdefer/internal/printk"
)

// The corpus: every log with a report in testdata (the family logs, the
// documentation reports, the hold-out logs and the real guest logs) and every clean log,
// each also rewritten the ways consoles differ: without printk time
// stamps, with caller ids, with syslog levels, with CRLF line ends,
// glued after a login prompt, and embedded in the middle of a real
// clean boot. TestCorpus reports detection, false alarms and how often
// the first finding's title names the right function.

type corpusLog struct {
	name  string
	data  string
	title string // "" for clean logs
}

func readLines(t testing.TB, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimRight(string(b), "\n"), "\n")
}

// variants rewrites one log the ways real consoles differ.
func variants(lines, host []string) map[string]string {
	mapLines := func(f func(i int, l string) string) string {
		out := make([]string, len(lines))
		for i, l := range lines {
			out[i] = f(i, l)
		}
		return strings.Join(out, "\n") + "\n"
	}
	v := map[string]string{}
	v["asis"] = strings.Join(lines, "\n") + "\n"
	v["nostamp"] = mapLines(func(_ int, l string) string { return l[printk.StampLen(l):] })
	v["caller"] = mapLines(func(i int, l string) string {
		n := printk.StampLen(l)
		if n == 0 || printk.CallerLen(l[n:]) > 0 {
			return l // no time stamp, or the kernel printed caller ids already
		}
		id := fmt.Sprintf("[%6s]", fmt.Sprintf("T%d", 100+i%7))
		if i%3 == 0 {
			id = fmt.Sprintf("[%6s]", "C"+fmt.Sprint(i%4))
		}
		return l[:n] + id + " " + l[n:]
	})
	v["syslog"] = mapLines(func(_ int, l string) string { return "<4>" + l })
	v["crlf"] = strings.Join(lines, "\r\n") + "\r\n"
	v["glued"] = "debian login: " + v["asis"]
	half := len(host) / 2
	v["embedded"] = strings.Join(host[:half], "\n") + "\n" + v["asis"] + strings.Join(host[half:], "\n") + "\n"
	return v
}

func corpus(t testing.TB) []corpusLog {
	host := readLines(t, "testdata/clean.log")
	var out []corpusLog
	add := func(file, title string) {
		for name, data := range variants(readLines(t, filepath.Join("testdata", file)), host) {
			out = append(out, corpusLog{file + ":" + name, data, title})
		}
	}
	for _, c := range familyLogs {
		add(c.file, c.title)
	}
	for _, c := range holdoutLogs {
		add(c.file, c.title)
	}
	for _, c := range guestLogs {
		add(c.file, c.title)
	}
	for _, c := range formLogs {
		add(c.file, c.title)
	}
	for _, c := range realLogs {
		if len(c.want) > 0 {
			add(c.file, c.want[0][2])
		}
	}
	clean, _ := filepath.Glob("testdata/clean/*.log")
	for _, f := range append(clean, "testdata/clean.log") {
		for name, data := range variants(readLines(t, f), readLines(t, "testdata/clean/debian-x86.log")) {
			out = append(out, corpusLog{f + ":" + name, data, ""})
		}
	}
	return out
}

// titleFunc is the function a title names: what follows its last " in ".
func titleFunc(title string) string {
	if i := strings.LastIndex(title, " in "); i >= 0 {
		return title[i+4:]
	}
	return title
}

func TestCorpus(t *testing.T) {
	logs := corpus(t)
	var reports, found, clean, alarms, rightFunc, rightTitle int
	for _, l := range logs {
		got := ScanBytes([]byte(l.data))
		if l.title == "" {
			clean++
			if len(got) > 0 {
				alarms++
				t.Errorf("false alarm in %s: %s: %q", l.name, got[0].Kind, got[0].Header)
			}
			continue
		}
		reports++
		if len(got) == 0 {
			t.Errorf("missed %s", l.name)
			continue
		}
		found++
		if titleFunc(got[0].Title) == titleFunc(l.title) {
			rightFunc++
		} else {
			t.Errorf("%s: title %q, want %q", l.name, got[0].Title, l.title)
		}
		if got[0].Title == l.title {
			rightTitle++
		}
	}
	pct := func(a, b int) float64 { return 100 * float64(a) / float64(b) }
	t.Logf("corpus: %d logs with a report, %d clean", reports, clean)
	t.Logf("detection: %d/%d = %.1f%%", found, reports, pct(found, reports))
	t.Logf("false alarms: %d/%d clean logs", alarms, clean)
	t.Logf("right function in the title: %d/%d = %.1f%% (whole title right: %.1f%%)", rightFunc, found, pct(rightFunc, found), pct(rightTitle, found))
	if reports < 60 || clean < 20 {
		t.Errorf("corpus too small: %d reports, %d clean", reports, clean)
	}
	if pct(found, reports) < 98 || alarms > 0 || pct(rightFunc, found) < 95 {
		t.Errorf("below target: detection >= 98%%, no false alarm, right function >= 95%%")
	}
}
