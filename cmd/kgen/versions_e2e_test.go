package main

import (
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// TestE2ERangeDiff: kgen range-diff against the kept v1 runs the real git
// range-diff and pairs every patch of v1 with one of the current
// rendering, without writing to the tree.
func TestE2ERangeDiff(t *testing.T) {
	dir := treeCopy(t)
	bin := builtKgen(t)
	before := snap(t, dir)
	c := exec.Command(bin, "range-diff", "--tree", dir, "--from", "v1")
	c.Dir = "../.."
	out, err := c.Output()
	if err != nil {
		t.Fatalf("kgen range-diff: %v\n%s", err, out)
	}
	pair := regexp.MustCompile(`(?m)^\s*(\d+):\s+[0-9a-f]{7,} [=!] +(\d+):\s+[0-9a-f]{7,} `)
	m := pair.FindAllStringSubmatch(string(out), -1)
	if len(m) != 14 {
		t.Fatalf("range-diff pairs %d patches, want the 14 of v1:\n%s", len(m), out)
	}
	for _, x := range m {
		if x[1] != x[2] {
			t.Errorf("patch %s of v1 paired with patch %s", x[1], x[2])
		}
	}
	if !strings.Contains(string(out), "Signed-off-by:") {
		t.Errorf("the sign-off change from v1 to v2 is not in the range-diff:\n%s", out)
	}
	if after := snap(t, dir); after != before {
		t.Errorf("range-diff changed the tree:\n%+v\n%+v", before, after)
	}
}
