package gitapply

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/kdefer/kdefer/internal/e2e"
)

// TestCheckRefFormatAgreesWithGit: kgen's ref-name rules against
// git check-ref-format on names that break each rule.
func TestCheckRefFormatAgreesWithGit(t *testing.T) {
	e2e.Tool(t, "git")
	names := []string{
		"refs/heads/unwind-deferred", "refs/heads/a/b", "refs/heads/.hidden", "refs/heads/a..b",
		"refs/heads/a.lock", "refs/heads/a/b.lock/c", "refs/heads/end.", "refs/heads/a b",
		"refs/heads/a~1", "refs/heads/a^", "refs/heads/a:b", "refs/heads/a?", "refs/heads/a*",
		"refs/heads/a[", "refs/heads/a\\b", "refs/heads/a@{1}", "refs/heads/@", "refs/heads//a",
		"refs/heads/a/", "/refs/heads/a", "refs/heads/a\x01", "refs/heads/a\x7f", "heads",
		"refs/heads/ünï", "refs/heads/a.b", "refs/heads/-x", "refs/heads/a@b",
	}
	for _, n := range names {
		gitOK := exec.Command("git", "check-ref-format", n).Run() == nil
		err := CheckRefFormat(n)
		if (err == nil) != gitOK {
			t.Errorf("%q: git says ok=%v, kgen says %v", n, gitOK, err)
		}
	}
}

// TestConversionAgreesWithGit: for each end-of-line configuration, the
// file kgen writes is the file git checkout writes, and the blob kgen
// computes from a work tree file is the one git hash-object --path (the
// clean conversion) computes.
func TestConversionAgreesWithGit(t *testing.T) {
	contents := map[string]string{
		"lf.c":       "a\nb\nc\n",
		"crlf.c":     "a\r\nb\r\n",
		"mixed.c":    "a\r\nb\nc\n",
		"lonecr.c":   "a\rb\n",
		"binary.bin": "a\x00b\nc\n",
	}
	for name, cfg := range map[string]struct {
		config [][2]string
		attrs  string
	}{
		"autocrlf=true":       {config: [][2]string{{"core.autocrlf", "true"}}},
		"autocrlf=input":      {config: [][2]string{{"core.autocrlf", "input"}}},
		"eol=crlf":            {config: [][2]string{{"core.eol", "crlf"}}, attrs: "*.c text\n"},
		"text=auto eol=crlf":  {attrs: "* text=auto eol=crlf\n"},
		"text eol=lf":         {attrs: "* text eol=lf\n"},
		"-text":               {config: [][2]string{{"core.autocrlf", "true"}}, attrs: "*.c -text\n"},
		"crlf=input (legacy)": {attrs: "*.c crlf=input\n"},
		"binary macro":        {config: [][2]string{{"core.autocrlf", "true"}}, attrs: "lf.c binary\n"},
		"subdir pattern":      {config: [][2]string{{"core.autocrlf", "true"}}, attrs: "sub/** -text\n"},
		"filter driver": {config: [][2]string{{"filter.tag.smudge", "sed 's/^/S:/'"}, {"filter.tag.clean", "sed 's/^S://'"}, {"core.autocrlf", "true"}},
			attrs: "*.c filter=tag\n"},
	} {
		t.Run(name, func(t *testing.T) {
			dir := newRepo(t)
			// Commit the blobs with no conversion at all.
			git(t, dir, "config", "core.autocrlf", "false")
			os.MkdirAll(filepath.Join(dir, "sub"), 0o755)
			var paths []string
			for p, c := range contents {
				for _, q := range []string{p, "sub/" + p} {
					os.WriteFile(filepath.Join(dir, q), []byte(c), 0o644)
					paths = append(paths, q)
				}
			}
			git(t, dir, "add", "-A")
			git(t, dir, "commit", "-qm", "blobs")
			for _, kv := range cfg.config {
				git(t, dir, "config", kv[0], kv[1])
			}
			if cfg.attrs != "" {
				os.WriteFile(filepath.Join(dir, ".git/info/attributes"), []byte(cfg.attrs), 0o644)
			}
			for _, p := range paths {
				os.Remove(filepath.Join(dir, p))
			}
			git(t, dir, append([]string{"checkout", "--"}, paths...)...)
			r, err := Open(dir)
			if err != nil {
				t.Fatal(err)
			}
			ar := newAttrReader(r)
			for _, p := range paths {
				blob := []byte(contents[strings.TrimPrefix(p, "sub/")])
				cv := ar.convFor(p)
				got, err := cv.toWorkTree(blob)
				if err != nil {
					t.Fatal(err)
				}
				want, _ := os.ReadFile(filepath.Join(dir, p))
				if string(got) != string(want) {
					t.Errorf("%s: kgen writes %q, git checkout wrote %q", p, got, want)
				}
				// The clean direction, on the work tree file and on a
				// CRLF version of it: the blob git add stores (with
				// the index holding the committed blob, as for kgen).
				for _, wt := range [][]byte{want, []byte(strings.ReplaceAll(string(blob), "\n", "\r\n"))} {
					os.Remove(filepath.Join(dir, p))
					os.WriteFile(filepath.Join(dir, p), wt, 0o644)
					git(t, dir, "add", p)
					gh := strings.Fields(git(t, dir, "ls-files", "-s", p))[1]
					git(t, dir, "reset", "-q", "--", p)
					clean, err := cv.toGit(wt, blob)
					if err != nil {
						t.Fatal(err)
					}
					if kh := plumbing.ComputeHash(plumbing.BlobObject, clean).String(); kh != gh {
						t.Errorf("%s: clean(%q) is %s for kgen, %s for git", p, wt, kh, gh)
					}
				}
			}
		})
	}
}
