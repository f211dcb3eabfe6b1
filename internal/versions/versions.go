// Package versions keeps published versions of the series and compares
// them with the current rendering.
//
// A kept version is a directory of "git format-patch" files, by
// convention patches/vN/ beside the current rendering in patches/ (Keep
// copies it there before series.yaml's version: is bumped). RangeDiff
// turns a kept version and a rendering into two commit ranges and runs
// the real "git range-diff" on them. Everything happens in a scratch bare
// repository that borrows the kernel tree's objects through
// objects/info/alternates: the tree itself (refs, index, work tree,
// objects) is never written.
package versions

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/kdefer/kdefer/internal/formatpatch"
	"github.com/kdefer/kdefer/internal/gitobj"
	"github.com/kdefer/kdefer/internal/proc"
	"github.com/kdefer/kdefer/internal/render"
)

// Kept is a kept version: a directory of format-patch files.
type Kept struct {
	Version int    // from the directory name vN, 0 when it has none
	Dir     string // the directory
	Cover   string // the cover letter's path, "" when there is none
	Patches []string
	// Base is the cover letter's base-commit (zero when absent).
	Base    plumbing.Hash
	Subject string // the cover letter's subject, tag included
}

var vdirRE = regexp.MustCompile(`^v(\d+)$`)

// Open reads the kept version in dir.
func Open(dir string) (Kept, error) {
	k := Kept{Dir: dir}
	if m := vdirRE.FindStringSubmatch(filepath.Base(filepath.Clean(dir))); m != nil {
		k.Version, _ = strconv.Atoi(m[1])
	}
	files, err := filepath.Glob(filepath.Join(dir, "*.patch"))
	if err != nil {
		return k, err
	}
	sort.Strings(files)
	for _, f := range files {
		if strings.HasSuffix(f, "0000-cover-letter.patch") {
			k.Cover = f
			continue
		}
		k.Patches = append(k.Patches, f)
	}
	if len(k.Patches) == 0 {
		return k, fmt.Errorf("%s holds no format-patch files (*.patch)", dir)
	}
	if k.Cover != "" {
		k.Base, _ = formatpatch.RecordedBase(dir)
		if data, err := os.ReadFile(k.Cover); err == nil {
			for _, l := range strings.Split(string(data), "\n") {
				if s, ok := strings.CutPrefix(l, "Subject: "); ok {
					k.Subject = s
					break
				}
			}
		}
	}
	return k, nil
}

// List returns the kept versions below patchesDir (its vN directories),
// oldest first.
func List(patchesDir string) ([]Kept, error) {
	ents, err := os.ReadDir(patchesDir)
	if err != nil {
		return nil, err
	}
	var out []Kept
	for _, e := range ents {
		if !e.IsDir() || !vdirRE.MatchString(e.Name()) {
			continue
		}
		k, err := Open(filepath.Join(patchesDir, e.Name()))
		if err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out, nil
}

// Keep copies the *.patch files of patchesDir into patchesDir/v<version>
// and returns that directory. It refuses to overwrite a kept version
// that differs: a published version does not change.
func Keep(patchesDir string, version int) (string, error) {
	files, err := filepath.Glob(filepath.Join(patchesDir, "*.patch"))
	if err != nil {
		return "", err
	}
	if len(files) == 0 {
		return "", fmt.Errorf("%s holds no *.patch files to keep (kgen render --update first)", patchesDir)
	}
	dst := filepath.Join(patchesDir, fmt.Sprintf("v%d", version))
	if _, err := os.Stat(dst); err == nil {
		old, _ := filepath.Glob(filepath.Join(dst, "*.patch"))
		same := len(old) == len(files)
		for _, f := range files {
			a, _ := os.ReadFile(f)
			b, err := os.ReadFile(filepath.Join(dst, filepath.Base(f)))
			same = same && err == nil && bytes.Equal(a, b)
		}
		if same {
			return dst, nil
		}
		return "", fmt.Errorf("%s already exists and differs from %s: version %d is published; bump version: in series.yaml instead", dst, patchesDir, version)
	}
	tmp, err := os.MkdirTemp(patchesDir, ".keep-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return "", err
		}
		if err := os.WriteFile(filepath.Join(tmp, filepath.Base(f)), data, 0o644); err != nil {
			return "", err
		}
	}
	if err := os.Rename(tmp, dst); err != nil {
		return "", err
	}
	return dst, nil
}

// Scratch is a bare repository that sees the objects of a kernel tree
// through alternates; what is written there stays there.
type Scratch struct {
	Dir  string
	tree string
}

// NewScratch makes a scratch repository for tree (remove it with Close).
func NewScratch(ctx context.Context, tree string) (*Scratch, error) {
	out, err := proc.Command(ctx, "git", "-C", tree, "rev-parse", "--path-format=absolute", "--git-common-dir").Output()
	if err != nil {
		return nil, fmt.Errorf("%s is not a git repository (git rev-parse: %w)", tree, err)
	}
	objects := filepath.Join(strings.TrimSpace(string(out)), "objects")
	dir, err := os.MkdirTemp("", "kgen-range-diff-")
	if err != nil {
		return nil, err
	}
	s := &Scratch{Dir: dir, tree: tree}
	if _, err := s.git(ctx, nil, "", "init", "-q", "--bare", "--template=", dir); err != nil {
		s.Close()
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "objects", "info", "alternates"), []byte(objects+"\n"), 0o644); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// Close removes the scratch repository.
func (s *Scratch) Close() error { return os.RemoveAll(s.Dir) }

func (s *Scratch) git(ctx context.Context, env []string, stdin string, args ...string) (string, error) {
	c := proc.Command(ctx, "git", args...)
	c.Env = append(append(os.Environ(), "GIT_DIR="+s.Dir, "GIT_INDEX_FILE="+filepath.Join(s.Dir, "kgen-index"), "LC_ALL=C"), env...)
	if stdin != "" {
		c.Stdin = strings.NewReader(stdin)
	}
	out, err := proc.Output(c)
	if err != nil && ctx.Err() != nil {
		return "", ctx.Err()
	}
	return string(out), err
}

// ApplyKept commits the patches of k onto base in the scratch repository,
// the way "git am" would (author, date and message from each mail, the
// [PATCH ...] tag dropped), and returns the last commit.
func (s *Scratch) ApplyKept(ctx context.Context, k Kept, base plumbing.Hash) (plumbing.Hash, error) {
	if _, err := s.git(ctx, nil, "", "read-tree", base.String()); err != nil {
		return plumbing.ZeroHash, fmt.Errorf("reading the base %s: %w", base.String()[:12], err)
	}
	parent := base.String()
	for _, p := range k.Patches {
		msgFile := filepath.Join(s.Dir, "kgen-msg")
		patchFile := filepath.Join(s.Dir, "kgen-patch")
		mbox, err := os.ReadFile(p)
		if err != nil {
			return plumbing.ZeroHash, err
		}
		info, err := s.git(ctx, nil, string(mbox), "mailinfo", "--encoding=UTF-8", msgFile, patchFile)
		if err != nil {
			return plumbing.ZeroHash, fmt.Errorf("%s: %w", filepath.Base(p), err)
		}
		hdr := map[string]string{}
		for _, l := range strings.Split(info, "\n") {
			if k, v, ok := strings.Cut(l, ": "); ok {
				hdr[k] = v
			}
		}
		if _, err := s.git(ctx, nil, "", "apply", "--cached", patchFile); err != nil {
			return plumbing.ZeroHash, fmt.Errorf("%s of %s does not apply on %s: %w", filepath.Base(p), k.Dir, base.String()[:12], err)
		}
		tree, err := s.git(ctx, nil, "", "write-tree")
		if err != nil {
			return plumbing.ZeroHash, err
		}
		body, err := os.ReadFile(msgFile)
		if err != nil {
			return plumbing.ZeroHash, err
		}
		msg := hdr["Subject"] + "\n\n" + string(body)
		env := []string{"GIT_AUTHOR_NAME=" + hdr["Author"], "GIT_AUTHOR_EMAIL=" + hdr["Email"], "GIT_AUTHOR_DATE=" + hdr["Date"],
			"GIT_COMMITTER_NAME=" + hdr["Author"], "GIT_COMMITTER_EMAIL=" + hdr["Email"], "GIT_COMMITTER_DATE=" + hdr["Date"]}
		c, err := s.git(ctx, env, msg, "commit-tree", strings.TrimSpace(tree), "-p", parent)
		if err != nil {
			return plumbing.ZeroHash, fmt.Errorf("%s: %w", filepath.Base(p), err)
		}
		parent = strings.TrimSpace(c)
	}
	return plumbing.NewHash(parent), nil
}

// AddRendering writes the commits of res into the scratch repository and
// returns the last one.
func (s *Scratch) AddRendering(res *render.Result) (plumbing.Hash, error) {
	if len(res.Patches) == 0 {
		return plumbing.ZeroHash, errors.New("the rendering has no patches (every patch is upstream on this tree)")
	}
	st, err := gitobj.OpenStorage(s.Dir)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	ids, err := res.Build(st, nil)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	return ids[len(ids)-1], nil
}

// RangeDiff runs "git range-diff oldBase..oldTip newBase..newTip" in the
// scratch repository with extra arguments (e.g. --color=always).
func (s *Scratch) RangeDiff(ctx context.Context, oldBase, oldTip, newBase, newTip plumbing.Hash, extra ...string) (string, error) {
	args := append([]string{"range-diff"}, extra...)
	args = append(args, oldBase.String()+".."+oldTip.String(), newBase.String()+".."+newTip.String())
	return s.git(ctx, nil, "", args...)
}

// Resolve resolves rev (a commit id, branch or tag) in the kernel tree.
func (s *Scratch) Resolve(ctx context.Context, rev string) (plumbing.Hash, error) {
	c := proc.Command(ctx, "git", "-C", s.tree, "rev-parse", "--verify", "--end-of-options", rev+"^{commit}")
	out, err := c.Output()
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("%s: no commit %q", s.tree, rev)
	}
	return plumbing.NewHash(strings.TrimSpace(string(out))), nil
}
