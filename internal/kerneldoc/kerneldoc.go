// Package kerneldoc runs a kernel tree's own scripts/kernel-doc in its
// checking mode ("-none": parse the comments, print only diagnostics) on
// source files and parses the warnings. It is what a W=1 build does for
// .c files, applied to headers too.
package kerneldoc

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/kdefer/kdefer/internal/proc"
)

// Warning is one kernel-doc diagnostic.
type Warning struct {
	File    string // as given (tree-relative when run on tree-relative names)
	Line    int
	Level   string // "warning" or "error"
	Message string
}

func (w Warning) String() string {
	return fmt.Sprintf("%s:%d: %s: %s", w.File, w.Line, w.Level, w.Message)
}

// Options tune a run.
type Options struct {
	All bool // pass -Wall (what a W=2 build does)
}

var reDiag = regexp.MustCompile(`^(.+?):(\d+): (warning|error|WARNING|ERROR): (.*)$`)

// Run runs tree/scripts/kernel-doc -none on files (paths relative to tree,
// or absolute) with tree as working directory.
func Run(ctx context.Context, tree string, files []string, opt Options) ([]Warning, error) {
	if len(files) == 0 {
		return nil, nil
	}
	script := filepath.Join(tree, "scripts", "kernel-doc")
	if _, err := os.Stat(script); err != nil {
		return nil, fmt.Errorf("kernel-doc: %s has no scripts/kernel-doc: %w", tree, err)
	}
	args := []string{script, "-none"}
	if opt.All {
		args = append(args, "-Wall")
	}
	args = append(args, files...)
	cmd := proc.Command(ctx, "perl", args...)
	cmd.Dir = tree
	var stderr, stdout bytes.Buffer
	cmd.Stderr, cmd.Stdout = &stderr, &stdout
	err := cmd.Run()
	ws := Parse(stderr.String() + stdout.String())
	if err != nil && len(ws) == 0 {
		return nil, fmt.Errorf("kernel-doc on %s: %v: %s", strings.Join(files, " "), err, strings.TrimSpace(stderr.String()))
	}
	return ws, nil
}

// Parse parses kernel-doc's diagnostics.
func Parse(out string) []Warning {
	var ws []Warning
	for _, l := range strings.Split(out, "\n") {
		m := reDiag.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		n, _ := strconv.Atoi(m[2])
		ws = append(ws, Warning{File: m[1], Line: n, Level: strings.ToLower(m[3]), Message: m[4]})
	}
	return ws
}
