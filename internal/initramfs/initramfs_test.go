package initramfs

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cavaliergopher/cpio"
)

func sample(t *testing.T) *Archive {
	a := New()
	if err := a.AddFile("/init", 0o755, []byte("#!/bin/sh\necho hi\n")); err != nil {
		t.Fatal(err)
	}
	if err := a.AddFile("lib/modules/t.ko", 0o644, []byte("abc")); err != nil {
		t.Fatal(err)
	}
	if err := a.AddSymlink("sbin/init", "/init"); err != nil {
		t.Fatal(err)
	}
	if err := a.AddDir("proc", 0o555); err != nil {
		t.Fatal(err)
	}
	return a
}

func TestRoundTrip(t *testing.T) {
	b, err := sample(t).Bytes()
	if err != nil {
		t.Fatal(err)
	}
	r := cpio.NewReader(bytes.NewReader(b))
	got := map[string]*cpio.Header{}
	var order []string
	for {
		h, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(r)
		if h.Mode.IsRegular() && int64(len(body)) != h.Size {
			t.Fatalf("%s: short body", h.Name)
		}
		got[h.Name] = h
		order = append(order, h.Name)
	}
	want := "dev dev/console init lib lib/modules lib/modules/t.ko proc sbin sbin/init"
	if strings.Join(order, " ") != want {
		t.Fatalf("entries %q, want %q", strings.Join(order, " "), want)
	}
	if m := got["init"].Mode; m != cpio.TypeReg|0o755 {
		t.Fatalf("init mode %o", m)
	}
	if m := got["proc"].Mode; m != cpio.TypeDir|0o555 {
		t.Fatalf("proc mode %o", m)
	}
	if h := got["sbin/init"]; h.Linkname != "/init" {
		t.Fatalf("symlink %+v", h)
	}
	if m := got["dev/console"].Mode; m != cpio.TypeChar|0o600 {
		t.Fatalf("console mode %o", m)
	}
	// rdevmajor/rdevminor of /dev/console, fields 10 and 11 of the header.
	i := bytes.Index(b, []byte("dev/console\x00"))
	hdr := string(b[i-110 : i])
	if hdr[:6] != "070701" || hdr[6+9*8:6+10*8] != "00000005" || hdr[6+10*8:6+11*8] != "00000001" {
		t.Fatalf("console header %q", hdr)
	}
}

func TestDeterministic(t *testing.T) {
	a, _ := sample(t).Bytes()
	b, _ := sample(t).Bytes()
	if !bytes.Equal(a, b) {
		t.Fatal("same input, different archives")
	}
}

func TestBadNames(t *testing.T) {
	a := New()
	if err := a.AddFile("/", 0o644, nil); err == nil {
		t.Fatal("empty name accepted")
	}
	a.AddFile("x", 0o644, nil)
	if err := a.AddFile("x/y", 0o644, nil); err == nil {
		t.Fatal("file below a regular file accepted")
	}
}

// TestSystemCpio lets GNU cpio (when installed) list and extract the
// archive: the format is what other tools expect.
func TestSystemCpio(t *testing.T) {
	cp, err := exec.LookPath("cpio")
	if err != nil {
		t.Skip("GNU cpio not installed")
	}
	b, _ := sample(t).Bytes()
	cmd := exec.Command(cp, "-t", "-v")
	cmd.Stdin = bytes.NewReader(b)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("cpio -t: %v\n%s", err, out)
	}
	s := string(out)
	for _, w := range []string{"crw-------", "5,   1", "dev/console", "lib/modules/t.ko", "sbin/init -> /init"} {
		if !strings.Contains(s, w) {
			t.Errorf("cpio -tv output lacks %q:\n%s", w, s)
		}
	}
	dir := t.TempDir()
	cmd = exec.Command(cp, "-i", "-d", "--no-absolute-filenames", "--quiet", "--nonmatching", "dev/console")
	cmd.Dir = dir
	cmd.Stdin = bytes.NewReader(b)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("cpio -i: %v\n%s", err, out)
	}
	data, err := os.ReadFile(filepath.Join(dir, "init"))
	if err != nil || !strings.Contains(string(data), "echo hi") {
		t.Fatalf("extracted init: %v %q", err, data)
	}
}
