// Package aptsrc reads the machine's apt sources (one-line .list and
// deb822 .sources files) and derives from them what kdefer needs
// without touching /etc/apt: a private sources list for one Debian
// suite (kerneltree's package lists) and the machine's Debian mirror
// (debootstrap's, internal/debroot).
package aptsrc

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// SourceEntry is one "deb" source of the machine's apt configuration, in
// either the one-line (.list) or the deb822 (.sources) format.
type SourceEntry struct {
	URI        string
	Suite      string
	Components []string
	SignedBy   string
	File       string // where it was read, for messages
}

// debianSuites are the Debian code and class names a suite may start with.
var debianSuites = map[string]bool{
	"stable": true, "oldstable": true, "oldoldstable": true, "testing": true,
	"unstable": true, "sid": true, "experimental": true, "rc-buggy": true,
	"jessie": true, "stretch": true, "buster": true, "bullseye": true,
	"bookworm": true, "trixie": true, "forky": true, "duke": true,
}

// IsDebian reports whether the entry is a Debian archive (not the
// security archive, which has no unstable suite, and not a third-party
// repository).
func (e SourceEntry) IsDebian() bool {
	base, _, _ := strings.Cut(e.Suite, "-")
	base, _, _ = strings.Cut(base, "/")
	if !debianSuites[base] {
		return false
	}
	u := strings.TrimRight(e.URI, "/")
	if strings.Contains(u, "debian-security") || strings.Contains(e.Suite, "security") {
		return false
	}
	return strings.Contains(u, "debian") || strings.Contains(e.SignedBy, "debian-archive-keyring")
}

// ReadSources reads sources.list and sources.list.d/*.{list,sources}
// below etcApt (normally /etc/apt). Disabled and non-"deb" entries are
// skipped.
func ReadSources(etcApt string) ([]SourceEntry, error) {
	var out []SourceEntry
	files := []string{filepath.Join(etcApt, "sources.list")}
	d := filepath.Join(etcApt, "sources.list.d")
	names, err := os.ReadDir(d)
	if err != nil && !os.IsNotExist(err) {
		return nil, fmt.Errorf("reading apt sources in %s: %w", d, err)
	}
	for _, n := range names {
		if strings.HasSuffix(n.Name(), ".list") || strings.HasSuffix(n.Name(), ".sources") {
			files = append(files, filepath.Join(d, n.Name()))
		}
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("reading apt sources %s: %w", f, err)
		}
		if strings.HasSuffix(f, ".sources") {
			out = append(out, parseDeb822(data, f)...)
		} else {
			out = append(out, parseOneLine(data, f)...)
		}
	}
	return out, nil
}

func parseOneLine(data []byte, file string) []SourceEntry {
	var out []SourceEntry
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := sc.Text()
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		f := strings.Fields(line)
		if len(f) < 3 || f[0] != "deb" {
			continue
		}
		f = f[1:]
		var signed string
		if strings.HasPrefix(f[0], "[") {
			// Options: [a=b c=d] possibly spread over several fields.
			var opts []string
			for len(f) > 0 {
				tok := f[0]
				f = f[1:]
				opts = append(opts, strings.Trim(tok, "[]"))
				if strings.HasSuffix(tok, "]") {
					break
				}
			}
			for _, o := range opts {
				if k, v, ok := strings.Cut(o, "="); ok && strings.EqualFold(k, "signed-by") {
					signed = v
				}
			}
		}
		if len(f) < 2 {
			continue
		}
		out = append(out, SourceEntry{URI: f[0], Suite: f[1], Components: f[2:], SignedBy: signed, File: file})
	}
	return out
}

func parseDeb822(data []byte, file string) []SourceEntry {
	var out []SourceEntry
	for _, para := range strings.Split(strings.ReplaceAll(string(data), "\r\n", "\n"), "\n\n") {
		fields := map[string]string{}
		var last string
		for _, line := range strings.Split(para, "\n") {
			if strings.HasPrefix(line, "#") || strings.TrimSpace(line) == "" {
				continue
			}
			if (line[0] == ' ' || line[0] == '\t') && last != "" {
				fields[last] += "\n" + strings.TrimSpace(line)
				continue
			}
			k, v, ok := strings.Cut(line, ":")
			if !ok {
				continue
			}
			last = strings.ToLower(strings.TrimSpace(k))
			fields[last] = strings.TrimSpace(v)
		}
		if !hasWord(fields["types"], "deb") || strings.EqualFold(fields["enabled"], "no") {
			continue
		}
		signed := fields["signed-by"]
		if strings.Contains(signed, "\n") || strings.Contains(signed, "BEGIN PGP") {
			signed = "" // an embedded key cannot be passed on a one-line entry
		}
		comps := strings.Fields(fields["components"])
		for _, uri := range strings.Fields(fields["uris"]) {
			for _, suite := range strings.Fields(fields["suites"]) {
				out = append(out, SourceEntry{URI: uri, Suite: suite, Components: comps, SignedBy: signed, File: file})
			}
		}
	}
	return out
}

func hasWord(s, w string) bool {
	for _, f := range strings.Fields(s) {
		if f == w {
			return true
		}
	}
	return false
}

// isSecurityArchive reports whether the entry is Debian's security archive.
func (e SourceEntry) IsSecurityArchive() bool {
	return strings.Contains(strings.TrimRight(e.URI, "/"), "debian-security")
}

// DeriveSourcesList returns a one-line sources.list for suite, made from
// the machine's Debian entries with their suite swapped: one line per
// archive URI, with the union of its components. A "-security" suite is
// served by the security archive: the machine's debian-security URIs when
// it has them, else its Debian URIs with "/debian" replaced by
// "/debian-security" (the layout of deb.debian.org and its mirrors). It
// fails when the machine has no Debian entry to derive from.
func DeriveSourcesList(entries []SourceEntry, suite string) (string, error) {
	type agg struct {
		signed string
		comps  map[string]bool
	}
	byURI := map[string]*agg{}
	var order []string
	add := func(uri string, e SourceEntry) {
		a := byURI[uri]
		if a == nil {
			a = &agg{comps: map[string]bool{}}
			byURI[uri] = a
			order = append(order, uri)
		}
		if a.signed == "" {
			a.signed = e.SignedBy
		}
		for _, c := range e.Components {
			a.comps[c] = true
		}
	}
	security := strings.HasSuffix(suite, "-security")
	if security {
		for _, e := range entries {
			if e.IsSecurityArchive() {
				add(strings.TrimRight(e.URI, "/"), e)
			}
		}
	}
	if len(order) == 0 {
		for _, e := range entries {
			if !e.IsDebian() {
				continue
			}
			uri := strings.TrimRight(e.URI, "/")
			if security {
				if !strings.HasSuffix(uri, "/debian") {
					continue
				}
				uri += "-security"
			}
			add(uri, e)
		}
	}
	if len(order) == 0 {
		return "", fmt.Errorf("no Debian archive entry (deb URI .../debian with a Debian suite) in the machine's apt sources to derive a %s source from", suite)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# Derived by kdefer from the machine's apt sources, suite swapped to %s.\n", suite)
	for _, uri := range order {
		a := byURI[uri]
		comps := make([]string, 0, len(a.comps))
		for c := range a.comps {
			comps = append(comps, c)
		}
		sort.Strings(comps)
		if len(comps) == 0 {
			comps = []string{"main"}
		}
		b.WriteString("deb ")
		if a.signed != "" {
			fmt.Fprintf(&b, "[signed-by=%s] ", a.signed)
		}
		fmt.Fprintf(&b, "%s %s %s\n", uri, suite, strings.Join(comps, " "))
	}
	return b.String(), nil
}

// MachineMirror returns the URI of the first Debian archive among the
// machine's apt sources below etcApt ("" is /etc/apt), without a trailing
// slash: what debootstrap is given so that a Debian root comes from the
// mirror apt already uses.
func MachineMirror(etcApt string) (string, error) {
	if etcApt == "" {
		etcApt = "/etc/apt"
	}
	ents, err := ReadSources(etcApt)
	if err != nil {
		return "", err
	}
	for _, e := range ents {
		if e.IsDebian() {
			return strings.TrimRight(e.URI, "/"), nil
		}
	}
	return "", fmt.Errorf("no Debian archive (deb URI .../debian with a Debian suite) in the apt sources under %s; pass a mirror", etcApt)
}
