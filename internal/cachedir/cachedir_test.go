package cachedir

import (
	"path/filepath"
	"testing"
)

func TestLayout(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", "/c")
	if Dir() != "/c/kdefer" {
		t.Fatalf("Dir() = %s", Dir())
	}
	a, b := ForTree("lint", "", "/src/linux"), ForTree("lint", "", "/src/linux2")
	if a == b || filepath.Dir(a) != "/c/kdefer/lint" {
		t.Fatalf("ForTree: %s %s", a, b)
	}
	if ForTree("builds", "api-", "/src/linux") != filepath.Join("/c/kdefer/builds", "api-"+filepath.Base(a)) {
		t.Fatalf("prefix: %s", ForTree("builds", "api-", "/src/linux"))
	}
}
