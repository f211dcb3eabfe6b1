// Package ghjob reads this repository's GitHub Actions workflows and runs
// a job of them on this machine the way a hosted runner runs a container
// job, without a Docker engine: the job's image is built with debootstrap
// (Image), and every step runs in it under new mount, PID, UTS and IPC
// namespaces, chrooted, with the runner's mounts (/__w, /__t,
// /github/home), its environment and Docker's default capability set
// (Runner). The `uses:` steps this repository's workflows name are done
// by their local equivalent (checkout: a shallow clone of the commit;
// setup-go: the Go of go.mod; cache: a miss, as on a cold runner;
// upload-artifact: the paths are listed). Check finds, without running
// anything, what would break a job on a hosted runner.
package ghjob

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// Workflow is the part of a workflow file the runner here understands.
type Workflow struct {
	Path string          `yaml:"-"`
	Name string          `yaml:"name"`
	Jobs map[string]*Job `yaml:"jobs"`
}

// Job is one job of a workflow.
type Job struct {
	ID             string            `yaml:"-"`
	RunsOn         string            `yaml:"runs-on"`
	TimeoutMinutes int               `yaml:"timeout-minutes"`
	Container      *Container        `yaml:"container"`
	Env            map[string]string `yaml:"env"`
	Strategy       struct {
		Matrix map[string][]string `yaml:"matrix"`
	} `yaml:"strategy"`
	Steps []Step `yaml:"steps"`
}

// Container is a job's container: the image the steps run in.
type Container struct {
	Image   string `yaml:"image"`
	Options string `yaml:"options"`
}

// Step is one step: a `run:` script or a `uses:` action.
type Step struct {
	Name  string            `yaml:"name"`
	Uses  string            `yaml:"uses"`
	Run   string            `yaml:"run"`
	With  map[string]string `yaml:"with"`
	Env   map[string]string `yaml:"env"`
	If    string            `yaml:"if"`
	Shell string            `yaml:"shell"`
}

// Title is how the step is named in logs: its name, else its action or
// the first line of its script.
func (s Step) Title() string {
	switch {
	case s.Name != "":
		return s.Name
	case s.Uses != "":
		return s.Uses
	}
	return "Run " + strings.SplitN(strings.TrimSpace(s.Run), "\n", 2)[0]
}

// Parse reads a workflow file.
func Parse(path string) (*Workflow, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("ghjob: %w", err)
	}
	var w Workflow
	if err := yaml.Unmarshal(data, &w); err != nil {
		return nil, fmt.Errorf("ghjob: %s: %w (this runner reads `container:` as a mapping with image:, and matrix values as lists of strings)", path, err)
	}
	if len(w.Jobs) == 0 {
		return nil, fmt.Errorf("ghjob: %s has no jobs", path)
	}
	w.Path = path
	for id, j := range w.Jobs {
		j.ID = id
	}
	return &w, nil
}

// ParseDir reads every workflow of a repository (.github/workflows/*.yml).
func ParseDir(repo string) ([]*Workflow, error) {
	files, _ := filepath.Glob(filepath.Join(repo, ".github", "workflows", "*.yml"))
	if len(files) == 0 {
		return nil, fmt.Errorf("ghjob: no workflow files in %s/.github/workflows", repo)
	}
	sort.Strings(files)
	var ws []*Workflow
	for _, f := range files {
		w, err := Parse(f)
		if err != nil {
			return nil, err
		}
		ws = append(ws, w)
	}
	return ws, nil
}

// Context holds the values of the expression names a workflow uses
// ("matrix.base", "github.workspace", "inputs.version", ...).
type Context map[string]string

var exprRE = regexp.MustCompile(`\$\{\{\s*(.*?)\s*\}\}`)

// Expand replaces every ${{ expression }} of s. The expressions it knows
// are those the workflows here use: a context name (matrix.base), a
// string literal ('6.12'), and a || b. Anything else is an error naming
// the expression, never an empty string.
func (c Context) Expand(s string) (string, error) {
	var err error
	out := exprRE.ReplaceAllStringFunc(s, func(m string) string {
		v, e := c.eval(exprRE.FindStringSubmatch(m)[1])
		if e != nil && err == nil {
			err = e
		}
		return v
	})
	return out, err
}

func (c Context) eval(expr string) (string, error) {
	for _, alt := range strings.Split(expr, "||") {
		alt = strings.TrimSpace(alt)
		if len(alt) >= 2 && alt[0] == '\'' && alt[len(alt)-1] == '\'' {
			if v := alt[1 : len(alt)-1]; v != "" {
				return v, nil
			}
			continue
		}
		if !regexp.MustCompile(`^[a-z_]+(\.[A-Za-z_][A-Za-z0-9_-]*)+$`).MatchString(alt) {
			return "", fmt.Errorf("ghjob: expression ${{ %s }}: only context names, 'literals' and || are understood here", expr)
		}
		v, ok := c[alt]
		if !ok && !strings.HasPrefix(alt, "inputs.") && !strings.HasPrefix(alt, "env.") {
			return "", fmt.Errorf("ghjob: expression ${{ %s }}: %s has no value in this run", expr, alt)
		}
		if v != "" {
			return v, nil
		}
	}
	return "", nil
}

// Finding is a problem Check found in a workflow.
type Finding struct {
	File, Job, Where, Problem string
}

func (f Finding) String() string {
	return fmt.Sprintf("%s: job %s: %s: %s", filepath.Base(f.File), f.Job, f.Where, f.Problem)
}

// hostPathRE matches the expressions that a container job evaluates to
// the runner host's paths (/home/runner/work/...), which do not exist in
// the container (actions/runner#2058): $GITHUB_WORKSPACE and
// $RUNNER_TEMP in the step's shell are the container's.
var hostPathRE = regexp.MustCompile(`\$\{\{[^}]*\b(github\.workspace|runner\.workspace|runner\.temp|runner\.tool_cache)\b`)

// fetchRE matches a command that fetches Debian kernel trees: kcheck ci,
// kcheck matrix (not --join, which only reads JSON files) and kgen tree
// get, run as `go run ./cmd/...` or as a command of their own (not a word
// in an echo).
var fetchRE = regexp.MustCompile(`(go run \./cmd/|^\s*|[;&|]\s*)(kcheck\s+(ci|matrix)|kgen\s+tree\s+get)\b`)

// Check reports what would break a job of w on a hosted runner without
// running it:
//   - in a container job, an expression giving a runner host path (the
//     job-level env included): inside the container that path does not
//     exist, and a cache or artifact path built on it stays empty;
//   - a job that fetches Debian kernel trees outside a Debian container:
//     kgen derives its apt sources from the machine's Debian entries, and
//     a hosted runner is Ubuntu;
//   - sudo in a container job (the image has none; steps run as root);
//   - a uses: action this runner cannot stand in for.
func Check(w *Workflow) []Finding {
	var fs []Finding
	ids := make([]string, 0, len(w.Jobs))
	for id := range w.Jobs {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		j := w.Jobs[id]
		add := func(where, problem string) {
			fs = append(fs, Finding{File: w.Path, Job: id, Where: where, Problem: problem})
		}
		inContainer := j.Container != nil && j.Container.Image != ""
		if inContainer {
			for _, k := range sortedKeys(j.Env) {
				if hostPathRE.MatchString(j.Env[k]) {
					add("env "+k, fmt.Sprintf("%q is the runner host's path in a container job (actions/runner#2058); set it in a step from $GITHUB_WORKSPACE via $GITHUB_ENV", j.Env[k]))
				}
			}
		}
		fetches := false
		for i, s := range j.Steps {
			where := fmt.Sprintf("step %d (%s)", i+1, s.Title())
			if inContainer {
				for _, v := range append(append([]string{s.Run}, mapValues(s.With)...), mapValues(s.Env)...) {
					if hostPathRE.MatchString(v) {
						add(where, "uses the runner host's path in a container job (actions/runner#2058); use $GITHUB_WORKSPACE or a relative path")
						break
					}
				}
				if regexp.MustCompile(`(^|[\s;&|(])sudo\s`).MatchString(s.Run) {
					add(where, "sudo in a container job: the image has no sudo, and the steps already run as root")
				}
			}
			for _, line := range strings.Split(s.Run, "\n") {
				if fetchRE.MatchString(line) && !strings.Contains(line, "--join") {
					fetches = true
				}
			}
			if s.Uses != "" && actionFor(s.Uses) == "" {
				add(where, fmt.Sprintf("uses %s, which this runner has no stand-in for", s.Uses))
			}
		}
		if fetches && (!inContainer || !strings.HasPrefix(j.Container.Image, "debian:")) {
			add("runs-on "+j.RunsOn, "fetches Debian kernel trees (kgen tree get, kcheck ci/matrix) outside a Debian container: the runner's apt (Ubuntu) has no Debian archive for kgen to derive its sources from; run the job in container: debian:bookworm")
		}
	}
	return fs
}

// actionFor returns the action's name without its version when this
// runner has a stand-in for it, else "".
func actionFor(uses string) string {
	name, _, _ := strings.Cut(uses, "@")
	switch name {
	case "actions/checkout", "actions/setup-go", "actions/cache", "actions/upload-artifact", "actions/download-artifact":
		return name
	}
	return ""
}

func sortedKeys(m map[string]string) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func mapValues(m map[string]string) []string {
	var vs []string
	for _, k := range sortedKeys(m) {
		vs = append(vs, m[k])
	}
	return vs
}
