package kerneltree

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkGetCached measures the cache hit that every caller pays
// (target: well under a millisecond).
func BenchmarkGetCached(b *testing.B) {
	cache := b.TempDir()
	os.MkdirAll(filepath.Join(cache, "trees", "6.12.117"), 0o755)
	os.MkdirAll(filepath.Join(cache, "trees", "6.12.9"), 0o755)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		p, err := Get(context.Background(), Options{Version: "6.12", CacheDir: cache})
		if err != nil || filepath.Base(p) != "6.12.117" {
			b.Fatal(p, err)
		}
	}
}

// BenchmarkExtract612 extracts the real Debian 6.12 package when
// KDEFER_DEB points at it (for example /work/dev/linux-source-6.12_...deb)
// and reports files per second.
func BenchmarkExtract612(b *testing.B) {
	deb := os.Getenv("KDEFER_DEB")
	if deb == "" {
		b.Skip("set KDEFER_DEB to a linux-source .deb")
	}
	files := 0
	for i := 0; i < b.N; i++ {
		dst := filepath.Join(b.TempDir(), "tree")
		res, err := extractDeb(context.Background(), deb, dst, quiet)
		if err != nil {
			b.Fatal(err)
		}
		files += res.Files
		b.SetBytes(res.Bytes)
	}
	b.ReportMetric(float64(files)/b.Elapsed().Seconds(), "files/s")
}
