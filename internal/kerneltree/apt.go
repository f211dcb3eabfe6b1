package kerneltree

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/kdefer/kdefer/internal/aptsrc"
	"github.com/kdefer/kdefer/internal/lines"
	"github.com/kdefer/kdefer/internal/proc"
)

// apt runs apt-get and apt-cache either with the machine's configuration
// (dir == "") or with a private state directory whose sources list was
// derived for another suite.
type apt struct {
	name string   // "the machine's apt sources" or "Debian unstable (private)"
	dir  string   // private state directory, "" for the system
	opts []string // -o options
}

func systemApt() *apt { return &apt{name: "the machine's apt sources"} }

// privateApt prepares cacheDir/apt/<suite> with a sources list for suite
// derived from the machine's Debian entries (aptsrc.ReadSources) and returns an
// apt that uses only it.
func privateApt(cacheDir string, entries []aptsrc.SourceEntry, suite string) (*apt, error) {
	list, err := aptsrc.DeriveSourcesList(entries, suite)
	if err != nil {
		return nil, err
	}
	name := "Debian " + suite
	dir := filepath.Join(cacheDir, "apt", suite)
	for _, d := range []string{"lists/partial", "cache/archives/partial", "sources.list.d", "preferences.d"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return nil, fmt.Errorf("creating the private apt state: %w", err)
		}
	}
	src := filepath.Join(dir, "sources.list")
	if old, err := os.ReadFile(src); err != nil || string(old) != list {
		if err := writeFileAtomic(src, []byte(list)); err != nil {
			return nil, err
		}
		// A changed source list makes old package lists meaningless.
		os.Remove(filepath.Join(dir, "updated"))
	}
	status := filepath.Join(dir, "status")
	if _, err := os.Stat(status); err != nil {
		if err := os.WriteFile(status, nil, 0o644); err != nil {
			return nil, fmt.Errorf("creating the private apt state: %w", err)
		}
	}
	return &apt{
		name: name + " (private apt state in " + dir + ")",
		dir:  dir,
		opts: []string{
			"-o", "Dir::Etc::SourceList=" + src,
			"-o", "Dir::Etc::SourceParts=" + filepath.Join(dir, "sources.list.d"),
			"-o", "Dir::Etc::Preferences=" + filepath.Join(dir, "preferences"),
			"-o", "Dir::Etc::PreferencesParts=" + filepath.Join(dir, "preferences.d"),
			"-o", "Dir::State::Lists=" + filepath.Join(dir, "lists"),
			"-o", "Dir::State::status=" + status,
			"-o", "Dir::State::extended_states=" + filepath.Join(dir, "extended_states"),
			"-o", "Dir::Cache=" + filepath.Join(dir, "cache"),
			"-o", "Acquire::Languages=none",
			"-o", "Acquire::IndexTargets::deb::DEP-11::DefaultEnabled=false",
			"-o", "Acquire::IndexTargets::deb::DEP-11-icons::DefaultEnabled=false",
			"-o", "Acquire::IndexTargets::deb::DEP-11-icons-small::DefaultEnabled=false",
			"-o", "Acquire::IndexTargets::deb::Contents-deb::DefaultEnabled=false",
		},
	}, nil
}

// sandboxOpts avoids apt's warning (and failure on some systems) when the
// _apt user cannot write into a cache below root's home.
func sandboxOpts() []string {
	if os.Geteuid() == 0 {
		return []string{"-o", "APT::Sandbox::User=root"}
	}
	return nil
}

func (a *apt) cmd(ctx context.Context, tool string, args ...string) *exec.Cmd {
	all := append(append(append([]string{}, a.opts...), sandboxOpts()...), args...)
	c := proc.Command(ctx, tool, all...)
	c.Env = append(os.Environ(), "LC_ALL=C", "DEBIAN_FRONTEND=noninteractive")
	return c
}

// aptError turns apt's output into one line: its "E:" lines, or the tail.
func aptError(what string, out []byte, err error) error {
	var es []string
	for _, l := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(l, "E: ") || strings.HasPrefix(l, "Err:") || strings.HasPrefix(l, "W: Failed to fetch") {
			es = append(es, strings.TrimSpace(l))
		}
	}
	msg := strings.Join(es, "; ")
	if msg == "" {
		msg = strings.ReplaceAll(lines.Last(string(out), 2), "\n", " / ")
	}
	if msg == "" {
		msg = err.Error()
	}
	return fmt.Errorf("%s: %s", what, msg)
}

// updateHint names the likely cause of a failed apt-get update. A mirror
// frozen in time (a snapshot, a registry's copy) serves Release files past
// their Valid-Until date, which apt refuses although the network is fine:
// that is not fixed by retrying, and kdefer does not switch the check off
// on its own, as it protects against a mirror replaying old lists.
func updateHint(out []byte) string {
	if bytes.Contains(out, []byte("is expired (invalid since")) || bytes.Contains(out, []byte("is not valid yet (invalid for another")) {
		return "the mirror's lists are past their Valid-Until date: use a current mirror, or, " +
			"for a snapshot mirror you trust, set Acquire::Check-Valid-Until \"false\"; in /etc/apt/apt.conf.d"
	}
	return "no network to the Debian archive?"
}

// update refreshes a private apt state when its lists are missing, older
// than a day, or force is set. The system's lists are never updated.
func (a *apt) update(ctx context.Context, force bool, progress func(string, ...any)) error {
	if a.dir == "" {
		return nil
	}
	stamp := filepath.Join(a.dir, "updated")
	if st, err := os.Stat(stamp); err == nil && !force && time.Since(st.ModTime()) < 24*time.Hour {
		return nil
	}
	progress("updating package lists for %s", a.name)
	out, err := a.cmd(ctx, "apt-get", "update").CombinedOutput()
	if err == nil && (bytes.Contains(out, []byte("W: Failed to fetch")) || bytes.Contains(out, []byte("W: Some index files failed"))) {
		err = errors.New("apt-get update reported a failed fetch")
	}
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return aptError("apt-get update for "+a.name+" failed ("+updateHint(out)+")", out, err)
	}
	return os.WriteFile(stamp, nil, 0o644)
}

// pkgVersion is one available version of a package.
type pkgVersion struct {
	Package, Version, Filename string
	Size                       int64
}

// Release is the upstream release of a package version, e.g. "6.12.117".
func (p pkgVersion) Release() string { return UpstreamVersion(p.Version) }

// show lists the available versions of pkgs (none for a package apt does
// not know), with one apt-cache run.
func (a *apt) show(ctx context.Context, pkgs ...string) ([]pkgVersion, error) {
	want := map[string]bool{}
	for _, p := range pkgs {
		want[p] = true
	}
	out, err := a.cmd(ctx, "apt-cache", append([]string{"show"}, pkgs...)...).Output()
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return nil, nil // "No packages found"
		}
		return nil, fmt.Errorf("running apt-cache: %w", err)
	}
	var vs []pkgVersion
	for _, para := range strings.Split(string(out), "\n\n") {
		if v := parseControl(para); want[v.Package] && v.Version != "" {
			vs = append(vs, v)
		}
	}
	return vs, nil
}

// parseControl reads the fields of a package that kdefer uses from one
// paragraph of Debian control data (apt-cache show, dpkg-deb -f).
func parseControl(para string) pkgVersion {
	var v pkgVersion
	for _, l := range strings.Split(para, "\n") {
		k, val, _ := strings.Cut(l, ": ")
		switch k {
		case "Package":
			v.Package = val
		case "Version":
			v.Version = val
		case "Filename":
			v.Filename = val
		case "Size":
			v.Size, _ = strconv.ParseInt(val, 10, 64)
		}
	}
	return v
}

// names lists the package names that start with prefix.
func (a *apt) names(ctx context.Context, prefix string) ([]string, error) {
	out, err := a.cmd(ctx, "apt-cache", "pkgnames", prefix).Output()
	if err != nil && ctx.Err() != nil {
		return nil, ctx.Err()
	}
	var ns []string
	for _, l := range strings.Split(string(out), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			ns = append(ns, l)
		}
	}
	return ns, nil
}

// candidates returns the versions of linux-source packages matching r.
func (a *apt) candidates(ctx context.Context, r Request) ([]pkgVersion, error) {
	pkgs := []string{r.Package()}
	if r.Minor < 0 {
		prefix := fmt.Sprintf("linux-source-%d.", r.Major)
		if r.Major < 0 {
			prefix = "linux-source-"
		}
		ns, err := a.names(ctx, prefix)
		if err != nil {
			return nil, err
		}
		pkgs = ns
	}
	var sources []string
	for _, p := range pkgs {
		if _, err := ParseRequest(seriesOf(p)); err == nil {
			sources = append(sources, p) // not linux-source-7.2-rt or similar
		}
	}
	if len(sources) == 0 {
		return nil, nil
	}
	vs, err := a.show(ctx, sources...)
	if err != nil {
		return nil, err
	}
	var out []pkgVersion
	for _, v := range vs {
		if r.Matches(v.Release()) {
			out = append(out, v)
		}
	}
	return out, nil
}

// download fetches pkg=version into dir with apt-get download and returns
// the file's path. Progress comes from apt's status file descriptor.
func (a *apt) download(ctx context.Context, v pkgVersion, dir string, progress func(string, ...any)) (string, error) {
	tmp, err := os.MkdirTemp(dir, ".partial-")
	if err != nil {
		return "", fmt.Errorf("creating the download directory: %w", err)
	}
	defer os.RemoveAll(tmp)
	pr, pw, err := os.Pipe()
	if err != nil {
		return "", err
	}
	c := a.cmd(ctx, "apt-get", "download", "-o", "APT::Status-Fd=3", v.Package+"="+v.Version)
	c.Dir = tmp
	c.ExtraFiles = []*os.File{pw}
	var out bytes.Buffer
	c.Stdout, c.Stderr = &out, &out
	if err := c.Start(); err != nil {
		pr.Close()
		pw.Close()
		return "", fmt.Errorf("running apt-get: %w", err)
	}
	pw.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		readDlstatus(pr, v, progress)
	}()
	err = c.Wait()
	pr.Close()
	<-done
	if err != nil {
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		return "", aptError(fmt.Sprintf("apt-get download %s=%s from %s failed", v.Package, v.Version, a.name), out.Bytes(), err)
	}
	ents, _ := filepath.Glob(filepath.Join(tmp, "*.deb"))
	if len(ents) != 1 {
		return "", fmt.Errorf("apt-get download %s=%s left no .deb in %s", v.Package, v.Version, tmp)
	}
	dst := filepath.Join(dir, filepath.Base(ents[0]))
	if err := os.Rename(ents[0], dst); err != nil {
		return "", err
	}
	return dst, nil
}

func readDlstatus(r io.Reader, v pkgVersion, progress func(string, ...any)) {
	sc := bufio.NewScanner(r)
	last := -100.0
	lastT := time.Time{}
	for sc.Scan() {
		f := strings.SplitN(sc.Text(), ":", 4)
		if len(f) < 3 || f[0] != "dlstatus" {
			continue
		}
		pct, err := strconv.ParseFloat(f[2], 64)
		if err != nil {
			continue
		}
		if pct-last >= 5 || (pct >= 100 && last < 100) || time.Since(lastT) > 5*time.Second {
			progress("downloading %s %s: %3.0f%% of %s", v.Package, v.Version, pct, mb(v.Size))
			last, lastT = pct, time.Now()
		}
	}
}

func mb(n int64) string { return fmt.Sprintf("%.0f MB", float64(n)/1e6) }
