package capi

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/kdefer/kdefer/internal/e2e"
)

// buildDir is a configured out-of-tree build directory for the 6.12
// tree: $KDEFER_CAPI_BUILD if set, else (with KDEFER_E2E=1) one in the
// kdefer cache, reused between runs. Preparing a fresh one takes half a
// minute, too slow for the default go test run, which skips.
func buildDir(t *testing.T) string {
	if d := os.Getenv("KDEFER_CAPI_BUILD"); d != "" {
		return d
	}
	if !e2e.On() {
		t.Skip("needs a configured kernel build directory (30 s to prepare): set KDEFER_E2E=1 or KDEFER_CAPI_BUILD=DIR")
	}
	cache := os.Getenv("XDG_CACHE_HOME")
	if cache == "" {
		h, _ := os.UserHomeDir()
		cache = filepath.Join(h, ".cache")
	}
	return filepath.Join(cache, "kdefer", "builds", "capi-test")
}

const testHeader = `#include <linux/types.h>
struct kt_obj;
#ifdef CONFIG_KCHECK_TEST
int kt_same(struct kt_obj *o, u64 x);
void kt_type(const char *s, unsigned long n);
int kt_name(int a);
long kt_ret(void);
int kt_count(int a, int b);
int kt_nostub(void);
#else
static inline int kt_same(struct kt_obj *o, unsigned long long x) { return 0; }
static inline void kt_type(char *s, unsigned long n) { }
static inline int kt_name(int b) { return 0; }
static inline int kt_ret(void) { return 0; }
static inline int kt_count(int a) { return 0; }
#endif
`

func TestHeaderStubs(t *testing.T) {
	tree := e2e.Tree612(t)
	dir := t.TempDir()
	h := filepath.Join(dir, "kt.h")
	if err := os.WriteFile(h, []byte(testHeader), 0o644); err != nil {
		t.Fatal(err)
	}
	rep, err := Check(context.Background(), Options{Tree: tree, Build: buildDir(t), ConfigOff: []string{"KCHECK_TEST"}}, []string{h})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range rep.Findings {
		got = append(got, f.Func+" "+string(f.Level)+" "+f.Kind+" line "+itoa(f.Line))
	}
	want := []string{
		"kt_type ERROR param-type line 12",
		"kt_name WARNING param-name line 13",
		"kt_ret ERROR result-type line 14",
		"kt_count ERROR param-count line 15",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s\n%v", strings.Join(got, "\n"), strings.Join(want, "\n"), rep.Findings)
	}
	if len(rep.Unchecked) != 1 || !strings.HasPrefix(rep.Unchecked[0].What, "kt_nostub") {
		t.Errorf("unchecked: %v", rep.Unchecked)
	}
	if !strings.Contains(rep.Findings[0].Message, `"const char *"`) || !strings.Contains(rep.Findings[0].Message, `"char *"`) {
		t.Errorf("message does not quote both types: %s", rep.Findings[0].Message)
	}
}

// A real 6.12 header with !CONFIG stubs agrees with itself.
func TestRealHeaders(t *testing.T) {
	tree := e2e.Tree612(t)
	rep, err := Check(context.Background(), Options{Tree: tree, Build: buildDir(t), ConfigOff: []string{"CONFIG_KCOV"}}, []string{"include/linux/kcov.h"})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Errors() != 0 || rep.Compared == 0 {
		t.Fatalf("kcov.h: %d errors, %d compared: %v %v", rep.Errors(), rep.Compared, rep.Findings, rep.Unchecked)
	}
	for _, u := range rep.Unchecked {
		if u.Fatal {
			t.Errorf("not checked: %v", u)
		}
	}
}

func itoa(i int) string { return strconv.Itoa(i) }
