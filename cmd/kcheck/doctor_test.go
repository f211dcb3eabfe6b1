package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kdefer/kdefer/internal/accel"
	"github.com/kdefer/kdefer/internal/e2e"
	"github.com/kdefer/kdefer/internal/hostcheck"
)

// buildKcheck builds this command into the test's temporary directory
// (the go build cache makes every build after the first a link).
func buildKcheck(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "kcheck")
	e2e.Run(t, "", nil, "go", "build", "-o", bin, ".")
	return bin
}

func runDoctor(t *testing.T, bin string, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	return runKcheck(t, bin, env, "", append([]string{"doctor"}, args...)...)
}

// runKcheck runs the built kcheck with args, env added to the
// environment and stdin as its input, and returns its output and exit
// code.
func runKcheck(t *testing.T, bin string, env []string, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	c := exec.Command(bin, args...)
	c.Env = append(os.Environ(), env...)
	c.Stdin = strings.NewReader(stdin)
	var o, e bytes.Buffer
	c.Stdout, c.Stderr = &o, &e
	err := c.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return o.String(), e.String(), code
}

func TestDoctorNamesMissingTool(t *testing.T) {
	bin := buildKcheck(t)
	// A PATH of symlinks to every tool this machine has, minus bison.
	dir := t.TempDir()
	for _, tl := range hostcheck.Tools {
		if tl.Binary == "" || tl.Binary == "bison" {
			continue
		}
		if p, err := exec.LookPath(tl.Binary); err == nil {
			os.Symlink(p, filepath.Join(dir, tl.Binary))
		}
	}
	out, errOut, code := runDoctor(t, bin, []string{"PATH=" + dir}, "--no-kvm")
	if code != 1 {
		t.Errorf("exit %d with bison missing, want 1\n%s%s", code, out, errOut)
	}
	if !strings.Contains(out, "MISSING  bison") {
		t.Errorf("bison not named missing:\n%s", out)
	}
	var line string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "missing: apt-get install -y ") {
			line = l
		}
	}
	if !strings.Contains(line+" ", " bison ") {
		t.Errorf("no install line with bison:\n%s", out)
	}
	if !strings.Contains(errOut, "hint: run as root: apt-get install -y") {
		t.Errorf("stderr lacks the hint: %s", errOut)
	}
}

func TestDoctorInstallRefusesNonRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to switch to another user")
	}
	e2e.Tool(t, "setpriv")
	bin := buildKcheck(t)
	dir := t.TempDir()                 // empty PATH dir: everything missing
	os.Chmod(filepath.Dir(bin), 0o755) // let user nobody run the binary
	c := exec.Command("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", bin, "doctor", "--install", "--no-kvm")
	c.Env = []string{"PATH=" + dir, "HOME=/nonexistent"}
	out, err := c.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 2 || !strings.Contains(string(out), "--install needs root") {
		t.Errorf("non-root --install: %v\n%s", err, out)
	}
}

func TestDoctorKVM(t *testing.T) {
	e2e := os.Getenv("KDEFER_E2E") == "1"
	if _, err := exec.LookPath("qemu-system-x86_64"); err != nil && !e2e {
		t.Skip("qemu-system-x86_64 not installed (set KDEFER_E2E=1 after scripts/setup)")
	}
	bin := buildKcheck(t)
	out, errOut, code := runDoctor(t, bin, nil, "--json")
	var r struct {
		OK      bool        `json:"ok"`
		KVM     accel.Check `json:"kvm"`
		Install string      `json:"install"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("doctor --json: %v\n%s", err, out)
	}
	if !r.KVM.Checked || r.KVM.Reason == "" {
		t.Errorf("KVM not reported with a reason: %+v", r.KVM)
	}
	if !r.KVM.Usable && !r.KVM.TCGOK {
		t.Errorf("neither KVM nor TCG runs the probe guest: %+v", r.KVM)
	}
	t.Logf("doctor: %s", r.KVM.Summary())
	if e2e && (code != 0 || !r.OK) {
		t.Errorf("after scripts/setup doctor must pass: exit %d, install %q\n%s", code, r.Install, errOut)
	}
	if (code == 0) != r.OK {
		t.Errorf("exit %d but ok=%v", code, r.OK)
	}
}
