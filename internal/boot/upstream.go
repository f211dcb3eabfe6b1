package boot

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/kdefer/kdefer/internal/bootreport"
	"github.com/kdefer/kdefer/internal/ktap"
	"github.com/kdefer/kdefer/internal/probe"
	qemutests "github.com/kdefer/kdefer/qemu-tests"
)

// infraUpstream reports whether tree runs upstream's deferred unwinding
// rather than the series': Linux 7.0 and later carry it (kgen skips every
// infrastructure patch there), and kernel/unwind/deferred.c is present.
func infraUpstream(tree string) bool {
	v, err := probe.ReadVersion(probe.Dir(tree))
	if err != nil || v.Major < 7 {
		return false
	}
	_, err = os.Stat(filepath.Join(tree, "kernel", "unwind", "deferred.c"))
	return err == nil
}

// excuseUpstream turns the failures that qemu-tests/DEVIATIONS.md lists
// as upstream's behaviour (the case fails on upstream's code, by design
// of upstream) into known failures (KTAP TODO) with the reason, on a
// tree whose infrastructure is upstream's, and says so in a note. Any
// other failure still fails the run; on a tree carrying the series
// nothing is excused.
func excuseUpstream(tree string, rep *bootreport.Report) error {
	if rep.KTAP == nil || rep.KTAP.Root == nil || !infraUpstream(tree) {
		return nil
	}
	devs, err := qemutests.Deviations()
	if err != nil {
		return err
	}
	// upstreamFails gives the reason when the deviation documenting
	// the case allows it to fail upstream
	upstreamFails := func(name string) (string, bool) {
		d, ok := qemutests.Match(devs, name)
		if ok && slices.Contains(d.Upstream, "fail") {
			return d.Reason, true
		}
		return "", false
	}
	var excused []string
	// fix reports whether t still fails and how many failures below it
	// were excused. A suite is turned to ok only when its failing cases
	// were all excused, never when it failed for a reason of its own
	// (a crash, a timeout, no plan) with no excused case below it.
	var fix func(suites []string, t *ktap.Test) (bool, int)
	fix = func(suites []string, t *ktap.Test) (bool, int) {
		if len(t.Subtests) == 0 {
			name := strings.Join(append(append([]string{}, suites...), t.Name), "/")
			if why, ok := upstreamFails(name); ok && t.Status == ktap.Fail {
				t.Status, t.Directive = ktap.Todo, "TODO"
				t.Reason = "upstream's behaviour, qemu-tests/DEVIATIONS.md: " + firstSentence(why)
				excused = append(excused, name)
				return false, 1
			}
			return t.Status == ktap.Fail || t.Status == ktap.Missing, 0
		}
		failing, n := false, 0
		for _, s := range t.Subtests {
			f, k := fix(append(append([]string{}, suites...), t.Name), s)
			failing = failing || f
			n += k
		}
		if !failing && n > 0 && t.Status == ktap.Fail {
			t.Status = ktap.Pass
		}
		return failing || t.Status == ktap.Fail, n
	}
	for _, s := range rep.KTAP.Root.Subtests {
		fix(nil, s)
	}
	if len(excused) > 0 {
		rep.Notes = append(rep.Notes, fmt.Sprintf("the infrastructure of this tree is upstream's: %d failure(s) are upstream's documented behaviour (qemu-tests/DEVIATIONS.md), not counted: %s",
			len(excused), strings.Join(excused, ", ")))
	}
	return nil
}

func firstSentence(s string) string {
	if i := strings.Index(s, ". "); i > 0 {
		return s[:i+1]
	}
	return s
}
