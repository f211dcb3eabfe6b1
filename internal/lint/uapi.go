package lint

import (
	"os"
	"path/filepath"

	"github.com/kdefer/kdefer/internal/uapicheck"
	"github.com/kdefer/kdefer/internal/workspace"
)

// CheckUAPI compares the perf uapi header as the series leaves it with
// upstream Linux 7.x's, field by field (internal/uapicheck): tools
// written for upstream must work unchanged on a tree with the series.
const CheckUAPI = "uapi"

// uapiHeaders are the files the check compares; the tools copy must
// agree too, since perf is built from it.
var uapiHeaders = []string{"include/uapi/linux/perf_event.h", "tools/include/uapi/linux/perf_event.h"}

// lastTouch returns, for each uapi header, the index of the last patch
// that changes it (0: none).
func lastTouch(s *workspace.Series) map[string]int {
	last := map[string]int{}
	for _, p := range s.Patches {
		for _, f := range p.Touches() {
			for _, h := range uapiHeaders {
				if f == h {
					last[h] = p.Index
				}
			}
		}
	}
	return last
}

// uapi runs the comparison for header, as it is in dir after patch.
func (r *Result) uapi(dir, header string, patch int, opt Options) {
	up := opt.Upstream
	if up == "" {
		// Advisory, not a gap that fails the run: the comparison needs a
		// second tree that a plain lint run has no reason to download.
		r.Findings = append(r.Findings, Finding{Patch: patch, Check: CheckUAPI, Level: "CHECK", Tolerated: true, Type: "uapi",
			Message: "not compared with upstream: no Linux 7.x tree in the kdefer cache (kgen tree get 7)", File: header})
		return
	}
	read := func(root string) (*uapicheck.Header, error) {
		b, err := os.ReadFile(filepath.Join(root, header))
		if err != nil {
			return nil, err
		}
		return uapicheck.Parse(b)
	}
	ours, err := read(dir)
	if err != nil {
		r.NotRun = append(r.NotRun, NotRun{Check: CheckUAPI, Patch: patch, Reason: header + ": " + err.Error()})
		return
	}
	upstream, err := read(up)
	if err != nil {
		r.NotRun = append(r.NotRun, NotRun{Check: CheckUAPI, Patch: patch, Reason: "upstream " + header + ": " + err.Error()})
		return
	}
	r.UAPICompared += len(uapicheck.Compare(ours, upstream))
	for _, it := range uapicheck.Compare(ours, upstream) {
		if it.Match() {
			continue
		}
		r.Findings = append(r.Findings, Finding{Patch: patch, Check: CheckUAPI, Level: "ERROR", Type: "uapi",
			Message: it.String() + " (upstream: " + filepath.Base(up) + ")", File: header})
	}
}
