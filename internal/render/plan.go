package render

import (
	"fmt"
	"strings"

	"github.com/kdefer/kdefer/internal/probe"
	"github.com/kdefer/kdefer/internal/series"
)

// Plan is what the series does on a probed tree, decided from the probes
// alone (before any file is rendered): which patches are rendered, which
// are skipped because the tree already has them (skip-if), and which
// prerequisites of the series (series.yaml requires:) the tree lacks.
type Plan struct {
	Version probe.Version
	Active  []*series.Patch // rendered, in series order
	Skipped []Skipped       // skip-if true, in series order
	// Unmet are the requirements that do not hold. They matter only when
	// something is rendered: a tree that already carries every patch
	// needs nothing (see Supported).
	Unmet []Unmet
	// SupportedText is series.yaml's supported: ("Linux 6.12 and later").
	SupportedText string
}

// Unmet is a requirement of the series that the tree does not meet.
type Unmet struct {
	series.Require
	Evidence string // the probe's evidence ("include/linux/task_work.h: no match for ...")
}

// NewPlan decides, from the probe results pr, what the series s does.
func NewPlan(s *series.Series, pr *probe.Results) (*Plan, error) {
	pl := &Plan{Version: pr.Version, SupportedText: s.Supported}
	for _, p := range s.Patches {
		if p.SkipIf != "" {
			skip, err := pr.Cond(p.SkipIf)
			if err != nil {
				return nil, fmt.Errorf("patch %s: skip-if: %w", p.Name, err)
			}
			if skip {
				pl.Skipped = append(pl.Skipped, Skipped{Name: p.Name, Subject: p.Subject,
					Probe: p.SkipIf, Evidence: evidence(pr, p.SkipIf)})
				continue
			}
		}
		pl.Active = append(pl.Active, p)
	}
	for _, r := range s.Requires {
		ok, err := pr.Cond(r.Probe)
		if err != nil {
			return nil, fmt.Errorf("series.yaml: requires %s: %w", r.Probe, err)
		}
		if !ok {
			pl.Unmet = append(pl.Unmet, Unmet{Require: r, Evidence: evidence(pr, r.Probe)})
		}
	}
	return pl, nil
}

// evidence is the evidence of the probe of condition cond.
func evidence(pr *probe.Results, cond string) string {
	name, _ := probe.ParseCond(cond)
	r, err := pr.Get(name)
	if err != nil {
		return ""
	}
	return r.Evidence
}

// Supported returns an *UnsupportedError when the plan renders at least
// one patch and a requirement of the series does not hold; tree only
// names the tree in the error.
func (pl *Plan) Supported(tree string) error {
	if len(pl.Active) == 0 || len(pl.Unmet) == 0 {
		return nil
	}
	return &UnsupportedError{Tree: tree, Version: pl.Version, Unmet: pl.Unmet, SupportedText: pl.SupportedText}
}

// UnsupportedError says that a tree lacks prerequisites of the series
// (series.yaml requires:). Nothing is rendered or written.
type UnsupportedError struct {
	Tree          string
	Version       probe.Version
	Unmet         []Unmet
	SupportedText string
}

// Error is one sentence naming what is missing, then one line per unmet
// requirement with the probe and its evidence:
//
//	Linux 6.1.172 is not supported: exit_to_user_mode_prepare() is in kernel/entry/common.c and TWA_NMI_CURRENT is missing; the series supports Linux 6.12 and later
//	  requires !entry_hook_in_common_c; probe entry_hook_in_common_c is yes: kernel/entry/common.c:199: static void exit_to_user_mode_prepare(struct pt_regs *regs)
//	  requires twa_nmi_current; probe twa_nmi_current is no: include/linux/task_work.h: no match for /\bTWA_NMI_CURRENT\b/
func (e *UnsupportedError) Error() string {
	var what []string
	for _, u := range e.Unmet {
		what = append(what, strings.TrimSpace(u.Missing))
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Linux %s is not supported: %s", e.Version, joinAnd(what))
	if e.SupportedText != "" {
		fmt.Fprintf(&b, "; the series supports %s", e.SupportedText)
	} else {
		b.WriteString("; the series does not support this tree")
	}
	for _, u := range e.Unmet {
		name, neg := probe.ParseCond(u.Probe)
		fmt.Fprintf(&b, "\n  requires %s; probe %s is %s: %s", strings.TrimSpace(u.Probe), name, map[bool]string{true: "yes", false: "no"}[neg], u.Evidence)
	}
	return b.String()
}

func joinAnd(s []string) string {
	switch len(s) {
	case 0:
		return ""
	case 1:
		return s[0]
	}
	return strings.Join(s[:len(s)-1], ", ") + " and " + s[len(s)-1]
}
