// Package kerneltree obtains Debian kernel source trees and keeps them in
// the kdefer cache, so that every other tool can say "give me 6.12" and get
// a path to a complete, optionally git-tracked, source tree.
//
// # API
//
//	path, err := kerneltree.Get(ctx, kerneltree.Options{Version: "6.12", Git: true})
//
// returns the directory of a complete tree, for example
// ~/.cache/kdefer/trees/6.12.117. Version is a series ("6.12", "7.3": its
// newest release), an exact release ("6.12.95"), a release candidate
// ("7.3-rc7") or a major version ("7": the newest 7.x), looked up in the
// machine's apt sources and in every suite of Suites (Debian unstable,
// experimental, trixie, bookworm and their -security and -backports
// suites); Available lists what they offer. With Git set, the tree is a git repository whose
// branch "main" holds one baseline commit "Linux 6.12.117 (Debian
// linux-source-6.12)" containing every file of the tarball; the commit is
// deterministic (fixed author, committer and a date taken from the tree), so
// commit ids derived from it are the same on every machine.
//
// CacheDir returns ${XDG_CACHE_HOME:-$HOME/.cache}/kdefer; trees live in
// CacheDir()/trees/<full version>, downloaded packages in CacheDir()/debs and
// the private apt state in CacheDir()/apt.
//
// # How a tree is obtained
//
// The package is fetched with apt's own client (apt-get download), never
// from a hard-coded mirror address. Each suite of Suites has a private
// sources list derived from the machine's own Debian entries in /etc/apt
// with the suite swapped (the security suites from its debian-security
// entry), and apt runs with Dir::* options pointing at
// CacheDir()/apt/<suite>: the system's apt configuration and lists are
// never changed. Their package lists are refreshed when older than a day
// (or with Options.Refresh), four suites at a time.
//
// The data of the .deb is streamed through dpkg-deb --fsys-tarfile; the
// inner linux-source-X.Y.tar.xz is decompressed by the xz binary (it uses
// every core on Debian's multi-block tarballs: 10 s for 6.12 here, against
// 23 s for the pure-Go github.com/ulikunitz/xz, which is the fallback when
// xz is absent, see UseXZBinary) and unpacked in Go with archive/tar,
// keeping file modes and mtimes, into trees/.partial-<release>, which is
// renamed into place only when complete: a directory under trees/ that
// carries a release name is always complete. A lock file (flock on
// trees/.lock) makes concurrent runs safe; the second waits and then reuses
// the first's result, and removes what an interrupted run left behind.
//
// The git baseline uses real git, not go-git: "git add -f -A" (-f because
// Debian's top-level .gitignore ends with "/*") with bulk check-in into one
// pack, then "git commit-tree" with author and committer
// "kdefer <kdefer@localhost>" and the date of the top-level Makefile in the
// tarball. The repository is built next to the tree and renamed to
// <tree>/.git when its file count matches the tarball's, so an interrupted
// conversion never leaves a half-made .git.
package kerneltree

import (
	"context"

	"github.com/kdefer/kdefer/internal/cachedir"
)

// Options say which tree to obtain and how.
type Options struct {
	// Version: "6.12", "6.1", "7", "7.3", "7.3-rc7" or a full "6.12.117".
	Version string
	// Git makes the tree a git repository with one deterministic baseline
	// commit holding every file. A cached tree without git is converted in
	// place.
	Git bool
	// Refresh re-resolves the newest Debian version even when a matching
	// tree is cached (the default is to reuse any cached tree of the series).
	Refresh bool

	// CacheDir overrides CacheDir() (tests).
	CacheDir string
	// AptEtc overrides /etc/apt as the source of the machine's Debian
	// entries (tests).
	AptEtc string
	// Deb, when set, is a local linux-source .deb to use instead of
	// downloading one.
	Deb string
	// Progress receives progress lines; nil means silent.
	Progress func(format string, args ...any)
}

// CacheDir returns the kdefer cache directory,
// ${XDG_CACHE_HOME:-$HOME/.cache}/kdefer.
func CacheDir() string { return cachedir.Dir() }

// Get returns the path of a complete kernel tree for o.Version, fetching
// and extracting it into the cache first when needed.
func Get(ctx context.Context, o Options) (string, error) {
	return get(ctx, o)
}
