package kerneltree

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Request is a parsed version request: "7" (Major only), "6.12" (a
// series), or "6.12.117" (an exact upstream release).
type Request struct {
	Major, Minor, Patch int // Minor, Patch are -1 when not given
}

var reqRE = regexp.MustCompile(`^(\d+)(?:\.(\d+)(?:\.(\d+))?)?$`)

// ParseRequest parses "7", "6.12" or "6.12.117" (a leading "v" or
// "linux-source-" is accepted).
func ParseRequest(s string) (Request, error) {
	t := strings.TrimPrefix(strings.TrimPrefix(strings.TrimSpace(s), "linux-source-"), "v")
	m := reqRE.FindStringSubmatch(t)
	if m == nil {
		return Request{}, fmt.Errorf("invalid kernel version %q: want MAJOR, MAJOR.MINOR or MAJOR.MINOR.PATCH, for example 6.12, 6.1 or 7", s)
	}
	r := Request{Minor: -1, Patch: -1}
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
	switch {
	case r.Minor < 0:
		return strconv.Itoa(r.Major)
	case r.Patch < 0:
		return fmt.Sprintf("%d.%d", r.Major, r.Minor)
	}
	return fmt.Sprintf("%d.%d.%d", r.Major, r.Minor, r.Patch)
}

// Package returns the Debian package name for a request naming a series
// ("linux-source-6.12"), or "" for a major-only request.
func (r Request) Package() string {
	if r.Minor < 0 {
		return ""
	}
	return fmt.Sprintf("linux-source-%d.%d", r.Major, r.Minor)
}

// Matches reports whether the upstream release v (for example "6.12.117")
// satisfies the request.
func (r Request) Matches(v string) bool {
	p, ok := parseRelease(v)
	if !ok || p[0] != r.Major {
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

// compareRelease orders upstream releases numerically ("6.12.9" < "6.12.10").
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
