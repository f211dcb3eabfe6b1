package ghjob

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/kdefer/kdefer/internal/debroot"
)

// ImageOptions say which image to build and where.
type ImageOptions struct {
	Image    string // "debian:SUITE", the only kind of image built here
	Dir      string // where roots are kept: Dir/SUITE
	Mirror   string // what debootstrap downloads from; the machine's Debian mirror if empty
	Progress func(format string, args ...any)
}

// imageFiles are the files by which Docker Hub's debian:SUITE image
// differs from a plain `debootstrap --variant=minbase` root: its apt
// sources in deb822 form on deb.debian.org (the suite, its -updates and
// its -security suite), the apt and dpkg settings its build tool
// (debuerreotype) writes for small images, and the file by which
// programs (debootstrap among them) know they run under Docker. %[1]s is
// the suite.
var imageFiles = map[string]string{
	"etc/apt/sources.list.d/debian.sources": `Types: deb
URIs: http://deb.debian.org/debian
Suites: %[1]s %[1]s-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: %[1]s-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
`,
	"etc/apt/apt.conf.d/docker-clean": `DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
`,
	"etc/apt/apt.conf.d/docker-gzip-indexes":        "Acquire::GzipIndexes \"true\";\n",
	"etc/apt/apt.conf.d/docker-no-languages":        "Acquire::Languages \"none\";\n",
	"etc/apt/apt.conf.d/docker-autoremove-suggests": "Apt::AutoRemove::SuggestsImportant \"false\";\n",
	"etc/dpkg/dpkg.cfg.d/docker-apt-speedup":        "force-unsafe-io\n",
	".dockerenv":                                    "",
}

// Image returns the root directory of o.Image, building it first when
// o.Dir has none (internal/debroot): debootstrap --variant=minbase of the
// suite, then the image's own files (imageFiles), with the package lists
// and caches emptied as in the published image (whose first `apt-get
// install` needs an `apt-get update`). Needs root and debootstrap.
func Image(ctx context.Context, o ImageOptions) (string, error) {
	suite, ok := strings.CutPrefix(o.Image, "debian:")
	if !ok {
		return "", fmt.Errorf("ghjob: image %q: only debian:SUITE images are built here (with debootstrap)", o.Image)
	}
	if o.Progress == nil {
		o.Progress = func(string, ...any) {}
	}
	start := time.Now()
	root, built, err := debroot.Ensure(ctx, debroot.Options{Dir: o.Dir, Suite: suite, Mirror: o.Mirror,
		Finish:   func(tmp string) error { return imageLike(tmp, suite) },
		Progress: func(format string, args ...any) { o.Progress("ghjob: "+format, args...) }})
	if err != nil {
		return "", fmt.Errorf("ghjob: image %s: %w", o.Image, err)
	}
	if built {
		o.Progress("ghjob: %s ready in %s: %s", o.Image, time.Since(start).Round(time.Second), root)
	}
	return root, nil
}

// imageLike turns a debootstrap root into the published image's layout.
func imageLike(root, suite string) error {
	for _, p := range []string{"etc/apt/sources.list", "var/cache/apt/pkgcache.bin", "var/cache/apt/srcpkgcache.bin"} {
		if err := os.Remove(filepath.Join(root, p)); err != nil && !os.IsNotExist(err) {
			return fmt.Errorf("ghjob: %w", err)
		}
	}
	for _, glob := range []string{"var/lib/apt/lists/*", "var/cache/apt/archives/*.deb"} {
		ms, _ := filepath.Glob(filepath.Join(root, glob))
		for _, m := range ms {
			if filepath.Base(m) == "partial" || filepath.Base(m) == "lock" {
				continue
			}
			if err := os.RemoveAll(m); err != nil {
				return fmt.Errorf("ghjob: %w", err)
			}
		}
	}
	for p, text := range imageFiles {
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return fmt.Errorf("ghjob: %w", err)
		}
		if strings.Contains(text, "%[1]s") {
			text = fmt.Sprintf(text, suite)
		}
		if err := os.WriteFile(full, []byte(text), 0o644); err != nil {
			return fmt.Errorf("ghjob: %w", err)
		}
	}
	return nil
}
