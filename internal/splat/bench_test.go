package splat

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// BenchmarkScanLogs scans every testdata log once per iteration and
// reports logs per second.
func BenchmarkScanLogs(b *testing.B) {
	logs := testdataLogs(b)
	var size int64
	for _, d := range logs {
		size += int64(len(d))
	}
	b.SetBytes(size)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, d := range logs {
			ScanBytes(d)
		}
	}
	b.ReportMetric(float64(len(logs)*b.N)/b.Elapsed().Seconds(), "logs/s")
}

// testdataLogs reads every log of testdata and its subdirectories.
func testdataLogs(tb testing.TB) [][]byte {
	tb.Helper()
	var logs [][]byte
	for _, pat := range []string{"testdata/*.log", "testdata/*/*.log"} {
		files, _ := filepath.Glob(pat)
		for _, f := range files {
			d, err := os.ReadFile(f)
			if err != nil {
				tb.Fatal(err)
			}
			logs = append(logs, d)
		}
	}
	return logs
}

// bigLog is about 10 MB of console: the real clean boot repeated, with
// every family log (the written ones, if any are left, the real guest
// consoles and the written logs of older and other forms) spread
// through it.
func bigLog(tb testing.TB) (string, int) {
	tb.Helper()
	clean, err := os.ReadFile("testdata/clean.log")
	if err != nil {
		tb.Fatal(err)
	}
	var reports [][]byte
	files, _ := filepath.Glob("testdata/families/*.log")
	guest, _ := filepath.Glob("testdata/guest/*.log")
	forms, _ := filepath.Glob("testdata/written-forms/*.log")
	for _, f := range append(append(files, guest...), forms...) {
		d, _ := os.ReadFile(f)
		reports = append(reports, d)
	}
	var sb strings.Builder
	n := 0
	for i := 0; sb.Len() < 10<<20; i++ {
		sb.Write(clean)
		if i%4 == 0 {
			sb.Write(reports[n%len(reports)])
			n++
		}
	}
	return sb.String(), n
}

// BenchmarkScanLarge scans one ~10 MB log and reports MB/s.
func BenchmarkScanLarge(b *testing.B) {
	log, _ := bigLog(b)
	b.SetBytes(int64(len(log)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ScanBytes([]byte(log))
	}
}

func TestLargeLog(t *testing.T) {
	log, n := bigLog(t)
	got := ScanBytes([]byte(log))
	if len(got) < n/2 {
		t.Fatalf("%d findings in a log with %d reports", len(got), n)
	}
}
