package aptsrc

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeFakeEtcApt builds a /etc/apt like this machine's: deb822 with the
// security archive, a one-line list with options, a third-party source
// and a disabled file.
func writeFakeEtcApt(t *testing.T) string {
	etc := t.TempDir()
	os.MkdirAll(filepath.Join(etc, "sources.list.d"), 0o755)
	os.WriteFile(filepath.Join(etc, "sources.list.d", "debian.sources"), []byte(`Types: deb
# http://snapshot.debian.org/archive/debian/20250520T000000Z
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm
Components: main
`), 0o644)
	os.WriteFile(filepath.Join(etc, "sources.list"), []byte(`# a comment
deb [arch=amd64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://mirror.example.org/debian/ bookworm main contrib non-free-firmware
deb https://packages.cloud.google.com/apt cloud-sdk-bookworm main
deb http://mirror.example.org/debian bookworm-backports main
`), 0o644)
	os.WriteFile(filepath.Join(etc, "sources.list.d", "node.sources.disabled-by-farm"), []byte("Types: deb\nURIs: https://deb.example.com/node\nSuites: nodistro\nComponents: main\n"), 0o644)
	os.WriteFile(filepath.Join(etc, "sources.list.d", "off.sources"), []byte("Enabled: no\nTypes: deb\nURIs: http://off.example.org/debian\nSuites: trixie\nComponents: main\n"), 0o644)
	return etc
}

func TestDeriveSourcesList(t *testing.T) {
	etc := writeFakeEtcApt(t)
	entries, err := ReadSources(etc)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 6 {
		t.Errorf("read %d deb entries, want 6: %+v", len(entries), entries)
	}
	got, err := DeriveSourcesList(entries, "unstable")
	if err != nil {
		t.Fatal(err)
	}
	lines := sourceLines(got)
	want := []string{
		"deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://mirror.example.org/debian unstable contrib main non-free-firmware",
		"deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian unstable main",
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("derived list:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}

	// No Debian entry at all: a clear error, not an empty list.
	empty := t.TempDir()
	os.WriteFile(filepath.Join(empty, "sources.list"), []byte("deb https://packages.cloud.google.com/apt cloud-sdk-bookworm main\n"), 0o644)
	es, _ := ReadSources(empty)
	if _, err := DeriveSourcesList(es, "unstable"); err == nil || !strings.Contains(err.Error(), "no Debian archive entry") {
		t.Errorf("want a 'no Debian archive entry' error, got %v", err)
	}
}

// A security suite comes from the security archive: the machine's own
// debian-security entry when it has one, else derived from its Debian URI.
func TestDeriveSecuritySuite(t *testing.T) {
	entries, err := ReadSources(writeFakeEtcApt(t))
	if err != nil {
		t.Fatal(err)
	}
	got, err := DeriveSourcesList(entries, "trixie-security")
	if err != nil {
		t.Fatal(err)
	}
	want := "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian-security trixie-security main"
	if l := sourceLines(got); strings.Join(l, "\n") != want {
		t.Errorf("derived security list:\n%s\nwant:\n%s", strings.Join(l, "\n"), want)
	}
	var noSec []SourceEntry
	for _, e := range entries {
		if !e.IsSecurityArchive() {
			noSec = append(noSec, e)
		}
	}
	got, err = DeriveSourcesList(noSec, "bookworm-security")
	if err != nil {
		t.Fatal(err)
	}
	if l := sourceLines(got); len(l) != 2 || !strings.Contains(l[0], "http://mirror.example.org/debian-security bookworm-security contrib main non-free-firmware") || !strings.Contains(l[1], "http://deb.debian.org/debian-security bookworm-security main") {
		t.Errorf("security list derived from the Debian URIs:\n%s", got)
	}
}

// sourceLines returns the entries of a sources.list text: its lines
// without blank lines and comments.
func sourceLines(list string) []string {
	var lines []string
	for _, l := range strings.Split(list, "\n") {
		if l != "" && !strings.HasPrefix(l, "#") {
			lines = append(lines, l)
		}
	}
	return lines
}

// MachineMirror takes the first Debian archive of the machine's sources
// (sources.list before sources.list.d, the order apt reads them); an
// Ubuntu machine (a hosted CI runner) has none, and says so.
func TestMachineMirror(t *testing.T) {
	got, err := MachineMirror(writeFakeEtcApt(t))
	if err != nil || got != "http://mirror.example.org/debian" {
		t.Errorf("MachineMirror = %q, %v; want http://mirror.example.org/debian", got, err)
	}
	ubuntu := t.TempDir()
	os.MkdirAll(filepath.Join(ubuntu, "sources.list.d"), 0o755)
	os.WriteFile(filepath.Join(ubuntu, "sources.list.d", "ubuntu.sources"), []byte("Types: deb\nURIs: http://azure.archive.ubuntu.com/ubuntu/\nSuites: noble noble-updates noble-backports\nComponents: main universe restricted multiverse\nSigned-By: /usr/share/keyrings/ubuntu-archive-keyring.gpg\n"), 0o644)
	if got, err := MachineMirror(ubuntu); err == nil || !strings.Contains(err.Error(), "no Debian archive") {
		t.Errorf("MachineMirror on an Ubuntu machine = %q, %v; want a 'no Debian archive' error", got, err)
	}
}
