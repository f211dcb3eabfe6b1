// Package probe answers data-driven questions about a kernel tree: its
// version (from the top-level Makefile) and the probes listed in
// templates/probes.yaml (see templates/FORMAT.md). Probes read only the
// few files they name; they never walk the tree.
package probe

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Version is a kernel version as the top-level Makefile states it.
type Version struct {
	Major, Minor, Sublevel int
	Extra                  string // EXTRAVERSION, e.g. "-rc3"
}

func (v Version) String() string {
	return fmt.Sprintf("%d.%d.%d%s", v.Major, v.Minor, v.Sublevel, v.Extra)
}

// MarshalJSON writes the version as "6.12.117".
func (v Version) MarshalJSON() ([]byte, error) { return []byte(`"` + v.String() + `"`), nil }

// Less reports whether v is older than w (Extra is ignored).
func (v Version) Less(w Version) bool {
	if v.Major != w.Major {
		return v.Major < w.Major
	}
	if v.Minor != w.Minor {
		return v.Minor < w.Minor
	}
	return v.Sublevel < w.Sublevel
}

// Result is the answer of one probe.
type Result struct {
	Name string `json:"name"`
	Desc string `json:"desc,omitempty"`
	// Kind is "bool" or "choice".
	Kind  string `json:"kind"`
	Bool  bool   `json:"bool"`
	Value string `json:"value,omitempty"` // choice probes: the chosen file (or value)
	// Evidence says why: "include/linux/task_work.h:12: TWA_NMI_CURRENT,"
	// or "include/linux/task_work.h: no match", "FILE: absent".
	Evidence string `json:"evidence"`
}

// Results are the answers for one tree, in probes.yaml order.
type Results struct {
	Tree    string   `json:"tree"`
	Version Version  `json:"version"`
	Probes  []Result `json:"probes"`
}

// ErrUnknown is returned (wrapped) for a probe name that probes.yaml does
// not define.
var ErrUnknown = errors.New("unknown probe")

// Get returns the result named name.
func (r *Results) Get(name string) (Result, error) {
	for _, p := range r.Probes {
		if p.Name == name {
			return p, nil
		}
	}
	names := make([]string, 0, len(r.Probes))
	for _, p := range r.Probes {
		names = append(names, p.Name)
	}
	sort.Strings(names)
	return Result{}, fmt.Errorf("%w %q (known: %s)", ErrUnknown, name, strings.Join(names, ", "))
}

// Has is the boolean result of probe name; for a choice probe it is
// true when the probe chose something other than "none".
func (r *Results) Has(name string) (bool, error) {
	p, err := r.Get(name)
	if err != nil {
		return false, err
	}
	if p.Kind == "choice" {
		return p.Value != "" && p.Value != "none", nil
	}
	return p.Bool, nil
}

// Value is the string result of a choice probe ("true"/"false" for a
// boolean one).
func (r *Results) Value(name string) (string, error) {
	p, err := r.Get(name)
	if err != nil {
		return "", err
	}
	if p.Kind == "choice" {
		return p.Value, nil
	}
	return fmt.Sprint(p.Bool), nil
}

// ParseCond splits a condition "name" or "!name" (spaces allowed around
// both) into the probe's name and whether it is negated.
func ParseCond(cond string) (name string, neg bool) {
	c := strings.TrimSpace(cond)
	neg = strings.HasPrefix(c, "!")
	if neg {
		c = strings.TrimSpace(c[1:])
	}
	return c, neg
}

// Cond evaluates a condition "name" or "!name".
func (r *Results) Cond(cond string) (bool, error) {
	name, neg := ParseCond(cond)
	v, err := r.Has(name)
	if err != nil {
		return false, err
	}
	return v != neg, nil
}
