package capi

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"

	"github.com/kdefer/kdefer/internal/kconfig"
	"github.com/kdefer/kdefer/internal/lines"
	"github.com/kdefer/kdefer/internal/proc"
)

// kbuild preprocesses files with the kernel's own compiler flags, in an
// out-of-tree build directory.
type kbuild struct {
	tree, build string
	progress    func(string, ...any)
}

// savedcmd_ since Linux 6.2, cmd_ before (6.1).
var reSavedCmd = regexp.MustCompile(`(?m)^(?:saved)?cmd_\S+ := (.*)$`)

// ensureConfig gives the build directory a configuration when it has
// none: tinyconfig with CONFIG_64BIT=y (tinyconfig alone is 32-bit on
// x86, and cc/v4's amd64 ABI then fails).
func (k *kbuild) ensureConfig(ctx context.Context) error {
	if _, err := os.Stat(filepath.Join(k.build, ".config")); err == nil {
		return nil
	}
	if err := os.MkdirAll(k.build, 0o755); err != nil {
		return err
	}
	k.progress("capi: configuring %s (tinyconfig + CONFIG_64BIT=y)", k.build)
	if err := k.make(ctx, "tinyconfig"); err != nil {
		return err
	}
	cfg := filepath.Join(k.build, ".config")
	b, err := os.ReadFile(cfg)
	if err != nil {
		return err
	}
	want, _ := kconfig.Parse("CONFIG_64BIT=y\n")
	if err := os.WriteFile(cfg, []byte(kconfig.Merge(string(b), want)), 0o644); err != nil {
		return err
	}
	return k.make(ctx, "olddefconfig")
}

func (k *kbuild) make(ctx context.Context, targets ...string) error {
	args := append([]string{"-n", "10", "make", "-C", k.tree, "O=" + k.build, "-j" + strconv.Itoa(runtime.NumCPU())}, targets...)
	out, err := proc.CombinedOutput(proc.Command(ctx, "nice", args...))
	var pe *proc.Error
	if errors.As(err, &pe) {
		return fmt.Errorf("make O=%s %s in %s: %w\n%s", k.build, strings.Join(targets, " "), k.tree, pe.Err, lines.Last(string(out), 15))
	}
	return err
}

// unitArgv runs "make O=BUILD dir/file.i" for a .c file of the tree (so
// that kbuild prepares the build directory and uses that directory's own
// flags) and returns the compiler command kbuild recorded for it, as an
// argument vector, without its output, input and dependency options.
func (k *kbuild) unitArgv(ctx context.Context, rel string) ([]string, error) {
	m, err := k.unitArgvs(ctx, []string{rel})
	if err != nil {
		return nil, err
	}
	return m[rel], nil
}

// unitArgvs is unitArgv for several units with one make run (kbuild's
// prepare stage runs once).
func (k *kbuild) unitArgvs(ctx context.Context, rels []string) (map[string][]string, error) {
	var targets []string
	for _, rel := range rels {
		targets = append(targets, strings.TrimSuffix(rel, ".c")+".i")
	}
	if err := k.make(ctx, targets...); err != nil {
		return nil, err
	}
	m := map[string][]string{}
	for i, rel := range rels {
		t := targets[i]
		argv, err := k.savedArgv(filepath.Join(filepath.Dir(t), "."+filepath.Base(t)+".cmd"))
		if err != nil {
			return nil, err
		}
		m[rel] = argv
	}
	return m, nil
}

// headerArgv returns the flags kbuild uses for kernel/bounds.c (built by
// every "make prepare"): the generic flags to preprocess a header with.
func (k *kbuild) headerArgv(ctx context.Context) ([]string, error) {
	cmdFile := filepath.Join("kernel", ".bounds.s.cmd")
	if _, err := os.Stat(filepath.Join(k.build, cmdFile)); err != nil {
		if err := k.make(ctx, "prepare"); err != nil {
			return nil, err
		}
	}
	return k.savedArgv(cmdFile)
}

func (k *kbuild) savedArgv(cmdFile string) ([]string, error) {
	b, err := os.ReadFile(filepath.Join(k.build, cmdFile))
	if err != nil {
		return nil, fmt.Errorf("kbuild left no command record: %w", err)
	}
	m := reSavedCmd.FindSubmatch(b)
	if m == nil {
		return nil, fmt.Errorf("%s: no savedcmd line", filepath.Join(k.build, cmdFile))
	}
	// Let the shell split the words exactly as make's shell would.
	cmd := exec.Command("sh", "-c", `eval "set -- $1"; printf '%s\0' "$@"`, "sh", string(m[1]))
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("split the command in %s: %w", cmdFile, err)
	}
	words := strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00")
	var argv []string
	for i := 0; i < len(words); i++ {
		w := words[i]
		switch {
		case w == "-o":
			i++
		case w == "-S" || w == "-c" || w == "-E":
		case strings.HasPrefix(w, "-Wp,-MMD") || strings.HasPrefix(w, "-Wp,-MD"):
		case i == len(words)-1 && strings.HasSuffix(w, ".c"):
		default:
			argv = append(argv, w)
		}
	}
	if len(argv) == 0 {
		return nil, fmt.Errorf("%s: empty command", cmdFile)
	}
	return argv, nil
}

// cpp runs argv -E on src with the view header forced in last, writing
// the output to out.
func (k *kbuild) cpp(ctx context.Context, argv []string, view, src, out string) (string, error) {
	args := append(append([]string(nil), argv[1:]...), "-E", "-include", view, "-o", out, src)
	cmd := proc.Command(ctx, argv[0], args...)
	cmd.Dir = k.build
	var pe *proc.Error
	if _, err := proc.Output(cmd); errors.As(err, &pe) {
		return "", fmt.Errorf("preprocess %s: %w\n%s", src, pe.Err, lines.Last(pe.Stderr, 15))
	}
	b, err := os.ReadFile(out)
	return string(b), err
}
