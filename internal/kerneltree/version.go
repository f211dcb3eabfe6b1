package kerneltree

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Request is a parsed version request: "7" (Major only), "6.12" (a
// series), "6.12.117" (an exact upstream release) or "7.3-rc7" (a release
// candidate, which Debian spells 7.3~rc7).
type Request struct {
	Major, Minor, Patch int    // Minor, Patch are -1 when not given
	Pre                 string // "rc7", or "" for a final release
}

var reqRE = regexp.MustCompile(`^(\d+)(?:\.(\d+)(?:\.(\d+))?)?(?:[-~](rc\d+))?$`)

// ParseRequest parses "7", "6.12", "6.12.117" or "7.3-rc7" (a leading "v"
// or "linux-source-" is accepted, and "7.3~rc7" is the same as "7.3-rc7").
func ParseRequest(s string) (Request, error) {
	t := strings.TrimPrefix(strings.TrimPrefix(strings.TrimSpace(s), "linux-source-"), "v")
	m := reqRE.FindStringSubmatch(t)
	if m == nil || (m[4] != "" && m[2] == "") {
		return Request{}, fmt.Errorf("invalid kernel version %q: want MAJOR, MAJOR.MINOR, MAJOR.MINOR.PATCH or MAJOR.MINOR-rcN, for example 6.12, 6.12.95, 7.3 or 7", s)
	}
	r := Request{Minor: -1, Patch: -1, Pre: m[4]}
	r.Major, _ = strconv.Atoi(m[1])
	if m[2] != "" {
		r.Minor, _ = strconv.Atoi(m[2])
	}
	if m[3] != "" {
		r.Patch, _ = strconv.Atoi(m[3])
	}
	if r.Major < 2 || r.Major > 99 {
		return Request{}, fmt.Errorf("invalid kernel version %q: major version %d is not a Linux release Debian packages (try 6.12, 6.1 or 7)", s, r.Major)
	}
	return r, nil
}

func (r Request) String() string {
	pre := ""
	if r.Pre != "" {
		pre = "-" + r.Pre
	}
	switch {
	case r.Major < 0:
		return "any"
	case r.Minor < 0:
		return strconv.Itoa(r.Major)
	case r.Patch < 0:
		return fmt.Sprintf("%d.%d%s", r.Major, r.Minor, pre)
	}
	return fmt.Sprintf("%d.%d.%d%s", r.Major, r.Minor, r.Patch, pre)
}

// Package returns the Debian package name for a request naming a series
// ("linux-source-6.12"), or "" for a major-only request.
func (r Request) Package() string {
	if r.Major < 0 || r.Minor < 0 {
		return ""
	}
	return fmt.Sprintf("linux-source-%d.%d", r.Major, r.Minor)
}

// Matches reports whether the upstream release v (for example "6.12.117"
// or "7.3-rc7") satisfies the request. A request with Major -1 matches
// every release. A series request matches its release candidates too (the
// resolver prefers final releases); an exact one does not.
func (r Request) Matches(v string) bool {
	p, ok := parseRelease(v)
	if !ok {
		return false
	}
	if r.Major < 0 {
		return true
	}
	if p[0] != r.Major {
		return false
	}
	pre := preRelease(v)
	if r.Pre != "" && pre != r.Pre || r.Patch >= 0 && r.Pre == "" && pre != "" {
		return false
	}
	if r.Minor >= 0 && p[1] != r.Minor {
		return false
	}
	if r.Patch >= 0 && p[2] != r.Patch {
		return false
	}
	return true
}

var relRE = regexp.MustCompile(`^(\d+)\.(\d+)(?:\.(\d+))?`)

// parseRelease parses the leading MAJOR.MINOR[.PATCH] of an upstream
// release or a tree directory name.
func parseRelease(v string) ([3]int, bool) {
	m := relRE.FindStringSubmatch(v)
	if m == nil {
		return [3]int{}, false
	}
	var p [3]int
	p[0], _ = strconv.Atoi(m[1])
	p[1], _ = strconv.Atoi(m[2])
	if m[3] != "" {
		p[2], _ = strconv.Atoi(m[3])
	}
	return p, true
}

var preRE = regexp.MustCompile(`[-~](rc\d+)$`)

// preRelease returns "rc7" for "7.3-rc7" and "" for a final release.
func preRelease(v string) string {
	if m := preRE.FindStringSubmatch(v); m != nil {
		return m[1]
	}
	return ""
}

// compareRelease orders upstream releases numerically ("6.12.9" <
// "6.12.10"), a release candidate before its final release ("7.3-rc7" <
// "7.3" < "7.3.4").
func compareRelease(a, b string) int {
	pa, _ := parseRelease(a)
	pb, _ := parseRelease(b)
	for i := range pa {
		if pa[i] != pb[i] {
			if pa[i] < pb[i] {
				return -1
			}
			return 1
		}
	}
	ra, rb := preRelease(a), preRelease(b)
	switch {
	case ra == rb:
		return strings.Compare(a, b)
	case ra == "":
		return 1
	case rb == "":
		return -1
	}
	na, _ := strconv.Atoi(strings.TrimPrefix(ra, "rc"))
	nb, _ := strconv.Atoi(strings.TrimPrefix(rb, "rc"))
	if na != nb {
		if na < nb {
			return -1
		}
		return 1
	}
	return strings.Compare(a, b)
}

// UpstreamVersion returns the upstream part of a Debian package version:
// "6.12.117-1~deb12u1" -> "6.12.117", "1:7.2.13-1" -> "7.2.13".
func UpstreamVersion(debVersion string) string {
	v := debVersion
	if i := strings.IndexByte(v, ':'); i >= 0 {
		v = v[i+1:]
	}
	if i := strings.LastIndexByte(v, '-'); i >= 0 {
		v = v[:i]
	}
	// Debian spells release candidates 7.3~rc1.
	return strings.ReplaceAll(v, "~", "-")
}

// seriesOf returns "6.12" for the package "linux-source-6.12".
func seriesOf(pkg string) string { return strings.TrimPrefix(pkg, "linux-source-") }
