package ghjob

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/kdefer/kdefer/internal/cachedir"
	"github.com/kdefer/kdefer/internal/e2e"
)

// runJob runs job id of the workflow file in a fresh container made from
// its image, up to the step whose script runs scripts/setup (all steps
// with KDEFER_E2E_LONG=1), and returns the runner for further commands.
// The log of every step is kept in the cache, next to the container's
// state, for a look after the test.
func runJob(t *testing.T, file, id string, m map[string]string) (*Runner, *Job, bool) {
	t.Helper()
	e2e.Need(t, "debootstrap, root, the Debian mirror and the Go module proxy")
	if os.Geteuid() != 0 {
		e2e.Require(t, "running a container job needs root")
	}
	long := os.Getenv("KDEFER_E2E_LONG") == "1"
	w, err := Parse(filepath.Join("../../.github/workflows", file))
	if err != nil {
		t.Fatal(err)
	}
	j := w.Jobs[id]
	if j == nil || j.Container == nil {
		t.Fatalf("%s: no container job %q", file, id)
	}
	for k, v := range m {
		if vs, ok := j.Strategy.Matrix[k]; ok && !slices.Contains(vs, v) {
			t.Fatalf("%s: %s %q is not in the job's matrix %v", file, k, v, vs)
		}
	}
	until := ""
	if !long {
		for _, s := range j.Steps {
			if strings.Contains(s.Run, "scripts/setup") {
				until = s.Title()
				break
			}
		}
		if until == "" {
			t.Fatalf("%s: job %s has no step running scripts/setup", file, id)
		}
	}
	dir := filepath.Join(cachedir.Dir(), "ghjob")
	ctx := context.Background()
	img, err := Image(ctx, ImageOptions{Image: j.Container.Image, Dir: filepath.Join(dir, "images"), Progress: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	name := strings.TrimSuffix(file, ".yml") + "-" + id
	for _, v := range m {
		name += "-" + v
	}
	state := filepath.Join(dir, name)
	if err := os.RemoveAll(state); err != nil {
		t.Fatal(err)
	}
	logPath := state + ".log"
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { logf.Close() })
	repo, _ := filepath.Abs("../..")
	r := &Runner{Image: img, Repo: repo, State: state, Log: logf, Progress: t.Logf}
	res, err := r.RunJob(ctx, j, m, until)
	for _, sr := range res {
		status := "ok"
		switch {
		case sr.Skipped:
			status = "skipped"
		case sr.Err != nil:
			status = "FAILED: " + sr.Err.Error()
		case sr.Note != "":
			status = sr.Note
		}
		t.Logf("step %-50s %8s  %s", sr.Title, sr.Duration.Round(1e9), status)
	}
	if err != nil {
		t.Fatalf("%v (every step's output: %s)", err, logPath)
	}
	t.Logf("every step's output: %s", logPath)
	return r, j, long
}

// The matrix workflow's base job, the way a hosted runner runs it in its
// debian:bookworm container: the steps through the host tools, then the
// job's first commands by hand (kcheck doctor, kgen tree get, kgen apply
// and status of the base) in the same container; with KDEFER_E2E_LONG=1
// every step, kcheck matrix of the base included. The kernel cache must
// land in the workspace, where actions/cache saves it from.
// KDEFER_GHJOB_BASE picks the base (6.1 by default).
func TestE2EMatrixJobInContainer(t *testing.T) {
	base := os.Getenv("KDEFER_GHJOB_BASE")
	if base == "" {
		base = "6.1"
	}
	m := map[string]string{"base": base}
	r, j, long := runJob(t, "matrix.yml", "base", m)
	ctx := context.Background()
	if !long {
		// kgen apply commits as the user, like git commit: a fresh
		// container has no identity until a step sets one.
		script := `set -e
git config --global user.name "kdefer CI"
git config --global user.email ci@kdefer.invalid
go run ./cmd/kcheck doctor
T=$(go run ./cmd/kgen tree get "${{ matrix.base }}" --git | tail -n 1)
go run ./cmd/kgen apply "$T"
go run ./cmd/kgen status "$T"
`
		if err := r.Exec(ctx, j, m, script); err != nil {
			t.Fatalf("in the job's container: %v", err)
		}
	} else if _, err := os.Stat(filepath.Join(r.WorkspaceDir(), "out", base, "matrix.json")); err != nil {
		t.Errorf("the matrix step wrote no out/%s/matrix.json for upload-artifact: %v", base, err)
	}
	trees, _ := filepath.Glob(filepath.Join(r.WorkspaceDir(), ".cache", "kdefer", "trees", "*"))
	if len(trees) == 0 {
		t.Errorf("no kernel tree under the workspace's .cache/kdefer/trees: the job's cache is not where actions/cache saves from (%d bytes there)", r.CacheDirSize(".cache"))
	} else {
		t.Logf("the job's cache in the workspace: %d bytes, trees %v", r.CacheDirSize(".cache"), trees)
	}
}

// The kcheck workflow's job in its container, through the host tools and
// the unit tests (every step with KDEFER_E2E_LONG=1).
func TestE2EKcheckJobInContainer(t *testing.T) {
	r, j, long := runJob(t, "kcheck.yml", "ci", nil)
	if !long {
		if err := r.Exec(context.Background(), j, nil, "go test ./..."); err != nil {
			t.Fatalf("unit tests in the job's container: %v", err)
		}
	}
}
