package main

import (
	"encoding/json"
	"strings"
	"testing"
)

func runScan(t *testing.T, bin string, stdin string, args ...string) (stdout string, code int) {
	t.Helper()
	stdout, _, code = runKcheck(t, bin, nil, stdin, append([]string{"scan"}, args...)...)
	return stdout, code
}

// TestScan runs kcheck scan on a real guest log and on a console with
// no report: the title goes to the human output and the JSON, and the
// exit code says whether there was a report.
func TestScan(t *testing.T) {
	bin := buildKcheck(t)
	out, code := runScan(t, bin, "", "../../internal/splat/testdata/warn.log")
	if code != 1 || !strings.Contains(out, ": warning: WARNING in trigger_init\n") || !strings.Contains(out, "  | [") {
		t.Errorf("warn.log: exit %d, output:\n%s", code, out)
	}
	out, code = runScan(t, bin, "", "--json", "../../internal/splat/testdata/guest-arm64/gpf.log")
	var v []struct {
		Findings []struct{ Kind, Title, Header string }
	}
	if err := json.Unmarshal([]byte(out), &v); err != nil || code != 1 || len(v) != 1 || len(v[0].Findings) != 1 {
		t.Fatalf("json: exit %d, %v:\n%s", code, err, out)
	}
	if f := v[0].Findings[0]; f.Title != "BUG: unable to handle kernel paging request in trigger_init" ||
		!strings.HasPrefix(f.Header, "Unable to handle kernel paging request") {
		t.Errorf("json finding %+v", f)
	}
	out, code = runScan(t, bin, "WARNING: /etc/ssh/moduli does not exist, using fixed modulus\n", "-")
	if code != 0 || !strings.Contains(out, "-: no splat") {
		t.Errorf("clean stdin: exit %d, output:\n%s", code, out)
	}
}
