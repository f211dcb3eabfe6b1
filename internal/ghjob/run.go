package ghjob

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"time"

	"github.com/kdefer/kdefer/internal/debroot"
	"github.com/kdefer/kdefer/internal/lines"
	"github.com/kdefer/kdefer/internal/proc"
)

// The paths a hosted runner gives a container job (the container sees the
// runner's work directory at /__w, its tool cache at /__t, and HOME at
// /github/home), and what ${{ github.workspace }} evaluates to there: the
// host's path, not the container's (actions/runner#2058).
const (
	containerWork  = "/__w"
	containerTools = "/__t"
	containerHome  = "/github/home"
	hostWork       = "/home/runner/work"
	imagePath      = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	runnerUID      = 1001 // the hosted runner's user, owner of the workspace directory
)

// dockerCaps is Docker's default capability set: what a process running
// as root in a container without --privileged keeps.
var dockerCaps = []string{"chown", "dac_override", "fowner", "fsetid", "kill", "setgid", "setuid",
	"setpcap", "net_bind_service", "net_raw", "sys_chroot", "mknod", "audit_write", "setfcap"}

// Runner runs a job's steps in an image root the way a hosted runner runs
// them in the job's container.
type Runner struct {
	Image    string    // the image's root (Image), never written
	Root     string    // the container's root: a copy of Image made on the first step (State/rootfs if empty)
	Repo     string    // the repository whose HEAD commit actions/checkout checks out
	State    string    // host directory holding work/ (/__w), tool/ (/__t) and home/ (/github/home)
	Log      io.Writer // every step's output; nil: discarded
	Progress func(format string, args ...any)

	name    string            // the repository's name: the workspace is /__w/NAME/NAME
	fileEnv map[string]string // what steps wrote to $GITHUB_ENV
	filPath []string          // what steps wrote to $GITHUB_PATH, newest first
	steps   int
}

// StepResult is what one step did.
type StepResult struct {
	Title    string
	Skipped  bool
	Err      error
	Duration time.Duration
	Note     string // what a stand-in for an action did
}

// Workspace is the job's workspace inside the container.
func (r *Runner) Workspace() string { return containerWork + "/" + r.name + "/" + r.name }

// HostWorkspace is the workspace on the runner's host: what
// ${{ github.workspace }} gives in a container job.
func (r *Runner) HostWorkspace() string { return hostWork + "/" + r.name + "/" + r.name }

// WorkspaceDir is the workspace as seen from this machine.
func (r *Runner) WorkspaceDir() string { return filepath.Join(r.State, "work", r.name, r.name) }

func (r *Runner) init() error {
	if r.Progress == nil {
		r.Progress = func(string, ...any) {}
	}
	if r.Log == nil {
		r.Log = io.Discard
	}
	if r.name == "" {
		r.name = repoName(r.Repo)
	}
	if r.fileEnv == nil {
		r.fileEnv = map[string]string{}
	}
	if os.Geteuid() != 0 {
		return errors.New("ghjob: running a container job needs root (namespaces, mounts, chroot)")
	}
	for _, tool := range []string{"unshare", "setpriv", "chroot", "mount", "mknod", "git"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("ghjob: %s is not installed (util-linux, coreutils, git)", tool)
		}
	}
	for _, d := range []string{"work/_temp/_runner_file_commands", "tool", "home"} {
		if err := os.MkdirAll(filepath.Join(r.State, d), 0o755); err != nil {
			return fmt.Errorf("ghjob: %w", err)
		}
	}
	if r.Root == "" {
		r.Root = filepath.Join(r.State, "rootfs")
	}
	// docker create: the container's file system starts as the image's
	// and keeps what the steps change until the job ends.
	if !debroot.DirExists(r.Root) {
		if r.Image == "" {
			return errors.New("ghjob: Runner needs Image (or an existing Root)")
		}
		if _, err := proc.CombinedOutput(proc.Command(context.Background(), "cp", "-a", r.Image, r.Root+".partial")); err != nil {
			return fmt.Errorf("ghjob: creating the container's root from %s: %w", r.Image, err)
		}
		if err := copyLocalSettings(r.Root+".partial", localSettings, r.Progress); err != nil {
			return err
		}
		if err := os.Rename(r.Root+".partial", r.Root); err != nil {
			return fmt.Errorf("ghjob: %w", err)
		}
	}
	// The runner creates the workspace as its own user before the
	// container starts; files inside are written by the container's root.
	ws := r.WorkspaceDir()
	if err := os.MkdirAll(ws, 0o755); err != nil {
		return fmt.Errorf("ghjob: %w", err)
	}
	return os.Chown(ws, runnerUID, runnerUID)
}

// Context is the expression context of job j with matrix values m.
func (r *Runner) Context(j *Job, m map[string]string) Context {
	c := Context{
		"github.workspace":  r.HostWorkspace(),
		"github.repository": r.name + "/" + r.name,
		"github.job":        j.ID,
		"runner.os":         "Linux",
		"runner.arch":       "X64",
		"runner.temp":       hostWork + "/_temp",
		"runner.workspace":  hostWork + "/" + r.name,
	}
	for k, v := range m {
		c["matrix."+k] = v
	}
	return c
}

// RunJob runs the steps of j with matrix values m, up to and including
// the step titled until ("" for all), as the runner would: a step after a
// failed one runs only with if: always(). The job's timeout-minutes
// bounds the whole run. It returns each step's result and the first
// failure.
func (r *Runner) RunJob(ctx context.Context, j *Job, m map[string]string, until string) ([]StepResult, error) {
	if err := r.init(); err != nil {
		return nil, err
	}
	if j.Container == nil || !strings.HasPrefix(j.Container.Image, "debian:") {
		return nil, fmt.Errorf("ghjob: job %s does not run in a debian: container; only container jobs run here", j.ID)
	}
	if j.TimeoutMinutes > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(j.TimeoutMinutes)*time.Minute)
		defer cancel()
	}
	c := r.Context(j, m)
	var res []StepResult
	var failed error
	for _, s := range j.Steps {
		sr := StepResult{Title: s.Title()}
		if t, err := c.Expand(sr.Title); err == nil {
			sr.Title = t // "kcheck matrix 6.1", as the runner names it
		}
		always := strings.Contains(s.If, "always()")
		if s.If != "" && !always {
			return res, fmt.Errorf("ghjob: step %q: if: %s is not understood here (only always())", sr.Title, s.If)
		}
		if failed != nil && !always {
			sr.Skipped = true
			res = append(res, sr)
			continue
		}
		start := time.Now()
		r.Progress("ghjob: step %q", sr.Title)
		fmt.Fprintf(r.Log, "\n##[step] %s\n", sr.Title)
		if s.Uses != "" {
			sr.Note, sr.Err = r.action(ctx, j, s, c)
		} else {
			sr.Err = r.runStep(ctx, j, s, c)
		}
		sr.Duration = time.Since(start)
		fmt.Fprintf(r.Log, "##[end] %s: %s, %v\n", sr.Title, sr.Duration.Round(time.Second), errOr(sr.Err, "ok"))
		if sr.Note != "" {
			fmt.Fprintf(r.Log, "##[note] %s\n", sr.Note)
		}
		res = append(res, sr)
		if sr.Err != nil && failed == nil {
			failed = fmt.Errorf("ghjob: step %q: %w", sr.Title, sr.Err)
		}
		if until != "" && s.Title() == until {
			break
		}
	}
	return res, failed
}

func errOr(err error, ok string) string {
	if err != nil {
		return err.Error()
	}
	return ok
}

// Exec runs script in the job's container after RunJob, with the job's
// environment and what its steps added through $GITHUB_ENV and
// $GITHUB_PATH: the way to try one more command where the job stopped.
func (r *Runner) Exec(ctx context.Context, j *Job, m map[string]string, script string) error {
	if err := r.init(); err != nil {
		return err
	}
	fmt.Fprintf(r.Log, "\n##[exec] %s\n", script)
	return r.runStep(ctx, j, Step{Run: script}, r.Context(j, m))
}

// runStep runs one run: step in the container.
func (r *Runner) runStep(ctx context.Context, j *Job, s Step, c Context) error {
	script, err := c.Expand(s.Run)
	if err != nil {
		return err
	}
	env, err := r.env(j, s, c)
	if err != nil {
		return err
	}
	r.steps++
	temp := filepath.Join(r.State, "work", "_temp")
	name := fmt.Sprintf("step-%d.sh", r.steps)
	if err := os.WriteFile(filepath.Join(temp, name), []byte(script+"\n"), 0o755); err != nil {
		return fmt.Errorf("ghjob: %w", err)
	}
	fc := filepath.Join(temp, "_runner_file_commands")
	for _, f := range []string{"env", "path", "output", "summary"} {
		if err := os.WriteFile(filepath.Join(fc, fmt.Sprintf("%s_%d", f, r.steps)), nil, 0o666); err != nil {
			return fmt.Errorf("ghjob: %w", err)
		}
	}
	shell := []string{"bash", "-e"} // the runner's default when the image has bash
	if s.Shell != "" && s.Shell != "bash" {
		return fmt.Errorf("ghjob: shell %q is not understood here", s.Shell)
	}
	if s.Shell == "bash" {
		shell = []string{"bash", "--noprofile", "--norc", "-eo", "pipefail"}
	}
	err = r.inContainer(ctx, env, r.Workspace(), append(shell, containerWork+"/_temp/"+name)...)
	r.readFileCommands(fc)
	return err
}

// env is a step's environment: the runner's variables, the job's env,
// what earlier steps wrote to $GITHUB_ENV, the step's env; PATH is the
// image's with $GITHUB_PATH's entries in front.
func (r *Runner) env(j *Job, s Step, c Context) ([]string, error) {
	fc := containerWork + "/_temp/_runner_file_commands/"
	n := r.steps + 1
	vars := map[string]string{
		"HOME":                containerHome,
		"CI":                  "true",
		"GITHUB_ACTIONS":      "true",
		"GITHUB_WORKSPACE":    r.Workspace(),
		"GITHUB_REPOSITORY":   r.name + "/" + r.name,
		"GITHUB_JOB":          j.ID,
		"RUNNER_OS":           "Linux",
		"RUNNER_ARCH":         "X64",
		"RUNNER_TEMP":         containerWork + "/_temp",
		"RUNNER_TOOL_CACHE":   containerTools,
		"RUNNER_WORKSPACE":    containerWork + "/" + r.name,
		"GITHUB_ENV":          fmt.Sprintf("%senv_%d", fc, n),
		"GITHUB_PATH":         fmt.Sprintf("%spath_%d", fc, n),
		"GITHUB_OUTPUT":       fmt.Sprintf("%soutput_%d", fc, n),
		"GITHUB_STEP_SUMMARY": fmt.Sprintf("%ssummary_%d", fc, n),
	}
	jobEnv := map[string]string{}
	for _, k := range sortedKeys(j.Env) {
		v, err := c.Expand(j.Env[k])
		if err != nil {
			return nil, fmt.Errorf("job env %s: %w", k, err)
		}
		jobEnv[k], vars[k] = v, v
	}
	ec := Context{}
	for k, v := range c {
		ec[k] = v
	}
	for k, v := range jobEnv {
		ec["env."+k] = v
	}
	for k, v := range r.fileEnv {
		vars[k] = v
	}
	for _, k := range sortedKeys(s.Env) {
		v, err := ec.Expand(s.Env[k])
		if err != nil {
			return nil, fmt.Errorf("step env %s: %w", k, err)
		}
		vars[k] = v
	}
	vars["PATH"] = strings.Join(append(append([]string{}, r.filPath...), imagePath), ":")
	out := make([]string, 0, len(vars))
	for _, k := range sortedKeys(vars) {
		out = append(out, k+"="+vars[k])
	}
	return out, nil
}

// readFileCommands takes in what the step wrote to $GITHUB_ENV
// (NAME=value, or NAME<<DELIM ... DELIM) and $GITHUB_PATH.
func (r *Runner) readFileCommands(fc string) {
	if data, err := os.ReadFile(filepath.Join(fc, fmt.Sprintf("env_%d", r.steps))); err == nil {
		sc := bufio.NewScanner(bytes.NewReader(data))
		for sc.Scan() {
			line := sc.Text()
			if k, delim, ok := strings.Cut(line, "<<"); ok && !strings.Contains(k, "=") {
				var val []string
				for sc.Scan() && sc.Text() != delim {
					val = append(val, sc.Text())
				}
				r.fileEnv[k] = strings.Join(val, "\n")
			} else if k, v, ok := strings.Cut(line, "="); ok {
				r.fileEnv[k] = v
			}
		}
	}
	if data, err := os.ReadFile(filepath.Join(fc, fmt.Sprintf("path_%d", r.steps))); err == nil {
		for _, p := range strings.Split(strings.TrimSpace(string(data)), "\n") {
			if p != "" {
				r.filPath = append([]string{p}, r.filPath...)
			}
		}
	}
}

// mountScript prepares, in a new mount namespace, what Docker gives a
// container (its own /proc, a read-only /sys, a small /dev of the usual
// nodes with its own devpts, /dev/shm, the host's resolver) and what the
// runner mounts (/__w, /__t, /github/home), then runs the command
// chrooted with Docker's capability set. $1 root, $2 state, $3 working
// directory, the rest the command.
const mountScript = `set -e
root=$1 state=$2 wd=$3; shift 3
hostname ghjob-container
mount -t proc proc "$root/proc"
mount --rbind /sys "$root/sys"
mount -o remount,bind,ro "$root/sys"
mount -t tmpfs -o nosuid,mode=755,size=65536k tmpfs "$root/dev"
for n in "null 1 3" "zero 1 5" "full 1 7" "random 1 8" "urandom 1 9" "tty 5 0"; do
	set -- $n "$@"
	mknod -m 666 "$root/dev/$1" c "$2" "$3"
	shift 3
done
mkdir "$root/dev/pts" "$root/dev/shm" "$root/dev/mqueue"
mount -t devpts -o newinstance,ptmxmode=0666,mode=620 devpts "$root/dev/pts"
mount -t tmpfs -o nosuid,nodev,noexec,size=65536k shm "$root/dev/shm"
ln -s pts/ptmx "$root/dev/ptmx"
ln -s /proc/self/fd "$root/dev/fd"
ln -s /proc/self/fd/0 "$root/dev/stdin"
ln -s /proc/self/fd/1 "$root/dev/stdout"
ln -s /proc/self/fd/2 "$root/dev/stderr"
mkdir -p "$root/__w" "$root/__t" "$root/github/home"
mount --rbind "$state/work" "$root/__w"
mount --bind "$state/tool" "$root/__t"
mount --bind "$state/home" "$root/github/home"
rm -f "$root/etc/resolv.conf"; touch "$root/etc/resolv.conf"
mount --bind /etc/resolv.conf "$root/etc/resolv.conf"
exec setpriv --bounding-set "$CAPS" --inh-caps -all chroot "$root" /bin/sh -c 'cd "$1" && shift && exec "$@"' sh "$wd" "$@"
`

// inContainer runs argv in the container with env, in directory wd.
func (r *Runner) inContainer(ctx context.Context, env []string, wd string, argv ...string) error {
	caps := "-all"
	for _, c := range dockerCaps {
		caps += ",+" + c
	}
	args := append([]string{"--mount", "--pid", "--fork", "--uts", "--ipc", "--propagation", "private",
		"/bin/sh", "-c", mountScript, "sh", r.Root, r.State, wd}, argv...)
	cmd := proc.Command(ctx, "unshare", args...)
	cmd.Env = append(env, "CAPS="+caps)
	cmd.Dir = "/" // this process's directory is no business of the container's
	var tail bytes.Buffer
	w := io.MultiWriter(r.Log, &limited{&tail, 1 << 20})
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("%v (the job's timeout or an interrupt)", ctx.Err())
		}
		return fmt.Errorf("%v; last output: %s", err, strings.ReplaceAll(lines.Last(tail.String(), 3), "\n", " / "))
	}
	return nil
}

// limited keeps the last n bytes written to it, at most.
type limited struct {
	b *bytes.Buffer
	n int
}

func (l *limited) Write(p []byte) (int, error) {
	l.b.Write(p)
	if over := l.b.Len() - l.n; over > 0 {
		l.b.Next(over)
	}
	return len(p), nil
}

// action does what the named action does on a runner, with local means.
func (r *Runner) action(ctx context.Context, j *Job, s Step, c Context) (string, error) {
	switch actionFor(s.Uses) {
	case "actions/checkout":
		return r.checkout(ctx)
	case "actions/setup-go":
		return r.setupGo(ctx, s, c)
	case "actions/cache":
		path, err := c.Expand(s.With["path"])
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("cache miss, as on a cold runner; at the end of the job the post step saves %s", path), nil
	case "actions/upload-artifact":
		path, err := c.Expand(s.With["path"])
		if err != nil {
			return "", err
		}
		return r.artifact(path)
	}
	return "", fmt.Errorf("ghjob: no stand-in for %s", s.Uses)
}

// checkout puts the repository's HEAD commit into the workspace, the way
// actions/checkout does in a container: a shallow fetch of the one commit
// with the container's git, or, when the image has no git, the files of
// the commit without .git (the action's REST API download).
func (r *Runner) checkout(ctx context.Context) (string, error) {
	ws := r.WorkspaceDir()
	ents, _ := os.ReadDir(ws)
	for _, e := range ents {
		if err := os.RemoveAll(filepath.Join(ws, e.Name())); err != nil {
			return "", fmt.Errorf("ghjob: cleaning the workspace: %w", err)
		}
	}
	head, err := proc.Output(proc.Command(ctx, "git", "-C", r.Repo, "rev-parse", "HEAD"))
	if err != nil {
		return "", fmt.Errorf("ghjob: %w", err)
	}
	sha := strings.TrimSpace(string(head))
	if _, err := os.Stat(filepath.Join(r.Root, "usr/bin/git")); err != nil {
		cmd := proc.Command(ctx, "sh", "-c", `git -C "$1" archive "$2" | tar -x -C "$3"`, "sh", r.Repo, sha, ws)
		if _, err := proc.CombinedOutput(cmd); err != nil {
			return "", fmt.Errorf("ghjob: %w", err)
		}
		return fmt.Sprintf("the image has no git: %s downloaded without .git, as actions/checkout does then", sha[:12]), nil
	}
	// The commit, fetched on this machine into a bare repository below
	// /__w (the container cannot see the repository's own directories),
	// is what the container's git fetches from.
	src := filepath.Join(r.State, "work", "_source")
	if err := os.RemoveAll(src); err != nil {
		return "", fmt.Errorf("ghjob: %w", err)
	}
	for _, args := range [][]string{{"init", "-q", "--bare", src}, {"-C", src, "fetch", "-q", "--no-tags", "--depth=1", "file://" + r.Repo, sha}} {
		if _, err := proc.CombinedOutput(proc.Command(ctx, "git", args...)); err != nil {
			return "", fmt.Errorf("ghjob: %w", err)
		}
	}
	script := `set -e
git init -q .
git config --global --add safe.directory "$PWD"
git fetch -q --no-tags --depth=1 "file://$SRC" "$SHA"
git checkout -q --detach FETCH_HEAD
git config --global --unset-all safe.directory
`
	env := []string{"HOME=" + containerHome, "PATH=" + imagePath, "SRC=" + containerWork + "/_source", "SHA=" + sha}
	if err := r.inContainer(ctx, env, r.Workspace(), "sh", "-c", script); err != nil {
		return "", err
	}
	return fmt.Sprintf("%s fetched with depth 1 into %s by the container's git", sha[:12], r.Workspace()), nil
}

var goLineRE = regexp.MustCompile(`(?m)^go\s+(\d+\.\d+(?:\.\d+)?)\s*$`)

// setupGo installs the Go that go-version-file names into the tool cache
// (/__t/go/VERSION/x64) and puts its bin and GOPATH's bin on PATH, as
// actions/setup-go does. The toolchain is this machine's Go, which must
// be that version: a runner downloads the same release.
func (r *Runner) setupGo(ctx context.Context, s Step, c Context) (string, error) {
	file, err := c.Expand(s.With["go-version-file"])
	if err != nil {
		return "", err
	}
	want := s.With["go-version"]
	if file != "" {
		data, err := os.ReadFile(filepath.Join(r.WorkspaceDir(), file))
		if err != nil {
			return "", fmt.Errorf("ghjob: setup-go: %w", err)
		}
		m := goLineRE.FindSubmatch(data)
		if m == nil {
			return "", fmt.Errorf("ghjob: setup-go: no go line in %s", file)
		}
		want = string(m[1])
	}
	if want == "" {
		return "", errors.New("ghjob: setup-go: neither go-version nor go-version-file")
	}
	if have := strings.TrimPrefix(runtime.Version(), "go"); have != want {
		return "", fmt.Errorf("ghjob: setup-go: the job wants Go %s and this machine's Go is %s; install Go %s here (the runner downloads it)", want, have, want)
	}
	dst := filepath.Join(r.State, "tool", "go", want, "x64")
	if !debroot.DirExists(dst) {
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return "", fmt.Errorf("ghjob: %w", err)
		}
		if _, err := proc.CombinedOutput(proc.Command(ctx, "cp", "-a", runtime.GOROOT(), dst+".partial")); err != nil {
			return "", fmt.Errorf("ghjob: setup-go: copying %s: %w", runtime.GOROOT(), err)
		}
		if err := os.Rename(dst+".partial", dst); err != nil {
			return "", fmt.Errorf("ghjob: %w", err)
		}
	}
	r.filPath = append([]string{containerHome + "/go/bin", containerTools + "/go/" + want + "/x64/bin"}, r.filPath...)
	return fmt.Sprintf("Go %s in %s/go/%s/x64 (this machine's, the release a runner downloads); module cache empty, as on a cold runner", want, containerTools, want), nil
}

// artifact reports what upload-artifact would upload from path (one path
// or several, one a line, relative to the workspace).
func (r *Runner) artifact(path string) (string, error) {
	var files int
	var size int64
	for _, p := range strings.Fields(path) {
		ms, _ := filepath.Glob(filepath.Join(r.WorkspaceDir(), p))
		for _, m := range ms {
			filepath.WalkDir(m, func(_ string, d fs.DirEntry, err error) error {
				if err == nil && d.Type().IsRegular() {
					if fi, err := d.Info(); err == nil {
						files++
						size += fi.Size()
					}
				}
				return nil
			})
		}
	}
	if files == 0 {
		return fmt.Sprintf("upload-artifact: no files under %q (the action warns)", path), nil
	}
	return fmt.Sprintf("upload-artifact: %d files, %d bytes under %q", files, size, path), nil
}

// CacheDirSize is the size of what actions/cache's post step would save
// from path (relative to the workspace), so that a run can show whether
// the job really wrote its cache there.
func (r *Runner) CacheDirSize(path string) int64 {
	var size int64
	filepath.WalkDir(filepath.Join(r.WorkspaceDir(), path), func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				size += fi.Size()
			}
		}
		return nil
	})
	return size
}

// A local setting is a file of this machine that a container of the job
// needs to reach what a hosted runner reaches without it: the Debian mirror
// and the Go proxy. Each is copied into the container's root only when the
// machine has it, and the copy is said, since a hosted runner has none.
type localSetting struct {
	glob string                 // the machine's files
	dir  string                 // where they go in the container's root
	keep func(data []byte) bool // nil: every file of glob
	what string
}

var localSettings = []localSetting{{
	// A machine that reaches the mirror and the Go proxy through a
	// TLS-inspecting proxy trusts its CA; the image's ca-certificates
	// package, once a step installs it, adds them to the trust store.
	glob: "/usr/local/share/ca-certificates/*.crt",
	dir:  "usr/local/share/ca-certificates",
	what: "local CAs",
}, {
	// A mirror frozen in time (a registry's copy of deb.debian.org)
	// serves lists past their Valid-Until date, which apt refuses unless
	// the machine switched the check off; proxies are set here too.
	glob: "/etc/apt/apt.conf.d/*",
	dir:  "etc/apt/apt.conf.d",
	keep: aptMirrorSetting,
	what: "apt settings for its mirror",
}}

// aptMirrorSetting reports whether an apt configuration file sets how apt
// reaches or trusts the mirror, rather than how it installs packages.
func aptMirrorSetting(data []byte) bool {
	data = bytes.ToLower(data) // apt's option names ignore case
	for _, k := range []string{"acquire::check-valid-until", "acquire::check-date", "acquire::http::proxy", "acquire::https::proxy"} {
		if bytes.Contains(data, []byte(k)) {
			return true
		}
	}
	return false
}

// copyLocalSettings copies this machine's local settings (localSettings)
// into the container's root.
func copyLocalSettings(root string, settings []localSetting, progress func(string, ...any)) error {
	for _, ls := range settings {
		files, _ := filepath.Glob(ls.glob)
		var copied []string
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil || (ls.keep != nil && !ls.keep(data)) {
				continue // a directory, or not a setting the job needs
			}
			dst := filepath.Join(root, ls.dir)
			if err := os.MkdirAll(dst, 0o755); err != nil {
				return fmt.Errorf("ghjob: copying the machine's %s: %w", ls.what, err)
			}
			if err := os.WriteFile(filepath.Join(dst, filepath.Base(f)), data, 0o644); err != nil {
				return fmt.Errorf("ghjob: copying the machine's %s: %w", ls.what, err)
			}
			copied = append(copied, f)
		}
		if len(copied) > 0 {
			progress("ghjob: this machine's %s copied into the container (not on a hosted runner): %s", ls.what, strings.Join(copied, ", "))
		}
	}
	return nil
}

// repoName is the repository's name on GitHub as far as this machine can
// tell: the last element of go.mod's module path (github.com/kdefer/kdefer:
// kdefer), else the directory's name.
func repoName(repo string) string {
	if data, err := os.ReadFile(filepath.Join(repo, "go.mod")); err == nil {
		if m := regexp.MustCompile(`(?m)^module\s+(\S+)`).FindSubmatch(data); m != nil {
			return filepath.Base(string(m[1]))
		}
	}
	return filepath.Base(repo)
}
